use super::*;
use crate::logdir::CS_LOG as CS;
use maekawa_core::id::NodeId;
use std::fmt::Write as _;
use tempfile::TempDir;

/// Three nodes: grid of 2 columns, Q(0) = {0,1,2}, Q(1) = {0,1}, Q(2) = {0,2}.
fn config() -> Config {
    Config::parse(
        Path::new("quorums.json"),
        r#"{"nodes": [{"id": 0, "addr": "127.0.0.1:1"}, {"id": 1, "addr": "127.0.0.1:2"},
                      {"id": 2, "addr": "127.0.0.1:3"}]}"#,
    )
    .unwrap()
}

/// Builds a log directory line by line, the way the daemon would write it.
#[derive(Default)]
struct Run {
    cs: String,
    nodes: BTreeMap<u32, String>,
}

const T: &str = "2025-01-01T00:00:00.000000Z";

impl Run {
    fn start(&mut self, node: u32, inc: u64) -> &mut Self {
        writeln!(
            self.cs,
            r#"{{"event":"start","node":{node},"incarnation":{inc},"time":"{T}"}}"#
        )
        .unwrap();
        self.node_line(node, &format!(r#""event":"start","incarnation":{inc}"#))
    }

    fn node_line(&mut self, node: u32, rest: &str) -> &mut Self {
        let log = self.nodes.entry(node).or_default();
        writeln!(
            log,
            r#"{{"timestamp":"{T}","level":"INFO","node":{node},{rest}}}"#
        )
        .unwrap();
        self
    }

    fn grant(&mut self, from: u32, to: u32, ts: u64) -> &mut Self {
        self.node_line(
            to,
            &format!(
                r#""event":"recv","msg":"Grant","from":{from},"to":{to},"lamport":{},"req_ts":{ts},"req_node":{to}"#,
                ts + 1
            ),
        )
    }

    /// Grants from the whole quorum, then the enter in both logs.
    fn enter(&mut self, node: u32, entry: u64, ts: u64, votes: &[u32]) -> &mut Self {
        for &v in votes {
            self.grant(v, node, ts);
        }
        self.enter_only(node, entry, ts, votes)
    }

    fn enter_only(&mut self, node: u32, entry: u64, ts: u64, votes: &[u32]) -> &mut Self {
        let votes = format!("{votes:?}").replace(' ', "");
        writeln!(
            self.cs,
            r#"{{"event":"enter","node":{node},"entry":{entry},"request":{{"ts":{ts},"node":{node}}},"votes":{votes},"time":"{T}"}}"#
        )
        .unwrap();
        self.node_line(
            node,
            &format!(
                r#""event":"enter_cs","entry":{entry},"req_ts":{ts},"req_node":{node},"votes":{votes}"#
            ),
        )
    }

    fn exit(&mut self, node: u32, entry: u64, ts: u64) -> &mut Self {
        writeln!(
            self.cs,
            r#"{{"event":"exit","node":{node},"entry":{entry},"time":"{T}"}}"#
        )
        .unwrap();
        self.node_line(
            node,
            &format!(r#""event":"exit_cs","entry":{entry},"req_ts":{ts},"req_node":{node}"#),
        )
    }

    fn stop(&mut self, node: u32) -> &mut Self {
        self.node_line(node, r#""event":"stop","entries":0,"flushed":true"#)
    }

    fn write(&self) -> TempDir {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join(CS), &self.cs).unwrap();
        for (n, text) in &self.nodes {
            std::fs::write(dir.path().join(format!("node-{n}.log")), text).unwrap();
        }
        dir
    }

    fn check(&self) -> CheckReport {
        check(self.write().path(), &config()).unwrap()
    }
}

/// Three nodes, each entering twice in turn, then stopping.
fn clean() -> Run {
    let mut r = Run::default();
    r.start(0, 1).start(1, 1).start(2, 1);
    r.enter(0, 1, 2, &[0, 1, 2]).exit(0, 1, 2);
    r.enter(1, 1, 3, &[0, 1]).exit(1, 1, 3);
    r.enter(2, 1, 5, &[0, 2]).exit(2, 1, 5);
    r.enter(0, 2, 9, &[0, 1, 2]).exit(0, 2, 9);
    r.enter(1, 2, 11, &[0, 1]).exit(1, 2, 11);
    r.stop(0).stop(1).stop(2);
    r
}

#[test]
fn a_clean_run_passes() {
    let report = clean().check();
    assert!(report.passed(), "{report}");
    assert_eq!(
        report.summary(),
        "check passed: 3 nodes, 5 CS entries (0: 2, 1: 2, 2: 1), 3 starts, 3 node logs, 0 violations"
    );
    assert_eq!(report.node_logs, [NodeId(0), NodeId(1), NodeId(2)]);
}

#[test]
fn overlap_is_caught() {
    let mut r = Run::default();
    r.start(0, 1).start(1, 1);
    r.enter(0, 1, 2, &[0, 1, 2]);
    r.enter(1, 1, 3, &[0, 1]);
    r.exit(0, 1, 2).exit(1, 1, 3);
    let report = r.check();
    assert_eq!(
        report.violations,
        ["critical_section.log:4: node 1 entered (entry 1) while node 0 is in the CS since line 3"],
        "{report}"
    );
    assert_eq!(
        report.to_string(),
        "check FAILED: 1 violation in 2 CS entries\n  critical_section.log:4: node 1 entered (entry 1) while node 0 is in the CS since line 3"
    );
}

#[test]
fn wrong_votes_are_caught() {
    let mut r = Run::default();
    r.start(2, 1);
    r.enter(2, 1, 2, &[2]).exit(2, 1, 2);
    let report = r.check();
    assert_eq!(
        report.violations,
        ["critical_section.log:2: node 2 entered (entry 1) with votes [2] but that is not a quorum of the grid system (its own is [0,2])"]
    );
}

/// A requester may switch to any quorum of the system (row 1 plus column 1 here).
#[test]
fn votes_of_another_quorum_of_the_system_are_fine() {
    let mut r = Run::default();
    r.start(2, 1);
    r.enter(2, 1, 2, &[1, 2]).exit(2, 1, 2);
    let report = r.check();
    assert!(report.violations.is_empty(), "{report}");
}

#[test]
fn missing_grant_is_caught() {
    let mut r = Run::default();
    r.start(0, 1);
    r.grant(0, 0, 2).grant(2, 0, 2).grant(1, 0, 1); // node 1's grant is for another request
    r.enter_only(0, 1, 2, &[0, 1, 2]).exit(0, 1, 2);
    let report = r.check();
    assert_eq!(
        report.violations,
        ["node-0.log:5: node 0 entered the CS (entry 1, request (2, 0)) without a received Grant from node 1"]
    );
}

#[test]
fn a_grant_yielded_back_does_not_count() {
    let mut r = Run::default();
    r.start(1, 1).grant(0, 1, 2).grant(1, 1, 2);
    r.node_line(
        1,
        r#""event":"send","msg":"Yield","from":1,"to":0,"lamport":9,"req_ts":2,"req_node":1"#,
    );
    r.enter_only(1, 1, 2, &[0, 1]).exit(1, 1, 2);
    let report = r.check();
    assert_eq!(
        report.violations,
        ["node-1.log:5: node 1 entered the CS (entry 1, request (2, 1)) without a received Grant from node 0"],
        "{report}"
    );
    // Granted again after the yield: fine.
    let mut r = Run::default();
    r.start(1, 1).grant(0, 1, 2).grant(1, 1, 2);
    r.node_line(
        1,
        r#""event":"send","msg":"Yield","from":1,"to":0,"lamport":9,"req_ts":2,"req_node":1"#,
    );
    r.grant(0, 1, 2).enter_only(1, 1, 2, &[0, 1]).exit(1, 1, 2);
    let report = r.check();
    assert!(report.passed(), "{report}");
}

#[test]
fn grants_of_an_earlier_process_do_not_count() {
    let mut r = Run::default();
    r.start(1, 1).grant(0, 1, 2).grant(1, 1, 2);
    r.start(1, 2).enter_only(1, 1, 2, &[0, 1]);
    let report = r.check();
    assert_eq!(report.violations.len(), 1, "{report}");
    assert!(report.violations[0]
        .to_string()
        .contains("without a received Grant from nodes 0, 1"));
}

#[test]
fn killed_in_the_cs_then_restarted_passes() {
    let mut r = Run::default();
    r.start(0, 1).start(1, 4);
    r.enter(1, 1, 3, &[0, 1]);
    // kill -9 of node 1: no exit, no stop; its log lost the enter_cs line.
    r.nodes.get_mut(&1).unwrap().truncate(0);
    r.start(1, 5);
    r.enter(0, 1, 9, &[0, 1, 2]).exit(0, 1, 9);
    r.enter(1, 1, 11, &[0, 1]).exit(1, 1, 11).stop(1);
    // node 0 is killed in the CS at the very end.
    r.enter(0, 2, 14, &[0, 1, 2]);
    let report = r.check();
    assert!(report.passed(), "{report}");
    assert_eq!(report.starts, 3);
    assert_eq!(report.entries, 4);
}

#[test]
fn stopping_inside_the_cs_is_caught() {
    let mut r = Run::default();
    r.start(2, 1).enter(2, 1, 2, &[0, 2]).stop(2);
    let report = r.check();
    assert_eq!(report.violations.len(), 1, "{report}");
    assert!(
        report.violations[0].to_string().starts_with(
            "critical_section.log:2: node 2 still in the CS (entry 1) at the end of the log, but its process stopped normally (node-2.log:"
        ),
        "{report}"
    );
}

#[test]
fn bad_exits_numbering_and_incarnations_are_caught() {
    let mut r = Run::default();
    r.start(1, 3);
    r.exit(1, 1, 0);
    r.enter(1, 2, 4, &[0, 1]).exit(1, 1, 4);
    r.start(1, 3);
    let report = r.check();
    assert_eq!(
        report.violations,
        [
            "node-1.log:7: incarnation 3 starts after incarnation 3; incarnations must grow (was the journal deleted?)",
            "critical_section.log:2: node 1 exited entry 1 but is not in the CS",
            "critical_section.log:3: node 1 entry 2 where entry 1 was due; entries count 1, 2, 3, ... in each process",
            "critical_section.log:4: node 1 exited entry 1 but its open entry is 2 (line 3)",
            "critical_section.log:5: node 1 starts incarnation 3 after incarnation 3; incarnations must grow (was the journal deleted?)",
        ],
        "{report}"
    );
}

#[test]
fn node_log_and_cs_log_must_agree() {
    let mut r = clean();
    // node 2 claims an entry the CS log never saw, in a process that stopped normally.
    r.start(2, 2).enter(2, 1, 30, &[0, 2]);
    let cs_len = r.cs.lines().count();
    r.cs =
        r.cs.lines()
            .take(cs_len - 1)
            .map(|l| format!("{l}\n"))
            .collect();
    r.stop(2);
    let report = r.check();
    assert_eq!(report.violations.len(), 1, "{report}");
    assert!(
        report.violations[0].to_string().ends_with(
            "enter_cs entry 1 request (30, 2) has no enter line in critical_section.log (node 2, incarnation 2)"
        ),
        "{report}"
    );

    // ... and the other way round.
    let mut r = clean();
    let log = r.nodes.get_mut(&1).unwrap();
    *log = log
        .lines()
        .filter(|l| !l.contains("\"req_ts\":11,\"req_node\":1,\"votes\""))
        .map(|l| format!("{l}\n"))
        .collect();
    let report = r.check();
    assert_eq!(
        report.violations,
        ["critical_section.log:12: node 1 entry 2 request (11, 1) has no enter_cs line in node-1.log (incarnation 1)"],
        "{report}"
    );
}

#[test]
fn malformed_lines_name_file_and_line() {
    let mut r = clean();
    r.nodes
        .get_mut(&2)
        .unwrap()
        .insert_str(0, &format!("{{\"timestamp\":\"{T}\",\"level\":\"INFO\",\"node\":2,\"event\":\"recv\",\"msg\":\"Grant\",\"from\":0}}\n"));
    let dir = r.write();
    let msg = check(dir.path(), &config()).unwrap_err().to_string();
    assert!(
        msg.ends_with("node-2.log:1: recv event: field to is missing or not a non-negative integer; node logs must hold only lines written by `maekawa node`"),
        "{msg}"
    );

    let mut r = clean();
    r.cs.push_str("not json\n");
    let dir = r.write();
    let msg = check(dir.path(), &config()).unwrap_err().to_string();
    let last = r.cs.lines().count();
    assert!(
        msg.contains(&format!("critical_section.log:{last}: expected")),
        "{msg}"
    );
}

#[test]
fn a_missing_cs_log_is_an_error_and_node_logs_are_optional() {
    let dir = tempfile::tempdir().unwrap();
    let msg = check(dir.path(), &config()).unwrap_err().to_string();
    assert!(
        msg.ends_with(
            "critical_section.log: not found; is --log-dir the directory the nodes wrote to?"
        ),
        "{msg}"
    );
    let mut r = clean();
    r.nodes.clear();
    let report = r.check();
    assert!(report.passed(), "{report}");
    assert!(report.node_logs.is_empty());
}

/// `2025-01-01T00:00:00.<us>Z`: node-log times for the named-lock tests.
fn at(us: u64) -> String {
    format!("2025-01-01T00:00:00.{us:06}Z")
}

impl Run {
    /// Numbers the CS log's `enter` lines with fencing tokens from `first` on.
    fn with_tokens(&mut self, first: u64) -> &mut Self {
        let mut token = first;
        self.cs = self
            .cs
            .lines()
            .map(|l| {
                if l.starts_with(r#"{"event":"enter""#) {
                    token += 1;
                    format!(
                        "{},\"token\":{}}}\n",
                        l.strip_suffix('}').unwrap(),
                        token - 1
                    )
                } else {
                    format!("{l}\n")
                }
            })
            .collect();
        self
    }

    /// An `enter_cs` or `exit_cs` line of a named lock at `us` microseconds.
    fn named(
        &mut self,
        node: u32,
        event: &str,
        lock: &str,
        ts: u64,
        token: u64,
        us: u64,
    ) -> &mut Self {
        let log = self.nodes.entry(node).or_default();
        writeln!(
            log,
            r#"{{"timestamp":"{}","level":"INFO","node":{node},"event":"{event}","lock":"{lock}","req_ts":{ts},"req_node":{node},"votes":[0,1,2],"token":{token}}}"#,
            at(us)
        )
        .unwrap();
        self
    }

    /// The line number of the first line of node `node`'s log containing `text`.
    fn line_of(&self, node: u32, text: &str) -> usize {
        1 + self.nodes[&node]
            .lines()
            .position(|l| l.contains(text))
            .unwrap_or_else(|| panic!("{text} in node-{node}.log"))
    }
}

/// `clean()` with the traffic of two named locks interleaved: counter held by node 1 then
/// node 2, other by node 0 at the same time, plus messages and sessions of those locks.
fn with_named_locks() -> Run {
    let mut r = Run::default();
    r.start(0, 1).start(1, 1).start(2, 1);
    r.node_line(
        1,
        r#""event":"session_acquire","session":1,"lock":"counter","client":"c","timeout_ms":null"#,
    );
    r.node_line(
        1,
        r#""event":"recv","msg":"Grant","from":0,"to":1,"lamport":4,"req_ts":3,"req_node":1,"lock":"counter","token":0"#,
    );
    r.enter(0, 1, 2, &[0, 1, 2]).exit(0, 1, 2);
    r.named(1, "enter_cs", "counter", 3, 1, 10);
    r.named(0, "enter_cs", "other", 4, 1, 15);
    r.enter(1, 1, 3, &[0, 1]).exit(1, 1, 3);
    r.named(1, "exit_cs", "counter", 3, 1, 20);
    r.enter(2, 1, 5, &[0, 2]).exit(2, 1, 5);
    r.named(2, "enter_cs", "counter", 6, 2, 30);
    r.enter(0, 2, 9, &[0, 1, 2]).exit(0, 2, 9);
    r.named(2, "exit_cs", "counter", 6, 2, 40);
    r.named(0, "exit_cs", "other", 4, 1, 50);
    r.node_line(
        1,
        r#""event":"session_release","session":1,"lock":"counter","token":1,"explicit":true"#,
    );
    r.enter(1, 2, 11, &[0, 1]).exit(1, 2, 11);
    r.stop(0).stop(1).stop(2);
    r
}

#[test]
fn named_lock_lines_leave_the_cs_check_unchanged_and_are_checked() {
    let plain = clean().check();
    let report = with_named_locks().check();
    assert!(report.passed(), "{report}");
    assert_eq!(report.summary(), plain.summary());
    assert_eq!(
        (report.entries_per_node.clone(), report.starts),
        (plain.entries_per_node.clone(), plain.starts)
    );
    assert_eq!(
        report.named_locks.into_iter().collect::<Vec<_>>(),
        [
            (
                "counter".to_string(),
                LockStats {
                    entries: 2,
                    tokens: (1, 2)
                }
            ),
            (
                "other".to_string(),
                LockStats {
                    entries: 1,
                    tokens: (1, 1)
                }
            )
        ]
    );
    let text = with_named_locks().check().to_string();
    assert_eq!(
        text.lines().skip(1).collect::<Vec<_>>(),
        [
            "  fencing tokens of cs: none in critical_section.log (a run from before fencing tokens, or no entry): not checked",
            "  named locks: 3 entries of 2 named locks checked, no overlap, tokens increasing: counter (2 entries, tokens 1..=2), other (1 entry, tokens 1..=1)",
        ]
    );
    assert_eq!(
        plain.to_string().lines().nth(2),
        Some("  named locks: none in the node logs")
    );
}

#[test]
fn swapped_named_lock_tokens_are_caught() {
    let mut r = with_named_locks();
    for (node, from, to) in [(1, 1, 2), (2, 2, 1)] {
        let log = r.nodes.get_mut(&node).unwrap();
        *log = log.replace(
            &format!(r#""lock":"counter","req_ts":{},"req_node":{node},"votes":[0,1,2],"token":{from}}}"#, if node == 1 { 3 } else { 6 }),
            &format!(r#""lock":"counter","req_ts":{},"req_node":{node},"votes":[0,1,2],"token":{to}}}"#, if node == 1 { 3 } else { 6 }),
        );
    }
    let first = r.line_of(1, r#""event":"enter_cs","lock":"counter""#);
    let second = r.line_of(2, r#""event":"enter_cs","lock":"counter""#);
    let report = r.check();
    assert_eq!(
        report.violations,
        [format!("node-2.log:{second}: lock \"counter\" token 1 is not larger than token 2 of the earlier entry at node-1.log:{first}; fencing tokens must increase")],
        "{report}"
    );
    assert_eq!(
        report.summary(),
        "check FAILED: 1 violation in 5 CS entries and 3 entries of 2 named locks"
    );
}

#[test]
fn overlapping_entries_of_a_named_lock_are_caught() {
    let mut r = Run::default();
    r.start(0, 1).start(1, 1).start(2, 1);
    r.named(1, "enter_cs", "counter", 3, 1, 10);
    r.named(2, "enter_cs", "counter", 4, 2, 15);
    r.named(1, "exit_cs", "counter", 3, 1, 20);
    r.named(2, "exit_cs", "counter", 4, 2, 30);
    // Another lock at the same time is fine.
    r.named(0, "enter_cs", "other", 5, 1, 12);
    r.named(0, "exit_cs", "other", 5, 1, 25);
    let report = r.check();
    assert_eq!(
        report.violations,
        ["node-2.log:2: node 2 entered lock \"counter\" (token 2) while node 1 held it since node-1.log:2 until its exit_cs at node-1.log:3"],
        "{report}"
    );
}

#[test]
fn a_killed_holder_of_a_named_lock_holds_it_until_its_restart() {
    let mut r = Run::default();
    r.start(1, 1).start(2, 1);
    r.named(1, "enter_cs", "counter", 3, 1, 10);
    // kill -9 of node 1 inside; node 2 enters after node 1's restart.
    r.start(1, 2);
    let log = r.nodes.get_mut(&1).unwrap();
    *log = log.replace(
        r#"{"timestamp":"2025-01-01T00:00:00.000000Z","level":"INFO","node":1,"event":"start","incarnation":2}"#,
        &format!(
            r#"{{"timestamp":"{}","level":"INFO","node":1,"event":"start","incarnation":2}}"#,
            at(20)
        ),
    );
    r.named(2, "enter_cs", "counter", 9, 2, 30);
    r.named(2, "exit_cs", "counter", 9, 2, 40);
    let report = r.check();
    assert!(report.passed(), "{report}");
    assert_eq!(report.named_locks["counter"].entries, 2);

    // Never restarted: node 2 cannot have entered.
    let mut r = Run::default();
    r.start(1, 1).start(2, 1);
    r.named(1, "enter_cs", "counter", 3, 1, 10);
    r.named(2, "enter_cs", "counter", 9, 2, 30);
    let report = r.check();
    assert_eq!(
        report.violations,
        ["node-2.log:2: node 2 entered lock \"counter\" (token 2) while node 1 held it since node-1.log:2 until the end of node-1.log (never left)"],
        "{report}"
    );
}

/// A killed holder of a named lock whose voter reclaimed its vote (its lease had run out)
/// holds it until the reclaim, not until its restart: found by `maekawa simd`, where a holder
/// killed for longer than a reclaim period was reported overlapping the next one.
#[test]
fn a_killed_holder_of_a_named_lock_holds_it_until_its_vote_is_reclaimed() {
    let run_with = |reclaim_us: Option<u64>, alive_us: Option<u64>| {
        let mut r = Run::default();
        r.start(0, 1).start(1, 1).start(2, 1);
        r.named(1, "enter_cs", "counter", 3, 1, 10);
        if let Some(us) = alive_us {
            let log = r.nodes.get_mut(&1).unwrap();
            writeln!(
                log,
                r#"{{"timestamp":"{}","level":"INFO","node":1,"event":"peer_up","peer":0}}"#,
                at(us)
            )
            .unwrap();
        }
        if let Some(us) = reclaim_us {
            let log = r.nodes.entry(0).or_default();
            writeln!(
                log,
                r#"{{"timestamp":"{}","level":"INFO","node":0,"event":"revote","what":"reclaimed","req_ts":3,"req_node":1,"req_inc":1,"lock":"counter","why":"the suspected holder's lease ran out"}}"#,
                at(us)
            )
            .unwrap();
        }
        r.named(2, "enter_cs", "counter", 9, 2, 30);
        r.named(2, "exit_cs", "counter", 9, 2, 40);
        // kill -9 of node 1 inside; its restart comes after node 2's entry.
        let log = r.nodes.get_mut(&1).unwrap();
        writeln!(
            log,
            r#"{{"timestamp":"{}","level":"INFO","node":1,"event":"start","incarnation":2}}"#,
            at(50)
        )
        .unwrap();
        r.check()
    };
    let run = |reclaim_us| run_with(reclaim_us, None);
    let report = run(Some(20));
    assert!(report.passed(), "{report}");
    // A holder that still wrote a line after the reclaim was alive then: it held the lock
    // until its restart (a correct one would have written that its lease ran out).
    let report = run_with(Some(20), Some(25));
    assert_eq!(report.violations.len(), 1, "{report}");
    assert!(
        report.violations[0]
            .to_string()
            .contains("until its process was killed (restart at node-1.log:4)"),
        "{report}"
    );
    // Without the reclaim, node 1 held it until its restart.
    let report = run(None);
    assert_eq!(
        report.violations,
        ["node-2.log:2: node 2 entered lock \"counter\" (token 2) while node 1 held it since node-1.log:2 until its process was killed (restart at node-1.log:3)"],
        "{report}"
    );
    // With a reclaim only after node 2 entered, until that reclaim.
    let report = run(Some(35));
    assert_eq!(
        report.violations,
        ["node-2.log:2: node 2 entered lock \"counter\" (token 2) while node 1 held it since node-1.log:2 until its lease ran out (line 2)"],
        "{report}"
    );
}

#[test]
fn cs_tokens_must_increase_and_logs_without_them_pass() {
    let mut r = clean();
    r.with_tokens(7);
    let report = r.check();
    assert!(report.passed(), "{report}");
    assert_eq!(
        (report.cs_tokens, report.cs_token_range),
        (5, Some((7, 11)))
    );
    assert_eq!(
        report.to_string().lines().nth(1),
        Some("  fencing tokens of cs: 5 entries, tokens 7..=11, increasing")
    );

    // Tokens of the 2nd and 3rd entries (lines 6 and 8) swapped.
    let mut r = clean();
    r.with_tokens(7);
    r.cs =
        r.cs.replace(r#""token":8}"#, r#""token":X}"#)
            .replace(r#""token":9}"#, r#""token":8}"#)
            .replace(r#""token":X}"#, r#""token":9}"#);
    let report = r.check();
    assert_eq!(
        report.violations,
        ["critical_section.log:8: node 2 entered (entry 1) with token 8, not larger than token 9 at line 6; fencing tokens must increase"],
        "{report}"
    );

    // A node log's enter_cs token must be the CS log's.
    let mut r = clean();
    r.with_tokens(1);
    let log = r.nodes.get_mut(&2).unwrap();
    *log = log.replace(r#""votes":[0,2]}"#, r#""votes":[0,2],"token":4}"#);
    let line = r.line_of(2, r#""token":4"#);
    let report = r.check();
    assert_eq!(
        report.violations,
        [format!("node-2.log:{line}: enter_cs entry 1 token 4 does not match critical_section.log:8: token 3 (node 2, incarnation 1)")],
        "{report}"
    );
}

#[test]
fn many_violations_are_cut_at_twenty() {
    let mut r = Run::default();
    r.start(0, 1);
    for e in 1..=25 {
        r.exit(0, e, 0);
    }
    let text = r.check().to_string();
    assert_eq!(text.lines().count(), 1 + SHOWN_VIOLATIONS + 1, "{text}");
    assert!(text.starts_with("check FAILED: 25 violations in 0 CS entries\n"));
    assert!(text.ends_with("\n  ... and 5 more"));
}
