//! What a node takes from the world besides its network: the wall clock that stamps its log
//! lines, the durability of its files (fsync and the renames that make a write atomic), the
//! seed of its workload's randomness, and (for the simulator only) defects to inject.
//!
//! A real node uses [`Env::real`]. The simulated cluster (`crate::simd`) passes a virtual
//! clock that follows tokio's paused time and a [`Storage`] that records what a machine crash
//! would keep instead of calling fsync, so that many daemons run in one process, fast and
//! replayable by seed. This module decides nothing about the protocol and never blocks.

use std::fmt;
use std::fs::File;
use std::io;
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

/// Everything [`crate::daemon::run`] takes from outside besides its listener and connector.
#[derive(Clone, Debug)]
pub struct Env {
    /// Stamps log lines and lease ends.
    pub clock: Clock,
    /// Makes files durable.
    pub storage: Arc<dyn Storage>,
    /// Seeds the automatic workload's think and hold times.
    pub seed: u64,
    /// The process id the `start` line names (a simulated node has none: 0).
    pub pid: u32,
    /// Defects to inject, all off in real use.
    pub flaws: Flaws,
}

impl Env {
    /// The process's own clock and disk, its workload seeded from its process id.
    pub fn real() -> Env {
        Env {
            clock: Clock::System,
            storage: Arc::new(OsStorage),
            seed: u64::from(std::process::id()),
            pid: std::process::id(),
            flaws: Flaws::default(),
        }
    }
}

/// Wall time for log lines. Timers never read it: they use tokio's clock, which a simulator
/// pauses and advances; the virtual clock follows that one so that both agree.
#[derive(Clone, Copy, Debug)]
pub enum Clock {
    /// The system's clock.
    System,
    /// `epoch` plus the time tokio's clock has advanced since `origin`: what a simulated
    /// cluster's nodes all read, the same on every replay of a seed.
    Virtual {
        /// The wall time at `origin`.
        epoch: SystemTime,
        /// The tokio instant that `epoch` stands for.
        origin: tokio::time::Instant,
    },
}

impl Clock {
    /// The wall time now.
    pub fn now(&self) -> SystemTime {
        match self {
            Clock::System => SystemTime::now(),
            Clock::Virtual { epoch, origin } => *epoch + origin.elapsed(),
        }
    }
}

/// How a file's writes become durable: the operating system's fsync, or a simulator's record
/// of what a machine crash would keep. A write is durable after [`Storage::sync_file`]; a
/// rename after [`Storage::sync_dir`] of its directory.
pub trait Storage: Send + Sync + fmt::Debug {
    /// Makes every write to `file` (at `path`) so far durable: its data, and its size
    /// (`fdatasync`), what an appended record needs.
    fn sync_file(&self, file: &File, path: &Path) -> io::Result<()>;
    /// Makes a new file whole durable, metadata too (`fsync`), before it is renamed into
    /// place.
    fn sync_new_file(&self, file: &File, path: &Path) -> io::Result<()> {
        self.sync_file(file, path)
    }
    /// Renames `from` to `to` (atomically; durable only after [`Storage::sync_dir`]).
    fn rename(&self, from: &Path, to: &Path) -> io::Result<()>;
    /// Makes the entries of the directory holding `path` (creations, renames) durable.
    fn sync_dir(&self, path: &Path) -> io::Result<()>;
    /// `None`: the journal's sync before a GRANT is a real fsync, run on a blocking thread.
    /// `Some(d)`: simulated, it takes `d` of tokio's (virtual) time.
    fn sync_delay(&self) -> Option<Duration>;
}

/// The operating system's file system.
#[derive(Debug, Clone, Copy, Default)]
pub struct OsStorage;

impl Storage for OsStorage {
    fn sync_file(&self, file: &File, _path: &Path) -> io::Result<()> {
        file.sync_data()
    }

    fn sync_new_file(&self, file: &File, _path: &Path) -> io::Result<()> {
        file.sync_all()
    }

    fn rename(&self, from: &Path, to: &Path) -> io::Result<()> {
        std::fs::rename(from, to)
    }

    fn sync_dir(&self, path: &Path) -> io::Result<()> {
        let dir = match path.parent() {
            Some(d) if !d.as_os_str().is_empty() => d,
            _ => Path::new("."),
        };
        File::open(dir)?.sync_all()
    }

    fn sync_delay(&self) -> Option<Duration> {
        None
    }
}

/// Defects the simulated cluster must catch (issue 25), each a flag so that a test can show
/// the checks are not vacuous. All off in real use; no command line sets them.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Flaws {
    /// GRANTs (and everything after the batch's first lock change) leave before the journal
    /// sync that protects them.
    pub grant_before_sync: bool,
    /// The next waiting session of a lock is the newest, not the oldest.
    pub sessions_lifo: bool,
    /// A link that reconnects forgets what it had sent but not yet seen acknowledged.
    pub drop_resend_on_reconnect: bool,
    /// A lease renewal counts once one voter (usually the holder itself) confirmed it, not
    /// every voter.
    pub renew_without_every_voter: bool,
    /// A node whose journal is gone grants at once: no quiet period, no token floor learned
    /// from its peers (as `--unsafe-no-journal` does).
    pub ignore_lost_disk: bool,
}

impl Flaws {
    /// Whether any defect is on.
    pub fn any(&self) -> bool {
        *self != Flaws::default()
    }
}
