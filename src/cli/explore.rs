//! `maekawa explore`: visit every reachable state of a small cluster and print how many there
//! were, or the first bad state and the path to it.

use super::{Faults, Mutations};
use clap::Args;
use maekawa_core::explore::{explore, ExploreConfig};
use std::process::ExitCode;
use std::time::Instant;

/// Flags of `maekawa explore`.
#[derive(Args, Debug)]
pub(crate) struct ExploreArgs {
    /// Cluster size (grid quorums over ids 0..N).
    #[arg(long, default_value_t = 3, value_parser = clap::value_parser!(u32).range(1..=16))]
    nodes: u32,
    /// CS requests each node makes.
    #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(u32).range(1..))]
    requests: u32,
    /// Stop (as a failure) past this many distinct states.
    #[arg(long, default_value_t = 50_000_000)]
    max_states: u64,
    /// Let self-messages wait on a self-link like network messages (more interleavings)
    /// instead of handling them at once, as the daemon does.
    #[arg(long)]
    queued_self: bool,
    /// Crash-restarts allowed anywhere in the exploration (kill -9, restart, journal kept).
    #[arg(long, default_value_t = 0)]
    crashes: u32,
    /// Lock names the nodes take turns asking for (1: just `cs`); fencing tokens are checked
    /// per lock.
    #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(u32).range(1..=26))]
    locks: u32,
    /// Withdrawals of a waiting request allowed anywhere (`maekawa ctl cancel`, a client's
    /// timeout).
    #[arg(long, default_value_t = 0)]
    cancels: u32,
    #[command(flatten)]
    faults: Faults,
    #[command(flatten)]
    mutations: Mutations,
}

/// Exit 0 when every state is safe, deadlock-free and leaks no vote; 1 otherwise.
pub(crate) fn run(args: ExploreArgs) -> ExitCode {
    let cfg = ExploreConfig {
        nodes: args.nodes as usize,
        requests: args.requests,
        options: args.mutations.options(),
        max_states: args.max_states,
        queued_self: args.queued_self,
        crash: args.mutations.crash_model(args.crashes, &args.faults),
        locks: args.locks as usize,
        cancels: args.cancels,
        change: args.faults.change_model(&args.mutations),
    };
    let started = Instant::now();
    match explore(&cfg) {
        Ok(report) => {
            outln!(
                "explored {} nodes x {} requests{} in {:.1}s: {report}; \
                 safe, no deadlock, no vote leak, tokens increase",
                args.nodes,
                args.requests,
                if args.locks > 1 {
                    format!(" over {} locks", args.locks)
                } else {
                    String::new()
                },
                started.elapsed().as_secs_f64()
            );
            ExitCode::SUCCESS
        }
        Err(failure) => {
            errln!("{failure}");
            ExitCode::FAILURE
        }
    }
}
