//! Leases (DESIGN.md, "Leases and reclaiming votes"): fencing rounds, renewal, expiry, reclaiming
//! and switching quorum.

use super::*;

// ---- leases (DESIGN.md, "Availability") -----------------------------------------------------

/// A node with quorum `q`, leases on and every entry confirmed by a `Fence` round (the
/// protocol of issue 14, still selectable: fast grants off).
fn leased(me: u32, q: &[u32]) -> Node {
    let q: Vec<NodeId> = q.iter().map(|&i| n(i)).collect();
    let options = Options {
        fast_grants: false,
        ..Options::default()
    };
    Node::with_options(n(me), &q, options)
}

/// A `Fenced` for `req` echoing the round sent at `echo`, from a voter whose floor is `token`.
fn fenced(req: RequestId, echo: u64, token: u64) -> Message {
    Message {
        echo,
        token: Token(token),
        ..msg_about(MsgKind::Fenced, 50, req)
    }
}

fn entered(actions: &[Action]) -> bool {
    actions.iter().any(|a| matches!(a, Action::EnterCs { .. }))
}

/// Node 1 (quorum {0, 1}) holds both grants at clock 100 and has sent its Fence round.
fn fencing_node1() -> (Node, RequestId) {
    let mut a = leased(1, &[0, 1]);
    assert!(a.tick(100).is_empty());
    let _ = a.request_cs().unwrap();
    let r = rid(1, 1);
    assert!(!entered(&a.handle(n(1), msg_about(MsgKind::Grant, 2, r))));
    let out = a.handle(n(0), msg_about(MsgKind::Grant, 3, r));
    assert!(!entered(&out), "no entry before the token is confirmed");
    let fences: Vec<_> = out
        .iter()
        .filter_map(|x| match x {
            Action::Send { to, msg } if msg.kind == MsgKind::Fence => Some((*to, msg.echo)),
            _ => None,
        })
        .collect();
    assert_eq!(fences, vec![(n(0), 100), (n(1), 100)]);
    (a, r)
}

#[test]
fn with_leases_a_holder_enters_only_when_every_voter_confirmed_its_token() {
    let (mut a, r) = fencing_node1();
    assert!(!entered(&a.handle(n(1), fenced(r, 100, 1))));
    // A confirmation of another round does not count.
    assert!(!entered(&a.handle(n(0), fenced(r, 99, 1))));
    let out = a.handle(n(0), fenced(r, 100, 1));
    assert!(entered(&out), "{out:?}");
    assert_eq!(a.phase(), Phase::InCs(r));
    assert_eq!(a.requester().lease_from, Some(100));
}

#[test]
fn a_confirmation_older_than_a_lease_starts_a_new_round_instead_of_entering() {
    let (mut a, r) = fencing_node1();
    let lease = Options::default().lease;
    let _ = a.handle(n(1), fenced(r, 100, 1));
    assert!(a.tick(100 + lease).is_empty());
    let out = a.handle(n(0), fenced(r, 100, 1));
    assert!(!entered(&out), "a voter may have reclaimed meanwhile");
    assert!(out
        .iter()
        .any(|x| matches!(x, Action::Send { msg, .. } if msg.kind == MsgKind::Fence && msg.echo == 100 + lease)));
}

#[test]
fn a_holder_renews_at_half_term_and_leaves_when_its_lease_runs_out() {
    let (mut a, r) = fencing_node1();
    let lease = Options::default().lease;
    let _ = a.handle(n(1), fenced(r, 100, 1));
    let _ = a.handle(n(0), fenced(r, 100, 1));
    let renew = a.tick(100 + lease / 2);
    assert_eq!(
        sends(&renew),
        vec![(n(0), MsgKind::Fence, r), (n(1), MsgKind::Fence, r)]
    );
    // Nobody answers: the lease runs out and the node leaves, giving its votes back.
    let out = a.tick(100 + lease);
    assert!(matches!(
        out.first(),
        Some(Action::LeaseExpired { req, ended_at, .. }) if *req == r && *ended_at == 100 + lease
    ));
    assert_eq!(
        sends(&out),
        vec![(n(0), MsgKind::Release, r), (n(1), MsgKind::Release, r)]
    );
    assert_eq!(a.phase(), Phase::Idle);
}

#[test]
fn a_voter_reclaims_an_unconfirmed_vote_of_a_suspect_at_once_and_a_confirmed_one_only_after_the_reclaim_period(
) {
    let r = rid(1, 1);
    // Unconfirmed: at once, and the requester is told.
    let mut v = leased(0, &[0, 1]);
    let _ = v.handle(n(1), msg_about(MsgKind::Request, 1, r));
    assert_eq!(v.voter().lock, Some(r));
    let out = v.set_suspected(n(1), true);
    assert!(
        no_why(out.clone()).contains(&revote(RevoteKind::Reclaimed, r)),
        "{out:?}"
    );
    assert!(sends(&out).contains(&(n(1), MsgKind::Revoked, r)));
    assert_eq!(v.voter().lock, None);

    // Confirmed at clock 10: kept until 10 + R.
    let reclaim = Options::default().reclaim_after;
    let mut v = leased(0, &[0, 1]);
    let _ = v.tick(10);
    let _ = v.handle(n(1), msg_about(MsgKind::Request, 1, r));
    let out = v.handle(
        n(1),
        Message {
            echo: 7,
            token: Token(1),
            ..msg_about(MsgKind::Fence, 2, r)
        },
    );
    assert!(out.iter().any(
        |x| matches!(x, Action::Send { msg, .. } if msg.kind == MsgKind::Fenced && msg.echo == 7)
    ));
    assert!(v.voter().fenced);
    assert!(v.set_suspected(n(1), true).is_empty());
    assert!(v.tick(10 + reclaim - 1).is_empty());
    assert_eq!(v.voter().lock, Some(r));
    let out = v.tick(10 + reclaim);
    assert!(
        sends(&out).contains(&(n(1), MsgKind::Revoked, r)),
        "{out:?}"
    );
    assert_eq!(v.voter().lock, None);
    // A late Fence of the reclaimed request is answered Revoked, not confirmed.
    let out = v.handle(
        n(1),
        Message {
            echo: 9,
            token: Token(1),
            ..msg_about(MsgKind::Fence, 3, r)
        },
    );
    assert_eq!(sends(&out), vec![(n(1), MsgKind::Revoked, r)]);
}

#[test]
fn a_waiting_request_switches_away_from_a_suspected_voter_keeping_its_priority() {
    use crate::quorum::QuorumSystem;
    let ids: Vec<NodeId> = (0..9).map(n).collect();
    let system = Arc::new(QuorumSystem::grid(&ids));
    let mut a = Node::with_system(n(0), system, Options::default());
    let _ = a.request_cs().unwrap();
    assert_eq!(a.quorum(), &[n(0), n(1), n(2), n(3), n(6)]);
    let r = rid(1, 0);
    let out = a.set_suspected(n(1), true);
    let s = sends(&out);
    // Row 1 ({3, 4, 5}) plus column 0 ({0, 3, 6}): leave 1 and 2, join 4 and 5.
    assert!(s.contains(&(n(1), MsgKind::Release, r)), "{s:?}");
    assert!(s.contains(&(n(2), MsgKind::Release, r)), "{s:?}");
    assert!(s.contains(&(n(4), MsgKind::Request, r)), "{s:?}");
    assert!(s.contains(&(n(5), MsgKind::Request, r)), "{s:?}");
    assert_eq!(a.phase(), Phase::Wanting(r));
    assert!(!a.quorum().contains(&n(1)));
    assert_eq!(a.requester().left, nodes(&[1, 2]));
}
