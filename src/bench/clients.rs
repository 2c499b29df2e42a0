//! The bench's client path: clients of the `Lock` service ([`crate::client`]), one tokio task
//! each, take and release [`CLIENT_LOCK`] in a loop; their acquisitions give the locks per
//! second, the latency as clients see it, and whether the fencing tokens strictly increase.
//!
//! It talks to the daemons only through the client; it reads no log.

use super::{percentile, round3, setup_err, BenchError, BenchReport, BenchSettings, ClientFigures};
use super::{CLIENT_LOCK, CONNECT_WITHIN};
use crate::client::{LockClient, LockOptions};
use crate::config::Config;
use maekawa_core::id::NodeId;
use std::time::{Duration, Instant};

/// One acquisition as a client saw it.
#[derive(Debug, Clone, Copy)]
struct Acquisition {
    client: usize,
    /// When `Acquired` arrived.
    acquired: Instant,
    /// From the `lock` call to `Acquired`, ms.
    latency_ms: f64,
    /// When the client began to release it.
    releasing: Instant,
    token: u64,
}

/// What the clients did: their acquisitions and how long they ran.
pub(super) struct ClientRun {
    acquisitions: Vec<Acquisition>,
    elapsed: Duration,
}

/// Runs the clients of the client path on a tokio runtime of their own, until
/// `settings.seconds` after all of them are connected.
pub(super) fn run_clients(
    config: &Config,
    settings: &BenchSettings,
) -> Result<ClientRun, BenchError> {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .map_err(setup_err)?;
    runtime.block_on(async {
        let mut connected = Vec::new();
        for i in 0..settings.clients {
            let node = NodeId((i % settings.nodes) as u32);
            connected.push(connect(config, node).await?);
        }
        let start = Instant::now();
        let deadline = start + Duration::from_secs_f64(settings.seconds);
        let hold = Duration::from_millis(settings.hold_ms);
        let tasks: Vec<_> = connected
            .into_iter()
            .enumerate()
            .map(|(i, client)| tokio::spawn(client_loop(i, client, hold, deadline)))
            .collect();
        let mut acquisitions = Vec::new();
        for task in tasks {
            let done = task
                .await
                .map_err(|e| BenchError::Client(format!("a client task failed: {e}")))?;
            acquisitions.extend(done?);
        }
        Ok(ClientRun {
            acquisitions,
            elapsed: start.elapsed(),
        })
    })
}

/// Connects to `node`, trying again while the daemon starts.
async fn connect(config: &Config, node: NodeId) -> Result<LockClient, BenchError> {
    let until = Instant::now() + CONNECT_WITHIN;
    loop {
        match LockClient::connect_node(config, node).await {
            Ok(client) => return Ok(client),
            Err(e) if Instant::now() >= until => return Err(BenchError::Client(e.to_string())),
            Err(_) => tokio::time::sleep(Duration::from_millis(50)).await,
        }
    }
}

/// One client: lock, hold, release, until `deadline`. A lock call still waiting at the
/// deadline is dropped (which ends its session).
async fn client_loop(
    client: usize,
    mut lock_client: LockClient,
    hold: Duration,
    deadline: Instant,
) -> Result<Vec<Acquisition>, BenchError> {
    let options = LockOptions::default().client_label(format!("bench client {client}"));
    let mut out = Vec::new();
    while Instant::now() < deadline {
        let asked = Instant::now();
        let call = lock_client.lock(CLIENT_LOCK, options.clone());
        let guard = match tokio::time::timeout_at(deadline.into(), call).await {
            Err(_) => break,
            Ok(result) => result.map_err(|e| BenchError::Client(e.to_string()))?,
        };
        let acquired = Instant::now();
        if !hold.is_zero() {
            tokio::time::sleep(hold).await;
        }
        let token = guard.token();
        let releasing = Instant::now();
        guard
            .release()
            .await
            .map_err(|e| BenchError::Client(e.to_string()))?;
        out.push(Acquisition {
            client,
            acquired,
            latency_ms: (acquired - asked).as_secs_f64() * 1000.0,
            releasing,
            token,
        });
    }
    Ok(out)
}

/// The first acquisition, in the order the clients got them, whose token is not larger than
/// the one before or that came before the one before began its release.
fn token_violation(sorted: &[Acquisition]) -> Option<String> {
    sorted.windows(2).find_map(|w| {
        let (a, b) = (&w[0], &w[1]);
        if b.token <= a.token {
            Some(format!(
                "client {} got token {} after client {} got token {}",
                b.client, b.token, a.client, a.token
            ))
        } else if b.acquired <= a.releasing {
            Some(format!(
                "client {} got token {} before client {} began to release token {}",
                b.client, b.token, a.client, a.token
            ))
        } else {
            None
        }
    })
}

/// Puts the clients' figures into the report: their latencies replace the node logs'.
pub(super) fn client_figures(
    report: &mut BenchReport,
    settings: &BenchSettings,
    run: ClientRun,
    cpu: f64,
) {
    let mut acquisitions = run.acquisitions;
    acquisitions.sort_by_key(|a| a.acquired);
    let violation = token_violation(&acquisitions);
    let mut latencies: Vec<f64> = acquisitions.iter().map(|a| a.latency_ms).collect();
    latencies.sort_by(f64::total_cmp);
    report.acquire_p50_ms = round3(percentile(&latencies, 0.5));
    report.acquire_p99_ms = round3(percentile(&latencies, 0.99));
    report.acquire_max_ms = round3(latencies.last().copied().unwrap_or(0.0));
    let locks = acquisitions.len() as u64;
    let messages = report.messages_per_entry * report.entries as f64;
    let elapsed = run.elapsed.as_secs_f64().max(settings.seconds);
    let tokens = match &violation {
        None => format!(
            "tokens passed: {locks} acquisitions of lock {CLIENT_LOCK} by {} clients, tokens strictly increasing in the order they were acquired",
            settings.clients
        ),
        Some(v) => format!("tokens FAILED: {v}"),
    };
    report.check = format!("{}; {tokens}", report.check);
    report.check_passed = report.check_passed && violation.is_none();
    report.client = Some(ClientFigures {
        clients: settings.clients,
        lock: CLIENT_LOCK.to_string(),
        locks,
        locks_per_second: round3(locks as f64 / elapsed),
        messages_per_lock: round3(if locks == 0 {
            0.0
        } else {
            messages / locks as f64
        }),
        clients_cpu_seconds: round3(cpu),
        tokens_increasing: violation.is_none(),
        token_violation: violation,
    });
}
