//! What must hold after every simulated run: `maekawa check` on the logs the nodes wrote, the
//! client view (no token told twice for a lock; a session told `Acquired` after another
//! session of its lock stopped holding has a larger token), and each node's session FIFO (of
//! two sessions of one lock queued at one process, the first queued holds first).

use super::clients::Held;
use crate::config::Config;
use crate::logs::check;
use crate::node_event::{parse_line, NodeEvent};
use maekawa_core::id::NodeId;
use std::collections::BTreeMap;
use std::path::Path;

/// What the checks found.
#[derive(Debug, Default)]
pub(super) struct Findings {
    /// Every violation, in words.
    pub(super) violations: Vec<String>,
    /// Entries of the emulated CS.
    pub(super) cs_entries: u64,
    /// Entries of named locks.
    pub(super) lock_entries: u64,
}

/// Runs every check on the run in `dir`.
pub(super) fn check_run(dir: &Path, config: &Config, held: &[Held]) -> Findings {
    let mut found = Findings::default();
    match check::check(dir, config) {
        Ok(report) => {
            found.cs_entries = report.entries;
            found.lock_entries = report.named_locks.values().map(|l| l.entries).sum();
            found
                .violations
                .extend(report.violations.iter().map(|v| format!("check: {v}")));
        }
        Err(e) => found.violations.push(format!("check could not run: {e}")),
    }
    client_view(held, &mut found.violations);
    for id in config.ids() {
        session_fifo(dir, id, &mut found.violations);
    }
    found
}

/// No token told twice for a lock; a session told after another stopped holding has a larger
/// token.
fn client_view(held: &[Held], out: &mut Vec<String>) {
    let mut by_lock: BTreeMap<&str, Vec<&Held>> = BTreeMap::new();
    for h in held {
        by_lock.entry(h.lock.as_str()).or_default().push(h);
    }
    for (lock, hs) in by_lock {
        let mut seen: BTreeMap<u64, &Held> = BTreeMap::new();
        for h in &hs {
            if let Some(other) = seen.insert(h.token, h) {
                out.push(format!(
                    "client view: lock {lock} token {} told to client {} (node {}) and client {} (node {})",
                    h.token, other.client, other.node, h.client, h.node
                ));
            }
        }
        for b in &hs {
            let stale = hs.iter().find(|a| {
                !std::ptr::eq(*a, b)
                    && a.until.is_some_and(|until| until <= b.from)
                    && a.token >= b.token
            });
            if let Some(a) = stale {
                out.push(format!(
                    "client view: lock {lock}: client {} (node {}) was told token {} after client {} (node {}) had held token {} and let go",
                    b.client, b.node, b.token, a.client, a.node, a.token
                ));
            }
        }
    }
}

/// Within each process of node `id` (between its `start` lines), sessions of one lock hold in
/// the order they asked: tokens follow the order of the `session_acquire` lines.
fn session_fifo(dir: &Path, id: NodeId, out: &mut Vec<String>) {
    let Ok(text) = std::fs::read_to_string(crate::logdir::node_log(dir, id)) else {
        return;
    };
    // Per lock: the order sessions asked in, and the token each held.
    let mut asked: BTreeMap<String, Vec<u64>> = BTreeMap::new();
    let mut tokens: BTreeMap<(String, u64), u64> = BTreeMap::new();
    let mut process = 0;
    let mut judge = |asked: &mut BTreeMap<String, Vec<u64>>,
                     tokens: &mut BTreeMap<(String, u64), u64>,
                     process: u32| {
        for (lock, order) in std::mem::take(asked) {
            let held: Vec<(u64, u64)> = order
                .iter()
                .filter_map(|s| tokens.get(&(lock.clone(), *s)).map(|t| (*s, *t)))
                .collect();
            if let Some(w) = held.windows(2).find(|w| w[0].1 > w[1].1) {
                out.push(format!(
                    "session FIFO: node {id} (process {process}), lock {lock}: session {} asked before session {} but held token {} after token {}",
                    w[0].0, w[1].0, w[0].1, w[1].1
                ));
            }
        }
        tokens.clear();
    };
    // Only these lines matter here; the rest need not be parsed.
    let wanted = ["\"start\"", "\"session_acquire\"", "\"session_release\""];
    for line in text.lines() {
        if !wanted.iter().any(|w| line.contains(w)) {
            continue;
        }
        let Ok(line) = parse_line(line) else { continue };
        match line.event {
            NodeEvent::Start { .. } => {
                judge(&mut asked, &mut tokens, process);
                process += 1;
            }
            NodeEvent::SessionAcquire { session, lock, .. } => {
                asked
                    .entry(lock.as_str().to_string())
                    .or_default()
                    .push(session);
            }
            NodeEvent::SessionRelease {
                session,
                lock,
                token,
                ..
            } => {
                tokens.insert((lock.as_str().to_string(), session), token);
            }
            _ => {}
        }
    }
    judge(&mut asked, &mut tokens, process);
}
