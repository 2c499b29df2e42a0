//! The emulated critical section (the `cs` lock): its automatic workload (think, request,
//! hold, leave), its lines in `critical_section.log`, and the `maekawa ctl` commands that move
//! it by hand.
//!
//! The `cs` lock is special only here (its CS-log lines, `entry` and `wait_ms`, the think and
//! hold timers); client locks go through [`super::sessions`]. This is kept beside the session
//! path rather than made an internal session of it: the CS log, `ctl` and `max_entries` pin
//! behaviour a session does not have. This module never touches the network: it asks the core
//! and lets [`super::execute`] carry out the actions.

use super::command::{Control, CtlOutcome, Status};
use super::cslog::CsLog;
use super::driver::Driver;
use super::node::NodeError;
use super::settings::{MsRange, NodeSettings, Workload};
use crate::node_event::{NodeEvent, Refusal};
use maekawa_core::id::{NodeId, RequestId};
use maekawa_core::member::LockName;
use maekawa_core::protocol::Phase;
use maekawa_core::rng::SplitMix64;
use tokio::time::Instant;

/// The emulated CS's state beside the core's: its entries, its timers and the CS log.
pub(super) struct CsWorkload {
    /// The lock of the emulated CS (workloads, `ctl`, `critical_section.log`).
    pub(super) lock: LockName,
    pub(super) cs_log: CsLog,
    mode: Workload,
    think: MsRange,
    hold: MsRange,
    max_entries: Option<u64>,
    rng: SplitMix64,
    /// CS entries of this process.
    pub(super) entries: u64,
    /// When the waiting request was made (for `wait_ms`).
    pub(super) requested_at: Option<Instant>,
    /// When an automatic holder leaves.
    pub(super) hold_until: Option<Instant>,
    /// When an automatic requester asks again.
    pub(super) think_until: Option<Instant>,
}

impl CsWorkload {
    /// The workload `settings` ask for, drawing its times from a generator seeded `seed`.
    pub(super) fn new(settings: &NodeSettings, cs_log: CsLog, seed: u64) -> CsWorkload {
        CsWorkload {
            lock: LockName::from(LockName::CS),
            cs_log,
            mode: settings.workload,
            think: settings.think,
            hold: settings.hold,
            max_entries: settings.max_entries,
            rng: SplitMix64::new(seed),
            entries: 0,
            requested_at: None,
            hold_until: None,
            think_until: None,
        }
    }

    fn wants_more(&self) -> bool {
        self.mode == Workload::Auto && self.max_entries.is_none_or(|max| self.entries < max)
    }
}

impl Driver {
    /// Plans the next automatic request, if the workload wants one.
    pub(super) fn schedule_think(&mut self) {
        if self.cs.wants_more() {
            self.cs.think_until = Some(Instant::now() + self.cs.think.draw(&mut self.cs.rng));
        }
    }

    /// Asks for the CS (a `refused` line if the core will not).
    pub(super) fn request(&mut self) -> Result<(), NodeError> {
        self.core.set_now(self.now_ms());
        let cs = self.cs.lock.clone();
        match self.core.request_cs(&cs) {
            Ok(actions) => {
                if let Phase::Wanting(req) = self.core.phase(LockName::CS) {
                    self.log.log(&NodeEvent::RequestCs {
                        req_ts: req.ts.0,
                        req_node: req.node,
                        lock: None,
                    });
                }
                self.metrics.requested(&cs);
                self.cs.requested_at = Some(Instant::now());
                self.execute(actions)
            }
            Err(e) => {
                self.log.log(&NodeEvent::Refused {
                    what: Refusal::Request,
                    why: e.to_string(),
                });
                Ok(())
            }
        }
    }

    /// Leaves the CS (a `refused` line if not inside).
    pub(super) fn exit(&mut self) -> Result<(), NodeError> {
        self.core.set_now(self.now_ms());
        let Phase::InCs(req) = self.core.phase(LockName::CS) else {
            self.log.log(&NodeEvent::Refused {
                what: Refusal::Release,
                why: "not in the critical section".to_string(),
            });
            return Ok(());
        };
        // The exit line is written before RELEASE leaves (PROTOCOL.md §4).
        self.cs.cs_log.exit(self.me, self.cs.entries)?;
        self.log.log(&NodeEvent::ExitCs {
            entry: Some(self.cs.entries),
            lock: Some(self.cs.lock.clone()),
            req_ts: req.ts.0,
            req_node: req.node,
            token: None,
        });
        let cs = self.cs.lock.clone();
        let actions = self.core.exit_cs(&cs).expect("in the CS, checked above");
        self.cs.hold_until = None;
        self.execute(actions)?;
        self.schedule_think();
        Ok(())
    }

    /// Acts on an entry of the emulated CS whose token is on disk: the CS log's enter line,
    /// the node log's, and the hold timer.
    pub(super) fn enter_cs(
        &mut self,
        req: RequestId,
        votes: Vec<NodeId>,
        token: u64,
    ) -> Result<(), NodeError> {
        self.cs.entries += 1;
        // The enter line is written before the node acts in the CS (PROTOCOL.md §4).
        self.cs
            .cs_log
            .enter(self.me, self.cs.entries, req, &votes, token)?;
        let wait_ms = self
            .cs
            .requested_at
            .take()
            .map_or(0.0, |t| (t.elapsed().as_secs_f64() * 1e6).round() / 1e3);
        self.log.log(&NodeEvent::EnterCs {
            entry: Some(self.cs.entries),
            req_ts: req.ts.0,
            req_node: req.node,
            votes: Some(votes),
            wait_ms: Some(wait_ms),
            lock: Some(self.cs.lock.clone()),
            token: Some(token),
        });
        self.metrics.entered(LockName::CS);
        if self.cs.mode == Workload::Auto {
            self.cs.hold_until = Some(Instant::now() + self.cs.hold.draw(&mut self.cs.rng));
        }
        Ok(())
    }

    /// Answers a command from `maekawa ctl` (through the control service).
    pub(super) fn on_control(&mut self, cmd: Control) -> Result<(), NodeError> {
        self.core.set_now(self.now_ms());
        match cmd {
            Control::Request(reply) => {
                let outcome = self.ctl_request()?;
                let _ = reply.send(outcome);
            }
            Control::Release(reply) => {
                let outcome = self.ctl_release()?;
                let _ = reply.send(outcome);
            }
            Control::Cancel(reply) => {
                let outcome = self.ctl_cancel()?;
                let _ = reply.send(outcome);
            }
            Control::Status(reply) => {
                let _ = reply.send(self.status());
            }
            Control::Membership(reply) => {
                let _ = reply.send(self.membership_json());
            }
            Control::Drained {
                epoch,
                exempt,
                reply,
            } => {
                let _ = reply.send(self.drained(epoch, exempt));
            }
            Control::Propose { json, reply } => {
                let outcome = self.propose(&json)?;
                let _ = reply.send(outcome);
            }
        }
        Ok(())
    }

    fn ctl_request(&mut self) -> Result<CtlOutcome, NodeError> {
        let node = self.me;
        Ok(match self.core.phase(LockName::CS) {
            Phase::Idle => {
                self.cs.think_until = None;
                self.request()?;
                match self.core.phase(LockName::CS) {
                    Phase::Wanting(req) => CtlOutcome::Requested {
                        node,
                        req,
                        entered: false,
                    },
                    Phase::InCs(req) => CtlOutcome::Requested {
                        node,
                        req,
                        entered: true,
                    },
                    Phase::Idle => CtlOutcome::CouldNotRequest { node },
                }
            }
            Phase::Wanting(req) => CtlOutcome::AlreadyWaiting { node, req },
            Phase::InCs(req) => CtlOutcome::AlreadyInCs { node, req },
        })
    }

    fn ctl_release(&mut self) -> Result<CtlOutcome, NodeError> {
        let node = self.me;
        Ok(match self.core.phase(LockName::CS) {
            Phase::InCs(req) => {
                self.exit()?;
                CtlOutcome::Left { node, req }
            }
            Phase::Wanting(req) => CtlOutcome::StillWaiting {
                node,
                req,
                missing: self.status().missing,
            },
            Phase::Idle => CtlOutcome::NotInCs { node },
        })
    }

    fn ctl_cancel(&mut self) -> Result<CtlOutcome, NodeError> {
        let node = self.me;
        Ok(match self.core.phase(LockName::CS) {
            Phase::Wanting(req) => {
                let cs = self.cs.lock.clone();
                self.cancel(&cs)?;
                self.cs.requested_at = None;
                self.schedule_think();
                CtlOutcome::Withdrew { node, req }
            }
            Phase::InCs(req) => CtlOutcome::InCsNothingToCancel { node, req },
            Phase::Idle => CtlOutcome::IdleNothingToCancel { node },
        })
    }

    /// The node's state as `maekawa ctl status` shows it.
    fn status(&self) -> Status {
        let fresh;
        let cs = match self.core.lock(LockName::CS) {
            Some(node) => node,
            None => {
                fresh = maekawa_core::protocol::Node::new(self.me, self.core.quorum());
                fresh.view()
            }
        };
        let view = cs.requester();
        let waiting = !matches!(cs.phase(), Phase::Idle);
        Status {
            node: self.me,
            incarnation: self.core.incarnation().0,
            phase: cs.phase(),
            lamport: self.core.clock().0,
            granted: view.granted.iter().copied().collect(),
            missing: if waiting {
                self.core
                    .quorum()
                    .iter()
                    .filter(|v| !view.granted.contains(v))
                    .copied()
                    .collect()
            } else {
                Vec::new()
            },
            failed: view.failed.iter().copied().collect(),
            yielded: view.yielded.iter().copied().collect(),
            lock: cs.voter().lock,
            queue: cs.voter().queue.iter().copied().collect(),
            entries: self.cs.entries,
            workload: self.cs.mode,
            suspected: self.health.suspected.iter().copied().collect(),
        }
    }
}
