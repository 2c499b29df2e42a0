//! `maekawa cluster add | remove | replace | status`: membership changes while the cluster
//! serves (issue 27, DESIGN.md "Membership changes", README "Run it for years").
//!
//! This command is the change's coordinator; the daemons only adopt what it proposes and answer
//! its questions. It holds the reserved lock [`CONFIG_LOCK`] through one node for the whole
//! change (so changes never overlap), then walks the epochs: from configuration C (epoch e) it
//! proposes the joint configuration (e + 1: every entry needs a quorum of C and of C'), waits
//! until nodes that moved past epoch e with no vote left for it meet every quorum of C (no entry
//! of C can then be live), proposes C' alone (e + 2) with the largest token floor they reported,
//! and waits for the joint epoch to drain too. A change of address only (`replace`) is one step.
//! A change left half done (the command died) is finished by the next one.

use super::fail;
use clap::{Args, Subcommand};
use maekawa::client::{LockClient, LockOptions};
use maekawa::config::Config;
use maekawa::daemon::control::CtlClient;
use maekawa::daemon::membership::{Member, Membership};
use maekawa::tls::Security;
use maekawa_core::id::{NodeId, RequestId};
use maekawa_core::quorum::QuorumSystem;
use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::{Duration, Instant};

/// The reserved lock a change holds from its first step to its last.
pub(crate) const CONFIG_LOCK: &str = "maekawa.config";

/// Flags of `maekawa cluster`.
#[derive(Args, Debug)]
pub(crate) struct ClusterArgs {
    /// The node to go through (default: the first node of the cluster file that answers).
    #[arg(long, global = true)]
    node: Option<u32>,
    /// The cluster file. After a change it is rewritten with the new members (the daemons
    /// keep their own copy, node-<id>.cluster.json, and pass it to each other).
    #[arg(long, default_value = "quorums.json", global = true)]
    config: PathBuf,
    /// Give up after this many seconds (a change waits for the holders of locks taken
    /// before it to leave); run the command again to finish a change left half done.
    #[arg(long, default_value_t = 300, global = true)]
    timeout: u64,
    #[command(flatten)]
    tls: super::TlsArgs,
    #[command(flatten)]
    identity: super::IdentityArgs,
    #[command(subcommand)]
    action: ClusterAction,
}

#[derive(Subcommand, Debug)]
enum ClusterAction {
    /// Add node ID, listening at ADDR. Start it first: `maekawa node --id ID --listen ADDR
    /// --config FILE` (it waits, granting nothing, until the change reaches it).
    Add {
        /// The new node's id.
        id: u32,
        /// Where it listens, host:port.
        addr: String,
    },
    /// Remove node ID (it may be dead). Locks it holds stay held until released or their
    /// lease ends; then stop its process.
    Remove {
        /// The node's id.
        id: u32,
    },
    /// Move node ID to ADDR: a new host for a failed one. Start the new host first, with an
    /// empty disk: `maekawa node --id ID --listen ADDR --config FILE` (it recalls its
    /// incarnation and learns its token floor from its peers before it grants).
    Replace {
        /// The node's id.
        id: u32,
        /// Its new address, host:port.
        addr: String,
    },
    /// Show the cluster's configuration: epoch, members and addresses, a change under way,
    /// the quorum system and what it survives.
    Status {
        /// Print the configuration as JSON (as node-<id>.cluster.json holds it).
        #[arg(long)]
        json: bool,
    },
}

/// Exit 0 when done, 1 when the change could not finish (timeout, refused), 2 for bad input
/// or no node answering.
pub(crate) fn run(args: ClusterArgs) -> ExitCode {
    let config = match Config::load(&args.config) {
        Ok(c) => c,
        Err(e) => return fail(&e),
    };
    let security = match args
        .tls
        .security(&config, args.identity.stem(maekawa::tls::ADMIN))
    {
        Ok((s, _)) => s,
        Err(e) => return fail(&e),
    };
    let runtime = match super::runtime() {
        Ok(r) => r,
        Err(code) => return code,
    };
    let coordinator = Coordinator {
        config,
        security,
        via: args.node.map(NodeId),
        deadline: Instant::now() + Duration::from_secs(args.timeout),
    };
    let result = runtime.block_on(coordinator.run(args.action));
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(Failure::Input(why)) => fail(&why),
        Err(Failure::Change(why)) => {
            errln!("error: {why}");
            ExitCode::FAILURE
        }
    }
}

/// Why a `cluster` command stopped: bad input or nobody to ask (exit 2), or a change that
/// could not finish (exit 1).
enum Failure {
    Input(String),
    Change(String),
}

fn input(why: impl ToString) -> Failure {
    Failure::Input(why.to_string())
}

fn change(why: impl ToString) -> Failure {
    Failure::Change(why.to_string())
}

/// What one `cluster` command works with.
struct Coordinator {
    config: Config,
    security: Security,
    via: Option<NodeId>,
    deadline: Instant,
}

impl Coordinator {
    async fn run(self, action: ClusterAction) -> Result<(), Failure> {
        let (via, addr, current) = self.reach().await?;
        let target = match action {
            ClusterAction::Status { json } => {
                status(&current, json);
                return Ok(());
            }
            ClusterAction::Add { id, addr } => added(&current, id, addr)?,
            ClusterAction::Remove { id } => removed(&current, id)?,
            ClusterAction::Replace { id, addr } => replaced(&current, id, addr)?,
        };
        let mut lock = LockClient::connect_secure(&addr, &self.security)
            .await
            .map_err(input)?;
        outln!("taking the reserved lock {CONFIG_LOCK} through node {via}");
        let options = LockOptions::default()
            .timeout(self.deadline.saturating_duration_since(Instant::now()))
            .client_label("maekawa cluster");
        let mut guard = lock.lock(CONFIG_LOCK, options).await.map_err(change)?;
        let exempt = own_request(&mut lock).await;
        // The change goes on only while the reserved lock is held: once it is lost (its lease
        // ran out, the node went away), another change may start, so this one stops at once.
        let result = tokio::select! {
            result = self.walk(via, &addr, exempt, target) => result,
            lost = guard.lost() => Err(change(format!(
                "lost the reserved lock {CONFIG_LOCK} ({lost}); run the command again to finish the change"
            ))),
        };
        let _ = guard.release().await;
        let done = result?;
        self.rewrite_file(&done)?;
        outln!("done: epoch {}, {}", done.epoch, describe(&done));
        Ok(())
    }

    /// The node to go through and its configuration: `--node`, or the first node of the
    /// cluster file that answers.
    async fn reach(&self) -> Result<(NodeId, String, Membership), Failure> {
        let candidates: Vec<NodeId> = match self.via {
            Some(id) => vec![id],
            None => self.config.ids(),
        };
        let mut last = String::from("the cluster file lists no node");
        let tried = candidates.len();
        for id in candidates {
            let addr = self.config.node(id).map_err(input)?.addr.clone();
            match self.membership_at(id, &addr).await {
                Ok(m) => return Ok((id, addr, m)),
                Err(e) => last = e,
            }
        }
        if tried > 1 {
            last = format!(
                "no node of {} answers (the last: {last}); start one, or pass --node ID",
                self.config.path.display()
            );
        }
        Err(input(last))
    }

    async fn membership_at(&self, id: NodeId, addr: &str) -> Result<Membership, String> {
        let mut ctl = CtlClient::connect(id, addr, &self.security)
            .await
            .map_err(|e| e.to_string())?;
        let (_, json) = ctl.membership().await.map_err(|e| e.to_string())?;
        if json.is_empty() {
            return Err(format!(
                "{}: explicit \"quorums\" cannot follow a membership change; use \"quorum_system\": \"grid\" or \"majority\"",
                self.config.path.display()
            ));
        }
        serde_json::from_str(&json)
            .map_err(|e| format!("node {id} sent a configuration that does not parse: {e}"))
    }

    /// Proposes epoch after epoch until the configuration has the members `target`.
    async fn walk(
        &self,
        via: NodeId,
        addr: &str,
        exempt: Option<RequestId>,
        target: Vec<Member>,
    ) -> Result<Membership, Failure> {
        let mut known: BTreeMap<NodeId, String> = BTreeMap::new();
        loop {
            let current = self.membership_at(via, addr).await.map_err(change)?;
            known.extend(current.addresses());
            if let Some(prev) = current.previous_system() {
                let floor = self
                    .wait_drained(current.epoch - 1, &prev, &known, exempt)
                    .await?;
                if same_members(&current, &target) {
                    return Ok(current);
                }
                self.propose(via, addr, next_step(&current, &target, floor))
                    .await?;
            } else if same_members(&current, &target) {
                return Ok(current);
            } else {
                self.propose(via, addr, next_step(&current, &target, 0))
                    .await?;
            }
        }
    }

    async fn propose(&self, via: NodeId, addr: &str, next: Membership) -> Result<(), Failure> {
        let mut ctl = CtlClient::connect(via, addr, &self.security)
            .await
            .map_err(change)?;
        let json = serde_json::to_string(&next).expect("a membership serializes");
        ctl.propose(json).await.map_err(change)?;
        outln!(
            "epoch {}: {} proposed through node {via}",
            next.epoch,
            describe(&next)
        );
        Ok(())
    }

    /// Waits until the nodes that drained `epoch` meet every quorum of `system`; returns the
    /// largest token floor they reported.
    async fn wait_drained(
        &self,
        epoch: u64,
        system: &QuorumSystem,
        known: &BTreeMap<NodeId, String>,
        exempt: Option<RequestId>,
    ) -> Result<u64, Failure> {
        let mut said = String::new();
        loop {
            let mut drained = BTreeSet::new();
            let mut floor = 0;
            let mut waiting = Vec::new();
            for (&id, addr) in known {
                match self.drained_at(id, addr, epoch, exempt).await {
                    Ok(d) if d.drained => {
                        drained.insert(id);
                        floor = floor.max(d.floor);
                    }
                    Ok(d) if d.holding.is_empty() => {
                        waiting.push(format!("node {id} is at epoch {}", d.epoch))
                    }
                    Ok(d) => waiting.push(format!("node {id}: {}", d.holding.join(", "))),
                    Err(why) => waiting.push(format!("node {id} does not answer ({why})")),
                }
            }
            if system.blocks(&drained) {
                return Ok(floor);
            }
            let now = format!("waiting for epoch {epoch} to drain: {}", waiting.join("; "));
            if now != said {
                outln!("{now}");
                said = now;
            }
            if Instant::now() >= self.deadline {
                return Err(change(format!(
                    "timed out {said}; run the command again to finish the change"
                )));
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    async fn drained_at(
        &self,
        id: NodeId,
        addr: &str,
        epoch: u64,
        exempt: Option<RequestId>,
    ) -> Result<maekawa::daemon::command::Drained, String> {
        let ask = async {
            let mut ctl = CtlClient::connect(id, addr, &self.security).await?;
            ctl.drained(epoch, exempt.map(|r| (CONFIG_LOCK, r))).await
        };
        match tokio::time::timeout(Duration::from_secs(2), ask).await {
            Ok(r) => r.map_err(|e| e.to_string()),
            Err(_) => Err("no answer within 2 s".into()),
        }
    }

    /// The cluster file, rewritten with the new members (atomically), so that `maekawa
    /// quorums`, `ctl --all` and new nodes see them.
    fn rewrite_file(&self, done: &Membership) -> Result<(), Failure> {
        let path: &Path = &self.config.path;
        let nodes: Vec<serde_json::Value> = done
            .nodes
            .iter()
            .map(|m| serde_json::json!({"id": m.id, "addr": m.addr}))
            .collect();
        let mut file = serde_json::json!({ "nodes": nodes });
        if done.quorum_system == maekawa::daemon::membership::Kind::Majority {
            file["quorum_system"] = "majority".into();
        }
        let text = serde_json::to_string_pretty(&file).expect("json") + "\n";
        let tmp = path.with_extension("json.tmp");
        std::fs::write(&tmp, text)
            .and_then(|()| std::fs::rename(&tmp, path))
            .map_err(|e| change(format!("{}: cannot rewrite it: {e}", path.display())))?;
        outln!("{}: now lists the new members", path.display());
        Ok(())
    }
}

/// The request this command's session holds the reserved lock with, as the node reports it:
/// the one vote the drain may leave given (it is ours).
async fn own_request(lock: &mut LockClient) -> Option<RequestId> {
    let locks = lock.list().await.ok()?;
    locks
        .locks
        .iter()
        .find(|l| l.name == CONFIG_LOCK)
        .and_then(|l| l.request)
}

fn same_members(current: &Membership, target: &[Member]) -> bool {
    let mut a = current.nodes.clone();
    let mut b = target.to_vec();
    a.sort_by_key(|m| m.id);
    b.sort_by_key(|m| m.id);
    !current.is_joint() && a == b
}

/// The next configuration: the end of a joint one under way, else the step towards `target`.
fn next_step(current: &Membership, target: &[Member], floor: u64) -> Membership {
    if current.is_joint() {
        current.completed(floor)
    } else {
        current.step_towards(target, floor)
    }
}

/// The members once a joint configuration under way is complete.
fn settled(current: &Membership) -> Vec<Member> {
    current.nodes.clone()
}

fn check_addr(addr: &str) -> Result<(), Failure> {
    maekawa::config::check_addr(addr)
        .map_err(|e| input(format!("address {addr:?}: {e}; write it as host:port")))
}

fn added(current: &Membership, id: u32, addr: String) -> Result<Vec<Member>, Failure> {
    check_addr(&addr)?;
    let mut members = settled(current);
    if members.iter().any(|m| m.id == id) {
        return Err(input(format!(
            "node {id} is a member already; to move it use `cluster replace {id} ADDR`"
        )));
    }
    if let Some(m) = members.iter().find(|m| m.addr == addr) {
        return Err(input(format!("address {addr} is node {}'s already", m.id)));
    }
    members.push(Member { id, addr });
    Ok(members)
}

fn removed(current: &Membership, id: u32) -> Result<Vec<Member>, Failure> {
    let members = settled(current);
    if !members.iter().any(|m| m.id == id) {
        return Err(input(format!(
            "node {id} is not a member (members: {})",
            ids(&members)
        )));
    }
    if members.len() == 1 {
        return Err(input(format!(
            "node {id} is the last member: a cluster needs one"
        )));
    }
    Ok(members.into_iter().filter(|m| m.id != id).collect())
}

fn replaced(current: &Membership, id: u32, addr: String) -> Result<Vec<Member>, Failure> {
    check_addr(&addr)?;
    let mut members = settled(current);
    if !members.iter().any(|m| m.id == id) {
        return Err(input(format!(
            "node {id} is not a member (members: {}); to add it use `cluster add {id} ADDR`",
            ids(&members)
        )));
    }
    if let Some(m) = members.iter().find(|m| m.addr == addr && m.id != id) {
        return Err(input(format!("address {addr} is node {}'s already", m.id)));
    }
    for m in members.iter_mut().filter(|m| m.id == id) {
        m.addr = addr.clone();
    }
    Ok(members)
}

fn ids(members: &[Member]) -> String {
    members
        .iter()
        .map(|m| m.id.to_string())
        .collect::<Vec<_>>()
        .join(", ")
}

/// One line about a configuration: its members, a change under way, what it survives.
fn describe(m: &Membership) -> String {
    let system = m.system();
    let members = ids(&m.nodes);
    let dead = system.survives();
    let plural = if dead == 1 { "" } else { "s" };
    match &m.old_nodes {
        Some(old) => format!(
            "joint: members {{{}}} and {{{members}}} (every entry needs a quorum of both), survives {dead} dead node{plural}",
            ids(old)
        ),
        None => format!(
            "members {{{members}}} ({} quorums), survives {dead} dead node{plural}",
            system.kind()
        ),
    }
}

fn status(m: &Membership, json: bool) {
    if json {
        outln!("{}", serde_json::to_string_pretty(m).expect("json"));
        return;
    }
    outln!("epoch {}: {}", m.epoch, describe(m));
    for n in &m.nodes {
        outln!("  node {} at {}", n.id, n.addr);
    }
    if m.is_joint() {
        outln!("a change is under way: `maekawa cluster status` again, or any cluster command finishes it");
    }
    let system = m.system();
    for id in system.nodes() {
        let q: Vec<String> = system.quorum(id).iter().map(|v| v.to_string()).collect();
        outln!("  quorum of node {id}: {{{}}}", q.join(", "));
    }
}
