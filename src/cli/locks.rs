//! `maekawa locks`: every named lock in use at one node or at every node of the cluster file,
//! with its holder (session and client), token and waiters, as a table or as JSON.

use super::fail;
use clap::Args;
use maekawa::client::{LockClient, LockError, LockInfo, NodeLocks, SessionInfo};
use maekawa::config::Config;
use maekawa_core::id::{NodeId, RequestId};
use serde_json::{json, Value};
use std::path::PathBuf;
use std::process::ExitCode;

/// Flags of `maekawa locks`.
#[derive(Args, Debug)]
#[command(
    group(clap::ArgGroup::new("which").args(["node", "addr", "all"])),
    after_help = "Exit codes: 0 every node asked answered; 1 some did not (the output says which); \
2 none did, or bad input.\n\
--json prints one array with an object per lock per node: node, name, state (held, acquiring, \
voting: only its vote or voter queue concerns it), token (null when not held), holder ({session, client} or null), waiting ([{session, \
client}], first in line first), request, vote ({ts, node, inc} or null) and queue ([{ts, node, inc}])."
)]
pub(crate) struct LocksArgs {
    /// Ask only the daemon of node ID (its address comes from the cluster file).
    #[arg(long, value_name = "ID")]
    node: Option<u32>,
    /// Ask only the daemon at this address (no cluster file needed).
    #[arg(long, value_name = "HOST:PORT")]
    addr: Option<String>,
    /// Ask every node of the cluster file (what happens without --node or --addr too).
    #[arg(long)]
    all: bool,
    /// Print a JSON array instead of the table.
    #[arg(long)]
    json: bool,
    /// The cluster file.
    #[arg(long, default_value = "quorums.json")]
    config: PathBuf,
    #[command(flatten)]
    tls: super::TlsArgs,
    #[command(flatten)]
    identity: super::IdentityArgs,
}

/// One daemon asked: how the output names it, and its answer (or why there is none).
type Answer = (String, Result<NodeLocks, LockError>);

/// Prints the locks; exit 0 when every node asked answered, 1 when some did not, 2 when none
/// did (or for bad input).
pub(crate) fn run(args: LocksArgs) -> ExitCode {
    // Which daemons to ask: (how to name it, how to connect).
    enum Target {
        Node(Config, NodeId),
        Addr(String),
    }
    let stem = args.identity.stem(maekawa::tls::CLIENT);
    let (targets, security): (Vec<(String, Target)>, _) = if let Some(addr) = &args.addr {
        let security = args
            .tls
            .client_security(&args.config, None, Some(addr), stem);
        (vec![(addr.clone(), Target::Addr(addr.clone()))], security)
    } else {
        let config = match Config::load(&args.config) {
            Ok(c) => c,
            Err(e) => return fail(&e),
        };
        let security = args
            .tls
            .client_security(&args.config, Some(&config), None, stem);
        let ids = match args.node {
            Some(id) => match config.node(NodeId(id)) {
                Ok(n) => vec![n.id],
                Err(e) => return fail(&e),
            },
            None => config.ids(),
        };
        let targets = ids
            .into_iter()
            .map(|id| (id.to_string(), Target::Node(config.clone(), id)))
            .collect();
        (targets, security)
    };
    let security = match security {
        Ok(s) => s,
        Err(e) => return fail(&e),
    };
    let runtime = match super::runtime() {
        Ok(r) => r,
        Err(code) => return code,
    };
    let answers: Vec<Answer> = runtime.block_on(async {
        let mut answers = Vec::new();
        for (label, target) in targets {
            let client = match &target {
                Target::Node(config, id) => {
                    LockClient::connect_node_with(config, *id, &security).await
                }
                Target::Addr(addr) => LockClient::connect_secure(addr, &security).await,
            };
            let answer = match client {
                Ok(mut c) => c.list().await,
                Err(e) => Err(e),
            };
            answers.push((label, answer));
        }
        answers
    });
    let single = answers.len() == 1;
    if args.json {
        outln!("{}", render_json(&answers));
        for (_, answer) in &answers {
            if let Err(why) = answer {
                errln!("error: {why}");
            }
        }
    } else if let (true, Err(why)) = (single, &answers[0].1) {
        // One node asked and it did not answer: the one line of any failed command.
        return fail(why);
    } else {
        out!("{}", render_table(&answers));
    }
    let answered = answers.iter().filter(|(_, a)| a.is_ok()).count();
    if answered == answers.len() {
        ExitCode::SUCCESS
    } else if answered == 0 {
        ExitCode::from(2)
    } else {
        ExitCode::FAILURE
    }
}

fn sessions(v: &[SessionInfo]) -> String {
    if v.is_empty() {
        return "-".into();
    }
    let ids: Vec<String> = v.iter().map(|s| s.session.to_string()).collect();
    ids.join(",")
}

/// One table for every node asked: a row per lock, a row for a node with none or that did not
/// answer.
fn render_table(answers: &[Answer]) -> String {
    let width = answers
        .iter()
        .filter_map(|(_, a)| a.as_ref().ok())
        .flat_map(|n| n.locks.iter().map(|l| l.name.len()))
        .max()
        .unwrap_or(0)
        .max(4);
    let mut out = format!(
        "{:<5} {:<width$} {:<9} {:>6} {:>7} {:<10} {}\n",
        "node", "lock", "state", "token", "holder", "waiting", "holder's client"
    );
    for (label, answer) in answers {
        match answer {
            Ok(n) if n.locks.is_empty() => {
                out.push_str(&format!("{:<5} (no locks in use)\n", n.node.0));
            }
            Ok(n) => {
                for l in &n.locks {
                    out.push_str(&format!(
                        "{:<5} {:<width$} {:<9} {:>6} {:>7} {:<10} {}\n",
                        n.node.0,
                        l.name,
                        l.state,
                        l.token.map_or("-".to_string(), |t| t.to_string()),
                        l.holder
                            .as_ref()
                            .map_or("-".to_string(), |h| h.session.to_string()),
                        sessions(&l.waiting),
                        l.holder
                            .as_ref()
                            .filter(|h| !h.client.is_empty())
                            .map_or("-", |h| h.client.as_str()),
                    ));
                }
            }
            Err(why) => out.push_str(&format!("{label:<5} error: {why}\n")),
        }
    }
    out
}

fn request_json(r: &RequestId) -> Value {
    json!({"ts": r.ts, "node": r.node.0, "inc": r.inc})
}

fn session_json(s: &SessionInfo) -> Value {
    json!({"session": s.session, "client": s.client})
}

fn lock_json(node: NodeId, l: &LockInfo) -> Value {
    json!({
        "node": node.0,
        "name": l.name,
        "state": l.state,
        "token": l.token,
        "holder": l.holder.as_ref().map(session_json),
        "waiting": l.waiting.iter().map(session_json).collect::<Vec<_>>(),
        "request": l.request.as_ref().map(request_json),
        "vote": l.vote.as_ref().map(request_json),
        "queue": l.queue.iter().map(request_json).collect::<Vec<_>>(),
    })
}

/// Every lock of every node that answered, as one JSON array (fields in `--help`).
fn render_json(answers: &[Answer]) -> String {
    let all: Vec<Value> = answers
        .iter()
        .filter_map(|(_, a)| a.as_ref().ok())
        .flat_map(|n| n.locks.iter().map(|l| lock_json(n.node, l)))
        .collect();
    Value::Array(all).to_string()
}
