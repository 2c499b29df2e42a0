use crate::logs::report::test_logs::{
    enter, holder_and_waiter, in_order, md_rows, msg, request, row, sel, start, write_log,
    HolderEnd,
};
use crate::logs::report::{entry_report, Format};
use std::path::Path;

/// Node 1 (votes {0, 1}) enters with request (5, 1). Node 0's clock runs behind: its recv of
/// the Request is stamped before node 1's send. Node 1 handles voter 0's Grant (lamport 7)
/// after its own (lamport 8). Voter 0's Inquire is sent (by timestamp) before the entry but
/// received after it, and the Release follows the entry: both are left out.
fn two_nodes(dir: &Path) {
    let r = (5, 1, 1);
    write_log(
        dir,
        0,
        &[
            (1, start(1)),
            (100, msg("recv", "Request", 1, 0, 6, r)),
            (101, msg("send", "Grant", 0, 1, 7, r)),
            (150, msg("send", "Inquire", 0, 1, 9, r)),
            (400, msg("recv", "Release", 1, 0, 12, r)),
        ],
    );
    write_log(
        dir,
        1,
        &[
            (2, start(1)),
            (200, request(5, 1)),
            (201, msg("send", "Request", 1, 0, 6, r)),
            (202, msg("send", "Request", 1, 1, 7, r)),
            (203, msg("recv", "Request", 1, 1, 7, r)),
            (204, msg("send", "Grant", 1, 1, 8, r)),
            (205, msg("recv", "Grant", 1, 1, 8, r)),
            (206, msg("recv", "Grant", 0, 1, 7, r)),
            (207, enter(1, 5, 1, "[0,1]", 0.007)),
            (300, msg("recv", "Inquire", 0, 1, 9, r)),
            (301, msg("send", "Release", 1, 0, 12, r)),
        ],
    );
}

#[test]
fn a_send_comes_before_its_recv_and_each_node_keeps_its_own_order() {
    let dir = tempfile::tempdir().unwrap();
    two_nodes(dir.path());
    let md = entry_report(dir.path(), &sel(1, 1, None), Format::Markdown).unwrap();
    assert_eq!(
        md_rows(&md),
        [
            row(1, "request_cs", "", ""),
            row(1, "send", "Request", "1 → 0"),
            // Same lamport as the send, lower node id, earlier timestamp: still after it.
            row(0, "recv", "Request", "1 → 0"),
            row(0, "send", "Grant", "0 → 1"),
            row(1, "send", "Request", "1 → 1"),
            row(1, "recv", "Request", "1 → 1"),
            row(1, "send", "Grant", "1 → 1"),
            row(1, "recv", "Grant", "1 → 1"),
            // Lamport 7 < 8, but node 1 handled it last.
            row(1, "recv", "Grant", "0 → 1"),
            row(1, "enter_cs", "", ""),
        ],
        "{md}"
    );
    assert!(
        md.starts_with(
            "**node 1, entry 1 (incarnation 1): request (5, 1), votes 0, 1, waited 0.007 ms; \
                 4 messages (2 network, 2 to itself); detours: none**\n\n"
        ),
        "{md}"
    );

    let mermaid = entry_report(dir.path(), &sel(1, 1, None), Format::Mermaid).unwrap();
    assert_eq!(
        mermaid,
        "sequenceDiagram
    participant N0
    participant N1
    Note over N1: wants the CS, request (5,1)
    N1->>N0: Request (5,1) L6
    N0->>N1: Grant (5,1) L7
    N1->>N1: Request (5,1) L7
    N1->>N1: Grant (5,1) L8
    Note over N1: enters the CS, entry 1, votes 0, 1, waited 0.007 ms
"
    );

    let text = entry_report(dir.path(), &sel(1, 1, None), Format::Text).unwrap();
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines.len(), 12, "{text}");
    assert_eq!(
        lines[1],
        " #  time             node  event       msg      from → to  lamport  note"
    );
    assert_eq!(
            lines[3],
            " 2  07:00:00.000201     1  send        Request  1 → 0            6  node 1 asks voter 0 for its vote"
        );
    assert!(
        lines[11].starts_with("10  07:00:00.000207     1  enter_cs"),
        "{text}"
    );
}

#[test]
fn detours_are_named_and_votes_counted_back() {
    let dir = tempfile::tempdir().unwrap();
    let r = (3, 1, 1);
    write_log(
        dir.path(),
        0,
        &in_order(vec![
            start(1),
            msg("recv", "Request", 1, 0, 4, r),
            msg("send", "Grant", 0, 1, 5, r),
            msg("send", "Inquire", 0, 1, 8, r),
            msg("recv", "Yield", 1, 0, 10, r),
            msg("send", "Grant", 0, 1, 14, r),
        ]),
    );
    write_log(
        dir.path(),
        1,
        &in_order(vec![
            start(1),
            request(3, 1),
            msg("send", "Request", 1, 0, 4, r),
            msg("recv", "Grant", 0, 1, 5, r),
            // Its send is missing: as if node 1's log lost it.
            msg("recv", "Failed", 2, 1, 9, r),
            msg("recv", "Inquire", 0, 1, 8, r),
            msg("send", "Yield", 1, 0, 10, r),
            msg("recv", "Grant", 0, 1, 14, r),
            enter(1, 3, 1, "[0,1]", 2.5),
        ]),
    );
    let text = entry_report(dir.path(), &sel(1, 1, None), Format::Text).unwrap();
    let head = text.lines().next().unwrap();
    assert!(
            head.ends_with(
                "6 messages (6 network, 0 to itself); detours: Inquire 0 → 1, Failed 2 → 1, Yield 1 → 0"
            ),
            "{text}"
        );
    for expected in [
        "vote of voter 0: 1 of 2 held",
        "detour: voter 0 inquires node 1",
        "detour: node 1 yields voter 0's vote (0 of 2 held)",
        "detour: node 1 learns voter 2 said no for now (its send is not in node-2.log)",
    ] {
        assert!(text.contains(expected), "{expected:?} in {text}");
    }
    let md = entry_report(dir.path(), &sel(1, 1, None), Format::Markdown).unwrap();
    assert!(md.contains("| **Yield** | 1 → 0 |"), "{md}");
    let mermaid = entry_report(dir.path(), &sel(1, 1, None), Format::Mermaid).unwrap();
    for expected in [
        "    participant N2\n",
        "    N0-->>N1: Inquire (3,1) L8\n",
        "    N1-->>N0: Yield (3,1) L10\n",
        "    Note over N1: received Failed (3,1) L9 from N2, whose send is not in its log\n",
    ] {
        assert!(mermaid.contains(expected), "{expected:?} in {mermaid}");
    }
}

/// Issue 12, item 3: node 2 got in because node 1 was killed inside the CS, restarted, and
/// voter 0 freed the dead incarnation's vote. Those lines are about node 1's request, not
/// node 2's, yet they are why node 2 entered: the story shows them, in causal order.
#[test]
fn an_entry_after_a_kill_shows_the_kill_the_restart_and_the_revote() {
    let dir = tempfile::tempdir().unwrap();
    holder_and_waiter(dir.path(), HolderEnd::Killed);
    let md = entry_report(dir.path(), &sel(2, 1, None), Format::Markdown).unwrap();
    let rows = md_rows(&md);
    // The kill is placed by its time (node 1's last line, before node 2 asked); the rest by
    // their times too, after voter 0's FAILED and before its GRANT.
    let context = [
        row(1, "(killed)", "", ""),
        row(2, "recv", "Failed", "0 → 2"),
        row(0, "peer_down", "", ""),
        row(1, "start", "", ""),
        row(0, "peer_incarnation", "", ""),
        row(0, "revote", "freed", ""),
        row(0, "send", "Grant", "0 → 2"),
        row(2, "recv", "Grant", "0 → 2"),
        row(2, "enter_cs", "", ""),
    ];
    let at: Vec<usize> = context
        .iter()
        .map(|r| {
            rows.iter()
                .position(|x| x == r)
                .unwrap_or_else(|| panic!("{r:?} in {md}"))
        })
        .collect();
    assert!(at.windows(2).all(|w| w[0] < w[1]), "{at:?} in {md}");
    assert_eq!(at[0], 0, "{md}");
    assert_eq!(rows[1], row(2, "request_cs", "", ""), "{md}");
    assert_eq!(*at.last().unwrap(), rows.len() - 1, "{md}");
    for expected in [
            "restarts during the wait: node 1 (after a kill)",
            "node 1's process (incarnation 1) was killed inside the CS (entry 1) after its last line (enter_cs, at this time): no exit_cs, no stop",
            "node 1 starts again as incarnation 2 after a kill: re-voting follows",
            "voter 0 hears node 1 is now incarnation 2",
            "re-vote at voter 0: freed node 1's request (3, 1) of incarnation 1 (vote held by a dead incarnation)",
        ] {
            assert!(md.contains(expected), "{expected:?} in {md}");
        }
    // The kill row has the time of the dead process's last line.
    assert!(md.contains("| 07:00:00.000203 | 1 | (killed) |"), "{md}");
    // Node 2's own peer_down / peer_incarnation about node 1 changed nothing: left out.
    assert_eq!(
        rows.iter().filter(|r| r.1 == "peer_down").count(),
        1,
        "{md}"
    );
    let mermaid = entry_report(dir.path(), &sel(2, 1, None), Format::Mermaid).unwrap();
    for expected in [
            "    participant N1\n",
            "    Note over N1: incarnation 1 killed (no stop line)\n    Note over N2: wants the CS, request (4,2)\n",
            "    N0-->>N2: Failed (4,2) L8\n    Note over N0: link to N1 down\n    Note over N1: starts again as incarnation 2\n    Note over N0: hears N1 is incarnation 2\n    Note over N0: re-vote, freed (3,1) of incarnation 1\n    N0->>N2: Grant (4,2) L9\n",
        ] {
            assert!(mermaid.contains(expected), "{expected:?} in {mermaid}");
        }
}

/// Issue 12, item 3: the killed entry's own report says its process died inside the CS.
#[test]
fn the_killed_entry_says_its_process_died_inside_the_cs() {
    let dir = tempfile::tempdir().unwrap();
    holder_and_waiter(dir.path(), HolderEnd::Killed);
    let text = entry_report(dir.path(), &sel(1, 1, None), Format::Text).unwrap();
    let head = text.lines().next().unwrap();
    assert!(
            head.ends_with(
                "detours: none; its process died inside the CS (no exit_cs, no stop: killed), and node 1 started again at 07:00:00.000499"
            ),
            "{text}"
        );
    let md = entry_report(dir.path(), &sel(1, 1, None), Format::Markdown).unwrap();
    let rows = md_rows(&md);
    assert_eq!(
        rows[rows.len() - 3..],
        [
            row(1, "enter_cs", "", ""),
            row(1, "(killed)", "", ""),
            row(1, "start", "", ""),
        ],
        "{md}"
    );
    assert!(
        md.contains(
            "node 1 starts again as incarnation 2 after a kill: this ends its CS (entry 1)"
        ),
        "{md}"
    );

    // The node log lost its exit_cs, but the CS log saw the exit: no death in the CS.
    std::fs::write(
            dir.path().join("critical_section.log"),
            concat!(
                r#"{"event":"start","node":1,"incarnation":1,"time":"2026-11-24T07:00:00.000101Z"}"#,
                "\n",
                r#"{"event":"enter","node":1,"entry":1,"request":{"ts":3,"node":1},"votes":[0,1],"time":"2026-11-24T07:00:00.000203Z"}"#,
                "\n",
                r#"{"event":"exit","node":1,"entry":1,"time":"2026-11-24T07:00:00.000300Z"}"#,
                "\n",
                r#"{"event":"start","node":1,"incarnation":2,"time":"2026-11-24T07:00:00.000499Z"}"#,
                "\n",
            ),
        )
        .unwrap();
    let text = entry_report(dir.path(), &sel(1, 1, None), Format::Text).unwrap();
    assert!(!text.contains("died inside"), "{text}");
    assert!(
        text.trim_end().lines().last().unwrap().contains("enter_cs"),
        "{text}"
    );
}

/// Issue 12, item 4: a clean stop and start is no kill: the entry left the CS, and a
/// restart in a story says "after a clean stop", with the `stop` line.
#[test]
fn a_clean_stop_is_not_told_as_a_kill() {
    let dir = tempfile::tempdir().unwrap();
    holder_and_waiter(dir.path(), HolderEnd::Stopped);
    let text = entry_report(dir.path(), &sel(1, 1, None), Format::Text).unwrap();
    assert!(!text.contains("killed") && !text.contains("died"), "{text}");
    assert!(
        text.trim_end().lines().last().unwrap().contains("enter_cs"),
        "{text}"
    );

    // Node 0 stands for a voter that re-voted after node 1's clean restart.
    let r1 = (3, 1, 1);
    let r2 = (4, 2, 1);
    write_log(
        dir.path(),
        0,
        &[
            (100, start(1)),
            (300, msg("recv", "Request", 2, 0, 5, r2)),
            (301, msg("send", "Failed", 0, 2, 8, r2)),
            (500, crate::logs::report::test_logs::peer_incarnation(1, 2)),
            (
                501,
                crate::logs::report::test_logs::revote(
                    "freed",
                    r1,
                    "vote held by a dead incarnation",
                ),
            ),
            (502, msg("send", "Grant", 0, 2, 11, r2)),
        ],
    );
    let md = entry_report(dir.path(), &sel(2, 1, None), Format::Markdown).unwrap();
    assert!(
        md.contains("restarts during the wait: node 1 (after a clean stop)"),
        "{md}"
    );
    assert!(
        md.contains("node 1's process (incarnation 1) stops cleanly"),
        "{md}"
    );
    assert!(
        md.contains("node 1 starts again as incarnation 2 after a clean stop"),
        "{md}"
    );
    assert!(
        !md.contains("(killed)") && !md.contains("after a kill"),
        "{md}"
    );
}
