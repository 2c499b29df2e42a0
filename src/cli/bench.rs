//! `maekawa bench`: start real daemons under full contention and print what they did.

use super::fail;
use clap::Args;
use maekawa::bench::{self, BenchSettings};
use std::path::PathBuf;
use std::process::ExitCode;

/// Flags of `maekawa bench`.
#[derive(Args, Debug)]
pub(crate) struct BenchArgs {
    /// Daemons to start.
    #[arg(long, default_value_t = 3, value_parser = clap::value_parser!(u32).range(1..=256))]
    nodes: u32,
    /// How long they contend, in seconds.
    #[arg(long, default_value_t = 10.0)]
    seconds: f64,
    /// Time in the CS, ms.
    #[arg(long, default_value_t = 0)]
    hold_ms: u64,
    /// Pause before asking again, ms (0: full contention).
    #[arg(long, default_value_t = 0)]
    think_ms: u64,
    /// Clients of the `Lock` service taking and releasing one lock in a loop (client i on
    /// daemon i mod N; the daemons run `--workload manual`); 0: each daemon's own workload.
    #[arg(long, default_value_t = 0)]
    clients: u32,
    /// The daemons' lease term in ms (default: theirs, 3000; 0: no leases, Maekawa's votes
    /// without the Fence round), to see what leases cost.
    #[arg(long)]
    lease_ms: Option<u64>,
    /// The daemons' --handover (default: theirs, fast): `fenced` to measure the Fence round
    /// before every entry, the protocol before issue 26.
    #[arg(long, value_enum)]
    handover: Option<maekawa::daemon::settings::Handover>,
    /// The daemons journal every vote before its GRANT leaves (`--journal-votes`), to measure
    /// the fsync on the hand-over that forgetting votes in a restart takes off.
    #[arg(long)]
    journal_votes: bool,
    /// Make certificates for the run and use mutual TLS on every link and client (default:
    /// plaintext on loopback), to see what TLS costs.
    #[arg(long)]
    tls: bool,
    /// The daemons' --suspect-after in ms (default: 1000 up to 10 nodes, then 100 per node,
    /// so that a large cluster on one machine does not suspect its own live peers).
    #[arg(long, value_name = "MS", value_parser = clap::value_parser!(u64).range(1..=3_600_000))]
    suspect_after_ms: Option<u64>,
    /// Print the report as JSON.
    #[arg(long)]
    json: bool,
    /// Keep the run's logs in this directory.
    #[arg(long)]
    keep: Option<PathBuf>,
}

/// Exit 0 when the run's logs pass `check` (and, with clients, the fencing tokens strictly
/// increased), 1 when they do not, 2 when the run could not be set up.
pub(crate) fn run(args: BenchArgs) -> ExitCode {
    let settings = BenchSettings {
        nodes: args.nodes as usize,
        seconds: args.seconds,
        hold_ms: args.hold_ms,
        think_ms: args.think_ms,
        progress: !args.json && std::io::IsTerminal::is_terminal(&std::io::stderr()),
        keep: args.keep,
        clients: args.clients as usize,
        lease_ms: args.lease_ms,
        handover: args.handover,
        journal_votes: args.journal_votes,
        tls: args.tls,
        suspect_after_ms: args.suspect_after_ms,
    };
    match bench::run(&settings) {
        Ok(report) => {
            if args.json {
                outln!(
                    "{}",
                    serde_json::to_string_pretty(&report).expect("serializable")
                );
            } else {
                out!("{}", bench::render(&report));
            }
            if report.check_passed {
                ExitCode::SUCCESS
            } else {
                ExitCode::FAILURE
            }
        }
        Err(e) => fail(&e),
    }
}
