//! `maekawa simd`: run whole daemons (driver, transport, journal, sessions) in the
//! deterministic simulator on seeded faults, check every run, and print the totals or each
//! failing seed with the command that replays it.

use clap::Args;
use maekawa::daemon::Flaws;
use maekawa::simd::many::{run_many, Sweep};
use maekawa::simd::{run_seed, FaultMix, Outcome, SimdConfig};
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::{Duration, Instant};

/// Flags of `maekawa simd`.
#[derive(Args, Debug)]
pub(crate) struct SimdArgs {
    /// The (first) seed; every draw of a run follows from it.
    #[arg(long, default_value_t = 1)]
    seed: u64,
    /// How many consecutive seeds to run from --seed.
    #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(u64).range(1..))]
    seeds: u64,
    /// Cluster sizes; each seed draws one (3..=9 by default).
    #[arg(long, value_delimiter = ',', default_value = "3,4,5,6,7,8,9",
          value_parser = clap::value_parser!(u64).range(2..=25))]
    nodes: Vec<u64>,
    /// Lease terms in ms (0: no leases); each seed draws one.
    #[arg(long, value_delimiter = ',', default_value = "0,300,1000")]
    lease_ms: Vec<u64>,
    /// Lock clients per run.
    #[arg(long, default_value_t = 3)]
    clients: usize,
    /// Virtual milliseconds of faults per run (a calm phase that must make progress follows).
    #[arg(long, default_value_t = 1000)]
    fault_ms: u64,
    /// Also restart some killed nodes with their disk lost (journal and incarnation file gone),
    /// with leases: they recall their incarnation, wait out the leases of the votes they forgot
    /// and learn their token floor from their peers.
    #[arg(long)]
    journal_loss: bool,
    /// Clients also take a semaphore of limit 2 (`s`): each slot (`s#1`, `s#2`) is checked as
    /// a lock, so no slot has two holders and each slot's tokens grow.
    #[arg(long)]
    semaphores: bool,
    /// Inject a defect the checks must catch (repeatable).
    #[arg(long, value_enum)]
    flaw: Vec<FlawArg>,
    /// Run the one seed --seed in DIR (created; must be empty) and keep its logs there; a
    /// failing seed of a sweep prints this for itself.
    #[arg(long, value_name = "DIR")]
    keep_logs: Option<PathBuf>,
    /// Worker threads (defaults to the number of cores).
    #[arg(long)]
    threads: Option<usize>,
    /// Stop starting seeds after this many failed (a soak that should count them all sets it
    /// high).
    #[arg(long, default_value_t = 10, value_parser = clap::value_parser!(u64).range(1..))]
    max_failures: u64,
}

/// The defects of [`Flaws`], as flag values.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
enum FlawArg {
    /// GRANTs leave before the journal sync that protects them.
    GrantBeforeSync,
    /// A lease renewal counts with one voter's confirmation, not every voter's.
    RenewWithoutEveryVoter,
    /// The newest waiting session of a lock is served first.
    SessionsLifo,
    /// A reconnecting link forgets what it had not seen acknowledged.
    DropResendOnReconnect,
    /// A node whose disk was lost grants at once (no quiet period, no floor from peers).
    IgnoreLostDisk,
}

fn flaws(args: &[FlawArg]) -> Flaws {
    let mut f = Flaws::default();
    for a in args {
        match a {
            FlawArg::GrantBeforeSync => f.grant_before_sync = true,
            FlawArg::RenewWithoutEveryVoter => f.renew_without_every_voter = true,
            FlawArg::IgnoreLostDisk => f.ignore_lost_disk = true,
            FlawArg::SessionsLifo => f.sessions_lifo = true,
            FlawArg::DropResendOnReconnect => f.drop_resend_on_reconnect = true,
        }
    }
    f
}

/// Exit 0 when every run passed its checks, 1 when one failed, 2 when one could not run.
pub(crate) fn run(args: SimdArgs) -> ExitCode {
    if !cfg!(tokio_unstable) {
        errln!("note: this build lacks --cfg tokio_unstable (.cargo/config.toml sets it; a RUSTFLAGS variable replaces it), so tokio::select! is not seeded and a seed may not replay exactly");
    }
    let nodes: Vec<usize> = args.nodes.iter().map(|&n| n as usize).collect();
    let template = SimdConfig {
        clients: args.clients,
        fault_phase: Duration::from_millis(args.fault_ms),
        faults: FaultMix {
            journal_loss: args.journal_loss,
            ..FaultMix::default()
        },
        flaws: flaws(&args.flaw),
        semaphores: args.semaphores,
        ..SimdConfig::for_seed(args.seed, &nodes, &args.lease_ms)
    };
    if let Some(dir) = &args.keep_logs {
        if args.seeds > 1 {
            errln!("error: --keep-logs runs one seed (--seed), not --seeds {}; drop one of them (see maekawa simd --help)", args.seeds);
            return ExitCode::from(2);
        }
        return run_kept(&template, dir);
    }
    let sweep = Sweep {
        first: args.seed,
        count: args.seeds,
        nodes,
        leases: args.lease_ms.clone(),
        template,
        threads: args
            .threads
            .unwrap_or_else(|| std::thread::available_parallelism().map_or(1, |n| n.get())),
        max_failures: args.max_failures as usize,
    };
    let bar = indicatif::ProgressBar::new(args.seeds);
    bar.set_style(
        indicatif::ProgressStyle::with_template(
            "{bar:40} {pos}/{len} seeds, {elapsed} ({eta} left)",
        )
        .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar()),
    );
    let started = Instant::now();
    let result = run_many(&sweep, &|done| bar.set_position(done));
    bar.finish_and_clear();
    let totals = match result {
        Ok(t) => t,
        Err(e) => {
            errln!("error: {e}");
            return ExitCode::from(2);
        }
    };
    outln!(
        "simulated {} seed(s) ({}..{}) of {} nodes in {:.1}s: {} steps, {} CS entries, {} lock entries, {:.0} s of virtual time",
        totals.seeds,
        args.seed,
        args.seed + totals.seeds.saturating_sub(1),
        args.nodes.iter().map(u64::to_string).collect::<Vec<_>>().join("/"),
        started.elapsed().as_secs_f64(),
        totals.steps,
        totals.cs_entries,
        totals.lock_entries,
        totals.virtual_time.as_secs_f64()
    );
    outln!("faults: {}", describe(&totals.faults));
    if totals.failures.is_empty() {
        outln!("every check held");
        return ExitCode::SUCCESS;
    }
    for (cfg, outcome) in &totals.failures {
        report_failure(cfg, outcome);
    }
    ExitCode::FAILURE
}

fn describe(f: &maekawa::simd::FaultCounts) -> String {
    format!(
        "{} kills ({} machine crashes, {} of them mid-sync; {} dead for good), {} lost journals, {} pauses, {} partitions, {} cuts, {} slow disks",
        f.kills, f.crashes, f.mid_sync, f.dead, f.journal_losses, f.pauses, f.partitions, f.cuts, f.slow_disks
    )
}

fn report_failure(cfg: &SimdConfig, outcome: &Outcome) {
    errln!(
        "seed {} ({} nodes, lease {} ms) FAILED:",
        cfg.seed,
        cfg.nodes,
        cfg.lease_ms
    );
    for v in outcome.violations.iter().take(10) {
        errln!("  {v}");
    }
    if outcome.violations.len() > 10 {
        errln!("  … and {} more", outcome.violations.len() - 10);
    }
    if let Some(dir) = &outcome.kept {
        errln!("  logs: {}", dir.display());
    }
    errln!("  replay: {}", cfg.replay_command());
}

/// One seed in `dir`, its logs kept.
fn run_kept(cfg: &SimdConfig, dir: &std::path::Path) -> ExitCode {
    if let Err(e) = std::fs::create_dir_all(dir) {
        errln!("error: --keep-logs {}: {e}", dir.display());
        return ExitCode::from(2);
    }
    if std::fs::read_dir(dir).is_ok_and(|mut d| d.next().is_some()) {
        errln!(
            "error: --keep-logs {}: not empty; name a new or empty directory",
            dir.display()
        );
        return ExitCode::from(2);
    }
    match run_seed(cfg, dir) {
        Ok(outcome) => {
            outln!(
                "seed {} ({} nodes, lease {} ms): {} steps, {} CS entries, {} lock entries, {:.1} s virtual; faults: {}; logs in {}",
                cfg.seed,
                cfg.nodes,
                cfg.lease_ms,
                outcome.steps,
                outcome.cs_entries,
                outcome.lock_entries,
                outcome.virtual_time.as_secs_f64(),
                describe(&outcome.faults),
                dir.display()
            );
            if outcome.passed() {
                outln!("every check held");
                return ExitCode::SUCCESS;
            }
            report_failure(cfg, &outcome);
            ExitCode::FAILURE
        }
        Err(e) => {
            errln!("error: {e}");
            ExitCode::from(2)
        }
    }
}
