//! Three daemons in one process: each started with `maekawa::daemon::run` on one tokio runtime
//! of the test, on its own loopback listener, all in one log directory. They make CS entries,
//! stop through their shutdown futures, and `check` passes on what they wrote, each node's log
//! holding only its own lines. This is the seam a simulator of whole daemons builds on: the
//! listener, the connector and the log directory come from outside, and nothing is global.

mod common;

use maekawa::config::Config;
use maekawa::daemon::proclock::ProcessLock;
use maekawa::daemon::{self, MsRange, NodeSettings, Workload};
use maekawa::logdir;
use maekawa::logs::check;
use maekawa::node_event::{parse_line, NodeEvent};
use maekawa::tls::Security;
use maekawa_core::id::NodeId;
use std::path::Path;
use std::time::Duration;
use tokio::sync::oneshot;

/// CS entries each node makes before it stops asking.
const ENTRIES: u64 = 5;

fn settings(config: &Config, dir: &Path, id: NodeId) -> NodeSettings {
    let lease_ms = maekawa_core::protocol::DEFAULT_LEASE_MS;
    NodeSettings {
        id,
        config: config.clone(),
        log_dir: dir.to_path_buf(),
        workload: Workload::Auto,
        think: MsRange { lo: 5, hi: 20 },
        hold: MsRange { lo: 1, hi: 5 },
        max_entries: Some(ENTRIES),
        suspect_after: Duration::from_millis(1000),
        unsafe_no_journal: false,
        lease_ms,
        reclaim_ms: lease_ms + 1000,
        handover: Default::default(),
        journal_votes: false,
        security: Security::Plaintext,
        plaintext_warning: Some("in-process test on loopback".to_string()),
        max_connections: daemon::limits::MAX_CONNECTIONS,
        log_messages: true,
        log_rotation: (64 << 20, 8),
        metrics_addr: None,
        env: maekawa::daemon::Env::real(),
        membership: None,
    }
}

/// The events of node `id`'s log, each with the `node` its line names.
fn node_lines(dir: &Path, id: NodeId) -> Vec<(NodeId, NodeEvent)> {
    let text = std::fs::read_to_string(logdir::node_log(dir, id)).unwrap_or_default();
    text.lines()
        .map(|l| {
            let line = parse_line(l).unwrap_or_else(|e| panic!("{e}: {l}"));
            (line.node, line.event)
        })
        .collect()
}

fn cs_entries(dir: &Path, id: NodeId) -> usize {
    node_lines(dir, id)
        .iter()
        .filter(|(_, e)| matches!(e, NodeEvent::EnterCs { .. }) && e.about_cs())
        .count()
}

#[test]
fn three_daemons_share_a_process_each_with_its_own_log() -> anyhow::Result<()> {
    let dir = tempfile::tempdir()?;
    let config = Config::load(&common::write_config(dir.path(), 3))?;
    let ids = config.ids();
    // One process per node id is the daemon's rule; one lock file per id, all held here.
    let _locks: Vec<ProcessLock> = ids
        .iter()
        .map(|&id| ProcessLock::acquire(dir.path(), id))
        .collect::<Result<_, _>>()?;
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    let entries = runtime.block_on(async {
        let mut nodes = Vec::new();
        let mut stops = Vec::new();
        for &id in &ids {
            let listener = tokio::net::TcpListener::bind(&config.node(id)?.addr).await?;
            let incoming =
                tonic::transport::server::TcpIncoming::from(listener).with_nodelay(Some(true));
            let (stop, stopped) = oneshot::channel::<()>();
            stops.push(stop);
            nodes.push(tokio::spawn(daemon::run(
                settings(&config, dir.path(), id),
                incoming,
                daemon::transport::tcp_connector(Security::Plaintext),
                async {
                    let _ = stopped.await;
                },
            )));
        }
        let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
        while !ids
            .iter()
            .all(|&id| cs_entries(dir.path(), id) >= ENTRIES as usize)
        {
            assert!(
                tokio::time::Instant::now() < deadline,
                "timed out waiting for {ENTRIES} entries of each node"
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        for stop in stops {
            let _ = stop.send(());
        }
        let mut entries = Vec::new();
        for node in nodes {
            entries.push(node.await??);
        }
        anyhow::Ok(entries)
    })?;
    assert_eq!(entries, vec![ENTRIES; ids.len()]);

    let report = check::check(dir.path(), &config)?;
    assert!(report.passed(), "{report}");
    assert_eq!(report.node_logs, ids);
    assert_eq!(report.entries, ENTRIES * ids.len() as u64);
    for &id in &ids {
        let lines = node_lines(dir.path(), id);
        assert!(
            lines.iter().all(|(node, _)| *node == id),
            "node-{id}.log has another node's lines"
        );
        assert!(matches!(lines.first(), Some((_, NodeEvent::Start { .. }))));
        assert!(matches!(lines.last(), Some((_, NodeEvent::Stop { .. }))));
        assert!(
            lines
                .iter()
                .any(|(_, e)| matches!(e, NodeEvent::Plaintext { .. })),
            "each node logs its own plaintext warning"
        );
    }
    Ok(())
}
