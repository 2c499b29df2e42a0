//! The CS log across the boundary between its writer and its reader: what the daemon's
//! [`CsLog`] appends is what `check` and `timeline`'s [`read_cs_log`] read back, in file order.
//! The two sides live in different layers (`daemon` and `logs`) that never import each other;
//! this test is where they meet.

use maekawa::daemon::cslog::CsLog;
use maekawa::logdir;
use maekawa::logs::cslog::{read_cs_log, CsEvent};
use maekawa_core::id::{Incarnation, Lamport, NodeId, RequestId};

fn req(ts: u64, node: u32) -> RequestId {
    // The CS log does not carry the incarnation: it reads back as 0.
    RequestId {
        ts: Lamport(ts),
        node: NodeId(node),
        inc: Incarnation(0),
        epoch: maekawa_core::id::Epoch(0),
    }
}

#[test]
fn two_writers_append_and_read_back_in_order() {
    let dir = tempfile::tempdir().unwrap();
    let mut a = CsLog::open(dir.path()).unwrap();
    let mut b = CsLog::open(dir.path()).unwrap();
    a.start(NodeId(0), 1).unwrap();
    b.start(NodeId(1), 3).unwrap();
    a.enter(NodeId(0), 1, req(2, 0), &[NodeId(0), NodeId(1)], 1)
        .unwrap();
    a.exit(NodeId(0), 1).unwrap();
    let lines = read_cs_log(&logdir::cs_log(dir.path())).unwrap();
    assert_eq!(lines.len(), 4);
    assert_eq!(lines[1].line, 2);
    assert!(matches!(
        lines[1].event,
        CsEvent::Start {
            node: NodeId(1),
            incarnation: 3,
            ..
        }
    ));
    assert_eq!(
        lines[2].event,
        CsEvent::Enter {
            node: NodeId(0),
            entry: 1,
            request: req(2, 0),
            votes: vec![NodeId(0), NodeId(1)],
            token: Some(1),
            time: match &lines[2].event {
                CsEvent::Enter { time, .. } => time.clone(),
                _ => unreachable!(),
            },
        }
    );
}
