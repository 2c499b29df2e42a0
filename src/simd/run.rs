//! One simulated run: the cluster file, the runtime with paused time, the nodes and clients,
//! the fault phase, the calm phase that demands progress, the shutdown and the checks.

use super::checks::check_run;
use super::clients::{ctl_client, lock_client, record, Phase, Record};
use super::cluster::{NodeSetup, SimNode};
use super::faults::Injector;
use super::net::Net;
use super::{Outcome, SimdConfig, SimdError};
use crate::config::Config;
use crate::daemon::Clock;
use maekawa_core::id::NodeId;
use maekawa_core::rng::SplitMix64;
use std::path::Path;
use std::time::{Duration, SystemTime};
use tokio::sync::watch;
use tokio::time::Instant;

/// The virtual wall time every run starts at: 2026-01-01T00:00:00Z.
const EPOCH_SECS: u64 = 1_767_225_600;

/// Runs `cfg` in `dir` (which must exist and be empty) and checks it.
pub fn run_seed(cfg: &SimdConfig, dir: &Path) -> Result<Outcome, SimdError> {
    let io = |source| SimdError::Io {
        path: dir.to_path_buf(),
        source,
    };
    let addrs: Vec<String> = (0..cfg.nodes)
        .map(|i| format!("127.0.0.1:{}", 21000 + i))
        .collect();
    let nodes: Vec<String> = addrs
        .iter()
        .enumerate()
        .map(|(i, a)| format!(r#"{{"id": {i}, "addr": "{a}"}}"#))
        .collect();
    let path = dir.join("quorums.json");
    std::fs::write(&path, format!("{{\"nodes\": [{}]}}\n", nodes.join(", "))).map_err(io)?;
    let config = Config::load(&path)?;
    let mut builder = tokio::runtime::Builder::new_current_thread();
    builder.enable_all().start_paused(true);
    #[cfg(tokio_unstable)]
    builder.rng_seed(tokio::runtime::RngSeed::from_bytes(&cfg.seed.to_le_bytes()));
    let runtime = builder.build().map_err(io)?;
    let (mut outcome, held) = runtime.block_on(simulate(cfg, dir, &config))?;
    drop(runtime);
    let found = check_run(dir, &config, &held);
    outcome.cs_entries = found.cs_entries;
    outcome.lock_entries = found.lock_entries;
    outcome.violations.extend(found.violations);
    outcome.digest = digest(dir, &config);
    Ok(outcome)
}

async fn simulate(
    cfg: &SimdConfig,
    dir: &Path,
    config: &Config,
) -> Result<(Outcome, Vec<super::clients::Held>), SimdError> {
    let start = Instant::now();
    let mut rng = SplitMix64::new(cfg.seed);
    let net = Net::new(rng.next_u64(), (50, 500));
    let ids = config.ids();
    // Holds that outlast a lease make the holder renew it (at half term), and a pause or a
    // partition then can make it lose the lease while inside.
    let long_hold = (cfg.lease_ms * 3).clamp(500, 1500);
    let manual: Vec<NodeId> = ids.iter().copied().filter(|_| rng.below(4) == 0).collect();
    let (sync_starts, mut syncs) = tokio::sync::mpsc::unbounded_channel();
    let setup = NodeSetup {
        sync_starts,
        log_messages: rng.below(4) == 0,
        config: config.clone(),
        dir: dir.to_path_buf(),
        clock: Clock::Virtual {
            epoch: SystemTime::UNIX_EPOCH + Duration::from_secs(EPOCH_SECS),
            origin: start,
        },
        seed: rng.next_u64(),
        lease_ms: cfg.lease_ms,
        flaws: cfg.flaws,
        manual: manual.clone(),
        fsync_us: (100, 2000),
        hold_ms: (1, if rng.below(4) == 0 { long_hold } else { 10 }),
    };
    let mut nodes = ids
        .iter()
        .map(|&id| SimNode::new(&setup, id))
        .collect::<Result<Vec<_>, _>>()?;
    for node in &mut nodes {
        node.start(&setup, &net);
    }
    let (phase, phase_rx) = watch::channel(Phase::Faults);
    let rec = Record::default();
    let mut clients = spawn_clients(
        cfg, &net, &nodes, &manual, long_hold, &mut rng, &rec, &phase_rx,
    );
    let mut injector = Injector::new(
        &mut nodes,
        &setup,
        &net,
        cfg.faults,
        rng.next_u64(),
        rec.clone(),
    );
    let io = |source| SimdError::Io {
        path: dir.to_path_buf(),
        source,
    };
    injector
        .run(cfg.fault_phase, &mut syncs)
        .await
        .map_err(io)?;
    drop(syncs);
    let mut faults = injector.counts;
    let mut violations = Vec::new();
    // With leases, as many nodes as the quorums survive may stay dead through the calm.
    let dead = deaths(cfg, config, dir, &mut rng);
    for &id in &dead {
        nodes[id.0 as usize].kill(&net, false).await.map_err(io)?;
        faults.kills += 1;
        faults.dead += 1;
    }
    phase.send_replace(Phase::Calm);
    calm(cfg, &net, &nodes, &manual, &rec, &mut violations).await;
    phase.send_replace(Phase::Done);
    clients.abort_all();
    while clients.join_next().await.is_some() {}
    for node in &mut nodes {
        node.stop(&net);
    }
    for node in &mut nodes {
        if let Some(Err(e)) = node.stopped(&net).await {
            violations.push(format!("node {} failed: {e}", node.id));
        }
    }
    let held = record(&rec).held.clone();
    let outcome = Outcome {
        steps: net.stats().deliveries + faults.total(),
        faults,
        virtual_time: start.elapsed(),
        violations,
        ..Outcome::default()
    };
    Ok((outcome, held))
}

/// Starts the lock clients and a `ctl` client per manual node, drawing their seeds from `rng`.
#[allow(clippy::too_many_arguments)]
fn spawn_clients(
    cfg: &SimdConfig,
    net: &Net,
    nodes: &[SimNode],
    manual: &[NodeId],
    long_hold: u64,
    rng: &mut SplitMix64,
    rec: &Record,
    phase_rx: &watch::Receiver<Phase>,
) -> tokio::task::JoinSet<()> {
    let addrs: Vec<(NodeId, String)> = nodes.iter().map(|n| (n.id, n.addr.clone())).collect();
    let mut clients = tokio::task::JoinSet::new();
    for c in 0..cfg.clients {
        let task = lock_client(
            c,
            net.clone(),
            addrs.clone(),
            (rng.next_u64(), long_hold, cfg.semaphores),
            rec.clone(),
            phase_rx.clone(),
        );
        clients.spawn(task);
    }
    for &id in manual {
        let addr = nodes[id.0 as usize].addr.clone();
        let task = ctl_client(
            net.clone(),
            (id, addr),
            rng.next_u64(),
            rec.clone(),
            phase_rx.clone(),
        );
        clients.spawn(task);
    }
    clients
}

/// The nodes that die for good as the calm begins: with leases (a dead holder's votes are
/// reclaimed), half the seeds kill between one and as many nodes as the quorums survive.
fn deaths(
    cfg: &SimdConfig,
    config: &Config,
    cfg_dir: &std::path::Path,
    rng: &mut SplitMix64,
) -> Vec<NodeId> {
    let survives = config.quorums.survives() as u64;
    if cfg.lease_ms == 0 || survives == 0 || rng.below(2) == 0 {
        return Vec::new();
    }
    let mut ids = config.ids();
    let k = rng.between(1, survives);
    let mut dead = Vec::new();
    for _ in 0..k {
        dead.push(ids.remove(rng.below(ids.len() as u64) as usize));
    }
    dead.sort();
    // A node that lost its disk waits for the token floor of a node of every quorum it is in:
    // deaths that leave one with no such witness would strand it (rightly: DESIGN.md, "A lost
    // disk"), so with lost disks only deaths that keep a witness for every node are chosen.
    if cfg.faults.journal_loss {
        let live: std::collections::BTreeSet<NodeId> = config
            .ids()
            .into_iter()
            .filter(|id| !dead.contains(id))
            .collect();
        let rejoining = live
            .iter()
            .any(|&v| crate::logdir::rejoin(cfg_dir, v).exists());
        if rejoining || !live.iter().all(|&v| config.quorums.witnessed(v, &live)) {
            return Vec::new();
        }
    }
    dead
}

/// The calm phase: every fault undone, every node up but those [`deaths`] chose. Each live
/// automatic node must enter its CS, each live manual node once by `ctl`, and every lock
/// client must get a lock, within the calm limit; whatever did not is reported starved.
async fn calm(
    cfg: &SimdConfig,
    net: &Net,
    nodes: &[SimNode],
    manual: &[NodeId],
    rec: &Record,
    violations: &mut Vec<String>,
) {
    let deadline = Instant::now() + cfg.calm_limit;
    let auto: Vec<&SimNode> = nodes
        .iter()
        .filter(|n| n.is_up() && !manual.contains(&n.id))
        .collect();
    let live_manual = nodes
        .iter()
        .filter(|n| n.is_up() && manual.contains(&n.id))
        .count() as u64;
    // Each node's count when the calm began (asked until it answers: a node just restarted
    // may not serve yet).
    let mut baseline = entries(net, &auto).await;
    while baseline.iter().any(Option::is_none) && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(20)).await;
        let again = entries(net, &auto).await;
        for (b, a) in baseline.iter_mut().zip(again) {
            if b.is_none() {
                *b = a;
            }
        }
    }
    loop {
        let now = entries(net, &auto).await;
        let starved: Vec<NodeId> = auto
            .iter()
            .zip(baseline.iter().zip(&now))
            .filter(|(_, (b, n))| n.unwrap_or(0) < b.unwrap_or(0) + 1)
            .map(|(node, _)| node.id)
            .collect();
        let (clients_got, ctl_got) = {
            let r = record(rec);
            (r.calm_acquired.len(), r.calm_ctl_entries.len() as u64)
        };
        let clients_done = clients_got >= cfg.clients;
        let ctl_done = ctl_got >= live_manual;
        if starved.is_empty() && clients_done && ctl_done {
            return;
        }
        if Instant::now() >= deadline {
            violations.push(format!(
                "liveness: within {:?} of calm, nodes {starved:?} did not enter; {clients_got} of {} lock clients got a lock; manual nodes entered {ctl_got} of {live_manual}",
                cfg.calm_limit,
                cfg.clients,
            ));
            return;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// Each node's entry count as `ctl status` tells it (`None`: no answer).
async fn entries(net: &Net, nodes: &[&SimNode]) -> Vec<Option<u64>> {
    let mut out = Vec::new();
    for node in nodes {
        out.push(status_entries(net, &node.addr).await);
    }
    out
}

async fn status_entries(net: &Net, addr: &str) -> Option<u64> {
    use crate::daemon::wire;
    let ch = super::cluster::channel(net, super::net::Host::Client, addr)
        .await
        .ok()?;
    let mut ctl = wire::control_client::ControlClient::new(ch);
    let status = tokio::time::timeout(Duration::from_secs(1), ctl.status(wire::CtlEmpty {}))
        .await
        .ok()?
        .ok()?;
    Some(status.get_ref().entries)
}

/// xxh3 of every node log, in node order.
fn digest(dir: &Path, config: &Config) -> u64 {
    let mut all = Vec::new();
    for id in config.ids() {
        all.extend(std::fs::read(crate::logdir::node_log(dir, id)).unwrap_or_default());
    }
    xxhash_rust::xxh3::xxh3_64(&all)
}
