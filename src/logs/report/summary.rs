//! The summary of a whole run: per node and overall, entries, waits, messages sent by type,
//! messages per entry, re-votes and restarts, counted from the node logs.
//!
//! A restart is told apart from a clean stop and start as `maekawa check` tells them: a process
//! that logged `stop` before the node's next `start` stopped cleanly; one that did not was
//! killed (or crashed). Only the second counts as a restart (after a kill).
//!
//! It gives its facts as table cells (a headline, a header, one row per node plus `all`, and a
//! legend), which the text and Markdown renderers lay out; it never chooses a format itself,
//! and it only counts the lines `node_logs` read.

use super::node_logs::{Dir, Ev, NodeLog};
use maekawa_core::id::NodeId;
use maekawa_core::protocol::MsgKind;
use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

/// The message types in the order a reader expects them; others seen in a log follow.
const MSG_ORDER: [MsgKind; 7] = [
    MsgKind::Request,
    MsgKind::Grant,
    MsgKind::Failed,
    MsgKind::Inquire,
    MsgKind::Yield,
    MsgKind::Release,
    MsgKind::Sync,
];

/// What one node's log counts up to.
#[derive(Debug, Default)]
struct NodeStats {
    entries: u64,
    wait_sum: f64,
    wait_max: f64,
    /// Network messages this node sent, by type.
    sent: BTreeMap<MsgKind, u64>,
    /// Messages this node sent to itself.
    to_itself: u64,
    /// Network messages about this node's requests, whoever sent them.
    about_own: u64,
    /// `start` lines after a process that logged no `stop`: restarts after a kill.
    kills: u64,
    /// `start` lines after a process that logged `stop`: clean stops and starts.
    clean_restarts: u64,
    revotes: BTreeMap<&'static str, u64>,
}

/// The counts of a run, per node: what the text and Markdown summaries show.
pub(super) struct Summary {
    nodes: BTreeMap<NodeId, NodeStats>,
    /// Message types seen, in [`MSG_ORDER`] then by name.
    types: Vec<MsgKind>,
}

impl Summary {
    /// Counts every node log (one row per log, even a node that never entered).
    pub(super) fn build(logs: &[NodeLog]) -> Summary {
        let mut nodes: BTreeMap<NodeId, NodeStats> = logs
            .iter()
            .map(|l| (l.node, NodeStats::default()))
            .collect();
        let mut about: BTreeMap<NodeId, u64> = BTreeMap::new();
        for log in logs {
            let s = nodes.get_mut(&log.node).expect("one entry per log");
            // Whether a process has started yet, and whether the current one logged `stop`.
            let (mut started, mut stopped) = (false, false);
            for line in &log.lines {
                match &line.ev {
                    Ev::Start { .. } => {
                        if started && stopped {
                            s.clean_restarts += 1;
                        } else if started {
                            s.kills += 1;
                        }
                        (started, stopped) = (true, false);
                    }
                    Ev::Stop => stopped = true,
                    Ev::EnterCs { wait_ms, .. } => {
                        s.entries += 1;
                        s.wait_sum += wait_ms;
                        s.wait_max = s.wait_max.max(*wait_ms);
                    }
                    Ev::Msg {
                        dir: Dir::Send,
                        msg,
                        from,
                        to,
                        req,
                        ..
                    } => {
                        if from == to {
                            s.to_itself += 1;
                        } else {
                            *s.sent.entry(*msg).or_default() += 1;
                            *about.entry(req.node).or_default() += 1;
                        }
                    }
                    Ev::Revote { what, .. } => *s.revotes.entry(what.name()).or_default() += 1,
                    _ => {}
                }
            }
        }
        for (node, n) in about {
            if let Some(s) = nodes.get_mut(&node) {
                s.about_own = n;
            }
        }
        // The others by name.
        let seen: BTreeSet<(&str, MsgKind)> = nodes
            .values()
            .flat_map(|s| s.sent.keys())
            .filter(|t| !MSG_ORDER.contains(t))
            .map(|&t| (t.name(), t))
            .collect();
        let mut types = MSG_ORDER.to_vec();
        types.extend(seen.into_iter().map(|(_, t)| t));
        Summary { nodes, types }
    }

    /// The column names of the table, the message types seen included.
    pub(super) fn header(&self) -> Vec<String> {
        let mut h: Vec<String> = ["node", "entries", "mean wait ms", "max wait ms"]
            .map(String::from)
            .to_vec();
        h.extend(self.types.iter().map(|t| t.name().to_string()));
        h.extend(
            [
                "to itself",
                "msgs/entry",
                "restarts",
                "clean restarts",
                "re-votes",
            ]
            .map(String::from),
        );
        h
    }

    fn row(&self, name: String, stats: &[&NodeStats]) -> Vec<String> {
        let entries: u64 = stats.iter().map(|s| s.entries).sum();
        let wait_sum: f64 = stats.iter().map(|s| s.wait_sum).sum();
        let wait_max = stats.iter().map(|s| s.wait_max).fold(0.0, f64::max);
        let about: u64 = stats.iter().map(|s| s.about_own).sum();
        let mut row = vec![name, entries.to_string()];
        if entries == 0 {
            row.extend(["-".to_string(), "-".to_string()]);
        } else {
            row.push(format!("{:.3}", wait_sum / entries as f64));
            row.push(format!("{wait_max:.3}"));
        }
        for t in &self.types {
            let n: u64 = stats
                .iter()
                .map(|s| s.sent.get(t).copied().unwrap_or(0))
                .sum();
            row.push(n.to_string());
        }
        row.push(stats.iter().map(|s| s.to_itself).sum::<u64>().to_string());
        row.push(if entries == 0 {
            "-".to_string()
        } else {
            format!("{:.2}", about as f64 / entries as f64)
        });
        row.push(stats.iter().map(|s| s.kills).sum::<u64>().to_string());
        row.push(
            stats
                .iter()
                .map(|s| s.clean_restarts)
                .sum::<u64>()
                .to_string(),
        );
        row.push(
            stats
                .iter()
                .flat_map(|s| s.revotes.values())
                .sum::<u64>()
                .to_string(),
        );
        row
    }

    /// The table's cells: one row per node, then `all`.
    pub(super) fn rows(&self) -> Vec<Vec<String>> {
        let mut rows: Vec<Vec<String>> = self
            .nodes
            .iter()
            .map(|(n, s)| self.row(n.to_string(), &[s]))
            .collect();
        let all: Vec<&NodeStats> = self.nodes.values().collect();
        rows.push(self.row("all".to_string(), &all));
        rows
    }

    /// One sentence with the run's totals: the first line of the text and Markdown reports.
    pub(super) fn headline(&self, dir: &Path) -> String {
        let entries: u64 = self.nodes.values().map(|s| s.entries).sum();
        let network: u64 = self.nodes.values().flat_map(|s| s.sent.values()).sum();
        let restarts: u64 = self.nodes.values().map(|s| s.kills).sum();
        let clean: u64 = self.nodes.values().map(|s| s.clean_restarts).sum();
        // Said only when there were any, after the rest (the line reads as before otherwise).
        let clean = if clean == 0 {
            String::new()
        } else {
            format!("; {clean} clean restarts (stop, then start)")
        };
        let per_entry = if entries == 0 {
            String::new()
        } else {
            format!(" ({:.2} per entry)", network as f64 / entries as f64)
        };
        format!(
            "run in {}: {} nodes, {entries} CS entries, {network} network messages{per_entry}, {restarts} restarts, re-votes: {}{clean}",
            dir.display(),
            self.nodes.len(),
            self.revotes()
        )
    }

    fn revotes(&self) -> String {
        let mut by_what: BTreeMap<&str, u64> = BTreeMap::new();
        for s in self.nodes.values() {
            for (what, n) in &s.revotes {
                *by_what.entry(what).or_default() += n;
            }
        }
        if by_what.is_empty() {
            "none".to_string()
        } else {
            by_what
                .iter()
                .map(|(w, n)| format!("{w} {n}"))
                .collect::<Vec<_>>()
                .join(", ")
        }
    }

    /// What each column counts, printed under the table.
    pub(super) const LEGEND: &'static str = "Request..Sync: network messages the node sent (to another node), by type; to itself: messages a node sent to itself (no network); msgs/entry: network messages about the node's own requests, whoever sent them, per entry (3(|Q|-1) without contention: Request, Grant, Release; 5(|Q|-1) with --handover fenced: Fence, Fenced too); restarts: starts after a process that logged no stop (a kill or a crash); clean restarts: starts after a process that logged stop (a clean stop, then a start); re-votes: revote lines the node wrote";
}

#[cfg(test)]
mod tests {
    use crate::logs::report::test_logs::{holder_and_waiter, restarted, HolderEnd};
    use crate::logs::report::{summary_report, Format, ReportError};

    #[test]
    fn the_summary_counts_entries_messages_revotes_and_restarts() {
        let dir = tempfile::tempdir().unwrap();
        restarted(dir.path());
        let md = summary_report(dir.path(), Format::Markdown).unwrap();
        let table: Vec<&str> = md.lines().filter(|l| l.starts_with('|')).collect();
        assert_eq!(
            table,
            [
                "| node | entries | mean wait ms | max wait ms | Request | Grant | Failed | Inquire | Yield | Release | Sync | to itself | msgs/entry | restarts | clean restarts | re-votes |",
                "|---|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|",
                "| 0 | 0 | - | - | 0 | 2 | 0 | 0 | 0 | 0 | 0 | 0 | - | 0 | 0 | 1 |",
                "| 1 | 2 | 1.500 | 2.000 | 2 | 0 | 0 | 0 | 0 | 0 | 0 | 0 | 2.00 | 1 | 0 | 0 |",
                "| all | 2 | 1.500 | 2.000 | 2 | 2 | 0 | 0 | 0 | 0 | 0 | 0 | 2.00 | 1 | 0 | 1 |",
            ],
            "{md}"
        );
        assert!(md.contains("1 restarts, re-votes: freed 1**"), "{md}");
        let text = summary_report(dir.path(), Format::Text).unwrap();
        assert!(
            text.lines()
                .nth(4)
                .unwrap()
                .starts_with("all         2         1.500        2.000"),
            "{text}"
        );
        let err = summary_report(dir.path(), Format::Mermaid).unwrap_err();
        assert!(matches!(err, ReportError::MermaidSummary));
        assert!(err.to_string().contains("add --node N --entry K"), "{err}");
    }

    /// Issue 12, item 4: node 1 stopped cleanly (`stop`) and started again: no restart after a
    /// kill, one clean restart; killed instead, it is the other way round.
    #[test]
    fn a_clean_stop_and_start_is_not_counted_as_a_restart() {
        let row = |md: &str, node: &str| -> Vec<String> {
            let line = md
                .lines()
                .find(|l| l.starts_with(&format!("| {node} |")))
                .unwrap_or_else(|| panic!("no row {node} in {md}"))
                .to_string();
            // restarts and clean restarts: the 3rd and 2nd cells from the end.
            let cells: Vec<String> = line.split(" | ").map(str::to_string).collect();
            cells[cells.len() - 3..cells.len() - 1].to_vec()
        };
        let dir = tempfile::tempdir().unwrap();
        holder_and_waiter(dir.path(), HolderEnd::Stopped);
        let md = summary_report(dir.path(), Format::Markdown).unwrap();
        assert_eq!(row(&md, "1"), ["0", "1"], "{md}");
        assert_eq!(row(&md, "all"), ["0", "1"], "{md}");
        assert!(
            md.contains("0 restarts, re-votes: none; 1 clean restarts (stop, then start)**"),
            "{md}"
        );

        holder_and_waiter(dir.path(), HolderEnd::Killed);
        let md = summary_report(dir.path(), Format::Markdown).unwrap();
        assert_eq!(row(&md, "1"), ["1", "0"], "{md}");
        assert!(md.contains("1 restarts, re-votes: freed 2**"), "{md}");
    }
}
