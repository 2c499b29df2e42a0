//! `maekawa lock` against a fake daemon: an in-process tonic server that implements only the
//! `Lock` service (the generated types of crate `maekawa-wire`, from wire/proto/maekawa.proto,
//! as the daemon has them), grants or times out as told, records what the client sent, and can break a
//! session on demand. The real daemon's side is tested where it lives; this file checks the
//! command's half of the contract: environment, exit codes, signals, lost locks.

mod common;

use common::*;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio::sync::{mpsc, watch};

// The daemon's own generated types (with its codec), as the real server has them.
use maekawa::daemon::wire;

use wire::lock_client_msg::Body as ClientBody;
use wire::lock_server_msg::Body as ServerBody;

/// What the fake does with an Acquire.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Mode {
    /// Acquired at once, with tokens 17, 18, ...
    Grant,
    /// TimedOut at once.
    TimeOut,
}

/// The fake's shared state: what clients sent, and the switch that breaks every session.
struct State {
    mode: Mode,
    next_token: AtomicU64,
    events: Mutex<Vec<String>>,
    breaker: watch::Sender<bool>,
    locks: Vec<wire::LockInfo>,
    node: u32,
}

impl State {
    fn log(&self, event: String) {
        self.events.lock().unwrap().push(event);
    }
}

#[derive(Clone)]
struct FakeLock(Arc<State>);

#[tonic::async_trait]
impl wire::lock_server::Lock for FakeLock {
    type SessionStream =
        tokio_stream::wrappers::ReceiverStream<Result<wire::LockServerMsg, tonic::Status>>;

    async fn session(
        &self,
        request: tonic::Request<tonic::Streaming<wire::LockClientMsg>>,
    ) -> Result<tonic::Response<Self::SessionStream>, tonic::Status> {
        let mut inbound = request.into_inner();
        let (tx, rx) = mpsc::channel(4);
        let state = self.0.clone();
        let mut breaker = state.breaker.subscribe();
        tokio::spawn(async move {
            let Ok(Some(wire::LockClientMsg {
                body: Some(ClientBody::Acquire(a)),
            })) = inbound.message().await
            else {
                state.log("no acquire".into());
                return;
            };
            state.log(format!(
                "acquire {} {:?} {}",
                a.name, a.timeout_ms, a.client
            ));
            let reply = |body| Ok(wire::LockServerMsg { body: Some(body) });
            if state.mode == Mode::TimeOut {
                let waited_ms = a.timeout_ms.unwrap_or(0);
                let _ = tx
                    .send(reply(ServerBody::TimedOut(wire::TimedOut {
                        name: a.name,
                        waited_ms,
                    })))
                    .await;
                return;
            }
            let token = state.next_token.fetch_add(1, Ordering::SeqCst);
            let acquired = wire::Acquired {
                name: a.name.clone(),
                token,
                node: state.node,
                session: token - 10,
                slot: 0,
            };
            let _ = tx.send(reply(ServerBody::Acquired(acquired))).await;
            tokio::select! {
                m = inbound.message() => match m {
                    Ok(Some(wire::LockClientMsg { body: Some(ClientBody::Release(_)) })) => {
                        state.log(format!("release {token}"));
                        let released = wire::Released { name: a.name, token };
                        let _ = tx.send(reply(ServerBody::Released(released))).await;
                    }
                    _ => state.log(format!("closed {token}")),
                },
                _ = async { let _ = breaker.wait_for(|b| *b).await; } => {
                    state.log(format!("broken {token}"));
                    let _ = tx.send(Err(tonic::Status::unavailable("the fake daemon broke the session"))).await;
                }
            }
        });
        Ok(tonic::Response::new(
            tokio_stream::wrappers::ReceiverStream::new(rx),
        ))
    }

    async fn list(
        &self,
        _: tonic::Request<wire::ListLocksRequest>,
    ) -> Result<tonic::Response<wire::ListLocksReply>, tonic::Status> {
        Ok(tonic::Response::new(wire::ListLocksReply {
            node: self.0.node,
            locks: self.0.locks.clone(),
        }))
    }
}

/// A fake daemon serving `Lock` on a free loopback port, in a thread of its own.
struct Fake {
    addr: String,
    state: Arc<State>,
}

impl Fake {
    fn start(mode: Mode) -> Fake {
        Fake::start_with(mode, 0, Vec::new())
    }

    fn start_with(mode: Mode, node: u32, locks: Vec<wire::LockInfo>) -> Fake {
        let port = free_ports(1)[0];
        let listener = std::net::TcpListener::bind(("127.0.0.1", port)).expect("bind fake");
        listener.set_nonblocking(true).unwrap();
        let state = Arc::new(State {
            mode,
            next_token: AtomicU64::new(17),
            events: Mutex::new(Vec::new()),
            breaker: watch::channel(false).0,
            locks,
            node,
        });
        let service = FakeLock(state.clone());
        std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .unwrap();
            runtime.block_on(async move {
                let listener = tokio::net::TcpListener::from_std(listener).unwrap();
                tonic::transport::Server::builder()
                    .add_service(wire::lock_server::LockServer::new(service))
                    .serve_with_incoming(tonic::transport::server::TcpIncoming::from(listener))
                    .await
                    .unwrap();
            });
        });
        Fake {
            addr: format!("127.0.0.1:{port}"),
            state,
        }
    }

    fn events(&self) -> Vec<String> {
        self.state.events.lock().unwrap().clone()
    }

    /// Ends every live session with an error, as a daemon that dies would.
    fn break_sessions(&self) {
        self.state.breaker.send_replace(true);
    }

    /// Waits until an event starting with `prefix` was recorded.
    fn wait_event(&self, prefix: &str) {
        wait_for(
            &format!("the fake to see {prefix:?}"),
            Duration::from_secs(10),
            || self.events().iter().any(|e| e.starts_with(prefix)),
        );
    }
}

/// `maekawa lock` with `args`, stdout and stderr captured.
fn lock_cmd(args: &[&str]) -> Command {
    let mut c = Command::new(BIN);
    c.arg("lock").args(args).stdin(Stdio::null());
    c
}

/// Runs to the end (bounded) and returns (exit code, stdout, stderr).
fn run(args: &[&str]) -> (i32, String, String) {
    let child = lock_cmd(args)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn maekawa lock");
    let pid = child.id();
    // Bounded: a hung command is killed by PID and the test fails.
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let _ = tx.send(child.wait_with_output());
    });
    let out = match rx.recv_timeout(Duration::from_secs(30)) {
        Ok(out) => out.unwrap(),
        Err(_) => {
            signal(pid, "KILL");
            panic!("maekawa lock {args:?} did not exit within 30 s");
        }
    };
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// Spawns with stdout and stderr to files in `dir`.
fn spawn_logged(dir: &Path, args: &[&str]) -> Child {
    lock_cmd(args)
        .stdout(std::fs::File::create(dir.join("stdout")).unwrap())
        .stderr(std::fs::File::create(dir.join("stderr")).unwrap())
        .spawn()
        .expect("spawn maekawa lock")
}

fn read(path: &Path) -> String {
    std::fs::read_to_string(path).unwrap_or_default()
}

fn exists(path: &Path) -> bool {
    path.exists()
}

#[test]
fn cmd_gets_the_token_in_its_environment_and_the_lock_is_released() {
    let fake = Fake::start(Mode::Grant);
    let (code, out, err) = run(&[
        "counter",
        "--addr",
        &fake.addr,
        "--",
        "sh",
        "-c",
        "echo $MAEKAWA_LOCK_NAME $MAEKAWA_LOCK_TOKEN $MAEKAWA_LOCK_NODE $MAEKAWA_LOCK_SESSION",
    ]);
    assert_eq!(
        (code, out.as_str(), err.as_str()),
        (0, "counter 17 0 7\n", "")
    );
    let events = fake.events();
    assert_eq!(events.len(), 2, "{events:?}");
    assert!(
        events[0].starts_with("acquire counter None maekawa lock, pid "),
        "{events:?}"
    );
    assert_eq!(events[1], "release 17");
}

#[test]
fn cmd_exit_code_is_passed_on_and_a_signal_is_128_plus_its_number() {
    let fake = Fake::start(Mode::Grant);
    let (code, _, err) = run(&["x", "--addr", &fake.addr, "--", "sh", "-c", "exit 3"]);
    assert_eq!(code, 3, "{err}");
    let (code, _, err) = run(&["x", "--addr", &fake.addr, "--", "sh", "-c", "kill -TERM $$"]);
    assert_eq!(code, 128 + 15, "{err}");
    assert_eq!(
        fake.events()
            .iter()
            .filter(|e| e.starts_with("release"))
            .count(),
        2
    );
}

#[test]
fn a_timeout_is_one_line_and_exit_124() {
    let fake = Fake::start(Mode::TimeOut);
    let (code, out, err) = run(&["x", "--addr", &fake.addr, "--timeout", "0", "--", "true"]);
    assert_eq!(code, 124, "{err}");
    assert_eq!(out, "");
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(
        err.starts_with("error: timed out after 0s waiting for lock x at the daemon at 127.0.0.1:"),
        "{err}"
    );
    let (code, _, err) = run(&["x", "--addr", &fake.addr, "--timeout", "1.5s"]);
    assert_eq!(code, 124, "{err}");
    let events = fake.events();
    assert!(events[0].starts_with("acquire x Some(0) "), "{events:?}");
    assert!(events[1].starts_with("acquire x Some(1500) "), "{events:?}");
}

#[test]
fn a_lost_lock_sends_sigterm_to_cmd_and_exits_125() {
    let fake = Fake::start(Mode::Grant);
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path().to_str().unwrap();
    let script = format!(
        "trap 'echo term > {d}/term; exit 0' TERM; touch {d}/started; while :; do sleep 0.05; done"
    );
    let mut child = spawn_logged(
        dir.path(),
        &["x", "--addr", &fake.addr, "--", "sh", "-c", &script],
    );
    wait_for("CMD to start", Duration::from_secs(10), || {
        exists(&dir.path().join("started"))
    });
    fake.break_sessions();
    let status = wait_exit(&mut child, Duration::from_secs(10));
    assert_eq!(status.code(), Some(125));
    assert_eq!(read(&dir.path().join("term")), "term\n");
    // Ours is one line; the shell may add its own ("Terminated", for its killed `sleep`).
    let stderr = read(&dir.path().join("stderr"));
    let ours: Vec<&str> = stderr.lines().filter(|l| l.starts_with("error:")).collect();
    assert_eq!(ours.len(), 1, "{stderr}");
    let err = ours[0];
    assert!(
        err.starts_with("error: lock x (token 17) was lost: the session broke: the fake daemon broke the session; stopping sh (SIGTERM, then SIGKILL after 5s)"),
        "{err}"
    );
}

#[test]
fn cmd_that_ignores_sigterm_is_killed_after_the_grace_period() {
    let fake = Fake::start(Mode::Grant);
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path().to_str().unwrap();
    let script = format!("trap '' TERM; echo $$ > {d}/pid; while :; do sleep 0.05; done");
    let mut child = spawn_logged(
        dir.path(),
        &[
            "x", "--addr", &fake.addr, "--grace", "300ms", "--", "sh", "-c", &script,
        ],
    );
    wait_for("CMD to start", Duration::from_secs(10), || {
        read(&dir.path().join("pid")).ends_with('\n')
    });
    let sh_pid = read(&dir.path().join("pid")).trim().to_string();
    let broken = Instant::now();
    fake.break_sessions();
    let status = wait_exit(&mut child, Duration::from_secs(10));
    assert_eq!(status.code(), Some(125));
    assert!(
        broken.elapsed() >= Duration::from_millis(300),
        "{:?}",
        broken.elapsed()
    );
    // maekawa lock reaped its child before exiting: the shell is gone, not a zombie.
    assert!(
        !Path::new(&format!("/proc/{sh_pid}")).exists(),
        "sh {sh_pid} survived"
    );
}

#[test]
fn signals_to_maekawa_lock_reach_cmd() {
    let fake = Fake::start(Mode::Grant);
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path().to_str().unwrap();
    let script = format!(
        "trap 'echo usr1 > {d}/usr1; exit 7' USR1; touch {d}/started; while :; do sleep 0.05; done"
    );
    let mut child = spawn_logged(
        dir.path(),
        &["x", "--addr", &fake.addr, "--", "sh", "-c", &script],
    );
    wait_for("CMD to start", Duration::from_secs(10), || {
        exists(&dir.path().join("started"))
    });
    signal(child.id(), "USR1");
    let status = wait_exit(&mut child, Duration::from_secs(10));
    assert_eq!(
        status.code(),
        Some(7),
        "{}",
        read(&dir.path().join("stderr"))
    );
    assert_eq!(read(&dir.path().join("usr1")), "usr1\n");
    fake.wait_event("release 17");
}

#[test]
fn without_cmd_it_prints_name_and_token_and_holds_until_sigterm() {
    let fake = Fake::start(Mode::Grant);
    let dir = tempfile::tempdir().unwrap();
    let mut child = spawn_logged(dir.path(), &["counter", "--addr", &fake.addr]);
    wait_for("the token line", Duration::from_secs(10), || {
        read(&dir.path().join("stdout")).ends_with('\n')
    });
    assert_eq!(read(&dir.path().join("stdout")), "counter 17\n");
    assert!(child.try_wait().unwrap().is_none(), "it holds the lock");
    assert!(!fake.events().iter().any(|e| e.starts_with("release")));
    signal(child.id(), "TERM");
    let status = wait_exit(&mut child, Duration::from_secs(10));
    assert_eq!(
        status.code(),
        Some(0),
        "{}",
        read(&dir.path().join("stderr"))
    );
    fake.wait_event("release 17");
}

#[test]
fn without_cmd_a_lost_lock_exits_125() {
    let fake = Fake::start(Mode::Grant);
    let dir = tempfile::tempdir().unwrap();
    let mut child = spawn_logged(dir.path(), &["counter", "--addr", &fake.addr]);
    wait_for("the token line", Duration::from_secs(10), || {
        read(&dir.path().join("stdout")).ends_with('\n')
    });
    fake.break_sessions();
    let status = wait_exit(&mut child, Duration::from_secs(10));
    assert_eq!(status.code(), Some(125));
    assert!(read(&dir.path().join("stderr")).contains("was lost"));
}

#[test]
fn cmd_not_found_is_127_and_not_executable_is_126() {
    let fake = Fake::start(Mode::Grant);
    let dir = tempfile::tempdir().unwrap();
    let (code, _, err) = run(&["x", "--addr", &fake.addr, "--", "/nonexistent/cmd"]);
    assert_eq!(code, 127, "{err}");
    assert!(
        err.starts_with("error: cannot run /nonexistent/cmd: "),
        "{err}"
    );
    let plain = dir.path().join("plain");
    std::fs::write(&plain, "echo hi\n").unwrap();
    let (code, _, err) = run(&["x", "--addr", &fake.addr, "--", plain.to_str().unwrap()]);
    assert_eq!(code, 126, "{err}");
    // The lock was released both times.
    assert_eq!(
        fake.events()
            .iter()
            .filter(|e| e.starts_with("release"))
            .count(),
        2
    );
}

#[test]
fn an_unreachable_daemon_or_a_bad_name_is_one_line_and_exit_2() {
    let port = free_ports(1)[0];
    let addr = format!("127.0.0.1:{port}");
    let (code, _, err) = run(&["x", "--addr", &addr, "--", "true"]);
    assert_eq!(code, 2);
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(
        err.starts_with(&format!("error: cannot reach the daemon at {addr}: ")),
        "{err}"
    );
    assert!(err.trim_end().ends_with("is the node running?"), "{err}");

    let (code, _, err) = run(&["has space", "--addr", &addr]);
    assert_eq!(code, 2);
    assert_eq!(
        err,
        "error: invalid lock name \"has space\": it contains ' ' at byte 3; a lock name is 1 to 128 bytes of printable ASCII without spaces\n"
    );
    let (code, _, err) = run(&["x", "--addr", &addr, "--timeout", "soon"]);
    assert_eq!(code, 2);
    assert!(
        err.contains("--timeout") && err.ends_with("(see maekawa lock --help)\n"),
        "{err}"
    );
}

fn runs(args: &[&str]) -> (i32, String, String) {
    let out = Command::new(BIN)
        .arg("locks")
        .args(args)
        .output()
        .expect("run maekawa locks");
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

fn held_lock() -> wire::LockInfo {
    wire::LockInfo {
        name: "counter".into(),
        state: "held".into(),
        holder_session: 3,
        holder_client: "pid 42 on h".into(),
        token: 17,
        waiting_sessions: vec![4, 5],
        waiting_clients: vec!["a".into(), "b".into()],
        request: Some(wire::WireRequest {
            ts: 9,
            node: 1,
            inc: 2,
            epoch: 0,
        }),
        vote: None,
        queue: vec![wire::WireRequest {
            ts: 11,
            node: 0,
            inc: 1,
            epoch: 0,
        }],
    }
}

#[test]
fn locks_lists_holders_tokens_and_waiters_as_a_table_and_as_json() {
    let fake = Fake::start_with(Mode::Grant, 1, vec![held_lock()]);
    let (code, out, err) = runs(&["--addr", &fake.addr]);
    assert_eq!(code, 0, "{err}");
    assert_eq!(
        out,
        "node  lock    state      token  holder waiting    holder's client\n\
         1     counter held          17       3 4,5        pid 42 on h\n"
    );
    let (code, out, err) = runs(&["--addr", &fake.addr, "--json"]);
    assert_eq!(code, 0, "{err}");
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(
        v,
        serde_json::json!([{
            "node": 1, "name": "counter", "state": "held", "token": 17,
            "holder": {"session": 3, "client": "pid 42 on h"},
            "waiting": [{"session": 4, "client": "a"}, {"session": 5, "client": "b"}],
            "request": {"ts": 9, "node": 1, "inc": 2}, "vote": null,
            "queue": [{"ts": 11, "node": 0, "inc": 1}]
        }])
    );
}

#[test]
fn locks_of_every_node_says_which_did_not_answer() {
    let a = Fake::start_with(Mode::Grant, 0, vec![]);
    let b = Fake::start_with(Mode::Grant, 1, vec![held_lock()]);
    let port = |addr: &str| addr.rsplit(':').next().unwrap().parse::<u16>().unwrap();
    let dead = free_ports(1)[0];
    let dir = tempfile::tempdir().unwrap();
    let config = write_config_on(dir.path(), &[port(&a.addr), port(&b.addr), dead]);
    let config = config.to_str().unwrap();
    let (code, out, err) = runs(&["--config", config]);
    assert_eq!(code, 1, "{err}");
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines.len(), 4, "{out}");
    assert_eq!(lines[1], "0     (no locks in use)");
    assert!(lines[2].starts_with("1     counter held"), "{out}");
    assert!(
        lines[3].starts_with(&format!(
            "2     error: cannot reach node 2 at 127.0.0.1:{dead}: "
        )),
        "{out}"
    );
    // Only the dead node: exit 2, one line.
    let (code, out, err) = runs(&["--config", config, "--node", "2"]);
    assert_eq!(
        (code, out.as_str(), err.lines().count()),
        (2, "", 1),
        "{err}"
    );
}
