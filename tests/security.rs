//! Issue 15: the attacks that worked against a plaintext cluster fail against one with
//! certificates (`maekawa certs init`). Three `--workload manual` daemons with mutual TLS; node
//! 1 holds the CS. Then, against voter 0 (whose vote node 1 holds):
//! - a Hello with no certificate at all, and over TLS without a client certificate;
//! - a Hello claiming to be node 1, over node 2's certificate;
//! - a Hello and a forged RELEASE of node 1's request, over a lock client's certificate;
//! - `ctl release` of node 1 with a lock client's certificate, and in plaintext.
//!
//! Each is refused; voter 0 still gives its vote to node 1, node 2 waits until node 1 really
//! leaves, and `maekawa check` passes on the whole run.

mod common;

use common::*;
use maekawa::daemon::wire;
use maekawa::tls::{Credentials, Security};
use std::path::Path;
use std::process::Command;
use std::sync::Arc;
use std::time::Duration;

/// Mutual TLS as the holder of `<certs>/<stem>.pem`.
fn as_holder_of(certs: &Path, stem: &str) -> Security {
    Security::Tls(Arc::new(
        Credentials::load(certs, stem, Path::new("quorums.json")).unwrap(),
    ))
}

/// Opens a peer link to `addr` with `endpoint`, sends `frames`, and returns how the call
/// ended: `Err` with the status's message when the daemon refused it (or the connection
/// failed), `Ok` when the daemon accepted the link.
async fn link(
    endpoint: tonic::transport::Endpoint,
    frames: Vec<wire::LinkFrame>,
) -> Result<(), String> {
    let channel = endpoint
        .connect_timeout(Duration::from_secs(5))
        .connect()
        .await
        .map_err(|e| format!("connect: {e:?}"))?;
    let mut client = wire::peer_client::PeerClient::new(channel);
    let outbound = tokio_stream::iter(frames);
    let response = client
        .link(outbound)
        .await
        .map_err(|s| s.message().to_string())?;
    // Accepted: read one acknowledgement to be sure the daemon took the frames.
    let mut acks = response.into_inner();
    let ack = tokio::time::timeout(Duration::from_secs(5), acks.message()).await;
    match ack {
        Ok(Ok(_)) => Ok(()),
        Ok(Err(s)) => Err(s.message().to_string()),
        Err(_) => Ok(()),
    }
}

fn release(req: &wire::WireRequest) -> wire::LinkFrame {
    wire::LinkFrame {
        body: Some(wire::link_frame::Body::Envelope(wire::Envelope {
            seq: 1_000_000,
            kind: wire::Kind::Release as i32,
            lamport: 1_000_000,
            req_ts: req.ts,
            req_node: req.node,
            req_inc: req.inc,
            ..Default::default()
        })),
    }
}

#[test]
fn strangers_and_wrong_certificates_are_refused() {
    let mut c = Cluster::prepare(3);
    let made = Command::new(BIN)
        .args(["certs", "init", "--config"])
        .arg(&c.config)
        .output()
        .unwrap();
    assert!(
        made.status.success(),
        "{}",
        String::from_utf8_lossy(&made.stderr)
    );
    let certs = c.dir.path().join("certs");
    for id in 0..3 {
        c.start_node(id, &["--workload", "manual"]);
    }
    wait_for("all nodes to answer ctl", Duration::from_secs(20), || {
        (0..3).all(|id| c.ctl(&["--node", &id.to_string(), "status"]).0 == 0)
    });
    let start = &c.node_log(0)[0];
    assert_eq!(start["tls"], true, "{start}");
    assert!(
        !c.node_log(0).iter().any(|l| l["event"] == "plaintext"),
        "a node with certificates warns of no plaintext"
    );

    let (code, _, err) = c.ctl(&["--node", "1", "request"]);
    assert_eq!(code, 0, "{err}");
    wait_for("node 1 to be in the CS", Duration::from_secs(20), || {
        c.status("1").contains("in the CS")
    });

    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let addr0 = c.config_addr(0);
    // Node 1's request and incarnation, as an attacker who watches the cluster would know.
    let req = runtime.block_on(async {
        let channel = as_holder_of(&certs, "admin")
            .endpoint(&c.config_addr(1))
            .unwrap()
            .connect()
            .await
            .unwrap();
        let mut ctl = wire::control_client::ControlClient::new(channel);
        let s = ctl.status(wire::CtlEmpty {}).await.unwrap().into_inner();
        s.request.expect("node 1 has a request")
    });
    let forged = || vec![hello_frame(1, 0, req.inc), release(&req)];

    // 1. No certificate at all: plaintext to a TLS port.
    let plain = Security::Plaintext.endpoint(&addr0).unwrap();
    let r = runtime.block_on(link(plain, forged()));
    assert!(r.is_err(), "a plaintext link was accepted");

    // 2. TLS that trusts the CA but presents no client certificate.
    let ca = std::fs::read(certs.join("ca.pem")).unwrap();
    let anonymous = tonic::transport::Endpoint::from_shared(format!("https://{addr0}"))
        .unwrap()
        .tls_config(
            tonic::transport::ClientTlsConfig::new()
                .ca_certificate(tonic::transport::Certificate::from_pem(ca))
                .domain_name(maekawa::tls::CLUSTER_NAME),
        )
        .unwrap();
    let r = runtime.block_on(link(anonymous, forged()));
    assert!(
        r.is_err(),
        "a link without a client certificate was accepted"
    );

    // 3. Node 2's certificate, claiming to be node 1.
    let node2 = as_holder_of(&certs, "node-2").endpoint(&addr0).unwrap();
    let r = runtime.block_on(link(node2, forged()));
    let why = r.expect_err("node 2's certificate spoke for node 1");
    assert!(why.contains("cannot open a link as node 1"), "{why}");

    // 4. A lock client's certificate, claiming to be node 1 with a forged RELEASE.
    let client = as_holder_of(&certs, "client").endpoint(&addr0).unwrap();
    let r = runtime.block_on(link(client, forged()));
    let why = r.expect_err("a lock client opened a peer link");
    assert!(why.contains("lock client"), "{why}");

    // Voter 0 still votes for node 1, and logged each refusal of a certificate (its log lines
    // are written at the end of the driver's next batch, which the status call makes).
    let voter = c.status("0");
    assert!(voter.contains("its vote is for node 1"), "{voter}");
    wait_for(
        "voter 0 to log both refusals",
        Duration::from_secs(10),
        || {
            c.status("0");
            let refusals: Vec<_> = c
                .node_log(0)
                .into_iter()
                .filter(|l| l["event"] == "refused_link" && l["level"] == "WARN")
                .collect();
            refusals.len() >= 2 && refusals.iter().all(|l| l["claimed"] == 1)
        },
    );

    // 5. `ctl release` of node 1 without an admin certificate, then in plaintext.
    let (code, _, err) = c.ctl(&["--node", "1", "--identity", "client", "release"]);
    assert_ne!(code, 0, "a lock client released node 1: {err}");
    assert!(err.contains("needs an admin certificate"), "{err}");
    assert_eq!(err.lines().count(), 1, "{err}");
    let (code, _, err) = c.ctl(&["--node", "1", "--insecure", "release"]);
    assert_ne!(code, 0, "plaintext released node 1: {err}");
    assert!(c.status("1").contains("in the CS"));

    // Node 2 (quorum {0, 2}) asks, and waits for voter 0 for as long as node 1 holds.
    let (code, _, err) = c.ctl(&["--node", "2", "request"]);
    assert_eq!(code, 0, "{err}");
    wait_for(
        "node 2 to wait for voter 0",
        Duration::from_secs(20),
        || {
            let s = c.status("2");
            s.contains("waiting for votes") && s.contains("votes missing   0\n")
        },
    );
    assert!(c.status("1").contains("in the CS"));

    // The admin lets node 1 out; node 2 enters.
    let (code, _, err) = c.ctl(&["--node", "1", "release"]);
    assert_eq!(code, 0, "{err}");
    wait_for("node 2 to enter", Duration::from_secs(20), || {
        c.status("2").contains("in the CS")
    });
    assert_eq!(c.ctl(&["--node", "2", "release"]).0, 0);
    wait_for("node 2 to leave", Duration::from_secs(20), || {
        c.status("2").contains("idle")
    });
    c.stop_all();
    assert_check_passed(&c.check());
}

/// Without certificates a cluster whose addresses are not all loopback does not start unless
/// told `--insecure`, and then says so in its log.
#[test]
fn plaintext_off_loopback_needs_insecure() {
    let dir = tempfile::tempdir().unwrap();
    let port = free_ports(1)[0];
    let config = write_config_addrs(
        dir.path(),
        &[format!("127.0.0.1:{port}"), "192.0.2.1:50051".to_string()],
    );
    let logs = dir.path().join("logs");
    let out = Command::new(BIN)
        .args(["node", "--id", "0", "--config"])
        .arg(&config)
        .arg("--log-dir")
        .arg(&logs)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("not all loopback (192.0.2.1:50051)"), "{err}");
    assert!(
        err.contains("maekawa certs init") && err.contains("--insecure"),
        "{err}"
    );
    assert_eq!(err.lines().count(), 1, "{err}");

    let mut node = Command::new(BIN)
        .args(["node", "--id", "0", "--insecure", "--config"])
        .arg(&config)
        .arg("--log-dir")
        .arg(&logs)
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let log = logs.join("node-0.log");
    wait_for("the plaintext warning", Duration::from_secs(20), || {
        read_json_lines(&log)
            .iter()
            .any(|l| l["event"] == "plaintext" && l["level"] == "WARN")
    });
    signal(node.id(), "TERM");
    wait_exit(&mut node, Duration::from_secs(15));
}
