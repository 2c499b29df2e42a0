//! `maekawa scale`: real daemons and the simulator at several cluster sizes, beside
//! Ricart–Agrawala and a token ring: a table of messages per entry and an SVG picture.

use super::fail;
use clap::Args;
use maekawa::scale::{self, ScaleSettings};
use std::path::PathBuf;
use std::process::ExitCode;

/// Flags of `maekawa scale`.
#[derive(Args, Debug)]
#[command(
    after_help = "For each N: two `maekawa bench --nodes N --seconds S` runs (the daemons' \
default leases, then --lease-ms 0; full contention, hold 0), the simulator under full \
contention (`maekawa simulate --contention full`, with and without leases), and the \
simulated Ricart–Agrawala and token-ring models under the same workload. The table gives \
messages per entry over the whole run and, in brackets, between the first and the last entry \
(the steady rate, without the start's Sync round and the requests left waiting at the end), \
its ratio to 3(|Q|−1), entries/s, the largest peak RSS of a daemon and the check of the logs. \
Progress goes to stderr. Takes about 2 × S seconds per size, plus the daemons' start.

Example: maekawa scale --nodes 3,9,25,49,100 --seconds 20 --svg docs/scale.svg"
)]
pub(crate) struct ScaleArgs {
    /// Cluster sizes, comma-separated.
    #[arg(long, default_value = "3,9,25", value_delimiter = ',',
          value_parser = clap::value_parser!(u32).range(1..=256))]
    nodes: Vec<u32>,
    /// Seconds of each real-daemon run.
    #[arg(long, default_value_t = 10.0)]
    seconds: f64,
    /// Seed of the simulations and models.
    #[arg(long, default_value_t = 1)]
    seed: u64,
    /// Write the picture (messages per entry against N) to this SVG file.
    #[arg(long, value_name = "PATH")]
    svg: Option<PathBuf>,
    /// Print the rows as JSON instead of the table.
    #[arg(long)]
    json: bool,
}

/// Exit 0 when every run's check passed, 1 when one did not, 2 when a run could not be set
/// up or the picture not written.
pub(crate) fn run(args: ScaleArgs) -> ExitCode {
    let settings = ScaleSettings {
        nodes: args.nodes.iter().map(|&n| n as usize).collect(),
        seconds: args.seconds,
        seed: args.seed,
    };
    let started = std::time::Instant::now();
    let mut progress = |line: &str| {
        errln!("{:>6.1}s {line}", started.elapsed().as_secs_f64());
    };
    let rows = match scale::run(&settings, &mut progress) {
        Ok(rows) => rows,
        Err(e) => return fail(&e),
    };
    if let Some(path) = &args.svg {
        if let Err(e) = scale::write_svg(&rows, path) {
            return fail(&e);
        }
        errln!("wrote {}", path.display());
    }
    if args.json {
        outln!(
            "{}",
            serde_json::to_string_pretty(&rows).expect("serializable")
        );
    } else {
        out!("{}", scale::render(&rows));
    }
    let passed = rows
        .iter()
        .all(|r| r.daemons_leases.check_passed && r.daemons_no_leases.check_passed);
    if passed {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    }
}
