//! Voter rules of PROTOCOL.md §2: REQUEST, YIELD and RELEASE at a voter, and Sanders' rule when its
//! lock changes.

use super::*;

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
    assert_eq!(v.clock(), Lamport(7));
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
    assert_eq!(v.clock(), Lamport(10));
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
// protocol/voter.rs: a request re-queued by YIELD is recorded in `told_failed`, because its requester
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
    assert_eq!(v.clock(), Lamport(19));
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
