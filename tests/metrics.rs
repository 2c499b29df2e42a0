//! `maekawa node --metrics-addr`: a scrape of `GET /metrics` counts what the node log records.
//! Three daemons make 20 entries each; once they are quiet, every node's counters equal the
//! lines of its log (entries, messages sent and received by kind) and the acquire histogram
//! counts every entry.

mod common;

use common::{free_ports, wait_for, write_config_on, Cluster};
use std::collections::HashMap;
use std::io::{Read, Write};
use std::time::Duration;

const ENTRIES: u64 = 20;

/// `GET path` over a raw TCP stream: (status code, body).
fn http_get(port: u16, path: &str) -> Option<(u16, String)> {
    let mut stream = std::net::TcpStream::connect(("127.0.0.1", port)).ok()?;
    stream.set_read_timeout(Some(Duration::from_secs(5))).ok()?;
    write!(
        stream,
        "GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n"
    )
    .ok()?;
    let mut response = String::new();
    stream.read_to_string(&mut response).ok()?;
    let (head, body) = response.split_once("\r\n\r\n")?;
    let status = head.split_whitespace().nth(1)?.parse().ok()?;
    Some((status, body.to_string()))
}

/// The samples of a Prometheus text exposition: `name{labels}` (as written) to value.
fn parse_samples(text: &str) -> HashMap<String, f64> {
    text.lines()
        .filter(|l| !l.starts_with('#') && !l.is_empty())
        .filter_map(|l| {
            let (series, value) = l.rsplit_once(' ')?;
            Some((series.to_string(), value.parse().ok()?))
        })
        .collect()
}

/// What node `id`'s log says: `enter_cs` lines of `cs`, and `send`/`recv` lines by `msg`.
fn log_counts(cluster: &Cluster, id: usize) -> (u64, HashMap<(String, String), u64>) {
    let mut entries = 0;
    let mut messages = HashMap::new();
    for line in cluster.node_log(id) {
        let event = line["event"].as_str().unwrap_or_default();
        match event {
            "enter_cs" if line["lock"].as_str().unwrap_or("cs") == "cs" => entries += 1,
            "send" | "recv" => {
                let direction = if event == "send" { "sent" } else { "received" };
                let kind = line["msg"].as_str().unwrap_or_default().to_string();
                *messages.entry((kind, direction.to_string())).or_insert(0) += 1;
            }
            _ => {}
        }
    }
    (entries, messages)
}

/// Every difference between node `id`'s scrape and its log (empty when they agree).
fn disagreements(cluster: &Cluster, id: usize, port: u16) -> Vec<String> {
    let Some((200, text)) = http_get(port, "/metrics") else {
        return vec![format!("node {id}: no scrape yet")];
    };
    let samples = parse_samples(&text);
    let (entries, messages) = log_counts(cluster, id);
    let get = |series: &str| samples.get(series).copied().unwrap_or(-1.0);
    let mut wrong = Vec::new();
    let mut expect = |series: String, want: u64| {
        let got = get(&series);
        if got != want as f64 {
            wrong.push(format!("node {id}: {series} is {got}, the log says {want}"));
        }
    };
    expect(r#"maekawa_cs_entries_total{lock="cs"}"#.into(), entries);
    expect(
        r#"maekawa_acquire_seconds_count{lock="cs"}"#.into(),
        entries,
    );
    for kind in maekawa_core::protocol::MsgKind::ALL {
        for direction in ["sent", "received"] {
            let want = messages
                .get(&(kind.name().to_string(), direction.to_string()))
                .copied()
                .unwrap_or(0);
            expect(
                format!(
                    r#"maekawa_messages_total{{kind="{}",direction="{direction}"}}"#,
                    kind.name()
                ),
                want,
            );
        }
    }
    expect("maekawa_peers_up".into(), 2);
    expect("maekawa_peers_suspected".into(), 0);
    wrong
}

#[test]
fn scrape_counts_what_the_node_log_records() {
    let ports = free_ports(6);
    let (node_ports, metric_ports) = ports.split_at(3);
    let mut cluster = Cluster::prepare_with(3, |dir| write_config_on(dir, node_ports));
    for (id, port) in metric_ports.iter().enumerate() {
        let addr = format!("127.0.0.1:{port}");
        cluster.start_node(
            id,
            &[
                "--metrics-addr",
                &addr,
                "--max-entries",
                &ENTRIES.to_string(),
                "--think-ms",
                "0..20",
                "--hold-ms",
                "0..5",
            ],
        );
    }
    wait_for("20 entries at every node", Duration::from_secs(60), || {
        cluster.entries(3).iter().all(|&e| e as u64 == ENTRIES)
    });
    // Counters and log lines are written at slightly different moments: once the cluster is
    // quiet they must agree exactly.
    let mut last = Vec::new();
    let agreed = (0..200).any(|_| {
        last = (0..3)
            .flat_map(|id| disagreements(&cluster, id, metric_ports[id]))
            .collect();
        if last.is_empty() {
            return true;
        }
        std::thread::sleep(Duration::from_millis(100));
        false
    });
    assert!(agreed, "after 20 s the scrapes still disagree: {last:#?}");

    let (_, text) = http_get(metric_ports[0], "/metrics").unwrap();
    for name in [
        "maekawa_journal_fsync_seconds",
        "maekawa_journal_bytes",
        "maekawa_revotes",
        "maekawa_lease_expirations",
        "maekawa_lock_sessions_open",
    ] {
        assert!(
            text.contains(&format!("# HELP {name} ")),
            "{name} is not documented in the scrape:\n{text}"
        );
    }
    let samples = parse_samples(&text);
    assert!(samples["maekawa_journal_bytes"] > 0.0, "{text}");
    assert!(
        samples["maekawa_journal_fsync_seconds_count"] > 0.0,
        "a voter granted, so it synced its journal:\n{text}"
    );
    assert_eq!(
        http_get(metric_ports[0], "/other").map(|r| r.0),
        Some(404),
        "only /metrics is served"
    );
    let statuses = cluster.stop_all();
    assert!(statuses.iter().all(|s| s.success()), "{statuses:?}");
    common::assert_check_passed(&cluster.check());
}

/// A `--metrics-addr` already in use stops the node at start, naming the flag.
#[test]
fn metrics_address_in_use_is_refused() {
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = taken.local_addr().unwrap().to_string();
    let cluster = Cluster::prepare(1);
    let out = std::process::Command::new(common::BIN)
        .args(cluster.node_args(0))
        .args(["--metrics-addr", &addr, "--max-entries", "0"])
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("--metrics-addr"), "{stderr}");
}
