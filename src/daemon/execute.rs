//! Carrying out the core's actions: [`Driver::execute`] logs and queues what a batch of
//! actions asks for (messages, journal records, entries, log lines), and [`Driver::flush`]
//! ends the batch (the log lines written, the journal synced, the messages handed to their
//! links, in the order that keeps the node's invariants).
//!
//! Nothing here decides what the node does: the core decided, and [`super::driver`] fed it.

use super::driver::Driver;
use super::node::NodeError;
use crate::node_event::{MsgLine, NodeEvent};
use maekawa_core::id::{NodeId, RequestId};
use maekawa_core::member::{LockAction, LockName};
use maekawa_core::protocol::{Action, LogEvent, Message, MsgKind, GRANT_CONFIRMS};
use std::collections::VecDeque;
use std::time::Duration;

impl Driver {
    /// Carries out actions in order; self-messages are handled after the batch that sent them.
    pub(super) fn execute(&mut self, actions: Vec<LockAction>) -> Result<(), NodeError> {
        let mut local: VecDeque<(LockName, Message)> = VecDeque::new();
        let mut batch = actions;
        loop {
            for LockAction { lock, action } in batch {
                match action {
                    Action::Send { to, msg } => {
                        // Logged now, in the core's order; written by `flush` before it leaves.
                        self.log_msg(true, self.me, to, &lock, &msg);
                        if to == self.me {
                            local.push_back((lock, msg));
                        } else {
                            self.batch.outgoing.push((to, lock, msg));
                        }
                    }
                    Action::EnterCs { req, votes, token } => {
                        self.batch.entering.push((lock, req, votes, token.0));
                    }
                    Action::Persist { lock: vote, floor } => {
                        // Written now, made durable by `flush` before any message of this
                        // batch (the GRANT it protects among them) leaves, and before an
                        // entry of this batch is acted on.
                        if !self.no_journal {
                            self.journal.write_vote(lock.as_str(), vote, floor.0)?;
                            self.batch
                                .held_from
                                .get_or_insert(self.batch.outgoing.len());
                            let log = &self.log;
                            self.batch.log_mark.get_or_insert_with(|| log.mark());
                        }
                    }
                    Action::PersistFloor { floor } => {
                        // As a vote's record: durable before what follows in the batch.
                        if !self.no_journal {
                            self.journal.write_floor(floor.0)?;
                            self.batch
                                .held_from
                                .get_or_insert(self.batch.outgoing.len());
                            let log = &self.log;
                            self.batch.log_mark.get_or_insert_with(|| log.mark());
                        }
                    }
                    Action::LeaseExpired {
                        req,
                        token,
                        ended_at,
                    } => self.lease_expired(lock, req, token.0, ended_at)?,
                    Action::Log(event) => self.log_core_event(lock, event),
                }
            }
            let Some((lock, msg)) = local.pop_front() else {
                return Ok(());
            };
            self.log_msg(false, self.me, self.me, &lock, &msg);
            batch = self.core.handle(self.me, &lock, msg);
        }
    }

    /// The line of an event the core reports about `lock`.
    fn log_core_event(&mut self, lock: LockName, event: LogEvent) {
        let lock = Some(lock);
        let line = match event {
            LogEvent::Revote { what, req, why } => {
                self.metrics.revote(what);
                NodeEvent::Revote {
                    what,
                    req_ts: req.ts.0,
                    req_node: req.node,
                    req_inc: req.inc.0,
                    lock,
                    why: why.to_string(),
                }
            }
            LogEvent::Ignored { from, msg, why } => NodeEvent::Ignored {
                msg: msg.kind,
                from,
                req_ts: msg.req.ts.0,
                req_node: msg.req.node,
                lock,
                why: why.to_string(),
            },
            LogEvent::QuorumSwitch { req, from, to } => NodeEvent::QuorumSwitch {
                req_ts: req.ts.0,
                req_node: req.node,
                req_inc: req.inc.0,
                lock,
                from_quorum: from,
                to_quorum: to,
            },
            // The node left the configuration: its waiting request is withdrawn.
            LogEvent::Withdrawn { req } => NodeEvent::CancelCs {
                req_ts: req.ts.0,
                req_node: req.node,
                lock,
            },
            LogEvent::InquiryDeferred { voter, req } => NodeEvent::InquiryDeferred {
                voter,
                req_ts: req.ts.0,
                req_node: req.node,
                lock,
            },
        };
        self.log.log(&line);
    }

    /// Counts a message sent (`sent`) or handled, and logs it unless `--log-messages none`.
    pub(super) fn log_msg(
        &self,
        sent: bool,
        from: NodeId,
        to: NodeId,
        lock: &LockName,
        msg: &Message,
    ) {
        self.metrics.message(sent, msg.kind);
        if !self.log_messages {
            return;
        }
        let sync = msg.kind == MsgKind::Sync;
        let line = MsgLine {
            msg: msg.kind,
            from,
            to,
            lamport: msg.lamport.0,
            req_ts: msg.req.ts.0,
            req_node: msg.req.node,
            req_inc: msg.req.inc.0,
            lock: Some(lock.clone()),
            token: Some(msg.token.0),
            holds_grant: sync.then_some(msg.holds_grant),
            to_inc: sync.then_some(msg.to_inc.0),
        };
        self.log.log(&if sent {
            NodeEvent::Send(line)
        } else {
            NodeEvent::Recv(line)
        });
    }

    /// The holder's lease ran out before it left (it was paused, or could not renew): it is
    /// out. The emulated CS writes its exit line with the lease's end; a named lock's holding
    /// session is told it lost the lock.
    fn lease_expired(
        &mut self,
        lock: LockName,
        req: RequestId,
        token: u64,
        ended_at: u64,
    ) -> Result<(), NodeError> {
        let late_ms = self.now_ms().saturating_sub(ended_at);
        let lease_end = self.log.now() - Duration::from_millis(late_ms);
        if lock == self.cs.lock {
            self.cs
                .cs_log
                .exit_lease_expired(self.me, self.cs.entries, lease_end)?;
            self.cs.hold_until = None;
            self.schedule_think();
        } else {
            self.sessions.lost(&lock);
        }
        self.metrics.lease_expired();
        self.log.log(&NodeEvent::LeaseExpired {
            lock: Some(lock),
            entry: self.cs.entries,
            req_ts: req.ts.0,
            req_node: req.node,
            token,
            late_ms,
        });
        Ok(())
    }

    /// Ends a batch: the messages sent before its first lock change leave, then one fsync
    /// covers every lock it changed, then the rest leave, in order. A record nothing waits for
    /// (an unlock with no GRANT after it) is left to the page cache, which outlives a `kill -9`;
    /// the next sync covers it, and losing it to a power cut only brings back an older, stricter
    /// lock.
    ///
    /// The batch's log lines are in the core's order (so a node's `send` lines follow its
    /// Lamport clock), and each is in the file before the message it describes is on the wire:
    /// nothing leaves before this task yields (one thread runs the link tasks too). The lines
    /// from the first lock change on wait for the fsync with the messages they describe, and
    /// are stamped when they are written: a `send` line's time is when its message left.
    pub(super) async fn flush(&mut self) -> Result<(), NodeError> {
        self.floor.store(
            self.core.journal_floor().0,
            std::sync::atomic::Ordering::Relaxed,
        );
        let mut outgoing = std::mem::take(&mut self.batch.outgoing);
        let mut held = outgoing.split_off(self.batch.held_from.take().unwrap_or(outgoing.len()));
        let mut mark = self.batch.log_mark.take();
        // An entry waits for a sync only when its token is above the reservation on disk: a
        // new block of tokens written by its batch, or by an earlier one (a vote this node
        // gave itself raises the reservation, and its GRANT, to this process, waited for no
        // sync). Within a block on disk it needs none.
        let durable = self.journal.durable_floor();
        // A confirming GRANT or a Fenced vouches that this voter's floor covers the token: the
        // reservation that does may be in a record an earlier batch wrote and nothing synced
        // (that batch's GRANT went to this node itself). Then everything this batch sends
        // waits for the sync, in order.
        let vouches = |m: &Message| {
            m.kind == MsgKind::Fenced || (m.kind == MsgKind::Grant && m.echo == GRANT_CONFIRMS)
        };
        if self.journal.written_floor() > durable && outgoing.iter().any(|(_, _, m)| vouches(m)) {
            outgoing.append(&mut held);
            held = std::mem::take(&mut outgoing);
        }
        let sync_first = !held.is_empty()
            || (mark.is_some() && !self.batch.entering.is_empty())
            || self.batch.entering.iter().any(|e| e.3 > durable);
        if !sync_first {
            self.act_on_entries()?;
            self.log.write_held();
            self.send_all(outgoing);
        } else {
            if self.flaws.grant_before_sync {
                // The injected defect: what the sync protects leaves before it.
                outgoing.append(&mut held);
                mark = Some(usize::MAX);
            }
            self.log.write_held_before(mark.unwrap_or(0));
            self.send_all(outgoing);
            // On a blocking thread: meanwhile this runtime's link tasks write out what just
            // left (the RELEASE of a node leaving the CS), instead of waiting for the disk.
            if let Some(job) = self.journal.sync_job()? {
                let started = tokio::time::Instant::now();
                match self.storage.sync_delay() {
                    None => {
                        let storage = self.storage.clone();
                        tokio::task::spawn_blocking(move || job.run(&*storage))
                            .await
                            .expect("the journal sync thread does not panic")?
                    }
                    Some(delay) => {
                        tokio::time::sleep(delay).await;
                        job.run(&*self.storage)?
                    }
                }
                self.metrics.fsync(started.elapsed());
            }

            self.drop_lapsed_entries()?;
            self.act_on_entries()?;
            self.log.write_held_restamped(self.log.now());
            self.send_all(held);
        }
        self.journal_is_whole()?;
        // An entry with nobody left to hand it to (its sessions gave up or went away) is
        // left at once; that batch flushes too, as does what a lapsed entry sent.
        if self.sessions.has_orphans() {
            self.leave_orphans()?;
        }
        let reconsider = self.sessions.take_reconsider();
        self.reconsider(reconsider)?;
        if !self.batch.outgoing.is_empty() || !self.batch.entering.is_empty() {
            Box::pin(self.flush()).await?;
        }
        Ok(())
    }

    /// A node that lost its disk has its learned floor on disk and has waited out its quiet
    /// period (the leases of the votes it forgot): its journal is whole again, and the next
    /// start is an ordinary restart (the rejoin marker goes, durably).
    fn journal_is_whole(&mut self) -> Result<(), NodeError> {
        if self.rejoin_marker.is_none() {
            return Ok(());
        }
        let whole = !self.core.awaits_floor()
            && self.core.now() >= self.core.quiet_until()
            && self.journal.written_floor() <= self.journal.durable_floor();
        let Some(marker) = self.rejoin_marker.take_if(|_| whole) else {
            return Ok(());
        };
        let gone = match std::fs::remove_file(&marker) {
            Err(e) if e.kind() != std::io::ErrorKind::NotFound => Err(e),
            _ => self.storage.sync_dir(&marker),
        };
        gone.map_err(|e| {
            NodeError::Incarnation(super::incarnation::IncarnationError {
                path: marker,
                why: e.to_string(),
            })
        })
    }

    /// The sync may have outlasted the lease of an entry it was to make good (the process was
    /// paused, the disk was slow): told the time, the core ends that lease, and the entry is
    /// not acted on (no enter line, no session told): it is reported as a `lease_expired`
    /// line only. What the core sends on ending it joins the next batch.
    fn drop_lapsed_entries(&mut self) -> Result<(), NodeError> {
        if self.batch.entering.is_empty() {
            return Ok(());
        }
        let now = self.now_ms();
        let mut rest = Vec::new();
        let mut lapsed = Vec::new();
        for a in self.core.tick(now) {
            if let Action::LeaseExpired {
                req,
                token,
                ended_at,
            } = a.action
            {
                let entering = &mut self.batch.entering;
                if let Some(i) = entering.iter().position(|e| e.0 == a.lock && e.1 == req) {
                    entering.remove(i);
                    self.log.log(&NodeEvent::LeaseExpired {
                        lock: Some(a.lock.clone()),
                        entry: self.cs.entries,
                        req_ts: req.ts.0,
                        req_node: req.node,
                        token: token.0,
                        late_ms: now.saturating_sub(ended_at),
                    });
                    self.metrics.lease_expired();
                    lapsed.push(a.lock);
                    continue;
                }
            }
            rest.push(a);
        }
        self.execute(rest)?;
        for lock in lapsed {
            if lock == self.cs.lock {
                self.schedule_think();
            } else {
                self.request_lock(&lock)?;
            }
        }
        Ok(())
    }

    /// Acts on the batch's entries, whose tokens are covered by a reservation on disk.
    fn act_on_entries(&mut self) -> Result<(), NodeError> {
        for (lock, req, votes, token) in std::mem::take(&mut self.batch.entering) {
            self.enter(lock, req, votes, token)?;
        }
        Ok(())
    }

    /// Hands `msgs` to their links; their `send` lines were logged when the core sent them.
    fn send_all(&mut self, msgs: Vec<(NodeId, LockName, Message)>) {
        for (to, lock, msg) in msgs {
            let attachment = self.attachment(&msg);
            self.transport.send_with(to, lock, msg, attachment);
        }
        self.drop_departed();
    }

    /// Acts on an entry whose token is on disk: the emulated CS's enter line and hold timer,
    /// or the lock's next waiting session.
    fn enter(
        &mut self,
        lock: LockName,
        req: RequestId,
        votes: Vec<NodeId>,
        token: u64,
    ) -> Result<(), NodeError> {
        if lock == self.cs.lock {
            return self.enter_cs(req, votes, token);
        }
        self.log.log(&NodeEvent::EnterCs {
            entry: None,
            req_ts: req.ts.0,
            req_node: req.node,
            votes: Some(votes),
            wait_ms: None,
            lock: Some(lock.clone()),
            token: Some(token),
        });
        self.metrics.entered(lock.as_str());
        self.sessions.entered(&lock, token);
        Ok(())
    }
}
