//! Fencing tokens: floors carried by messages, the reserved block, and the resync of a restored
//! vote.

use super::*;

// ---- fencing tokens ---------------------------------------------------------------------------

// A voter's floor rises to the token a RELEASE carries, and its next GRANT carries it on, so the
// next holder's token is larger; the floor is persisted with the new lock.
#[test]
fn a_release_raises_the_voter_floor_and_the_next_grant_carries_it() {
    let mut v = node(0, &[0, 1]);
    let _ = v.handle(n(1), msg(MsgKind::Request, 1, 1, 1)); // granted to (1, 1)
    let _ = v.handle(n(2), msg(MsgKind::Request, 1, 1, 2)); // queued, FAILED
    let mut release = msg(MsgKind::Release, 9, 1, 1);
    release.token = Token(41);
    let out = v.handle(n(1), release);
    assert_eq!(v.floor(), Token(41));
    assert_eq!(
        out[0],
        Action::Persist {
            lock: Some(rid(1, 2)),
            floor: Token(41)
        }
    );
    match &out[1] {
        Action::Send { to, msg } => {
            assert_eq!(
                (*to, msg.kind, msg.token),
                (n(2), MsgKind::Grant, Token(41))
            );
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
    g0.token = Token(7);
    let mut g1 = msg(MsgKind::Grant, 5, 1, 1);
    g1.token = Token(3);
    let _ = a.handle(n(0), g0);
    let out = a.handle(n(1), g1);
    assert!(out.contains(&Action::Persist {
        lock: None,
        floor: Token(7 + TOKEN_BLOCK)
    }));
    assert!(matches!(
        out.last(),
        Some(Action::EnterCs {
            token: Token(8),
            ..
        })
    ));
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
    assert_eq!(reserved_at, vec![Token(1), Token(TOKEN_BLOCK + 1)]);
}

// A restarted peer's floor (from its journal) raises ours before its dead votes are freed, so a
// holder killed in the CS does not take its token with it.
#[test]
fn peer_incarnation_raises_the_floor_before_freeing_the_dead_vote() {
    let mut v = node(0, &[0, 1]);
    v.assume_peer(n(1), Incarnation(1));
    let _ = v.handle(n(1), msg(MsgKind::Request, 1, 1, 1)); // granted to (1, 1)
    let _ = v.handle(n(2), msg(MsgKind::Request, 1, 1, 2)); // queued
    let out = v.peer_incarnation(n(1), Incarnation(2), Token(12));
    assert_eq!(v.floor(), Token(12));
    assert!(out.contains(&Action::Persist {
        lock: Some(rid(1, 2)),
        floor: Token(12)
    }));
}

// A restarted voter asks the requester of each vote its journal kept to resync; the requester
// answers with a Sync, even when it keeps no state for that lock.
#[test]
fn a_restored_vote_asks_for_a_resync_and_the_requester_answers_with_a_sync() {
    let (mut v, _) = Node::restore(
        n(0),
        &[n(0), n(1)],
        Incarnation(2),
        Some(rid(3, 1)),
        Token(5),
        classic(),
    );
    let out = v.resync_restored_vote();
    assert_eq!(sends(&out), vec![(n(1), MsgKind::Resync, rid(3, 1))]);
    let mut a = node(1, &[0, 1]);
    a.assume_peer(n(0), Incarnation(2));
    let Action::Send { msg: resync, .. } = out[0].clone() else {
        unreachable!()
    };
    let out = a.handle(n(0), resync);
    match out.as_slice() {
        [Action::Send { to, msg }] => {
            assert_eq!(
                (*to, msg.kind, msg.synced_request(), msg.to_inc),
                (n(0), MsgKind::Sync, None, Incarnation(2))
            );
        }
        other => panic!("expected one Sync, got {other:?}"),
    }
}
