//! The node-log format against lines written by the tracing-based writer before it became a
//! type: the same keys, in the same order where one event had one shape, and the same values.

use super::*;
use std::time::{Duration, UNIX_EPOCH};

const T: &str = "2026-12-06T17:00:00.123456Z";

fn at() -> SystemTime {
    UNIX_EPOCH + Duration::from_micros(1_796_576_400_123_456)
}

fn line(node: u32, event: &NodeEvent) -> String {
    let mut out = Vec::new();
    write_line(&mut out, at(), NodeId(node), event);
    String::from_utf8(out).expect("utf-8")
}

fn grant() -> MsgLine {
    MsgLine {
        msg: MsgKind::Grant,
        from: NodeId(0),
        to: NodeId(1),
        lamport: 5,
        req_ts: 3,
        req_node: NodeId(1),
        req_inc: 2,
        lock: Some(LockName::from("cs")),
        token: Some(7),
        holds_grant: None,
        to_inc: None,
    }
}

#[test]
fn the_timestamp_is_fixed_width_and_the_test_time_is_what_it_says() {
    assert_eq!(humantime::format_rfc3339_micros(at()).to_string(), T);
}

#[test]
fn a_send_line_is_flat_with_numbers_in_the_old_order() {
    assert_eq!(
        line(0, &NodeEvent::Send(grant())),
        format!(
            "{{\"timestamp\":\"{T}\",\"level\":\"INFO\",\"node\":0,\"event\":\"send\",\"msg\":\"Grant\",\"from\":0,\"to\":1,\"lamport\":5,\"req_ts\":3,\"req_node\":1,\"req_inc\":2,\"lock\":\"cs\",\"token\":7}}\n"
        )
    );
}

#[test]
fn a_sync_line_carries_holds_grant_and_to_inc_last() {
    let mut m = grant();
    m.msg = MsgKind::Sync;
    m.holds_grant = Some(true);
    m.to_inc = Some(4);
    let l = line(1, &NodeEvent::Recv(m));
    assert!(
        l.ends_with("\"event\":\"recv\",\"msg\":\"Sync\",\"from\":0,\"to\":1,\"lamport\":5,\"req_ts\":3,\"req_node\":1,\"req_inc\":2,\"lock\":\"cs\",\"token\":7,\"holds_grant\":true,\"to_inc\":4}\n"),
        "{l}"
    );
}

#[test]
fn a_start_line_has_every_key_of_the_contract_in_order() {
    let l = line(
        2,
        &NodeEvent::Start {
            incarnation: 3,
            addr: "127.0.0.1:7002".into(),
            quorum: vec![NodeId(0), NodeId(2)],
            pid: 42,
            workload: Some(Workload::Auto),
            journaled_lock: Some("none".into()),
            journaled_votes: 0,
            token_floor: 9,
            tls: false,
            log_messages: LogMessages::All,
            quiet_ms: None,
            awaits_floor: None,
        },
    );
    assert_eq!(
        l,
        format!("{{\"timestamp\":\"{T}\",\"level\":\"INFO\",\"node\":2,\"event\":\"start\",\"incarnation\":3,\"addr\":\"127.0.0.1:7002\",\"quorum\":[0,2],\"pid\":42,\"workload\":\"Auto\",\"journaled_lock\":\"none\",\"journaled_votes\":0,\"token_floor\":9,\"tls\":false,\"log_messages\":\"all\"}}\n")
    );
}

#[test]
fn warnings_are_written_at_warn() {
    let l = line(
        0,
        &NodeEvent::BadFrame {
            frame: FrameKind::Hello,
            from: NodeId(7),
            addr: "127.0.0.1:1".into(),
            reason: "seq 0".into(),
        },
    );
    assert!(
        l.contains(
            "\"level\":\"WARN\",\"node\":0,\"event\":\"bad_frame\",\"frame\":\"hello\",\"from\":7,"
        ),
        "{l}"
    );
}

#[test]
fn a_waiting_for_ever_session_has_no_timeout_and_strings_are_escaped() {
    let l = line(
        0,
        &NodeEvent::SessionAcquire {
            session: 1,
            lock: LockName::from("db"),
            client: "a \"quoted\"\nname".into(),
            timeout_ms: None,
            limit: None,
        },
    );
    assert!(
        l.ends_with("\"event\":\"session_acquire\",\"session\":1,\"lock\":\"db\",\"client\":\"a \\\"quoted\\\"\\nname\"}\n"),
        "{l}"
    );
}

#[test]
fn every_event_reads_back_as_written() {
    let events = vec![
        NodeEvent::Send(grant()),
        NodeEvent::Recv(grant()),
        NodeEvent::Plaintext {
            reason: "loopback".into(),
        },
        NodeEvent::ConnectionsFull { max: 64 },
        NodeEvent::RefusedLink {
            claimed: -1,
            reason: "no role".into(),
        },
        NodeEvent::PeerUp { peer: NodeId(1) },
        NodeEvent::PeerDown {
            peer: NodeId(1),
            reason: "reset".into(),
        },
        NodeEvent::QuorumSwitch {
            req_ts: 1,
            req_node: NodeId(0),
            req_inc: 1,
            lock: Some(LockName::from("cs")),
            from_quorum: vec![NodeId(0), NodeId(1)],
            to_quorum: vec![NodeId(0), NodeId(2)],
        },
        NodeEvent::LeaseExpired {
            lock: Some(LockName::from("cs")),
            entry: 3,
            req_ts: 4,
            req_node: NodeId(0),
            token: 5,
            late_ms: 6,
        },
        NodeEvent::Health { serving: false },
        NodeEvent::Suspect {
            peer: NodeId(2),
            silent_ms: 1000,
        },
        NodeEvent::Unsuspect {
            peer: NodeId(2),
            silent_ms: 3000,
        },
        NodeEvent::RequestCs {
            req_ts: 1,
            req_node: NodeId(0),
            lock: None,
        },
        NodeEvent::PeerIncarnation {
            peer: NodeId(1),
            incarnation: 2,
            token_floor: 3,
        },
        NodeEvent::Revote {
            what: RevoteKind::Reclaimed,
            req_ts: 1,
            req_node: NodeId(1),
            req_inc: 1,
            lock: Some(LockName::from("cs")),
            why: "suspected".into(),
        },
        NodeEvent::EnterCs {
            entry: Some(1),
            req_ts: 2,
            req_node: NodeId(0),
            votes: Some(vec![NodeId(0), NodeId(1)]),
            wait_ms: Some(1.5),
            lock: Some(LockName::from("cs")),
            token: Some(8),
        },
        NodeEvent::ExitCs {
            entry: None,
            lock: Some(LockName::from("db")),
            req_ts: 2,
            req_node: NodeId(0),
            token: Some(8),
        },
        NodeEvent::CancelCs {
            req_ts: 2,
            req_node: NodeId(0),
            lock: Some(LockName::from("db")),
        },
        NodeEvent::InquiryDeferred {
            voter: NodeId(2),
            req_ts: 2,
            req_node: NodeId(0),
            lock: Some(LockName::from("cs")),
        },
        NodeEvent::Ignored {
            msg: MsgKind::Fenced,
            from: NodeId(2),
            req_ts: 2,
            req_node: NodeId(0),
            lock: Some(LockName::from("cs")),
            why: "stale".into(),
        },
        NodeEvent::SessionAcquire {
            session: 1,
            lock: LockName::from("db"),
            client: "c".into(),
            timeout_ms: Some(0),
            limit: Some(3),
        },
        NodeEvent::SessionRelease {
            session: 1,
            lock: LockName::from("db"),
            token: 9,
            explicit: true,
        },
        NodeEvent::Refused {
            what: Refusal::Release,
            why: "not in the critical section".into(),
        },
        NodeEvent::Stop {
            entries: 4,
            flushed: true,
        },
    ];
    for event in events {
        let l = line(3, &event);
        let back = parse_line(l.trim_end()).unwrap_or_else(|e| panic!("{l}: {e}"));
        assert_eq!(back.event, event, "{l}");
        assert!(
            l.contains(&format!(",\"event\":\"{}\",", event.name())),
            "{l}"
        );
        assert_eq!(back.node, NodeId(3));
        assert_eq!(back.level, event.level());
        assert_eq!(back.timestamp, T);
        assert_eq!(back.time(), Some(at()));
    }
}

#[test]
fn lines_of_older_versions_still_read() {
    let old = r#"{"timestamp":"2025-01-01T00:00:00.000001Z","level":"INFO","node":1,"event":"enter_cs","entry":2,"req_ts":5,"req_node":1,"wait_ms":0.25}"#;
    let l = parse_line(old).expect("an entry without votes, lock or token");
    assert_eq!(
        l.event,
        NodeEvent::EnterCs {
            entry: Some(2),
            req_ts: 5,
            req_node: NodeId(1),
            votes: None,
            wait_ms: Some(0.25),
            lock: None,
            token: None,
        }
    );
    assert!(l.event.about_cs());
    let send = r#"{"timestamp":"T","level":"INFO","node":1,"event":"send","msg":"Request","from":1,"to":0,"lamport":1,"req_ts":1,"req_node":1}"#;
    let l = parse_line(send).expect("a send without req_inc, lock or token");
    assert_eq!(l.event.lock(), "cs");
    assert_eq!(l.event.req().map(|r| r.inc.0), Some(0));
}

#[test]
fn unknown_events_and_diagnostics_are_other_and_a_known_event_missing_a_key_is_an_error() {
    for raw in [
        r#"{"timestamp":"T","level":"WARN","node":2,"event":"log","message":"link down","peer":3}"#,
        r#"{"timestamp":"T","level":"INFO","node":2,"event":"from_the_future","x":1}"#,
    ] {
        assert_eq!(parse_line(raw).expect(raw).event, NodeEvent::Other);
    }
    let err =
        parse_line(r#"{"timestamp":"T","level":"INFO","node":2,"event":"enter_cs","req_node":2}"#)
            .expect_err("req_ts is required");
    assert!(err.to_string().contains("req_ts"), "{err}");
    let err = parse_line(r#"{"timestamp":"T","level":"INFO","node":2,"event":"send","msg":"Hello","from":1,"to":0,"lamport":1,"req_ts":1,"req_node":1}"#)
        .expect_err("no such message kind");
    assert!(err.to_string().contains("Hello"), "{err}");
}

#[test]
fn named_lock_lines_are_not_about_cs() {
    let e = NodeEvent::SessionRelease {
        session: 1,
        lock: LockName::from("db"),
        token: 9,
        explicit: false,
    };
    assert_eq!(e.lock(), "db");
    assert!(!e.about_cs());
    assert!(NodeEvent::Stop {
        entries: 0,
        flushed: true
    }
    .about_cs());
}
