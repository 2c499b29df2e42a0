//! Unit tests of the sans-IO core, one (or more) per row of the rule table in PROTOCOL.md §2,
//! and one per crash/restart rule of §3 (journal, incarnations, re-voting).
//!
//! Every expected action list is written out in full, Lamport values included: `+1` before each
//! send or new request, `clock = max(clock, msg.lamport) + 1` on receipt. Node ids in voter
//! tests: the voter is node 0, requesters are 1, 2, 3, 4.

use super::*;
use std::collections::{BTreeMap, VecDeque};

// ---- helpers ----------------------------------------------------------------------------------

fn n(i: u32) -> NodeId {
    NodeId(i)
}

fn rid(ts: u64, node: u32) -> RequestId {
    RequestId {
        ts,
        node: n(node),
        inc: 1,
    }
}

fn msg(kind: MsgKind, lamport: u64, ts: u64, node: u32) -> Message {
    Message {
        kind,
        lamport,
        req: rid(ts, node),
        holds_grant: false,
        to_inc: 0,
        token: 0,
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
        msg.token = token;
    }
    action
}

/// `Action::Persist` of the voter's new lock.
fn persist(lock: Option<RequestId>) -> Action {
    Action::Persist { lock, floor: 0 }
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
        ts,
        node: n(node),
        inc,
    }
}

/// A message of `kind` about `req` (any incarnation), stamped `lamport`.
fn msg_about(kind: MsgKind, lamport: u64, req: RequestId) -> Message {
    Message {
        kind,
        lamport,
        req,
        holds_grant: false,
        to_inc: 0,
        token: 0,
        echo: 0,
    }
}

/// A `Sync` stamped `lamport` saying "my request is `req`" (`ts == 0`: none), whether the sender
/// holds the receiver's grant, and which incarnation of the receiver it answers.
fn sync(lamport: u64, req: RequestId, holds_grant: bool, to_inc: u64) -> Message {
    Message {
        kind: MsgKind::Sync,
        lamport,
        req,
        holds_grant,
        to_inc,
        token: 0,
        echo: 0,
    }
}

/// `Action::Send` of an arbitrary message.
fn send_msg(to: u32, msg: Message) -> Action {
    Action::Send { to: n(to), msg }
}

/// `Log(Revote)` of `what` about `req`, with the reason blanked (compare through `no_why`).
fn revote(what: &'static str, req: RequestId) -> Action {
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
    Node::restore(n(me), &q, inc, lock, 0, classic())
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
    assert_eq!((a.phase(), a.clock()), (Phase::Wanting(rid(1, 1)), 4));
    a
}

/// Node 1 with quorum {0, 1, 2} in the CS with request (1, 1), clock 7.
fn in_cs_node1() -> Node {
    let mut a = wanting_node1();
    for v in [0, 1, 2] {
        let _ = a.handle(n(v), msg(MsgKind::Grant, 1, 1, 1));
    }
    assert_eq!((a.phase(), a.clock()), (Phase::InCs(rid(1, 1)), 7));
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

// ---- want CS ----------------------------------------------------------------------------------

// Row "want CS": r = (++clock, me); Wanting(r); REQUEST(r) to every member of Q(me), self too.
#[test]
fn want_cs_sends_request_to_every_quorum_member() {
    let mut a = node(1, &[2, 0, 1, 2]); // unsorted, duplicated: the quorum is a set
    assert_eq!(a.quorum(), &[n(0), n(1), n(2)]);
    let out = a.request_cs().unwrap();
    assert_eq!(
        out,
        vec![
            send(0, MsgKind::Request, 2, 1, 1),
            send(1, MsgKind::Request, 3, 1, 1),
            send(2, MsgKind::Request, 4, 1, 1),
        ]
    );
    assert_eq!(a.phase(), Phase::Wanting(rid(1, 1)));
    assert_eq!(a.clock(), 4);
    assert_eq!(a.requester(), &RequesterView::default());
}

// Row "want CS": the request timestamp is the clock after a receipt has advanced it.
#[test]
fn want_cs_timestamp_follows_the_lamport_clock() {
    let mut a = node(1, &[0, 1]);
    let stale = msg(MsgKind::Failed, 10, 3, 1);
    let out = a.handle(n(0), stale);
    assert_ignored(&out, 0, stale);
    assert_eq!(a.clock(), 11);
    let out = a.request_cs().unwrap();
    assert_eq!(
        out,
        vec![
            send(0, MsgKind::Request, 13, 12, 1),
            send(1, MsgKind::Request, 14, 12, 1),
        ]
    );
    assert_eq!(a.phase(), Phase::Wanting(rid(12, 1)));
}

// Row "want CS" (precondition): one request at a time.
#[test]
fn request_cs_while_wanting_or_in_cs_is_refused() {
    let mut a = wanting_node1();
    let before = a.clone();
    assert_eq!(
        a.request_cs(),
        Err(ProtocolError::AlreadyRequesting {
            node: n(1),
            req: rid(1, 1)
        })
    );
    assert_eq!(a, before, "a refused request changes nothing");

    let mut b = in_cs_node1();
    assert_eq!(
        b.request_cs(),
        Err(ProtocolError::AlreadyRequesting {
            node: n(1),
            req: rid(1, 1)
        })
    );
    assert_eq!(b.phase(), Phase::InCs(rid(1, 1)));
}

// ---- voter gets REQUEST ---------------------------------------------------------------------

// Row "voter gets REQUEST", unlocked: lock = r, GRANT(r).
#[test]
fn request_to_unlocked_voter_is_granted() {
    let mut v = node(0, &[0, 1, 2]);
    let out = v.handle(n(1), msg(MsgKind::Request, 5, 5, 1));
    assert_eq!(
        out,
        vec![persist(Some(rid(5, 1))), send(1, MsgKind::Grant, 7, 5, 1)]
    );
    assert_eq!(v.clock(), 7);
    assert_eq!(
        v.voter(),
        &VoterView {
            lock: Some(rid(5, 1)),
            grant_sent: true,
            ..VoterView::default()
        }
    );
    // The voter side does not touch the requester side.
    assert_eq!(v.phase(), Phase::Idle);

    // A node's own REQUEST goes through the same rule.
    let mut s = node(0, &[0, 1, 2]);
    let out = s.request_cs().unwrap();
    assert_eq!(out[0], send(0, MsgKind::Request, 2, 1, 0));
    let out = s.handle(n(0), msg(MsgKind::Request, 2, 1, 0));
    assert_eq!(
        out,
        vec![persist(Some(rid(1, 0))), send(0, MsgKind::Grant, 6, 1, 0)]
    ); // clock 4 -> max(4,2)+1=5 -> 6
    assert_eq!(s.voter().lock, Some(rid(1, 0)));
}

// Row "voter gets REQUEST", locked and the lock has higher priority: queue r, FAILED(r).
#[test]
fn request_beaten_by_the_lock_gets_failed() {
    let mut v = voter_locked_by_5_1();
    let out = v.handle(n(2), msg(MsgKind::Request, 7, 7, 2));
    assert_eq!(out, vec![send(2, MsgKind::Failed, 9, 7, 2)]);
    // Same timestamp: the lower node id wins, (5, 1) beats (5, 3).
    let out = v.handle(n(3), msg(MsgKind::Request, 5, 5, 3));
    assert_eq!(out, vec![send(3, MsgKind::Failed, 11, 5, 3)]);
    assert_eq!(
        v.voter(),
        &VoterView {
            lock: Some(rid(5, 1)),
            queue: set(&[rid(5, 3), rid(7, 2)]),
            inquired: false,
            told_failed: set(&[rid(5, 3), rid(7, 2)]),
            grant_sent: true,
            ..VoterView::default()
        }
    );
}

// Row "voter gets REQUEST", locked, r beats the lock but a queued request beats r: FAILED(r).
#[test]
fn request_beaten_by_a_queued_request_gets_failed() {
    let mut v = voter_locked_by_5_1();
    let out = v.handle(n(2), msg(MsgKind::Request, 3, 3, 2));
    assert_eq!(out, vec![send(1, MsgKind::Inquire, 9, 5, 1)]);
    let out = v.handle(n(3), msg(MsgKind::Request, 4, 4, 3));
    assert_eq!(out, vec![send(3, MsgKind::Failed, 11, 4, 3)]);
    assert_eq!(
        v.voter(),
        &VoterView {
            lock: Some(rid(5, 1)),
            queue: set(&[rid(3, 2), rid(4, 3)]),
            inquired: true,
            told_failed: set(&[rid(4, 3)]),
            grant_sent: true,
            ..VoterView::default()
        }
    );
}

// Row "voter gets REQUEST", r beats the lock and every queued request: INQUIRE(lock) to the
// lock's node, set `inquired`.
#[test]
fn request_that_beats_all_sends_inquire_to_the_lock_holder() {
    let mut v = voter_locked_by_5_1();
    let out = v.handle(n(3), msg(MsgKind::Request, 9, 9, 3));
    assert_eq!(out, vec![send(3, MsgKind::Failed, 11, 9, 3)]);
    let out = v.handle(n(2), msg(MsgKind::Request, 3, 3, 2));
    assert_eq!(out, vec![send(1, MsgKind::Inquire, 13, 5, 1)]);
    assert_eq!(
        v.voter(),
        &VoterView {
            lock: Some(rid(5, 1)),
            queue: set(&[rid(3, 2), rid(9, 3)]),
            inquired: true,
            told_failed: set(&[rid(9, 3)]),
            grant_sent: true,
            ..VoterView::default()
        }
    );
}

// Row "voter gets REQUEST", r beats all but an INQUIRE is already outstanding: queue r, nothing
// is sent (only the clock moves).
#[test]
fn request_that_beats_all_when_already_inquired_sends_nothing() {
    let mut v = voter_locked_by_5_1();
    let _ = v.handle(n(2), msg(MsgKind::Request, 3, 3, 2)); // INQUIRE(5,1), clock 9
    assert!(v.voter().inquired);
    let out = v.handle(n(4), msg(MsgKind::Request, 2, 2, 4));
    assert_eq!(out, vec![]);
    assert_eq!(v.clock(), 10);
    assert_eq!(
        v.voter(),
        &VoterView {
            lock: Some(rid(5, 1)),
            queue: set(&[rid(2, 4), rid(3, 2)]),
            inquired: true,
            told_failed: BTreeSet::new(),
            grant_sent: true,
            ..VoterView::default()
        }
    );
}

// Not a row of the table (implementation robustness): a REQUEST the voter already has (locked
// or queued) is logged and dropped, so FIFO-violating duplicates cannot double-queue it.
#[test]
fn duplicate_request_is_ignored() {
    let mut v = voter_locked_by_5_1();
    let dup = msg(MsgKind::Request, 5, 5, 1);
    assert_ignored(&v.handle(n(1), dup), 1, dup);
    let _ = v.handle(n(2), msg(MsgKind::Request, 7, 7, 2));
    let before = v.voter().clone();
    let dup = msg(MsgKind::Request, 7, 7, 2);
    assert_ignored(&v.handle(n(2), dup), 2, dup);
    assert_eq!(v.voter(), &before);
}

// ---- requester gets GRANT -------------------------------------------------------------------

// Row "requester gets GRANT": count it; when every voter of Q(me) granted, EnterCs with the
// votes sorted.
#[test]
fn grants_are_counted_and_the_last_one_enters_the_cs() {
    let mut a = wanting_node1();
    let r = rid(1, 1);
    assert_eq!(a.handle(n(2), msg(MsgKind::Grant, 3, 1, 1)), vec![]);
    assert_eq!(a.clock(), 5);
    assert_eq!(a.requester().granted, nodes(&[2]));
    assert_eq!(a.handle(n(0), msg(MsgKind::Grant, 9, 1, 1)), vec![]);
    assert_eq!(a.clock(), 10);
    assert_eq!(a.requester().granted, nodes(&[0, 2]));
    assert_eq!(a.phase(), Phase::Wanting(r));
    let out = a.handle(n(1), msg(MsgKind::Grant, 3, 1, 1));
    // The token is the floor (0: no grant carried one) plus one; a block of tokens from it is
    // reserved on disk before the entry.
    assert_eq!(
        out,
        vec![
            Action::Persist {
                lock: None,
                floor: TOKEN_BLOCK
            },
            Action::EnterCs {
                req: r,
                votes: vec![n(0), n(1), n(2)],
                token: 1,
            }
        ]
    );
    assert_eq!(a.floor(), 1);
    assert_eq!(a.clock(), 11);
    assert_eq!(a.phase(), Phase::InCs(r));
    assert_eq!(a.requester().granted, nodes(&[0, 1, 2]));
}

// Row "requester gets GRANT": the granting voter leaves `failed` and `yielded`.
#[test]
fn grant_removes_the_voter_from_failed_and_yielded() {
    let mut a = wanting_node1();
    assert_eq!(a.handle(n(0), msg(MsgKind::Failed, 1, 1, 1)), vec![]); // clock 5
    assert_eq!(a.handle(n(2), msg(MsgKind::Grant, 1, 1, 1)), vec![]); // clock 6
    let out = a.handle(n(2), msg(MsgKind::Inquire, 1, 1, 1)); // clock 7
    assert_eq!(out, vec![send(2, MsgKind::Yield, 8, 1, 1)]);
    assert_eq!(
        a.requester(),
        &RequesterView {
            granted: nodes(&[]),
            failed: nodes(&[0]),
            yielded: nodes(&[2]),
            deferred: nodes(&[]),
            ..RequesterView::default()
        }
    );
    assert_eq!(a.handle(n(0), msg(MsgKind::Grant, 1, 1, 1)), vec![]);
    assert_eq!(
        a.requester(),
        &RequesterView {
            granted: nodes(&[0]),
            failed: nodes(&[]),
            yielded: nodes(&[2]),
            deferred: nodes(&[]),
            ..RequesterView::default()
        }
    );
    assert_eq!(a.handle(n(2), msg(MsgKind::Grant, 1, 1, 1)), vec![]);
    assert_eq!(
        a.requester(),
        &RequesterView {
            granted: nodes(&[0, 2]),
            failed: nodes(&[]),
            yielded: nodes(&[]),
            deferred: nodes(&[]),
            ..RequesterView::default()
        }
    );
    assert_eq!(a.phase(), Phase::Wanting(rid(1, 1)));
    assert_eq!(a.clock(), 10);
}

// Row "requester gets GRANT": a GRANT for a request that is not current is returned at once
// with RELEASE — when idle, when wanting another request, and when in the CS with another one.
#[test]
fn grant_for_a_request_that_is_not_current_is_released_at_once() {
    let mut a = node(1, &[0, 1, 2]);
    let out = a.handle(n(0), msg(MsgKind::Grant, 3, 1, 1));
    assert_eq!(out, vec![send(0, MsgKind::Release, 5, 1, 1)]);
    assert_eq!(a.phase(), Phase::Idle);
    assert_eq!(a.requester(), &RequesterView::default());

    let out = a.request_cs().unwrap(); // clock 6, r = (6, 1), sends 7, 8, 9
    assert_eq!(sends(&out).len(), 3);
    let out = a.handle(n(2), msg(MsgKind::Grant, 2, 1, 1)); // clock 10
    assert_eq!(out, vec![send(2, MsgKind::Release, 11, 1, 1)]);
    assert_eq!(a.phase(), Phase::Wanting(rid(6, 1)));
    assert!(a.requester().granted.is_empty());

    for v in [0, 1, 2] {
        let _ = a.handle(n(v), msg(MsgKind::Grant, 1, 6, 1)); // clock 12, 13, 14
    }
    assert_eq!(a.phase(), Phase::InCs(rid(6, 1)));
    let out = a.handle(n(0), msg(MsgKind::Grant, 1, 1, 1)); // clock 15
                                                            // The entry made token 1, and every message after it carries that floor.
    assert_eq!(out, vec![tok(send(0, MsgKind::Release, 16, 1, 1), 1)]);
    assert_eq!(a.phase(), Phase::InCs(rid(6, 1)));
}

// Row "requester gets GRANT" (current request, already InCs): ignored with a log line.
#[test]
fn grant_while_in_the_cs_is_ignored() {
    let mut a = in_cs_node1();
    let before = a.requester().clone();
    let g = msg(MsgKind::Grant, 1, 1, 1);
    assert_ignored(&a.handle(n(0), g), 0, g);
    assert_eq!(a.clock(), 8);
    assert_eq!(a.phase(), Phase::InCs(rid(1, 1)));
    assert_eq!(a.requester(), &before);
}

// Not a row of the table (implementation robustness): a second GRANT from a voter already
// counted, or a GRANT from a non-member, is logged and not counted.
#[test]
fn duplicate_or_foreign_grant_is_not_counted() {
    let mut a = wanting_node1();
    let _ = a.handle(n(0), msg(MsgKind::Grant, 1, 1, 1));
    let g = msg(MsgKind::Grant, 1, 1, 1);
    assert_ignored(&a.handle(n(0), g), 0, g);
    assert_ignored(&a.handle(n(7), g), 7, g);
    assert_eq!(a.requester().granted, nodes(&[0]));
    assert_eq!(a.phase(), Phase::Wanting(rid(1, 1)));
}

// ---- requester gets FAILED ------------------------------------------------------------------

// Row "requester gets FAILED", current: add to `failed`; answer every deferred INQUIRE whose
// grant is still held with YIELD (dropping the grant, adding the voter to `yielded`).
#[test]
fn failed_answers_deferred_inquiries_with_yield() {
    let mut a = wanting_node1();
    let r = rid(1, 1);
    let _ = a.handle(n(0), msg(MsgKind::Grant, 1, 1, 1)); // clock 5
    let _ = a.handle(n(2), msg(MsgKind::Grant, 1, 1, 1)); // clock 6
    let out = a.handle(n(0), msg(MsgKind::Inquire, 1, 1, 1)); // clock 7
    assert_eq!(
        out,
        vec![Action::Log(LogEvent::InquiryDeferred {
            voter: n(0),
            req: r
        })]
    );
    let out = a.handle(n(2), msg(MsgKind::Inquire, 1, 1, 1)); // clock 8
    assert_eq!(
        out,
        vec![Action::Log(LogEvent::InquiryDeferred {
            voter: n(2),
            req: r
        })]
    );
    assert_eq!(a.requester().deferred, nodes(&[0, 2]));
    let out = a.handle(n(1), msg(MsgKind::Failed, 1, 1, 1)); // clock 9
    assert_eq!(
        out,
        vec![
            send(0, MsgKind::Yield, 10, 1, 1),
            send(2, MsgKind::Yield, 11, 1, 1),
        ]
    );
    assert_eq!(
        a.requester(),
        &RequesterView {
            granted: nodes(&[]),
            failed: nodes(&[1]),
            yielded: nodes(&[0, 2]),
            deferred: nodes(&[]),
            ..RequesterView::default()
        }
    );
    assert_eq!(a.phase(), Phase::Wanting(r));
}

// Row "requester gets FAILED", current, nothing deferred: only recorded.
#[test]
fn failed_without_deferred_inquiries_is_only_recorded() {
    let mut a = wanting_node1();
    let _ = a.handle(n(0), msg(MsgKind::Grant, 1, 1, 1));
    assert_eq!(a.handle(n(2), msg(MsgKind::Failed, 1, 1, 1)), vec![]);
    assert_eq!(
        a.requester(),
        &RequesterView {
            granted: nodes(&[0]),
            failed: nodes(&[2]),
            ..RequesterView::default()
        }
    );
    assert_eq!(a.clock(), 6);
}

// Row "requester gets FAILED", not current (idle, or about another request): Log Ignored.
#[test]
fn stale_failed_is_ignored() {
    let mut a = node(1, &[0, 1, 2]);
    let f = msg(MsgKind::Failed, 3, 1, 1);
    assert_ignored(&a.handle(n(0), f), 0, f);
    assert_eq!(a.clock(), 4);
    assert_eq!(a.requester(), &RequesterView::default());

    let mut b = wanting_node1();
    let f = msg(MsgKind::Failed, 1, 7, 1);
    assert_ignored(&b.handle(n(0), f), 0, f);
    assert!(b.requester().failed.is_empty());
}

// ---- requester gets INQUIRE -----------------------------------------------------------------

// Row "requester gets INQUIRE": ignored if r is not current, if the voter's grant is not held,
// or if InCs.
#[test]
fn inquire_is_ignored_when_stale_not_holding_or_in_cs() {
    // Idle.
    let mut a = node(1, &[0, 1, 2]);
    let q = msg(MsgKind::Inquire, 1, 1, 1);
    assert_ignored(&a.handle(n(0), q), 0, q);

    // Wanting another request.
    let mut b = wanting_node1();
    let _ = b.handle(n(0), msg(MsgKind::Grant, 1, 1, 1));
    let q = msg(MsgKind::Inquire, 1, 7, 1);
    assert_ignored(&b.handle(n(0), q), 0, q);
    assert_eq!(b.requester().granted, nodes(&[0]));
    assert!(b.requester().deferred.is_empty());

    // Current request, but that voter's grant is not held (even with `failed` non-empty).
    let mut c = wanting_node1();
    let _ = c.handle(n(2), msg(MsgKind::Failed, 1, 1, 1));
    let q = msg(MsgKind::Inquire, 1, 1, 1);
    assert_ignored(&c.handle(n(0), q), 0, q);
    assert!(c.requester().yielded.is_empty());
    assert!(c.requester().deferred.is_empty());

    // In the CS.
    let mut d = in_cs_node1();
    let q = msg(MsgKind::Inquire, 1, 1, 1);
    assert_ignored(&d.handle(n(0), q), 0, q);
    assert_eq!(d.phase(), Phase::InCs(rid(1, 1)));
    assert_eq!(d.requester().granted, nodes(&[0, 1, 2]));
}

// Row "requester gets INQUIRE", `failed` non-empty: YIELD, drop the grant, add to `yielded`.
#[test]
fn inquire_after_failed_is_answered_with_yield() {
    let mut a = wanting_node1();
    let _ = a.handle(n(0), msg(MsgKind::Grant, 1, 1, 1)); // clock 5
    let _ = a.handle(n(2), msg(MsgKind::Failed, 1, 1, 1)); // clock 6
    let out = a.handle(n(0), msg(MsgKind::Inquire, 1, 1, 1)); // clock 7
    assert_eq!(out, vec![send(0, MsgKind::Yield, 8, 1, 1)]);
    assert_eq!(
        a.requester(),
        &RequesterView {
            granted: nodes(&[]),
            failed: nodes(&[2]),
            yielded: nodes(&[0]),
            deferred: nodes(&[]),
            ..RequesterView::default()
        }
    );
    assert_eq!(a.phase(), Phase::Wanting(rid(1, 1)));
}

// Row "requester gets INQUIRE", `failed` empty but `yielded` non-empty: YIELD as well.
#[test]
fn inquire_while_having_yielded_is_answered_with_yield() {
    let mut a = wanting_node1();
    let _ = a.handle(n(0), msg(MsgKind::Grant, 1, 1, 1)); // clock 5
    let _ = a.handle(n(2), msg(MsgKind::Failed, 1, 1, 1)); // clock 6
    let _ = a.handle(n(0), msg(MsgKind::Inquire, 1, 1, 1)); // clock 7, YIELD 8
    let _ = a.handle(n(2), msg(MsgKind::Grant, 1, 1, 1)); // clock 9
    assert_eq!(
        a.requester(),
        &RequesterView {
            granted: nodes(&[2]),
            failed: nodes(&[]),
            yielded: nodes(&[0]),
            deferred: nodes(&[]),
            ..RequesterView::default()
        }
    );
    let out = a.handle(n(2), msg(MsgKind::Inquire, 1, 1, 1)); // clock 10
    assert_eq!(out, vec![send(2, MsgKind::Yield, 11, 1, 1)]);
    assert_eq!(
        a.requester(),
        &RequesterView {
            granted: nodes(&[]),
            failed: nodes(&[]),
            yielded: nodes(&[0, 2]),
            deferred: nodes(&[]),
            ..RequesterView::default()
        }
    );
}

// Row "requester gets INQUIRE", no FAILED and no yield yet: deferred, logged as InquiryDeferred;
// the grant is kept.
#[test]
fn inquire_without_reason_to_lose_is_deferred() {
    let mut a = wanting_node1();
    let _ = a.handle(n(0), msg(MsgKind::Grant, 1, 1, 1)); // clock 5
    let out = a.handle(n(0), msg(MsgKind::Inquire, 1, 1, 1)); // clock 6
    assert_eq!(
        out,
        vec![Action::Log(LogEvent::InquiryDeferred {
            voter: n(0),
            req: rid(1, 1)
        })]
    );
    assert_eq!(a.clock(), 6);
    assert_eq!(
        a.requester(),
        &RequesterView {
            granted: nodes(&[0]),
            deferred: nodes(&[0]),
            ..RequesterView::default()
        }
    );
}

// ---- voter gets YIELD -----------------------------------------------------------------------

// Row "voter gets YIELD", lock == r: r back in the queue, GRANT the head, clear `inquired`.
#[test]
fn yield_requeues_and_grants_the_head() {
    let mut v = voter_locked_by_5_1(); // clock 7
    let out = v.handle(n(2), msg(MsgKind::Request, 3, 3, 2)); // clock 8
    assert_eq!(out, vec![send(1, MsgKind::Inquire, 9, 5, 1)]);
    let out = v.handle(n(1), msg(MsgKind::Yield, 20, 5, 1)); // clock 21
    assert_eq!(
        out,
        vec![persist(Some(rid(3, 2))), send(2, MsgKind::Grant, 22, 3, 2)]
    );
    assert_eq!(v.voter().lock, Some(rid(3, 2)));
    assert_eq!(v.voter().queue, set(&[rid(5, 1)]));
    assert!(!v.voter().inquired);
}

// Row "voter gets YIELD", lock != r: stale, ignored (unlocked voter; queued-only request).
#[test]
fn stale_yield_is_ignored() {
    let mut v = node(0, &[0, 1, 2]);
    let y = msg(MsgKind::Yield, 1, 5, 1);
    assert_ignored(&v.handle(n(1), y), 1, y);
    assert_eq!(v.voter(), &VoterView::default());

    let mut v = voter_locked_by_5_1();
    let _ = v.handle(n(2), msg(MsgKind::Request, 7, 7, 2)); // FAILED, queued
    let before = v.voter().clone();
    let y = msg(MsgKind::Yield, 1, 7, 2);
    assert_ignored(&v.handle(n(2), y), 2, y);
    assert_eq!(v.voter(), &before);
}

// Rows "voter gets YIELD" + "voter lock changes" — the deliberate interpretation in
// protocol.rs: a request re-queued by YIELD is recorded in `told_failed`, because its requester
// keeps this voter in `yielded`, which makes it yield to any INQUIRE exactly as a FAILED would.
// So the lock-change rule sends it no FAILED, neither at the yield nor at later lock changes.
#[test]
fn yielded_request_counts_as_told_failed_so_lock_change_sends_it_no_failed() {
    let mut v = voter_locked_by_5_1(); // clock 7
    let _ = v.handle(n(2), msg(MsgKind::Request, 3, 3, 2)); // clock 8, INQUIRE 9

    // (5, 1) is queued with lower priority than the new lock, yet gets no FAILED.
    let out = v.handle(n(1), msg(MsgKind::Yield, 10, 5, 1)); // clock 11
    assert_eq!(
        out,
        vec![persist(Some(rid(3, 2))), send(2, MsgKind::Grant, 12, 3, 2)]
    );
    assert_eq!(v.voter().queue, set(&[rid(5, 1)]));
    assert_eq!(v.voter().told_failed, set(&[rid(5, 1)]));

    // Another overtaking request: the lock (3, 2) is inquired and yields; the new lock change
    // sends FAILED to neither yielded request.
    let out = v.handle(n(3), msg(MsgKind::Request, 2, 2, 3)); // clock 13
    assert_eq!(out, vec![send(2, MsgKind::Inquire, 14, 3, 2)]);
    let out = v.handle(n(2), msg(MsgKind::Yield, 15, 3, 2)); // clock 16
    assert_eq!(
        out,
        vec![persist(Some(rid(2, 3))), send(3, MsgKind::Grant, 17, 2, 3)]
    );
    assert_eq!(
        v.voter(),
        &VoterView {
            lock: Some(rid(2, 3)),
            queue: set(&[rid(3, 2), rid(5, 1)]),
            inquired: false,
            told_failed: set(&[rid(3, 2), rid(5, 1)]),
            grant_sent: true,
            ..VoterView::default()
        }
    );

    // When a yielded request is granted again, it leaves `told_failed`.
    let out = v.handle(n(3), msg(MsgKind::Release, 18, 2, 3)); // clock 19
    assert_eq!(
        out,
        vec![persist(Some(rid(3, 2))), send(2, MsgKind::Grant, 20, 3, 2)]
    );
    assert_eq!(v.voter().told_failed, set(&[rid(5, 1)]));
}

// ---- exit CS --------------------------------------------------------------------------------

// Row "exit CS": RELEASE(r) to every member of Q(me), self included; Idle.
#[test]
fn exit_cs_releases_every_quorum_member() {
    let mut a = in_cs_node1(); // clock 7, token 1
    let out = a.exit_cs().unwrap();
    // Each RELEASE carries the holder's token to its voter (fencing tokens).
    assert_eq!(
        out,
        vec![
            tok(send(0, MsgKind::Release, 8, 1, 1), 1),
            tok(send(1, MsgKind::Release, 9, 1, 1), 1),
            tok(send(2, MsgKind::Release, 10, 1, 1), 1),
        ]
    );
    assert_eq!(a.phase(), Phase::Idle);
    assert_eq!(a.clock(), 10);
    assert_eq!(a.requester(), &RequesterView::default());
    // The next request gets a fresh, higher timestamp.
    let out = a.request_cs().unwrap();
    assert_eq!(out[0], tok(send(0, MsgKind::Request, 12, 11, 1), 1));
    assert_eq!(a.phase(), Phase::Wanting(rid(11, 1)));
}

// Row "exit CS" (precondition): only from InCs.
#[test]
fn exit_cs_when_not_in_cs_is_refused() {
    let mut a = node(1, &[0, 1, 2]);
    assert_eq!(a.exit_cs(), Err(ProtocolError::NotInCs { node: n(1) }));
    let mut b = wanting_node1();
    let before = b.clone();
    assert_eq!(b.exit_cs(), Err(ProtocolError::NotInCs { node: n(1) }));
    assert_eq!(b, before);
    let mut c = in_cs_node1();
    let _ = c.exit_cs().unwrap();
    assert_eq!(c.exit_cs(), Err(ProtocolError::NotInCs { node: n(1) }));
}

// ---- voter gets RELEASE ---------------------------------------------------------------------

// Row "voter gets RELEASE", lock == r: unlock, then grant the head of the queue if any.
#[test]
fn release_of_the_lock_grants_the_queue_head_then_unlocks() {
    let mut v = voter_locked_by_5_1(); // clock 7
    let out = v.handle(n(2), msg(MsgKind::Request, 7, 7, 2)); // clock 8
    assert_eq!(out, vec![send(2, MsgKind::Failed, 9, 7, 2)]);
    let out = v.handle(n(3), msg(MsgKind::Request, 3, 3, 3)); // clock 10
    assert_eq!(out, vec![send(1, MsgKind::Inquire, 11, 5, 1)]);

    let out = v.handle(n(1), msg(MsgKind::Release, 12, 5, 1)); // clock 13
    assert_eq!(
        out,
        vec![persist(Some(rid(3, 3))), send(3, MsgKind::Grant, 14, 3, 3)]
    );
    assert_eq!(
        v.voter(),
        &VoterView {
            lock: Some(rid(3, 3)),
            queue: set(&[rid(7, 2)]),
            inquired: false,
            told_failed: set(&[rid(7, 2)]),
            grant_sent: true,
            ..VoterView::default()
        }
    );

    let out = v.handle(n(3), msg(MsgKind::Release, 15, 3, 3)); // clock 16
    assert_eq!(
        out,
        vec![persist(Some(rid(7, 2))), send(2, MsgKind::Grant, 17, 7, 2)]
    );
    assert_eq!(
        v.voter(),
        &VoterView {
            lock: Some(rid(7, 2)),
            grant_sent: true,
            ..VoterView::default()
        }
    );

    // The queue is empty: the voter unlocks, and the unlocking is persisted too.
    let out = v.handle(n(2), msg(MsgKind::Release, 18, 7, 2)); // clock 19
    assert_eq!(out, vec![persist(None)]);
    assert_eq!(
        v.voter(),
        // Unlocked: `grant_sent` describes no lock, so it is back to false.
        &VoterView::default()
    );
    assert_eq!(v.clock(), 19);
}

// Row "voter gets RELEASE", r only queued: removed from the queue (and from the FAILED set).
#[test]
fn release_of_a_queued_request_removes_it() {
    let mut v = voter_locked_by_5_1();
    let _ = v.handle(n(2), msg(MsgKind::Request, 7, 7, 2)); // FAILED, queued
    let out = v.handle(n(2), msg(MsgKind::Release, 10, 7, 2));
    assert_eq!(out, vec![]);
    assert_eq!(
        v.voter(),
        &VoterView {
            lock: Some(rid(5, 1)),
            grant_sent: true,
            ..VoterView::default()
        }
    );
}

// Row "voter gets RELEASE", neither locked nor queued: stale, ignored.
#[test]
fn stale_release_is_ignored() {
    let mut v = node(0, &[0, 1, 2]);
    let rel = msg(MsgKind::Release, 1, 5, 1);
    assert_ignored(&v.handle(n(1), rel), 1, rel);
    assert_eq!(v.voter(), &VoterView::default());

    let mut v = voter_locked_by_5_1();
    let _ = v.handle(n(2), msg(MsgKind::Request, 7, 7, 2));
    let before = v.voter().clone();
    let rel = msg(MsgKind::Release, 1, 4, 1); // an older request of node 1
    assert_ignored(&v.handle(n(1), rel), 1, rel);
    assert_eq!(v.voter(), &before);
}

// ---- voter lock changes (Sanders) -----------------------------------------------------------

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
    assert_eq!(v.clock(), 14);
    assert_eq!(v.voter().told_failed, set(&[rid(9, 3)]));
    v
}

// Row "voter lock changes": on a new grant, FAILED to every lower-priority queued request not
// yet told — (3, 2), overtaken by (2, 4) — and NOT to (9, 3), already sent FAILED.
#[test]
fn lock_change_sends_failed_to_untold_lower_requests_only() {
    let mut v = voter_with_overtaken_queue(classic());
    let out = v.handle(n(1), msg(MsgKind::Release, 20, 5, 1)); // clock 21
    assert_eq!(
        out,
        vec![
            persist(Some(rid(2, 4))),
            send(4, MsgKind::Grant, 22, 2, 4),
            send(2, MsgKind::Failed, 23, 3, 2),
        ]
    );
    assert_eq!(
        v.voter(),
        &VoterView {
            lock: Some(rid(2, 4)),
            queue: set(&[rid(3, 2), rid(9, 3)]),
            inquired: false,
            told_failed: set(&[rid(3, 2), rid(9, 3)]),
            grant_sent: true,
            ..VoterView::default()
        }
    );
    // The next lock change finds everyone told: only the GRANT.
    let out = v.handle(n(4), msg(MsgKind::Release, 24, 2, 4)); // clock 25
    assert_eq!(
        out,
        vec![persist(Some(rid(3, 2))), send(2, MsgKind::Grant, 26, 3, 2)]
    );
    assert_eq!(v.voter().told_failed, set(&[rid(9, 3)]));
}

// Row "voter lock changes", lock change by YIELD: the same FAILED to the overtaken (3, 2); none
// to (9, 3) (told) nor to the yielded (5, 1) (see the interpretation test above).
#[test]
fn lock_change_on_yield_sends_failed_to_untold_lower_requests() {
    let mut v = voter_with_overtaken_queue(classic());
    let out = v.handle(n(1), msg(MsgKind::Yield, 20, 5, 1)); // clock 21
    assert_eq!(
        out,
        vec![
            persist(Some(rid(2, 4))),
            send(4, MsgKind::Grant, 22, 2, 4),
            send(2, MsgKind::Failed, 23, 3, 2),
        ]
    );
    assert_eq!(
        v.voter(),
        &VoterView {
            lock: Some(rid(2, 4)),
            queue: set(&[rid(3, 2), rid(5, 1), rid(9, 3)]),
            inquired: false,
            told_failed: set(&[rid(3, 2), rid(5, 1), rid(9, 3)]),
            grant_sent: true,
            ..VoterView::default()
        }
    );
}

// Row "voter lock changes", with `Options { lock_change_failed: false }`: no FAILED on a lock
// change (Maekawa's original rule, for proving the checkers are not vacuous).
#[test]
fn lock_change_failed_can_be_switched_off() {
    let mut v = voter_with_overtaken_queue(Options {
        lock_change_failed: false,
        ..classic()
    });
    let out = v.handle(n(1), msg(MsgKind::Release, 20, 5, 1)); // clock 21
    assert_eq!(
        out,
        vec![persist(Some(rid(2, 4))), send(4, MsgKind::Grant, 22, 2, 4)]
    );
    assert_eq!(
        v.voter(),
        &VoterView {
            lock: Some(rid(2, 4)),
            queue: set(&[rid(3, 2), rid(9, 3)]),
            inquired: false,
            told_failed: set(&[rid(9, 3)]),
            grant_sent: true,
            ..VoterView::default()
        }
    );
}

// ---- crash and restart (PROTOCOL.md §3) ------------------------------------------------------

// The new message kind has its fixed place in the per-kind counters and its stable log name; a
// Sync with `ts == 0` carries no request.
#[test]
fn sync_is_the_seventh_kind_and_ts_zero_means_no_request() {
    assert_eq!(MsgKind::ALL.len(), 11);
    assert_eq!(MsgKind::ALL[6], MsgKind::Sync);
    assert_eq!(MsgKind::ALL[7], MsgKind::Resync);
    assert_eq!(
        MsgKind::ALL[8..],
        [MsgKind::Fence, MsgKind::Fenced, MsgKind::Revoked]
    );
    assert_eq!(MsgKind::Resync.name(), "Resync");
    assert_eq!(MsgKind::Sync.index(), 6);
    assert_eq!(MsgKind::Sync.name(), "Sync");
    assert_eq!(MsgKind::Sync.to_string(), "Sync");
    assert_eq!(sync(1, rid_inc(0, 1, 3), false, 2).synced_request(), None);
    assert_eq!(
        sync(1, rid_inc(4, 1, 3), true, 2).synced_request(),
        Some(rid_inc(4, 1, 3))
    );
}

// §3 "the voter's lock is durable and reloaded at start": a journal lock of another node is
// kept as is — no action, and `grant_sent == false` (this process has not sent its GRANT). The
// requester side starts idle with a fresh clock; an empty journal gives an unlocked voter.
#[test]
fn restore_keeps_a_journal_lock_of_another_node_without_granting() {
    let (v, out) = restored(0, &[2, 0, 1], 2, Some(rid(5, 1)));
    assert_eq!(out, vec![]);
    assert_eq!(
        v.voter(),
        &VoterView {
            lock: Some(rid(5, 1)),
            grant_sent: false,
            ..VoterView::default()
        }
    );
    assert_eq!(v.incarnation(), 2);
    assert_eq!(v.quorum(), &[n(0), n(1), n(2)]);
    assert_eq!((v.phase(), v.clock()), (Phase::Idle, 0));
    assert_eq!(v.requester(), &RequesterView::default());

    let (v, out) = restored(0, &[0, 1, 2], 2, None);
    assert_eq!(out, vec![]);
    assert_eq!(v.voter(), &VoterView::default());
}

// §3 "a restarted node has lost its CS and its request": a journal lock held by this node's
// own earlier incarnation is freed at once, and (the queue being empty after a restart) the
// voter unlocks, persisting it.
#[test]
fn restore_frees_a_journal_lock_of_its_own_earlier_incarnation() {
    let dead = rid_inc(4, 0, 2);
    let (v, out) = restored(0, &[0, 1, 2], 3, Some(dead));
    assert_eq!(no_why(out), vec![revote("freed", dead), persist(None)]);
    assert_eq!(v.voter(), &VoterView::default());
    assert_eq!((v.incarnation(), v.clock()), (3, 0));
}

// §3 re-voting, requester side: news of a voter's incarnation makes an idle requester tell it
// it has no request (`ts == 0`), answering that incarnation (`to_inc`). The Sync is a send:
// the clock moves by one.
#[test]
fn peer_incarnation_syncs_an_idle_requester_with_no_request() {
    let mut a = node(1, &[0, 1, 2]);
    let out = a.peer_incarnation(n(0), 2, 0);
    assert_eq!(out, vec![send_msg(0, sync(1, rid_inc(0, 1, 1), false, 2))]);
    assert_eq!(a.clock(), 1);

    // A restarted node syncs with its own incarnation in the (empty) request.
    let (mut b, _) = restored(1, &[0, 1, 2], 4, None);
    let out = b.peer_incarnation(n(2), 1, 0);
    assert_eq!(out, vec![send_msg(2, sync(1, rid_inc(0, 1, 4), false, 1))]);
}

// §3 "the requester says which request it has and whether it holds the voter's vote": the
// current request and `holds_grant` for that voter; an INQUIRE deferred for that voter is
// forgotten (the restarted voter's own `inquired` is gone), the grant is kept.
#[test]
fn peer_incarnation_syncs_the_current_request_and_whether_its_grant_is_held() {
    let mut a = wanting_node1(); // clock 4
    let _ = a.handle(n(0), msg(MsgKind::Grant, 1, 1, 1)); // clock 5
    let _ = a.handle(n(0), msg(MsgKind::Inquire, 1, 1, 1)); // clock 6, deferred
    assert_eq!(a.requester().deferred, nodes(&[0]));
    let out = a.peer_incarnation(n(0), 2, 0);
    assert_eq!(out, vec![send_msg(0, sync(7, rid(1, 1), true, 2))]);
    // Voter 2 has not granted: holds_grant is false.
    let out = a.peer_incarnation(n(2), 5, 0);
    assert_eq!(out, vec![send_msg(2, sync(8, rid(1, 1), false, 5))]);
    assert_eq!(
        a.requester(),
        &RequesterView {
            granted: nodes(&[0]),
            ..RequesterView::default()
        }
    );
    assert_eq!(a.phase(), Phase::Wanting(rid(1, 1)));

    // In the CS: every grant is held.
    let mut b = in_cs_node1(); // clock 7
    let out = b.peer_incarnation(n(2), 2, 0);
    assert_eq!(out, vec![tok(send_msg(2, sync(8, rid(1, 1), true, 2)), 1)]);
    assert_eq!(b.phase(), Phase::InCs(rid(1, 1)));
}

// §3 re-voting, requester side: a FAILED from a voter's earlier incarnation is forgotten (the
// new one lost its queue and will answer the Sync afresh); other voters' FAILEDs are kept.
#[test]
fn peer_incarnation_forgets_a_failed_from_the_restarted_voter() {
    let mut a = wanting_node1(); // clock 4
    let _ = a.handle(n(2), msg(MsgKind::Failed, 1, 1, 1)); // clock 5
    let _ = a.handle(n(0), msg(MsgKind::Failed, 1, 1, 1)); // clock 6
    let out = a.peer_incarnation(n(2), 3, 0);
    assert_eq!(out, vec![send_msg(2, sync(7, rid(1, 1), false, 3))]);
    assert_eq!(
        a.requester(),
        &RequesterView {
            failed: nodes(&[0]),
            ..RequesterView::default()
        }
    );
}

// §3 "on every new link between two incarnations": only news counts — the same or an older
// incarnation than the newest seen gives no action (not even a clock tick), and so does the
// node's own id.
#[test]
fn peer_incarnation_that_is_not_news_does_nothing() {
    let mut a = wanting_node1(); // clock 4
    assert_eq!(a.peer_incarnation(n(0), 3, 0).len(), 1); // clock 5
    let before = a.clone();
    assert_eq!(a.peer_incarnation(n(0), 3, 0), vec![]);
    assert_eq!(a.peer_incarnation(n(0), 2, 0), vec![]);
    assert_eq!(a.peer_incarnation(n(1), 9, 0), vec![]);
    assert_eq!(a, before);

    // `assume_peer` records an incarnation without any reconciliation; it is then not news.
    let mut b = node(1, &[0, 1, 2]);
    b.assume_peer(n(0), 2);
    assert_eq!(b.peer_incarnation(n(0), 2, 0), vec![]);
    assert_eq!(b.clock(), 0);
    assert_eq!(
        b.peer_incarnation(n(0), 3, 0),
        vec![send_msg(0, sync(1, rid_inc(0, 1, 1), false, 3))]
    );
}

// §3 "the voter frees a vote held by an older incarnation ... and then re-runs its grant rule":
// the lock of the dead (5, 1) is freed, the head (2, 4) granted after its Persist, Sanders'
// FAILED goes to the overtaken (3, 2); then the Sync to the peer (a member of the quorum).
#[test]
fn peer_incarnation_frees_a_lock_held_by_an_older_incarnation_and_grants_the_next() {
    let mut v = voter_with_overtaken_queue(classic()); // clock 14
    let out = v.peer_incarnation(n(1), 2, 0);
    assert_eq!(
        no_why(out),
        vec![
            revote("freed", rid(5, 1)),
            persist(Some(rid(2, 4))),
            send(4, MsgKind::Grant, 15, 2, 4),
            send(2, MsgKind::Failed, 16, 3, 2),
            send_msg(1, sync(17, rid_inc(0, 0, 1), false, 2)),
        ]
    );
    assert_eq!(
        v.voter(),
        &VoterView {
            lock: Some(rid(2, 4)),
            queue: set(&[rid(3, 2), rid(9, 3)]),
            inquired: false,
            told_failed: set(&[rid(3, 2), rid(9, 3)]),
            grant_sent: true,
            ..VoterView::default()
        }
    );

    // With nothing queued the voter unlocks (persisted).
    let mut v = voter_locked_by_5_1(); // clock 7
    let out = v.peer_incarnation(n(1), 2, 0);
    assert_eq!(
        no_why(out),
        vec![
            revote("freed", rid(5, 1)),
            persist(None),
            send_msg(1, sync(8, rid_inc(0, 0, 1), false, 2)),
        ]
    );
    assert_eq!(v.voter().lock, None);
}

// §3: a lock held by the announced incarnation itself is live and stays.
#[test]
fn peer_incarnation_keeps_a_lock_of_the_announced_incarnation() {
    let mut v = node(0, &[0, 1, 2]);
    let r = rid_inc(5, 1, 2);
    let out = v.handle(n(1), msg_about(MsgKind::Request, 5, r)); // clock 6
    assert_eq!(
        out,
        vec![
            persist(Some(r)),
            send_msg(1, msg_about(MsgKind::Grant, 7, r))
        ]
    );
    let out = v.peer_incarnation(n(1), 2, 0);
    assert_eq!(out, vec![send_msg(1, sync(8, rid_inc(0, 0, 1), false, 2))]);
    assert_eq!(v.voter().lock, Some(r));
}

// §3 re-voting, voter side: queued requests of the peer's older incarnations are dropped (and
// leave the FAILED set); live ones stay. A peer outside this node's quorum gets no Sync (it
// votes nothing for us), though its dead requests are dropped all the same.
#[test]
fn peer_incarnation_drops_queued_requests_of_older_incarnations() {
    let mut v = voter_locked_by_5_1(); // clock 7
    let _ = v.handle(n(2), msg(MsgKind::Request, 7, 7, 2)); // clock 8, FAILED 9
    let _ = v.handle(n(3), msg(MsgKind::Request, 9, 9, 3)); // clock 10, FAILED 11
    let out = v.peer_incarnation(n(2), 2, 0);
    assert_eq!(
        no_why(out),
        vec![
            revote("dropped", rid(7, 2)),
            send_msg(2, sync(12, rid_inc(0, 0, 1), false, 2)),
        ]
    );
    assert_eq!(
        v.voter(),
        &VoterView {
            lock: Some(rid(5, 1)),
            queue: set(&[rid(9, 3)]),
            inquired: false,
            told_failed: set(&[rid(9, 3)]),
            grant_sent: true,
            ..VoterView::default()
        }
    );

    // Node 3 is not in voter 0's quorum {0, 1, 2}: no Sync to it.
    let before = v.clone();
    assert_eq!(v.peer_incarnation(n(3), 1, 0), vec![]); // (9, 3) is of incarnation 1: live
    assert_eq!(v.voter(), before.voter());
    let out = v.peer_incarnation(n(3), 2, 0);
    assert_eq!(no_why(out), vec![revote("dropped", rid(9, 3))]);
    assert_eq!(
        v.voter(),
        &VoterView {
            lock: Some(rid(5, 1)),
            grant_sent: true,
            ..VoterView::default()
        }
    );
    assert_eq!(v.clock(), 12);
}

// §3 "Every message carries (sender, incarnation)": a Sync addressed to an earlier incarnation
// of this voter is stale (a fresh one follows) and ignored, changing nothing.
#[test]
fn sync_meant_for_an_earlier_incarnation_is_ignored() {
    let mut v = voter_restored_with_5_1(); // incarnation 2
    let before = v.voter().clone();
    let stale = sync(6, rid(5, 1), false, 1);
    assert_ignored(&v.handle(n(1), stale), 1, stale);
    assert_eq!(v.voter(), &before);
    assert_eq!(v.clock(), 7);

    // Nor one for a later incarnation (a fresh voter is incarnation 1).
    let mut w = node(0, &[0, 1, 2]);
    let odd = sync(1, rid(3, 1), false, 2);
    assert_ignored(&w.handle(n(1), odd), 1, odd);
    assert_eq!(w.voter(), &VoterView::default());
}

// §3 "the voter frees a vote held by a request the requester no longer has": node 1 says it
// has no request, so (5, 1) is freed and the grant rule re-run (Persist, GRANT, Sanders).
#[test]
fn sync_frees_a_lock_held_by_a_request_its_requester_no_longer_has() {
    let mut v = voter_with_overtaken_queue(classic()); // clock 14
    let out = v.handle(n(1), sync(20, rid_inc(0, 1, 1), false, 1)); // clock 21
    assert_eq!(
        no_why(out),
        vec![
            revote("freed", rid(5, 1)),
            persist(Some(rid(2, 4))),
            send(4, MsgKind::Grant, 22, 2, 4),
            send(2, MsgKind::Failed, 23, 3, 2),
        ]
    );
    assert_eq!(
        v.voter(),
        &VoterView {
            lock: Some(rid(2, 4)),
            queue: set(&[rid(3, 2), rid(9, 3)]),
            inquired: false,
            told_failed: set(&[rid(3, 2), rid(9, 3)]),
            grant_sent: true,
            ..VoterView::default()
        }
    );

    // Node 1 has another request now: the old lock is freed, then the new one is taken under
    // the REQUEST rule (beaten by the new lock: FAILED).
    let mut v = voter_with_overtaken_queue(classic()); // clock 14
    let out = v.handle(n(1), sync(20, rid(12, 1), false, 1)); // clock 21
    assert_eq!(
        no_why(out),
        vec![
            revote("freed", rid(5, 1)),
            persist(Some(rid(2, 4))),
            send(4, MsgKind::Grant, 22, 2, 4),
            send(2, MsgKind::Failed, 23, 3, 2),
            revote("requeued", rid(12, 1)),
            send(1, MsgKind::Failed, 24, 12, 1),
        ]
    );
    assert_eq!(
        v.voter(),
        &VoterView {
            lock: Some(rid(2, 4)),
            queue: set(&[rid(3, 2), rid(9, 3), rid(12, 1)]),
            inquired: false,
            told_failed: set(&[rid(3, 2), rid(9, 3), rid(12, 1)]),
            grant_sent: true,
            ..VoterView::default()
        }
    );
}

// §3: once a restored lock is freed, the next lock is granted by this process — the GRANT is
// sent (`grant_sent`), so a Sync crossing it ("I do not hold your grant") gets no second one.
#[test]
fn grant_after_freeing_a_restored_lock_counts_as_sent() {
    let mut v = voter_restored_with_5_1(); // clock 0, grant_sent false
    let out = v.handle(n(2), msg(MsgKind::Request, 7, 7, 2)); // clock 8
    assert_eq!(out, vec![send(2, MsgKind::Failed, 9, 7, 2)]);
    let out = v.handle(n(1), sync(10, rid_inc(0, 1, 1), false, 2)); // clock 11
    assert_eq!(
        no_why(out),
        vec![
            revote("freed", rid(5, 1)),
            persist(Some(rid(7, 2))),
            send(2, MsgKind::Grant, 12, 7, 2),
        ]
    );
    assert_eq!(
        v.voter(),
        &VoterView {
            lock: Some(rid(7, 2)),
            grant_sent: true,
            ..VoterView::default()
        }
    );
    assert_eq!(v.handle(n(2), sync(9, rid(7, 2), false, 2)), vec![]); // clock 13
}

// §3 re-voting: queued requests of the syncing node other than the one it has now are
// dropped (and leave the FAILED set).
#[test]
fn sync_drops_queued_requests_its_requester_no_longer_has() {
    let mut v = voter_locked_by_5_1(); // clock 7
    let _ = v.handle(n(2), msg(MsgKind::Request, 7, 7, 2)); // clock 8, FAILED 9
    let out = v.handle(n(2), sync(10, rid_inc(0, 2, 1), false, 1)); // clock 11
    assert_eq!(no_why(out), vec![revote("dropped", rid(7, 2))]);
    assert_eq!(
        v.voter(),
        &VoterView {
            lock: Some(rid(5, 1)),
            grant_sent: true,
            ..VoterView::default()
        }
    );

    // With a newer request: the old one dropped, the new one taken (FAILED: the lock wins).
    let mut v = voter_locked_by_5_1(); // clock 7
    let _ = v.handle(n(2), msg(MsgKind::Request, 7, 7, 2)); // clock 8, FAILED 9
    let out = v.handle(n(2), sync(10, rid(12, 2), false, 1)); // clock 11
    assert_eq!(
        no_why(out),
        vec![
            revote("dropped", rid(7, 2)),
            revote("requeued", rid(12, 2)),
            send(2, MsgKind::Failed, 12, 12, 2),
        ]
    );
    assert_eq!(
        v.voter(),
        &VoterView {
            lock: Some(rid(5, 1)),
            queue: set(&[rid(12, 2)]),
            inquired: false,
            told_failed: set(&[rid(12, 2)]),
            grant_sent: true,
            ..VoterView::default()
        }
    );
}

// §3 "re-queues a pending request it lost, and then re-runs its grant rule": a synced request
// the voter has neither locked nor queued goes through the REQUEST rule — GRANT (after its
// Persist) when unlocked, INQUIRE when it beats the lock, FAILED when beaten.
#[test]
fn sync_requeues_a_lost_request_under_the_request_rule() {
    // Unlocked.
    let mut v = node(0, &[0, 1, 2]);
    let out = v.handle(n(1), sync(3, rid(3, 1), false, 1)); // clock 4
    assert_eq!(
        no_why(out),
        vec![
            revote("requeued", rid(3, 1)),
            persist(Some(rid(3, 1))),
            send(1, MsgKind::Grant, 5, 3, 1),
        ]
    );
    assert_eq!(
        v.voter(),
        &VoterView {
            lock: Some(rid(3, 1)),
            grant_sent: true,
            ..VoterView::default()
        }
    );

    // Beats the restored lock (5, 1): INQUIRE to its holder.
    let mut v = voter_restored_with_5_1(); // incarnation 2, clock 0
    let out = v.handle(n(2), sync(3, rid(3, 2), false, 2)); // clock 4
    assert_eq!(
        no_why(out),
        vec![
            revote("requeued", rid(3, 2)),
            send(1, MsgKind::Inquire, 5, 5, 1),
        ]
    );
    assert_eq!(
        v.voter(),
        &VoterView {
            lock: Some(rid(5, 1)),
            queue: set(&[rid(3, 2)]),
            inquired: true,
            told_failed: set(&[]),
            grant_sent: false,
            ..VoterView::default()
        }
    );

    // Beaten by the restored lock: FAILED.
    let mut v = voter_restored_with_5_1();
    let out = v.handle(n(2), sync(7, rid(7, 2), false, 2)); // clock 8
    assert_eq!(
        no_why(out),
        vec![
            revote("requeued", rid(7, 2)),
            send(2, MsgKind::Failed, 9, 7, 2),
        ]
    );
    assert_eq!(v.voter().told_failed, set(&[rid(7, 2)]));
}

// §3 re-voting: a synced request the voter already queues is left alone (no second FAILED).
#[test]
fn sync_of_a_request_already_queued_changes_nothing() {
    let mut v = voter_locked_by_5_1(); // clock 7
    let _ = v.handle(n(2), msg(MsgKind::Request, 7, 7, 2)); // clock 8, FAILED 9
    let before = v.voter().clone();
    assert_eq!(v.handle(n(2), sync(10, rid(7, 2), false, 1)), vec![]);
    assert_eq!(v.voter(), &before);
    assert_eq!(v.clock(), 11);
}

// §3 "a voter must never grant twice because it forgot a grant", converse: a lock restored
// from the journal whose GRANT the requester does not hold (it was lost with the crash) is
// granted again — no Persist, the lock is already durable.
#[test]
fn sync_regrants_a_restored_lock_whose_grant_the_requester_lacks() {
    let mut v = voter_restored_with_5_1();
    let out = v.handle(n(1), sync(6, rid(5, 1), false, 2)); // clock 7
    assert_eq!(
        no_why(out),
        vec![
            revote("regranted", rid(5, 1)),
            send(1, MsgKind::Grant, 8, 5, 1),
        ]
    );
    assert_eq!(
        v.voter(),
        &VoterView {
            lock: Some(rid(5, 1)),
            grant_sent: true,
            ..VoterView::default()
        }
    );
    // Granted once: a second (stale) Sync does not grant again.
    assert_eq!(v.handle(n(1), sync(9, rid(5, 1), false, 2)), vec![]);
}

// §3 regrant, with a higher-priority request waiting: the INQUIRE sent before the new GRANT was
// ignored by the requester (it held no grant), so it is sent again after the GRANT.
#[test]
fn sync_regrant_inquires_again_when_a_higher_request_waits() {
    let mut v = voter_restored_with_5_1(); // clock 0
    let out = v.handle(n(2), msg(MsgKind::Request, 3, 3, 2)); // clock 4
    assert_eq!(out, vec![send(1, MsgKind::Inquire, 5, 5, 1)]);
    let out = v.handle(n(1), sync(6, rid(5, 1), false, 2)); // clock 7
    assert_eq!(
        no_why(out),
        vec![
            revote("regranted", rid(5, 1)),
            send(1, MsgKind::Grant, 8, 5, 1),
            send(1, MsgKind::Inquire, 9, 5, 1),
        ]
    );
    assert_eq!(
        v.voter(),
        &VoterView {
            lock: Some(rid(5, 1)),
            queue: set(&[rid(3, 2)]),
            inquired: true,
            told_failed: set(&[]),
            grant_sent: true,
            ..VoterView::default()
        }
    );

    // The INQUIRE was for a request that has gone since: the regrant clears `inquired` (the
    // ignored INQUIRE is not outstanding), so the next overtaking request inquires afresh.
    let mut v = voter_restored_with_5_1(); // clock 0
    let out = v.handle(n(2), msg(MsgKind::Request, 3, 3, 2)); // clock 4
    assert_eq!(out, vec![send(1, MsgKind::Inquire, 5, 5, 1)]);
    let out = v.handle(n(2), sync(6, rid_inc(0, 2, 1), false, 2)); // clock 7
    assert_eq!(no_why(out), vec![revote("dropped", rid(3, 2))]);
    let out = v.handle(n(1), sync(8, rid(5, 1), false, 2)); // clock 9
    assert_eq!(
        no_why(out),
        vec![
            revote("regranted", rid(5, 1)),
            send(1, MsgKind::Grant, 10, 5, 1),
        ]
    );
    assert!(!v.voter().inquired);
    let out = v.handle(n(4), msg(MsgKind::Request, 2, 2, 4)); // clock 11
    assert_eq!(out, vec![send(1, MsgKind::Inquire, 12, 5, 1)]);
}

// §3: a restored lock whose GRANT the requester still holds (it reached it before the crash)
// is not granted again.
#[test]
fn sync_does_not_regrant_a_restored_lock_whose_grant_is_held() {
    let mut v = voter_restored_with_5_1();
    let before = v.voter().clone();
    assert_eq!(v.handle(n(1), sync(6, rid(5, 1), true, 2)), vec![]);
    assert_eq!(v.voter(), &before);
    assert!(!v.voter().grant_sent);
    assert_eq!(v.clock(), 7);
}

// §3, the rule that keeps a GRANT from crossing a YIELD: a Sync saying "I do not hold your
// grant" for a lock this process granted itself (`grant_sent`) is not answered with a second
// GRANT. Here node 1's Sync left before our GRANT reached it; by the time a second GRANT would
// arrive, node 1 may have yielded (we already inquired) and the vote moved to (3, 2) — node 1
// would then count a vote that is no longer its own.
#[test]
fn sync_never_regrants_a_grant_this_process_sent_so_no_duplicate_grant_crosses_a_yield() {
    let mut v = voter_locked_by_5_1(); // clock 7, grant_sent
    let out = v.handle(n(2), msg(MsgKind::Request, 3, 3, 2)); // clock 8
    assert_eq!(out, vec![send(1, MsgKind::Inquire, 9, 5, 1)]);
    let before = v.voter().clone();
    assert_eq!(v.handle(n(1), sync(6, rid(5, 1), false, 1)), vec![]); // clock 10
    assert_eq!(v.voter(), &before);
    assert_eq!(v.clock(), 10);
    // Node 1 yields to the INQUIRE: the vote moves on, and nothing of (5, 1) is in flight.
    let out = v.handle(n(1), msg(MsgKind::Yield, 11, 5, 1)); // clock 12
    assert_eq!(
        out,
        vec![persist(Some(rid(3, 2))), send(2, MsgKind::Grant, 13, 3, 2)]
    );
}

// §3 "a request id from a new incarnation must never equal one from an old one": once a peer's
// newer incarnation is known (via `peer_incarnation` or `assume_peer`), a REQUEST or Sync of an
// older one is ignored; the live incarnation's REQUEST is served. The node's own earlier
// incarnation is dead to it too.
#[test]
fn request_or_sync_of_a_dead_incarnation_is_ignored() {
    let mut v = node(0, &[0, 1, 2]);
    v.assume_peer(n(1), 2);
    let req = msg(MsgKind::Request, 5, 5, 1); // incarnation 1
    assert_ignored(&v.handle(n(1), req), 1, req);
    let s = sync(6, rid(5, 1), false, 1);
    assert_ignored(&v.handle(n(1), s), 1, s);
    assert_eq!(v.voter(), &VoterView::default());
    assert_eq!(v.clock(), 7);

    let _ = v.peer_incarnation(n(2), 3, 0); // Sync to 2, clock 8
    let req = msg_about(MsgKind::Request, 4, rid_inc(4, 2, 2));
    assert_ignored(&v.handle(n(2), req), 2, req); // clock 9
    let s = sync(4, rid_inc(4, 2, 2), false, 1);
    assert_ignored(&v.handle(n(2), s), 2, s); // clock 10

    let live = rid_inc(6, 1, 2);
    let out = v.handle(n(1), msg_about(MsgKind::Request, 6, live)); // clock 11
    assert_eq!(
        out,
        vec![
            persist(Some(live)),
            send_msg(1, msg_about(MsgKind::Grant, 12, live))
        ]
    );

    let (mut w, _) = restored(0, &[0, 1, 2], 2, None);
    let own = msg_about(MsgKind::Request, 2, rid_inc(1, 0, 1));
    assert_ignored(&w.handle(n(0), own), 0, own);
    assert_eq!(w.voter(), &VoterView::default());
}

// §3 "never keep a vote you do not use" across a restart: a GRANT for a request of this node's
// earlier incarnation is returned with RELEASE, even while the new incarnation wants a request
// with the very same (ts, node) — the incarnation tells them apart.
#[test]
fn grant_for_a_request_of_an_earlier_incarnation_is_released() {
    let (mut a, out) = restored(1, &[0, 1, 2], 2, None);
    assert_eq!(out, vec![]);
    let out = a.request_cs().unwrap(); // clock 1, sends 2, 3, 4
    let new = rid_inc(1, 1, 2);
    assert_eq!(out[0], send_msg(0, msg_about(MsgKind::Request, 2, new)));
    assert_eq!(a.phase(), Phase::Wanting(new));

    let old = rid_inc(1, 1, 1);
    let out = a.handle(n(0), msg_about(MsgKind::Grant, 1, old)); // clock 5
    assert_eq!(out, vec![send_msg(0, msg_about(MsgKind::Release, 6, old))]);
    assert!(a.requester().granted.is_empty());
    // An INQUIRE about the old request is stale as well.
    let q = msg_about(MsgKind::Inquire, 1, old);
    assert_ignored(&a.handle(n(0), q), 0, q);
    assert_eq!(a.phase(), Phase::Wanting(new));

    // Idle, the same.
    let (mut b, _) = restored(1, &[0, 1, 2], 2, None);
    let out = b.handle(n(2), msg_about(MsgKind::Grant, 3, old)); // clock 4
    assert_eq!(out, vec![send_msg(2, msg_about(MsgKind::Release, 5, old))]);
}

// ---- whole rounds, the test playing the network by hand -------------------------------------

/// Nodes by id, and the messages in flight, delivered in global FIFO order (so FIFO per link).
struct Net {
    nodes: BTreeMap<NodeId, Node>,
    in_flight: VecDeque<(NodeId, NodeId, Message)>,
    /// Network messages (sender != receiver) delivered, per kind.
    network: BTreeMap<MsgKind, usize>,
    /// Self-messages delivered.
    to_self: usize,
    entries: Vec<(NodeId, RequestId, Vec<NodeId>)>,
    /// Each node's voter journal: the lock of its last `Persist` (survives restarts).
    journal: BTreeMap<NodeId, Option<RequestId>>,
    /// `Revote` decisions logged, as `(node, what, request)`.
    revotes: Vec<(NodeId, &'static str, RequestId)>,
}

impl Net {
    fn new(quorums: &[(u32, &[u32])]) -> Net {
        let mut nodes: BTreeMap<NodeId, Node> =
            quorums.iter().map(|&(i, q)| (n(i), node(i, q))).collect();
        // Every node starts knowing every other one as incarnation 1 (as the checkers do).
        let ids: Vec<NodeId> = nodes.keys().copied().collect();
        for x in nodes.values_mut() {
            for &p in &ids {
                x.assume_peer(p, 1);
            }
        }
        Net {
            nodes,
            in_flight: VecDeque::new(),
            network: BTreeMap::new(),
            to_self: 0,
            entries: Vec::new(),
            journal: BTreeMap::new(),
            revotes: Vec::new(),
        }
    }

    /// `kill -9` of `who` and a restart as the next incarnation: whatever it had in flight, to or
    /// from it, is lost; it restores its journal lock; then every link to it comes up again and
    /// both ends learn the other's incarnation (the restarted end first hears of everyone).
    ///
    /// Dropping what the dead process had sent is not just convenient: the core relies on it.
    /// The transport discards frames of a superseded incarnation once the new one said Hello
    /// (transport.rs), and must: an old GRANT delivered after the new process regranted can
    /// cross a YIELD and be counted for a vote that has moved on.
    fn restart(&mut self, who: u32) {
        let who = n(who);
        let old = &self.nodes[&who];
        let (q, inc) = (old.quorum().to_vec(), old.incarnation() + 1);
        self.in_flight.retain(|&(f, t, _)| f != who && t != who);
        let lock = self.journal.get(&who).copied().flatten();
        let (fresh, out) = Node::restore(who, &q, inc, lock, 0, classic());
        self.nodes.insert(who, fresh);
        self.carry_out(who, out);
        let peers: Vec<NodeId> = self.nodes.keys().copied().filter(|&p| p != who).collect();
        for p in peers {
            let out = self
                .nodes
                .get_mut(&p)
                .unwrap()
                .peer_incarnation(who, inc, 0);
            self.carry_out(p, out);
            let p_inc = self.nodes[&p].incarnation();
            let out = self
                .nodes
                .get_mut(&who)
                .unwrap()
                .peer_incarnation(p, p_inc, 0);
            self.carry_out(who, out);
        }
        self.check();
    }

    fn carry_out(&mut self, from: NodeId, actions: Vec<Action>) {
        for a in actions {
            match a {
                Action::Send { to, msg } => self.in_flight.push_back((from, to, msg)),
                Action::EnterCs { req, votes, .. } => self.entries.push((from, req, votes)),
                Action::Persist { lock, .. } => {
                    self.journal.insert(from, lock);
                }
                Action::Log(LogEvent::Revote { what, req, .. }) => {
                    self.revotes.push((from, what, req))
                }
                Action::Log(_) | Action::LeaseExpired { .. } => {}
            }
        }
    }

    fn request(&mut self, who: u32) {
        let out = self.nodes.get_mut(&n(who)).unwrap().request_cs().unwrap();
        self.carry_out(n(who), out);
    }

    fn exit(&mut self, who: NodeId) {
        let out = self.nodes.get_mut(&who).unwrap().exit_cs().unwrap();
        self.carry_out(who, out);
    }

    /// Delivers the oldest message in flight, if any, checking safety after it.
    fn step(&mut self) -> bool {
        let Some((from, to, m)) = self.in_flight.pop_front() else {
            return false;
        };
        if from == to {
            self.to_self += 1;
        } else {
            *self.network.entry(m.kind).or_default() += 1;
        }
        let out = self.nodes.get_mut(&to).unwrap().handle(from, m);
        self.carry_out(to, out);
        self.check();
        true
    }

    /// Delivers until nothing is in flight, checking safety after every step.
    fn run(&mut self) {
        while self.step() {}
    }

    /// Runs, letting whoever is in the CS out, until nothing more happens.
    fn run_to_quiet(&mut self) {
        loop {
            self.run();
            match self.in_cs() {
                Some(who) => self.exit(who),
                None => break,
            }
        }
    }

    /// The request `who` wants or holds the CS with.
    fn current(&self, who: u32) -> RequestId {
        match self.nodes[&n(who)].phase() {
            Phase::Wanting(r) | Phase::InCs(r) => r,
            Phase::Idle => panic!("node {who} has no request"),
        }
    }

    /// Safety after every step: at most one node in the CS; every grant a requester counts is
    /// the lock of that voter (one vote, never two); every voter's lock is in its journal.
    fn check(&self) {
        let in_cs = self
            .nodes
            .values()
            .filter(|x| matches!(x.phase(), Phase::InCs(_)))
            .count();
        assert!(in_cs <= 1, "safety: {in_cs} nodes in the CS");
        for x in self.nodes.values() {
            if let Phase::Wanting(r) | Phase::InCs(r) = x.phase() {
                for v in &x.requester().granted {
                    let lock = self.nodes[v].voter().lock;
                    assert_eq!(lock, Some(r), "{} counts {v}'s grant for {r}", x.id());
                }
            }
            let journal = self.journal.get(&x.id()).copied().flatten();
            assert_eq!(journal, x.voter().lock, "lock of {} not persisted", x.id());
        }
    }

    fn in_cs(&self) -> Option<NodeId> {
        self.nodes
            .values()
            .find(|x| matches!(x.phase(), Phase::InCs(_)))
            .map(|x| x.id())
    }

    fn network_total(&self) -> usize {
        self.network.values().sum()
    }

    fn assert_quiet(&self) {
        for x in self.nodes.values() {
            assert_eq!(x.phase(), Phase::Idle, "node {} not idle", x.id());
            assert_eq!(x.voter().lock, None, "vote leak at {}", x.id());
            assert!(x.voter().queue.is_empty(), "queue left at {}", x.id());
            assert!(
                x.voter().told_failed.is_empty(),
                "FAILED set left at {}",
                x.id()
            );
        }
    }
}

// Rows "want CS", "voter gets REQUEST" (unlocked), "requester gets GRANT", "exit CS", "voter gets
// RELEASE": one uncontended CS entry in a 3-node quorum costs exactly 3 * (|Q| - 1) network
// messages — REQUEST, GRANT and RELEASE to/from each other member — plus 3 self-messages.
#[test]
fn uncontended_round_costs_three_messages_per_other_member() {
    let q: &[u32] = &[0, 1, 2];
    for who in [0u32, 1, 2] {
        let mut net = Net::new(&[(0, q), (1, q), (2, q)]);
        net.request(who);
        net.run();
        assert_eq!(net.entries.len(), 1);
        let (at, req, votes) = net.entries[0].clone();
        assert_eq!((at, req), (n(who), rid(1, who)));
        assert_eq!(votes, vec![n(0), n(1), n(2)]);
        assert_eq!(net.in_cs(), Some(n(who)));
        net.exit(n(who));
        net.run();
        net.assert_quiet();

        assert_eq!(net.network_total(), 3 * (q.len() - 1));
        assert_eq!(
            net.network,
            BTreeMap::from([
                (MsgKind::Request, 2),
                (MsgKind::Grant, 2),
                (MsgKind::Release, 2),
            ])
        );
        assert_eq!(net.to_self, 3);
    }
}

// The same count for a larger quorum: 3 * (|Q| - 1) for |Q| = 5.
#[test]
fn uncontended_round_cost_scales_with_the_quorum() {
    let q: &[u32] = &[0, 1, 2, 3, 4];
    let mut net = Net::new(&[(0, q), (1, q), (2, q), (3, q), (4, q)]);
    net.request(3);
    net.run();
    net.exit(n(3));
    net.run();
    net.assert_quiet();
    assert_eq!(net.entries.len(), 1);
    assert_eq!(net.network_total(), 3 * (q.len() - 1));
}

// All rows together: every node of the 2x2 grid (quorums {0,1,2}, {0,1,3}, {0,2,3}, {1,2,3})
// requests at once; delivered FIFO, each enters exactly once and the system ends quiet (no
// deadlock, no vote leak). Node 3 asks first and finds its whole quorum unlocked, so it goes first
// although its request has the lowest priority.
#[test]
fn concurrent_requests_on_a_grid_all_enter_once() {
    let mut net = Net::new(&[
        (0, &[0, 1, 2]),
        (1, &[0, 1, 3]),
        (2, &[0, 2, 3]),
        (3, &[1, 2, 3]),
    ]);
    for who in [3, 1, 0, 2] {
        net.request(who);
    }
    loop {
        net.run();
        match net.in_cs() {
            Some(who) => net.exit(who),
            None => break,
        }
    }
    net.assert_quiet();
    // The schedule really is contended: the voters had to inquire and a requester yielded.
    for kind in [MsgKind::Failed, MsgKind::Inquire, MsgKind::Yield] {
        assert!(net.network.get(&kind).is_some_and(|&c| c > 0), "no {kind}");
    }
    let order: Vec<RequestId> = net.entries.iter().map(|e| e.1).collect();
    assert_eq!(order.len(), 4);
    assert_eq!(order[0], rid(1, 3));
    assert_eq!(
        set(&order),
        set(&[rid(1, 0), rid(1, 1), rid(1, 2), rid(1, 3)])
    );
}

/// The 2x2 grid: quorums {0,1,2}, {0,1,3}, {0,2,3}, {1,2,3}.
fn grid() -> Net {
    Net::new(&[
        (0, &[0, 1, 2]),
        (1, &[0, 1, 3]),
        (2, &[0, 2, 3]),
        (3, &[1, 2, 3]),
    ])
}

// §3 as users see it: voter 0 is killed while node 1 is in the CS with its vote and node 2
// waits for it. The journal keeps 0's lock, so the vote is not given twice; node 2's lost
// request is re-queued through its Sync (re-voting), and everyone gets in, with no vote leak.
#[test]
fn voter_restart_during_a_cs_requeues_the_lost_request_and_everyone_enters() {
    let mut net = grid();
    net.request(1);
    net.run();
    assert_eq!(net.in_cs(), Some(n(1)));
    net.request(2);
    net.run();
    let (r1, r2) = (net.current(1), net.current(2));
    assert_eq!(net.nodes[&n(0)].voter().queue, set(&[r2]));

    net.restart(0);
    assert_eq!(net.nodes[&n(0)].incarnation(), 2);
    assert_eq!(net.nodes[&n(0)].voter().lock, Some(r1));
    assert!(net.nodes[&n(0)].voter().queue.is_empty());
    net.run();
    assert_eq!(net.in_cs(), Some(n(1)));
    assert_eq!(net.revotes, vec![(n(0), "requeued", r2)]);
    assert_eq!(net.nodes[&n(0)].voter().queue, set(&[r2]));

    net.run_to_quiet();
    net.assert_quiet();
    let order: Vec<(NodeId, RequestId)> = net.entries.iter().map(|e| (e.0, e.1)).collect();
    assert_eq!(order, vec![(n(1), r1), (n(2), r2)]);
}

// §3: voter 0 is killed after persisting its lock but before its GRANT left (the GRANT is
// lost). The restored lock is granted again on node 1's Sync, exactly once.
#[test]
fn voter_restart_before_its_grant_left_regrants_it() {
    let mut net = grid();
    net.request(1);
    assert!(net.step()); // voter 0 takes (1, 1): Persist, then the GRANT is in flight
    let r1 = net.current(1);
    assert_eq!(net.journal[&n(0)], Some(r1));
    net.restart(0);
    net.run();
    assert_eq!(net.in_cs(), Some(n(1)));
    assert_eq!(net.revotes, vec![(n(0), "regranted", r1)]);
    net.run_to_quiet();
    net.assert_quiet();
    assert_eq!(net.entries.len(), 1);
}

// §3: node 1 is killed in the CS. Its own voter frees its dead lock at restore, the other voters
// free theirs on learning the new incarnation, and waiting node 2 gets in; node 1's new
// incarnation then gets in with a request that is not its old one.
#[test]
fn requester_restart_in_the_cs_frees_its_votes() {
    let mut net = grid();
    net.request(1);
    net.run();
    net.request(2);
    net.run();
    let (r1, r2) = (net.current(1), net.current(2));
    assert_eq!(net.in_cs(), Some(n(1)));

    net.restart(1);
    assert_eq!(net.nodes[&n(1)].phase(), Phase::Idle);
    assert_eq!(
        net.revotes,
        vec![
            (n(1), "freed", r1),
            (n(0), "freed", r1),
            (n(3), "freed", r1),
        ]
    );
    net.run();
    assert_eq!(net.in_cs(), Some(n(2)));
    net.run_to_quiet();

    net.request(1);
    let r1_new = net.current(1);
    assert_eq!(r1_new.inc, 2);
    net.run_to_quiet();
    net.assert_quiet();
    let order: Vec<(NodeId, RequestId)> = net.entries.iter().map(|e| (e.0, e.1)).collect();
    assert_eq!(order, vec![(n(1), r1), (n(2), r2), (n(1), r1_new)]);
}

// §3 under contention: every node of the grid requests at once, then one node is killed and
// restarted after every possible number of deliveries. Safety (one CS, one vote per voter,
// every lock journaled) is checked after each step; every request of a node that was not
// restarted enters exactly once, and the system ends quiet (no deadlock, no vote leak).
#[test]
fn a_restart_at_any_point_of_a_contended_round_is_safe_and_live() {
    for who in 0..4u32 {
        for k in 0.. {
            let mut net = grid();
            for r in [3, 1, 0, 2] {
                net.request(r);
            }
            let mut delivered = 0;
            while delivered < k && net.step() {
                delivered += 1;
            }
            let ended = delivered < k;
            let before: Vec<(NodeId, RequestId)> = net.entries.iter().map(|e| (e.0, e.1)).collect();
            net.restart(who);
            net.run_to_quiet();
            net.assert_quiet();
            let entered: Vec<NodeId> = net.entries.iter().map(|e| e.0).collect();
            for other in (0..4).filter(|&o| o != who) {
                let times = entered.iter().filter(|&&e| e == n(other)).count();
                assert_eq!(
                    times, 1,
                    "restart {who} after {k}: node {other} entered {times}x"
                );
            }
            // The restarted node entered only if it was in before the crash.
            let before_who = before.iter().filter(|e| e.0 == n(who)).count();
            let times_who = entered.iter().filter(|&&e| e == n(who)).count();
            assert_eq!(times_who, before_who, "restart {who} after {k}");
            if ended {
                break;
            }
        }
    }
}

// §3 under contention, twice: as in the test above, with a second restart (of any node, the
// same one included) after every possible number of further deliveries.
#[test]
fn two_restarts_at_any_points_of_a_contended_round_are_safe_and_live() {
    for (first, second) in (0..4u32).flat_map(|a| (0..4u32).map(move |b| (a, b))) {
        for k1 in 0.. {
            let mut ended1 = false;
            for k2 in 0.. {
                let mut net = grid();
                for r in [3, 1, 0, 2] {
                    net.request(r);
                }
                let mut delivered = 0;
                while delivered < k1 && net.step() {
                    delivered += 1;
                }
                ended1 = delivered < k1;
                net.restart(first);
                let mut delivered = 0;
                while delivered < k2 && net.step() {
                    delivered += 1;
                }
                let ended2 = delivered < k2;
                net.restart(second);
                net.run_to_quiet();
                net.assert_quiet();
                let entered: Vec<NodeId> = net.entries.iter().map(|e| e.0).collect();
                for other in (0..4).filter(|&o| o != first && o != second) {
                    let times = entered.iter().filter(|&&e| e == n(other)).count();
                    assert_eq!(
                        times, 1,
                        "restarts {first}@{k1}, {second}@{k2}: node {other} entered {times}x"
                    );
                }
                assert!(entered.len() <= 4, "{entered:?}");
                if ended2 {
                    break;
                }
            }
            if ended1 {
                break;
            }
        }
    }
}

// ---- fencing tokens ---------------------------------------------------------------------------

// A voter's floor rises to the token a RELEASE carries, and its next GRANT carries it on, so the
// next holder's token is larger; the floor is persisted with the new lock.
#[test]
fn a_release_raises_the_voter_floor_and_the_next_grant_carries_it() {
    let mut v = node(0, &[0, 1]);
    let _ = v.handle(n(1), msg(MsgKind::Request, 1, 1, 1)); // granted to (1, 1)
    let _ = v.handle(n(2), msg(MsgKind::Request, 1, 1, 2)); // queued, FAILED
    let mut release = msg(MsgKind::Release, 9, 1, 1);
    release.token = 41;
    let out = v.handle(n(1), release);
    assert_eq!(v.floor(), 41);
    assert_eq!(
        out[0],
        Action::Persist {
            lock: Some(rid(1, 2)),
            floor: 41
        }
    );
    match &out[1] {
        Action::Send { to, msg } => {
            assert_eq!((*to, msg.kind, msg.token), (n(2), MsgKind::Grant, 41));
        }
        other => panic!("expected the GRANT, got {other:?}"),
    }
}

// The requester's token is one more than the largest floor its grants carried.
#[test]
fn the_token_is_one_more_than_the_largest_floor_of_the_grants() {
    let mut a = node(1, &[0, 1]);
    let _ = a.request_cs().unwrap();
    let mut g0 = msg(MsgKind::Grant, 5, 1, 1);
    g0.token = 7;
    let mut g1 = msg(MsgKind::Grant, 5, 1, 1);
    g1.token = 3;
    let _ = a.handle(n(0), g0);
    let out = a.handle(n(1), g1);
    assert!(out.contains(&Action::Persist {
        lock: None,
        floor: 7 + TOKEN_BLOCK
    }));
    assert!(matches!(out.last(), Some(Action::EnterCs { token: 8, .. })));
}

// Within the reserved block an entry needs no record of its own; the token past the block
// reserves the next one first. The journal floor (what a restart resumes from) covers both.
#[test]
fn tokens_within_the_reserved_block_need_no_persist() {
    let mut a = node(1, &[1]);
    let mut reserved_at = Vec::new();
    for _ in 0..=TOKEN_BLOCK {
        let mut pending: VecDeque<Action> = a.request_cs().unwrap().into();
        while let Some(action) = pending.pop_front() {
            let Action::Send { msg, .. } = action else {
                continue;
            };
            let out = a.handle(n(1), msg);
            if let Some(Action::EnterCs { token, .. }) = out.last() {
                assert!(a.journal_floor() >= *token);
                if out.iter().any(|x| matches!(x, Action::Persist { .. })) {
                    reserved_at.push(*token);
                }
            }
            pending.extend(out);
        }
        pending.extend(a.exit_cs().unwrap());
        while let Some(action) = pending.pop_front() {
            if let Action::Send { msg, .. } = action {
                pending.extend(a.handle(n(1), msg));
            }
        }
    }
    assert_eq!(reserved_at, vec![1, TOKEN_BLOCK + 1]);
}

// A restarted peer's floor (from its journal) raises ours before its dead votes are freed, so a
// holder killed in the CS does not take its token with it.
#[test]
fn peer_incarnation_raises_the_floor_before_freeing_the_dead_vote() {
    let mut v = node(0, &[0, 1]);
    v.assume_peer(n(1), 1);
    let _ = v.handle(n(1), msg(MsgKind::Request, 1, 1, 1)); // granted to (1, 1)
    let _ = v.handle(n(2), msg(MsgKind::Request, 1, 1, 2)); // queued
    let out = v.peer_incarnation(n(1), 2, 12);
    assert_eq!(v.floor(), 12);
    assert!(out.contains(&Action::Persist {
        lock: Some(rid(1, 2)),
        floor: 12
    }));
}

// A restarted voter asks the requester of each vote its journal kept to resync; the requester
// answers with a Sync, even when it keeps no state for that lock.
#[test]
fn a_restored_vote_asks_for_a_resync_and_the_requester_answers_with_a_sync() {
    let (mut v, _) = Node::restore(n(0), &[n(0), n(1)], 2, Some(rid(3, 1)), 5, classic());
    let out = v.resync_restored_vote();
    assert_eq!(sends(&out), vec![(n(1), MsgKind::Resync, rid(3, 1))]);
    let mut a = node(1, &[0, 1]);
    a.assume_peer(n(0), 2);
    let Action::Send { msg: resync, .. } = out[0].clone() else {
        unreachable!()
    };
    let out = a.handle(n(0), resync);
    match out.as_slice() {
        [Action::Send { to, msg }] => {
            assert_eq!(
                (*to, msg.kind, msg.synced_request(), msg.to_inc),
                (n(0), MsgKind::Sync, None, 2)
            );
        }
        other => panic!("expected one Sync, got {other:?}"),
    }
}

// ---- leases (DESIGN.md, "Availability") -----------------------------------------------------

/// A node with quorum `q` and leases on (the default options).
fn leased(me: u32, q: &[u32]) -> Node {
    let q: Vec<NodeId> = q.iter().map(|&i| n(i)).collect();
    Node::with_options(n(me), &q, Options::default())
}

/// A `Fenced` for `req` echoing the round sent at `echo`, from a voter whose floor is `token`.
fn fenced(req: RequestId, echo: u64, token: u64) -> Message {
    Message {
        echo,
        token,
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
        no_why(out.clone()).contains(&revote("reclaimed", r)),
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
            token: 1,
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
            token: 1,
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

/// Issue 15: a peer's numbers at the top of `u64` (which the daemon refuses at its edge) do
/// not crash the core if one gets through: the clock and the token floor saturate. Before,
/// `max(clock, u64::MAX) + 1` was an overflow panic, which release builds check.
#[test]
fn numbers_at_the_top_of_u64_saturate_instead_of_panicking() {
    let mut v = node(0, &[0, 1]);
    let out = v.handle(
        n(1),
        Message {
            token: u64::MAX,
            ..msg(MsgKind::Request, u64::MAX, 1, 1)
        },
    );
    assert_eq!(v.clock(), u64::MAX);
    assert_eq!(v.floor(), u64::MAX);
    // The GRANT still leaves, stamped with the stuck clock.
    assert_eq!(sends(&out), vec![(n(1), MsgKind::Grant, rid(1, 1))]);
    let mut r = node(1, &[0, 1]);
    let _ = r.handle(n(0), msg(MsgKind::Failed, u64::MAX, 5, 1));
    let out = r.request_cs().unwrap();
    assert!(sends(&out).iter().all(|(_, k, _)| *k == MsgKind::Request));
    assert_eq!(r.clock(), u64::MAX);
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
