//! The driver without a network: one node, whose quorum is itself, driven through its `ctl`
//! commands. Its batch's lines reach the file only at the flush, in the core's order, and
//! each command's typed outcome says what happened in the words `ctl` has always printed.

use super::*;
use crate::config::Config;
use crate::daemon::command::CtlOutcome;
use crate::daemon::node::{open_durable_state, restore_core, take_incarnation, transport_config};
use crate::daemon::rotating::Rotation;
use crate::daemon::settings::{MsRange, Workload};
use crate::daemon::transport::tcp_connector;
use crate::logdir;
use crate::node_event::parse_line;
use crate::tls::Security;
use std::path::Path;
use tokio::sync::oneshot;

fn settings(dir: &Path) -> NodeSettings {
    let config = Config::parse(
        Path::new("quorums.json"),
        r#"{"nodes": [{"id": 0, "addr": "127.0.0.1:1"}]}"#,
    )
    .unwrap();
    NodeSettings {
        id: NodeId(0),
        config,
        log_dir: dir.to_path_buf(),
        workload: Workload::Manual,
        think: MsRange { lo: 1, hi: 1 },
        hold: MsRange { lo: 1, hi: 1 },
        max_entries: None,
        suspect_after: Duration::from_secs(3600),
        unsafe_no_journal: false,
        lease_ms: 0,
        reclaim_ms: 1000,
        handover: Default::default(),
        journal_votes: false,
        security: Security::Plaintext,
        plaintext_warning: None,
        max_connections: 4,
        log_messages: true,
        log_rotation: (0, 0),
        metrics_addr: None,
        env: crate::daemon::Env::real(),
        membership: None,
    }
}

async fn one_node(dir: &Path) -> Driver {
    let settings = settings(dir);
    let log = NodeLog::open(dir, NodeId(0), Rotation::NEVER).unwrap();
    let taken = take_incarnation(&settings, &tcp_connector(Security::Plaintext))
        .await
        .unwrap();
    let durable = open_durable_state(&settings, &log, taken, Arc::default()).unwrap();
    let tcfg = transport_config(&settings, durable.incarnation, durable.floor.clone(), &log);
    let (events, _) = mpsc::channel(16);
    let transport = Transport::start(&tcfg, tcp_connector(Security::Plaintext), events);
    let (core, restore) = restore_core(&settings, &durable);
    let (reachable, _) = watch::channel(true);
    let metrics = Metrics::new();
    let mut driver = Driver::new(&settings, core, log, durable, transport, reachable, metrics);
    driver.start(restore).await.unwrap();
    driver.log.hold();
    driver
}

/// The events in node 0's log so far, by name.
fn events(dir: &Path) -> Vec<String> {
    let text = std::fs::read_to_string(logdir::node_log(dir, NodeId(0))).unwrap();
    text.lines()
        .map(|l| {
            let line = parse_line(l).unwrap();
            assert_eq!(line.node, NodeId(0));
            let v: serde_json::Value = serde_json::from_str(l).unwrap();
            v["event"].as_str().unwrap().to_string()
        })
        .collect()
}

async fn ctl(driver: &mut Driver, make: fn(oneshot::Sender<CtlOutcome>) -> Control) -> CtlOutcome {
    let (tx, rx) = oneshot::channel();
    driver.on_control(make(tx)).unwrap();
    driver.flush().await.unwrap();
    rx.await.unwrap()
}

#[tokio::test(flavor = "current_thread")]
async fn a_batch_is_in_the_file_after_its_flush_in_the_cores_order() {
    let dir = tempfile::tempdir().unwrap();
    let mut d = one_node(dir.path()).await;
    // A first start recalls its incarnation (from nobody: it has no peer).
    assert_eq!(events(dir.path()), ["start", "recall"]);
    let (tx, rx) = oneshot::channel();
    d.on_control(Control::Request(tx)).unwrap();
    assert_eq!(
        events(dir.path()),
        ["start", "recall"],
        "held until the flush"
    );
    d.flush().await.unwrap();
    let outcome = rx.await.unwrap();
    let CtlOutcome::Requested { node, req, .. } = outcome.clone() else {
        panic!("{outcome:?}");
    };
    assert!(outcome.ok());
    assert_eq!(node, NodeId(0));
    let written = events(dir.path());
    assert_eq!(written[..3], ["start", "recall", "request_cs"]);
    assert_eq!(written.last().map(String::as_str), Some("enter_cs"));
    let first_send = written.iter().position(|e| e == "send").unwrap();
    let first_recv = written.iter().position(|e| e == "recv").unwrap();
    assert!(first_send < first_recv, "{written:?}");
    assert_eq!(d.cs.entries, 1);
    let cs_log = std::fs::read_to_string(logdir::cs_log(dir.path())).unwrap();
    assert!(cs_log.lines().any(|l| l.contains("\"enter\"")), "{cs_log}");

    assert_eq!(
        ctl(&mut d, Control::Request).await.to_string(),
        format!("node 0 is already in the CS with request {req}")
    );
    let left = ctl(&mut d, Control::Release).await;
    assert!(left.ok());
    assert_eq!(
        left.to_string(),
        format!("node 0 left the CS (request {req})")
    );
    let after = events(dir.path());
    // The exit line, then the RELEASE to itself.
    assert_eq!(
        after[written.len()..][..3],
        ["exit_cs", "send", "recv"],
        "{after:?}"
    );
    let again = ctl(&mut d, Control::Release).await;
    assert!(!again.ok());
    assert_eq!(
        again.to_string(),
        "node 0 is not in the CS (it has no request)"
    );
    assert_eq!(
        ctl(&mut d, Control::Cancel).await.to_string(),
        "node 0 has no request waiting for votes (it is idle): nothing to cancel"
    );
}
