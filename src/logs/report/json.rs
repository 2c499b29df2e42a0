//! The JSON renderer: the story of one entry as one object, for programs (`maekawa watch`
//! steps through it in the browser). The same steps, in the same causal order, with the same
//! notes as the text report; a run's summary has no JSON form (asking is refused).
//!
//! It decides no fact and reads no file: it lays out what `story` gives.

use super::node_logs::{Dir, Ev};
use super::story::Story;
use serde_json::{json, Value};

/// `{"node","entry","req":{"ts","node"},"votes","wait_ms","headline","steps":[…]}`; each step
/// has `n`, `time`, `node`, `event`, `note`, `stands_out`, and for a message `msg`, `from`,
/// `to`, `lamport` and `unmatched`.
pub(super) fn story(story: &Story) -> String {
    let rows = story.rows();
    let steps: Vec<Value> = story
        .steps
        .iter()
        .zip(rows)
        .enumerate()
        .map(|(i, (s, row))| {
            let mut step = json!({
                "n": i + 1,
                "time": row[1],
                "node": s.line.node.0,
                "event": row[3],
                "note": row[7],
                "stands_out": s.stands_out,
            });
            if let Ev::Msg {
                dir,
                msg,
                from,
                to,
                lamport,
                ..
            } = &s.line.ev
            {
                step["event"] = json!(if *dir == Dir::Send { "send" } else { "recv" });
                step["msg"] = json!(msg.to_string());
                step["from"] = json!(from.0);
                step["to"] = json!(to.0);
                step["lamport"] = json!(lamport);
                step["unmatched"] = json!(s.unmatched);
            }
            step
        })
        .collect();
    let out = json!({
        "node": story.node.0,
        "entry": story.entry,
        "req": {"ts": story.req.ts.0, "node": story.req.node.0},
        "votes": story.votes.iter().map(|v| v.0).collect::<Vec<_>>(),
        "wait_ms": story.wait_ms,
        "headline": story.headline(),
        "steps": steps,
    });
    format!("{out}\n")
}
