//! Votes not journaled with leases (issue 26, `Options::forget_votes`): a restarted voter has
//! forgotten them and grants nothing for a reclaim period; a requester stops counting the
//! grant of a voter that restarted while it waits.

use super::*;

#[test]
fn a_restarted_voter_forgets_its_vote_and_grants_only_after_a_reclaim_period() {
    let o = Options::default();
    let held = rid(5, 1);
    let (mut v, out) = Node::restore(n(0), &[n(0), n(1)], Incarnation(2), Some(held), Token(7), o);
    assert!(out.is_empty(), "{out:?}");
    assert_eq!(v.voter().lock, None, "the journaled vote is not restored");
    let r = rid(9, 1);
    let out = v.handle(n(1), msg(MsgKind::Request, 8, 9, 1));
    assert!(sends(&out).is_empty(), "quiet: {out:?}");
    assert!(v.voter().queue.contains(&r));
    assert!(!v.wants_tick(o.reclaim_after - 1));
    assert!(v.tick(o.reclaim_after - 1).is_empty());
    assert!(v.wants_tick(o.reclaim_after));
    let out = v.tick(o.reclaim_after);
    assert!(sends(&out).contains(&(n(1), MsgKind::Grant, r)), "{out:?}");
    assert_eq!(v.voter().lock, Some(r));
}

#[test]
fn a_first_start_is_not_quiet_and_a_grant_writes_no_record_within_the_reservation() {
    let o = Options::default();
    let (mut v, _) = Node::restore(n(0), &[n(0), n(1)], Incarnation(1), None, Token(0), o);
    let out = v.handle(n(1), msg(MsgKind::Request, 1, 2, 1));
    assert!(sends(&out).contains(&(n(1), MsgKind::Grant, rid(2, 1))));
    // The first grant raised the reservation (one record); the next ones are within it.
    assert!(out.iter().any(|a| matches!(a, Action::Persist { .. })));
    let out = v.handle(n(1), msg(MsgKind::Release, 3, 2, 1));
    assert!(
        !out.iter().any(|a| matches!(a, Action::Persist { .. })),
        "{out:?}"
    );
    let out = v.handle(n(1), msg(MsgKind::Request, 4, 5, 1));
    assert!(sends(&out).contains(&(n(1), MsgKind::Grant, rid(5, 1))));
    assert!(
        !out.iter().any(|a| matches!(a, Action::Persist { .. })),
        "{out:?}"
    );
}

#[test]
fn a_waiting_requester_stops_counting_the_grant_of_a_voter_that_restarted() {
    let mut a = Node::new(n(1), &[n(0), n(1)]);
    a.assume_peer(n(0), Incarnation(1));
    let _ = a.request_cs().unwrap();
    let Phase::Wanting(r) = a.phase() else {
        panic!()
    };
    let _ = a.handle(
        n(0),
        Message {
            req: r,
            ..msg(MsgKind::Grant, 9, 0, 0)
        },
    );
    assert!(a.requester().granted.contains(&n(0)));
    let out = a.peer_incarnation(n(0), Incarnation(2), Token(0));
    assert!(!a.requester().granted.contains(&n(0)));
    assert!(out.iter().any(|x| matches!(x,
        Action::Send { to, msg } if *to == n(0) && msg.kind == MsgKind::Sync && !msg.holds_grant)));
}
