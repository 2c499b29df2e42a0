//! The cluster configuration a node runs on (issue 27, DESIGN.md "Membership changes"): the
//! members, their addresses and the quorum system, with an epoch. Epoch 0 is `quorums.json`;
//! every step of a change (`maekawa cluster add|remove|replace`) makes the next epoch, which
//! nodes pass to each other in `Config` messages and keep in `node-<id>.cluster.json`.
//!
//! A change of members goes through a joint configuration (`old_nodes` set): every entry then
//! needs a quorum of the old members and one of the new. Pure data and its file; the rules
//! are the core's (`Member::adopt`, `Member::drained`).

use crate::daemon::env::Storage;
use crate::logdir;
use maekawa_client::config::{Config, NodeAddr};
use maekawa_core::id::{Epoch, NodeId, Token};
use maekawa_core::quorum::{QuorumKind, QuorumSystem};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// One member and where it listens.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Member {
    /// Its id.
    pub id: u32,
    /// Its address, `host:port`.
    pub addr: String,
}

/// Which built-in quorum system a configuration uses (explicit quorums cannot follow a change
/// of members: they are listed by hand).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Kind {
    /// Maekawa's grid.
    Grid,
    /// Majorities.
    Majority,
}

/// A cluster configuration with its epoch, as `Config` messages carry it and
/// `node-<id>.cluster.json` keeps it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Membership {
    /// 0 for `quorums.json`, one more per step of a change.
    pub epoch: u64,
    /// No entry of an earlier configuration had a larger fencing token: a node raises its
    /// token floor to it when it adopts this one.
    pub floor: u64,
    /// The quorum system over the members.
    pub quorum_system: Kind,
    /// The members (after the change, in a joint configuration).
    pub nodes: Vec<Member>,
    /// In a joint configuration: the members before the change.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub old_nodes: Option<Vec<Member>>,
    /// The members of the epoch before (and its old ones, if it was joint): the next step of
    /// a change waits until that epoch is drained, which needs its quorums.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub previous: Option<Previous>,
}

/// The members of the epoch before a configuration's.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Previous {
    /// Its members (the new ones, if it was joint).
    pub nodes: Vec<Member>,
    /// Its old members, if it was joint.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub old_nodes: Option<Vec<Member>>,
}

/// Why a configuration cannot be used or changed; one line each.
#[derive(Debug, thiserror::Error)]
pub enum MembershipError {
    /// The configuration file lists quorums by hand.
    #[error("{path}: explicit \"quorums\" cannot follow a membership change; use \"quorum_system\": \"grid\" or \"majority\", or edit the file and restart every node")]
    Explicit {
        /// The file.
        path: PathBuf,
    },
    /// `node-<id>.cluster.json` could not be read, parsed or written.
    #[error("{path}: {why}")]
    File {
        /// The file.
        path: PathBuf,
        /// What went wrong.
        why: String,
    },
    /// A change that makes no sense for these members.
    #[error("{0}")]
    Change(String),
}

fn members(nodes: &[NodeAddr]) -> Vec<Member> {
    nodes
        .iter()
        .map(|n| Member {
            id: n.id.0,
            addr: n.addr.clone(),
        })
        .collect()
}

impl Membership {
    /// Epoch 0: what `quorums.json` says.
    pub fn from_file(config: &Config) -> Result<Membership, MembershipError> {
        let quorum_system = match config.quorums.quorum_kind() {
            QuorumKind::Grid => Kind::Grid,
            QuorumKind::Majority => Kind::Majority,
            _ => {
                return Err(MembershipError::Explicit {
                    path: config.path.clone(),
                })
            }
        };
        Ok(Membership {
            epoch: 0,
            floor: 0,
            quorum_system,
            nodes: members(&config.nodes),
            old_nodes: None,
            previous: None,
        })
    }

    /// This configuration's epoch.
    pub fn epoch(&self) -> Epoch {
        Epoch(self.epoch)
    }

    /// The floor it carries.
    pub fn token_floor(&self) -> Token {
        Token(self.floor)
    }

    /// True for a joint configuration (a change of members under way).
    pub fn is_joint(&self) -> bool {
        self.old_nodes.is_some()
    }

    fn system_of(&self, nodes: &[Member]) -> QuorumSystem {
        let ids: Vec<NodeId> = nodes.iter().map(|m| NodeId(m.id)).collect();
        match self.quorum_system {
            Kind::Grid => QuorumSystem::grid(&ids),
            Kind::Majority => QuorumSystem::majority(&ids),
        }
    }

    /// The quorum system: the joint one while a change of members is under way.
    pub fn system(&self) -> Arc<QuorumSystem> {
        self.system_over(&self.nodes, self.old_nodes.as_deref())
    }

    fn system_over(&self, nodes: &[Member], old: Option<&[Member]>) -> Arc<QuorumSystem> {
        let new = Arc::new(self.system_of(nodes));
        match old {
            Some(old) => Arc::new(QuorumSystem::joint(Arc::new(self.system_of(old)), new)),
            None => new,
        }
    }

    /// The quorum system of the epoch before this one (`None` at epoch 0).
    pub fn previous_system(&self) -> Option<Arc<QuorumSystem>> {
        let p = self.previous.as_ref()?;
        Some(self.system_over(&p.nodes, p.old_nodes.as_deref()))
    }

    fn as_previous(&self) -> Option<Previous> {
        Some(Previous {
            nodes: self.nodes.clone(),
            old_nodes: self.old_nodes.clone(),
        })
    }

    /// Every node of the configuration (old and new members) with its address; a node in
    /// both takes its new address.
    pub fn addresses(&self) -> BTreeMap<NodeId, String> {
        let mut all: BTreeMap<NodeId, String> = BTreeMap::new();
        for m in self.old_nodes.iter().flatten().chain(&self.nodes) {
            all.insert(NodeId(m.id), m.addr.clone());
        }
        all
    }

    /// The members after this configuration's change, as a plain list of ids.
    pub fn member_ids(&self) -> Vec<NodeId> {
        self.nodes.iter().map(|m| NodeId(m.id)).collect()
    }

    /// The next step towards the members `target`: the joint configuration when the members
    /// change, or (an address change only) the target itself. `floor` is the largest token
    /// floor of the nodes that drained the epoch before.
    pub fn step_towards(&self, target: &[Member], floor: u64) -> Membership {
        let same_ids = {
            let ids = |v: &[Member]| v.iter().map(|m| m.id).collect::<Vec<_>>();
            let mut a = ids(&self.nodes);
            let mut b = ids(target);
            a.sort();
            b.sort();
            a == b
        };
        let mut nodes = target.to_vec();
        nodes.sort_by_key(|m| m.id);
        Membership {
            epoch: self.epoch + 1,
            floor: floor.max(self.floor),
            quorum_system: self.quorum_system,
            old_nodes: (!same_ids).then(|| self.nodes.clone()),
            nodes,
            previous: self.as_previous(),
        }
    }

    /// The end of a joint configuration: the new members alone.
    pub fn completed(&self, floor: u64) -> Membership {
        Membership {
            epoch: self.epoch + 1,
            floor: floor.max(self.floor),
            quorum_system: self.quorum_system,
            nodes: self.nodes.clone(),
            old_nodes: None,
            previous: self.as_previous(),
        }
    }

    /// The configuration as `Config` messages carry it.
    pub fn to_bytes(&self) -> Arc<[u8]> {
        Arc::from(serde_json::to_vec(self).expect("a membership serializes"))
    }

    /// A configuration a peer sent; `None` when it does not parse or is empty.
    pub fn from_bytes(bytes: &[u8]) -> Option<Membership> {
        let m: Membership = serde_json::from_slice(bytes).ok()?;
        (!m.nodes.is_empty()).then_some(m)
    }

    /// The configuration in `node-<id>.cluster.json` under `dir`, if there is one.
    pub fn load(dir: &Path, id: NodeId) -> Result<Option<Membership>, MembershipError> {
        let path = logdir::cluster(dir, id);
        let text = match std::fs::read(&path) {
            Ok(t) => t,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(file_error(&path, e.to_string())),
        };
        let m: Membership = serde_json::from_slice(&text).map_err(|e| {
            file_error(
                &path,
                format!("{e}; remove the file to start again from the configuration file"),
            )
        })?;
        Ok(Some(m))
    }

    /// Makes this configuration durable as `node-<id>.cluster.json` under `dir` (temporary
    /// file, sync, rename, sync of the directory), before the node acts on it.
    pub fn store(
        &self,
        dir: &Path,
        id: NodeId,
        storage: &dyn Storage,
    ) -> Result<(), MembershipError> {
        let path = logdir::cluster(dir, id);
        let err = |e: std::io::Error| file_error(&path, e.to_string());
        let tmp = path.with_extension("json.tmp");
        {
            use std::io::Write;
            let mut f = std::fs::File::create(&tmp).map_err(err)?;
            let text = serde_json::to_vec_pretty(self).expect("a membership serializes");
            f.write_all(&text).map_err(err)?;
            storage.sync_new_file(&f, &tmp).map_err(err)?;
        }
        storage.rename(&tmp, &path).map_err(err)?;
        storage.sync_dir(&path).map_err(err)?;
        Ok(())
    }
}

fn file_error(path: &Path, why: String) -> MembershipError {
    MembershipError::File {
        path: path.to_path_buf(),
        why,
    }
}
