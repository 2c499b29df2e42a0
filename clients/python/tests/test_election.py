"""Election against 3 real daemons: candidate A through node 0 leads, B through node 1 waits,
a watcher follows; kill -9 node 0's daemon: A hears it lost, B leads within 8 s, and the watcher
saw A then B."""

import signal
import subprocess
import threading
import time

import maekawa
from conftest import wait_for, within


def waiting_clients(cluster, node, name):
    reply = cluster.list_locks(node)
    return [c for l in reply.locks if l.name == name for c in l.waiting_clients]


def test_b_leads_after_a_s_daemon_dies_and_the_watcher_sees_a_then_b(cluster):
    seen = []
    watching = threading.Event()

    def watch():
        gen = maekawa.leaders("leader", config=cluster.config, interval=0.05)
        try:
            for leader in gen:
                seen.append((time.monotonic(), leader))
                if leader.value == "B" or watching.is_set():
                    return
        finally:
            gen.close()

    a_lost = []
    a = maekawa.elect("leader", "A", node=0, config=cluster.config, on_lost=a_lost.append)
    a.acquire()  # nobody else stands yet: A leads at once
    watcher = threading.Thread(target=watch, daemon=True)
    watcher.start()
    wait_for("the watcher to see A lead", 5, lambda: seen)
    assert seen[0][1].value == "A" and seen[0][1].node == 0 and seen[0][1].token == a.token

    b = maekawa.elect("leader", "B", node=1, config=cluster.config)
    b_led = threading.Event()
    threading.Thread(target=lambda: (b.acquire(), b_led.set()), daemon=True).start()
    wait_for("B to wait at node 1", 5, lambda: "B" in waiting_clients(cluster, 1, "leader"))
    assert not b_led.is_set()

    killed = time.monotonic()
    cluster.kill(0)
    assert a.lost.wait(3), "A was not told it lost the lead within 3 s"
    a_noticed = time.monotonic() - killed
    wait_for("A's on_lost to be called", 3, lambda: a_lost)  # it runs just after lost is set
    assert len(a_lost) == 1 and isinstance(a_lost[0], maekawa.LockLost)
    assert b_led.wait(8), "B did not lead within 8 s of the kill"
    failover = time.monotonic() - killed
    watcher.join(timeout=8)
    watching.set()
    print(
        f"\nelection: A noticed its loss after {a_noticed * 1000:.0f} ms; B led {failover:.2f} s after kill -9 of node 0"
    )
    assert [l.value for _, l in seen] == ["A", "B"], seen
    assert seen[1][1].node == 1 and seen[1][1].token == b.token > a.token
    b.release()


def test_elect_is_a_lock_labelled_with_the_value(cluster):
    with maekawa.elect("solo", "me:8080", addr=cluster.addrs[2]) as term:
        assert term.held and term.node == 2
        gen = maekawa.leaders("solo", config=cluster.config)
        try:
            leader = within("the leader", 10, lambda: next(gen))
        finally:
            gen.close()
        assert leader == maekawa.Leader("me:8080", 2, term.token, term.session)


def test_python_and_maekawa_elect_see_each_other(cluster):
    watch = cluster.cli(
        "elect",
        "mixed",
        "--watch",
        "--config",
        cluster.config,
        "--interval",
        "50ms",
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    cli = None
    try:
        with maekawa.elect("mixed", "python-A", node=0, config=cluster.config) as term:
            # `maekawa elect --watch` prints `TOKEN NODE VALUE` for the Python leader.
            line = within("maekawa elect --watch to print", 10, watch.stdout.readline)
            assert line.split() == [str(term.token), "0", "python-A"]
            cli = cluster.cli(
                "elect",
                "mixed",
                "cli-B",
                "--node",
                "1",
                "--config",
                cluster.config,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                text=True,
            )
            wait_for(
                "cli-B to wait at node 1",
                5,
                lambda: "cli-B" in waiting_clients(cluster, 1, "mixed"),
            )
        # Python stepped down: the CLI candidate leads, and Python's watch reports it.
        gen = maekawa.leaders("mixed", config=cluster.config, interval=0.05)
        try:
            leader = within("a leader", 10, lambda: next(gen))
            while leader.value != "cli-B":  # it may first see the old term, never after a newer one
                leader = within("cli-B to lead", 10, lambda: next(gen))
        finally:
            gen.close()
        assert leader.node == 1 and leader.token > term.token
        line = within("maekawa elect to print its term", 10, cli.stdout.readline)
        assert line.split() == ["mixed", str(leader.token)]
    finally:
        for p in (watch, cli):
            if p is not None:
                p.send_signal(signal.SIGTERM)
                p.wait(timeout=10)
