//! A lost disk (issue 27, `Member::rejoin`): a node whose journal is gone grants nothing until
//! it has heard the token floor of a node of every quorum it is in, and, when its peers knew an
//! earlier incarnation, not for a reclaim period either.

use super::*;
use crate::member::{LockAction, LockName, Member};

fn grid3() -> Arc<QuorumSystem> {
    Arc::new(QuorumSystem::grid(&[n(0), n(1), n(2)]))
}

/// `from`'s `Floor`: its journal floor `floor`.
fn floor(from: u32, floor: u64) -> Message {
    Message {
        req: RequestId {
            ts: Lamport(0),
            node: n(from),
            inc: Incarnation(1),
            epoch: crate::id::Epoch(0),
        },
        token: Token(floor),
        ..msg(MsgKind::Floor, 1, 0, from)
    }
}

fn grants(out: &[LockAction]) -> Vec<(NodeId, RequestId)> {
    out.iter()
        .filter_map(|a| match a.action {
            Action::Send { to, msg } if msg.kind == MsgKind::Grant => Some((to, msg.req)),
            _ => None,
        })
        .collect()
}

/// Node 1 of the grid 0 1 / 2 votes with 0 alone and with 2 alone: it needs both Hellos. Its
/// peers knew incarnation 2, so it also waits a reclaim period; then it grants the request that
/// queued meanwhile, with a token floor above both witnesses'.
#[test]
fn a_lost_disk_waits_for_floor_witnesses_and_a_reclaim_period() {
    let o = Options::default();
    let cs = LockName::from(LockName::CS);
    let mut v = Member::rejoin(n(1), grid3(), Incarnation(3), o, 100);
    assert!(v.awaits_floor());
    assert_eq!(v.quiet_until(), 100 + o.reclaim_after);
    let r = rid(9, 0);
    let out = v.handle(n(0), &cs, msg(MsgKind::Request, 8, 9, 0));
    assert!(grants(&out).is_empty(), "{out:?}");
    // A Hello is not a witness: the peer may have lost its journal too.
    let _ = v.peer_incarnation(n(0), Incarnation(1), Token(50));
    assert!(v.awaits_floor());
    let out = v.handle(n(0), &cs, floor(0, 50));
    assert!(grants(&out).is_empty(), "{out:?}");
    assert!(
        v.awaits_floor(),
        "node 2 is the only witness of the quorum {{1, 2}}"
    );
    let out = v.handle(n(2), &cs, floor(2, 70));
    assert!(!v.awaits_floor());
    assert_eq!(v.floor(), Token(70));
    // It records the floor, and, being a witness now, tells its peers.
    assert!(out
        .iter()
        .any(|a| matches!(a.action, Action::PersistFloor { floor } if floor >= Token(70))));
    let told: Vec<NodeId> = out
        .iter()
        .filter_map(|a| match a.action {
            Action::Send { to, msg } if msg.kind == MsgKind::Floor => Some(to),
            _ => None,
        })
        .collect();
    assert_eq!(told, vec![n(0), n(2)]);
    assert!(v.tick(100 + o.reclaim_after - 1).is_empty());
    let out = v.tick(100 + o.reclaim_after);
    assert_eq!(grants(&out), vec![(n(0), r)]);
}

/// A first start (incarnation 1: no peer knew this node) is not quiet: the last witness's Hello
/// lets it grant at once what queued while it waited.
#[test]
fn a_first_start_grants_as_soon_as_its_witnesses_are_heard() {
    let cs = LockName::from(LockName::CS);
    let mut v = Member::rejoin(n(1), grid3(), Incarnation(1), Options::default(), 0);
    assert_eq!(v.quiet_until(), 0);
    let _ = v.handle(n(0), &cs, msg(MsgKind::Request, 1, 2, 0));
    let _ = v.handle(n(2), &cs, floor(2, 0));
    let out = v.handle(n(0), &cs, floor(0, 0));
    assert_eq!(grants(&out), vec![(n(0), rid(2, 0))]);
}

/// Without leases nothing bounds a forgotten vote: a lost disk is not quiet (the daemon refuses
/// such a restart instead), but it still learns its floor before it grants.
#[test]
fn without_leases_a_lost_disk_still_waits_for_its_floor() {
    let v = Member::rejoin(n(1), grid3(), Incarnation(3), classic(), 0);
    assert_eq!(v.quiet_until(), 0);
    assert!(v.awaits_floor());
}

/// A node that knows its floor answers a peer whose Hello says it lost its journal with its
/// `Floor` (and sends none to an ordinary new incarnation); one that waits for its own (having
/// lost its journal, at an incarnation its peers knew) does not.
#[test]
fn a_new_incarnation_of_a_peer_gets_a_floor_from_those_that_know_theirs() {
    let floors = |out: &[LockAction]| {
        out.iter()
            .filter(|a| matches!(a.action, Action::Send { msg, .. } if msg.kind == MsgKind::Floor))
            .count()
    };
    let mut known = Member::with_system(n(0), grid3(), Options::default());
    let out = known.peer_incarnation(n(1), Incarnation(2), Token(0));
    assert_eq!(floors(&out), 0);
    assert_eq!(floors(&known.peer_wants_floor(n(1))), 1);
    let mut lost = Member::rejoin(n(0), grid3(), Incarnation(2), Options::default(), 0);
    assert_eq!(floors(&lost.peer_wants_floor(n(1))), 0);
}

/// A one-node cluster has nobody to learn a floor from: it does not wait.
#[test]
fn a_quorum_of_one_has_no_witness_to_wait_for() {
    let alone = Arc::new(QuorumSystem::grid(&[n(0)]));
    let v = Member::rejoin(n(0), alone, Incarnation(1), Options::default(), 0);
    assert!(!v.awaits_floor());
}
