//! Every `jq` recipe in README.md, run on the logs of a real 3-node run (the emulated CS, and
//! clients of a named lock `counter`), with its output checked against figures computed
//! independently from the raw logs.
//!
//! The recipes run through the `jq` command when it is installed (CI installs it); on a machine
//! without it, the same filters run through the embedded jaq interpreter, so `cargo test` needs
//! nothing but Rust.

mod common;

use common::*;
use serde_json::Value;
use std::collections::BTreeMap;
use std::path::Path;
use std::process::Command;
use std::time::Duration;

/// The recipes of README.md: (id, command line after `$ `).
fn recipes() -> Vec<(String, String)> {
    let readme =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/README.md")).unwrap();
    let mut out = Vec::new();
    let mut lines = readme.lines();
    while let Some(line) = lines.next() {
        let Some(id) = line
            .strip_prefix("<!-- recipe: ")
            .and_then(|l| l.strip_suffix(" -->"))
        else {
            continue;
        };
        assert_eq!(
            lines.next(),
            Some("```console"),
            "recipe {id}: a console block follows"
        );
        let cmd = lines
            .next()
            .and_then(|l| l.strip_prefix("$ "))
            .expect("a `$ ` command");
        out.push((id.to_string(), cmd.to_string()));
    }
    out
}

fn jq_installed() -> bool {
    Command::new("jq")
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success())
}

/// Runs one recipe in `workdir` (where `logs/` is the run's log directory).
fn run_recipe(cmd: &str, workdir: &Path, use_jq: bool) -> String {
    if use_jq {
        let out = Command::new("bash")
            .arg("-c")
            .arg(cmd)
            .current_dir(workdir)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{cmd}\nfailed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stdout).unwrap()
    } else {
        embedded_jq(cmd, workdir)
    }
}

/// Runs `jq [-c] [-r] [-s] [--arg(json) name value]... 'filter' files...` with jaq.
fn embedded_jq(cmd: &str, workdir: &Path) -> String {
    use jaq_core::load::{Arena, File, Loader};
    use jaq_core::{data, unwrap_valr, Compiler, Ctx, Vars};
    use jaq_json::Val;

    let words = shell_words::split(cmd).unwrap();
    assert_eq!(words[0], "jq", "{cmd}");
    let (mut raw, mut slurp, mut filter, mut files, mut bindings) =
        (false, false, None, Vec::new(), String::new());
    let mut i = 1;
    while i < words.len() {
        let w = &words[i];
        match w.as_str() {
            "-c" => {}
            "-r" => raw = true,
            "-s" => slurp = true,
            "--argjson" | "--arg" => {
                let (name, value) = (&words[i + 1], &words[i + 2]);
                let value = if w == "--arg" {
                    serde_json::to_string(value).unwrap()
                } else {
                    value.clone()
                };
                bindings.push_str(&format!("({value}) as ${name} | "));
                i += 2;
            }
            _ if filter.is_none() => filter = Some(w.clone()),
            _ => files.extend(expand(workdir, w)),
        }
        i += 1;
    }
    let mut values = Vec::new();
    for file in &files {
        for line in std::fs::read_to_string(file).unwrap().lines() {
            if !line.trim().is_empty() {
                values.push(jaq_json::read::parse_single(line.as_bytes()).unwrap());
            }
        }
    }
    let inputs: Vec<Val> = if slurp {
        vec![Val::Arr(std::rc::Rc::new(values))]
    } else {
        values
    };
    let code = format!("{bindings}{}", filter.expect("a filter"));
    let program = File {
        code: code.as_str(),
        path: (),
    };
    let defs = jaq_core::defs()
        .chain(jaq_std::defs())
        .chain(jaq_json::defs());
    let funs = jaq_core::funs()
        .chain(jaq_std::funs())
        .chain(jaq_json::funs());
    let loader = Loader::new(defs);
    let arena = Arena::default();
    let modules = loader
        .load(&arena, program)
        .unwrap_or_else(|e| panic!("{cmd}: {e:?}"));
    let compiled = Compiler::default()
        .with_funs(funs)
        .compile(modules)
        .unwrap_or_else(|e| panic!("{cmd}: {e:?}"));
    let mut text = String::new();
    for input in inputs {
        let ctx = Ctx::<data::JustLut<Val>>::new(&compiled.lut, Vars::new([]));
        for out in compiled.id.run((ctx, input)).map(unwrap_valr) {
            let out = out.unwrap_or_else(|e| panic!("{cmd}: {e:?}"));
            match (&out, raw) {
                (Val::TStr(s), true) => text.push_str(&String::from_utf8_lossy(s)),
                _ => text.push_str(&out.to_string()),
            }
            text.push('\n');
        }
    }
    text
}

/// `logs/node-*.log` → matching files, sorted (as the shell would).
fn expand(workdir: &Path, pattern: &str) -> Vec<std::path::PathBuf> {
    let path = workdir.join(pattern);
    let name = path.file_name().unwrap().to_str().unwrap().to_string();
    let Some((prefix, suffix)) = name.split_once('*') else {
        return vec![path];
    };
    let mut found: Vec<_> = std::fs::read_dir(path.parent().unwrap())
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| {
            let n = p.file_name().unwrap().to_str().unwrap();
            n.starts_with(prefix) && n.ends_with(suffix)
        })
        .collect();
    found.sort();
    found
}

fn lines(text: &str) -> Vec<&str> {
    text.lines().filter(|l| !l.is_empty()).collect()
}

/// Beside the emulated CS, each node serves `maekawa lock counter --node I -- true` this many
/// times (for the recipes about named locks and fencing tokens).
const COUNTER_RUNS: usize = 3;

/// Runs [`COUNTER_RUNS`] `maekawa lock counter` from each node's client, in parallel.
fn lock_counter(cluster: &Cluster, n: usize) {
    cluster.wait_for_lock_services(n);
    let clients: Vec<_> = (0..n)
        .map(|id| {
            let config = cluster.config.clone();
            std::thread::spawn(move || {
                for _ in 0..COUNTER_RUNS {
                    let out = Command::new(BIN)
                        .args(["lock", "counter", "--node", &id.to_string(), "--config"])
                        .arg(&config)
                        .args(["--timeout", "20s", "--", "true"])
                        .output()
                        .unwrap();
                    assert!(out.status.success(), "{out:?}");
                }
            })
        })
        .collect();
    for c in clients {
        c.join().unwrap();
    }
}

/// The `token` of each JSON line, in order.
fn tokens(out_lines: &[&str]) -> Vec<u64> {
    out_lines
        .iter()
        .map(|l| {
            let v: Value = serde_json::from_str(l).unwrap();
            v["token"]
                .as_u64()
                .unwrap_or_else(|| panic!("a token in {l}"))
        })
        .collect()
}

fn increasing(tokens: &[u64]) -> bool {
    tokens.windows(2).all(|w| w[0] < w[1])
}

#[test]
fn every_readme_recipe_runs_on_real_logs_and_agrees_with_the_raw_logs() {
    let n = 3;
    // No suspicion in this run (a loaded machine must not fake a dead peer): the votes recipe
    // checks each entry's votes against the node's own quorum, which a switch would change.
    let mut cluster = Cluster::start(
        n,
        &[
            "--think-ms",
            "0..10",
            "--hold-ms",
            "0..2",
            "--suspect-after",
            "600000",
        ],
    );
    lock_counter(&cluster, n);
    wait_for(
        "every node to enter 20 times",
        Duration::from_secs(60),
        || cluster.entries(n).iter().all(|&c| c >= 20),
    );
    let statuses = cluster.stop_all();
    assert!(statuses.iter().all(|s| s.success()), "{statuses:?}");

    let workdir = tempfile::tempdir().unwrap();
    std::os::unix::fs::symlink(&cluster.log_dir, workdir.path().join("logs")).unwrap();

    // Independent figures from the raw logs.
    let cs = cluster.cs_lines();
    let node_lines: Vec<Value> = (0..n)
        .flat_map(|id| read_json_lines(&cluster.log_dir.join(format!("node-{id}.log"))))
        .collect();
    let count = |pred: &dyn Fn(&Value) -> bool| node_lines.iter().filter(|l| pred(l)).count();
    let enters = cs.iter().filter(|l| l["event"] == "enter").count();
    let exits = cs.iter().filter(|l| l["event"] == "exit").count();
    let enter_cs = count(&|l| l["event"] == "enter_cs");
    let counter_entries = count(&|l| l["event"] == "enter_cs" && l["lock"] == "counter");
    assert_eq!(counter_entries, n * COUNTER_RUNS);
    let mut by_kind: BTreeMap<String, usize> = BTreeMap::new();
    for l in &node_lines {
        if l["event"] == "send" && l["from"] != l["to"] {
            *by_kind
                .entry(l["msg"].as_str().unwrap().to_string())
                .or_default() += 1;
        }
    }
    let quorum = |id: u64| -> &'static str {
        // The 3-node grid: rows [0,1], [2].
        ["0,1,2", "0,1", "0,2"][id as usize]
    };

    let use_jq = jq_installed();
    let all = recipes();
    assert!(all.len() >= 6, "at least six recipes, found {}", all.len());
    for (id, cmd) in &all {
        let out = run_recipe(cmd, workdir.path(), use_jq);
        let out_lines = lines(&out);
        match id.as_str() {
            "entries" => {
                assert_eq!(out_lines.len(), enters, "{id}");
                for l in &out_lines {
                    let v: Value = serde_json::from_str(l).unwrap();
                    assert!(v["votes"].is_array() && v["request"]["ts"].is_u64(), "{l}");
                }
            }
            "votes" => {
                assert_eq!(out_lines.len(), enter_cs, "{id}");
                for l in &out_lines {
                    let (head, votes) = l.split_once(": votes ").unwrap();
                    let node: u64 = head.split(' ').nth(1).unwrap().parse().unwrap();
                    assert_eq!(votes, quorum(node), "{l}");
                }
            }
            "story" => {
                assert!(out_lines.first().unwrap().contains("request_cs"), "{out}");
                assert!(out_lines.last().unwrap().contains("enter_cs"), "{out}");
                assert!(out_lines.last().unwrap().contains("votes [0,1]"), "{out}");
                for voter in [0, 1] {
                    let grant = format!("recv  Grant {voter}->1");
                    assert!(
                        out_lines.iter().any(|l| l.contains(&grant)),
                        "{grant}:\n{out}"
                    );
                }
            }
            "counts" => {
                let got: BTreeMap<String, usize> = out_lines
                    .iter()
                    .map(|l| {
                        let (k, v) = l.split_once(' ').unwrap();
                        (k.to_string(), v.parse().unwrap())
                    })
                    .collect();
                assert_eq!(got, by_kind, "{id}");
            }
            "voter" => {
                let expected = count(&|l| {
                    l["event"] == "send"
                        && l["from"] == 0
                        && ["Grant", "Failed", "Inquire"].contains(&l["msg"].as_str().unwrap())
                        && l["node"] == 0
                });
                assert_eq!(out_lines.len(), expected, "{id}");
            }
            "wait" => assert_eq!(out_lines.len(), enter_cs, "{id}"),
            "wait-summary" => {
                assert_eq!(out_lines.len(), n, "{id}: {out}");
                for (node, l) in out_lines.iter().enumerate() {
                    let entries = count(&|v| v["event"] == "enter_cs" && v["node"] == node as u64);
                    assert!(
                        l.starts_with(&format!("node {node}: {entries} entries, mean wait ")),
                        "{l}"
                    );
                }
            }
            "detours" => {
                let expected = count(&|l| {
                    l["event"] == "recv" && (l["msg"] == "Inquire" || l["msg"] == "Yield")
                });
                assert_eq!(out_lines.len(), expected, "{id}");
            }
            "timeline" => assert_eq!(out_lines.len(), enters + exits, "{id}"),
            "cs-tokens" => {
                assert_eq!(out_lines.len(), enters, "{id}");
                let t = tokens(&out_lines);
                assert!(increasing(&t), "{id}: {t:?}");
            }
            "lock-tokens" => {
                assert_eq!(out_lines.len(), counter_entries, "{id}: {out}");
                let t = tokens(&out_lines);
                assert!(increasing(&t), "{id}: {t:?}");
                for l in &out_lines {
                    let v: Value = serde_json::from_str(l).unwrap();
                    assert!(v["node"].is_u64() && v["timestamp"].is_string(), "{l}");
                }
            }
            other => panic!("recipe {other} has no check here: add one"),
        }
    }
    println!(
        "{} recipes checked through {}",
        all.len(),
        if use_jq { "jq" } else { "the embedded jaq" }
    );
}

/// The embedded interpreter agrees with jq on every recipe (when jq is installed to compare).
#[test]
fn embedded_jq_agrees_with_jq_on_every_recipe() {
    if !jq_installed() {
        println!("jq is not installed: nothing to compare against");
        return;
    }
    let n = 3;
    let mut cluster = Cluster::start(n, &["--think-ms", "0..10", "--hold-ms", "0..2"]);
    wait_for(
        "every node to enter 5 times",
        Duration::from_secs(60),
        || cluster.entries(n).iter().all(|&c| c >= 5),
    );
    cluster.stop_all();
    let workdir = tempfile::tempdir().unwrap();
    std::os::unix::fs::symlink(&cluster.log_dir, workdir.path().join("logs")).unwrap();
    for (id, cmd) in recipes() {
        let a = run_recipe(&cmd, workdir.path(), true);
        let b = run_recipe(&cmd, workdir.path(), false);
        assert_eq!(lines(&a).len(), lines(&b).len(), "recipe {id}");
    }
}
