//! `maekawa elect NAME VALUE [-- CMD]` and `maekawa elect NAME --watch`: leader election on
//! a named lock (docs/CLIENTS.md, "Leader election").
//!
//! A candidate waits for the lock NAME with VALUE as its session's label (hot standbys are
//! the sessions waiting behind the leader) and runs CMD while it leads, exactly as `maekawa
//! lock` runs a command: the same exit codes, signals and loss handling (125 when the term
//! is lost, CMD stopped). `--watch` prints the leader and every change, by polling every node
//! of the cluster file (`maekawa_client::election::LeaderWatch`).

use super::fail;
use super::lock::LockArgs;
use clap::Args;
use maekawa::config::Config;
use maekawa_client::election::{Leader, LeaderWatch, DEFAULT_INTERVAL};
use std::ffi::OsString;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

/// Flags of `maekawa elect`.
#[derive(Args, Debug)]
#[command(
    after_help = "Campaign: maekawa elect NAME VALUE --node ID -- CMD runs CMD while this \
candidate leads (MAEKAWA_LOCK_TOKEN is the term's fencing token); without CMD it prints \
`NAME TOKEN` once it leads and holds the lead until SIGINT/SIGTERM.\n\
Watch: maekawa elect NAME --watch prints `TOKEN NODE VALUE` for the leader and for every new \
one (--json: one object a line), until SIGINT.\n\
Exit codes as maekawa lock's: CMD's own; 2 bad input or no daemon; 125 the lead was lost."
)]
pub(crate) struct ElectArgs {
    /// The election's name: the lock its candidates wait for.
    name: String,
    /// This candidate's value (its address, host name…), shown to watchers and by `maekawa
    /// locks` while it leads.
    #[arg(required_unless_present = "watch")]
    value: Option<String>,
    /// Print the current leader and every change instead of campaigning.
    #[arg(long, conflicts_with_all = ["value", "node", "addr", "command"])]
    watch: bool,
    /// With --watch: one JSON object a line ({"name","value","node","token","session"}).
    #[arg(long)]
    json: bool,
    /// With --watch: how often every node is asked (100ms, 1s) [default: 200ms].
    #[arg(long, value_name = "DUR", value_parser = parse_duration)]
    interval: Option<Duration>,
    /// Campaign through the daemon of node ID (its address comes from the cluster file).
    #[arg(long, value_name = "ID", conflicts_with = "addr")]
    node: Option<u32>,
    /// Campaign through the daemon at this address instead.
    #[arg(long, value_name = "HOST:PORT")]
    addr: Option<String>,
    /// The cluster file (with --node, and for --watch).
    #[arg(long, default_value = "quorums.json")]
    config: PathBuf,
    #[command(flatten)]
    tls: super::TlsArgs,
    #[command(flatten)]
    identity: super::IdentityArgs,
    /// When the lead is lost, how long CMD has to exit after SIGTERM before SIGKILL.
    #[arg(long, value_name = "DUR", default_value = "5s", value_parser = parse_duration)]
    grace: Duration,
    /// The command to run while leading, after `--`.
    #[arg(last = true, value_name = "CMD")]
    command: Vec<OsString>,
}

fn parse_duration(s: &str) -> Result<Duration, humantime::DurationError> {
    humantime::parse_duration(s)
}

/// Campaigns or watches; see the module's exit codes.
pub(crate) fn run(args: ElectArgs) -> ExitCode {
    if let Err(e) = maekawa::client::validate_name(&args.name) {
        return fail(&e);
    }
    if args.watch {
        return watch(args);
    }
    if args.json || args.interval.is_some() {
        return fail(&"--json and --interval go with --watch (see maekawa elect --help)");
    }
    let Some(value) = args.value else {
        return fail(&"elect needs a VALUE (or --watch)");
    };
    if args.node.is_none() && args.addr.is_none() {
        return fail(&"elect needs --node ID or --addr HOST:PORT to campaign (or --watch)");
    }
    // A candidate is a lock waited for with no timeout, held under the label VALUE.
    super::lock::run(LockArgs {
        name: args.name,
        node: args.node,
        addr: args.addr,
        config: args.config,
        tls: args.tls,
        identity: args.identity,
        timeout: None,
        grace: args.grace,
        limit: None,
        command: args.command,
        label: Some(value),
    })
}

/// Prints the leader and every new one until SIGINT/SIGTERM.
fn watch(args: ElectArgs) -> ExitCode {
    let config = match Config::load(&args.config) {
        Ok(c) => c,
        Err(e) => return fail(&e),
    };
    let security = match args
        .tls
        .security(&config, args.identity.stem(maekawa::tls::CLIENT))
    {
        Ok((s, _)) => s,
        Err(e) => return fail(&e),
    };
    let runtime = match super::runtime() {
        Ok(r) => r,
        Err(code) => return code,
    };
    runtime.block_on(async {
        use tokio::signal::unix::{signal, SignalKind};
        let (mut int, mut term) = match (
            signal(SignalKind::interrupt()),
            signal(SignalKind::terminate()),
        ) {
            (Ok(i), Ok(t)) => (i, t),
            (Err(e), _) | (_, Err(e)) => return fail(&format!("cannot handle signals: {e}")),
        };
        let mut watch = LeaderWatch::start(
            &config,
            &args.name,
            &security,
            args.interval.unwrap_or(DEFAULT_INTERVAL),
        );
        loop {
            tokio::select! {
                leader = watch.next() => print_leader(&args.name, &leader, args.json),
                _ = int.recv() => return ExitCode::SUCCESS,
                _ = term.recv() => return ExitCode::SUCCESS,
            }
        }
    })
}

/// One line for a new leader: `TOKEN NODE VALUE` (the value last: it may hold spaces), or a
/// JSON object.
fn print_leader(name: &str, l: &Leader, json: bool) {
    if json {
        let line = serde_json::json!({
            "name": name,
            "value": l.value,
            "node": l.node.0,
            "token": l.token,
            "session": l.session,
        });
        outln!("{line}");
    } else {
        outln!("{} {} {}", l.token, l.node, l.value);
    }
}
