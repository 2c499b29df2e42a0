//! The node log's invariants as properties of the value: lines are the canonical ones, a held
//! batch is one write, lines behind a mark wait and are stamped when written, a failed batch is
//! never written, and rotation never splits a batch.

use super::*;
use crate::node_event::{MsgLine, NodeEvent};
use maekawa_core::member::LockName;
use maekawa_core::protocol::MsgKind;
use std::time::{Duration, UNIX_EPOCH};

/// Counts the writes it gets and keeps what they wrote.
#[derive(Clone, Default)]
struct Counting(Arc<Mutex<(usize, Vec<u8>)>>);

impl io::Write for Counting {
    fn write(&mut self, b: &[u8]) -> io::Result<usize> {
        let mut s = self.0.lock().unwrap();
        s.0 += 1;
        s.1.extend_from_slice(b);
        Ok(b.len())
    }
    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

impl Counting {
    fn writes(&self) -> usize {
        self.0.lock().unwrap().0
    }
    fn text(&self) -> String {
        String::from_utf8(self.0.lock().unwrap().1.clone()).unwrap()
    }
}

fn at(micros: u64) -> SystemTime {
    UNIX_EPOCH + Duration::from_micros(micros)
}

fn send(lamport: u64) -> NodeEvent {
    NodeEvent::Send(MsgLine {
        msg: MsgKind::Grant,
        from: NodeId(2),
        to: NodeId(1),
        lamport,
        req_ts: 3,
        req_node: NodeId(1),
        req_inc: 1,
        lock: Some(LockName::from("cs")),
        token: Some(4),
        holds_grant: None,
        to_inc: None,
    })
}

fn line(time: SystemTime, event: &NodeEvent) -> String {
    let mut out = Vec::new();
    write_line(&mut out, time, NodeId(2), event);
    String::from_utf8(out).unwrap()
}

#[test]
fn lines_are_the_canonical_lines_of_the_node() {
    let out = Counting::default();
    let log = NodeLog::to_writer(NodeId(2), out.clone());
    assert_eq!(log.node(), NodeId(2));
    log.log_at(at(1), &send(5));
    let warn = NodeEvent::ConnectionsFull { max: 3 };
    log.log_at(at(2), &warn);
    assert_eq!(
        out.text(),
        format!("{}{}", line(at(1), &send(5)), line(at(2), &warn))
    );
    assert!(out
        .text()
        .contains("\"level\":\"WARN\",\"node\":2,\"event\":\"connections_full\""));
    assert_eq!(
        out.writes(),
        2,
        "not held: each line written at once, whole"
    );
}

#[test]
fn a_held_batch_is_one_write_and_clones_join_it() {
    let out = Counting::default();
    let log = NodeLog::to_writer(NodeId(2), out.clone());
    let transport = log.clone();
    log.hold();
    log.log_at(at(1), &send(1));
    transport.log_at(at(2), &NodeEvent::ConnectionsFull { max: 1 });
    log.log_at(at(3), &send(2));
    assert_eq!(out.writes(), 0, "held lines wait");
    log.write_held();
    assert_eq!(out.writes(), 1, "one write for the batch");
    assert_eq!(out.text().lines().count(), 3);
    log.log_at(at(4), &send(3));
    assert_eq!(out.writes(), 1, "still holding after write_held");
    log.write_held();
    log.write_held();
    assert_eq!(out.writes(), 2, "nothing held: no empty write");
    log.release();
    log.log_at(at(5), &send(4));
    assert_eq!(out.writes(), 3, "released: written at once");
    assert_eq!(out.text().lines().count(), 5, "nothing is dropped");
}

#[test]
fn a_send_line_is_written_by_the_time_write_held_returns() {
    let dir = tempfile::tempdir().unwrap();
    let log = NodeLog::open(dir.path(), NodeId(2), Rotation::NEVER).unwrap();
    log.hold();
    log.log(&send(9));
    let path = logdir::node_log(dir.path(), NodeId(2));
    assert_eq!(std::fs::read_to_string(&path).unwrap(), "");
    log.write_held();
    // What the driver relies on before it hands the message to its link.
    let text = std::fs::read_to_string(&path).unwrap();
    assert!(
        text.contains("\"event\":\"send\"") && text.ends_with('\n'),
        "{text}"
    );
}

#[test]
fn lines_after_a_mark_wait_and_are_stamped_when_written() {
    let out = Counting::default();
    let log = NodeLog::to_writer(NodeId(2), out.clone());
    log.hold();
    log.log_at(at(1), &send(1));
    let mark = log.mark();
    log.log_at(at(2), &send(2));
    log.log_at(at(3), &send(3));
    log.write_held_before(mark);
    assert_eq!(
        out.text(),
        line(at(1), &send(1)),
        "the lines before the mark only"
    );
    let later = at(1_700_000_000_123_456);
    log.write_held_restamped(later);
    assert_eq!(
        out.text(),
        format!(
            "{}{}{}",
            line(at(1), &send(1)),
            line(later, &send(2)),
            line(later, &send(3))
        )
    );
    assert!(out.text().contains("2023-11-14T22:13:20.123456Z"));
    assert_eq!(out.writes(), 2, "one write each side of the fsync");
    assert_eq!(log.mark(), 0, "nothing is left held");
}

#[test]
fn the_lines_of_a_failed_batch_are_never_written() {
    let out = Counting::default();
    let log = NodeLog::to_writer(NodeId(2), out.clone());
    log.hold();
    log.log_at(at(1), &send(1));
    log.write_held();
    log.log_at(at(2), &send(2));
    log.discard_held();
    log.release();
    assert_eq!(out.text(), line(at(1), &send(1)));
}

#[test]
fn rotation_never_splits_a_batch() {
    let dir = tempfile::tempdir().unwrap();
    let one = line(at(1), &send(1)).len() as u64;
    // Room for two lines a file: a batch of three goes whole into a fresh file.
    let rotation = Rotation {
        max_bytes: 2 * one,
        keep: 3,
    };
    let log = NodeLog::open(dir.path(), NodeId(2), rotation).unwrap();
    log.hold();
    log.log_at(at(1), &send(1));
    log.write_held();
    for l in 2..5 {
        log.log_at(at(l), &send(l));
    }
    log.write_held();
    log.log_at(at(5), &send(5));
    log.write_held();
    let path = logdir::node_log(dir.path(), NodeId(2));
    let read = |p: &Path| std::fs::read_to_string(p).unwrap();
    let rotated = |k| logdir::rotated_node_log(&path, k);
    assert_eq!(read(&rotated(2)), line(at(1), &send(1)));
    assert_eq!(
        read(&rotated(1)).lines().count(),
        3,
        "the batch of three, whole"
    );
    assert_eq!(read(&path), line(at(5), &send(5)));
}

#[test]
fn open_refuses_a_missing_directory() {
    let dir = tempfile::tempdir().unwrap();
    let missing = dir.path().join("logs");
    let msg = NodeLog::open(&missing, NodeId(0), Rotation::NEVER)
        .unwrap_err()
        .to_string();
    assert!(msg.contains("logs: log directory does not exist"), "{msg}");
    assert!(msg.contains("--log-dir"), "{msg}");
}
