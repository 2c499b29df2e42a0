//! The `maekawa` command: parses the command line and hands each subcommand to its module in
//! [`cli`]. Nothing here decides protocol behaviour.
// Output goes through cli::output, which survives a reader that leaves (`| head`).
#![deny(clippy::print_stdout, clippy::print_stderr)]

mod cli;

use clap::error::ErrorKind;
use clap::{CommandFactory, Parser, Subcommand};
use std::ffi::OsString;
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
    /// Change the cluster's members while it serves: add a node, remove one, move one to a new
    /// address (a new host for a failed one), or show the configuration. Locks held across a
    /// change stay held and fencing tokens keep increasing (README, "Run it for years").
    Cluster(cli::cluster::ClusterArgs),
    /// Take a named lock from a daemon and run CMD while holding it (it gets the fencing token
    /// in MAEKAWA_LOCK_TOKEN), or print the token and hold the lock until SIGINT/SIGTERM. If
    /// the lock is lost, CMD gets SIGTERM, then SIGKILL, and the exit code is 125.
    Lock(cli::lock::LockArgs),
    /// Leader election on a named lock: campaign with a VALUE and run CMD while leading (hot
    /// standbys wait; a lost lead stops CMD, exit 125), or --watch the leader and every change.
    Elect(cli::elect::ElectArgs),
    /// List the named locks in use at one node or every node (the default): holder session
    /// and client, fencing token, waiting sessions; --json for scripts.
    Locks(cli::locks::LocksArgs),
    /// Tell the story of a run from its logs: for one CS entry (--node, --entry) every message
    /// about that request on both sides, in causal order, with the votes and any
    /// FAILED/INQUIRE/YIELD detours; without --entry a summary per node and overall.
    Report(cli::report::ReportArgs),
    /// Watch it live in a browser: the grid, phases, votes, queues and every message as it
    /// travels, from every daemon of the cluster file, or replayed from a run's logs (--log-dir)
    /// with a step-through of one entry's messages.
    Watch(cli::watch::WatchArgs),
    /// Draw who was in the CS when, as an SVG picture: one lane per node, CS intervals,
    /// waiting intervals, kills and restarts, re-votes.
    Timeline(cli::timeline::TimelineArgs),
    /// Benchmark real daemons on loopback under full contention: entries per second, messages
    /// per entry, acquire latency, one-way latency T and the 2T bound, RSS and CPU, and the
    /// check of the run's logs; with --clients K, K clients of the Lock service on one lock:
    /// locks per second, their acquire latency, and their fencing tokens checked.
    Bench(cli::bench::BenchArgs),
    /// Messages per CS entry against the cluster size: real daemons (leases on and off) and the
    /// simulator at each N, beside simulated Ricart–Agrawala and token ring; a table and an SVG.
    Scale(cli::scale::ScaleArgs),
    /// Verify a run from its logs: no two CS intervals overlap, every entry's votes are the
    /// entering node's quorum, and each node received a Grant from every voter before entering.
    Check(cli::check::CheckArgs),
    /// Print the quorum grid and every node's quorum from quorums.json, and check that any two
    /// quorums intersect.
    Quorums(cli::quorums::QuorumsArgs),
    /// Make the certificates for mutual TLS: a CA for the cluster and, signed by it, one
    /// certificate per node, one for `ctl` (admin) and one for lock clients. With them in
    /// `certs/` beside quorums.json every node and command uses TLS.
    Certs(cli::certs::CertsArgs),
    /// Run the protocol core on random schedules in memory (no network) and check its
    /// invariants after every step; prints entries and messages by type.
    Simulate(cli::simulate::SimulateArgs),
    /// Visit every reachable state of a small cluster (all delivery orders) and check safety,
    /// deadlock-freedom and that no vote leaks; prints the number of states.
    Explore(cli::explore::ExploreArgs),
    /// Run whole daemons (driver, transport, journal, lock sessions) in a deterministic
    /// simulator, on seeded kills, crashes, pauses, partitions and slow disks, and check every
    /// run; a failing seed prints the command that replays it.
    Simd(cli::simd::SimdArgs),
}

fn main() -> ExitCode {
    let args: Vec<OsString> = std::env::args_os().collect();
    let cli = match Cli::try_parse_from(&args) {
        Ok(cli) => cli,
        Err(e) => return parse_error(&e, &args),
    };
    let code = match cli.command {
        Command::Node(args) => cli::node::run(args),
        Command::Ctl(args) => cli::ctl::run(args),
        Command::Cluster(args) => cli::cluster::run(args),
        Command::Lock(args) => cli::lock::run(args),
        Command::Locks(args) => cli::locks::run(args),
        Command::Elect(args) => cli::elect::run(args),
        Command::Report(args) => cli::report::run(args),
        Command::Timeline(args) => cli::timeline::run(args),
        Command::Watch(args) => cli::watch::run(args),
        Command::Bench(args) => cli::bench::run(args),
        Command::Scale(args) => cli::scale::run(args),
        Command::Check(args) => cli::check::run(args),
        Command::Quorums(args) => cli::quorums::run(args),
        Command::Certs(args) => cli::certs::run(args),
        Command::Simulate(args) => cli::simulate::run(args),
        Command::Explore(args) => cli::explore::run(args),
        Command::Simd(args) => cli::simd::run(args),
    };
    cli::output::exit_code(code)
}

/// What a command line that does not parse gets. `--help` and `--version` print as clap
/// prints them (exit 0); so does a command given nothing at all (`maekawa`, `maekawa ctl`),
/// whose help goes to stderr with exit 2. Any other mistake is one line and exit 2, like every
/// other bad input (README, "Exit codes").
fn parse_error(e: &clap::Error, args: &[OsString]) -> ExitCode {
    match e.kind() {
        ErrorKind::DisplayHelp
        | ErrorKind::DisplayVersion
        | ErrorKind::DisplayHelpOnMissingArgumentOrSubcommand => {
            // Fails only when the reader has left (`| head`): nothing more to say then.
            let _ = e.print();
            ExitCode::from(u8::try_from(e.exit_code()).unwrap_or(2))
        }
        _ => cli::fail(&one_line(&e.render().to_string(), &command_path(args))),
    }
}

/// clap's message (`error: ...`, details, a tip, then usage) as one line without the leading
/// `error: `: the message and its details and tips, then where to read more. Usage is left to
/// `--help`.
fn one_line(rendered: &str, command: &str) -> String {
    let mut line = String::new();
    for part in rendered
        .lines()
        .take_while(|l| !l.starts_with("Usage:") && !l.starts_with("For more information"))
        .map(str::trim)
        .filter(|l| !l.is_empty())
    {
        if line.is_empty() {
            line.push_str(part.strip_prefix("error: ").unwrap_or(part));
        } else {
            line.push_str(if part.starts_with("tip:") { "; " } else { " " });
            line.push_str(part);
        }
    }
    format!("{line} (see {command} --help)")
}

/// The (sub)command the arguments name, as far as they go: `maekawa ctl status`. A word names
/// a subcommand when the command reached so far has one of that name.
fn command_path(args: &[OsString]) -> String {
    let mut command = Cli::command();
    let mut path = vec![command.get_name().to_owned()];
    for word in args.iter().skip(1).filter_map(|a| a.to_str()) {
        if word.starts_with('-') {
            continue;
        }
        let Some(sub) = command.find_subcommand(word).cloned() else {
            continue;
        };
        path.push(sub.get_name().to_owned());
        command = sub;
    }
    path.join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn error_line(args: &[&str]) -> String {
        let args: Vec<OsString> = args.iter().map(OsString::from).collect();
        let e = Cli::try_parse_from(&args).expect_err("a usage error");
        one_line(&e.render().to_string(), &command_path(&args))
    }

    #[test]
    fn a_usage_error_is_one_line_with_its_details_and_where_to_read_more() {
        assert_eq!(
            error_line(&["maekawa", "node", "--id", "0", "--workload", "foo"]),
            "invalid value 'foo' for '--workload <WORKLOAD>' [possible values: auto, manual] \
             (see maekawa node --help)"
        );
        assert_eq!(
            error_line(&["maekawa", "ctl", "status", "--al"]),
            "unexpected argument '--al' found; tip: a similar argument exists: '--all' \
             (see maekawa ctl status --help)"
        );
        assert_eq!(
            error_line(&["maekawa", "report", "--node", "1"]),
            "the following required arguments were not provided: --entry <ENTRY> \
             (see maekawa report --help)"
        );
        assert_eq!(
            error_line(&["maekawa", "frobnicate"]),
            "unrecognized subcommand 'frobnicate' (see maekawa --help)"
        );
    }
}
