//! The bench's figures from the run's node logs (rotated files included, through
//! [`crate::logs::reader`]): entries per second, network messages per entry by kind (and
//! between the first and last entry), acquire latency, the one-way message latency T and the
//! 2T bound; then `maekawa check` on the same logs.
//!
//! It only reads logs; a line it cannot read is left to `check`, which names it.

use super::{percentile, round3, suspect_after_for, BenchError, BenchReport, BenchSettings};
use super::{DaemonUsage, CLIENT_LOCK};
use crate::config::Config;
use crate::logdir;
use crate::logs::{check, reader};
use crate::node_event::{NodeEvent, NodeLine};
use maekawa_core::id::NodeId;
use maekawa_core::protocol::MsgKind;
use std::collections::BTreeMap;
use std::path::Path;
use std::time::SystemTime;

/// A network message as both its lines name it: (from, to, the sender's Lamport clock).
type MsgKey = (NodeId, NodeId, u64);

/// What the node logs say, gathered line by line.
#[derive(Debug, Default)]
struct Gathered {
    /// When each entry began.
    enter_times: Vec<SystemTime>,
    /// Each entry's wait (request to entry), ms.
    waits: Vec<f64>,
    /// Network messages sent, by kind.
    by_kind: BTreeMap<MsgKind, u64>,
    /// When each network message was sent; matched with its receive line.
    sends: BTreeMap<MsgKey, SystemTime>,
    /// When each network message was received.
    recvs: Vec<(MsgKey, SystemTime)>,
    /// When every network message was sent.
    send_times: Vec<SystemTime>,
    /// Every entry and exit: (when, entry rather than exit, node).
    turns: Vec<(SystemTime, bool, NodeId)>,
}

impl Gathered {
    /// Reads the node logs of the run's nodes; on the client path only the lines of
    /// [`CLIENT_LOCK`].
    fn read(settings: &BenchSettings, log_dir: &Path) -> Gathered {
        let mut g = Gathered::default();
        for id in 0..settings.nodes {
            let path = logdir::node_log(log_dir, NodeId(id as u32));
            let Ok(text) = reader::read_node_log(&path) else {
                continue;
            };
            for l in reader::node_lines(&text).filter_map(|(_, l)| l.ok()) {
                if settings.clients == 0 || l.event.lock() == CLIENT_LOCK {
                    g.line(&l);
                }
            }
        }
        g
    }

    fn line(&mut self, l: &NodeLine) {
        let time = humantime::parse_rfc3339(&l.timestamp).ok();
        match &l.event {
            NodeEvent::EnterCs { wait_ms, .. } => {
                self.waits.push(wait_ms.unwrap_or(0.0));
                self.enter_times.extend(time);
                self.turns.extend(time.map(|t| (t, true, l.node)));
            }
            NodeEvent::ExitCs { .. } | NodeEvent::LeaseExpired { .. } => {
                self.turns.extend(time.map(|t| (t, false, l.node)));
            }
            NodeEvent::Send(m) if m.from != m.to => {
                *self.by_kind.entry(m.msg).or_default() += 1;
                if let Some(t) = time {
                    self.sends.insert((m.from, m.to, m.lamport), t);
                    self.send_times.push(t);
                }
            }
            NodeEvent::Recv(m) if m.from != m.to => {
                if let Some(t) = time {
                    self.recvs.push(((m.from, m.to, m.lamport), t));
                }
            }
            _ => {}
        }
    }

    /// Entries per second between the first and the last entry, and network messages sent
    /// in that span per entry after the first.
    fn rates(&self) -> (f64, f64) {
        let entries = self.enter_times.len();
        let (Some(a), Some(b)) = (self.enter_times.first(), self.enter_times.last()) else {
            return (0.0, 0.0);
        };
        let span = b.duration_since(*a).unwrap_or_default().as_secs_f64();
        let per_second = if span > 0.0 {
            (entries.saturating_sub(1)) as f64 / span
        } else {
            0.0
        };
        let steady = if entries > 1 {
            let sent = self
                .send_times
                .iter()
                .filter(|t| *t >= a && *t <= b)
                .count();
            sent as f64 / (entries - 1) as f64
        } else {
            0.0
        };
        (per_second, steady)
    }

    /// The median hand-over, ms: from an exit to the entry of another node that follows it
    /// directly (the next event of the lock is that entry).
    fn handover_ms(&mut self) -> f64 {
        self.turns.sort();
        let mut gaps: Vec<f64> = self
            .turns
            .windows(2)
            .filter(|w| !w[0].1 && w[1].1 && w[0].2 != w[1].2)
            .filter_map(|w| Some(w[1].0.duration_since(w[0].0).ok()?.as_secs_f64() * 1000.0))
            .collect();
        gaps.sort_by(f64::total_cmp);
        percentile(&gaps, 0.5)
    }

    /// The median one-way latency of network messages (send line to receive line), ms.
    fn one_way_ms(&self) -> f64 {
        let mut one_way: Vec<f64> = self
            .recvs
            .iter()
            .filter_map(|(k, r)| {
                let s = self.sends.get(k)?;
                Some(r.duration_since(*s).ok()?.as_secs_f64() * 1000.0)
            })
            .collect();
        one_way.sort_by(f64::total_cmp);
        percentile(&one_way, 0.5)
    }
}

/// Reads the run's logs into the report.
pub(super) fn measure(
    settings: &BenchSettings,
    config: &Config,
    log_dir: &Path,
    usage: &[(u64, f64)],
) -> Result<BenchReport, BenchError> {
    let mut g = Gathered::read(settings, log_dir);
    g.enter_times.sort();
    g.waits.sort_by(f64::total_cmp);
    let entries = g.enter_times.len() as u64;
    let (entries_per_second, steady) = g.rates();
    let t_ms = g.one_way_ms();
    let handover_ms = g.handover_ms();
    let cpu_seconds: f64 = usage.iter().map(|&(_, cpu)| cpu).sum();
    let per = |n: u64| {
        if entries == 0 {
            0.0
        } else {
            n as f64 / entries as f64
        }
    };
    let messages_per_entry_by_type = MsgKind::ALL
        .into_iter()
        .map(|kind| {
            let n = g.by_kind.get(&kind).copied().unwrap_or(0);
            (kind.name().to_string(), round3(per(n)))
        })
        .collect();
    let bound = 1000.0 / (2.0 * t_ms + settings.hold_ms as f64).max(f64::MIN_POSITIVE);
    let (check, check_passed) = run_check(settings, config, log_dir)?;
    Ok(BenchReport {
        nodes: settings.nodes,
        tls: settings.tls,
        seconds: settings.seconds,
        hold_ms: settings.hold_ms,
        think_ms: settings.think_ms,
        lease_ms: settings.lease_ms,
        journal_votes: settings.journal_votes,
        handover: settings.handover.map(|h| h.name().to_string()),
        suspect_after_ms: settings
            .suspect_after_ms
            .unwrap_or_else(|| suspect_after_for(settings.nodes)),
        entries,
        entries_per_second: round3(entries_per_second),
        messages_per_entry_by_type,
        messages_per_entry: round3(per(g.by_kind.values().sum())),
        messages_per_entry_steady: round3(steady),
        acquire_p50_ms: round3(percentile(&g.waits, 0.5)),
        acquire_p99_ms: round3(percentile(&g.waits, 0.99)),
        acquire_max_ms: round3(g.waits.last().copied().unwrap_or(0.0)),
        one_way_t_ms: round3(t_ms),
        handover_p50_ms: round3(handover_ms),
        handover_over_t: round3(if t_ms > 0.0 { handover_ms / t_ms } else { 0.0 }),
        cpu_ms_per_entry: round3(per((cpu_seconds * 1e6) as u64) / 1000.0),
        bound_entries_per_second: round3(bound),
        ratio_to_bound: round3(if bound > 0.0 {
            entries_per_second / bound
        } else {
            0.0
        }),
        daemons: usage
            .iter()
            .enumerate()
            .map(|(i, &(rss, cpu))| DaemonUsage {
                node: NodeId(i as u32).0,
                peak_rss_kib: rss,
                cpu_seconds: round3(cpu),
            })
            .collect(),
        check,
        check_passed,
        client: None,
    })
}

/// `maekawa check` on the run's logs: its summary line and whether it passed. On the client
/// path this checks the named lock the clients took (no overlap across nodes, votes, grants,
/// tokens); `client_figures` adds the clients' own view of tokens.
fn run_check(
    settings: &BenchSettings,
    config: &Config,
    log_dir: &Path,
) -> Result<(String, bool), BenchError> {
    let report = check::check(log_dir, config)?;
    let summary = if settings.clients > 0 && report.passed() {
        let [_, named] = report.token_lines();
        format!("{}; {named}", report.summary())
    } else {
        report.summary()
    };
    Ok((summary, report.passed()))
}
