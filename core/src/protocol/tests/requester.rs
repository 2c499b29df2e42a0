//! Requester rules of PROTOCOL.md §2: want CS, the GRANT, FAILED and INQUIRE a requester gets, exit
//! CS.

use super::*;

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
    assert_eq!(a.clock(), Lamport(4));
    assert_eq!(a.requester(), &RequesterView::default());
}

// Row "want CS": the request timestamp is the clock after a receipt has advanced it.
#[test]
fn want_cs_timestamp_follows_the_lamport_clock() {
    let mut a = node(1, &[0, 1]);
    let stale = msg(MsgKind::Failed, 10, 3, 1);
    let out = a.handle(n(0), stale);
    assert_ignored(&out, 0, stale);
    assert_eq!(a.clock(), Lamport(11));
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

// ---- requester gets GRANT -------------------------------------------------------------------

// Row "requester gets GRANT": count it; when every voter of Q(me) granted, EnterCs with the
// votes sorted.
#[test]
fn grants_are_counted_and_the_last_one_enters_the_cs() {
    let mut a = wanting_node1();
    let r = rid(1, 1);
    assert_eq!(a.handle(n(2), msg(MsgKind::Grant, 3, 1, 1)), vec![]);
    assert_eq!(a.clock(), Lamport(5));
    assert_eq!(a.requester().granted, nodes(&[2]));
    assert_eq!(a.handle(n(0), msg(MsgKind::Grant, 9, 1, 1)), vec![]);
    assert_eq!(a.clock(), Lamport(10));
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
                floor: Token(TOKEN_BLOCK)
            },
            Action::EnterCs {
                req: r,
                votes: vec![n(0), n(1), n(2)],
                token: Token(1),
            }
        ]
    );
    assert_eq!(a.floor(), Token(1));
    assert_eq!(a.clock(), Lamport(11));
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
    assert_eq!(a.clock(), Lamport(10));
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
    assert_eq!(a.clock(), Lamport(8));
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
    assert_eq!(a.clock(), Lamport(6));
}

// Row "requester gets FAILED", not current (idle, or about another request): Log Ignored.
#[test]
fn stale_failed_is_ignored() {
    let mut a = node(1, &[0, 1, 2]);
    let f = msg(MsgKind::Failed, 3, 1, 1);
    assert_ignored(&a.handle(n(0), f), 0, f);
    assert_eq!(a.clock(), Lamport(4));
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
    assert_eq!(a.clock(), Lamport(6));
    assert_eq!(
        a.requester(),
        &RequesterView {
            granted: nodes(&[0]),
            deferred: nodes(&[0]),
            ..RequesterView::default()
        }
    );
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
    assert_eq!(a.clock(), Lamport(10));
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
