//! The layout of the log directory (`--log-dir`, default `logs/`): the name of every file a
//! node writes there.
//!
//! The daemon writes these files and the log tools (`check`, `report`, `timeline`) and `bench`
//! read them; both take the names from here so that neither has to know the other. Scripts and
//! users' `jq` recipes depend on these exact names (README.md, "Logs"): never rename one. This
//! module only builds paths; it never touches the file system.

use maekawa_core::id::NodeId;
use std::path::{Path, PathBuf};

/// The file name of the shared CS log, inside the log directory.
pub const CS_LOG: &str = "critical_section.log";

/// `critical_section.log`: every node's start, enter and exit lines, in global order.
pub fn cs_log(dir: &Path) -> PathBuf {
    dir.join(CS_LOG)
}

/// The file name of `node`'s own log (every message, entry and re-vote), inside the log
/// directory.
pub fn node_log_name(node: NodeId) -> String {
    format!("node-{node}.log")
}

/// The node whose log a file name is (`node-4.log` → 4), for tools that list the directory;
/// `None` for any other file.
pub fn node_of_log_name(name: &str) -> Option<NodeId> {
    let id = name.strip_prefix("node-")?.strip_suffix(".log")?;
    id.parse::<u32>().ok().map(NodeId)
}

/// `node-<id>.log`: one flat JSON object per line.
pub fn node_log(dir: &Path, node: NodeId) -> PathBuf {
    dir.join(node_log_name(node))
}

/// `node-<id>.log.<k>`: the `k`-th newest file rotated out of `node-<id>.log` (1 is the
/// newest; `--log-rotate-bytes`, `--log-keep`).
pub fn rotated_node_log(log: &Path, k: usize) -> PathBuf {
    let mut name = log.as_os_str().to_owned();
    name.push(format!(".{k}"));
    PathBuf::from(name)
}

/// `node-<id>.journal`: the voter's lock, fsync'd before every GRANT.
pub fn journal(dir: &Path, node: NodeId) -> PathBuf {
    dir.join(format!("node-{node}.journal"))
}

/// `node-<id>.incarnation`: the last incarnation number of the node.
pub fn incarnation(dir: &Path, node: NodeId) -> PathBuf {
    dir.join(format!("node-{node}.incarnation"))
}

/// `node-<id>.rejoin`: present while the node's journal is not whole (its disk was lost and
/// the floor learned from its peers is not recorded yet).
pub fn rejoin(dir: &Path, node: NodeId) -> PathBuf {
    dir.join(format!("node-{node}.rejoin"))
}

/// `node-<id>.cluster.json`: the newest cluster configuration the node adopted (membership
/// changes); absent while the cluster runs on its `quorums.json`.
pub fn cluster(dir: &Path, node: NodeId) -> PathBuf {
    dir.join(format!("node-{node}.cluster.json"))
}

/// `node-<id>.lock`: held while a process runs as the node.
pub fn process_lock(dir: &Path, node: NodeId) -> PathBuf {
    dir.join(format!("node-{node}.lock"))
}

/// `node-<id>.out`: the process's stderr, where the scripts and `bench` start it.
pub fn stderr(dir: &Path, node: NodeId) -> PathBuf {
    dir.join(format!("node-{node}.out"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_the_documented_ones() {
        let d = Path::new("logs");
        let n = NodeId(4);
        assert_eq!(cs_log(d), Path::new("logs/critical_section.log"));
        assert_eq!(node_log(d, n), Path::new("logs/node-4.log"));
        assert_eq!(journal(d, n), Path::new("logs/node-4.journal"));
        assert_eq!(incarnation(d, n), Path::new("logs/node-4.incarnation"));
        assert_eq!(process_lock(d, n), Path::new("logs/node-4.lock"));
        assert_eq!(stderr(d, n), Path::new("logs/node-4.out"));
        assert_eq!(node_of_log_name(&node_log_name(n)), Some(n));
        for other in [
            "node-4.journal",
            "node-x.log",
            "critical_section.log",
            "node-.log",
        ] {
            assert_eq!(node_of_log_name(other), None, "{other}");
        }
    }
}
