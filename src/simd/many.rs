//! Many seeds at once: consecutive seeds spread over worker threads, each run in its own
//! temporary directory (kept when the run fails), their figures added up.

use super::{run_seed, FaultCounts, Outcome, SimdConfig, SimdError};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;
use std::time::Duration;

/// Which seeds, and how each run is set up.
#[derive(Debug, Clone)]
pub struct Sweep {
    /// The first seed.
    pub first: u64,
    /// How many consecutive seeds.
    pub count: u64,
    /// Cluster sizes a seed draws from.
    pub nodes: Vec<usize>,
    /// Lease terms a seed draws from.
    pub leases: Vec<u64>,
    /// Everything else of each run (its seed, size and lease are the seed's).
    pub template: SimdConfig,
    /// Worker threads.
    pub threads: usize,
    /// Stop starting seeds after this many failures.
    pub max_failures: usize,
}

impl Sweep {
    /// The configuration of seed `seed`.
    pub fn config(&self, seed: u64) -> SimdConfig {
        let drawn = SimdConfig::for_seed(seed, &self.nodes, &self.leases);
        SimdConfig {
            seed,
            nodes: drawn.nodes,
            lease_ms: drawn.lease_ms,
            ..self.template.clone()
        }
    }
}

/// The sum of a sweep's runs.
#[derive(Debug, Default)]
pub struct Totals {
    /// Seeds run.
    pub seeds: u64,
    /// Scheduled steps (network deliveries and faults).
    pub steps: u64,
    /// Entries of the emulated CS.
    pub cs_entries: u64,
    /// Entries of named locks.
    pub lock_entries: u64,
    /// Faults injected.
    pub faults: FaultCounts,
    /// Virtual time simulated.
    pub virtual_time: Duration,
    /// The runs that failed, with their configuration (their logs kept).
    pub failures: Vec<(SimdConfig, Outcome)>,
}

impl Totals {
    fn add(&mut self, cfg: SimdConfig, o: Outcome) {
        self.seeds += 1;
        self.steps += o.steps;
        self.cs_entries += o.cs_entries;
        self.lock_entries += o.lock_entries;
        self.faults.add(&o.faults);
        self.virtual_time += o.virtual_time;
        if !o.passed() {
            self.failures.push((cfg, o));
        }
    }
}

/// Runs every seed of `sweep`; `progress` is called after each run with the count done.
pub fn run_many(sweep: &Sweep, progress: &(dyn Fn(u64) + Sync)) -> Result<Totals, SimdError> {
    let next = AtomicU64::new(0);
    let done = AtomicU64::new(0);
    let totals = Mutex::new(Totals::default());
    let error: Mutex<Option<SimdError>> = Mutex::new(None);
    let failed = |t: &Mutex<Totals>| t.lock().map_or(0, |t| t.failures.len());
    std::thread::scope(|scope| {
        for _ in 0..sweep.threads.max(1) {
            scope.spawn(|| loop {
                let i = next.fetch_add(1, Ordering::SeqCst);
                if i >= sweep.count || failed(&totals) >= sweep.max_failures {
                    return;
                }
                if error.lock().map_or(true, |e| e.is_some()) {
                    return;
                }
                let cfg = sweep.config(sweep.first + i);
                match run_kept_on_failure(&cfg) {
                    Ok(o) => {
                        if let Ok(mut t) = totals.lock() {
                            t.add(cfg, o);
                        }
                    }
                    Err(e) => {
                        if let Ok(mut slot) = error.lock() {
                            slot.get_or_insert(e);
                        }
                    }
                }
                progress(done.fetch_add(1, Ordering::SeqCst) + 1);
            });
        }
    });
    if let Some(e) = error.into_inner().unwrap_or_else(|e| e.into_inner()) {
        return Err(e);
    }
    let mut totals = totals.into_inner().unwrap_or_else(|e| e.into_inner());
    totals.failures.sort_by_key(|(c, _)| c.seed);
    Ok(totals)
}

/// One run in a temporary directory (in memory under /dev/shm where there is one: the runs
/// create and delete many small files), copied to the system's temporary directory and named
/// in the outcome when a check failed.
pub fn run_kept_on_failure(cfg: &SimdConfig) -> Result<Outcome, SimdError> {
    let io = |path: PathBuf| move |source| SimdError::Io { path, source };
    let shm = Path::new("/dev/shm");
    let root = if shm.is_dir() {
        shm.to_path_buf()
    } else {
        std::env::temp_dir()
    };
    let prefix = format!("simd-{}-", cfg.seed);
    let dir = tempfile::Builder::new()
        .prefix(&prefix)
        .tempdir_in(&root)
        .or_else(|_| tempfile::Builder::new().prefix(&prefix).tempdir())
        .map_err(io(root))?;
    let mut outcome = run_seed(cfg, dir.path())?;
    if !outcome.passed() {
        let kept = tempfile::Builder::new()
            .prefix(&prefix)
            .tempdir()
            .map_err(io(std::env::temp_dir()))?
            .keep();
        for entry in std::fs::read_dir(dir.path()).map_err(io(dir.path().to_path_buf()))? {
            let from = entry.map_err(io(dir.path().to_path_buf()))?.path();
            if let Some(name) = from.file_name() {
                std::fs::copy(&from, kept.join(name)).map_err(io(from.clone()))?;
            }
        }
        outcome.kept = Some(kept);
    }
    Ok(outcome)
}
