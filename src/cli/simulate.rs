//! `maekawa simulate`: run the protocol core on seeded random schedules in memory and print
//! what happened, or the failure and the seed that replays it.

use super::{Faults, Mutations};
use clap::Args;
use maekawa_core::sim::{self, Contention, SimConfig};
use std::process::ExitCode;
use std::time::Instant;

/// Flags of `maekawa simulate`.
#[derive(Args, Debug)]
pub(crate) struct SimulateArgs {
    /// Cluster size (grid quorums over ids 0..N); a list such as `3,4,9` mixes sizes, seed S
    /// running on the size at position S mod (list length).
    #[arg(long, default_value = "3", value_delimiter = ',',
          value_parser = clap::value_parser!(u32).range(1..=256))]
    nodes: Vec<u32>,
    /// Seed of the (first) schedule; a failure prints the seed that replays it.
    #[arg(long, default_value_t = 1)]
    seed: u64,
    /// CS requests each node makes per schedule.
    #[arg(long, default_value_t = 10, value_parser = clap::value_parser!(u32).range(1..))]
    requests: u32,
    /// How many schedules to run, with consecutive seeds starting at --seed.
    #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(u64).range(1..))]
    schedules: u64,
    /// `random`: nodes think and hold for random times; `full`: every node asks again the
    /// moment it leaves (worst case for messages per entry).
    #[arg(long, value_enum, default_value_t = ContentionArg::Random)]
    contention: ContentionArg,
    /// Worker threads (defaults to the number of cores).
    #[arg(long)]
    threads: Option<usize>,
    /// Crash-restarts (kill -9, restart, journal kept) at random moments of each schedule.
    #[arg(long, default_value_t = 0)]
    crashes: u32,
    /// Lock names the nodes take turns asking for (1: just `cs`); fencing tokens are checked
    /// per lock.
    #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(u32).range(1..=26))]
    locks: u32,
    /// Withdrawals of a waiting request at random moments of each schedule.
    #[arg(long, default_value_t = 0)]
    cancels: u32,
    #[command(flatten)]
    faults: Faults,
    /// Pauses at random moments: a random node takes no step for a while (as under SIGSTOP)
    /// while time passes and the others go on.
    #[arg(long, default_value_t = 0)]
    pauses: u32,
    #[command(flatten)]
    mutations: Mutations,
}

/// [`Contention`] as a flag value: the core crate knows nothing of clap.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
enum ContentionArg {
    /// Think and hold times are random: sometimes alone, sometimes crowded.
    Random,
    /// Every node asks again the moment it leaves the CS: the worst case for messages.
    Full,
}

impl From<ContentionArg> for Contention {
    fn from(arg: ContentionArg) -> Contention {
        match arg {
            ContentionArg::Random => Contention::Random,
            ContentionArg::Full => Contention::Full,
        }
    }
}

/// Exit 0 when every invariant held on every schedule, 1 on the first failure.
pub(crate) fn run(args: SimulateArgs) -> ExitCode {
    let SimulateArgs {
        nodes,
        seed,
        requests,
        schedules,
        contention,
        threads,
        crashes,
        locks,
        cancels,
        faults,
        pauses,
        mutations,
    } = args;
    let sizes: Vec<usize> = nodes.iter().map(|&n| n as usize).collect();
    let template = SimConfig {
        nodes: sim::size_for_seed(&sizes, seed),
        seed,
        requests,
        contention: contention.into(),
        options: mutations.options(),
        crashes,
        journal: mutations.journal(),
        journal_token: mutations.crash_model(crashes, &faults).journal_token,
        locks: locks as usize,
        cancels,
        stops: faults.stops,
        wrong_suspicions: faults.wrong_suspicions,
        pauses,
    };
    let threads =
        threads.unwrap_or_else(|| std::thread::available_parallelism().map_or(1, |n| n.get()));
    let started = Instant::now();
    let result = if schedules == 1 {
        sim::run(&template)
    } else {
        sim::run_many(&template, &sizes, seed, schedules, threads)
    };
    match result {
        Ok(stats) => {
            outln!(
                "simulated {schedules} schedule(s) of {} nodes x {requests} requests \
                 (seeds {seed}..{}, contention {contention:?}) in {:.1}s: all invariants held",
                if schedules == 1 {
                    template.nodes.to_string()
                } else {
                    nodes
                        .iter()
                        .map(u32::to_string)
                        .collect::<Vec<_>>()
                        .join("/")
                },
                seed + schedules - 1,
                started.elapsed().as_secs_f64()
            );
            outln!("{stats}");
            ExitCode::SUCCESS
        }
        Err(failure) => {
            errln!("{failure}");
            ExitCode::FAILURE
        }
    }
}
