//! The simulated cluster's clients: lock sessions through the real client library (waiting,
//! with timeouts, trying once, vanishing mid-acquire or mid-hold) and `ctl` requests and
//! cancels for the nodes whose CS is asked for by hand. What each session was told is
//! recorded for the client-view checks.

use super::cluster::channel;
use super::net::{Host, Net};
use crate::client::{LockClient, LockOptions};
use crate::daemon::wire;
use maekawa_core::id::NodeId;
use maekawa_core::rng::SplitMix64;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::sync::watch;
use tokio::time::Instant;

/// The named locks the sessions take.
pub(super) const LOCKS: [&str; 2] = ["a", "b"];
/// The semaphore the sessions take with `--semaphores`, and its limit.
const SEMAPHORE: (&str, u32) = ("s", 2);

/// One session that was told `Acquired`.
#[derive(Debug, Clone)]
pub(super) struct Held {
    /// The lock, or the semaphore's slot (`s#1`) whose token this is.
    pub(super) lock: String,
    pub(super) token: u64,
    pub(super) node: NodeId,
    pub(super) client: usize,
    /// When it was told.
    pub(super) from: Instant,
    /// When it stopped holding: released, lost, or vanished (`None`: still held at the end).
    pub(super) until: Option<Instant>,
}

/// What the clients saw, shared by their tasks.
#[derive(Debug, Default)]
pub(super) struct Seen {
    pub(super) held: Vec<Held>,
    /// Sessions that vanished (the client dropped mid-acquire or mid-hold).
    pub(super) vanished: u64,
    /// Acquisitions that timed out or were turned away (try-once).
    pub(super) gave_up: u64,
    /// The clients that took a lock since the calm phase began.
    pub(super) calm_acquired: std::collections::BTreeSet<usize>,
    /// `ctl` requests answered.
    pub(super) ctl_requests: u64,
    /// The manual nodes `ctl` saw in the CS in the calm phase.
    pub(super) calm_ctl_entries: std::collections::BTreeSet<NodeId>,
}

/// Shared record of the clients.
pub(super) type Record = Arc<Mutex<Seen>>;

/// The shared record, locked (a panicking client cannot leave it half-written: read on).
pub(super) fn record(r: &Record) -> std::sync::MutexGuard<'_, Seen> {
    r.lock().unwrap_or_else(|e| e.into_inner())
}

/// The phase of the run, which the clients follow: in the calm they only wait for ever, so
/// that every one of their requests must be served.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Phase {
    /// Faults are injected; clients do anything.
    Faults,
    /// No more faults; every request must be served.
    Calm,
    /// The run is over.
    Done,
}

/// One lock client: a loop of sessions at random nodes, drawing from `seed`; one hold in ten
/// lasts up to `long_hold_ms`; with `semaphores`, one session in three takes the semaphore
/// (drawn from a second generator, so the other draws stay those of a run without).
pub(super) async fn lock_client(
    me: usize,
    net: Net,
    addrs: Vec<(NodeId, String)>,
    (seed, long_hold_ms, semaphores): (u64, u64, bool),
    rec: Record,
    mut phase: watch::Receiver<Phase>,
) {
    let mut rng = SplitMix64::new(seed);
    let mut sem_rng = SplitMix64::new(seed ^ 0x5E3A);
    loop {
        let now = *phase.borrow_and_update();
        if now == Phase::Done {
            return;
        }
        tokio::time::sleep(Duration::from_millis(rng.between(0, 60))).await;
        let (node, addr) = &addrs[rng.below(addrs.len() as u64) as usize];
        let Ok(ch) = channel(&net, Host::Client, addr).await else {
            tokio::time::sleep(Duration::from_millis(50)).await;
            continue;
        };
        let mut client = LockClient::from_channel(format!("node {node}"), ch);
        let lock = LOCKS[rng.below(LOCKS.len() as u64) as usize];
        let calm = now == Phase::Calm;
        let options = match (calm, rng.below(10)) {
            (true, _) | (false, 0..=4) => LockOptions::default(),
            (false, 5..=6) => LockOptions::default().try_once(),
            _ => LockOptions::default().timeout(Duration::from_millis(rng.between(20, 400))),
        };
        let options = options.client_label(format!("sim-client-{me}"));
        let (lock, options) = if semaphores && sem_rng.below(3) == 0 {
            (SEMAPHORE.0, options.limit(SEMAPHORE.1))
        } else {
            (lock, options)
        };
        // Some sessions vanish: the client goes away mid-acquire.
        let vanish_after =
            (!calm && rng.below(10) == 0).then(|| Duration::from_millis(rng.between(0, 100)));
        let acquired = match vanish_after {
            Some(after) => match tokio::time::timeout(after, client.lock(lock, options)).await {
                Ok(r) => r,
                Err(_) => {
                    record(&rec).vanished += 1;
                    continue;
                }
            },
            None => client.lock(lock, options).await,
        };
        let mut guard = match acquired {
            Ok(g) => g,
            Err(_) => {
                record(&rec).gave_up += 1;
                continue;
            }
        };
        let index = {
            let mut r = record(&rec);
            r.held.push(Held {
                lock: match guard.slot() {
                    Some(slot) => format!("{lock}#{slot}"),
                    None => lock.to_string(),
                },
                token: guard.token(),
                node: *node,
                client: me,
                from: Instant::now(),
                until: None,
            });
            if calm {
                r.calm_acquired.insert(me);
            }
            r.held.len() - 1
        };
        let longest = if rng.below(10) == 0 { long_hold_ms } else { 20 };
        let hold = Duration::from_millis(rng.between(1, longest));
        let vanish = !calm && rng.below(10) == 0;
        tokio::select! {
            _ = tokio::time::sleep(hold) => {
                record(&rec).held[index].until = Some(Instant::now());
                if vanish {
                    drop(guard);
                } else {
                    let _ = guard.release().await;
                }
            }
            _ = guard.lost() => {
                record(&rec).held[index].until = Some(Instant::now());
            }
        }
    }
}

/// Asks the manual node `addr` for the CS by `ctl`, and cancels or releases at random; in the
/// calm phase it waits until the node is in the CS. Returns the entries it saw in the calm.
pub(super) async fn ctl_client(
    net: Net,
    (node, addr): (NodeId, String),
    seed: u64,
    rec: Record,
    mut phase: watch::Receiver<Phase>,
) {
    let mut rng = SplitMix64::new(seed);
    let empty = || wire::CtlEmpty {};
    loop {
        let now = *phase.borrow_and_update();
        if now == Phase::Done {
            return;
        }
        tokio::time::sleep(Duration::from_millis(rng.between(20, 200))).await;
        let Ok(ch) = channel(&net, Host::Client, &addr).await else {
            continue;
        };
        let mut ctl = wire::control_client::ControlClient::new(ch);
        if ctl.request(empty()).await.is_err() {
            continue;
        }
        record(&rec).ctl_requests += 1;
        if now == Phase::Calm {
            wait_in_cs(node, &mut ctl, &rec, &phase).await;
        }
        tokio::time::sleep(Duration::from_millis(rng.between(0, 100))).await;
        if now == Phase::Faults && rng.below(2) == 0 {
            let _ = ctl.cancel(empty()).await;
        }
        // Leave the CS if in it (refused otherwise), else cancel the request.
        let _ = ctl.release(empty()).await;
        let _ = ctl.cancel(empty()).await;
    }
}

/// Polls the node's status until it is in the CS (counted), the run ends, or it fails.
async fn wait_in_cs(
    node: NodeId,
    ctl: &mut wire::control_client::ControlClient<tonic::transport::Channel>,
    rec: &Record,
    phase: &watch::Receiver<Phase>,
) {
    while *phase.borrow() != Phase::Done {
        match ctl.status(wire::CtlEmpty {}).await {
            Ok(s) if s.get_ref().phase == "in_cs" => {
                record(rec).calm_ctl_entries.insert(node);
                return;
            }
            Ok(_) => tokio::time::sleep(Duration::from_millis(20)).await,
            Err(_) => return,
        }
    }
}
