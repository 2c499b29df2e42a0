"""zk_lock_bench.py HOSTS CLIENTS SECONDS HOLD_MS: CLIENTS processes (one ZooKeeper session
each, spread over the comma-separated HOSTS) take and release the same kazoo `Lock` in a loop
for SECONDS, holding it HOLD_MS; prints one JSON object with locks per second and the acquire
latency, in the format of bench/etcd-lock, for comparison with `maekawa bench`.

The ZooKeeper side of scripts/bench-locks.sh, run with the kazoo that script installs. One
process per client, not one thread: kazoo is Python, and threads would queue on the GIL.
"""

import json
import multiprocessing
import sys
import time

from kazoo.client import KazooClient
from kazoo.recipe.lock import Lock

LOCK_PATH = "/maekawa-bench/lock"


def client(host, hold, seconds, ready, out):
    zk = KazooClient(hosts=host, timeout=10.0)
    zk.start(timeout=30)
    zk.ensure_path(LOCK_PATH)
    lock = Lock(zk, LOCK_PATH)
    ready.wait()  # every session is open: start together (CLOCK_MONOTONIC is system-wide)
    deadline = time.monotonic() + seconds
    latencies = []
    while time.monotonic() < deadline:
        asked = time.perf_counter()
        lock.acquire()
        latencies.append((time.perf_counter() - asked) * 1000.0)
        if hold:
            time.sleep(hold)
        lock.release()
    zk.stop()
    zk.close()
    out.put(latencies)


def main():
    if len(sys.argv) != 5:
        print("usage: zk_lock_bench.py HOSTS CLIENTS SECONDS HOLD_MS", file=sys.stderr)
        sys.exit(2)
    hosts = sys.argv[1].split(",")
    clients, seconds, hold = int(sys.argv[2]), float(sys.argv[3]), int(sys.argv[4]) / 1000.0
    ready = multiprocessing.Barrier(clients + 1)
    out = multiprocessing.Queue()
    procs = [
        multiprocessing.Process(
            target=client, args=(hosts[i % len(hosts)], hold, seconds, ready, out)
        )
        for i in range(clients)
    ]
    for p in procs:
        p.start()
    ready.wait(timeout=60)
    began = time.monotonic()
    latencies = []
    for _ in procs:
        latencies.extend(out.get(timeout=seconds + 60))
    for p in procs:
        p.join()
        if p.exitcode != 0:
            print(f"error: a client exited with code {p.exitcode}", file=sys.stderr)
            sys.exit(1)
    elapsed = max(time.monotonic() - began, seconds)
    latencies.sort()

    def pct(p):
        return latencies[round((len(latencies) - 1) * p)] if latencies else 0.0

    print(json.dumps({
        "acquire_max_ms": latencies[-1] if latencies else 0.0,
        "acquire_p50_ms": pct(0.5),
        "acquire_p99_ms": pct(0.99),
        "clients": clients,
        "locks": len(latencies),
        "locks_per_second": len(latencies) / elapsed,
        "seconds": seconds,
    }, sort_keys=True))


if __name__ == "__main__":
    main()
