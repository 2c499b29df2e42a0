//! The `maekawa` command: parses the command line and hands each subcommand to its module in
//! [`cli`]. Nothing here decides protocol behaviour.
// Output goes through cli::output, which survives a reader that leaves (`| head`).
#![deny(clippy::print_stdout, clippy::print_stderr)]

mod cli;

use clap::{Parser, Subcommand};
use std::process::ExitCode;

/// Distributed mutual exclusion without a central server, by Maekawa's quorum voting.
#[derive(Parser, Debug)]
#[command(name = "maekawa", version, about, long_about = None)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Run one node (daemon) in the foreground: serve its peers, vote, and enter the critical
    /// section (logs/critical_section.log). SIGTERM/SIGINT leave the CS and exit 0.
    Node(cli::node::NodeArgs),
    /// Control a running node: ask it for the CS, make it leave, or show its state (who it
    /// waits for, who holds its vote, its queue). For `--workload manual` nodes this is the only
    /// way they act.
    Ctl(cli::ctl::CtlArgs),
    /// Tell the story of a run from its logs: for one CS entry (--node, --entry) every message
    /// about that request on both sides, in causal order, with the votes and any
    /// FAILED/INQUIRE/YIELD detours; without --entry a summary per node and overall.
    Report(cli::report::ReportArgs),
    /// Draw who was in the CS when, as an SVG picture: one lane per node, CS intervals,
    /// waiting intervals, kills and restarts, re-votes.
    Timeline(cli::timeline::TimelineArgs),
    /// Benchmark real daemons on loopback under full contention: entries per second, messages
    /// per entry, acquire latency, one-way latency T and the 2T bound, RSS and CPU, and the
    /// check of the run's logs.
    Bench(cli::bench::BenchArgs),
    /// Verify a run from its logs: no two CS intervals overlap, every entry's votes are the
    /// entering node's quorum, and each node received a Grant from every voter before entering.
    Check(cli::check::CheckArgs),
    /// Print the quorum grid and every node's quorum from quorums.json, and check that any two
    /// quorums intersect.
    Quorums(cli::quorums::QuorumsArgs),
    /// Run the protocol core on random schedules in memory (no network) and check its
    /// invariants after every step; prints entries and messages by type.
    Simulate(cli::simulate::SimulateArgs),
    /// Visit every reachable state of a small cluster (all delivery orders) and check safety,
    /// deadlock-freedom and that no vote leaks; prints the number of states.
    Explore(cli::explore::ExploreArgs),
}

fn main() -> ExitCode {
    let code = match Cli::parse().command {
        Command::Node(args) => cli::node::run(args),
        Command::Ctl(args) => cli::ctl::run(args),
        Command::Report(args) => cli::report::run(args),
        Command::Timeline(args) => cli::timeline::run(args),
        Command::Bench(args) => cli::bench::run(args),
        Command::Check(args) => cli::check::run(args),
        Command::Quorums(args) => cli::quorums::run(args),
        Command::Simulate(args) => cli::simulate::run(args),
        Command::Explore(args) => cli::explore::run(args),
    };
    cli::output::exit_code(code)
}
