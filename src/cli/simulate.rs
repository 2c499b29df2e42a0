//! `maekawa simulate`: run the protocol core on seeded random schedules in memory and print
//! what happened, or the failure and the seed that replays it.

use super::{Faults, Mutations};
use clap::Args;
use maekawa_core::sim::{self, Contention, SimConfig};
use std::fmt::Write as _;
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
    let template = first_run(&args);
    let SimulateArgs {
        nodes,
        seed,
        requests,
        schedules,
        contention,
        threads,
        ..
    } = args;
    let sizes: Vec<usize> = nodes.iter().map(|&n| n as usize).collect();
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
            errln!("replay: {}", replay_command(&failure.config));
            ExitCode::FAILURE
        }
    }
}

/// The run these flags make first: the schedule of `--seed`, on the size that seed runs on.
fn first_run(args: &SimulateArgs) -> SimConfig {
    let sizes: Vec<usize> = args.nodes.iter().map(|&n| n as usize).collect();
    SimConfig {
        nodes: sim::size_for_seed(&sizes, args.seed),
        seed: args.seed,
        requests: args.requests,
        contention: args.contention.into(),
        options: args.mutations.options(),
        crashes: args.crashes,
        journal: args.mutations.journal(),
        journal_token: args
            .mutations
            .crash_model(args.crashes, &args.faults)
            .journal_token,
        locks: args.locks as usize,
        cancels: args.cancels,
        stops: args.faults.stops,
        wrong_suspicions: args.faults.wrong_suspicions,
        disk_losses: args.faults.disk_losses,
        pauses: args.pauses,
        change: args.faults.change_model(&args.mutations),
    }
}

/// The shell command that replays exactly `cfg` (one schedule): the flags of
/// [`SimulateArgs`] that [`first_run`] turns back into `cfg`, those at their default left out.
pub(crate) fn replay_command(cfg: &SimConfig) -> String {
    let mut cmd = format!(
        "cargo run --release -- simulate --nodes {} --seed {} --requests {}",
        cfg.nodes, cfg.seed, cfg.requests
    );
    if cfg.contention == Contention::Full {
        cmd.push_str(" --contention full");
    }
    let numbers = [
        ("--crashes", cfg.crashes, 0),
        ("--locks", cfg.locks as u32, 1),
        ("--cancels", cfg.cancels, 0),
        ("--stops", cfg.stops, 0),
        ("--wrong-suspicions", cfg.wrong_suspicions, 0),
        ("--disk-losses", cfg.disk_losses, 0),
        ("--pauses", cfg.pauses, 0),
    ];
    for (flag, value, default) in numbers {
        if value != default {
            let _ = write!(cmd, " {flag} {value}");
        }
    }
    let o = cfg.options;
    let switches = [
        ("--without-lock-change-failed", o.lock_change_failed),
        ("--without-journal", cfg.journal),
        ("--without-token-journal", cfg.journal_token),
        ("--without-release-token", o.release_carries_token),
        ("--without-cancel-release", o.cancel_releases),
        ("--without-leases", o.leases),
        ("--without-reclaim-wait", o.reclaim_waits),
        ("--without-grant-floor-check", o.grant_checks_floor),
        ("--lease-from-entry", o.lease_from_request),
        ("--fenced-entries", o.fast_grants),
        ("--without-quarantine", o.quarantine),
        ("--journal-votes", o.forget_votes),
        ("--without-floor-witnesses", o.floor_witnesses),
    ];
    for (flag, kept) in switches {
        if !kept {
            let _ = write!(cmd, " {flag}");
        }
    }
    if let Some(change) = cfg.change.change {
        let _ = write!(cmd, " --change {}", change.name());
    }
    for (flag, kept) in [
        ("--skip-joint", cfg.change.joint),
        ("--skip-drain", cfg.change.drain),
    ] {
        if !kept {
            let _ = write!(cmd, " {flag}");
        }
    }
    cmd
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;
    use maekawa_core::protocol::Options;

    /// `maekawa simulate`'s flags alone, parsed as the command line parses them.
    #[derive(Parser, Debug)]
    struct Simulate {
        #[command(flatten)]
        args: SimulateArgs,
    }

    /// Parses a replay command back: the shell's words after `cargo run --release --`.
    fn parse_back(cmd: &str) -> SimConfig {
        let words = shell_words::split(cmd).expect("a shell command");
        let prefix = ["cargo", "run", "--release", "--", "simulate"];
        assert_eq!(words[..prefix.len()], prefix, "{cmd}");
        let args = Simulate::try_parse_from(words[prefix.len() - 1..].iter())
            .unwrap_or_else(|e| panic!("{cmd}: {e}"))
            .args;
        assert_eq!(args.schedules, 1, "{cmd}");
        first_run(&args)
    }

    fn plain() -> SimConfig {
        SimConfig {
            nodes: 4,
            seed: 1234,
            requests: 3,
            contention: Contention::Random,
            options: Options::default(),
            crashes: 0,
            journal: true,
            journal_token: true,
            locks: 1,
            cancels: 0,
            stops: 0,
            wrong_suspicions: 0,
            disk_losses: 0,
            pauses: 0,
            change: Default::default(),
        }
    }

    /// The replay line of any run gives that very run back: every field at its default, each
    /// field changed alone, and all changed at once.
    #[test]
    fn the_replay_command_parses_back_to_the_same_run() {
        let off = |f: fn(&mut Options)| {
            let mut options = Options::default();
            f(&mut options);
            SimConfig { options, ..plain() }
        };
        let all = SimConfig {
            nodes: 9,
            seed: u64::MAX,
            requests: 7,
            contention: Contention::Full,
            options: Options {
                lock_change_failed: false,
                release_carries_token: false,
                cancel_releases: false,
                leases: false,
                reclaim_waits: false,
                ..Options::default()
            },
            crashes: 2,
            journal: false,
            journal_token: false,
            locks: 3,
            cancels: 4,
            stops: 1,
            wrong_suspicions: 5,
            disk_losses: 1,
            pauses: 6,
            change: maekawa_core::cluster::ChangeModel {
                change: Some(maekawa_core::cluster::Change::Replace),
                joint: false,
                drain: false,
            },
        };
        let cases = [
            plain(),
            SimConfig {
                contention: Contention::Full,
                ..plain()
            },
            off(|o| o.lock_change_failed = false),
            off(|o| o.release_carries_token = false),
            off(|o| o.cancel_releases = false),
            off(|o| o.leases = false),
            off(|o| o.reclaim_waits = false),
            SimConfig {
                crashes: 3,
                ..plain()
            },
            SimConfig {
                change: maekawa_core::cluster::ChangeModel {
                    change: Some(maekawa_core::cluster::Change::Add),
                    ..Default::default()
                },
                ..plain()
            },
            SimConfig {
                journal: false,
                ..plain()
            },
            SimConfig {
                journal_token: false,
                ..plain()
            },
            SimConfig {
                locks: 26,
                ..plain()
            },
            SimConfig {
                cancels: 2,
                ..plain()
            },
            SimConfig {
                stops: 1,
                ..plain()
            },
            SimConfig {
                wrong_suspicions: 2,
                ..plain()
            },
            SimConfig {
                pauses: 2,
                ..plain()
            },
            all,
        ];
        for cfg in cases {
            let cmd = replay_command(&cfg);
            assert_eq!(parse_back(&cmd), cfg, "{cmd}");
        }
    }

    /// The line a user sees today for the classic mutation: unchanged by the move out of the
    /// core.
    #[test]
    fn the_replay_command_reads_as_before() {
        let cfg = SimConfig {
            options: Options {
                lock_change_failed: false,
                ..Options::default()
            },
            ..plain()
        };
        assert_eq!(
            replay_command(&cfg),
            "cargo run --release -- simulate --nodes 4 --seed 1234 --requests 3 \
             --without-lock-change-failed"
        );
    }

    /// A failure the simulator finds replays from the command rendered here.
    #[test]
    fn a_real_failure_replays_from_its_command() {
        let cfg = SimConfig {
            options: Options {
                lock_change_failed: false,
                ..Options::default()
            },
            ..plain()
        };
        let failure = sim::run_many(&cfg, &[], 1, 5_000, 1).expect_err("the deadlock is found");
        let again = sim::run(&parse_back(&replay_command(&failure.config)))
            .expect_err("the replay fails the same way");
        assert_eq!((again.step, &again.what), (failure.step, &failure.what));
    }
}
