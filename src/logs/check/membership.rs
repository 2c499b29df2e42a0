//! `maekawa check` across membership changes (issue 27): the configurations the cluster went
//! through, read from the nodes' `config_adopted` lines, so that an entry's votes are checked
//! against the quorum systems the cluster had (its file now lists only the newest members),
//! and every node that was ever a member is known.

use crate::config::{Config, NodeAddr};
use crate::logdir;
use crate::logs::reader;
use crate::node_event::{parse_line, NodeEvent};
use maekawa_core::id::NodeId;
use maekawa_core::quorum::{QuorumKind, QuorumSystem};
use std::collections::BTreeSet;
use std::path::Path;
use std::sync::Arc;

/// `config` widened to every node that was ever a member (by the logs in `log_dir`), and the
/// quorum systems of every configuration the logs show, besides the file's.
pub(super) fn widen(log_dir: &Path, config: &Config) -> (Config, Vec<QuorumSystem>) {
    let kind = config.quorums.quorum_kind();
    let build = |ids: &[NodeId]| match kind {
        QuorumKind::Majority => QuorumSystem::majority(ids),
        _ => QuorumSystem::grid(ids),
    };
    let mut ids: BTreeSet<NodeId> = config.ids().into_iter().collect();
    let mut seen: BTreeSet<(Vec<NodeId>, Vec<NodeId>)> = BTreeSet::new();
    let logs = std::fs::read_dir(log_dir).into_iter().flatten().flatten();
    for entry in logs {
        let name = entry.file_name();
        let Some(node) = name.to_str().and_then(logdir::node_of_log_name) else {
            continue;
        };
        ids.insert(node);
        let Ok(text) = reader::read_node_log(&entry.path()) else {
            continue;
        };
        for line in text.lines().filter(|l| l.contains("\"config_adopted\"")) {
            if let Ok(parsed) = parse_line(line) {
                if let NodeEvent::ConfigAdopted {
                    members,
                    old_members,
                    ..
                } = parsed.event
                {
                    ids.extend(members.iter().chain(&old_members));
                    seen.insert((members, old_members));
                }
            }
        }
    }
    let mut systems = Vec::new();
    if matches!(kind, QuorumKind::Grid | QuorumKind::Majority) {
        for (members, old) in &seen {
            let new = build(members);
            if !old.is_empty() {
                let old = build(old);
                systems.push(old.clone());
                systems.push(QuorumSystem::joint(Arc::new(old), Arc::new(new.clone())));
            }
            systems.push(new);
        }
    }
    let mut wide = config.clone();
    for id in ids {
        if wide.node(id).is_err() {
            wide.nodes.push(NodeAddr {
                id,
                addr: String::new(),
            });
        }
    }
    wide.nodes.sort_by_key(|n| n.id);
    (wide, systems)
}
