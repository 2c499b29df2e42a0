//! Exhaustive checking: every reachable state of a small cluster, under every delivery order
//! and every moment at which nodes request or leave the CS.
//!
//! A depth-first search over [`Cluster`] states, deduplicated by a 128-bit fingerprint of the
//! whole state (XXH3-128; with tens of millions of states the chance of a collision hiding a
//! state is below 2^-70). Safety is checked in every state; every state with
//! no possible step must be the finished one (all requests served, nothing in flight, no vote
//! held or queued), otherwise it is a deadlock or a vote leak. A failure carries the path of
//! steps from the start, replayed into a readable trace. Random schedules ([`crate::sim`]) cover
//! big clusters; this covers small ones completely.

use crate::cluster::{ChangeModel, Cluster, CrashModel, Step, MAX_TIME};
use crate::protocol::Options;
use std::collections::HashSet;
use std::fmt;
use std::hash::{BuildHasherDefault, Hash, Hasher};

/// Which cluster to explore.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ExploreConfig {
    /// Cluster size (grid quorums).
    pub nodes: usize,
    /// CS requests each node makes.
    pub requests: u32,
    /// Core switches (turned off only to prove the checker finds bugs).
    pub options: Options,
    /// Give up (as a failure) past this many distinct states.
    pub max_states: u64,
    /// Let self-messages wait on the self-link (many more interleavings) instead of handling
    /// them within the step that sent them, as the daemon does.
    pub queued_self: bool,
    /// Crash-restarts allowed, and whether voters journal their lock.
    pub crash: CrashModel,
    /// Lock names the nodes take turns asking for (1: just `cs`).
    pub locks: usize,
    /// Withdrawals of a waiting request allowed, at any moment.
    pub cancels: u32,
    /// A membership change made during the run.
    pub change: ChangeModel,
}

/// What an exhaustive run covered.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ExploreReport {
    /// Distinct states reached (the initial one included).
    pub states: u64,
    /// Steps taken between states (including ones leading to known states).
    pub transitions: u64,
    /// States with no possible step (all of them the finished state's kind).
    pub terminal: u64,
    /// Longest path from the initial state.
    pub max_depth: usize,
}

impl fmt::Display for ExploreReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} states, {} transitions, {} terminal states, longest path {} steps",
            self.states, self.transitions, self.terminal, self.max_depth
        )
    }
}

/// An invariant broken in some reachable state, with the steps that reach it.
#[derive(Clone, Debug)]
pub struct ExploreFailure {
    /// What went wrong.
    pub what: String,
    /// The steps from the initial state, one readable line each.
    pub trace: Vec<String>,
    /// The state in which it went wrong.
    pub state: String,
    /// States explored before it was found.
    pub states: u64,
}

impl fmt::Display for ExploreFailure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(
            f,
            "exhaustive check failed after {} states: {}",
            self.states, self.what
        )?;
        writeln!(f, "trace ({} steps):", self.trace.len())?;
        for (i, line) in self.trace.iter().enumerate() {
            writeln!(f, "  {:>3}. {line}", i + 1)?;
        }
        write!(f, "state:\n{}", self.state)
    }
}

impl std::error::Error for ExploreFailure {}

/// Serializes a state through its `Hash` impl into a reused buffer, then hashes the bytes in
/// one pass (much cheaper than feeding a streaming hasher many tiny writes).
fn fingerprint(cluster: &Cluster, buf: &mut ByteSink) -> u128 {
    buf.0.clear();
    cluster.hash(buf);
    xxhash_rust::xxh3::xxh3_128(&buf.0)
}

#[derive(Default)]
struct ByteSink(Vec<u8>);

impl Hasher for ByteSink {
    fn finish(&self) -> u64 {
        unreachable!("only used to collect bytes")
    }
    fn write(&mut self, bytes: &[u8]) {
        self.0.extend_from_slice(bytes);
    }
}

/// The fingerprints are already uniformly random: the set needs no second hash of them.
#[derive(Default)]
struct FingerprintHasher(u64);

impl Hasher for FingerprintHasher {
    fn finish(&self) -> u64 {
        self.0
    }
    fn write(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.0 = self.0.rotate_left(8) ^ u64::from(b);
        }
    }
    fn write_u128(&mut self, n: u128) {
        self.0 = n as u64;
    }
}

type FingerprintSet = HashSet<u128, BuildHasherDefault<FingerprintHasher>>;

struct Frame {
    cluster: Cluster,
    enabled: Vec<Step>,
    next: usize,
}

/// Explores every reachable state; `Err` on the first violation found.
pub fn explore(cfg: &ExploreConfig) -> Result<ExploreReport, Box<ExploreFailure>> {
    let start = Cluster::with_locks(
        cfg.nodes,
        cfg.requests,
        cfg.locks,
        cfg.options,
        cfg.queued_self,
        cfg.crash,
    )
    .with_cancels(cfg.cancels)
    .with_change(cfg.change)
    .with_time_limit(MAX_TIME);
    let mut seen = FingerprintSet::default();
    let mut report = ExploreReport::default();
    let mut stack: Vec<Frame> = Vec::new();

    let fail = |stack: &[Frame], what: String, cluster: &Cluster, states: u64| {
        let path: Vec<Step> = stack.iter().map(|f| f.enabled[f.next - 1]).collect();
        Box::new(ExploreFailure {
            what,
            trace: replay(cfg, &path),
            state: cluster.describe(),
            states,
        })
    };

    let mut buf = ByteSink::default();
    seen.insert(fingerprint(&start, &mut buf));
    report.states = 1;
    let mut enabled = Vec::new();
    start.enabled(&mut enabled);
    stack.push(Frame {
        cluster: start,
        enabled,
        next: 0,
    });

    while let Some(top) = stack.last_mut() {
        if top.next == top.enabled.len() {
            if top.enabled.is_empty() {
                report.terminal += 1;
                let cluster = &top.cluster;
                let problem = if cluster.out_of_time() || cluster.floor_out_of_reach() {
                    // Cut short by the model's time bound, or a lost disk's floor witnesses all
                    // died: not stuck.
                    None
                } else if cluster.is_finished() {
                    cluster.check_no_vote_leak().err().map(|v| v.to_string())
                } else {
                    Some("deadlock: no step is possible but requests are unserved".to_string())
                };
                if let Some(what) = problem {
                    let cluster = top.cluster.clone();
                    stack.pop();
                    return Err(fail(&stack, what, &cluster, report.states));
                }
            }
            stack.pop();
            continue;
        }
        let step = top.enabled[top.next];
        top.next += 1;
        let mut next = top.cluster.clone();
        next.apply(step);
        report.transitions += 1;
        if !seen.insert(fingerprint(&next, &mut buf)) {
            continue;
        }
        report.states += 1;
        if let Err(what) = next.check_safety() {
            return Err(fail(&stack, what.to_string(), &next, report.states));
        }
        if report.states > cfg.max_states {
            return Err(fail(
                &stack,
                format!("more than {} states: raise the limit", cfg.max_states),
                &next,
                report.states,
            ));
        }
        let mut enabled = Vec::new();
        next.enabled(&mut enabled);
        stack.push(Frame {
            cluster: next,
            enabled,
            next: 0,
        });
        report.max_depth = report.max_depth.max(stack.len() - 1);
    }
    Ok(report)
}

/// Replays `path` from the initial state into one line per step, naming the message delivered
/// and what it caused.
fn replay(cfg: &ExploreConfig, path: &[Step]) -> Vec<String> {
    let mut cluster = Cluster::with_locks(
        cfg.nodes,
        cfg.requests,
        cfg.locks,
        cfg.options,
        cfg.queued_self,
        cfg.crash,
    )
    .with_cancels(cfg.cancels)
    .with_change(cfg.change)
    .with_time_limit(MAX_TIME);
    path.iter()
        .map(|&step| {
            let effect = cluster.apply(step);
            let mut line = match effect.delivered {
                Some(m) => format!("{step}: {} {}", m.kind, m.req),
                None => step.to_string(),
            };
            if !effect.sent.is_empty() {
                let sent: Vec<String> = effect
                    .sent
                    .iter()
                    .map(|(to, m)| format!("{} {} ->{to}", m.kind, m.req))
                    .collect();
                line.push_str(&format!("  => sends {}", sent.join(", ")));
            }
            if let (Some(r), Some((lock, token))) = (effect.entered, effect.entered_lock) {
                let name = &cluster.lock_names()[lock];
                line.push_str(&format!("  => ENTERS lock {name} with {r}, token {token}"));
            }
            line
        })
        .collect()
}
