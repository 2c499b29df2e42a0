//! Unit tests of the sans-IO core, one (or more) per row of the rule table in PROTOCOL.md §2,
//! and one per crash/restart rule of §3 (journal, incarnations, re-voting).
//!
//! Every expected action list is written out in full, Lamport values included: `+1` before each
//! send or new request, `clock = max(clock, msg.lamport) + 1` on receipt. Node ids in voter
//! tests: the voter is node 0, requesters are 1, 2, 3, 4.

use super::*;
use std::collections::{BTreeMap, VecDeque};

mod epoch;
mod fast;
mod forget;
mod leases;
mod lost_disk;
mod messages;
mod requester;
mod revote;
mod rounds;
mod tokens;
mod voter;

// ---- helpers ----------------------------------------------------------------------------------

fn n(i: u32) -> NodeId {
    NodeId(i)
}

fn rid(ts: u64, node: u32) -> RequestId {
    RequestId {
        ts: Lamport(ts),
        node: n(node),
        inc: Incarnation(1),
        epoch: crate::id::Epoch(0),
    }
}

fn msg(kind: MsgKind, lamport: u64, ts: u64, node: u32) -> Message {
    Message {
        kind,
        lamport: Lamport(lamport),
        req: rid(ts, node),
        holds_grant: false,
        to_inc: Incarnation(0),
        token: Token(0),
        echo: 0,
    }
}

/// `Action::Send` of `kind` about request `(ts, node)` to `to`, stamped `lamport`.
fn send(to: u32, kind: MsgKind, lamport: u64, ts: u64, node: u32) -> Action {
    Action::Send {
        to: n(to),
        msg: msg(kind, lamport, ts, node),
    }
}

/// `action` (a send) with the sender's token floor `token` on its message.
fn tok(mut action: Action, token: u64) -> Action {
    if let Action::Send { msg, .. } = &mut action {
        msg.token = Token(token);
    }
    action
}

/// `Action::Persist` of the voter's new lock.
fn persist(lock: Option<RequestId>) -> Action {
    Action::Persist {
        lock,
        floor: Token(0),
    }
}

/// The sends of an action list as `(to, kind, request)`, without Lamport values.
fn sends(actions: &[Action]) -> Vec<(NodeId, MsgKind, RequestId)> {
    actions
        .iter()
        .filter_map(|a| match a {
            Action::Send { to, msg } => Some((*to, msg.kind, msg.req)),
            _ => None,
        })
        .collect()
}

fn set<T: Ord + Copy>(items: &[T]) -> BTreeSet<T> {
    items.iter().copied().collect()
}

fn nodes(ids: &[u32]) -> BTreeSet<NodeId> {
    ids.iter().map(|&i| n(i)).collect()
}

/// The only action is `Log(Ignored)` of exactly `msg` from `from` (the reason text is free).
#[track_caller]
fn assert_ignored(actions: &[Action], from: u32, expected: Message) {
    match actions {
        [Action::Log(LogEvent::Ignored {
            from: f,
            msg: m,
            why,
        })] => {
            assert_eq!((*f, *m), (n(from), expected), "wrong message ignored");
            assert!(!why.is_empty(), "an Ignored log needs a reason");
        }
        other => panic!("expected exactly one Log(Ignored), got {other:?}"),
    }
}

/// Maekawa's protocol without leases: what most of these tests pin down (the lease tests
/// use [`Options::default`]).
fn classic() -> Options {
    Options {
        leases: false,
        ..Options::default()
    }
}

/// A node with quorum `q`, without leases.
fn node(me: u32, q: &[u32]) -> Node {
    let q: Vec<NodeId> = q.iter().map(|&i| n(i)).collect();
    Node::with_options(n(me), &q, classic())
}

/// Request `(ts, node)` made by incarnation `inc` of `node` (`rid` is incarnation 1).
fn rid_inc(ts: u64, node: u32, inc: u64) -> RequestId {
    RequestId {
        ts: Lamport(ts),
        node: n(node),
        inc: Incarnation(inc),
        epoch: crate::id::Epoch(0),
    }
}

/// A message of `kind` about `req` (any incarnation), stamped `lamport`.
fn msg_about(kind: MsgKind, lamport: u64, req: RequestId) -> Message {
    Message {
        kind,
        lamport: Lamport(lamport),
        req,
        holds_grant: false,
        to_inc: Incarnation(0),
        token: Token(0),
        echo: 0,
    }
}

/// A `Sync` stamped `lamport` saying "my request is `req`" (`ts == 0`: none), whether the sender
/// holds the receiver's grant, and which incarnation of the receiver it answers.
fn sync(lamport: u64, req: RequestId, holds_grant: bool, to_inc: u64) -> Message {
    Message {
        kind: MsgKind::Sync,
        lamport: Lamport(lamport),
        req,
        holds_grant,
        to_inc: Incarnation(to_inc),
        token: Token(0),
        echo: 0,
    }
}

/// `Action::Send` of an arbitrary message.
fn send_msg(to: u32, msg: Message) -> Action {
    Action::Send { to: n(to), msg }
}

/// `Log(Revote)` of `what` about `req`, with the reason blanked (compare through `no_why`).
fn revote(what: RevoteKind, req: RequestId) -> Action {
    Action::Log(LogEvent::Revote { what, req, why: "" })
}

/// The actions with every `Revote` reason checked non-empty and then blanked, so exact lists
/// can be compared without pinning the wording (like `assert_ignored`).
#[track_caller]
fn no_why(actions: Vec<Action>) -> Vec<Action> {
    actions
        .into_iter()
        .map(|a| match a {
            Action::Log(LogEvent::Revote { what, req, why }) => {
                assert!(!why.is_empty(), "a Revote log needs a reason");
                revote(what, req)
            }
            other => other,
        })
        .collect()
}

/// Node `me` with quorum `q` restarted as incarnation `inc` with journal lock `lock`.
fn restored(me: u32, q: &[u32], inc: u64, lock: Option<RequestId>) -> (Node, Vec<Action>) {
    let q: Vec<NodeId> = q.iter().map(|&i| n(i)).collect();
    Node::restore(n(me), &q, Incarnation(inc), lock, Token(0), classic())
}

/// Voter 0 (quorum {0, 1, 2}) restarted as incarnation 2 with (5, 1) in its journal: the lock
/// is kept, its GRANT not sent by this process. Clock 0, queue empty.
fn voter_restored_with_5_1() -> Node {
    let (v, out) = restored(0, &[0, 1, 2], 2, Some(rid(5, 1)));
    assert_eq!(out, vec![]);
    v
}

/// Node 1 with quorum {0, 1, 2} after `request_cs`: request (1, 1), clock 4.
fn wanting_node1() -> Node {
    let mut a = node(1, &[0, 1, 2]);
    let _ = a.request_cs().unwrap();
    assert_eq!(
        (a.phase(), a.clock()),
        (Phase::Wanting(rid(1, 1)), Lamport(4))
    );
    a
}

/// Node 1 with quorum {0, 1, 2} in the CS with request (1, 1), clock 7.
fn in_cs_node1() -> Node {
    let mut a = wanting_node1();
    for v in [0, 1, 2] {
        let _ = a.handle(n(v), msg(MsgKind::Grant, 1, 1, 1));
    }
    assert_eq!((a.phase(), a.clock()), (Phase::InCs(rid(1, 1)), Lamport(7)));
    a
}

/// Voter 0 locked by request (5, 1) (REQUEST stamped 5 from node 1), clock 7.
fn voter_locked_by_5_1() -> Node {
    let mut v = node(0, &[0, 1, 2]);
    let out = v.handle(n(1), msg(MsgKind::Request, 5, 5, 1));
    assert_eq!(
        out,
        vec![persist(Some(rid(5, 1))), send(1, MsgKind::Grant, 7, 5, 1)]
    );
    v
}

/// Voter 0 locked by (5, 1) with queue {(2, 4), (3, 2), (9, 3)}: (9, 3) was sent FAILED,
/// (3, 2) caused the INQUIRE, (2, 4) arrived after it (nothing sent). Clock 14.
fn voter_with_overtaken_queue(options: Options) -> Node {
    let mut v = Node::with_options(n(0), &[n(0), n(1), n(2)], options);
    let steps = [
        (
            1,
            msg(MsgKind::Request, 5, 5, 1),
            vec![persist(Some(rid(5, 1))), send(1, MsgKind::Grant, 7, 5, 1)],
        ),
        (
            3,
            msg(MsgKind::Request, 9, 9, 3),
            vec![send(3, MsgKind::Failed, 11, 9, 3)],
        ),
        (
            2,
            msg(MsgKind::Request, 3, 3, 2),
            vec![send(1, MsgKind::Inquire, 13, 5, 1)],
        ),
        (4, msg(MsgKind::Request, 2, 2, 4), vec![]),
    ];
    for (from, m, expected) in steps {
        assert_eq!(v.handle(n(from), m), expected);
    }
    assert_eq!(v.clock(), Lamport(14));
    assert_eq!(v.voter().told_failed, set(&[rid(9, 3)]));
    v
}
