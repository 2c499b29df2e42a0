//! What `maekawa node` was told to do: the parsed, validated settings of one daemon.
//!
//! Plain data, shared by the CLI that fills it and the driver that follows it; nothing here
//! acts.

use super::env::Env;
use crate::config::Config;
use maekawa_core::id::NodeId;
use maekawa_core::rng::SplitMix64;
use std::fmt;
use std::path::PathBuf;
use std::str::FromStr;
use std::time::Duration;

/// When the node asks for the CS.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum Workload {
    /// Request again after a random think time.
    Auto,
    /// Request only when told to, by `maekawa ctl request`.
    Manual,
}

/// A range of milliseconds `A..B` (inclusive) from which a random duration is drawn.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct MsRange {
    /// Shortest.
    pub lo: u64,
    /// Longest.
    pub hi: u64,
}

impl MsRange {
    pub(crate) fn draw(&self, rng: &mut SplitMix64) -> Duration {
        Duration::from_millis(rng.between(self.lo, self.hi))
    }
}

impl fmt::Display for MsRange {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}..{}", self.lo, self.hi)
    }
}

/// Why a text is not an [`MsRange`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MsRangeError {
    /// Not `A..B` or `A` with numbers.
    #[error("'{0}' is not a range of milliseconds: write A..B (e.g. 50..300) or A")]
    NotARange(String),
    /// `A` is above `B`.
    #[error("'{0}': the lower bound is above the upper one")]
    Reversed(String),
}

impl FromStr for MsRange {
    type Err = MsRangeError;
    fn from_str(s: &str) -> Result<MsRange, MsRangeError> {
        let bad = || MsRangeError::NotARange(s.to_string());
        let (lo, hi) = match s.split_once("..") {
            Some((a, b)) => (a.trim(), b.trim()),
            None => (s.trim(), s.trim()),
        };
        let lo: u64 = lo.parse().map_err(|_| bad())?;
        let hi: u64 = hi.parse().map_err(|_| bad())?;
        if lo > hi {
            return Err(MsRangeError::Reversed(s.to_string()));
        }
        Ok(MsRange { lo, hi })
    }
}

/// Everything `maekawa node` needs, parsed and validated.
#[derive(Debug, Clone)]
pub struct NodeSettings {
    /// This node.
    pub id: NodeId,
    /// The cluster.
    pub config: Config,
    /// Where `node-<id>.log` and `critical_section.log` go.
    pub log_dir: PathBuf,
    /// When to request.
    pub workload: Workload,
    /// Pause between leaving the CS (or starting) and asking again.
    pub think: MsRange,
    /// Time spent in the CS.
    pub hold: MsRange,
    /// Stop requesting after this many entries (keep voting).
    pub max_entries: Option<u64>,
    /// A peer not heard from for this long is suspected; idle links carry a heartbeat every
    /// quarter of it.
    pub suspect_after: Duration,
    /// Test-only: run the voter without its journal and without the safeguards of a lost
    /// journal, to show that a restarted voter then grants twice and `maekawa check` catches
    /// it. Never for real use.
    pub unsafe_no_journal: bool,
    /// The lease term in milliseconds (0: no leases, Maekawa's votes without time, which a
    /// dead holder blocks forever). See DESIGN.md, "Leases and reclaiming votes".
    pub lease_ms: u64,
    /// How long after a holder last confirmed its lease a voter may reclaim its vote, once
    /// the holder is suspected: more than `lease_ms` by a margin for clock-rate drift.
    pub reclaim_ms: u64,
    /// How an entry confirms its fencing token with leases on (`--handover`).
    pub handover: Handover,
    /// Journal every vote before its GRANT leaves, also with leases (`--journal-votes`);
    /// without, a restarted voter forgets its votes and grants nothing for `reclaim_ms`.
    pub journal_votes: bool,
    /// Mutual TLS or plaintext, for the server and the peer links ([`crate::tls`]).
    pub security: crate::tls::Security,
    /// Why this node runs in plaintext, logged as a warning at start (`None` under TLS).
    pub plaintext_warning: Option<String>,
    /// Connections served at once ([`crate::daemon::limits`]).
    pub max_connections: usize,
    /// Whether every message gets a `send` and a `recv` line (`--log-messages all`).
    pub log_messages: bool,
    /// The node log's rotation: (bytes per file, 0 for never; rotated files kept).
    pub log_rotation: (u64, usize),
    /// Where to serve `GET /metrics` (Prometheus), if anywhere: off unless asked for, since it
    /// is plain HTTP without authentication ([`crate::daemon::metrics`]).
    pub metrics_addr: Option<String>,
    /// The clock, disk and seed the node takes from outside ([`Env::real`] for a process).
    pub env: Env,
    /// The cluster configuration to start from when the node has none of its own
    /// (`node-<id>.cluster.json`): `None` for `config` itself; a node joining the cluster
    /// (`--listen`, not in the file) gets the file's, without itself.
    pub membership: Option<crate::daemon::membership::Membership>,
}

/// How an entry confirms its fencing token with its voters when leases are on (DESIGN.md,
/// "Fast grants"): the choice stays selectable until the fast hand-over wins on every figure
/// (issue 26).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, clap::ValueEnum)]
pub enum Handover {
    /// Each GRANT confirms the request's timestamp as its token when it can: the entry then
    /// needs no Fence round (RELEASE, GRANT: two message delays).
    #[default]
    Fast,
    /// Every entry confirms its token with a Fence round after its last GRANT (issue 14: four
    /// message delays).
    Fenced,
}

impl Handover {
    /// The flag's value (`fast`, `fenced`), as `--handover` takes it.
    pub fn name(self) -> &'static str {
        match self {
            Handover::Fast => "fast",
            Handover::Fenced => "fenced",
        }
    }
}
