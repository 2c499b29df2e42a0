//! What every message obeys, whatever the rule: saturating numbers and whose request each kind is
//! about.

use super::*;

/// Issue 15: a peer's numbers at the top of `u64` (which the daemon refuses at its edge) do
/// not crash the core if one gets through: the clock and the token floor saturate. Before,
/// `max(clock, u64::MAX) + 1` was an overflow panic, which release builds check.
#[test]
fn numbers_at_the_top_of_u64_saturate_instead_of_panicking() {
    let mut v = node(0, &[0, 1]);
    let out = v.handle(
        n(1),
        Message {
            token: Token(u64::MAX),
            ..msg(MsgKind::Request, u64::MAX, 1, 1)
        },
    );
    assert_eq!(v.clock(), Lamport(u64::MAX));
    assert_eq!(v.floor(), Token(u64::MAX));
    // The GRANT still leaves, stamped with the stuck clock.
    assert_eq!(sends(&out), vec![(n(1), MsgKind::Grant, rid(1, 1))]);
    let mut r = node(1, &[0, 1]);
    let _ = r.handle(n(0), msg(MsgKind::Failed, u64::MAX, 5, 1));
    let out = r.request_cs().unwrap();
    assert!(sends(&out).iter().all(|(_, k, _)| *k == MsgKind::Request));
    assert_eq!(r.clock(), Lamport(u64::MAX));
}

/// The rule the daemon's edge enforces (`MsgKind::from_requester`): a requester's kinds are
/// about its own request, a voter's about the receiver's. Spot-checked here on the rules that
/// answer a message with another one about the same request.
#[test]
fn requester_kinds_carry_the_senders_request_and_voter_kinds_the_receivers() {
    let mut v = node(0, &[0, 1, 2]);
    let granted = v.handle(n(1), msg(MsgKind::Request, 1, 1, 1));
    let failed = v.handle(n(2), msg(MsgKind::Request, 1, 2, 2));
    for (to, kind, req) in sends(&granted).into_iter().chain(sends(&failed)) {
        assert!(!kind.from_requester(), "{kind}");
        assert_eq!(req.node, to, "{kind} goes to the requester of its request");
    }
    let mut r = node(1, &[0, 1]);
    let out = r.request_cs().unwrap();
    for (_, kind, req) in sends(&out) {
        assert!(kind.from_requester(), "{kind}");
        assert_eq!(req.node, n(1), "{kind} is about the sender's request");
    }
    // A GRANT for a request it no longer has goes straight back as its own RELEASE.
    let out = r.handle(n(0), msg(MsgKind::Grant, 9, 7, 1));
    assert_eq!(sends(&out), vec![(n(0), MsgKind::Release, rid(7, 1))]);
    assert!(MsgKind::Release.from_requester());
}
