//! Fast grants (DESIGN.md, "Fast grants"): a GRANT that confirms the request's timestamp as
//! its token, and the entry it lets happen without a `Fence` round.

use super::*;

/// A node with quorum `q` and the default options (leases and fast grants on).
fn fast(me: u32, q: &[u32]) -> Node {
    let q: Vec<NodeId> = q.iter().map(|&i| n(i)).collect();
    Node::with_options(n(me), &q, Options::default())
}

/// A GRANT for `r` from a voter whose floor is `floor`, confirming or not.
fn grant(r: RequestId, floor: u64, confirms: bool) -> Message {
    Message {
        token: Token(floor),
        echo: if confirms { GRANT_CONFIRMS } else { 0 },
        ..Message {
            req: r,
            ..msg(MsgKind::Grant, 50, 0, 0)
        }
    }
}

fn entry(actions: &[Action]) -> Option<(RequestId, Token)> {
    actions.iter().find_map(|a| match a {
        Action::EnterCs { req, token, .. } => Some((*req, *token)),
        _ => None,
    })
}

#[test]
fn a_voter_below_the_timestamp_confirms_it_durably_before_its_grant_leaves() {
    let mut v = fast(0, &[0, 1]);
    let r = rid(5, 1);
    let out = v.handle(n(1), msg(MsgKind::Request, 4, 5, 1));
    // The record that covers the timestamp comes first, then the confirming GRANT.
    let Some(Action::Persist { lock, floor }) = out.first() else {
        panic!("{out:?}")
    };
    assert_eq!(*lock, Some(r));
    assert!(*floor >= Token(5), "{out:?}");
    assert!(matches!(
        out.get(1),
        Some(Action::Send { to, msg }) if *to == n(1) && msg.kind == MsgKind::Grant
            && msg.echo == GRANT_CONFIRMS && msg.token < Token(5)
    ));
    assert!(v.voter().fenced, "the vote is held as confirmed");
}

#[test]
fn a_voter_whose_floor_reached_the_timestamp_grants_without_confirming() {
    let mut v = fast(0, &[0, 1]);
    // A RELEASE of an entry with token 9 raised the floor past the next request's timestamp.
    let _ = v.handle(n(1), msg(MsgKind::Request, 1, 2, 1));
    let _ = v.handle(
        n(1),
        Message {
            token: Token(9),
            ..msg(MsgKind::Release, 3, 2, 1)
        },
    );
    let out = v.handle(n(1), msg(MsgKind::Request, 4, 5, 1));
    assert!(matches!(
        out.iter().find(|a| matches!(a, Action::Send { .. })),
        Some(Action::Send { msg, .. }) if msg.kind == MsgKind::Grant && msg.echo == 0
    ));
    assert!(!v.voter().fenced, "an unconfirmed vote");
}

#[test]
fn every_grant_confirming_lets_the_requester_in_at_once_with_its_timestamp_as_token() {
    let mut a = fast(1, &[0, 1]);
    let _ = a.tick(100);
    let _ = a.request_cs().unwrap();
    let Phase::Wanting(r) = a.phase() else {
        panic!()
    };
    assert!(entry(&a.handle(n(1), grant(r, 0, true))).is_none());
    let out = a.handle(n(0), grant(r, 0, true));
    assert_eq!(entry(&out), Some((r, Token(r.ts.0))));
    assert!(
        !sends(&out).iter().any(|s| s.1 == MsgKind::Fence),
        "no Fence round: {out:?}"
    );
    assert_eq!(
        a.requester().lease_from,
        Some(100),
        "lease from the request's making"
    );
}

#[test]
fn one_unconfirmed_grant_or_a_lease_run_out_while_waiting_means_a_fence_round() {
    let mut a = fast(1, &[0, 1]);
    let _ = a.request_cs().unwrap();
    let Phase::Wanting(r) = a.phase() else {
        panic!()
    };
    let _ = a.handle(n(1), grant(r, 0, true));
    let out = a.handle(n(0), grant(r, 0, false));
    assert!(entry(&out).is_none());
    assert_eq!(
        sends(&out).iter().filter(|s| s.1 == MsgKind::Fence).count(),
        2
    );

    // Every grant confirms, but they came a whole lease after the request was made.
    let mut a = fast(1, &[0, 1]);
    let _ = a.request_cs().unwrap();
    let Phase::Wanting(r) = a.phase() else {
        panic!()
    };
    let _ = a.tick(Options::default().lease);
    let _ = a.handle(n(1), grant(r, 0, true));
    let out = a.handle(n(0), grant(r, 0, true));
    assert!(entry(&out).is_none());
    assert_eq!(
        sends(&out).iter().filter(|s| s.1 == MsgKind::Fence).count(),
        2
    );
}

#[test]
fn a_confirmed_vote_is_reclaimed_only_after_the_period_and_lifts_the_floor_to_its_token() {
    let reclaim = Options::default().reclaim_after;
    let mut v = fast(0, &[0, 1]);
    let _ = v.tick(10);
    let r = rid(5, 1);
    let _ = v.handle(n(1), msg(MsgKind::Request, 4, 5, 1));
    assert!(v.set_suspected(n(1), true).is_empty());
    assert!(v.tick(10 + reclaim - 1).is_empty());
    let out = v.tick(10 + reclaim);
    assert!(sends(&out).contains(&(n(1), MsgKind::Revoked, r)));
    assert!(
        v.floor() >= Token(5),
        "the next GRANT carries the reclaimed token"
    );
}

#[test]
fn a_request_s_timestamp_is_above_its_node_s_floor() {
    let mut a = fast(1, &[0, 1]);
    let _ = a.handle(
        n(0),
        Message {
            token: Token(1_000),
            ..msg(MsgKind::Release, 3, 2, 0)
        },
    );
    let _ = a.request_cs().unwrap();
    let Phase::Wanting(r) = a.phase() else {
        panic!()
    };
    assert!(r.ts.0 > 1_000);
}
