//! Issue 15, item 4: a peer or client that opens many connections or streams, sends a huge
//! message or says nothing cannot exhaust a daemon (src/daemon/limits.rs). Each test attacks
//! node 0 of a plaintext loopback cluster, then shows that node 0 still answers.

mod common;

use common::*;
use maekawa::daemon::wire;
use maekawa::tls::Security;
use std::time::{Duration, Instant};

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
}

async fn peer_client(addr: &str) -> wire::peer_client::PeerClient<tonic::transport::Channel> {
    let channel = Security::Plaintext
        .endpoint(addr)
        .unwrap()
        .connect()
        .await
        .unwrap();
    // The client's own limit must not stop the huge message before the daemon sees it.
    wire::peer_client::PeerClient::new(channel).max_encoding_message_size(usize::MAX)
}

/// Waits (bounded) until an acknowledgement stream ends, and says how.
async fn ends(acks: &mut tonic::Streaming<wire::LinkAck>, within: Duration) -> Option<String> {
    let deadline = Instant::now() + within;
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        match tokio::time::timeout(left, acks.message()).await {
            Err(_) => return None,
            Ok(Ok(Some(_))) => continue,
            Ok(Ok(None)) => return Some("ended".into()),
            Ok(Err(s)) => return Some(format!("{:?}: {}", s.code(), s.message())),
        }
    }
}

/// Node 1 is configured but not running; the attacker speaks for it (plaintext: no roles).
fn cluster_without_node_1(extra: &[&str]) -> Cluster {
    let mut c = Cluster::prepare(3);
    for id in [0, 2] {
        c.start_node(id, extra);
    }
    wait_for("nodes 0 and 2 to answer", Duration::from_secs(20), || {
        (c.ctl(&["--node", "0", "status"]).0 == 0) && (c.ctl(&["--node", "2", "status"]).0 == 0)
    });
    c
}

#[test]
fn a_huge_message_ends_its_stream_and_nothing_else() {
    let c = cluster_without_node_1(&["--workload", "manual"]);
    let addr = c.config_addr(0);
    let rt = runtime();
    let how = rt.block_on(async {
        let mut client = peer_client(&addr).await;
        let huge = wire::LinkFrame {
            body: Some(wire::link_frame::Body::Envelope(wire::Envelope {
                seq: 1,
                kind: wire::Kind::Request as i32,
                lamport: 1,
                req_ts: 1,
                req_node: 1,
                req_inc: 1,
                lock: "x".repeat(8 << 20),
                ..Default::default()
            })),
        };
        let frames = tokio_stream::iter(vec![hello_frame(1, 0, 1), huge]);
        let mut acks = client.link(frames).await.unwrap().into_inner();
        ends(&mut acks, Duration::from_secs(20)).await
    });
    let how = how.expect("the stream with an 8 MiB frame did not end");
    assert!(how.contains("OutOfRange") || how.contains("ended"), "{how}");
    assert!(
        (c.ctl(&["--node", "0", "status"]).0 == 0),
        "node 0 stopped answering"
    );
}

#[test]
fn a_newer_link_of_the_same_node_ends_the_older_ones() {
    let c = cluster_without_node_1(&["--workload", "manual"]);
    let addr = c.config_addr(0);
    let rt = runtime();
    rt.block_on(async {
        let mut client = peer_client(&addr).await;
        let mut open = Vec::new();
        // 300 links on one connection, more than the streams a connection may have at once
        // (128): the older ones must end to make room, or the later calls would wait.
        for _ in 0..300 {
            let (tx, rx) = tokio::sync::mpsc::channel(4);
            tx.send(hello_frame(1, 0, 1)).await.unwrap();
            let call = client.link(tokio_stream::wrappers::ReceiverStream::new(rx));
            let acks = tokio::time::timeout(Duration::from_secs(20), call)
                .await
                .expect("a link call waited: older links were not ended")
                .unwrap()
                .into_inner();
            open.push((tx, acks));
        }
        let (_last_tx, mut last) = open.pop().unwrap();
        for (i, (_tx, mut acks)) in open.into_iter().enumerate() {
            assert!(
                ends(&mut acks, Duration::from_secs(10)).await.is_some(),
                "link {i} still open after a newer one of the same node"
            );
        }
        assert!(
            ends(&mut last, Duration::from_millis(500)).await.is_none(),
            "the newest link was ended"
        );
    });
    assert!((c.ctl(&["--node", "0", "status"]).0 == 0));
}

#[test]
fn a_link_that_says_nothing_is_ended() {
    let c = cluster_without_node_1(&["--workload", "manual"]);
    let addr = c.config_addr(0);
    let rt = runtime();
    let how = rt.block_on(async {
        let mut client = peer_client(&addr).await;
        let (tx, rx) = tokio::sync::mpsc::channel::<wire::LinkFrame>(1);
        let call = client.link(tokio_stream::wrappers::ReceiverStream::new(rx));
        let result = tokio::time::timeout(Duration::from_secs(20), call).await;
        drop(tx);
        match result {
            Err(_) => "no answer within 20 s".to_string(),
            Ok(Ok(_)) => "accepted without a Hello".to_string(),
            Ok(Err(s)) => format!("{:?}: {}", s.code(), s.message()),
        }
    });
    assert!(
        how.contains("DeadlineExceeded") && how.contains("no Hello"),
        "{how}"
    );
}

#[test]
fn connections_beyond_the_limit_are_closed_and_service_returns() {
    let c = cluster_without_node_1(&["--workload", "manual", "--max-connections", "16"]);
    let addr = c.config_addr(0);
    let pid = c.children[0].as_ref().unwrap().id();
    let fds = || {
        std::fs::read_dir(format!("/proc/{pid}/fd"))
            .unwrap()
            .count()
    };
    let before = fds();
    // 200 connections that never speak (not even TLS or HTTP/2): a slow-loris.
    let hogs: Vec<std::net::TcpStream> = (0..200)
        .map(|_| std::net::TcpStream::connect(&addr).unwrap())
        .collect();
    wait_for(
        "the connections_full warning",
        Duration::from_secs(20),
        || {
            c.node_log(0)
                .iter()
                .any(|l| l["event"] == "connections_full")
        },
    );
    let during = fds();
    assert!(
        during <= before + 16 + 4,
        "node 0 holds {during} descriptors with 200 connections open (was {before}, limit 16)"
    );
    drop(hogs);
    wait_for("node 0 to answer again", Duration::from_secs(20), || {
        c.ctl(&["--node", "0", "status"]).0 == 0
    });
}
