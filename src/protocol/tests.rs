//! Unit tests of the sans-IO core, one (or more) per row of the rule table in PROTOCOL.md §2.
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
    RequestId { ts, node: n(node) }
}

fn msg(kind: MsgKind, lamport: u64, ts: u64, node: u32) -> Message {
    Message {
        kind,
        lamport,
        req: rid(ts, node),
    }
}

/// `Action::Send` of `kind` about request `(ts, node)` to `to`, stamped `lamport`.
fn send(to: u32, kind: MsgKind, lamport: u64, ts: u64, node: u32) -> Action {
    Action::Send {
        to: n(to),
        msg: msg(kind, lamport, ts, node),
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

/// A node with quorum `q`.
fn node(me: u32, q: &[u32]) -> Node {
    let q: Vec<NodeId> = q.iter().map(|&i| n(i)).collect();
    Node::new(n(me), &q)
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
    assert_eq!(out, vec![send(1, MsgKind::Grant, 7, 5, 1)]);
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
    assert_eq!(out, vec![send(1, MsgKind::Grant, 7, 5, 1)]);
    assert_eq!(v.clock(), 7);
    assert_eq!(
        v.voter(),
        &VoterView {
            lock: Some(rid(5, 1)),
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
    assert_eq!(out, vec![send(0, MsgKind::Grant, 6, 1, 0)]); // clock 4 -> max(4,2)+1=5 -> 6
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
    assert_eq!(
        out,
        vec![Action::EnterCs {
            req: r,
            votes: vec![n(0), n(1), n(2)],
        }]
    );
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
    assert_eq!(out, vec![send(0, MsgKind::Release, 16, 1, 1)]);
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
    assert_eq!(out, vec![send(2, MsgKind::Grant, 22, 3, 2)]);
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
    let out = v.handle(n(1), msg(MsgKind::Yield, 10, 5, 1)); // clock 11
                                                             // (5, 1) is queued with lower priority than the new lock, yet gets no FAILED.
    assert_eq!(out, vec![send(2, MsgKind::Grant, 12, 3, 2)]);
    assert_eq!(v.voter().queue, set(&[rid(5, 1)]));
    assert_eq!(v.voter().told_failed, set(&[rid(5, 1)]));

    // Another overtaking request: the lock (3, 2) is inquired and yields; the new lock change
    // sends FAILED to neither yielded request.
    let out = v.handle(n(3), msg(MsgKind::Request, 2, 2, 3)); // clock 13
    assert_eq!(out, vec![send(2, MsgKind::Inquire, 14, 3, 2)]);
    let out = v.handle(n(2), msg(MsgKind::Yield, 15, 3, 2)); // clock 16
    assert_eq!(out, vec![send(3, MsgKind::Grant, 17, 2, 3)]);
    assert_eq!(
        v.voter(),
        &VoterView {
            lock: Some(rid(2, 3)),
            queue: set(&[rid(3, 2), rid(5, 1)]),
            inquired: false,
            told_failed: set(&[rid(3, 2), rid(5, 1)]),
        }
    );

    // When a yielded request is granted again, it leaves `told_failed`.
    let out = v.handle(n(3), msg(MsgKind::Release, 18, 2, 3)); // clock 19
    assert_eq!(out, vec![send(2, MsgKind::Grant, 20, 3, 2)]);
    assert_eq!(v.voter().told_failed, set(&[rid(5, 1)]));
}

// ---- exit CS --------------------------------------------------------------------------------

// Row "exit CS": RELEASE(r) to every member of Q(me), self included; Idle.
#[test]
fn exit_cs_releases_every_quorum_member() {
    let mut a = in_cs_node1(); // clock 7
    let out = a.exit_cs().unwrap();
    assert_eq!(
        out,
        vec![
            send(0, MsgKind::Release, 8, 1, 1),
            send(1, MsgKind::Release, 9, 1, 1),
            send(2, MsgKind::Release, 10, 1, 1),
        ]
    );
    assert_eq!(a.phase(), Phase::Idle);
    assert_eq!(a.clock(), 10);
    assert_eq!(a.requester(), &RequesterView::default());
    // The next request gets a fresh, higher timestamp.
    let out = a.request_cs().unwrap();
    assert_eq!(out[0], send(0, MsgKind::Request, 12, 11, 1));
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
    assert_eq!(out, vec![send(3, MsgKind::Grant, 14, 3, 3)]);
    assert_eq!(
        v.voter(),
        &VoterView {
            lock: Some(rid(3, 3)),
            queue: set(&[rid(7, 2)]),
            inquired: false,
            told_failed: set(&[rid(7, 2)]),
        }
    );

    let out = v.handle(n(3), msg(MsgKind::Release, 15, 3, 3)); // clock 16
    assert_eq!(out, vec![send(2, MsgKind::Grant, 17, 7, 2)]);
    assert_eq!(
        v.voter(),
        &VoterView {
            lock: Some(rid(7, 2)),
            ..VoterView::default()
        }
    );

    let out = v.handle(n(2), msg(MsgKind::Release, 18, 7, 2)); // clock 19
    assert_eq!(out, vec![]);
    assert_eq!(v.voter(), &VoterView::default());
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
            vec![send(1, MsgKind::Grant, 7, 5, 1)],
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
    let mut v = voter_with_overtaken_queue(Options::default());
    let out = v.handle(n(1), msg(MsgKind::Release, 20, 5, 1)); // clock 21
    assert_eq!(
        out,
        vec![
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
        }
    );
    // The next lock change finds everyone told: only the GRANT.
    let out = v.handle(n(4), msg(MsgKind::Release, 24, 2, 4)); // clock 25
    assert_eq!(out, vec![send(2, MsgKind::Grant, 26, 3, 2)]);
    assert_eq!(v.voter().told_failed, set(&[rid(9, 3)]));
}

// Row "voter lock changes", lock change by YIELD: the same FAILED to the overtaken (3, 2); none
// to (9, 3) (told) nor to the yielded (5, 1) (see the interpretation test above).
#[test]
fn lock_change_on_yield_sends_failed_to_untold_lower_requests() {
    let mut v = voter_with_overtaken_queue(Options::default());
    let out = v.handle(n(1), msg(MsgKind::Yield, 20, 5, 1)); // clock 21
    assert_eq!(
        out,
        vec![
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
        }
    );
}

// Row "voter lock changes", with `Options { lock_change_failed: false }`: no FAILED on a lock
// change (Maekawa's original rule, for proving the checkers are not vacuous).
#[test]
fn lock_change_failed_can_be_switched_off() {
    let mut v = voter_with_overtaken_queue(Options {
        lock_change_failed: false,
    });
    let out = v.handle(n(1), msg(MsgKind::Release, 20, 5, 1)); // clock 21
    assert_eq!(out, vec![send(4, MsgKind::Grant, 22, 2, 4)]);
    assert_eq!(
        v.voter(),
        &VoterView {
            lock: Some(rid(2, 4)),
            queue: set(&[rid(3, 2), rid(9, 3)]),
            inquired: false,
            told_failed: set(&[rid(9, 3)]),
        }
    );
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
}

impl Net {
    fn new(quorums: &[(u32, &[u32])]) -> Net {
        Net {
            nodes: quorums.iter().map(|&(i, q)| (n(i), node(i, q))).collect(),
            in_flight: VecDeque::new(),
            network: BTreeMap::new(),
            to_self: 0,
            entries: Vec::new(),
        }
    }

    fn carry_out(&mut self, from: NodeId, actions: Vec<Action>) {
        for a in actions {
            match a {
                Action::Send { to, msg } => self.in_flight.push_back((from, to, msg)),
                Action::EnterCs { req, votes } => self.entries.push((from, req, votes)),
                Action::Log(_) => {}
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

    /// Delivers until nothing is in flight, checking safety after every step.
    fn run(&mut self) {
        while let Some((from, to, m)) = self.in_flight.pop_front() {
            if from == to {
                self.to_self += 1;
            } else {
                *self.network.entry(m.kind).or_default() += 1;
            }
            let out = self.nodes.get_mut(&to).unwrap().handle(from, m);
            self.carry_out(to, out);
            let in_cs = self
                .nodes
                .values()
                .filter(|x| matches!(x.phase(), Phase::InCs(_)))
                .count();
            assert!(in_cs <= 1, "safety: {in_cs} nodes in the CS");
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
