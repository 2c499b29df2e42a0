//! What a check found ([`CheckReport`]) and how `maekawa check` prints it: the one-line
//! summary, the fencing-token lines of a passing run, the first violations of a failing one.
//!
//! This module only counts and renders; the checkers decide what is a violation.

use super::named::LockStats;
use super::violation::Violation;
use maekawa_core::id::NodeId;
use std::collections::BTreeMap;
use std::fmt;

/// How many violations [`CheckReport`]'s `Display` prints after the summary.
pub const SHOWN_VIOLATIONS: usize = 20;

/// What a check found. The run is correct exactly when `violations` is empty.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CheckReport {
    /// Distinct nodes that wrote to the CS log (a `start` or an `enter`).
    pub nodes: usize,
    /// `enter` lines in the CS log.
    pub entries: u64,
    /// Entries per node: every node of the config (0 if it never entered) and any other node
    /// seen in the log.
    pub entries_per_node: BTreeMap<NodeId, u64>,
    /// `start` lines in the CS log.
    pub starts: u64,
    /// Node logs found and checked; a node without one escapes the grant and entry checks.
    pub node_logs: Vec<NodeId>,
    /// `enter` lines of the CS log that carry a fencing token (0 in a log from before tokens).
    pub cs_tokens: u64,
    /// The smallest and the largest of those tokens.
    pub cs_token_range: Option<(u64, u64)>,
    /// Named locks (other than `cs`) that have entries in the node logs, with what was checked.
    pub named_locks: BTreeMap<String, LockStats>,
    /// Every broken rule, in the order found, each naming its file and line.
    pub violations: Vec<Violation>,
}

impl CheckReport {
    /// True when the logs show no broken rule.
    pub fn passed(&self) -> bool {
        self.violations.is_empty()
    }

    /// One line for the terminal; the violations themselves are in `Display`.
    pub fn summary(&self) -> String {
        if self.passed() {
            let per_node = self
                .entries_per_node
                .iter()
                .map(|(n, c)| format!("{n}: {c}"))
                .collect::<Vec<_>>()
                .join(", ");
            format!(
                "check passed: {} nodes, {} CS entries ({per_node}), {} starts, {} node logs, 0 violations",
                self.nodes,
                self.entries,
                self.starts,
                self.node_logs.len()
            )
        } else {
            let named = if self.named_locks.is_empty() {
                String::new()
            } else {
                format!(" and {}", self.named_entries())
            };
            format!(
                "check FAILED: {} violation{} in {} CS entries{named}",
                self.violations.len(),
                if self.violations.len() == 1 { "" } else { "s" },
                self.entries
            )
        }
    }

    /// "21 entries of 2 named locks".
    fn named_entries(&self) -> String {
        let entries: u64 = self.named_locks.values().map(|s| s.entries).sum();
        let locks = self.named_locks.len();
        format!(
            "{entries} entr{} of {locks} named lock{}",
            if entries == 1 { "y" } else { "ies" },
            if locks == 1 { "" } else { "s" }
        )
    }

    /// What a passing check says about fencing tokens: of `cs`, then of the named locks.
    pub fn token_lines(&self) -> [String; 2] {
        let cs = match self.cs_token_range {
            None => "fencing tokens of cs: none in critical_section.log (a run from before fencing tokens, or no entry): not checked".to_string(),
            Some((lo, hi)) if self.cs_tokens == self.entries => format!(
                "fencing tokens of cs: {} entries, tokens {lo}..={hi}, increasing",
                self.cs_tokens
            ),
            Some((lo, hi)) => format!(
                "fencing tokens of cs: {} of {} entries carry one (the others were written before fencing tokens), tokens {lo}..={hi}, increasing",
                self.cs_tokens, self.entries
            ),
        };
        let named = if self.named_locks.is_empty() {
            "named locks: none in the node logs".to_string()
        } else {
            const SHOWN: usize = 5;
            let mut each: Vec<String> = self
                .named_locks
                .iter()
                .take(SHOWN)
                .map(|(lock, s)| {
                    format!(
                        "{lock} ({} entr{}, tokens {}..={})",
                        s.entries,
                        if s.entries == 1 { "y" } else { "ies" },
                        s.tokens.0,
                        s.tokens.1
                    )
                })
                .collect();
            if self.named_locks.len() > SHOWN {
                each.push(format!("... {} more", self.named_locks.len() - SHOWN));
            }
            format!(
                "named locks: {} checked, no overlap, tokens increasing: {}",
                self.named_entries(),
                each.join(", ")
            )
        };
        [cs, named]
    }
}

/// The summary, then the first [`SHOWN_VIOLATIONS`] violations, one per line.
impl fmt::Display for CheckReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.summary())?;
        if self.passed() {
            for line in self.token_lines() {
                write!(f, "\n  {line}")?;
            }
        }
        for v in self.violations.iter().take(SHOWN_VIOLATIONS) {
            write!(f, "\n  {v}")?;
        }
        if self.violations.len() > SHOWN_VIOLATIONS {
            write!(
                f,
                "\n  ... and {} more",
                self.violations.len() - SHOWN_VIOLATIONS
            )?;
        }
        Ok(())
    }
}
