"""A semaphore (limit=2) shared by 6 clients through 3 daemons: never more than 2 holders,
and each slot's tokens grow."""

import signal
import subprocess
import threading
import time

import pytest

import maekawa
from conftest import within


def test_six_clients_share_a_semaphore_of_two(cluster):
    guard = threading.Lock()
    state = {"holders": 0, "most": 0}
    by_slot = {}  # slot -> tokens in the order the slot was held
    errors = []

    def client(i):
        try:
            for _ in range(5):
                with maekawa.lock(
                    "pool", node=i % 3, config=cluster.config, limit=2, timeout=60
                ) as held:
                    assert held.slot in (1, 2), held.slot
                    with guard:
                        state["holders"] += 1
                        state["most"] = max(state["most"], state["holders"])
                        by_slot.setdefault(held.slot, []).append(held.token)
                    time.sleep(0.02)  # the work under the semaphore
                    held.check()
                    with guard:
                        state["holders"] -= 1
        except Exception as e:  # reported below, with the thread's number
            errors.append(f"client {i}: {type(e).__name__}: {e}")

    threads = [threading.Thread(target=client, args=(i,)) for i in range(6)]
    start = time.monotonic()
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
        assert not t.is_alive(), "a semaphore client did not finish within 120 s"
    took = time.monotonic() - start
    assert not errors, errors
    print(
        f"\nsemaphore: 30 holds of 20 ms by 6 clients in {took:.2f} s, at most {state['most']} at once, "
        f"holds per slot {({s: len(t) for s, t in sorted(by_slot.items())})}"
    )
    assert state["most"] == 2, f"holders at once peaked at {state['most']}"
    assert sum(len(t) for t in by_slot.values()) == 30
    for slot, tokens in by_slot.items():
        assert all(a < b for a, b in zip(tokens, tokens[1:])), f"slot {slot}'s tokens: {tokens}"


def test_a_full_semaphore_turns_a_third_try_once_away(cluster):
    with maekawa.lock("pool2", node=0, config=cluster.config, limit=2) as a:
        with maekawa.lock("pool2", node=1, config=cluster.config, limit=2, timeout=5) as b:
            assert {a.slot, b.slot} == {1, 2}
            with pytest.raises(maekawa.TimedOut):
                maekawa.lock("pool2", node=2, config=cluster.config, limit=2, timeout=0).acquire()


def test_python_and_maekawa_lock_limit_share_one_semaphore(cluster):
    holder = cluster.cli(
        "lock",
        "mixed",
        "--limit",
        "2",
        "--node",
        "0",
        "--config",
        cluster.config,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        # `NAME#SLOT TOKEN` once it holds a slot.
        line = within("maekawa lock to hold a slot", 10, holder.stdout.readline).split()
        assert len(line) == 2 and line[0] in ("mixed#1", "mixed#2"), line
        with maekawa.lock("mixed", node=1, config=cluster.config, limit=2, timeout=5) as held:
            assert f"mixed#{held.slot}" != line[0]
            with pytest.raises(maekawa.TimedOut):
                maekawa.lock("mixed", node=2, config=cluster.config, limit=2, timeout=0).acquire()
    finally:
        holder.send_signal(signal.SIGTERM)
        assert holder.wait(timeout=10) == 0
