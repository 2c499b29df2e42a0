//! Crash and restart (PROTOCOL.md §3): the journal's lock, incarnations and re-voting.

use super::*;

// ---- crash and restart (PROTOCOL.md §3) ------------------------------------------------------

// The new message kind has its fixed place in the per-kind counters and its stable log name; a
// Sync with `ts == 0` carries no request.
#[test]
fn sync_is_the_seventh_kind_and_ts_zero_means_no_request() {
    assert_eq!(MsgKind::ALL.len(), 13);
    assert_eq!(MsgKind::ALL[6], MsgKind::Sync);
    assert_eq!(MsgKind::ALL[7], MsgKind::Resync);
    assert_eq!(
        MsgKind::ALL[8..],
        [
            MsgKind::Fence,
            MsgKind::Fenced,
            MsgKind::Revoked,
            MsgKind::Floor,
            MsgKind::Config
        ]
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
    assert_eq!(v.incarnation(), Incarnation(2));
    assert_eq!(v.quorum(), &[n(0), n(1), n(2)]);
    assert_eq!((v.phase(), v.clock()), (Phase::Idle, Lamport(0)));
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
    assert_eq!(
        no_why(out),
        vec![revote(RevoteKind::Freed, dead), persist(None)]
    );
    assert_eq!(v.voter(), &VoterView::default());
    assert_eq!((v.incarnation(), v.clock()), (Incarnation(3), Lamport(0)));
}

// §3 re-voting, requester side: news of a voter's incarnation makes an idle requester tell it
// it has no request (`ts == 0`), answering that incarnation (`to_inc`). The Sync is a send:
// the clock moves by one.
#[test]
fn peer_incarnation_syncs_an_idle_requester_with_no_request() {
    let mut a = node(1, &[0, 1, 2]);
    let out = a.peer_incarnation(n(0), Incarnation(2), Token(0));
    assert_eq!(out, vec![send_msg(0, sync(1, rid_inc(0, 1, 1), false, 2))]);
    assert_eq!(a.clock(), Lamport(1));

    // A restarted node syncs with its own incarnation in the (empty) request.
    let (mut b, _) = restored(1, &[0, 1, 2], 4, None);
    let out = b.peer_incarnation(n(2), Incarnation(1), Token(0));
    assert_eq!(out, vec![send_msg(2, sync(1, rid_inc(0, 1, 4), false, 1))]);
}

// §3 "the requester says which request it has and whether it holds the voter's vote": the
// current request and `holds_grant` for that voter; an INQUIRE deferred for that voter is
// forgotten (the restarted voter's own `inquired` is gone). A waiting requester stops counting
// the restarted voter's grant (its journal may be lost): the Sync says it holds none, and a
// voter that restored the vote grants it again.
#[test]
fn peer_incarnation_syncs_the_current_request_and_whether_its_grant_is_held() {
    let mut a = wanting_node1(); // clock 4
    let _ = a.handle(n(0), msg(MsgKind::Grant, 1, 1, 1)); // clock 5
    let _ = a.handle(n(2), msg(MsgKind::Grant, 1, 1, 1)); // clock 6
    let _ = a.handle(n(0), msg(MsgKind::Inquire, 1, 1, 1)); // clock 7, deferred
    assert_eq!(a.requester().deferred, nodes(&[0]));
    let out = a.peer_incarnation(n(0), Incarnation(2), Token(0));
    assert_eq!(out, vec![send_msg(0, sync(8, rid(1, 1), false, 2))]);
    assert_eq!(
        a.requester(),
        &RequesterView {
            granted: nodes(&[2]),
            ..RequesterView::default()
        }
    );
    // Voter 2 restarts too: its grant goes the same way.
    let out = a.peer_incarnation(n(2), Incarnation(5), Token(0));
    assert_eq!(out, vec![send_msg(2, sync(9, rid(1, 1), false, 5))]);
    assert!(a.requester().granted.is_empty());
    assert_eq!(a.phase(), Phase::Wanting(rid(1, 1)));

    // In the CS: every grant is held.
    let mut b = in_cs_node1(); // clock 7
    let out = b.peer_incarnation(n(2), Incarnation(2), Token(0));
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
    let out = a.peer_incarnation(n(2), Incarnation(3), Token(0));
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
    assert_eq!(a.peer_incarnation(n(0), Incarnation(3), Token(0)).len(), 1); // clock 5
    let before = a.clone();
    assert_eq!(a.peer_incarnation(n(0), Incarnation(3), Token(0)), vec![]);
    assert_eq!(a.peer_incarnation(n(0), Incarnation(2), Token(0)), vec![]);
    assert_eq!(a.peer_incarnation(n(1), Incarnation(9), Token(0)), vec![]);
    assert_eq!(a, before);

    // `assume_peer` records an incarnation without any reconciliation; it is then not news.
    let mut b = node(1, &[0, 1, 2]);
    b.assume_peer(n(0), Incarnation(2));
    assert_eq!(b.peer_incarnation(n(0), Incarnation(2), Token(0)), vec![]);
    assert_eq!(b.clock(), Lamport(0));
    assert_eq!(
        b.peer_incarnation(n(0), Incarnation(3), Token(0)),
        vec![send_msg(0, sync(1, rid_inc(0, 1, 1), false, 3))]
    );
}

// §3 "the voter frees a vote held by an older incarnation ... and then re-runs its grant rule":
// the lock of the dead (5, 1) is freed, the head (2, 4) granted after its Persist, Sanders'
// FAILED goes to the overtaken (3, 2); then the Sync to the peer (a member of the quorum).
#[test]
fn peer_incarnation_frees_a_lock_held_by_an_older_incarnation_and_grants_the_next() {
    let mut v = voter_with_overtaken_queue(classic()); // clock 14
    let out = v.peer_incarnation(n(1), Incarnation(2), Token(0));
    assert_eq!(
        no_why(out),
        vec![
            revote(RevoteKind::Freed, rid(5, 1)),
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
    let out = v.peer_incarnation(n(1), Incarnation(2), Token(0));
    assert_eq!(
        no_why(out),
        vec![
            revote(RevoteKind::Freed, rid(5, 1)),
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
    let out = v.peer_incarnation(n(1), Incarnation(2), Token(0));
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
    let out = v.peer_incarnation(n(2), Incarnation(2), Token(0));
    assert_eq!(
        no_why(out),
        vec![
            revote(RevoteKind::Dropped, rid(7, 2)),
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
    assert_eq!(v.peer_incarnation(n(3), Incarnation(1), Token(0)), vec![]); // (9, 3) is of incarnation 1: live
    assert_eq!(v.voter(), before.voter());
    let out = v.peer_incarnation(n(3), Incarnation(2), Token(0));
    assert_eq!(no_why(out), vec![revote(RevoteKind::Dropped, rid(9, 3))]);
    assert_eq!(
        v.voter(),
        &VoterView {
            lock: Some(rid(5, 1)),
            grant_sent: true,
            ..VoterView::default()
        }
    );
    assert_eq!(v.clock(), Lamport(12));
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
    assert_eq!(v.clock(), Lamport(7));

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
            revote(RevoteKind::Freed, rid(5, 1)),
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
            revote(RevoteKind::Freed, rid(5, 1)),
            persist(Some(rid(2, 4))),
            send(4, MsgKind::Grant, 22, 2, 4),
            send(2, MsgKind::Failed, 23, 3, 2),
            revote(RevoteKind::Requeued, rid(12, 1)),
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
            revote(RevoteKind::Freed, rid(5, 1)),
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
    assert_eq!(no_why(out), vec![revote(RevoteKind::Dropped, rid(7, 2))]);
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
            revote(RevoteKind::Dropped, rid(7, 2)),
            revote(RevoteKind::Requeued, rid(12, 2)),
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
            revote(RevoteKind::Requeued, rid(3, 1)),
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
            revote(RevoteKind::Requeued, rid(3, 2)),
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
            revote(RevoteKind::Requeued, rid(7, 2)),
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
    assert_eq!(v.clock(), Lamport(11));
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
            revote(RevoteKind::Regranted, rid(5, 1)),
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
            revote(RevoteKind::Regranted, rid(5, 1)),
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
    assert_eq!(no_why(out), vec![revote(RevoteKind::Dropped, rid(3, 2))]);
    let out = v.handle(n(1), sync(8, rid(5, 1), false, 2)); // clock 9
    assert_eq!(
        no_why(out),
        vec![
            revote(RevoteKind::Regranted, rid(5, 1)),
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
    assert_eq!(v.clock(), Lamport(7));
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
    assert_eq!(v.clock(), Lamport(10));
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
    v.assume_peer(n(1), Incarnation(2));
    let req = msg(MsgKind::Request, 5, 5, 1); // incarnation 1
    assert_ignored(&v.handle(n(1), req), 1, req);
    let s = sync(6, rid(5, 1), false, 1);
    assert_ignored(&v.handle(n(1), s), 1, s);
    assert_eq!(v.voter(), &VoterView::default());
    assert_eq!(v.clock(), Lamport(7));

    let _ = v.peer_incarnation(n(2), Incarnation(3), Token(0)); // Sync to 2, clock 8
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
