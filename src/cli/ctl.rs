//! `maekawa ctl`: ask a running node for the CS, make it leave, withdraw its waiting request,
//! or show its state, and print what it says.

use super::fail;
use clap::{Args, Subcommand};
use maekawa::config::Config;
use maekawa::daemon::command::Status;
use maekawa::daemon::control::{CtlClient, CtlError};
use maekawa::daemon::Workload;
use maekawa::tls::Security;
use maekawa_core::id::{NodeId, RequestId};
use maekawa_core::protocol::Phase;
use std::path::PathBuf;
use std::process::ExitCode;

/// Flags of `maekawa ctl`.
#[derive(Args, Debug)]
pub(crate) struct CtlArgs {
    /// The node to talk to (its address comes from the cluster file).
    #[arg(long, global = true)]
    node: Option<u32>,
    /// The cluster file.
    #[arg(long, default_value = "quorums.json", global = true)]
    config: PathBuf,
    #[command(flatten)]
    tls: super::TlsArgs,
    #[command(flatten)]
    identity: super::IdentityArgs,
    #[command(subcommand)]
    action: CtlAction,
}

#[derive(Subcommand, Debug)]
enum CtlAction {
    /// Want the CS: the node enters when its votes arrive, and (manual workload) stays until
    /// `release`.
    Request,
    /// Leave the CS.
    Release,
    /// Withdraw the request that still waits for votes: the node gives back the votes it
    /// holds and leaves its voters' queues, without entering.
    Cancel,
    /// Ask the node's health service (grpc.health.v1) whether it can serve: SERVING while some
    /// quorum has no suspected member, NOT_SERVING otherwise. Exit 0 when serving, 1 when
    /// not, 2 when the node does not answer; with --all, one line per node, exit 0 only when
    /// every node serves.
    Health {
        /// Every node of the cluster file.
        #[arg(long)]
        all: bool,
    },
    /// Show the node's state; `--all` shows every node of the cluster file in one table.
    #[command(
        after_help = "--json prints one object per node: node, incarnation, phase (\"idle\", \"wanting\", \"in_cs\"), \
request ({ts, node, inc} or null), lamport, granted, missing, failed, yielded (arrays of node ids), vote ({ts, node, inc} \
or null: the request this node's vote is for), queue ([{ts, node, inc}], first in line first), entries, workload \
(\"auto\" or \"manual\") and suspected (node ids). With --all: an array with one object per node of the cluster file; a \
node that did not answer is {node, error}."
    )]
    Status {
        /// Every node, one table.
        #[arg(long)]
        all: bool,
        /// Print JSON instead of text, for scripts (fields below).
        #[arg(long)]
        json: bool,
    },
}

/// Exit 0 on success, 1 when the node refuses, 2 for bad input or a node that does not answer.
/// `status --all` prints its table whatever the answers, then exits 0 when every node
/// answered, 1 when some did not, 2 when none did.
pub(crate) fn run(args: CtlArgs) -> ExitCode {
    let CtlArgs {
        node,
        config,
        tls,
        identity,
        action,
    } = args;
    let config = match Config::load(&config) {
        Ok(c) => c,
        Err(e) => return fail(&e),
    };
    // Plaintext is allowed where the daemons allow it; the warning is theirs to log.
    let security = match tls.security(&config, identity.stem(maekawa::tls::ADMIN)) {
        Ok((s, _)) => s,
        Err(e) => return fail(&e),
    };
    let runtime = match super::runtime() {
        Ok(r) => r,
        Err(code) => return code,
    };
    if let CtlAction::Health { all } = action {
        return health(&runtime, &config, &security, node, all);
    }
    let json = matches!(action, CtlAction::Status { json: true, .. });
    if matches!(action, CtlAction::Status { all: true, .. }) {
        return status_all(&runtime, &config, &security, json);
    }
    let Some(id) = node else {
        return fail(&"ctl needs --node ID (or `ctl status --all`)");
    };
    let addr = match config.node(NodeId(id)) {
        Ok(n) => n.addr.clone(),
        Err(e) => return fail(&e),
    };
    let result = runtime.block_on(async {
        let mut client = CtlClient::connect(NodeId(id), &addr, &security).await?;
        match action {
            CtlAction::Request => client.request().await,
            CtlAction::Release => client.release().await,
            CtlAction::Cancel => client.cancel().await,
            CtlAction::Status { .. } if json => {
                client.status().await.map(|s| status_json(&s).to_string())
            }
            CtlAction::Status { .. } => client.status().await.map(|s| render_status(&s)),
            CtlAction::Health { .. } => unreachable!("answered above"),
        }
    });
    match result {
        Ok(text) => {
            outln!("{}", text.trim_end());
            ExitCode::SUCCESS
        }
        Err(CtlError::Refused(why)) => {
            errln!("error: {why}");
            ExitCode::FAILURE
        }
        Err(e) => fail(&e),
    }
}

/// `ctl health`: one line per node asked; exit 0 when all serve, 1 when one does not, 2 when
/// one does not answer.
fn health(
    runtime: &tokio::runtime::Runtime,
    config: &Config,
    security: &Security,
    node: Option<u32>,
    all: bool,
) -> ExitCode {
    let ids: Vec<NodeId> = match (all, node) {
        (true, _) => config.ids(),
        (false, Some(id)) => vec![NodeId(id)],
        (false, None) => return fail(&"ctl health needs --node ID or --all"),
    };
    let mut worst = ExitCode::SUCCESS;
    for id in ids {
        let answer = runtime.block_on(async {
            let addr = &config.node(id)?.addr;
            let mut client = CtlClient::connect(id, addr, security).await?;
            anyhow::Ok(client.serving().await?)
        });
        match answer {
            Ok(true) => outln!("node {id}: SERVING"),
            Ok(false) => {
                outln!("node {id}: NOT_SERVING (no quorum without suspected nodes)");
                if worst == ExitCode::SUCCESS {
                    worst = ExitCode::FAILURE;
                }
            }
            Err(e) => {
                outln!("node {id}: UNKNOWN ({e})");
                worst = ExitCode::from(2);
            }
        }
    }
    worst
}

/// `ctl status --all`: every node's status in a table (or JSON); exit 0 when every node
/// answered, 1 when some did not, 2 when none did.
fn status_all(
    runtime: &tokio::runtime::Runtime,
    config: &Config,
    security: &Security,
    json: bool,
) -> ExitCode {
    let rows = runtime.block_on(async {
        let mut rows = Vec::new();
        for n in &config.nodes {
            let row = match CtlClient::connect(n.id, &n.addr, security).await {
                Ok(mut c) => c.status().await,
                Err(e) => Err(e),
            };
            rows.push((n.id, row));
        }
        rows
    });
    if json {
        let nodes: Vec<serde_json::Value> = rows
            .iter()
            .map(|(id, row)| match row {
                Ok(s) => status_json(s),
                Err(e) => serde_json::json!({"node": id.0, "error": e.to_string()}),
            })
            .collect();
        outln!("{}", serde_json::Value::Array(nodes));
    } else {
        out!("{}", render_table(&rows));
    }
    // Like `--node N` for one node: a node that does not answer is exit 2; the table says
    // which, so some answering and some not is the in-between "no" of exit 1.
    let answered = rows.iter().filter(|(_, row)| row.is_ok()).count();
    if answered == rows.len() {
        ExitCode::SUCCESS
    } else if answered == 0 {
        ExitCode::from(2)
    } else {
        ExitCode::FAILURE
    }
}

/// `a, b, c` (or `-` for none), joined with `sep`.
fn listed<T: std::fmt::Display>(items: impl IntoIterator<Item = T>, sep: &str) -> String {
    let parts: Vec<String> = items.into_iter().map(|x| x.to_string()).collect();
    if parts.is_empty() {
        "-".to_string()
    } else {
        parts.join(sep)
    }
}

/// The request shown for a phase (`-` when idle).
fn phase_request(phase: Phase) -> String {
    match phase {
        Phase::Idle => "-".to_string(),
        Phase::Wanting(r) | Phase::InCs(r) => r.to_string(),
    }
}

/// One node's status as a JSON object, for `status --json` (fields in its `--help`; added,
/// never renamed).
fn status_json(s: &Status) -> serde_json::Value {
    let req = |r: RequestId| serde_json::json!({"ts": r.ts, "node": r.node.0, "inc": r.inc});
    let ids = |v: &[NodeId]| v.iter().map(|n| n.0).collect::<Vec<_>>();
    let (phase, request) = match s.phase {
        Phase::Idle => ("idle", None),
        Phase::Wanting(r) => ("wanting", Some(r)),
        Phase::InCs(r) => ("in_cs", Some(r)),
    };
    serde_json::json!({
        "node": s.node.0,
        "incarnation": s.incarnation,
        "phase": phase,
        "request": request.map(req),
        "lamport": s.lamport,
        "granted": ids(&s.granted),
        "missing": ids(&s.missing),
        "failed": ids(&s.failed),
        "yielded": ids(&s.yielded),
        "vote": s.lock.map(req),
        "queue": s.queue.iter().copied().map(req).collect::<Vec<_>>(),
        "entries": s.entries,
        "workload": match s.workload {
            Workload::Auto => "auto",
            Workload::Manual => "manual",
        },
        "suspected": ids(&s.suspected),
    })
}

/// One node's status as a block of text.
fn render_status(s: &Status) -> String {
    let list = |v: &[NodeId]| listed(v, ", ");
    let state = match s.phase {
        Phase::Idle => "idle",
        Phase::Wanting(_) => "waiting for votes",
        Phase::InCs(_) => "in the CS",
    };
    let req = phase_request(s.phase);
    // The flag's own spelling (`--workload auto`), not the Rust variant's.
    let workload = match s.workload {
        Workload::Auto => "auto",
        Workload::Manual => "manual",
    };
    format!(
        "node {} (incarnation {}, {workload} workload): {state}\n  lamport clock   {}\n  request         {req}\n  votes held      {}\n  votes missing   {}\n  failed from     {}\n  yielded to      {}\n  its vote is for {}\n  its queue       {}\n  CS entries      {}\n  suspected       {}\n",
        s.node,
        s.incarnation,
        s.lamport,
        list(&s.granted),
        list(&s.missing),
        list(&s.failed),
        list(&s.yielded),
        s.lock.map_or("nobody".to_string(), |r| format!("node {} {r}", r.node)),
        listed(&s.queue, ", "),
        s.entries,
        if s.suspected.is_empty() {
            "none".to_string()
        } else {
            list(&s.suspected)
        }
    )
}

/// Every node's status in one table; nodes that do not answer are shown as such.
fn render_table(rows: &[(NodeId, Result<Status, CtlError>)]) -> String {
    let mut out = format!(
        "{:<5} {:<18} {:>7} {:<10} {:<10} {:<10} {:<12} {}\n",
        "node", "state", "lamport", "request", "holds", "missing", "vote for", "queue"
    );
    let list = |v: &[NodeId]| listed(v, ",");
    for (id, row) in rows {
        match row {
            Ok(s) => {
                let state = match s.phase {
                    Phase::Idle => "idle",
                    Phase::Wanting(_) => "waiting",
                    Phase::InCs(_) => "IN CS",
                };
                let req = phase_request(s.phase);
                out.push_str(&format!(
                    "{:<5} {:<18} {:>7} {:<10} {:<10} {:<10} {:<12} {}\n",
                    id.0,
                    state,
                    s.lamport,
                    req,
                    list(&s.granted),
                    list(&s.missing),
                    s.lock
                        .map_or("-".to_string(), |r| format!("{} {r}", r.node)),
                    listed(&s.queue, " ")
                ));
            }
            Err(why) => out.push_str(&format!("{:<5} {why}\n", id.0)),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use maekawa_core::id::{Incarnation, Lamport, RequestId};

    fn status(workload: Workload) -> Status {
        Status {
            node: NodeId(2),
            incarnation: 3,
            phase: Phase::Wanting(RequestId {
                ts: Lamport(7),
                node: NodeId(2),
                inc: Incarnation(3),
                epoch: maekawa_core::id::Epoch(0),
            }),
            lamport: 9,
            granted: vec![NodeId(2)],
            missing: vec![NodeId(0)],
            failed: vec![NodeId(0)],
            yielded: vec![],
            lock: None,
            queue: vec![],
            entries: 4,
            workload,
            suspected: vec![],
        }
    }

    #[test]
    fn status_names_the_suspected_peers_or_none() {
        let mut s = status(Workload::Manual);
        assert!(
            render_status(&s).ends_with("\n  suspected       none\n"),
            "{}",
            render_status(&s)
        );
        s.suspected = vec![NodeId(0), NodeId(5)];
        assert!(
            render_status(&s).ends_with("\n  suspected       0, 5\n"),
            "{}",
            render_status(&s)
        );
    }

    #[test]
    fn status_names_the_workload_as_the_flag_does() {
        let auto = render_status(&status(Workload::Auto));
        assert!(
            auto.starts_with("node 2 (incarnation 3, auto workload): waiting for votes\n"),
            "{auto}"
        );
        let manual = render_status(&status(Workload::Manual));
        assert!(
            manual.starts_with("node 2 (incarnation 3, manual workload): "),
            "{manual}"
        );
    }
}
