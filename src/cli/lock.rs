//! `maekawa lock NAME [-- CMD ARGS…]`: take a named lock from a daemon and run a command
//! under it, or print the token and hold the lock until SIGINT/SIGTERM.
//!
//! Exit codes (README, "`maekawa lock`"): CMD's own (128+N when a signal N ended it); 2 bad
//! input or no daemon; 124 timed out; 125 the lock was lost; 126 CMD cannot be run; 127 CMD
//! not found. 124, 126 and 127 are GNU `timeout`'s and the shell's; 125 is ours.
//!
//! CMD runs in a process group of its own, and every signal this command forwards (SIGINT,
//! SIGTERM, SIGHUP, SIGQUIT, SIGUSR1, SIGUSR2), and the SIGTERM/SIGKILL of a lost lock, goes
//! to that whole group. So `sh -c 'a; b'` cannot leave `b` running after the shell is gone
//! (consul #2022). The price: CMD is not in the terminal's foreground group, so a CMD that
//! reads an interactive terminal is stopped (SIGTTIN); give it its input another way.

use super::fail;
use clap::Args;
use maekawa::client::{LockClient, LockError, LockGuard, LockOptions};
use maekawa::config::Config;
use maekawa::tls::Security;
use maekawa_core::id::NodeId;
use std::ffi::OsString;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;
use tokio::signal::unix::{signal, Signal, SignalKind};

/// Exit code: the wait for the lock timed out (as GNU `timeout`).
const TIMED_OUT: u8 = 124;
/// Exit code: the lock was lost (the session broke) while it was held.
const LOST: u8 = 125;
/// Exit code: CMD exists but cannot be run (as the shell).
const CANNOT_RUN: u8 = 126;
/// Exit code: CMD is not found (as the shell).
const NOT_FOUND: u8 = 127;
/// How long to wait for the daemon to confirm a release before closing the session instead
/// (which releases the lock too).
const RELEASE_WAIT: Duration = Duration::from_secs(10);

/// Flags of `maekawa lock`.
#[derive(Args, Debug)]
#[command(
    group(clap::ArgGroup::new("daemon").required(true).args(["node", "addr"])),
    after_help = "Exit codes: CMD's own (128+N if signal N ended it); 2 bad input or no daemon; \
124 timed out; 125 the lock was lost; 126 CMD cannot be run; 127 CMD not found.\n\
Without CMD: prints `NAME TOKEN` and holds the lock until SIGINT/SIGTERM (then releases, exit 0).\n\
Example: maekawa lock counter --node 0 -- sh -c 'echo \"token $MAEKAWA_LOCK_TOKEN\"'"
)]
pub(crate) struct LockArgs {
    /// The lock's name: 1 to 128 bytes of printable ASCII without spaces.
    pub(super) name: String,
    /// Ask the daemon of node ID (its address comes from the cluster file).
    #[arg(long, value_name = "ID")]
    pub(super) node: Option<u32>,
    /// Ask the daemon at this address instead (no cluster file needed).
    #[arg(long, value_name = "HOST:PORT")]
    pub(super) addr: Option<String>,
    /// The cluster file (with --node).
    #[arg(long, default_value = "quorums.json")]
    pub(super) config: PathBuf,
    #[command(flatten)]
    pub(super) tls: super::TlsArgs,
    #[command(flatten)]
    pub(super) identity: super::IdentityArgs,
    /// Wait at most this long for the lock (500ms, 5s, 2m; 0 = try once). Default: forever.
    #[arg(long, value_name = "DUR", value_parser = parse_duration)]
    pub(super) timeout: Option<Duration>,
    /// When the lock is lost, how long CMD has to exit after SIGTERM before SIGKILL.
    #[arg(long, value_name = "DUR", default_value = "5s", value_parser = parse_duration)]
    pub(super) grace: Duration,
    /// A semaphore: at most N holders of NAME at once. Each holds one of N slots, the locks
    /// NAME#1 .. NAME#N (MAEKAWA_LOCK_SLOT says which), with that slot's fencing token. Give
    /// every holder the same N (2 to 64; 1 is the plain lock).
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u32).range(1..=64))]
    pub(super) limit: Option<u32>,
    /// The command to run while holding the lock, after `--`. It gets MAEKAWA_LOCK_NAME,
    /// MAEKAWA_LOCK_TOKEN (the fencing token), MAEKAWA_LOCK_NODE, MAEKAWA_LOCK_SESSION and, for
    /// a semaphore, MAEKAWA_LOCK_SLOT.
    #[arg(last = true, value_name = "CMD")]
    pub(super) command: Vec<OsString>,
    /// The label `maekawa locks` shows (an election's value); by default who runs what.
    #[arg(skip)]
    pub(super) label: Option<String>,
}

fn parse_duration(s: &str) -> Result<Duration, humantime::DurationError> {
    humantime::parse_duration(s)
}

/// Takes the lock, then runs CMD under it or holds it; see the module's exit codes.
pub(crate) fn run(args: LockArgs) -> ExitCode {
    if let Err(e) = maekawa::client::validate_name(&args.name) {
        return fail(&e);
    }
    let node = match args.node {
        Some(id) => match Config::load(&args.config) {
            Ok(c) => Some((c, NodeId(id))),
            Err(e) => return fail(&e),
        },
        None => None,
    };
    let runtime = match super::runtime() {
        Ok(r) => r,
        Err(code) => return code,
    };
    let security = match args.tls.client_security(
        &args.config,
        node.as_ref().map(|(c, _)| c),
        args.addr.as_deref(),
        args.identity.stem(maekawa::tls::CLIENT),
    ) {
        Ok(s) => s,
        Err(e) => return fail(&e),
    };
    runtime.block_on(lock(args, node, security))
}

/// The signals that stop the wait for the lock, and end the hold without CMD.
struct Stops {
    int: Signal,
    term: Signal,
}

impl Stops {
    /// Resolves with the signal's number when SIGINT or SIGTERM arrives.
    async fn recv(&mut self) -> i32 {
        tokio::select! {
            _ = self.int.recv() => libc::SIGINT,
            _ = self.term.recv() => libc::SIGTERM,
        }
    }
}

async fn lock(args: LockArgs, node: Option<(Config, NodeId)>, security: Security) -> ExitCode {
    let mut stops = match (
        signal(SignalKind::interrupt()),
        signal(SignalKind::terminate()),
    ) {
        (Ok(int), Ok(term)) => Stops { int, term },
        (Err(e), _) | (_, Err(e)) => return fail(&format!("cannot handle signals: {e}")),
    };
    let connected = match (&node, &args.addr) {
        (Some((config, id)), _) => LockClient::connect_node_with(config, *id, &security).await,
        (None, Some(addr)) => LockClient::connect_secure(addr, &security).await,
        (None, None) => return fail(&"lock needs --node ID or --addr HOST:PORT"),
    };
    let mut client = match connected {
        Ok(c) => c,
        Err(e) => return fail(&e),
    };
    let label = args.label.clone().unwrap_or_else(|| label(&args.command));
    let mut options = LockOptions::default().client_label(label);
    if let Some(t) = args.timeout {
        options = options.timeout(t);
    }
    if let Some(n) = args.limit {
        options = options.limit(n);
    }
    let acquired = tokio::select! {
        r = client.lock(&args.name, options) => r,
        sig = stops.recv() => return ExitCode::from(128 + sig as u8),
    };
    let guard = match acquired {
        Ok(g) => g,
        Err(e @ LockError::TimedOut { .. }) => {
            errln!("error: {e}");
            return ExitCode::from(TIMED_OUT);
        }
        Err(e) => return fail(&e),
    };
    if args.command.is_empty() {
        hold(guard, &mut stops).await
    } else {
        run_command(guard, &args.command, args.grace, stops).await
    }
}

/// What `maekawa locks` shows for this session: who runs what, where.
fn label(command: &[OsString]) -> String {
    let host = std::fs::read_to_string("/proc/sys/kernel/hostname")
        .map(|h| h.trim().to_string())
        .unwrap_or_else(|_| "?".into());
    let mut label = format!("maekawa lock, pid {} on {host}", std::process::id());
    if let Some(cmd) = command.first() {
        label.push_str(&format!(": {}", cmd.to_string_lossy()));
    }
    label
}

/// Without CMD: print `NAME TOKEN` (`NAME#SLOT TOKEN` for a semaphore, the slot's lock and
/// its token), hold until SIGINT/SIGTERM, release, exit 0.
async fn hold(mut guard: LockGuard, stops: &mut Stops) -> ExitCode {
    match guard.slot() {
        Some(slot) => outln!("{}#{slot} {}", guard.name(), guard.token()),
        None => outln!("{} {}", guard.name(), guard.token()),
    }
    let lost = tokio::select! {
        e = guard.lost() => Some(e),
        _ = stops.recv() => None,
    };
    if let Some(e) = lost {
        errln!("error: {e}");
        return ExitCode::from(LOST);
    }
    release(guard, ExitCode::SUCCESS).await
}

/// Releases the lock and exits with `code`, or with 125 when the lock turns out to have been
/// lost already.
async fn release(guard: LockGuard, code: ExitCode) -> ExitCode {
    let (name, token) = (guard.name().to_string(), guard.token());
    match tokio::time::timeout(RELEASE_WAIT, guard.release()).await {
        Ok(Ok(())) => code,
        Ok(Err(e)) => {
            errln!("error: {e} (noticed at the release)");
            ExitCode::from(LOST)
        }
        Err(_) => {
            // Dropping the guard closed the session, which releases the lock as well.
            errln!(
                "warning: lock {name} (token {token}): no answer to the release within {}s; closed the session instead",
                RELEASE_WAIT.as_secs()
            );
            code
        }
    }
}

/// The signals passed on to CMD besides SIGINT and SIGTERM. Installed only when there is a
/// CMD: before that they keep their default action.
struct Forward {
    hup: Signal,
    quit: Signal,
    usr1: Signal,
    usr2: Signal,
}

impl Forward {
    fn install() -> std::io::Result<Forward> {
        Ok(Forward {
            hup: signal(SignalKind::hangup())?,
            quit: signal(SignalKind::quit())?,
            usr1: signal(SignalKind::user_defined1())?,
            usr2: signal(SignalKind::user_defined2())?,
        })
    }

    /// Resolves with the signal's number when one of them arrives.
    async fn recv(&mut self) -> i32 {
        tokio::select! {
            _ = self.hup.recv() => libc::SIGHUP,
            _ = self.quit.recv() => libc::SIGQUIT,
            _ = self.usr1.recv() => libc::SIGUSR1,
            _ = self.usr2.recv() => libc::SIGUSR2,
        }
    }
}

/// Sends `sig` to every process of CMD's group.
fn signal_group(pgid: i32, sig: i32) {
    // SAFETY: kill(2) takes plain integers and touches no memory of ours. A negative pid
    // names the process group; CMD is its leader and is not reaped yet, so the id is ours.
    unsafe {
        libc::kill(-pgid, sig);
    }
}

/// With CMD: run it under the lock, forward signals to its group, stop it if the lock is
/// lost, release when it exits, and exit with its code.
/// If `maekawa lock` itself is killed (SIGKILL: no chance to stop CMD), its session ends and
/// the lock goes to the next client, so CMD must not go on as if it held it: the kernel sends
/// it SIGKILL when its parent dies (Linux `PR_SET_PDEATHSIG`; the runtime is single-threaded,
/// so the parent thread is the process). Processes CMD started itself are not covered.
fn die_with_parent(cmd: &mut tokio::process::Command) {
    let parent = std::process::id() as libc::pid_t;
    // SAFETY: between fork and exec the closure calls only async-signal-safe functions
    // (prctl, getppid, raise) and allocates nothing.
    unsafe {
        cmd.pre_exec(move || {
            if libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL) != 0 {
                return Err(std::io::Error::last_os_error());
            }
            // The parent may have died before the prctl: then no signal would ever come.
            if libc::getppid() != parent {
                libc::raise(libc::SIGKILL);
            }
            Ok(())
        });
    }
}

async fn run_command(
    mut guard: LockGuard,
    command: &[OsString],
    grace: Duration,
    mut stops: Stops,
) -> ExitCode {
    let program = command[0].to_string_lossy().into_owned();
    let mut forward = match Forward::install() {
        Ok(f) => f,
        Err(e) => return fail(&format!("cannot handle signals: {e}")),
    };
    let mut cmd = tokio::process::Command::new(&command[0]);
    cmd.args(&command[1..])
        .env("MAEKAWA_LOCK_NAME", guard.name())
        .env("MAEKAWA_LOCK_TOKEN", guard.token().to_string())
        .env("MAEKAWA_LOCK_NODE", guard.node().to_string())
        .env("MAEKAWA_LOCK_SESSION", guard.session().to_string())
        .process_group(0);
    if let Some(slot) = guard.slot() {
        cmd.env("MAEKAWA_LOCK_SLOT", slot.to_string());
    }
    die_with_parent(&mut cmd);
    let mut child = match cmd.spawn() {
        Ok(c) => c,
        Err(e) => {
            let code = if e.kind() == std::io::ErrorKind::NotFound {
                NOT_FOUND
            } else {
                CANNOT_RUN
            };
            errln!("error: cannot run {program}: {e}");
            // The code says CMD did not run; a lost lock at the release changes nothing.
            let _ = release(guard, ExitCode::SUCCESS).await;
            return ExitCode::from(code);
        }
    };
    let Some(pgid) = child.id().and_then(|id| i32::try_from(id).ok()) else {
        return fail(&"CMD has no process id");
    };
    enum Event {
        Exited(std::io::Result<std::process::ExitStatus>),
        Lost(LockError),
        Signal(i32),
    }
    loop {
        let event = tokio::select! {
            status = child.wait() => Event::Exited(status),
            e = guard.lost() => Event::Lost(e),
            sig = stops.recv() => Event::Signal(sig),
            sig = forward.recv() => Event::Signal(sig),
        };
        match event {
            Event::Signal(sig) => signal_group(pgid, sig),
            Event::Exited(Ok(status)) => return release(guard, exit_code(status)).await,
            Event::Exited(Err(e)) => {
                errln!("error: cannot wait for {program}: {e}");
                return release(guard, ExitCode::from(2)).await;
            }
            Event::Lost(e) => {
                errln!(
                    "error: {e}; stopping {program} (SIGTERM, then SIGKILL after {})",
                    humantime::format_duration(grace)
                );
                signal_group(pgid, libc::SIGTERM);
                if tokio::time::timeout(grace, child.wait()).await.is_err() {
                    signal_group(pgid, libc::SIGKILL);
                    let _ = child.wait().await;
                }
                return ExitCode::from(LOST);
            }
        }
    }
}

/// CMD's exit code as a shell reports it: its code, or 128+N when signal N ended it.
fn exit_code(status: std::process::ExitStatus) -> ExitCode {
    use std::os::unix::process::ExitStatusExt;
    match (status.code(), status.signal()) {
        (Some(code), _) => ExitCode::from(code as u8),
        (None, Some(sig)) => ExitCode::from(128u8.wrapping_add(sig as u8)),
        (None, None) => ExitCode::from(2),
    }
}
