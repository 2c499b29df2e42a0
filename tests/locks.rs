//! Named locks held by clients, on real daemons (issue 13's "Done when"): no lost update with
//! `maekawa lock -- CMD` and strictly increasing fencing tokens; a killed client's lock taken
//! over within the documented bound; a killed daemon's CMD stopped with the lost-lock code and
//! tokens still increasing after its restart; 10,000 names leave no memory behind.

mod common;

use common::{signal, wait_exit, wait_for, Cluster, BIN};
use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// How long a client's death may keep its lock from others (README, "Use it as a lock": the
/// daemon sees the connection close at once; HTTP/2 keepalive covers a vanished host in 3 s).
const CLIENT_DEATH_BOUND: Duration = Duration::from_secs(3);

/// A manual-workload cluster whose nodes all answer the lock service.
fn cluster(n: usize) -> Cluster {
    let cluster = Cluster::start(n, &["--workload", "manual"]);
    cluster.wait_for_lock_services(n);
    cluster
}

fn locks(cluster: &Cluster, node: usize) -> std::process::Output {
    Command::new(BIN)
        .args(["locks", "--node", &node.to_string(), "--json", "--config"])
        .arg(&cluster.config)
        .output()
        .unwrap()
}

/// `maekawa lock NAME --node NODE [ARGS…]`, run in `dir`.
fn lock_cmd(cluster: &Cluster, node: usize, name: &str, dir: &Path, args: &[&str]) -> Command {
    let mut cmd = Command::new(BIN);
    cmd.args(["lock", name, "--node", &node.to_string(), "--config"])
        .arg(&cluster.config)
        .args(args)
        .current_dir(dir);
    cmd
}

/// Spawns `maekawa lock` without CMD and waits for its `NAME TOKEN` line.
fn hold(cluster: &Cluster, node: usize, name: &str) -> (Child, u64) {
    let mut child = lock_cmd(cluster, node, name, cluster.dir.path(), &[])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    let token = line
        .split_whitespace()
        .nth(1)
        .and_then(|t| t.parse().ok())
        .unwrap_or_else(|| panic!("`maekawa lock {name}` printed {line:?}"));
    (child, token)
}

/// `maekawa lock` with CMD `sh -c 'echo $MAEKAWA_LOCK_TOKEN'`: the token it ran with.
fn token_of_one_run(cluster: &Cluster, node: usize, name: &str) -> u64 {
    let out = lock_cmd(
        cluster,
        node,
        name,
        cluster.dir.path(),
        &["--timeout", "20s"],
    )
    .args(["--", "sh", "-c", "echo $MAEKAWA_LOCK_TOKEN"])
    .output()
    .unwrap();
    assert!(out.status.success(), "{out:?}");
    String::from_utf8_lossy(&out.stdout).trim().parse().unwrap()
}

#[test]
fn ninety_locked_increments_from_three_nodes_lose_no_update_and_tokens_increase() {
    let cluster = cluster(3);
    let work = cluster.dir.path().join("work");
    std::fs::create_dir_all(&work).unwrap();
    std::fs::write(work.join("f"), "0\n").unwrap();
    let loops: Vec<_> = (0..3)
        .map(|node| {
            let mut cmds: Vec<Command> = (0..30)
                .map(|_| {
                    let mut cmd = lock_cmd(&cluster, node, "counter", &work, &[]);
                    cmd.args([
                        "--",
                        "sh",
                        "-c",
                        "n=$(cat f); sleep 0.01; echo $((n+1)) > f; echo $MAEKAWA_LOCK_TOKEN >> tokens",
                    ]);
                    cmd
                })
                .collect();
            std::thread::spawn(move || {
                for cmd in &mut cmds {
                    let out = cmd.output().unwrap();
                    assert!(out.status.success(), "{out:?}");
                }
            })
        })
        .collect();
    for l in loops {
        l.join().unwrap();
    }
    let f = std::fs::read_to_string(work.join("f")).unwrap();
    assert_eq!(f.trim(), "90", "lost updates");
    let tokens: Vec<u64> = std::fs::read_to_string(work.join("tokens"))
        .unwrap()
        .lines()
        .map(|l| l.parse().unwrap())
        .collect();
    assert_eq!(tokens.len(), 90);
    assert!(
        tokens.windows(2).all(|w| w[0] < w[1]),
        "tokens in run order do not strictly increase: {tokens:?}"
    );
}

#[test]
fn a_killed_clients_lock_is_taken_by_another_within_the_bound() {
    let cluster = cluster(3);
    let (mut holder, token) = hold(&cluster, 0, "job");
    // A second client waits on another node.
    let mut waiter = lock_cmd(
        &cluster,
        1,
        "job",
        cluster.dir.path(),
        &["--timeout", "30s"],
    )
    .args(["--", "sh", "-c", "echo $MAEKAWA_LOCK_TOKEN"])
    .stdout(Stdio::piped())
    .spawn()
    .unwrap();
    wait_for("the waiter to queue", Duration::from_secs(10), || {
        String::from_utf8_lossy(&locks(&cluster, 1).stdout).contains("acquiring")
    });
    signal(holder.id(), "KILL");
    let killed = Instant::now();
    holder.wait().unwrap();
    let status = wait_exit(&mut waiter, Duration::from_secs(30));
    let took = killed.elapsed();
    println!("the next client held the lock {took:?} after its holder's kill -9");
    assert!(status.success(), "{status:?}");
    assert!(
        took < CLIENT_DEATH_BOUND,
        "the lock was free only {took:?} after its holder died"
    );
    let mut out = String::new();
    std::io::Read::read_to_string(&mut waiter.stdout.take().unwrap(), &mut out).unwrap();
    assert!(out.trim().parse::<u64>().unwrap() > token, "{out}");
}

#[test]
fn a_killed_daemon_stops_the_command_with_the_lost_lock_code_and_tokens_keep_increasing() {
    let mut cluster = cluster(3);
    let work = cluster.dir.path().join("work");
    std::fs::create_dir_all(&work).unwrap();
    let script = "trap 'echo term > stopped; exit 0' TERM; \
                  echo $MAEKAWA_LOCK_TOKEN > token; while :; do sleep 0.05; done";
    let mut client = lock_cmd(&cluster, 0, "orders", &work, &["--grace", "5s"])
        .args(["--", "sh", "-c", script])
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    wait_for("CMD to run", Duration::from_secs(20), || {
        std::fs::read_to_string(work.join("token")).is_ok_and(|t| t.ends_with('\n'))
    });
    let first: u64 = std::fs::read_to_string(work.join("token"))
        .unwrap()
        .trim()
        .parse()
        .unwrap();
    cluster.kill9(0);
    let status = wait_exit(&mut client, Duration::from_secs(20));
    assert_eq!(status.code(), Some(125), "lost-lock exit code");
    assert_eq!(
        std::fs::read_to_string(work.join("stopped"))
            .unwrap()
            .trim(),
        "term",
        "CMD got SIGTERM"
    );
    cluster.start_node(0, &["--workload", "manual"]);
    wait_for("node 0 to serve again", Duration::from_secs(20), || {
        locks(&cluster, 0).status.success()
    });
    let mut last = first;
    for node in [0, 1, 2, 0] {
        let token = token_of_one_run(&cluster, node, "orders");
        assert!(token > last, "token {token} after {last} (node {node})");
        last = token;
    }
}

/// Resident memory of a process, from /proc.
fn rss_kib(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.split_whitespace().next())
        .and_then(|v| v.parse().ok())
        .unwrap()
}

#[test]
fn ten_thousand_names_locked_once_leave_the_daemon_at_most_twice_its_idle_size() {
    let cluster = cluster(3);
    // Warm up the links and the lock service before measuring the idle size.
    let _ = token_of_one_run(&cluster, 0, "warm-up");
    let pid = cluster.children[0].as_ref().unwrap().id();
    let idle = rss_kib(pid);
    let config = maekawa::config::Config::load(&cluster.config).unwrap();
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async {
        let mut client =
            maekawa::client::LockClient::connect_node(&config, maekawa_core::id::NodeId(0))
                .await
                .unwrap();
        let mut last = 0;
        for i in 0..10_000 {
            let guard = client
                .lock(
                    &format!("name-{i}"),
                    maekawa::client::LockOptions::default(),
                )
                .await
                .unwrap();
            assert!(guard.token() > last);
            last = guard.token();
            guard.release().await.unwrap();
        }
        let listed = client.list().await.unwrap();
        assert!(listed.locks.is_empty(), "{listed:?}");
    });
    let after = rss_kib(pid);
    println!("node 0 RSS: idle {idle} KiB, after 10,000 names {after} KiB");
    assert!(after <= 2 * idle, "RSS {after} KiB after, {idle} KiB idle");
}

/// Waiting sessions of one daemon, as `maekawa locks --json` lists them (FIFO order).
fn waiting_sessions(cluster: &Cluster, node: usize, name: &str) -> Vec<u64> {
    let out = locks(cluster, node);
    let locks: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap_or_default();
    locks
        .as_array()
        .into_iter()
        .flatten()
        .filter(|l| l["name"] == name)
        .flat_map(|l| l["waiting"].as_array().cloned().unwrap_or_default())
        .filter_map(|w| w["session"].as_u64())
        .collect()
}

#[test]
fn clients_of_one_daemon_are_served_first_come_first_served_and_a_dead_waiter_is_skipped() {
    let cluster = cluster(3);
    let work = cluster.dir.path().join("work");
    std::fs::create_dir_all(&work).unwrap();
    let (mut holder, _) = hold(&cluster, 0, "queue");
    let mut waiters = Vec::new();
    for (i, who) in ["first", "doomed", "second"].iter().enumerate() {
        let child = lock_cmd(&cluster, 0, "queue", &work, &["--timeout", "30s"])
            .args(["--", "sh", "-c", &format!("echo {who} >> order")])
            .spawn()
            .unwrap();
        waiters.push(child);
        wait_for("the waiter to queue", Duration::from_secs(10), || {
            waiting_sessions(&cluster, 0, "queue").len() == i + 1
        });
    }
    // The middle waiter dies while waiting: it must neither get the lock nor block the next.
    signal(waiters[1].id(), "KILL");
    waiters[1].wait().unwrap();
    wait_for(
        "the dead waiter to leave the queue",
        Duration::from_secs(10),
        || waiting_sessions(&cluster, 0, "queue").len() == 2,
    );
    signal(holder.id(), "TERM");
    assert!(wait_exit(&mut holder, Duration::from_secs(10)).success());
    for i in [0, 2] {
        assert!(wait_exit(&mut waiters[i], Duration::from_secs(20)).success());
    }
    let order = std::fs::read_to_string(work.join("order")).unwrap();
    assert_eq!(order, "first\nsecond\n");
}

/// `maekawa lock` killed with SIGKILL cannot stop its CMD itself, and its lock goes to the next
/// client at once: the CMD must not run on as if it held the lock (the kernel kills it).
#[test]
fn a_killed_maekawa_lock_takes_its_command_with_it() {
    let cluster = cluster(3);
    let work = cluster.dir.path().join("work");
    std::fs::create_dir_all(&work).unwrap();
    let mut client = lock_cmd(&cluster, 0, "job", &work, &[])
        .args(["--", "sh", "-c", "echo $$ > pid; exec sleep 60"])
        .spawn()
        .unwrap();
    wait_for("CMD to start", Duration::from_secs(20), || {
        std::fs::read_to_string(work.join("pid")).is_ok_and(|p| p.ends_with('\n'))
    });
    let pid: u32 = std::fs::read_to_string(work.join("pid"))
        .unwrap()
        .trim()
        .parse()
        .unwrap();
    signal(client.id(), "KILL");
    client.wait().unwrap();
    wait_for(
        "CMD to be killed with its parent",
        Duration::from_secs(5),
        || {
            // Gone, or a zombie waiting for init to reap it.
            std::fs::read_to_string(format!("/proc/{pid}/stat")).map_or(true, |s| {
                s.split(") ").nth(1).is_some_and(|r| r.starts_with('Z'))
            })
        },
    );
}

/// Every lock in use at any node, as `maekawa locks --json` lists them.
fn all_locks(cluster: &Cluster) -> Vec<serde_json::Value> {
    let out = Command::new(BIN)
        .args(["locks", "--all", "--json", "--config"])
        .arg(&cluster.config)
        .output()
        .unwrap();
    assert!(out.status.success(), "{out:?}");
    serde_json::from_slice(&out.stdout).unwrap()
}

/// Issue 14, item 4: a client that gives up while its node's request still waits for votes
/// (a `--timeout`, then a try-once `--timeout 0`) makes the node withdraw that request
/// (`cancel_cs`), so the node never enters the lock for nobody, and the votes it held go on.
#[test]
fn a_client_that_gives_up_withdraws_its_nodes_request() {
    let cluster = cluster(3);
    // Grid quorums of 3 nodes: Q(0) = {0, 1, 2}, Q(1) = {0, 1}, Q(2) = {0, 2}.
    let (mut holder, token) = hold(&cluster, 1, "x");
    for timeout in ["300ms", "0"] {
        let out = lock_cmd(
            &cluster,
            0,
            "x",
            cluster.dir.path(),
            &["--timeout", timeout],
        )
        .args(["--", "true"])
        .output()
        .unwrap();
        assert_eq!(out.status.code(), Some(124), "--timeout {timeout}: {out:?}");
        // Without the withdrawal node 0 would still be acquiring `x` for nobody.
        wait_for(
            "node 0 to have no request for x",
            Duration::from_secs(10),
            || {
                !all_locks(&cluster)
                    .iter()
                    .any(|l| l["node"] == 0 && l["name"] == "x" && !l["request"].is_null())
            },
        );
    }
    let log = cluster.node_log(0);
    let about_x = |event: &str| -> Vec<(u64, u64)> {
        log.iter()
            .filter(|l| l["event"] == event && l["lock"] == "x")
            .map(|l| {
                (
                    l["req_ts"].as_u64().unwrap(),
                    l["req_node"].as_u64().unwrap(),
                )
            })
            .collect()
    };
    let requested = about_x("request_cs");
    assert_eq!(requested.len(), 2, "{requested:?}");
    assert_eq!(about_x("cancel_cs"), requested, "each request withdrawn");

    signal(holder.id(), "TERM");
    assert!(wait_exit(&mut holder, Duration::from_secs(10)).success());
    let next = token_of_one_run(&cluster, 2, "x");
    assert!(next > token, "token {next} after {token}");
    // Once every vote is free and every queue empty, a request node 0 had left in place would
    // have been served (deadlock-freedom): its entry would be in the log by now.
    wait_for("every node to be quiet", Duration::from_secs(10), || {
        all_locks(&cluster).is_empty()
    });
    let entered: Vec<_> = cluster
        .node_log(0)
        .into_iter()
        .filter(|l| l["event"] == "enter_cs" && l["lock"] == "x")
        .collect();
    assert!(
        entered.is_empty(),
        "node 0 entered x for nobody: {entered:?}"
    );
}
