//! One module per subcommand of `maekawa`: its flags (a clap `Args` struct) and a `run` that
//! calls the library and turns the outcome into output and an exit code.
//!
//! This is the top layer (ARCHITECTURE.md): it may use everything below it, and nothing uses
//! it. It holds no protocol, file-format or network logic of its own; what is here is
//! presentation (how a result is printed) and the process's edges (signals, the runtime).

/// `print!` for a command's output, through [`output::stdout`]: quiet when the reader has
/// left.
macro_rules! out {
    ($($arg:tt)*) => {
        $crate::cli::output::stdout(format_args!($($arg)*))
    };
}

/// `println!` for a command's output, through [`output::stdout`]: quiet when the reader has
/// left.
macro_rules! outln {
    ($($arg:tt)*) => {
        $crate::cli::output::stdout(format_args!("{}\n", format_args!($($arg)*)))
    };
}

/// `eprintln!` through [`output::stderr`], which never panics.
macro_rules! errln {
    ($($arg:tt)*) => {
        $crate::cli::output::stderr(format_args!("{}\n", format_args!($($arg)*)))
    };
}

pub(crate) mod bench;
pub(crate) mod certs;
pub(crate) mod check;
pub(crate) mod cluster;
pub(crate) mod ctl;
pub(crate) mod elect;
pub(crate) mod explore;
pub(crate) mod lock;
pub(crate) mod locks;
pub(crate) mod node;
pub(crate) mod output;
pub(crate) mod quorums;
pub(crate) mod report;
pub(crate) mod scale;
pub(crate) mod simd;
pub(crate) mod simulate;
pub(crate) mod timeline;
pub(crate) mod watch;

use clap::Args;
use maekawa::config::Config;
use maekawa::tls::{Security, TlsError};
use maekawa_core::protocol::Options;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

/// How a command reaches the cluster: mutual TLS with the certificates of `--certs`, or
/// plaintext (README, "Security").
#[derive(Args, Debug, Clone)]
pub(crate) struct TlsArgs {
    /// The cluster's certificates (made by `maekawa certs init`); default: `certs` beside the
    /// cluster file. When it holds ca.pem, every connection uses mutual TLS.
    #[arg(long, value_name = "DIR", global = true)]
    certs: Option<PathBuf>,
    /// Plaintext even when the cluster's addresses are not all loopback and there are no
    /// certificates: nothing is encrypted or authenticated, so anyone who reaches a port can
    /// act as any node or client.
    #[arg(long, global = true)]
    insecure: bool,
}

impl TlsArgs {
    /// The certificates directory for the cluster file at `config`.
    pub(crate) fn dir(&self, config: &Path) -> PathBuf {
        self.certs
            .clone()
            .unwrap_or_else(|| maekawa::tls::default_dir(config))
    }

    /// The security of a process of `config` that presents certificate `stem`, and the
    /// warning to show when it is plaintext.
    pub(crate) fn security(
        &self,
        config: &Config,
        stem: &str,
    ) -> Result<(Security, Option<String>), TlsError> {
        Security::choose(config, &self.dir(&config.path), stem, self.insecure)
    }

    /// The security of a client that talks to the nodes of `config` when it has one, else to
    /// `addr` alone (`--addr`, no cluster file read); the certificates directory is looked for
    /// beside `config_path` either way. Plaintext needs no warning here: the daemons log it.
    pub(crate) fn client_security(
        &self,
        config_path: &Path,
        config: Option<&Config>,
        addr: Option<&str>,
        stem: &str,
    ) -> Result<Security, TlsError> {
        let dir = self.dir(config_path);
        let chosen = match config {
            Some(c) => Security::choose(c, &dir, stem, self.insecure),
            None => Security::choose_for(config_path, addr.into_iter(), &dir, stem, self.insecure),
        };
        chosen.map(|(security, _)| security)
    }
}

/// The certificate a client command presents (README, "Security").
#[derive(Args, Debug, Clone)]
pub(crate) struct IdentityArgs {
    /// Present `<certs>/NAME.pem` and `NAME.key` instead of the command's default (`admin`
    /// for ctl, `client` for lock and locks).
    #[arg(long, value_name = "NAME", global = true)]
    identity: Option<String>,
}

impl IdentityArgs {
    /// The file stem to present: the flag's, or the command's default.
    pub(crate) fn stem<'a>(&'a self, default: &'a str) -> &'a str {
        self.identity.as_deref().unwrap_or(default)
    }
}

/// The switches of `simulate` and `explore` that remove a safeguard on purpose, to show that
/// the checkers catch its absence (docs/VERIFICATION.md). Hidden from `--help`: never for
/// real use.
#[derive(Args, Debug)]
pub(crate) struct Mutations {
    /// Test-only: voters keep no journal, to watch the checker catch the double grant.
    #[arg(long, hide = true)]
    without_journal: bool,
    /// Test-only: switch off Sanders' lock-change FAILED rule to watch the checker catch
    /// the deadlock it prevents.
    #[arg(long, hide = true)]
    without_lock_change_failed: bool,
    /// Test-only: the token floor is not kept across a restart, to watch the checker catch
    /// the repeated fencing token.
    #[arg(long, hide = true)]
    without_token_journal: bool,
    /// Test-only: a RELEASE does not raise its voter's token floor, to watch the checker catch
    /// the repeated fencing token.
    #[arg(long, hide = true)]
    without_release_token: bool,
    /// Test-only: a withdrawn request sends no RELEASE, to watch the checker catch the votes
    /// it leaves behind.
    #[arg(long, hide = true)]
    without_cancel_release: bool,
    /// Test-only: a voter reclaims a suspected holder's confirmed vote at once, without
    /// waiting for its lease to run out, to watch the checker catch two live holders.
    #[arg(long, hide = true)]
    without_reclaim_wait: bool,
    /// Test-only: a voter confirms a request's timestamp as its token in its GRANT even when
    /// its floor already reached it, to watch the checker catch the repeated token.
    #[arg(long, hide = true)]
    without_grant_floor_check: bool,
    /// Test-only: a fast entry's lease runs from the entry, not from the request's making, to
    /// watch the checker catch a lease that outlives a reclaim.
    #[arg(long, hide = true)]
    lease_from_entry: bool,
    /// Every entry confirms its token with a Fence round (the protocol before fast grants,
    /// issue 14): the daemon's `--handover fenced`.
    #[arg(long)]
    fenced_entries: bool,
    /// Test-only: a restarted voter that forgot its votes grants at once, without waiting a
    /// reclaim period, to watch the checker catch the second holder it lets in.
    #[arg(long, hide = true)]
    without_quarantine: bool,
    /// Test-only: a node that lost its journal grants without first hearing the token floor of
    /// a node of every quorum it is in, to watch the checker catch the repeated token.
    #[arg(long, hide = true)]
    without_floor_witnesses: bool,
    /// Test-only: a membership change goes from the old configuration straight to the new
    /// one, without the joint one, to watch the checker catch two holders.
    #[arg(long, hide = true)]
    pub(crate) skip_joint: bool,
    /// Test-only: a membership change proposes its next configuration without waiting for
    /// the one before the current to drain, to watch the checker catch the overlap.
    #[arg(long, hide = true)]
    pub(crate) skip_drain: bool,
    /// Journal every vote before its GRANT leaves, also with leases (the protocol before
    /// issue 26): the daemon's `--journal-votes`.
    #[arg(long)]
    journal_votes: bool,
    /// Maekawa's votes without time: no lease, no fence round before an entry, and a dead
    /// holder's votes are never reclaimed (the daemon's `--lease-ms 0`).
    #[arg(long)]
    without_leases: bool,
}

/// The faults of issue 14 that `simulate` and `explore` can inject, besides crash-restarts.
#[derive(Args, Debug)]
pub(crate) struct Faults {
    /// Nodes that die for good at any moment (suspected by every live node, eventually).
    #[arg(long, default_value_t = 0)]
    stops: u32,
    /// Suspicions of a live node at any moment (each lifted later): a node that is only
    /// slow, paused or cut off.
    #[arg(long, default_value_t = 0)]
    wrong_suspicions: u32,
    /// How many of the crash-restarts (`--crashes`) lose the node's disk too: it restarts
    /// with no journal, as a replaced host does.
    #[arg(long, default_value_t = 0)]
    pub(crate) disk_losses: u32,
    /// A membership change during the run, over nodes 0..N: `add` (node N-1 joins nodes
    /// 0..N-1), `remove` (node N-1 leaves), `replace` (node N-1, a new host, takes node N-2's
    /// place; node N-2 may die first). Through the joint configuration, as `maekawa cluster`
    /// makes it (DESIGN.md, "Membership changes").
    #[arg(long, value_parser = ["add", "remove", "replace"])]
    pub(crate) change: Option<String>,
}

impl Faults {
    /// The membership change these flags and `mutations` ask for.
    pub(crate) fn change_model(&self, mutations: &Mutations) -> maekawa_core::cluster::ChangeModel {
        maekawa_core::cluster::ChangeModel {
            change: self
                .change
                .as_deref()
                .and_then(maekawa_core::cluster::Change::parse),
            joint: !mutations.skip_joint,
            drain: !mutations.skip_drain,
        }
    }
}

impl Mutations {
    /// The protocol options with the chosen safeguards removed.
    pub(crate) fn options(&self) -> Options {
        Options {
            lock_change_failed: !self.without_lock_change_failed,
            release_carries_token: !self.without_release_token,
            cancel_releases: !self.without_cancel_release,
            reclaim_waits: !self.without_reclaim_wait,
            leases: !self.without_leases,
            fast_grants: !self.fenced_entries,
            grant_checks_floor: !self.without_grant_floor_check,
            lease_from_request: !self.lease_from_entry,
            quarantine: !self.without_quarantine,
            forget_votes: !self.journal_votes,
            floor_witnesses: !self.without_floor_witnesses,
            ..Options::default()
        }
    }

    /// The crash model: crash-restarts and deaths allowed, wrong suspicions, and what the
    /// journal keeps.
    pub(crate) fn crash_model(
        &self,
        crashes: u32,
        faults: &Faults,
    ) -> maekawa_core::cluster::CrashModel {
        maekawa_core::cluster::CrashModel {
            crashes,
            journal: !self.without_journal,
            journal_token: !self.without_token_journal,
            stops: faults.stops,
            wrong_suspicions: faults.wrong_suspicions,
            disk_losses: faults.disk_losses,
        }
    }

    /// Whether voters keep their journal across a crash.
    pub(crate) fn journal(&self) -> bool {
        !self.without_journal
    }
}

/// The single-threaded runtime a client command runs its calls on, or the exit of a command
/// that cannot make one (one `error:` line, exit code 2).
pub(crate) fn runtime() -> Result<tokio::runtime::Runtime, ExitCode> {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| fail(&e))
}

/// Bad input or a failed start: one line on stderr, exit code 2.
pub(crate) fn fail(e: &dyn std::fmt::Display) -> ExitCode {
    errln!("error: {e}");
    ExitCode::from(2)
}
