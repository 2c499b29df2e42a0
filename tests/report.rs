//! `maekawa report` on the logs of a real 3-node run: every entry's story is checked against
//! counts taken straight from the raw node logs (serde_json, not the report's own reader).
//!
//! One run serves every check (starting daemons is the slow part); each check is its own
//! function and names itself in its failure messages.

mod common;

use common::{read_json_lines, Cluster};
use maekawa::logs::report::{entry_report, summary_report, EntrySelector, Format};
use serde_json::Value;
use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;
use std::time::Duration;

/// The 3-node grid (ids 0 1 / 2): each node's row plus its column.
fn quorum(node: u64) -> BTreeSet<u64> {
    match node {
        0 => BTreeSet::from([0, 1, 2]),
        1 => BTreeSet::from([0, 1]),
        2 => BTreeSet::from([0, 2]),
        _ => unreachable!("a 3-node run"),
    }
}

/// One `enter_cs` of the raw logs.
#[derive(Debug, Clone)]
struct Entry {
    node: u64,
    inc: u64,
    entry: u64,
    /// Index of the `enter_cs` line in its node log.
    at: usize,
    req: (u64, u64, u64),
}

/// The raw node logs, by node id.
struct Raw {
    logs: BTreeMap<u64, Vec<Value>>,
}

impl Raw {
    fn read(dir: &Path) -> Raw {
        let logs = (0..3)
            .map(|n| (n, read_json_lines(&dir.join(format!("node-{n}.log")))))
            .collect();
        Raw { logs }
    }

    fn entries(&self) -> Vec<Entry> {
        let mut out = Vec::new();
        for (&node, lines) in &self.logs {
            let mut inc = 0;
            for (at, l) in lines.iter().enumerate() {
                match l["event"].as_str() {
                    Some("start") => inc = l["incarnation"].as_u64().unwrap(),
                    Some("enter_cs") => out.push(Entry {
                        node,
                        inc,
                        entry: l["entry"].as_u64().unwrap(),
                        at,
                        req: (l["req_ts"].as_u64().unwrap(), node, inc),
                    }),
                    _ => {}
                }
            }
        }
        out
    }

    /// The send/recv lines about `e`'s request that led to it, found the simple way a 3-node
    /// grid allows (only the requester talks to its voters about its request): the requester's
    /// lines before its `enter_cs`, and each other node's lines up to its last send that the
    /// requester received before entering.
    fn story(&self, e: &Entry) -> Vec<Value> {
        let about = |l: &Value| {
            matches!(l["event"].as_str(), Some("send" | "recv"))
                && (
                    l["req_ts"].as_u64().unwrap(),
                    l["req_node"].as_u64().unwrap(),
                    l["req_inc"].as_u64().unwrap(),
                ) == e.req
        };
        let mine: Vec<Value> = self.logs[&e.node][..e.at]
            .iter()
            .filter(|l| about(l))
            .cloned()
            .collect();
        let key = |l: &Value| {
            (
                l["msg"].as_str().unwrap().to_string(),
                l["from"].as_u64().unwrap(),
                l["to"].as_u64().unwrap(),
                l["lamport"].as_u64().unwrap(),
            )
        };
        let received: BTreeSet<_> = mine
            .iter()
            .filter(|l| l["event"] == "recv")
            .map(key)
            .collect();
        let mut story = mine.clone();
        for (&node, lines) in &self.logs {
            if node == e.node {
                continue;
            }
            let lines: Vec<&Value> = lines.iter().filter(|l| about(l)).collect();
            let end = lines
                .iter()
                .rposition(|l| l["event"] == "send" && received.contains(&key(l)))
                .map_or(0, |i| i + 1);
            story.extend(lines[..end].iter().map(|l| (*l).clone()));
        }
        story
    }
}

/// Cells of a Markdown table row, split at unescaped `|`, trimmed, bold marks removed.
fn cells(row: &str) -> Vec<String> {
    assert!(
        row.starts_with("| ") && row.ends_with(" |"),
        "not a table row: {row}"
    );
    let inner = &row[1..row.len() - 1];
    let mut out = vec![String::new()];
    let mut chars = inner.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '\\' if chars.peek() == Some(&'|') => {
                out.last_mut().unwrap().push('|');
                chars.next();
            }
            '|' => out.push(String::new()),
            c => out.last_mut().unwrap().push(c),
        }
    }
    out.iter()
        .map(|c| c.trim().trim_matches('*').to_string())
        .collect()
}

/// The rows of the one table in `md`, by header name; checks every row has the header's cells.
fn table(md: &str) -> Vec<TableRow> {
    let rows: Vec<&str> = md.lines().filter(|l| l.starts_with('|')).collect();
    assert!(rows.len() >= 2, "no table in:\n{md}");
    let header = cells(rows[0]);
    assert!(
        rows[1].chars().all(|c| matches!(c, '|' | '-' | ':')),
        "second row is not the alignment row: {}",
        rows[1]
    );
    assert_eq!(
        rows[1].matches('|').count(),
        header.len() + 1,
        "alignment row: {}",
        rows[1]
    );
    rows[2..]
        .iter()
        .map(|r| {
            let c = cells(r);
            assert_eq!(c.len(), header.len(), "row {r} has {} cells", c.len());
            header.iter().cloned().zip(c).collect()
        })
        .collect()
}

#[test]
fn reports_on_a_real_three_node_run() {
    let mut cluster = Cluster::start(3, &["--think-ms", "0..10", "--hold-ms", "0..2"]);
    common::wait_for(
        "every node to enter the CS 20 times",
        Duration::from_secs(60),
        || cluster.entries(3).iter().all(|&n| n >= 20),
    );
    let statuses = cluster.stop_all();
    assert!(
        statuses.iter().all(|s| s.success()),
        "nodes did not stop cleanly: {statuses:?}"
    );
    let dir = cluster.log_dir.clone();
    let raw = Raw::read(&dir);
    let entries = raw.entries();
    assert!(entries.len() >= 60, "{} entries", entries.len());

    every_entry_holds_its_quorum_and_ends_at_the_entry(&dir, &entries);
    an_entry_without_yield_has_exactly_one_grant_per_voter(&dir, &raw, &entries);
    markdown_has_one_row_per_message_line(&dir, &raw, &entries);
    mermaid_has_one_arrow_per_send(&dir, &raw, &entries);
    the_summary_matches_the_raw_counts(&dir, &raw, &cluster.entries(3));
}

fn sel(e: &Entry) -> EntrySelector {
    EntrySelector {
        node: e.node as u32,
        entry: e.entry,
        incarnation: Some(e.inc),
    }
}

/// (event, msg, from, to) of a message row.
type MsgRow = (String, String, u64, u64);

/// A table row by header name.
type TableRow = BTreeMap<String, String>;

/// The message rows of an entry's Markdown table, and all its rows.
fn message_rows(md: &str) -> (Vec<MsgRow>, Vec<TableRow>) {
    let rows = table(md);
    let msgs = rows
        .iter()
        .filter(|r| r["event"] == "send" || r["event"] == "recv")
        .map(|r| {
            let (from, to) = r["from → to"].split_once(" → ").expect("from → to");
            (
                r["event"].clone(),
                r["msg"].clone(),
                from.parse().unwrap(),
                to.parse().unwrap(),
            )
        })
        .collect();
    (msgs, rows)
}

/// For every entry: counting each voter's received Grants minus the Yields the requester sent
/// it back, every quorum member holds exactly one vote, nobody else does, and the story ends at
/// the entry.
fn every_entry_holds_its_quorum_and_ends_at_the_entry(dir: &Path, entries: &[Entry]) {
    for e in entries {
        let md = entry_report(dir, &sel(e), Format::Markdown).unwrap();
        let (msgs, rows) = message_rows(&md);
        let mut held: BTreeMap<u64, i64> = BTreeMap::new();
        for (event, msg, from, to) in &msgs {
            match (event.as_str(), msg.as_str()) {
                ("recv", "Grant") if *to == e.node => *held.entry(*from).or_default() += 1,
                ("send", "Yield") if *from == e.node => *held.entry(*to).or_default() -= 1,
                _ => {}
            }
        }
        let holders: BTreeSet<u64> = held
            .iter()
            .filter(|(_, &n)| n == 1)
            .map(|(&v, _)| v)
            .collect();
        assert!(
            held.values().all(|&n| n == 0 || n == 1),
            "node {} entry {}: votes held {held:?}\n{md}",
            e.node,
            e.entry
        );
        assert_eq!(
            holders,
            quorum(e.node),
            "node {} entry {}\n{md}",
            e.node,
            e.entry
        );
        let last = rows.last().unwrap();
        assert_eq!(
            last["event"], "enter_cs",
            "node {} entry {}\n{md}",
            e.node, e.entry
        );
        assert_eq!(last["node"], e.node.to_string());
        assert_eq!(
            rows[0]["event"], "request_cs",
            "node {} entry {}\n{md}",
            e.node, e.entry
        );
        let text = entry_report(dir, &sel(e), Format::Text).unwrap();
        assert!(
            text.trim_end()
                .lines()
                .last()
                .unwrap()
                .contains("  enter_cs  "),
            "text report of node {} entry {} does not end at the entry:\n{text}",
            e.node,
            e.entry
        );
    }
}

/// The check on a chosen entry: one with no Yield (so no vote was given back and
/// granted again), preferring one with a network Failed or Inquire detour.
fn an_entry_without_yield_has_exactly_one_grant_per_voter(
    dir: &Path,
    raw: &Raw,
    entries: &[Entry],
) {
    let has = |e: &Entry, m: &str| raw.story(e).iter().any(|l| l["msg"] == m);
    let chosen = entries
        .iter()
        .filter(|e| !has(e, "Yield"))
        .max_by_key(|e| (has(e, "Failed") || has(e, "Inquire"), e.node == 0))
        .expect("an entry without Yield");
    // The default incarnation is the only one here.
    let default = EntrySelector {
        incarnation: None,
        ..sel(chosen)
    };
    let md = entry_report(dir, &default, Format::Markdown).unwrap();
    assert_eq!(
        md,
        entry_report(dir, &sel(chosen), Format::Markdown).unwrap()
    );
    let (msgs, _) = message_rows(&md);
    let mut grants: BTreeMap<u64, usize> = BTreeMap::new();
    for (event, msg, from, to) in &msgs {
        if event == "recv" && msg == "Grant" && *to == chosen.node {
            *grants.entry(*from).or_default() += 1;
        }
    }
    let expected: BTreeMap<u64, usize> = quorum(chosen.node).into_iter().map(|v| (v, 1)).collect();
    assert_eq!(
        grants, expected,
        "node {} entry {}\n{md}",
        chosen.node, chosen.entry
    );
}

/// Every row of the table has the header's cells, and its message rows are exactly the
/// send/recv lines about the request up to the entry, counted from the raw logs.
fn markdown_has_one_row_per_message_line(dir: &Path, raw: &Raw, entries: &[Entry]) {
    for e in entries {
        let md = entry_report(dir, &sel(e), Format::Markdown).unwrap();
        let (msgs, _) = message_rows(&md);
        let mut ours: Vec<_> = msgs;
        let mut theirs: Vec<MsgRow> = raw
            .story(e)
            .iter()
            .map(|l| {
                (
                    l["event"].as_str().unwrap().to_string(),
                    l["msg"].as_str().unwrap().to_string(),
                    l["from"].as_u64().unwrap(),
                    l["to"].as_u64().unwrap(),
                )
            })
            .collect();
        ours.sort();
        theirs.sort();
        assert_eq!(ours, theirs, "node {} entry {}\n{md}", e.node, e.entry);
    }
}

/// Starts with `sequenceDiagram`, names every node involved, one arrow per send line.
fn mermaid_has_one_arrow_per_send(dir: &Path, raw: &Raw, entries: &[Entry]) {
    for e in entries {
        let mermaid = entry_report(dir, &sel(e), Format::Mermaid).unwrap();
        let lines: Vec<&str> = mermaid.lines().collect();
        assert_eq!(lines[0], "sequenceDiagram");
        let story = raw.story(e);
        let mut sends: Vec<String> = story
            .iter()
            .filter(|l| l["event"] == "send")
            .map(|l| {
                format!(
                    "N{}->N{} {}",
                    l["from"],
                    l["to"],
                    l["msg"].as_str().unwrap()
                )
            })
            .collect();
        let mut arrows: Vec<String> = lines
            .iter()
            .filter_map(|l| {
                let l = l.trim();
                let (head, text) = l.split_once(": ")?;
                let (from, to) = head.split_once("-->>").or_else(|| head.split_once("->>"))?;
                Some(format!("{from}->{to} {}", text.split(' ').next().unwrap()))
            })
            .collect();
        sends.sort();
        arrows.sort();
        assert_eq!(
            arrows, sends,
            "node {} entry {}\n{mermaid}",
            e.node, e.entry
        );
        let involved: BTreeSet<String> = story
            .iter()
            .flat_map(|l| [l["from"].to_string(), l["to"].to_string()])
            .collect();
        for n in involved {
            assert!(
                lines.contains(&format!("    participant N{n}").as_str()),
                "N{n} missing:\n{mermaid}"
            );
        }
        assert!(
            lines.last().unwrap().contains("Note over N")
                && lines.last().unwrap().contains("enters the CS"),
            "{mermaid}"
        );
    }
}

/// Entries per node, network messages by type per node and in all, from the raw logs.
fn the_summary_matches_the_raw_counts(dir: &Path, raw: &Raw, cs_entries: &[usize]) {
    let md = summary_report(dir, Format::Markdown).unwrap();
    let rows = table(&md);
    let by_node: BTreeMap<String, &TableRow> =
        rows.iter().map(|r| (r["node"].clone(), r)).collect();
    assert_eq!(
        by_node.keys().cloned().collect::<Vec<_>>(),
        ["0", "1", "2", "all"]
    );
    let mut total: BTreeMap<String, u64> = BTreeMap::new();
    for (&node, lines) in &raw.logs {
        let row = by_node[&node.to_string()];
        let entries = lines.iter().filter(|l| l["event"] == "enter_cs").count();
        assert_eq!(row["entries"], entries.to_string(), "node {node}\n{md}");
        assert_eq!(
            entries, cs_entries[node as usize],
            "node log vs CS log, node {node}"
        );
        let mut sent: BTreeMap<String, u64> = BTreeMap::new();
        let mut to_itself = 0;
        for l in lines.iter().filter(|l| l["event"] == "send") {
            if l["from"] == l["to"] {
                to_itself += 1;
            } else {
                *sent
                    .entry(l["msg"].as_str().unwrap().to_string())
                    .or_default() += 1;
            }
        }
        for msg in [
            "Request", "Grant", "Failed", "Inquire", "Yield", "Release", "Sync", "Fence", "Fenced",
        ] {
            let n = sent.get(msg).copied().unwrap_or(0);
            assert_eq!(row[msg], n.to_string(), "node {node} {msg}\n{md}");
            *total.entry(msg.to_string()).or_default() += n;
        }
        assert_eq!(row["to itself"], to_itself.to_string(), "node {node}\n{md}");
        assert_eq!(row["restarts"], "0");
        assert_eq!(row["clean restarts"], "0");
    }
    let all = by_node["all"];
    for (msg, n) in &total {
        assert_eq!(all[msg], n.to_string(), "all {msg}\n{md}");
    }
    let entries: usize = cs_entries.iter().sum();
    assert_eq!(all["entries"], entries.to_string());
    let network: u64 = total.values().sum();
    assert!(
        md.contains(&format!("{entries} CS entries, {network} network messages")),
        "{md}"
    );
    let text = summary_report(dir, Format::Text).unwrap();
    assert!(
        text.contains(&format!("{entries} CS entries, {network} network messages")),
        "{text}"
    );
    assert!(summary_report(dir, Format::Mermaid).is_err());
}

/// Issue 12, item 3, on real processes (as in tests/crash.rs): node 1 is killed (`kill -9`)
/// inside the CS while node 2 waits for voter 0's vote; node 1 restarts, voter 0 frees the dead
/// incarnation's vote and node 2 enters. Node 2's story must show why: the kill, the restart,
/// voter 0's `peer_incarnation` and its `revote freed`, before voter 0's Grant. And node 1's
/// killed entry must say that its process died inside the CS.
#[test]
fn the_story_of_an_entry_after_a_kill_shows_the_kill_the_restart_and_the_revote() {
    const WAIT: Duration = Duration::from_secs(30);
    let mut c = Cluster::prepare(3);
    let enters = |c: &Cluster, node: u64| {
        c.cs_lines()
            .iter()
            .filter(|l| l["event"] == "enter" && l["node"] == node)
            .count()
    };
    // Node 0 only votes; node 1 enters and stays; node 2 asks later and waits behind it.
    c.start_node(0, &["--max-entries", "0"]);
    c.start_node(
        1,
        &[
            "--think-ms",
            "200",
            "--hold-ms",
            "600000",
            "--max-entries",
            "1",
        ],
    );
    c.start_node(
        2,
        &["--think-ms", "600", "--hold-ms", "0", "--max-entries", "1"],
    );
    common::wait_for("node 1 to enter the CS", WAIT, || enters(&c, 1) == 1);
    common::wait_for("voter 0 to have node 2's request", WAIT, || {
        c.node_log(0)
            .iter()
            .any(|l| l["event"] == "recv" && l["msg"] == "Request" && l["from"] == 2)
    });
    c.kill9(1);
    c.start_node(1, &["--max-entries", "0"]);
    common::wait_for("node 2 to enter after node 1's restart", WAIT, || {
        enters(&c, 2) == 1
    });
    let statuses = c.stop_all();
    assert!(statuses.iter().all(|s| s.success()), "{statuses:?}");
    let dir = c.log_dir.clone();

    // What the raw logs say happened.
    let n1 = c.node_log(1);
    let restart = n1
        .iter()
        .find(|l| l["event"] == "start" && l["incarnation"] == 2)
        .expect("node 1 restarted as incarnation 2");
    let last_of_dead = n1
        .iter()
        .take_while(|l| !(l["event"] == "start" && l["incarnation"] == 2))
        .last()
        .unwrap();
    let n0 = c.node_log(0);
    let freed = n0
        .iter()
        .find(|l| l["event"] == "revote" && l["what"] == "freed" && l["req_node"] == 1)
        .expect("voter 0 freed node 1's vote");
    let short = |l: &Value| l["timestamp"].as_str().unwrap()[11..26].to_string();

    let md = entry_report(
        &dir,
        &EntrySelector {
            node: 2,
            entry: 1,
            incarnation: None,
        },
        Format::Markdown,
    )
    .unwrap();
    let rows = table(&md);
    let find = |node: &str, event: &str, msg: &str| {
        rows.iter()
            .position(|r| r["node"] == node && r["event"] == event && r["msg"] == msg)
            .unwrap_or_else(|| panic!("no row {node} {event} {msg} in:\n{md}"))
    };
    let killed = find("1", "(killed)", "");
    let start = find("1", "start", "");
    let heard = find("0", "peer_incarnation", "");
    let revote = find("0", "revote", "freed");
    let grant = rows
        .iter()
        .position(|r| r["event"] == "send" && r["msg"] == "Grant" && r["from → to"] == "0 → 2")
        .unwrap_or_else(|| panic!("no Grant 0 → 2 in:\n{md}"));
    assert!(
        killed < start && start < heard && heard < revote && revote < grant,
        "kill {killed}, restart {start}, peer_incarnation {heard}, revote {revote}, Grant {grant}:\n{md}"
    );
    assert_eq!(rows[killed]["time"], short(last_of_dead), "{md}");
    assert_eq!(rows[start]["time"], short(restart), "{md}");
    assert_eq!(rows[revote]["time"], short(freed), "{md}");
    assert!(
        rows[start]["note"].contains("incarnation 2 after a kill"),
        "{md}"
    );
    assert_eq!(rows.last().unwrap()["event"], "enter_cs", "{md}");
    assert!(
        md.lines()
            .next()
            .unwrap()
            .contains("restarts during the wait: node 1 (after a kill)"),
        "{md}"
    );

    // The killed entry itself.
    let text = entry_report(
        &dir,
        &EntrySelector {
            node: 1,
            entry: 1,
            incarnation: Some(1),
        },
        Format::Text,
    )
    .unwrap();
    let head = text.lines().next().unwrap();
    assert!(
        head.contains(&format!(
            "its process died inside the CS (no exit_cs, no stop: killed), and node 1 started again at {}",
            short(restart)
        )),
        "{text}"
    );
    let last: Vec<&str> = text.trim_end().lines().rev().take(3).collect();
    assert!(
        last[2].contains("  enter_cs  ")
            && last[1].contains("  (killed)  ")
            && last[0].contains("  start  "),
        "{text}"
    );
}
