//! Test fixtures shared by the report's unit tests: they write small node logs into a temporary
//! directory (the same line shapes `maekawa node` writes) and read Markdown tables back.
//!
//! Only for tests; they never touch a real log directory.

use super::EntrySelector;
use std::path::Path;

/// Writes `node-<id>.log`: each line is the JSON after the common `timestamp`, `level` and
/// `node` keys, stamped with the given microsecond.
pub(super) fn write_log(dir: &Path, node: u32, lines: &[(u64, String)]) {
    let text: String = lines
        .iter()
        .map(|(us, rest)| {
            format!(
                "{{\"timestamp\":\"2026-11-24T07:00:00.{us:06}Z\",\"level\":\"INFO\",\"node\":{node},{rest}}}\n"
            )
        })
        .collect();
    std::fs::write(dir.join(format!("node-{node}.log")), text).unwrap();
}

/// Lines stamped 0, 1, 2, ... microseconds.
pub(super) fn in_order(lines: Vec<String>) -> Vec<(u64, String)> {
    (0..).zip(lines).collect()
}

/// The fields of a `send` or `recv` line about request `req` = (ts, node, incarnation).
pub(super) fn msg(
    event: &str,
    msg: &str,
    from: u32,
    to: u32,
    lamport: u64,
    req: (u64, u32, u64),
) -> String {
    format!(
        r#""event":"{event}","msg":"{msg}","from":{from},"to":{to},"lamport":{lamport},"req_ts":{},"req_node":{},"req_inc":{}"#,
        req.0, req.1, req.2
    )
}

/// The fields of a `start` line of incarnation `inc`.
pub(super) fn start(inc: u64) -> String {
    format!(
        r#""event":"start","incarnation":{inc},"addr":"127.0.0.1:1","quorum":[0,1],"pid":1,"workload":"Auto","journaled_lock":"none""#
    )
}

/// The fields of a `request_cs` line.
pub(super) fn request(ts: u64, node: u32) -> String {
    format!(r#""event":"request_cs","req_ts":{ts},"req_node":{node}"#)
}

/// The fields of an `enter_cs` line; `votes` is a JSON array.
pub(super) fn enter(entry: u64, ts: u64, node: u32, votes: &str, wait: f64) -> String {
    format!(
        r#""event":"enter_cs","entry":{entry},"req_ts":{ts},"req_node":{node},"votes":{votes},"wait_ms":{wait}"#
    )
}

/// The selector of `--node`, `--entry` and `--incarnation`.
pub(super) fn sel(node: u32, entry: u64, incarnation: Option<u64>) -> EntrySelector {
    EntrySelector {
        node,
        entry,
        incarnation,
    }
}

/// (node, event, msg, from → to) of one table row.
pub(super) type Row = (String, String, String, String);

/// (node, event, msg, from → to) of each Markdown table row.
pub(super) fn md_rows(md: &str) -> Vec<Row> {
    md.lines()
        .filter(|l| l.starts_with("| ") && !l.starts_with("| #"))
        .map(|l| {
            let c: Vec<String> = l
                .trim_matches('|')
                .split(" | ")
                .map(|c| c.trim().trim_matches('*').to_string())
                .collect();
            (c[2].clone(), c[3].clone(), c[4].clone(), c[5].clone())
        })
        .collect()
}

/// The expected [`Row`] of a line.
pub(super) fn row(node: u32, event: &str, msg: &str, route: &str) -> Row {
    (node.to_string(), event.into(), msg.into(), route.into())
}

/// Node 1 enters twice as entry 1: in incarnation 1 and, after a restart that reset its
/// clock, in incarnation 2 with the same request (1, 1). Voter 0 answered both.
pub(super) fn restarted(dir: &Path) {
    let round = |inc: u64| {
        let r = (1, 1, inc);
        (
            vec![
                msg("recv", "Request", 1, 0, 2, r),
                msg("send", "Grant", 0, 1, 3, r),
            ],
            vec![
                start(inc),
                request(1, 1),
                msg("send", "Request", 1, 0, 2, r),
                msg("recv", "Grant", 0, 1, 3, r),
                enter(1, 1, 1, "[0]", inc as f64),
            ],
        )
    };
    let (v1, n1) = round(1);
    let (v2, n2) = round(2);
    let mut voter = vec![start(1)];
    voter.extend(v1);
    voter.push(r#""event":"revote","what":"freed","req_ts":1,"req_node":1,"req_inc":1,"why":"vote held by a dead incarnation""#.to_string());
    voter.extend(v2);
    write_log(dir, 0, &in_order(voter));
    write_log(dir, 1, &in_order(n1.into_iter().chain(n2).collect()));
}
