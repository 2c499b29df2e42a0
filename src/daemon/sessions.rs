//! The client sessions of one node's lock service: who waits for which lock, in FIFO order,
//! and who holds it with which token.
//!
//! Bookkeeping only: the driver asks the core for the lock when a session needs it, leaves it
//! when its holder is done, and withdraws the request when the last session waiting for it
//! gave up; this module decides which session is served next and tells sessions what happened.
//! One protocol entry serves one session, so every acquisition gets its own token.
//!
//! A semaphore session (`limit` N > 1) waits for any one of N slot locks, `NAME#1` ..
//! `NAME#N`, each a mutex of its own: it waits in every slot's queue, takes the first slot this
//! node enters for it, and leaves the other queues then (the driver withdraws a request nobody
//! waits for any more). At most N sessions hold NAME at once because each slot is a mutex, and
//! each slot's tokens grow as any lock's do.

use super::command::{LockInfo, LockState, SessionId, SessionNotice};
use maekawa_core::member::LockName;
use std::collections::{BTreeMap, BTreeSet, VecDeque};
use tokio::sync::mpsc::UnboundedSender;
use tokio::time::{Duration, Instant};

/// The longest a try-once session (`--timeout 0`) waits when no FAILED comes: about a hundred
/// round trips on a LAN, so a free lock is still taken.
pub const TRY_ONCE_LIMIT: Duration = Duration::from_millis(500);

/// The most slots a semaphore may have: each waiting session makes one protocol request per
/// slot.
pub const MAX_LIMIT: u32 = 64;

/// The locks a session with `limit` waits for: `name` itself for a mutex (no limit, or 1), the
/// slots `name#1` .. `name#limit` for a semaphore.
pub fn slot_locks(name: &str, limit: Option<u32>) -> Vec<LockName> {
    match limit {
        Some(n) if n > 1 => (1..=n)
            .map(|k| LockName::from(format!("{name}#{k}").as_str()))
            .collect(),
        _ => vec![LockName::from(name)],
    }
}

/// One session as the driver knows it.
struct Session {
    /// The locks it waits for: one for a mutex, the slots of a semaphore.
    wants: Vec<LockName>,
    /// The one it holds, once it does.
    holds: Option<LockName>,
    client: String,
    notices: UnboundedSender<SessionNotice>,
    since: Instant,
    deadline: Option<Instant>,
}

/// The sessions of one lock at this node.
#[derive(Default)]
struct Queue {
    waiting: VecDeque<SessionId>,
    holder: Option<(SessionId, u64)>,
    /// The token of an entry nobody was left to take: the driver leaves it at once.
    orphan: Option<u64>,
}

/// What a session's end asks of the driver.
#[derive(Debug, PartialEq, Eq)]
pub enum Ended {
    /// The session held `lock` with `token`: leave it.
    Held {
        /// The lock.
        lock: LockName,
        /// Its token.
        token: u64,
    },
    /// The session only waited for `locks` (one, or a semaphore's slots): nothing to leave,
    /// but where no other session waits, the node's request has nobody to serve.
    Waited {
        /// The locks.
        locks: Vec<LockName>,
    },
    /// The session was unknown (already ended or timed out): nothing to do.
    Nothing,
}

/// Every session of this node.
#[derive(Default)]
pub struct Sessions {
    locks: BTreeMap<LockName, Queue>,
    sessions: BTreeMap<SessionId, Session>,
    try_once: BTreeSet<SessionId>,
    /// Locks whose queues changed outside the driver's own calls (a holder lost its lease, a
    /// session took another slot or was found gone): the driver asks again for those with
    /// waiters and withdraws those without, once the batch's lines and messages are out.
    reconsider: BTreeSet<LockName>,
    /// The injected defect [`crate::daemon::Flaws::sessions_lifo`].
    lifo: bool,
}

impl Sessions {
    /// No sessions; with `lifo`, the newest waiting session is served first (an injected
    /// defect, [`crate::daemon::Flaws::sessions_lifo`]).
    pub fn new(lifo: bool) -> Sessions {
        Sessions {
            lifo,
            ..Sessions::default()
        }
    }

    /// How many sessions are open (holding or waiting), for the metrics.
    pub fn open(&self) -> usize {
        self.sessions.len()
    }

    /// A session wants any one of `wants` (one lock, or a semaphore's slots, [`slot_locks`]).
    /// Returns false when it was turned away at once (a try-once session that would have to
    /// wait behind other sessions of this node for every one of them).
    pub fn acquire(
        &mut self,
        session: SessionId,
        wants: Vec<LockName>,
        timeout: Option<Duration>,
        client: String,
        notices: UnboundedSender<SessionNotice>,
        now: Instant,
    ) -> bool {
        let try_once = timeout == Some(Duration::ZERO);
        let busy = |lock: &LockName| {
            self.locks
                .get(lock)
                .is_some_and(|q| q.holder.is_some() || !q.waiting.is_empty())
        };
        if try_once && wants.iter().all(busy) {
            let _ = notices.send(SessionNotice::TimedOut { waited_ms: 0 });
            return false;
        }
        for lock in &wants {
            self.locks
                .entry(lock.clone())
                .or_default()
                .waiting
                .push_back(session);
        }
        if try_once {
            self.try_once.insert(session);
        }
        self.sessions.insert(
            session,
            Session {
                wants,
                holds: None,
                client,
                notices,
                since: now,
                // Try once also gives up after TRY_ONCE_LIMIT: a voter whose vote is held by a
                // lower-priority request asks the holder (INQUIRE) instead of saying FAILED,
                // and a holder in the CS keeps the vote.
                deadline: timeout.map(|t| now + if t.is_zero() { TRY_ONCE_LIMIT } else { t }),
            },
        );
        true
    }

    /// True when a session of this node holds `lock`.
    pub fn is_held(&self, lock: &str) -> bool {
        self.locks.get(lock).is_some_and(|q| q.holder.is_some())
    }

    /// True when sessions of this node wait for `lock`.
    pub fn has_waiters(&self, lock: &str) -> bool {
        self.locks.get(lock).is_some_and(|q| !q.waiting.is_empty())
    }

    /// This node entered `lock` with `token`: the first waiting session holds it now. With no
    /// session left to take it, the entry is an orphan the driver leaves at once. The other
    /// slots the new holder (or a session found gone) no longer waits for are to be
    /// reconsidered ([`Sessions::take_reconsider`]).
    pub fn entered(&mut self, lock: &LockName, token: u64) {
        loop {
            let queue = self.locks.entry(lock.clone()).or_default();
            let next = if self.lifo {
                queue.waiting.pop_back()
            } else {
                queue.waiting.pop_front()
            };
            let Some(s) = next else { break };
            self.try_once.remove(&s);
            let Some(session) = self.sessions.get_mut(&s) else {
                continue;
            };
            let slot = match session.wants.len() {
                1 => 0,
                _ => session
                    .wants
                    .iter()
                    .position(|l| l == lock)
                    .map_or(0, |k| k as u32 + 1),
            };
            if session
                .notices
                .send(SessionNotice::Acquired { token, slot })
                .is_ok()
            {
                session.holds = Some(lock.clone());
                let others: Vec<LockName> = session
                    .wants
                    .iter()
                    .filter(|l| *l != lock)
                    .cloned()
                    .collect();
                queue.holder = Some((s, token));
                self.leave_queues(s, &others);
                self.reconsider.extend(others);
                return;
            }
            let others = self
                .sessions
                .remove(&s)
                .map(|s| s.wants)
                .unwrap_or_default();
            self.leave_queues(s, &others);
            self.reconsider
                .extend(others.into_iter().filter(|l| l != lock));
        }
        self.locks.entry(lock.clone()).or_default().orphan = Some(token);
    }

    /// The locks to reconsider (forgotten here): ask again where sessions wait and nobody
    /// here holds, withdraw where nobody waits or holds.
    pub fn take_reconsider(&mut self) -> BTreeSet<LockName> {
        std::mem::take(&mut self.reconsider)
    }

    /// Takes session `id` out of the waiting queues of `locks`.
    fn leave_queues(&mut self, id: SessionId, locks: &[LockName]) {
        for lock in locks {
            if let Some(q) = self.locks.get_mut(lock) {
                q.waiting.retain(|&w| w != id);
            }
        }
        self.tidy();
    }

    /// True when some entry has nobody to take it.
    pub fn has_orphans(&self) -> bool {
        self.locks.values().any(|q| q.orphan.is_some())
    }

    /// The locks entered with nobody to take them, with their tokens (forgotten here).
    pub fn take_orphans(&mut self) -> Vec<(LockName, u64)> {
        let mut out = Vec::new();
        for (lock, queue) in &mut self.locks {
            if let Some(token) = queue.orphan.take() {
                out.push((lock.clone(), token));
            }
        }
        self.tidy();
        out
    }

    /// The session is over: explicit release (answered with `Released`), stream closed or
    /// client gone.
    pub fn end(&mut self, session: SessionId, explicit: bool) -> Ended {
        self.try_once.remove(&session);
        let Some(s) = self.sessions.remove(&session) else {
            return Ended::Nothing;
        };
        let held = s.holds.as_ref().and_then(|lock| {
            let queue = self.locks.get_mut(lock)?;
            let (_, token) = queue.holder.filter(|(h, _)| *h == session)?;
            queue.holder = None;
            Some((lock.clone(), token))
        });
        let ended = match held {
            Some((lock, token)) => {
                if explicit {
                    let _ = s.notices.send(SessionNotice::Released { token });
                }
                Ended::Held { lock, token }
            }
            None => {
                self.leave_queues(session, &s.wants);
                Ended::Waited { locks: s.wants }
            }
        };
        self.tidy();
        ended
    }

    /// The holder of `lock` lost it (its lease ran out): it is told, and forgotten.
    pub fn lost(&mut self, lock: &LockName) {
        let Some(queue) = self.locks.get_mut(lock) else {
            return;
        };
        if let Some((holder, token)) = queue.holder.take() {
            if let Some(s) = self.sessions.remove(&holder) {
                let _ = s.notices.send(SessionNotice::Lost { token });
            }
        }
        // Sessions still waiting for it need a new request: the core's ended with the lease.
        self.reconsider.insert(lock.clone());
        self.tidy();
    }

    /// When the next waiting session's patience runs out.
    pub fn next_deadline(&self) -> Option<Instant> {
        self.sessions
            .values()
            .filter(|s| s.holds.is_none())
            .filter_map(|s| s.deadline)
            .min()
    }

    /// Tells every waiting session whose deadline has passed that it timed out, and forgets it.
    /// Returns the locks those sessions waited for.
    pub fn expire(&mut self, now: Instant) -> BTreeSet<LockName> {
        let expired: Vec<SessionId> = self
            .sessions
            .iter()
            .filter(|(_, s)| s.deadline.is_some_and(|d| d <= now) && s.holds.is_none())
            .map(|(id, _)| *id)
            .collect();
        expired
            .into_iter()
            .flat_map(|id| self.time_out(id, now))
            .collect()
    }

    /// Try-once sessions waiting for locks whose requests have all been refused somewhere
    /// (`lost` says which locks) or that another session of this node holds: they time out
    /// now. Returns the locks they waited for.
    pub fn give_up_try_once(
        &mut self,
        lost: impl Fn(&str) -> bool,
        now: Instant,
    ) -> BTreeSet<LockName> {
        let giving_up: Vec<SessionId> = self
            .try_once
            .iter()
            .filter(|id| {
                self.sessions.get(id).is_some_and(|s| {
                    s.wants
                        .iter()
                        .all(|l| lost(l.as_str()) || self.is_held(l.as_str()))
                })
            })
            .copied()
            .collect();
        giving_up
            .into_iter()
            .flat_map(|id| self.time_out(id, now))
            .collect()
    }

    /// True when some try-once session waits.
    pub fn has_try_once(&self) -> bool {
        !self.try_once.is_empty()
    }

    /// The waiting session `id` gives up: it is told so and forgotten. Returns the locks it
    /// waited for.
    fn time_out(&mut self, id: SessionId, now: Instant) -> Vec<LockName> {
        self.try_once.remove(&id);
        let Some(s) = self.sessions.remove(&id) else {
            return Vec::new();
        };
        let waited_ms = now.saturating_duration_since(s.since).as_millis() as u64;
        let _ = s.notices.send(SessionNotice::TimedOut { waited_ms });
        self.leave_queues(id, &s.wants);
        s.wants
    }

    /// Every session, for a stop: the held locks to leave, and every session forgotten (their
    /// streams end, so their clients know they lost the lock).
    pub fn end_all(&mut self) -> Vec<(LockName, u64)> {
        let held = self
            .locks
            .iter()
            .filter_map(|(l, q)| q.holder.map(|(_, t)| (l.clone(), t)))
            .collect();
        self.locks.clear();
        self.sessions.clear();
        self.try_once.clear();
        held
    }

    /// What `maekawa locks` shows of the sessions of `lock` (state and protocol fields are the
    /// driver's to fill).
    pub fn describe(&self, lock: &str) -> LockInfo {
        let client = |id: &SessionId| {
            self.sessions
                .get(id)
                .map(|s| s.client.clone())
                .unwrap_or_default()
        };
        let queue = self.locks.get(lock);
        let holder = queue.and_then(|q| q.holder);
        LockInfo {
            name: lock.to_string(),
            state: if holder.is_some() {
                LockState::Held
            } else {
                LockState::Voting
            },
            holder: holder.map(|(s, _)| (s, client(&s))),
            token: holder.map_or(0, |(_, t)| t),
            waiting: queue
                .map(|q| q.waiting.iter().map(|s| (*s, client(s))).collect())
                .unwrap_or_default(),
            request: None,
            vote: None,
            queue: Vec::new(),
        }
    }

    /// The locks sessions of this node hold or wait for.
    pub fn lock_names(&self) -> impl Iterator<Item = &LockName> {
        self.locks.keys()
    }

    /// Forgets the queues of locks nobody here holds, waits for or must leave.
    fn tidy(&mut self) {
        self.locks
            .retain(|_, q| q.holder.is_some() || !q.waiting.is_empty() || q.orphan.is_some());
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::sync::mpsc::unbounded_channel;

    fn lock() -> LockName {
        LockName::from("job")
    }

    #[test]
    fn sessions_are_served_in_arrival_order_and_a_departed_one_is_skipped() {
        let now = Instant::now();
        let mut s = Sessions::default();
        let mut rx = Vec::new();
        for id in 1..=3 {
            let (tx, r) = unbounded_channel();
            assert!(s.acquire(id, vec![lock()], None, format!("c{id}"), tx, now));
            rx.push(r);
        }
        assert_eq!(
            s.end(2, false),
            Ended::Waited {
                locks: vec![lock()]
            }
        );
        assert_eq!(s.end(2, false), Ended::Nothing, "already ended");
        s.entered(&lock(), 7);
        assert_eq!(
            rx[0].try_recv(),
            Ok(SessionNotice::Acquired { token: 7, slot: 0 })
        );
        assert_eq!(
            s.end(1, true),
            Ended::Held {
                lock: lock(),
                token: 7
            }
        );
        assert_eq!(rx[0].try_recv(), Ok(SessionNotice::Released { token: 7 }));
        s.entered(&lock(), 8);
        assert!(
            rx[1].try_recv().is_err(),
            "the departed session gets nothing"
        );
        assert_eq!(
            rx[2].try_recv(),
            Ok(SessionNotice::Acquired { token: 8, slot: 0 })
        );
        assert!(!s.has_orphans());
    }

    #[test]
    fn try_once_gives_up_behind_a_local_holder_and_after_its_limit() {
        let now = Instant::now();
        let mut s = Sessions::default();
        let (tx, mut first) = unbounded_channel();
        assert!(s.acquire(1, vec![lock()], Some(Duration::ZERO), "a".into(), tx, now));
        assert_eq!(s.next_deadline(), Some(now + TRY_ONCE_LIMIT));
        assert_eq!(
            s.expire(now + TRY_ONCE_LIMIT),
            BTreeSet::from([lock()]),
            "the lock it gave up"
        );
        assert!(
            !s.has_waiters("job"),
            "nobody else waits: the driver withdraws"
        );
        assert_eq!(
            first.try_recv(),
            Ok(SessionNotice::TimedOut {
                waited_ms: TRY_ONCE_LIMIT.as_millis() as u64
            })
        );
        let (tx, _held) = unbounded_channel();
        assert!(s.acquire(2, vec![lock()], None, "b".into(), tx, now));
        s.entered(&lock(), 3);
        let (tx, mut second) = unbounded_channel();
        assert!(!s.acquire(3, vec![lock()], Some(Duration::ZERO), "c".into(), tx, now));
        assert_eq!(
            second.try_recv(),
            Ok(SessionNotice::TimedOut { waited_ms: 0 })
        );
    }

    #[test]
    fn an_entry_nobody_is_left_to_take_is_an_orphan() {
        let now = Instant::now();
        let mut s = Sessions::default();
        let (tx, rx) = unbounded_channel();
        assert!(s.acquire(1, vec![lock()], None, "a".into(), tx, now));
        drop(rx); // the client went away before its lock came
        s.entered(&lock(), 5);
        assert!(s.has_orphans());
        assert_eq!(s.take_orphans(), vec![(lock(), 5)]);
        assert!(!s.has_orphans());
        assert_eq!(s.lock_names().count(), 0);
    }

    #[test]
    fn a_semaphore_session_takes_the_first_slot_entered_and_leaves_the_other_queues() {
        let now = Instant::now();
        let mut s = Sessions::default();
        let slots = slot_locks("jobs", Some(2));
        assert_eq!(
            slots,
            vec![LockName::from("jobs#1"), LockName::from("jobs#2")]
        );
        assert_eq!(slot_locks("jobs", Some(1)), vec![LockName::from("jobs")]);
        let mut rx = Vec::new();
        for id in 1..=3 {
            let (tx, r) = unbounded_channel();
            assert!(s.acquire(id, slots.clone(), None, String::new(), tx, now));
            rx.push(r);
        }
        s.entered(&slots[1], 4);
        assert_eq!(s.take_reconsider(), BTreeSet::from([slots[0].clone()]));
        assert_eq!(
            rx[0].try_recv(),
            Ok(SessionNotice::Acquired { token: 4, slot: 2 })
        );
        assert!(s.has_waiters("jobs#1"), "sessions 2 and 3 still wait there");
        s.entered(&slots[0], 9);
        assert_eq!(
            rx[1].try_recv(),
            Ok(SessionNotice::Acquired { token: 9, slot: 1 })
        );
        assert!(
            s.has_waiters("jobs#1") && s.has_waiters("jobs#2"),
            "session 3"
        );
        assert_eq!(
            s.end(3, false),
            Ended::Waited {
                locks: slots.clone()
            }
        );
        assert!(
            !s.has_waiters("jobs#2"),
            "nobody waits: the driver withdraws"
        );
        assert_eq!(
            s.end(1, true),
            Ended::Held {
                lock: slots[1].clone(),
                token: 4
            }
        );
        let (tx, mut late) = unbounded_channel();
        assert!(
            !s.acquire(
                4,
                vec![slots[0].clone()],
                Some(Duration::ZERO),
                String::new(),
                tx,
                now
            ),
            "try once behind a local holder of its only slot"
        );
        assert_eq!(
            late.try_recv(),
            Ok(SessionNotice::TimedOut { waited_ms: 0 })
        );
        let (tx, _free) = unbounded_channel();
        assert!(
            s.acquire(
                5,
                slots.clone(),
                Some(Duration::ZERO),
                String::new(),
                tx,
                now
            ),
            "slot 2 is free here: a try-once semaphore session may wait for it"
        );
    }

    #[test]
    fn a_lost_lease_and_a_busy_slot_are_reconsidered_and_try_once_gives_up_on_local_holders() {
        let now = Instant::now();
        let mut s = Sessions::default();
        let (tx, _holder) = unbounded_channel();
        assert!(s.acquire(1, vec![lock()], None, String::new(), tx, now));
        s.entered(&lock(), 3);
        let (tx, _waiter) = unbounded_channel();
        assert!(s.acquire(2, vec![lock()], None, String::new(), tx, now));
        assert!(s.take_reconsider().is_empty());
        s.lost(&lock());
        assert_eq!(
            s.take_reconsider(),
            BTreeSet::from([lock()]),
            "session 2 still waits: the driver must ask again, the core's request ended"
        );
        // A try-once semaphore session whose one free slot was refused, the other held here.
        let slots = slot_locks("jobs", Some(2));
        let (tx, _h) = unbounded_channel();
        assert!(s.acquire(3, vec![slots[0].clone()], None, String::new(), tx, now));
        s.entered(&slots[0], 5);
        let (tx, mut once) = unbounded_channel();
        assert!(s.acquire(
            4,
            slots.clone(),
            Some(Duration::ZERO),
            String::new(),
            tx,
            now
        ));
        assert!(
            s.give_up_try_once(|_| false, now).is_empty(),
            "slot 2 not refused yet"
        );
        assert_eq!(
            s.give_up_try_once(|l| l == "jobs#2", now),
            slots.iter().cloned().collect::<BTreeSet<_>>()
        );
        assert_eq!(
            once.try_recv(),
            Ok(SessionNotice::TimedOut { waited_ms: 0 })
        );
    }
}
