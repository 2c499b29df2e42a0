//! Prometheus metrics: what a node did, counted as it does it, served as plain HTTP
//! `GET /metrics` when `maekawa node --metrics-addr` is given (README.md, "Metrics").
//!
//! Counting is always on (the HTTP server is not): a counter is one relaxed atomic add, and the
//! per-message counters are made once at start, one per kind and direction, so the hot path
//! neither allocates nor looks a label set up. Every count matches a line of the node log
//! (`send`, `recv`, `enter_cs`, `revote`, `lease_expired`), which `tests/metrics.rs` checks.
//! The driver owns the [`Metrics`]; the HTTP task only holds the registry, whose metrics share
//! their values with the driver's handles.

use maekawa_core::member::LockName;
use maekawa_core::protocol::{MsgKind, RevoteKind};
use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{exponential_buckets, Histogram};
use prometheus_client::registry::Registry;
use std::collections::BTreeMap;
use std::convert::Infallible;
use std::sync::Arc;
use std::time::Duration;
use tokio::time::Instant;

/// Labels of the per-lock metrics: a lock's name (`cs` for the emulated CS).
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct LockLabel {
    lock: String,
}

/// Labels of the message counters: the kind (`Request`, `Grant`, ...) and `sent`/`received`.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct MessageLabels {
    kind: &'static str,
    direction: &'static str,
}

/// Labels of the re-vote counter: the `what` of the `revote` line.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct WhatLabel {
    what: &'static str,
}

type HistogramFamily = Family<LockLabel, Histogram, fn() -> Histogram>;

/// Acquire latencies: 1 ms to about 65 s, doubling.
fn acquire_histogram() -> Histogram {
    Histogram::new(exponential_buckets(0.001, 2.0, 17))
}

/// The driver's handles on every metric of one node, and the request times that the acquire
/// latency needs. Kept by the driver, which alone counts; [`Metrics::registry`] is what the HTTP
/// server encodes.
#[derive(Debug)]
pub struct Metrics {
    registry: Arc<Registry>,
    entries: Family<LockLabel, Counter>,
    acquire: HistogramFamily,
    /// `[sent, received][kind.index()]`, made at start.
    messages: [[Counter; MsgKind::ALL.len()]; 2],
    fsync: Histogram,
    journal_bytes: Gauge,
    peers_up: Gauge,
    peers_suspected: Gauge,
    revotes: Family<WhatLabel, Counter>,
    lease_expirations: Counter,
    sessions_open: Gauge,
    /// When this node asked for each lock it still waits for: the start of its acquire time.
    requested: BTreeMap<LockName, Instant>,
    /// The lock names that have series of their own (at most [`MAX_LOCK_SERIES`]).
    labelled: std::collections::HashSet<String>,
}

/// Lock names with series of their own, besides `cs`. Clients pick names, so without a bound a
/// daemon that served 10,000 names would keep 10,000 histograms (tests/locks.rs holds its
/// memory to twice its idle size); later names are counted under [`OTHER_LOCKS`].
pub const MAX_LOCK_SERIES: usize = 64;
/// The `lock` label of the names beyond [`MAX_LOCK_SERIES`].
pub const OTHER_LOCKS: &str = "_other";

impl Default for Metrics {
    fn default() -> Metrics {
        Metrics::new()
    }
}

impl Metrics {
    /// Registers every metric, at zero, under the `maekawa_` prefix: a scrape shows each one
    /// (with its help text) even before it first counts.
    pub fn new() -> Metrics {
        let mut root = Registry::default();
        let reg = root.sub_registry_with_prefix("maekawa");
        let entries = Family::<LockLabel, Counter>::default();
        reg.register(
            "cs_entries",
            "Entries into a lock's critical section (the enter_cs lines of the node log)",
            entries.clone(),
        );
        // The emulated CS shows at 0 from the start.
        let _ = entries.get_or_create_owned(&LockLabel { lock: "cs".into() });
        let acquire: HistogramFamily = Family::new_with_constructor(acquire_histogram);
        reg.register(
            "acquire_seconds",
            "Time from asking for a lock (request_cs) to entering it (enter_cs)",
            acquire.clone(),
        );
        let family = Family::<MessageLabels, Counter>::default();
        reg.register(
            "messages",
            "Protocol messages sent and received (handled), by kind: the send and recv lines of the node log",
            family.clone(),
        );
        let per_kind = |direction: &'static str| {
            MsgKind::ALL.map(|kind| {
                family.get_or_create_owned(&MessageLabels {
                    kind: kind.name(),
                    direction,
                })
            })
        };
        let messages = [per_kind("sent"), per_kind("received")];
        let fsync = Histogram::new(exponential_buckets(0.0001, 2.0, 16));
        reg.register(
            "journal_fsync_seconds",
            "How long each fsync of the voter journal took (before the GRANTs it protects leave)",
            fsync.clone(),
        );
        let journal_bytes = Gauge::default();
        reg.register(
            "journal_bytes",
            "Size of the voter journal file in bytes",
            journal_bytes.clone(),
        );
        let peers_up = Gauge::default();
        reg.register(
            "peers_up",
            "Peers this node's outgoing link is up to (peer_up minus peer_down)",
            peers_up.clone(),
        );
        let peers_suspected = Gauge::default();
        reg.register(
            "peers_suspected",
            "Peers suspected now: nothing heard from them for --suspect-after",
            peers_suspected.clone(),
        );
        let revotes = Family::<WhatLabel, Counter>::default();
        reg.register(
            "revotes",
            "Votes or queue entries changed to match a restarted or suspected peer (revote lines), by what",
            revotes.clone(),
        );
        // Every `what` the core logs shows at 0 from the start (and the family with it).
        for what in RevoteKind::ALL {
            let what = what.name();
            let _ = revotes.get_or_create_owned(&WhatLabel { what });
        }
        let lease_expirations = Counter::default();
        reg.register(
            "lease_expirations",
            "Entries whose lease ran out before the holder left (lease_expired lines)",
            lease_expirations.clone(),
        );
        let sessions_open = Gauge::default();
        reg.register(
            "lock_sessions_open",
            "Client sessions of the lock service open now (holding or waiting)",
            sessions_open.clone(),
        );
        Metrics {
            registry: Arc::new(root),
            entries,
            acquire,
            messages,
            fsync,
            journal_bytes,
            peers_up,
            peers_suspected,
            revotes,
            lease_expirations,
            sessions_open,
            requested: BTreeMap::new(),
            labelled: std::collections::HashSet::new(),
        }
    }

    /// What the HTTP server encodes; its metrics share their values with these handles.
    pub fn registry(&self) -> Arc<Registry> {
        self.registry.clone()
    }

    /// A message sent (`send` line) or handled (`recv` line). No allocation, no lookup.
    pub fn message(&self, sent: bool, kind: MsgKind) {
        self.messages[usize::from(!sent)][kind.index()].inc();
    }

    /// This node asked for `lock` (a `request_cs` line): its acquire time starts.
    pub fn requested(&mut self, lock: &LockName) {
        self.requested.insert(lock.clone(), Instant::now());
    }

    /// This node withdrew its request for `lock` (`cancel_cs`): no acquire time.
    pub fn cancelled(&mut self, lock: &str) {
        self.requested.remove(lock);
    }

    /// This node entered `lock` (an `enter_cs` line): one entry, and its acquire time if this
    /// process made the request (an entry restored from the journal has none).
    pub fn entered(&mut self, lock: &str) {
        let named = lock == LockName::CS
            || self.labelled.contains(lock)
            || (self.labelled.len() < MAX_LOCK_SERIES && self.labelled.insert(lock.to_string()));
        let label = LockLabel {
            lock: if named { lock } else { OTHER_LOCKS }.into(),
        };
        self.entries.get_or_create(&label).inc();
        if let Some(at) = self.requested.remove(lock) {
            self.acquire
                .get_or_create(&label)
                .observe(at.elapsed().as_secs_f64());
        }
    }

    /// One fsync of the journal took `took`.
    pub fn fsync(&self, took: Duration) {
        self.fsync.observe(took.as_secs_f64());
    }

    /// State sampled after every batch: the journal's size and the open sessions.
    pub fn sample(&self, journal_bytes: u64, sessions_open: usize) {
        self.journal_bytes
            .set(i64::try_from(journal_bytes).unwrap_or(i64::MAX));
        self.sessions_open
            .set(i64::try_from(sessions_open).unwrap_or(i64::MAX));
    }

    /// The link to a peer came up (`up`) or went down.
    pub fn peer_link(&self, up: bool) {
        if up {
            self.peers_up.inc();
        } else {
            self.peers_up.dec();
        }
    }

    /// How many peers are suspected now.
    pub fn suspected(&self, n: usize) {
        self.peers_suspected
            .set(i64::try_from(n).unwrap_or(i64::MAX));
    }

    /// A `revote` line with this `what`.
    pub fn revote(&self, what: RevoteKind) {
        let what = what.name();
        self.revotes.get_or_create(&WhatLabel { what }).inc();
    }

    /// A `lease_expired` line.
    pub fn lease_expired(&self) {
        self.lease_expirations.inc();
    }
}

/// The text a scrape gets: the registry in the OpenMetrics text format (which Prometheus
/// reads; it is the Prometheus text format plus `# EOF`).
pub fn encode(registry: &Registry) -> String {
    let mut out = String::new();
    prometheus_client::encoding::text::encode(&mut out, registry)
        .expect("writing to a String does not fail");
    out
}

/// Serves `GET /metrics` on `listener` (HTTP/1.1 with hyper, which tonic already brings in)
/// until the task is aborted. Runs on the daemon's runtime: a scrape encodes a few dozen
/// series, far less work than a batch of protocol messages.
pub async fn serve(listener: tokio::net::TcpListener, registry: Arc<Registry>) {
    loop {
        let stream = match listener.accept().await {
            Ok((stream, _)) => stream,
            // Out of file descriptors, say: try again a little later instead of spinning.
            Err(_) => {
                tokio::time::sleep(Duration::from_millis(100)).await;
                continue;
            }
        };
        let registry = registry.clone();
        tokio::spawn(async move {
            let service = hyper::service::service_fn(move |req| {
                let response = respond(&registry, &req);
                async move { Ok::<_, Infallible>(response) }
            });
            // A client that goes away mid-request is its own problem.
            let _ = hyper::server::conn::http1::Builder::new()
                .serve_connection(hyper_util::rt::TokioIo::new(stream), service)
                .await;
        });
    }
}

fn respond<B>(registry: &Registry, req: &hyper::Request<B>) -> hyper::Response<String> {
    let (status, content_type, body) = match (req.method(), req.uri().path()) {
        (&hyper::Method::GET, "/metrics") => (
            hyper::StatusCode::OK,
            "application/openmetrics-text; version=1.0.0; charset=utf-8",
            encode(registry),
        ),
        (_, "/metrics") => (
            hyper::StatusCode::METHOD_NOT_ALLOWED,
            "text/plain; charset=utf-8",
            "only GET /metrics\n".to_string(),
        ),
        _ => (
            hyper::StatusCode::NOT_FOUND,
            "text/plain; charset=utf-8",
            "not found: metrics are at GET /metrics\n".to_string(),
        ),
    };
    hyper::Response::builder()
        .status(status)
        .header(hyper::header::CONTENT_TYPE, content_type)
        .body(body)
        .expect("a response of constant parts is valid")
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Lock names beyond the first MAX_LOCK_SERIES share one series, so memory stays bounded
    /// however many names clients use.
    #[test]
    fn lock_series_are_bounded() {
        let mut m = Metrics::new();
        for i in 0..MAX_LOCK_SERIES + 36 {
            m.entered(&format!("name-{i}"));
        }
        m.entered(LockName::CS);
        let text = encode(&m.registry());
        let series = text
            .lines()
            .filter(|l| l.starts_with("maekawa_cs_entries_total{"))
            .count();
        assert_eq!(series, MAX_LOCK_SERIES + 2, "{text}");
        assert!(
            text.contains(r#"maekawa_cs_entries_total{lock="_other"} 36"#),
            "{text}"
        );
        assert!(
            text.contains(r#"maekawa_cs_entries_total{lock="cs"} 1"#),
            "{text}"
        );
    }

    /// Every metric shows in a scrape from the start, and counts land in the right series.
    #[test]
    fn counts_show_in_the_text_format() {
        let mut m = Metrics::new();
        m.message(true, MsgKind::Grant);
        m.message(true, MsgKind::Grant);
        m.message(false, MsgKind::Request);
        m.requested(&LockName::from("cs"));
        m.entered("cs");
        m.revote(RevoteKind::Freed);
        let text = encode(&m.registry());
        for line in [
            r#"maekawa_messages_total{kind="Grant",direction="sent"} 2"#,
            r#"maekawa_messages_total{kind="Request",direction="received"} 1"#,
            r#"maekawa_messages_total{kind="Revoked",direction="sent"} 0"#,
            r#"maekawa_cs_entries_total{lock="cs"} 1"#,
            r#"maekawa_acquire_seconds_count{lock="cs"} 1"#,
            r#"maekawa_revotes_total{what="freed"} 1"#,
            r#"maekawa_revotes_total{what="reclaimed"} 0"#,
            "maekawa_lease_expirations_total 0",
            "maekawa_peers_up 0",
            "maekawa_journal_fsync_seconds_count 0",
        ] {
            assert!(text.lines().any(|l| l == line), "{line} missing in\n{text}");
        }
    }
}
