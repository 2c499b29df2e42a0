"""Locks against 3 real daemons: what a held lock says, try-once, release, the loss of a lock
whose daemon dies or freezes, and a shared counter written by Python processes and
``maekawa lock`` loops at once."""

import os
import signal
import subprocess
import sys
import threading
import time

import pytest

import maekawa
from conftest import HERE, PACKAGE, wait_for


def test_a_held_lock_has_its_token_node_session_and_label(cluster):
    with maekawa.lock("counter", addr=cluster.addrs[0], timeout=5) as held:
        assert held.held and held.name == "counter" and held.slot is None
        assert held.node == 0 and held.token > 0 and held.session > 0
        assert held.daemon == f"the daemon at {cluster.addrs[0]}"
        info = [l for l in cluster.list_locks(0).locks if l.name == "counter"][0]
        assert info.holder_session == held.session and info.token == held.token
        assert info.holder_client == f"python pid {os.getpid()} on {os.uname().nodename}"
        held.check()
        first = held.token
    assert not held.held and not held.lost.is_set()
    # Released means released: the next holder, through another node, gets a larger token.
    with maekawa.lock(
        "counter", node=2, config=cluster.config, timeout=5, client="second"
    ) as again:
        assert again.node == 2 and again.token > first


def test_try_once_on_a_held_lock_raises_timed_out(cluster):
    with maekawa.lock("busy", node=0, config=cluster.config):
        start = time.monotonic()
        with pytest.raises(maekawa.TimedOut) as e:
            maekawa.lock("busy", node=1, config=cluster.config, timeout=0).acquire()
        took = time.monotonic() - start
    msg = str(e.value)
    assert took < 2, f"try-once took {took:.2f}s"
    assert msg.startswith("timed out after "), msg
    assert msg.endswith(f" waiting for lock busy at node 1 at {cluster.addrs[1]}"), msg
    # A wait with a timeout that the holder outlasts times out too, after about that long.
    with maekawa.lock("busy", node=0, config=cluster.config):
        with pytest.raises(
            maekawa.TimedOut, match=r"timed out after (\d+ms|\d+s( \d+ms)?) waiting"
        ):
            maekawa.lock("busy", node=2, config=cluster.config, timeout=0.3).acquire()


def test_the_daemon_refuses_the_reserved_name(cluster):
    with pytest.raises(maekawa.Refused) as e:
        maekawa.lock("cs", addr=cluster.addrs[0]).acquire()
    assert str(e.value).startswith(f"the daemon at {cluster.addrs[0]} refused: "), str(e.value)


def test_a_lock_whose_daemon_is_killed_is_lost_within_3_s(cluster):
    calls = []
    held = maekawa.lock("precious", node=1, config=cluster.config, on_lost=calls.append)
    held.acquire()
    token = held.token
    start = time.monotonic()
    cluster.kill(1)
    assert held.lost.wait(3), "the lock was not reported lost within 3 s of kill -9"
    latency = time.monotonic() - start
    print(
        f"\nlost latency after kill -9 of the daemon: {latency * 1000:.1f} ms ({held.lost_reason})"
    )
    assert latency < 3
    wait_for("on_lost to be called", 3, lambda: calls)
    assert len(calls) == 1 and isinstance(calls[0], maekawa.LockLost)
    assert str(calls[0]).startswith(f"lock precious (token {token}) was lost: the session broke: ")
    with pytest.raises(maekawa.LockLost):
        held.check()
    with pytest.raises(maekawa.LockLost):
        held.release()
    assert len(calls) == 1


def test_a_frozen_daemon_is_noticed_by_keepalive_within_about_3_s(cluster):
    # A ping a second, 2 s for its answer: at most about 3 s, given 1 s of slack for a busy CI.
    held = maekawa.lock("frozen", node=2, config=cluster.config).acquire()
    pid = cluster.procs[2].pid
    start = time.monotonic()
    os.kill(pid, signal.SIGSTOP)  # its TCP stays open: only the missing ping answers tell
    try:
        lost = held.lost.wait(5)
        latency = time.monotonic() - start
    finally:
        os.kill(pid, signal.SIGCONT)
    print(
        f"\nlost latency after SIGSTOP of the daemon: {latency * 1000:.0f} ms ({held.lost_reason})"
    )
    assert lost and latency < 4, f"lost={lost} after {latency:.2f}s"
    assert "ping timeout" in (held.lost_reason or ""), held.lost_reason


def test_an_exception_in_the_block_releases_the_lock_and_propagates(cluster):
    with pytest.raises(KeyError):
        with maekawa.lock("oops", node=0, config=cluster.config):
            raise KeyError("the work failed")
    with maekawa.lock("oops", node=1, config=cluster.config, timeout=0) as held:
        assert held.held


def test_a_lock_can_be_taken_again_after_its_release(cluster):
    lk = maekawa.lock("again", addr=cluster.addrs[0], timeout=5)
    tokens = []
    for _ in range(3):
        with lk:
            tokens.append(lk.token)
    assert tokens == sorted(set(tokens)), tokens


def test_counter_python_processes_and_maekawa_lock_loops_lose_no_update(cluster, tmp_path):
    count = tmp_path / "count"
    tokens = tmp_path / "tokens"
    count.write_text("0\n")
    tokens.write_text("")
    env = dict(os.environ)
    env.pop("PYTHONPATH", None)
    workers = [
        subprocess.Popen(
            [
                sys.executable,
                str(HERE / "counter_worker.py"),
                str(i),
                cluster.config,
                str(count),
                str(tokens),
            ],
            cwd=tmp_path,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        for i in range(3)
    ]
    increment = (
        'n=$(cat "$COUNT"); echo $((n+1)) > "$COUNT"; '
        'echo "$MAEKAWA_LOCK_TOKEN cli node $MAEKAWA_LOCK_NODE" >> "$TOKENS"'
    )
    failures = []

    def cli_loop(node):
        for _ in range(10):
            out = subprocess.run(
                [
                    cluster.bin,
                    "lock",
                    "counter",
                    "--node",
                    str(node),
                    "--config",
                    cluster.config,
                    "--",
                    "sh",
                    "-c",
                    increment,
                ],
                env=dict(env, COUNT=str(count), TOKENS=str(tokens)),
                capture_output=True,
                text=True,
                timeout=120,
            )
            if out.returncode != 0:
                failures.append(
                    f"maekawa lock through node {node} exited {out.returncode}: {out.stderr}"
                )

    loops = [threading.Thread(target=cli_loop, args=(i,)) for i in range(3)]
    for t in loops:
        t.start()
    for t in loops:
        t.join(timeout=180)
        assert not t.is_alive(), "a maekawa lock loop did not finish within 180 s"
    for w in workers:
        out, _ = w.communicate(timeout=180)
        assert w.returncode == 0, f"counter_worker.py exited {w.returncode}:\n{out}"
    assert not failures, failures
    assert count.read_text().strip() == "60"
    lines = tokens.read_text().splitlines()
    assert len(lines) == 60
    seen = [int(line.split()[0]) for line in lines]
    assert all(a < b for a, b in zip(seen, seen[1:])), f"tokens not strictly increasing: {lines}"
    assert sum("python" in line for line in lines) == 30, lines


def test_the_readme_example_runs_against_a_real_daemon(cluster):
    example = PACKAGE / "examples" / "hold.py"
    code = example.read_text()
    readme = (PACKAGE / "README.md").read_text()
    assert code.strip() in readme, "README.md must show examples/hold.py as it is"
    assert len(code.strip().splitlines()) <= 10
    out = subprocess.run(
        [sys.executable, str(example), cluster.addrs[0]],
        capture_output=True,
        text=True,
        timeout=30,
        cwd=cluster.dir,
    )
    assert out.returncode == 0, out.stderr
    assert out.stdout.startswith("holding counter with fencing token "), out.stdout
