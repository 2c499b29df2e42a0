"""redis_lock_bench.py --mode redis|redlock ADDRS CLIENTS SECONDS HOLD_MS: CLIENTS processes take
and release the same lock in a loop for SECONDS, holding it HOLD_MS; prints one JSON object with
locks per second and the acquire latency, in the format of bench/zk-lock and bench/etcd-lock,
for comparison with `maekawa bench`.

  --mode redis    ADDRS is one HOST:PORT: redis-py's `Lock` (`Redis.lock(name, timeout=...,
                  blocking=True)`: SET NX PX to take it, a Lua script to release it).
  --mode redlock  ADDRS is the comma-separated HOST:PORT of independent Redis masters (3 in
                  scripts/bench-locks.sh): pottery's `Redlock` on all of them (taken when a
                  majority said yes within the lease).

The Redis and Redlock sides of scripts/bench-locks.sh, run with the redis-py and pottery that
script installs. One process per client, not one thread, as for kazoo: threads would queue on
the GIL. Each client has its own connection(s).

Neither lock queues its waiters: a client that finds it taken sleeps and tries again (redis-py:
`sleep`, its default 0.1 s; pottery: a random 0 to 0.2 s), so the client that just released it
can take it again at once, ahead of the sleepers. locks_min_per_client and locks_max_per_client
show how evenly it went round. The lease (redis-py's `timeout`, pottery's `auto_release_time`)
is 10 s, pottery's default, or twice the hold if that is longer: no hold outlives it.
"""

import argparse
import importlib.metadata
import json
import multiprocessing
import sys
import time
from queue import Empty

LOCK_NAME = "maekawa-bench-lock"


def connect(addr):
    import redis

    host, _, port = addr.rpartition(":")
    if not host or not port.isdigit():
        raise SystemExit(f"error: '{addr}' is not HOST:PORT")
    r = redis.Redis(host=host, port=int(port), socket_timeout=30, socket_connect_timeout=10)
    r.ping()
    return r


def make_lock(mode, addrs, lease):
    if mode == "redis":
        return connect(addrs[0]).lock(LOCK_NAME, timeout=lease, blocking=True)
    from pottery import Redlock

    return Redlock(key=LOCK_NAME, masters={connect(a) for a in addrs}, auto_release_time=lease)


def client(mode, addrs, hold, lease, seconds, ready, go, out):
    lock = make_lock(mode, addrs, lease)
    ready.put(True)
    go.wait()  # every client is connected: start together (CLOCK_MONOTONIC is system-wide)
    deadline = time.monotonic() + seconds
    latencies = []
    while time.monotonic() < deadline:
        asked = time.perf_counter()
        if not lock.acquire(blocking=True):
            raise SystemExit("error: a blocking acquire returned False")
        latencies.append((time.perf_counter() - asked) * 1000.0)
        if hold:
            time.sleep(hold)
        lock.release()
    out.put(latencies)


def main():
    parser = argparse.ArgumentParser(
        description="CLIENTS processes contending for one Redis lock (redis-py Lock) or "
        "Redlock (pottery); prints one JSON object"
    )
    parser.add_argument("--mode", required=True, choices=["redis", "redlock"])
    parser.add_argument("addrs", metavar="ADDRS", help="HOST:PORT[,HOST:PORT...]")
    parser.add_argument("clients", metavar="CLIENTS", type=int)
    parser.add_argument("seconds", metavar="SECONDS", type=float)
    parser.add_argument("hold_ms", metavar="HOLD_MS", type=int)
    args = parser.parse_args()
    addrs = [a for a in args.addrs.split(",") if a]
    if args.mode == "redis" and len(addrs) != 1:
        parser.error("--mode redis takes one HOST:PORT")
    if not addrs:
        parser.error("ADDRS is empty")
    if args.clients < 1 or args.seconds <= 0 or args.hold_ms < 0:
        parser.error("CLIENTS must be positive, SECONDS positive, HOLD_MS not negative")
    clients, seconds, hold = args.clients, args.seconds, args.hold_ms / 1000.0
    lease = max(10.0, 2 * hold)

    ready, go, out = multiprocessing.Queue(), multiprocessing.Event(), multiprocessing.Queue()
    procs = [
        multiprocessing.Process(
            target=client, args=(args.mode, addrs, hold, lease, seconds, ready, go, out)
        )
        for _ in range(clients)
    ]
    for p in procs:
        p.start()

    def collect(queue, within, what):
        """One item from each client, or exit: a client died, or `within` seconds passed."""
        items, give_up = [], time.monotonic() + within
        while len(items) < clients:
            try:
                items.append(queue.get(timeout=0.5))
            except Empty:
                failed = [p.exitcode for p in procs if p.exitcode not in (None, 0)]
                late = time.monotonic() > give_up
                if failed or late:
                    for p in procs:
                        p.terminate()
                    why = (f"a client exited with code {failed[0]}" if failed
                           else f"not in {within:.0f} s")
                    print(f"error: {what}: {why}", file=sys.stderr)
                    sys.exit(1)
        return items

    collect(ready, 60, "the clients did not all connect")
    go.set()
    began = time.monotonic()
    per_client = collect(out, seconds + 60, "the clients did not all finish")
    for p in procs:
        p.join()
        if p.exitcode != 0:
            print(f"error: a client exited with code {p.exitcode}", file=sys.stderr)
            sys.exit(1)
    elapsed = max(time.monotonic() - began, seconds)
    latencies = sorted(x for c in per_client for x in c)
    counts = [len(c) for c in per_client]

    def pct(p):
        return latencies[round((len(latencies) - 1) * p)] if latencies else 0.0

    if args.mode == "redis":
        library = f"redis-py {importlib.metadata.version('redis')} Lock"
    else:
        library = (f"pottery {importlib.metadata.version('pottery')} Redlock "
                   f"(redis-py {importlib.metadata.version('redis')})")
    print(json.dumps({
        "acquire_max_ms": latencies[-1] if latencies else 0.0,
        "acquire_p50_ms": pct(0.5),
        "acquire_p99_ms": pct(0.99),
        "clients": clients,
        "lease_seconds": lease,
        "library": library,
        "locks": len(latencies),
        "locks_max_per_client": max(counts),
        "locks_min_per_client": min(counts),
        "locks_per_second": len(latencies) / elapsed,
        "masters": len(addrs),
        "seconds": seconds,
        "system": args.mode,
    }, sort_keys=True))


if __name__ == "__main__":
    main()
