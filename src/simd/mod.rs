//! The whole daemon in a deterministic simulator (issue 25): N real `daemon::run` in one
//! current-thread tokio runtime whose time is paused and jumps to the next timer, over the
//! simulated network of [`net`] and the simulated disks of [`disk`], with seeded faults
//! ([`faults`]), lock sessions and `ctl` clients, and the checks of `checks` after every run.
//!
//! A seed decides everything: the delays, the faults, the clients' choices, the daemons'
//! workloads and (with `--cfg tokio_unstable`, set in `.cargo/config.toml`) the order in which
//! `tokio::select!` polls its branches, so a failing seed replays exactly
//! ([`SimdConfig::replay_command`]). The core's explorer and simulator check the protocol;
//! this checks the code that carries it out: the driver, the transport, the journal, the
//! sessions. This layer only starts, hurts and watches daemons; it changes none of their code.

mod checks;
mod clients;
mod cluster;
pub mod disk;
pub mod faults;
pub mod many;
pub mod net;
mod run;

pub use faults::{FaultCounts, FaultMix};
pub use run::run_seed;

use crate::daemon::Flaws;
use std::path::PathBuf;
use std::time::Duration;

/// One simulated run's settings: everything that, with the seed, decides what happens.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SimdConfig {
    /// Decides every draw of the run.
    pub seed: u64,
    /// Nodes in the cluster (grid quorums).
    pub nodes: usize,
    /// The daemons' `--lease-ms` (0: no leases).
    pub lease_ms: u64,
    /// Lock clients, each a loop of sessions at random nodes.
    pub clients: usize,
    /// How long faults are injected, in virtual time.
    pub fault_phase: Duration,
    /// How long the calm phase may take, in virtual time, before a node or client that got
    /// nothing counts as starved.
    pub calm_limit: Duration,
    /// Which faults.
    pub faults: FaultMix,
    /// Which defects the daemons carry (none for a real check).
    pub flaws: Flaws,
    /// Clients also take the semaphore `s` of limit 2 (its slots `s#1`, `s#2` are checked as
    /// locks); off by default, so that the seeds of earlier runs replay as they did.
    pub semaphores: bool,
}

impl SimdConfig {
    /// The defaults for `seed`: its node count and lease drawn from `nodes` and `leases`, so
    /// that a range of seeds covers them all.
    pub fn for_seed(seed: u64, nodes: &[usize], leases: &[u64]) -> SimdConfig {
        let mut rng = maekawa_core::rng::SplitMix64::new(seed ^ 0x5EED);
        let n = nodes[rng.below(nodes.len() as u64) as usize];
        let lease_ms = leases[rng.below(leases.len() as u64) as usize];
        SimdConfig {
            seed,
            nodes: n,
            lease_ms,
            clients: 3,
            fault_phase: Duration::from_millis(1000),
            calm_limit: Duration::from_secs(30),
            faults: FaultMix::default(),
            flaws: Flaws::default(),
            semaphores: false,
        }
    }

    /// The command that runs exactly this run again, keeping its logs.
    pub fn replay_command(&self) -> String {
        let mut cmd = format!(
            "maekawa simd --seed {} --nodes {} --lease-ms {} --clients {} --fault-ms {}",
            self.seed,
            self.nodes,
            self.lease_ms,
            self.clients,
            self.fault_phase.as_millis()
        );
        if self.faults.journal_loss {
            cmd.push_str(" --journal-loss");
        }
        if self.semaphores {
            cmd.push_str(" --semaphores");
        }
        for (on, name) in flaw_names(&self.flaws) {
            if on {
                cmd.push_str(&format!(" --flaw {name}"));
            }
        }
        cmd.push_str(&format!(" --keep-logs simd-{}", self.seed));
        cmd
    }
}

/// The defects by their command-line names.
pub fn flaw_names(f: &Flaws) -> [(bool, &'static str); 5] {
    [
        (f.ignore_lost_disk, "ignore-lost-disk"),
        (f.grant_before_sync, "grant-before-sync"),
        (f.renew_without_every_voter, "renew-without-every-voter"),
        (f.sessions_lifo, "sessions-lifo"),
        (f.drop_resend_on_reconnect, "drop-resend-on-reconnect"),
    ]
}

/// What one run did and found.
#[derive(Debug, Clone, Default)]
pub struct Outcome {
    /// Scheduled steps: deliveries on the network and faults injected.
    pub steps: u64,
    /// Entries of the emulated CS.
    pub cs_entries: u64,
    /// Entries of named locks.
    pub lock_entries: u64,
    /// What was injected.
    pub faults: FaultCounts,
    /// Virtual time the run took.
    pub virtual_time: Duration,
    /// Every check that failed, in words; empty when the run passed.
    pub violations: Vec<String>,
    /// Where the logs are, when kept.
    pub kept: Option<PathBuf>,
    /// A digest of every node log: equal for two runs of one seed when replay is exact.
    pub digest: u64,
}

impl Outcome {
    /// Whether every check held.
    pub fn passed(&self) -> bool {
        self.violations.is_empty()
    }
}

/// Why a run could not be carried out (as opposed to a check failing).
#[derive(Debug, thiserror::Error)]
pub enum SimdError {
    /// The run's directory or files.
    #[error("{path}: {source}")]
    Io {
        /// Which.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// The cluster file written for the run did not load.
    #[error(transparent)]
    Config(#[from] crate::config::ConfigError),
    /// A node could not be set up.
    #[error(transparent)]
    Node(#[from] crate::daemon::NodeError),
}
