//! Hostile frames against real daemons (issue 15): a client that speaks the peer wire directly
//! sends what no correct node sends. Each used to break a node: an Envelope with
//! `lamport = 2^64 - 1` killed it (an overflow in the core), and a Hello claiming incarnation
//! `2^64 - 1` made every later start of the real node look dead to it. Now each is refused at
//! the edge with an `INVALID_ARGUMENT` status and a `bad_frame` line in the node log; the node
//! keeps running, the cluster keeps entering the CS (a node restarted after the fake Hello
//! included), and `maekawa check` passes. Plaintext on 127.0.0.1: TLS is another test's.

mod common;

use common::*;
use maekawa::daemon::wire;
use serde_json::Value;
use std::time::Duration;
use tokio::sync::mpsc;
use tokio_stream::wrappers::ReceiverStream;
use wire::peer_client::PeerClient;

const WAIT: Duration = Duration::from_secs(30);

/// A sequence number past anything node 1's real link has delivered, so that the frame is not
/// dropped as a duplicate before anything looks at it (node 1's own link shares that count).
const AHEAD: u64 = 1 << 40;

/// Short think and hold times: the cluster enters the CS many times a second.
const BUSY: [&str; 4] = ["--think-ms", "0..20", "--hold-ms", "0..3"];

/// Node `id`'s address in the cluster file.
fn addr(c: &Cluster, id: u64) -> String {
    let file: Value = serde_json::from_str(&std::fs::read_to_string(&c.config).unwrap()).unwrap();
    let node = file["nodes"]
        .as_array()
        .unwrap()
        .iter()
        .find(|n| n["id"] == id)
        .unwrap();
    node["addr"].as_str().unwrap().to_string()
}

/// Node `id`'s incarnation, from the last `start` line of its log.
fn incarnation(c: &Cluster, id: usize) -> u64 {
    c.node_log(id)
        .iter()
        .rev()
        .find(|l| l["event"] == "start")
        .and_then(|l| l["incarnation"].as_u64())
        .expect("a start line with the incarnation")
}

fn envelope(env: wire::Envelope) -> wire::LinkFrame {
    wire::LinkFrame {
        body: Some(wire::link_frame::Body::Envelope(env)),
    }
}

/// Opens a link to `addr` and sends `frames` on it (the stream stays open until the answer is
/// in), then returns how the link ended: the status of the refused call, or of the ack stream
/// ended by the server. Fails if the server neither refuses nor ends the link within `WAIT`.
fn link_outcome(addr: &str, frames: Vec<wire::LinkFrame>) -> tonic::Status {
    let runtime = tokio::runtime::Runtime::new().unwrap();
    runtime.block_on(async {
        let mut client = PeerClient::connect(format!("http://{addr}")).await.unwrap();
        let (tx, rx) = mpsc::channel(16);
        for f in frames {
            tx.send(f).await.unwrap();
        }
        let answer = async {
            let mut acks = match client.link(ReceiverStream::new(rx)).await {
                Ok(response) => response.into_inner(),
                Err(status) => return status,
            };
            loop {
                match acks.message().await {
                    // The acknowledgement of nothing (seq 0), sent when the link opens.
                    Ok(Some(ack)) => assert_eq!(ack.seq, 0, "a hostile frame was acknowledged"),
                    Ok(None) => panic!("the link ended without a status"),
                    Err(status) => return status,
                }
            }
        };
        let status = tokio::time::timeout(WAIT, answer)
            .await
            .expect("the node answers the hostile link within the deadline");
        drop(tx);
        status
    })
}

/// Waits until node `id` logged a `bad_frame` line whose reason starts with `reason`, and
/// returns it.
fn bad_frame_line(c: &Cluster, id: usize, reason: &str) -> Value {
    let find = || {
        c.node_log(id).into_iter().find(|l| {
            l["event"] == "bad_frame" && l["reason"].as_str().is_some_and(|r| r.starts_with(reason))
        })
    };
    wait_for(
        &format!("node {id} to log bad_frame: {reason}"),
        WAIT,
        || find().is_some(),
    );
    find().unwrap()
}

/// Asserts node `id`'s process is still running.
fn alive(c: &mut Cluster, id: usize) {
    let child = c.children[id].as_mut().expect("node started");
    assert_eq!(child.try_wait().unwrap(), None, "node {id} died");
}

/// Waits until every node entered the CS `more` times since `before` (counts per node).
fn keeps_entering(c: &Cluster, before: &[usize], more: usize, what: &str) {
    wait_for(
        &format!("every node to enter the CS {more} more times {what}"),
        WAIT,
        || {
            c.entries(before.len())
                .iter()
                .zip(before)
                .all(|(now, was)| *now >= was + more)
        },
    );
}

#[test]
fn hostile_frames_are_refused_and_logged_and_the_cluster_goes_on() {
    let mut c = Cluster::start(3, &BUSY);
    keeps_entering(&c, &[0, 0, 0], 5, "before the attacks");
    let target = addr(&c, 0);
    let node1 = incarnation(&c, 1);

    // (a) A Hello as node 1 really is, then one Envelope with lamport = 2^64 - 1.
    let status = link_outcome(
        &target,
        vec![
            hello_frame(1, 0, node1),
            envelope(wire::Envelope {
                seq: AHEAD,
                kind: wire::Kind::Request as i32,
                lamport: u64::MAX,
                req_ts: 1,
                req_node: 1,
                req_inc: node1,
                ..Default::default()
            }),
        ],
    );
    assert_eq!(status.code(), tonic::Code::InvalidArgument, "{status:?}");
    assert!(
        status
            .message()
            .starts_with("lamport 18446744073709551615 is out of range"),
        "{status:?}"
    );
    let line = bad_frame_line(&c, 0, "lamport 18446744073709551615 is out of range");
    assert_eq!(line["level"], "WARN", "{line}");
    assert_eq!(line["frame"], "envelope", "{line}");
    assert_eq!(line["from"], 1, "{line}");
    assert!(
        line["addr"].as_str().unwrap().starts_with("127.0.0.1:"),
        "{line}"
    );

    // (b) A Hello claiming node 2 at incarnation 2^64 - 1.
    let status = link_outcome(&target, vec![hello_frame(2, 0, u64::MAX)]);
    assert_eq!(status.code(), tonic::Code::InvalidArgument, "{status:?}");
    assert!(
        status
            .message()
            .starts_with("incarnation 18446744073709551615 is out of range"),
        "{status:?}"
    );
    let line = bad_frame_line(&c, 0, "incarnation 18446744073709551615 is out of range");
    assert_eq!(line["frame"], "hello", "{line}");
    assert_eq!(line["from"], 2, "{line}");

    // (c) A RELEASE from node 1 for node 2's request: it would free a vote node 2 holds.
    let status = link_outcome(
        &target,
        vec![
            hello_frame(1, 0, node1),
            envelope(wire::Envelope {
                seq: AHEAD,
                kind: wire::Kind::Release as i32,
                lamport: 5,
                req_ts: 1,
                req_node: 2,
                req_inc: 1,
                ..Default::default()
            }),
        ],
    );
    assert_eq!(status.code(), tonic::Code::InvalidArgument, "{status:?}");
    let reason =
        "a Release from node 1 about node 2's request: a requester sends it about its own request";
    assert_eq!(status.message(), reason);
    bad_frame_line(&c, 0, reason);

    // The node lives, and the cluster goes on.
    alive(&mut c, 0);
    let before = c.entries(3);
    keeps_entering(&c, &before, 10, "after the attacks");

    // The fake Hello of (b) was not taken: node 2 restarted (a larger incarnation) still
    // gets node 0's vote.
    c.kill9(2);
    c.children[2] = Some(c.spawn(2));
    wait_for("node 2 to start again", WAIT, || incarnation(&c, 2) > 1);
    let before = c.entries(3);
    keeps_entering(&c, &before, 10, "after node 2 restarted");
    let dead: Vec<Value> = c
        .node_log(0)
        .into_iter()
        .filter(|l| l["event"] == "peer_incarnation" && l["peer"] == 2)
        .collect();
    assert_eq!(dead.len(), 2, "node 0 saw both starts of node 2: {dead:?}");

    alive(&mut c, 0);
    let statuses = c.stop_all();
    assert!(statuses.iter().all(|s| s.success()), "{statuses:?}");
    assert_check_passed(&c.check());
    // Only the three hostile links left a bad_frame line: the real nodes' frames all passed.
    for id in 0..3 {
        let bad = c
            .node_log(id)
            .into_iter()
            .filter(|l| l["event"] == "bad_frame")
            .count();
        assert_eq!(bad, if id == 0 { 3 } else { 0 }, "node {id}");
    }
}
