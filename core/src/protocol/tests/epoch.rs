//! Membership changes (issue 27, `Member::adopt`): a voter grants only requests of its own
//! epoch, a node that adopts a newer configuration makes its waiting request again there and
//! tells every node, and `drained` answers what the coordinator waits for.

use super::*;
use crate::id::Epoch;
use crate::member::{LockAction, LockName, Member};

fn grid(ids: &[u32]) -> Arc<QuorumSystem> {
    Arc::new(QuorumSystem::grid(
        &ids.iter().map(|&i| n(i)).collect::<Vec<_>>(),
    ))
}

fn sends(out: &[LockAction], kind: MsgKind) -> Vec<(NodeId, RequestId)> {
    out.iter()
        .filter_map(|a| match a.action {
            Action::Send { to, msg } if msg.kind == kind => Some((to, msg.req)),
            _ => None,
        })
        .collect()
}

fn in_epoch(r: RequestId, epoch: u64) -> RequestId {
    RequestId {
        epoch: Epoch(epoch),
        ..r
    }
}

/// A voter in epoch 1 does not queue a request of epoch 0 (it would never grant it), grants
/// one of epoch 1, and a Yield of an epoch-0 request gives the vote back without queueing it
/// again.
#[test]
fn a_voter_grants_only_requests_of_its_own_epoch() {
    let cs = LockName::from(LockName::CS);
    let mut v = Member::with_system(n(1), grid(&[0, 1, 2]), Options::default());
    // In epoch 0 it grants node 0's request of epoch 0.
    let old = rid(5, 0);
    let out = v.handle(n(0), &cs, msg_about(MsgKind::Request, 5, old));
    assert_eq!(sends(&out, MsgKind::Grant), vec![(n(0), old)]);
    let _ = v.adopt(Epoch(1), grid(&[0, 1, 2, 3]), Token(0));
    assert!(
        !v.drained(Epoch(0), None),
        "its vote is still node 0's epoch-0 request"
    );
    // Node 2's request of epoch 0 is dropped, not queued.
    let stale = rid(6, 2);
    let out = v.handle(n(2), &cs, msg_about(MsgKind::Request, 6, stale));
    assert!(
        out.iter().all(|a| !matches!(a.action, Action::Send { .. })),
        "{out:?}"
    );
    // Node 3's request of epoch 1 waits behind the vote given; node 0 yields its old one.
    let new = in_epoch(rid(4, 3), 1);
    let out = v.handle(n(3), &cs, msg_about(MsgKind::Request, 4, new));
    assert_eq!(sends(&out, MsgKind::Inquire), vec![(n(0), old)]);
    let out = v.handle(n(0), &cs, msg_about(MsgKind::Yield, 7, old));
    assert_eq!(sends(&out, MsgKind::Grant), vec![(n(3), new)]);
    assert!(
        v.drained(Epoch(0), None),
        "no vote for an epoch-0 request, and none to come"
    );
    assert_eq!(v.lock("cs").unwrap().voter().queue.len(), 0);
}

/// A node that adopts a newer configuration withdraws its waiting request everywhere, makes
/// it again in the new epoch with the new quorum, and sends every old and new node a Config;
/// a holder keeps the CS.
#[test]
fn adopting_makes_a_waiting_request_again_and_tells_every_node() {
    let cs = LockName::from(LockName::CS);
    let mut a = Member::with_system(n(0), grid(&[0, 1, 2]), Options::default());
    let out = a.request_cs(&cs).unwrap();
    let first = sends(&out, MsgKind::Request);
    let old = first[0].1;
    assert_eq!(old.epoch, Epoch(0));
    let out = a.adopt(Epoch(1), grid(&[0, 1, 2, 3]), Token(40));
    let mut told: Vec<NodeId> = sends(&out, MsgKind::Config).iter().map(|c| c.0).collect();
    told.sort();
    assert_eq!(told, vec![n(1), n(2), n(3)]);
    let released: Vec<NodeId> = sends(&out, MsgKind::Release).iter().map(|r| r.0).collect();
    assert_eq!(released.len(), first.len(), "{out:?}");
    let again = sends(&out, MsgKind::Request);
    assert!(again.iter().all(|(_, r)| r.epoch == Epoch(1)), "{again:?}");
    assert_eq!(
        a.quorum(),
        &[n(0), n(1), n(2)],
        "its own quorum of the 2×2 grid"
    );
    assert!(a.floor() >= Token(40), "the configuration's floor is taken");
    // An older or the same epoch changes nothing.
    assert!(a.adopt(Epoch(1), grid(&[0, 1]), Token(0)).is_empty());
}

/// A node the new configuration no longer has withdraws its waiting request (a `Withdrawn`
/// for the caller) and may make no new one.
#[test]
fn a_removed_node_withdraws_and_may_not_request() {
    let cs = LockName::from(LockName::CS);
    let mut a = Member::with_system(n(2), grid(&[0, 1, 2]), Options::default());
    let _ = a.request_cs(&cs).unwrap();
    let out = a.adopt(Epoch(2), grid(&[0, 1]), Token(0));
    assert!(
        out.iter()
            .any(|x| matches!(x.action, Action::Log(LogEvent::Withdrawn { .. }))),
        "{out:?}"
    );
    assert_eq!(a.phase("cs"), Phase::Idle);
    assert_eq!(
        a.request_cs(&cs),
        Err(ProtocolError::NotMember { node: n(2) })
    );
}
