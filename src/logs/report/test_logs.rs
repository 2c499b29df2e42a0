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
/// clock, in incarnation 2 with the same request (1, 1). Voter 0 answered both. Each process
/// leaves the CS (`exit_cs`) and is then killed (no `stop`).
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
                exit(1, 1, 1),
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

/// The fields of a `peer_incarnation` line: `peer` opened a link as incarnation `inc`.
pub(super) fn peer_incarnation(peer: u32, inc: u64) -> String {
    format!(r#""event":"peer_incarnation","peer":{peer},"incarnation":{inc}"#)
}

/// The fields of a `peer_down` line.
pub(super) fn peer_down(peer: u32) -> String {
    format!(r#""event":"peer_down","peer":{peer},"reason":"connection reset""#)
}

/// The fields of a `revote` line about request `req` = (ts, node, incarnation).
pub(super) fn revote(what: &str, req: (u64, u32, u64), why: &str) -> String {
    format!(
        r#""event":"revote","what":"{what}","req_ts":{},"req_node":{},"req_inc":{},"why":"{why}""#,
        req.0, req.1, req.2
    )
}

/// The fields of an `exit_cs` line.
pub(super) fn exit(entry: u64, ts: u64, node: u32) -> String {
    format!(r#""event":"exit_cs","entry":{entry},"req_ts":{ts},"req_node":{node}"#)
}

/// The fields of a `stop` line.
pub(super) fn stop(entries: u64) -> String {
    format!(r#""event":"stop","entries":{entries},"flushed":true"#)
}

/// How node 1's first process ends in [`holder_and_waiter`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum HolderEnd {
    /// `kill -9` inside the CS: no `exit_cs`, no `stop`.
    Killed,
    /// A clean stop: it leaves the CS (`exit_cs`, Release) and logs `stop`.
    Stopped,
}

/// The 3-node grid (quorums 0: {0,1,2}, 1: {0,1}, 2: {0,2}) as in a real run (tests/crash.rs):
/// node 1 enters with request (3, 1) and voter 0's vote; node 2 asks with (4, 2), voter 0 says
/// FAILED. Then node 1's process ends (`end`) and node 1 starts again as incarnation 2; voter 0
/// hears it, frees the vote of the dead incarnation (after a kill) and grants node 2, which
/// enters. Times are microseconds in the order the real run had them.
pub(super) fn holder_and_waiter(dir: &Path, end: HolderEnd) {
    let r1 = (3, 1, 1);
    let r2 = (4, 2, 1);
    let killed = end == HolderEnd::Killed;
    let mut n0 = vec![
        (100, start(1)),
        (110, peer_incarnation(1, 1)),
        (111, peer_incarnation(2, 1)),
        (200, msg("recv", "Request", 1, 0, 4, r1)),
        (201, msg("send", "Grant", 0, 1, 6, r1)),
        (300, msg("recv", "Request", 2, 0, 5, r2)),
        (301, msg("send", "Failed", 0, 2, 8, r2)),
    ];
    if killed {
        n0.extend([
            (400, peer_down(1)),
            (500, peer_incarnation(1, 2)),
            (501, revote("freed", r1, "vote held by a dead incarnation")),
            (502, msg("send", "Grant", 0, 2, 9, r2)),
        ]);
    } else {
        n0.extend([
            (350, msg("recv", "Release", 1, 0, 10, r1)),
            (351, msg("send", "Grant", 0, 2, 11, r2)),
            (400, peer_down(1)),
            (500, peer_incarnation(1, 2)),
        ]);
    }
    write_log(dir, 0, &n0);
    let mut n1 = vec![
        (101, start(1)),
        (190, request(3, 1)),
        (191, msg("send", "Request", 1, 1, 5, r1)),
        (192, msg("recv", "Request", 1, 1, 5, r1)),
        (193, msg("send", "Grant", 1, 1, 7, r1)),
        (194, msg("recv", "Grant", 1, 1, 7, r1)),
        (195, msg("send", "Request", 1, 0, 4, r1)),
        (202, msg("recv", "Grant", 0, 1, 6, r1)),
        (203, enter(1, 3, 1, "[0,1]", 1.3)),
    ];
    if !killed {
        n1.extend([
            (340, exit(1, 3, 1)),
            (341, msg("send", "Release", 1, 1, 9, r1)),
            (342, msg("recv", "Release", 1, 1, 9, r1)),
            (343, msg("send", "Release", 1, 0, 10, r1)),
            (399, stop(1)),
        ]);
    }
    n1.push((499, start(2)));
    if killed {
        n1.push((
            499,
            revote("freed", r1, "held by this node's own previous incarnation"),
        ));
    }
    write_log(dir, 1, &n1);
    let mut n2 = vec![
        (102, start(1)),
        (299, request(4, 2)),
        (299, msg("send", "Request", 2, 2, 6, r2)),
        (299, msg("recv", "Request", 2, 2, 6, r2)),
        (299, msg("send", "Grant", 2, 2, 8, r2)),
        (299, msg("recv", "Grant", 2, 2, 8, r2)),
        (299, msg("send", "Request", 2, 0, 5, r2)),
        (302, msg("recv", "Failed", 0, 2, 8, r2)),
        (401, peer_down(1)),
        (501, peer_incarnation(1, 2)),
    ];
    let grant = if killed { 9 } else { 11 };
    n2.extend([
        (503, msg("recv", "Grant", 0, 2, grant, r2)),
        (504, enter(1, 4, 2, "[0,2]", 2.0)),
        (505, exit(1, 4, 2)),
    ]);
    write_log(dir, 2, &n2);
}
