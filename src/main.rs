//! The `maekawa` command: parses the command line and hands each subcommand to the library.
//! Nothing here decides protocol behaviour.

use clap::{Parser, Subcommand};
use maekawa::cluster::CrashModel;
use maekawa::config::Config;
use maekawa::explore::{self, ExploreConfig};
use maekawa::id::NodeId;
use maekawa::node::{MsRange, NodeSettings, Workload};
use maekawa::protocol::Options;
use maekawa::sim::{self, Contention, SimConfig};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Instant;

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
    Node {
        /// This node's id in the cluster file.
        #[arg(long)]
        id: u32,
        /// The cluster file (node ids and addresses, optional explicit quorums).
        #[arg(long, default_value = "quorums.json")]
        config: PathBuf,
        /// Directory for node-<id>.log, critical_section.log and the incarnation file.
        #[arg(long, default_value = "logs")]
        log_dir: PathBuf,
        /// `auto`: request the CS again after a random think time; `manual`: only on command.
        #[arg(long, value_enum, default_value_t = Workload::Auto)]
        workload: Workload,
        /// Think time before each request, in ms: `A..B` (random in the range) or `A`.
        #[arg(long, default_value = "100..500")]
        think_ms: MsRange,
        /// Time spent in the CS, in ms: `A..B` or `A`.
        #[arg(long, default_value = "10..50")]
        hold_ms: MsRange,
        /// Stop requesting after this many CS entries (the node keeps voting for others).
        #[arg(long)]
        max_entries: Option<u64>,
        /// Test-only: run without the voter journal, so a restarted voter can grant twice.
        #[arg(long, hide = true)]
        unsafe_no_journal: bool,
    },
    /// Control a running node: ask it for the CS, make it leave, or show its state (who it
    /// waits for, who holds its vote, its queue). For `--workload manual` nodes this is the only
    /// way they act.
    Ctl {
        /// The node to talk to (its address comes from the cluster file).
        #[arg(long)]
        node: Option<u32>,
        /// The cluster file.
        #[arg(long, default_value = "quorums.json")]
        config: PathBuf,
        #[command(subcommand)]
        action: CtlAction,
    },
    /// Tell the story of a run from its logs: for one CS entry (--node, --entry) every message
    /// about that request on both sides, in causal order, with the votes and any
    /// FAILED/INQUIRE/YIELD detours; without --entry a summary per node and overall.
    Report {
        /// The directory the nodes wrote their logs to.
        #[arg(long, default_value = "logs")]
        log_dir: PathBuf,
        /// The node whose entry to tell.
        #[arg(long, requires = "entry")]
        node: Option<u32>,
        /// The entry number (per node and process, as in the logs).
        #[arg(long, requires = "node")]
        entry: Option<u64>,
        /// The process (incarnation) of that node; default: the last one that has that entry.
        #[arg(long, requires = "entry")]
        incarnation: Option<u64>,
        /// `text` for the terminal, `markdown` for a report, `mermaid` for a sequence diagram.
        #[arg(long, value_enum, default_value_t = maekawa::report::Format::Text)]
        format: maekawa::report::Format,
    },
    /// Draw who was in the CS when, as an SVG picture: one lane per node, CS intervals,
    /// waiting intervals, kills and restarts, re-votes.
    Timeline {
        /// The directory the nodes wrote their logs to.
        #[arg(long, default_value = "logs")]
        log_dir: PathBuf,
        /// Where to write the SVG.
        #[arg(short, long, default_value = "timeline.svg")]
        output: PathBuf,
    },
    /// Benchmark real daemons on loopback under full contention: entries per second, messages
    /// per entry, acquire latency, one-way latency T and the 2T bound, RSS and CPU, and the
    /// check of the run's logs.
    Bench {
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
        /// Print the report as JSON.
        #[arg(long)]
        json: bool,
        /// Keep the run's logs in this directory.
        #[arg(long)]
        keep: Option<PathBuf>,
    },
    /// Verify a run from its logs: no two CS intervals overlap, every entry's votes are the
    /// entering node's quorum, and each node received a Grant from every voter before entering.
    Check {
        /// The directory the nodes wrote their logs to.
        #[arg(long, default_value = "logs")]
        log_dir: PathBuf,
        /// The cluster file the nodes ran with.
        #[arg(long, default_value = "quorums.json")]
        config: PathBuf,
    },
    /// Print the quorum grid and every node's quorum from quorums.json, and check that any two
    /// quorums intersect.
    Quorums {
        /// The cluster file (node ids and addresses, optional explicit quorums).
        #[arg(long, default_value = "quorums.json")]
        config: PathBuf,
        /// Print only the node ids, one per line (for scripts).
        #[arg(long)]
        ids: bool,
    },
    /// Run the protocol core on random schedules in memory (no network) and check its
    /// invariants after every step; prints entries and messages by type.
    Simulate {
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
        #[arg(long, value_enum, default_value_t = Contention::Random)]
        contention: Contention,
        /// Worker threads (defaults to the number of cores).
        #[arg(long)]
        threads: Option<usize>,
        /// Crash-restarts (kill -9, restart, journal kept) at random moments of each schedule.
        #[arg(long, default_value_t = 0)]
        crashes: u32,
        /// Test-only: voters keep no journal, to watch the checker catch the double grant.
        #[arg(long, hide = true)]
        without_journal: bool,
        /// Test-only: switch off Sanders' lock-change FAILED rule to watch the checker catch
        /// the deadlock it prevents.
        #[arg(long, hide = true)]
        without_lock_change_failed: bool,
    },
    /// Visit every reachable state of a small cluster (all delivery orders) and check safety,
    /// deadlock-freedom and that no vote leaks; prints the number of states.
    Explore {
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
        /// Test-only: voters keep no journal, to watch the checker catch the double grant.
        #[arg(long, hide = true)]
        without_journal: bool,
        /// Test-only: switch off Sanders' lock-change FAILED rule to watch the checker catch
        /// the deadlock it prevents.
        #[arg(long, hide = true)]
        without_lock_change_failed: bool,
    },
}

#[derive(Subcommand, Debug)]
enum CtlAction {
    /// Want the CS: the node enters when its votes arrive, and (manual workload) stays until
    /// `release`.
    Request,
    /// Leave the CS.
    Release,
    /// Show the node's state; `--all` shows every node of the cluster file in one table.
    Status {
        /// Every node, one table.
        #[arg(long)]
        all: bool,
    },
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match cli.command {
        Command::Node {
            id,
            config,
            log_dir,
            workload,
            think_ms,
            hold_ms,
            max_entries,
            unsafe_no_journal,
        } => {
            let settings = match node_settings(
                NodeId(id),
                &config,
                log_dir,
                workload,
                think_ms,
                hold_ms,
                max_entries,
            ) {
                Ok(s) => NodeSettings {
                    unsafe_no_journal,
                    ..s
                },
                Err(e) => return fail(&e),
            };
            match run_node(settings) {
                Ok(()) => ExitCode::SUCCESS,
                Err(e) => fail(&e),
            }
        }
        Command::Ctl {
            node,
            config,
            action,
        } => run_ctl(node, &config, action),
        Command::Report {
            log_dir,
            node,
            entry,
            incarnation,
            format,
        } => {
            let result = match (node, entry) {
                (Some(node), Some(entry)) => maekawa::report::entry_report(
                    &log_dir,
                    &maekawa::report::EntrySelector {
                        node,
                        entry,
                        incarnation,
                    },
                    format,
                ),
                _ => maekawa::report::summary_report(&log_dir, format),
            };
            match result {
                Ok(text) => {
                    print!("{text}");
                    ExitCode::SUCCESS
                }
                Err(e) => fail(&e),
            }
        }
        Command::Timeline { log_dir, output } => {
            match maekawa::timeline::render_timeline(&log_dir, &output) {
                Ok(s) => {
                    println!(
                        "wrote {}: {} nodes, {} CS entries, {} restarts, {} re-votes over {:.1} s",
                        output.display(),
                        s.nodes,
                        s.entries,
                        s.restarts,
                        s.revotes,
                        s.span_ms / 1000.0
                    );
                    ExitCode::SUCCESS
                }
                Err(e) => fail(&e),
            }
        }
        Command::Bench {
            nodes,
            seconds,
            hold_ms,
            think_ms,
            json,
            keep,
        } => {
            let settings = maekawa::bench::BenchSettings {
                nodes: nodes as usize,
                seconds,
                hold_ms,
                think_ms,
                progress: !json && std::io::IsTerminal::is_terminal(&std::io::stderr()),
                keep,
            };
            match maekawa::bench::run(&settings) {
                Ok(report) => {
                    if json {
                        println!(
                            "{}",
                            serde_json::to_string_pretty(&report).expect("serializable")
                        );
                    } else {
                        print!("{}", maekawa::bench::render(&report));
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
        Command::Check { log_dir, config } => {
            let config = match Config::load(&config) {
                Ok(c) => c,
                Err(e) => return fail(&e),
            };
            match maekawa::check::check(&log_dir, &config) {
                Ok(report) => {
                    println!("{report}");
                    if report.passed() {
                        ExitCode::SUCCESS
                    } else {
                        ExitCode::FAILURE
                    }
                }
                Err(e) => fail(&e),
            }
        }
        Command::Quorums { config, ids } => match Config::load(&config) {
            Ok(cfg) if ids => {
                cfg.ids().iter().for_each(|id| println!("{id}"));
                ExitCode::SUCCESS
            }
            Ok(cfg) => {
                print!("{}", cfg.quorums.render());
                ExitCode::SUCCESS
            }
            Err(e) => fail(&e),
        },
        Command::Simulate {
            nodes,
            seed,
            requests,
            schedules,
            contention,
            threads,
            crashes,
            without_journal,
            without_lock_change_failed,
        } => {
            let sizes: Vec<usize> = nodes.iter().map(|&n| n as usize).collect();
            let template = SimConfig {
                nodes: sim::size_for_seed(&sizes, seed),
                seed,
                requests,
                contention,
                options: Options {
                    lock_change_failed: !without_lock_change_failed,
                },
                crashes,
                journal: !without_journal,
            };
            let threads = threads
                .unwrap_or_else(|| std::thread::available_parallelism().map_or(1, |n| n.get()));
            let started = Instant::now();
            let result = if schedules == 1 {
                sim::run(&template)
            } else {
                sim::run_many(&template, &sizes, seed, schedules, threads)
            };
            match result {
                Ok(stats) => {
                    println!(
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
                    println!("{stats}");
                    ExitCode::SUCCESS
                }
                Err(failure) => {
                    eprintln!("{failure}");
                    ExitCode::FAILURE
                }
            }
        }
        Command::Explore {
            nodes,
            requests,
            max_states,
            queued_self,
            crashes,
            without_journal,
            without_lock_change_failed,
        } => {
            let cfg = ExploreConfig {
                nodes: nodes as usize,
                requests,
                options: Options {
                    lock_change_failed: !without_lock_change_failed,
                },
                max_states,
                queued_self,
                crash: CrashModel {
                    crashes,
                    journal: !without_journal,
                },
            };
            let started = Instant::now();
            match explore::explore(&cfg) {
                Ok(report) => {
                    println!(
                        "explored {nodes} nodes x {requests} requests in {:.1}s: {report}; \
                         safe, no deadlock, no vote leak",
                        started.elapsed().as_secs_f64()
                    );
                    ExitCode::SUCCESS
                }
                Err(failure) => {
                    eprintln!("{failure}");
                    ExitCode::FAILURE
                }
            }
        }
    }
}

/// Bad input or a failed start: one line on stderr, exit code 2.
fn fail(e: &dyn std::fmt::Display) -> ExitCode {
    eprintln!("error: {e}");
    ExitCode::from(2)
}

fn node_settings(
    id: NodeId,
    config: &Path,
    log_dir: PathBuf,
    workload: Workload,
    think: MsRange,
    hold: MsRange,
    max_entries: Option<u64>,
) -> anyhow::Result<NodeSettings> {
    let config = Config::load(config)?;
    config.node(id)?;
    Ok(NodeSettings {
        id,
        config,
        log_dir,
        workload,
        think,
        hold,
        max_entries,
        unsafe_no_journal: false,
    })
}

/// Sets up logging, binds the node's address, and runs the node on a tokio runtime until
/// SIGTERM or SIGINT.
fn run_node(settings: NodeSettings) -> anyhow::Result<()> {
    // One process per node id: held until this process ends (the OS releases it on kill -9).
    let _lock = maekawa::proclock::ProcessLock::acquire(&settings.log_dir, settings.id)?;
    let guard = maekawa::logfmt::init(&settings.log_dir, settings.id)?;
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    let result = runtime.block_on(async {
        let addr = settings.config.node(settings.id)?.addr.clone();
        let listener = tokio::net::TcpListener::bind(&addr).await.map_err(|e| {
            anyhow::anyhow!(
                "{}: nodes[id={}].addr: cannot listen on {addr}: {e}; is another node running \
                 on this address? stop it (scripts/stop.sh) or change the address",
                settings.config.path.display(),
                settings.id
            )
        })?;
        let incoming =
            tonic::transport::server::TcpIncoming::from(listener).with_nodelay(Some(true));
        maekawa::node::run(
            settings,
            incoming,
            maekawa::transport::tcp_connector(),
            shutdown_signal(),
        )
        .await?;
        anyhow::Ok(())
    });
    drop(guard);
    result
}

async fn shutdown_signal() {
    use tokio::signal::unix::{signal, SignalKind};
    let mut term = signal(SignalKind::terminate()).expect("install SIGTERM handler");
    let mut int = signal(SignalKind::interrupt()).expect("install SIGINT handler");
    tokio::select! {
        _ = term.recv() => {}
        _ = int.recv() => {}
    }
}

/// `maekawa ctl`: exit 0 on success, 1 when the node refuses, 2 for bad input or a node that
/// does not answer.
fn run_ctl(node: Option<u32>, config: &Path, action: CtlAction) -> ExitCode {
    use maekawa::control::{render_status, render_table, CtlClient, CtlError};
    let config = match Config::load(config) {
        Ok(c) => c,
        Err(e) => return fail(&e),
    };
    let runtime = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(r) => r,
        Err(e) => return fail(&e),
    };
    let all = matches!(action, CtlAction::Status { all: true });
    if all {
        let rows = runtime.block_on(async {
            let mut rows = Vec::new();
            for n in &config.nodes {
                let row = match CtlClient::connect(n.id, &n.addr).await {
                    Ok(mut c) => c.status().await.map_err(|e| e.to_string()),
                    Err(e) => Err(e.to_string()),
                };
                rows.push((n.id, row));
            }
            rows
        });
        print!("{}", render_table(&rows));
        return ExitCode::SUCCESS;
    }
    let Some(id) = node else {
        return fail(&"ctl needs --node ID (or `ctl status --all`)");
    };
    let addr = match config.node(NodeId(id)) {
        Ok(n) => n.addr.clone(),
        Err(e) => return fail(&e),
    };
    let result = runtime.block_on(async {
        let mut client = CtlClient::connect(NodeId(id), &addr).await?;
        match action {
            CtlAction::Request => client.request().await,
            CtlAction::Release => client.release().await,
            CtlAction::Status { .. } => client.status().await.map(|s| render_status(&s)),
        }
    });
    match result {
        Ok(text) => {
            println!("{}", text.trim_end());
            ExitCode::SUCCESS
        }
        Err(CtlError::Refused(why)) => {
            eprintln!("error: {why}");
            ExitCode::FAILURE
        }
        Err(e) => fail(&e),
    }
}
