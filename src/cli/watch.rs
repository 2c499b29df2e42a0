//! `maekawa watch [--config F] [--addr 127.0.0.1:8080] [--log-dir DIR]`: serve the page that
//! draws the cluster live from its daemons, or replays a run from its logs (README, "Watch it
//! live"). Runs until SIGINT or SIGTERM.

use super::fail;
use clap::Args;
use maekawa::config::Config;
use maekawa::watch::{live::Live, replay::Replay, Layout, Source, Watch};
use std::path::PathBuf;
use std::process::ExitCode;

/// Flags of `maekawa watch`.
#[derive(Args, Debug)]
#[command(
    after_help = "Live: maekawa watch follows every daemon of the cluster file (a killed \
one shows as down, and its return). Replay: maekawa watch --log-dir logs plays a finished run, \
with play/pause, speed, a time slider and a step-through of one entry's messages.\n\
Open the printed address in a browser; the page needs no network beyond this machine."
)]
pub(crate) struct WatchArgs {
    /// The cluster file: the daemons to follow, and the grid to draw.
    #[arg(long, default_value = "quorums.json")]
    config: PathBuf,
    /// Where to serve the page (HOST:PORT; keep it on loopback unless you mean to share it).
    #[arg(long, value_name = "HOST:PORT", default_value = "127.0.0.1:8080")]
    addr: String,
    /// Replay the run whose logs are in DIR instead of following the daemons.
    #[arg(long, value_name = "DIR")]
    log_dir: Option<PathBuf>,
    #[command(flatten)]
    tls: super::TlsArgs,
    #[command(flatten)]
    identity: super::IdentityArgs,
}

/// Serves the page until SIGINT/SIGTERM (exit 0); 2 when the address, cluster file or logs
/// cannot be used.
pub(crate) fn run(args: WatchArgs) -> ExitCode {
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
    {
        Ok(r) => r,
        Err(e) => return fail(&e),
    };
    runtime.block_on(watch(args))
}

async fn watch(args: WatchArgs) -> ExitCode {
    let (layout, source, what) = match &args.log_dir {
        Some(dir) => {
            let replay = match Replay::read(dir) {
                Ok(r) => r,
                Err(e) => return fail(&e),
            };
            // The run's own cluster file draws its grid; without one, its logs' nodes do.
            let layout = match Config::load(&args.config) {
                Ok(c) => Layout::of_config(&c),
                Err(_) => Layout::of_ids(&replay.nodes),
            };
            let what = format!("replaying {} ({} nodes)", dir.display(), replay.nodes.len());
            (layout, Source::Replay(replay), what)
        }
        None => {
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
            let what = format!(
                "following the {} nodes of {}",
                config.nodes.len(),
                args.config.display()
            );
            (
                Layout::of_config(&config),
                Source::Live(Live::start(&config, &security)),
                what,
            )
        }
    };
    let listener = match tokio::net::TcpListener::bind(&args.addr).await {
        Ok(l) => l,
        Err(e) => {
            return fail(&format!(
                "--addr {}: cannot listen there ({e}); choose another with --addr HOST:PORT",
                args.addr
            ))
        }
    };
    let url = match listener.local_addr() {
        Ok(a) => format!("http://{a}/"),
        Err(_) => format!("http://{}/", args.addr),
    };
    outln!("maekawa watch: {what}; open {url} (Ctrl-C stops)");
    let server = tokio::spawn(maekawa::watch::serve(listener, Watch::new(&layout, source)));
    use tokio::signal::unix::{signal, SignalKind};
    let (mut int, mut term) = match (
        signal(SignalKind::interrupt()),
        signal(SignalKind::terminate()),
    ) {
        (Ok(i), Ok(t)) => (i, t),
        (Err(e), _) | (_, Err(e)) => return fail(&format!("cannot handle signals: {e}")),
    };
    tokio::select! {
        _ = int.recv() => {}
        _ = term.recv() => {}
    }
    server.abort();
    ExitCode::SUCCESS
}
