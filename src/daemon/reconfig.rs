//! The driver's part of membership changes (issue 27, DESIGN.md "Membership changes"):
//! adopting a newer cluster configuration (proposed here by `maekawa cluster`, or carried by a
//! peer's `Config` message), made durable before anything acts on it; the links it adds,
//! moves and drops; and the answers a change's coordinator polls for (`Drained`).

use super::command::Drained;
use super::driver::Driver;
use super::membership::Membership;
use super::node::NodeError;
use crate::node_event::NodeEvent;
use maekawa_core::id::{Epoch, NodeId, RequestId};
use maekawa_core::member::LockName;
use maekawa_core::protocol::{Message, MsgKind};
use std::sync::atomic::Ordering;

impl Driver {
    /// `maekawa cluster status`: the configuration's epoch and JSON.
    pub(super) fn membership_json(&self) -> (u64, String) {
        let Some(state) = &self.membership else {
            return (0, String::new());
        };
        let json = serde_json::to_string_pretty(&state.current).expect("a membership serializes");
        (state.current.epoch, json)
    }

    /// Whether this node drained `epoch`, the coordinator's request on the reserved lock
    /// aside; with the votes it still gives to requests of that epoch or older.
    pub(super) fn drained(&self, epoch: u64, exempt: Option<(String, RequestId)>) -> Drained {
        let exempt_ref = exempt.as_ref().map(|(l, r)| (l.as_str(), *r));
        let drained = self.core.drained(Epoch(epoch), exempt_ref);
        let holding = if drained {
            Vec::new()
        } else {
            self.core
                .locks()
                .filter_map(|(name, node)| {
                    let r = node.voter().lock?;
                    (r.epoch.0 <= epoch && exempt_ref != Some((name.as_str(), r))).then(|| {
                        format!(
                            "lock {name}: vote for request ({}, {}) of epoch {}",
                            r.ts, r.node, r.epoch
                        )
                    })
                })
                .collect()
        };
        Drained {
            drained,
            epoch: self.core.epoch().0,
            floor: self.core.journal_floor().0,
            holding,
        }
    }

    /// `maekawa cluster`'s proposal: the next epoch after this node's, adopted and passed on.
    pub(super) fn propose(&mut self, json: &str) -> Result<Result<String, String>, NodeError> {
        let m: Membership = match serde_json::from_str(json) {
            Ok(m) => m,
            Err(e) => {
                return Ok(Err(format!(
                    "the proposed configuration does not parse: {e}"
                )))
            }
        };
        let Some(state) = &self.membership else {
            return Ok(Err(
                "this cluster's file lists its quorums by hand (explicit \"quorums\"), which cannot follow a change of members: edit the file and restart every node".into(),
            ));
        };
        let current = state.current.epoch;
        if m.epoch != current + 1 {
            return Ok(Err(format!(
                "the proposal is epoch {}, but this node is at epoch {current}: read the configuration again and retry",
                m.epoch
            )));
        }
        if m.nodes.is_empty() {
            return Ok(Err("the proposed configuration has no member".into()));
        }
        let epoch = m.epoch;
        self.adopt_membership(m, None)?;
        Ok(Ok(format!("node {} adopted epoch {epoch}", self.me)))
    }

    /// A peer's `Config`: its configuration is adopted first if newer, then the core sees
    /// the message (and answers a peer that is behind).
    pub(super) fn on_config_message(
        &mut self,
        from: NodeId,
        lock: &LockName,
        msg: Message,
        attachment: Option<Vec<u8>>,
    ) -> Result<(), NodeError> {
        let mine = self.membership.as_ref().map(|s| s.current.epoch);
        let newer = attachment
            .as_deref()
            .and_then(Membership::from_bytes)
            .filter(|m| mine.is_some_and(|e| m.epoch > e) && m.epoch == msg.req.epoch.0);
        if let Some(m) = newer {
            self.adopt_membership(m, Some(from))?;
        }
        let actions = self.core.handle(from, lock, msg);
        self.execute(actions)
    }

    /// Makes `m` durable, points the links at its nodes, then lets the core adopt it.
    pub(super) fn adopt_membership(
        &mut self,
        m: Membership,
        from: Option<NodeId>,
    ) -> Result<(), NodeError> {
        let Some(state) = &self.membership else {
            return Ok(());
        };
        m.store(&state.dir, self.me, self.storage.as_ref())
            .map_err(|e| NodeError::Membership(e.to_string()))?;
        let before = state.current.addresses();
        let after = m.addresses();
        for (&id, addr) in after.iter().filter(|(&id, _)| id != self.me) {
            match before.get(&id) {
                Some(old) if old == addr => {}
                Some(_) => self.transport.readdress(id, addr.clone()),
                None => {
                    if let Some(service) = &self.peer_service {
                        service.add_peer(id);
                    }
                    self.transport.add_peer(id, addr.clone());
                }
            }
        }
        let state = self.membership.as_mut().expect("checked above");
        state.bytes = m.to_bytes();
        state.epoch.store(m.epoch, Ordering::Relaxed);
        self.log.log(&NodeEvent::ConfigAdopted {
            epoch: m.epoch,
            members: m.member_ids(),
            old_members: m.old_nodes.iter().flatten().map(|n| NodeId(n.id)).collect(),
            floor: m.floor,
            from,
        });
        let system = m.system();
        self.health.quorums = (*system).clone();
        let heard = self.core.floor_witnesses().cloned();
        let actions = self.core.adopt(m.epoch(), system, m.token_floor());
        if let Some(witnesses) = heard.filter(|_| !self.core.awaits_floor()) {
            // The witnesses heard already meet every quorum of the new configuration.
            self.log.log(&NodeEvent::FloorLearned {
                floor: self.core.floor().0,
                witnesses: witnesses.into_iter().collect(),
            });
        }
        let state = self.membership.as_mut().expect("checked above");
        state.current = m;
        self.execute(actions)?;
        // Nodes the configuration no longer has: their links go once the Config queued
        // above has left (`drop_departed`, after the batch is sent).
        let me = self.me;
        let gone = before
            .keys()
            .filter(|id| !after.contains_key(id) && **id != me);
        let state = self.membership.as_mut().expect("checked above");
        state.departed.extend(gone);
        Ok(())
    }

    /// Drops the links of nodes the configuration no longer has, after the batch that told
    /// them went out (the transport still tries to deliver it for a moment).
    pub(super) fn drop_departed(&mut self) {
        let Some(state) = self.membership.as_mut() else {
            return;
        };
        for id in std::mem::take(&mut state.departed) {
            self.health.suspected.remove(&id);
            self.transport.remove_peer(id);
            if let Some(service) = &self.peer_service {
                service.remove_peer(id);
            }
        }
    }

    /// `peer`'s newest process says it listens at `addr`: the link to it goes there, if that
    /// is not where the configuration has it. Only a newer incarnation moves a link, so an old
    /// process of the id that still runs somewhere cannot pull it back; under mutual TLS only
    /// the id's certificate can say it.
    pub(super) fn follow_peer(&mut self, peer: NodeId, addr: String) {
        let Some(state) = &self.membership else {
            return;
        };
        let known = state.current.addresses();
        if addr.is_empty() || known.get(&peer).is_none_or(|a| *a == addr) {
            return;
        }
        self.transport.readdress(peer, addr);
    }

    /// What a message to a peer carries besides itself: a `Config` its configuration.
    pub(super) fn attachment(&self, msg: &Message) -> Option<std::sync::Arc<[u8]>> {
        let state = self.membership.as_ref()?;
        (msg.kind == MsgKind::Config).then(|| state.bytes.clone())
    }
}

/// The driver's view of the cluster configuration.
pub(super) struct MembershipState {
    /// The configuration adopted last.
    pub(super) current: Membership,
    /// Its JSON, as `Config` messages carry it.
    pub(super) bytes: std::sync::Arc<[u8]>,
    /// Its epoch, as the transport's Hellos announce it.
    pub(super) epoch: std::sync::Arc<std::sync::atomic::AtomicU64>,
    /// Where `node-<id>.cluster.json` lives (the log directory).
    pub(super) dir: std::path::PathBuf,
    /// Nodes whose links go once the current batch is sent.
    pub(super) departed: Vec<NodeId>,
}

impl MembershipState {
    /// The state for configuration `current`, kept under `dir`, announced through `epoch`.
    pub(super) fn new(
        current: Membership,
        dir: std::path::PathBuf,
        epoch: std::sync::Arc<std::sync::atomic::AtomicU64>,
    ) -> MembershipState {
        epoch.store(current.epoch, Ordering::Relaxed);
        MembershipState {
            bytes: current.to_bytes(),
            current,
            epoch,
            dir,
            departed: Vec::new(),
        }
    }
}

/// The configuration a starting node runs on: its own `node-<id>.cluster.json` when it has
/// one (the newest it adopted), else what it was started with (the cluster file, or, for a
/// node joining, the file without itself). `settings.config` is made to match it (members,
/// addresses, quorums), so everything built from it follows; the node's own address stays
/// what it listens on. `None` for a cluster file with explicit quorums, which cannot change.
pub(super) fn resolve_membership(
    settings: &mut super::settings::NodeSettings,
) -> Result<Option<Membership>, NodeError> {
    let from_start = match settings.membership.clone() {
        Some(m) => m,
        None => match Membership::from_file(&settings.config) {
            Ok(m) => m,
            Err(_) => return Ok(None),
        },
    };
    let kept = Membership::load(&settings.log_dir, settings.id)
        .map_err(|e| NodeError::Membership(e.to_string()))?;
    let current = match kept {
        Some(k) if k.epoch >= from_start.epoch => k,
        _ => from_start,
    };
    let me = settings.id;
    let own = settings.config.node(me).ok().cloned();
    let mut nodes: Vec<maekawa_client::config::NodeAddr> = current
        .addresses()
        .into_iter()
        .filter(|(id, _)| *id != me)
        .map(|(id, addr)| maekawa_client::config::NodeAddr { id, addr })
        .collect();
    match (own, current.addresses().get(&me)) {
        (Some(own), _) => nodes.push(own),
        (None, Some(addr)) => nodes.push(maekawa_client::config::NodeAddr {
            id: me,
            addr: addr.clone(),
        }),
        (None, None) => {}
    }
    nodes.sort_by_key(|n| n.id);
    settings.config.nodes = nodes;
    settings.config.quorums = (*current.system()).clone();
    settings.membership = Some(current.clone());
    Ok(Some(current))
}
