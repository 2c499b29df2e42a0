//! `maekawa certs init`: make the cluster's CA and every certificate its nodes and clients
//! need (README, "Security").

use super::fail;
use clap::{Args, Subcommand};
use maekawa::config::Config;
use std::path::PathBuf;
use std::process::ExitCode;

/// Flags of `maekawa certs`.
#[derive(Args, Debug)]
pub(crate) struct CertsArgs {
    #[command(subcommand)]
    action: CertsAction,
}

#[derive(Subcommand, Debug)]
enum CertsAction {
    /// Make a CA and, signed by it, a certificate for every node of the cluster file
    /// (node-<id>.pem/.key), one for `ctl` (admin.pem/.key) and one for lock clients
    /// (client.pem/.key). Files that exist are kept, so running it again after adding a node
    /// adds only that node's. Copy to each host only its own node's files and ca.pem; keep
    /// ca.key off the nodes.
    Init {
        /// The cluster file whose nodes get certificates.
        #[arg(long, default_value = "quorums.json")]
        config: PathBuf,
        /// Where to write them; default: `certs` beside the cluster file, where every command
        /// looks for them.
        #[arg(long, value_name = "DIR")]
        out: Option<PathBuf>,
    },
}

/// Exit 0 when every certificate exists afterwards, 2 for bad input or a failed write.
pub(crate) fn run(args: CertsArgs) -> ExitCode {
    let CertsAction::Init { config, out } = args.action;
    let config = match Config::load(&config) {
        Ok(c) => c,
        Err(e) => return fail(&e),
    };
    let out = out.unwrap_or_else(|| maekawa::tls::default_dir(&config.path));
    match maekawa::certs::init(&config, &out) {
        Ok(made) => {
            for path in &made.written {
                outln!("wrote {}", path.display());
            }
            outln!(
                "{}: {} certificates written, {} kept; nodes and clients of {} now use mutual TLS",
                out.display(),
                made.written.len(),
                made.kept.len(),
                config.path.display()
            );
            ExitCode::SUCCESS
        }
        Err(e) => fail(&e),
    }
}
