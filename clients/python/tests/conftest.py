"""Real daemons for the tests: a cluster of 3 ``maekawa node`` processes on free loopback ports.

The binary is ``$MAEKAWA_BIN``, else ``<repo>/target/release/maekawa`` (built with cargo if
missing). Every wait has a deadline (:func:`wait_for`); daemons are killed by PID; a test that
ran daemons ends with ``maekawa check`` over their logs, which must pass (no two holders of a
lock at once, by the daemons' own records).
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Callable, List, Optional

import grpc
import pytest

HERE = Path(__file__).resolve().parent
PACKAGE = HERE.parent
REPO = PACKAGE.parent.parent


def wait_for(what: str, deadline: float, cond: Callable[[], object], step: float = 0.02):
    """Poll ``cond`` until it returns something truthy (returned), failing after ``deadline`` s."""
    end = time.monotonic() + deadline
    while True:
        got = cond()
        if got:
            return got
        if time.monotonic() > end:
            pytest.fail(f"timed out after {deadline}s waiting for {what}")
        time.sleep(step)


def maekawa_bin() -> str:
    """The daemon binary: $MAEKAWA_BIN, else the release build (made once if missing)."""
    env = os.environ.get("MAEKAWA_BIN")
    if env:
        return env
    path = REPO / "target" / "release" / "maekawa"
    if not path.exists():
        subprocess.run(["cargo", "build", "--release", "--bin", "maekawa"], cwd=REPO, check=True)
    return str(path)


def free_ports(n: int) -> List[int]:
    """``n`` ports nothing listens on, in 10000..32000: below the ephemeral range (32768 and
    up), so no outgoing connection takes one between the probe and the daemon's bind."""
    ports: List[int] = []
    start = 10_000 + (os.getpid() * 7) % 22_000
    for port in list(range(start, 32_000)) + list(range(10_000, start)):
        with socket.socket() as s:
            try:
                s.bind(("127.0.0.1", port))
            except OSError:
                continue
        ports.append(port)
        if len(ports) == n:
            return ports
    raise RuntimeError("no free ports in 10000..32000")


class Cluster:
    """``n`` daemons of one cluster file in a temp dir; :meth:`kill` and :meth:`stop` by PID."""

    def __init__(self, dir: Path, n: int = 3) -> None:
        self.bin = maekawa_bin()
        self.dir = dir
        self.log_dir = dir / "logs"
        self.log_dir.mkdir()
        self.ports = free_ports(n)
        self.addrs = [f"127.0.0.1:{p}" for p in self.ports]
        self.config = str(dir / "quorums.json")
        nodes = [{"id": i, "addr": a} for i, a in enumerate(self.addrs)]
        Path(self.config).write_text(json.dumps({"nodes": nodes}, indent=2) + "\n")
        self.procs: List[Optional[subprocess.Popen]] = [None] * n
        self.tls = False

    def certs_init(self) -> "Cluster":
        """Make the cluster's certificates (``certs/`` beside its file): it then runs TLS."""
        subprocess.run(
            [self.bin, "certs", "init", "--config", self.config],
            check=True,
            capture_output=True,
            timeout=60,
        )
        self.tls = True
        return self

    def start(self, extra: Optional[List[str]] = None) -> "Cluster":
        """Start every node and wait (20 s deadline) until each answers ``Lock.List``."""
        for i in range(len(self.procs)):
            out = open(self.dir / f"node-{i}.out", "wb")
            self.procs[i] = subprocess.Popen(
                [
                    self.bin,
                    "node",
                    "--id",
                    str(i),
                    "--config",
                    self.config,
                    "--log-dir",
                    str(self.log_dir),
                    "--workload",
                    "manual",
                    *(extra or []),
                ],
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=subprocess.STDOUT,
            )
            out.close()
        for i in range(len(self.procs)):
            wait_for(f"node {i} to answer Lock.List", 20, lambda i=i: self.answers(i), step=0.05)
        return self

    def answers(self, i: int) -> bool:
        """Whether node ``i``'s Lock service answers now (and its process still runs)."""
        proc = self.procs[i]
        if proc is None or proc.poll() is not None:
            out = (self.dir / f"node-{i}.out").read_text(errors="replace")
            pytest.fail(f"node {i} is not running:\n{out}")
        try:
            self.list_locks(i)
            return True
        except grpc.RpcError:
            return False

    def list_locks(self, i: int, timeout: float = 1):
        """Node ``i``'s ``Lock.List`` reply (as the client's own channel makes the call)."""
        from maekawa import _connect
        from maekawa._proto import maekawa_pb2, maekawa_pb2_grpc

        creds = _connect.credentials(self.config, self.addrs, None, "client", False)
        with _connect.Target(self.addrs[i], f"node {i}", creds).channel() as ch:
            return maekawa_pb2_grpc.LockStub(ch).List(
                maekawa_pb2.ListLocksRequest(), timeout=timeout
            )

    def kill(self, i: int) -> None:
        """``kill -9`` node ``i`` by its PID and reap it."""
        proc = self.procs[i]
        assert proc is not None, f"node {i} is not running"
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait()
        self.procs[i] = None

    def stop(self) -> None:
        """SIGKILL every node still running (by PID), and reap them."""
        for i, proc in enumerate(self.procs):
            if proc is not None and proc.poll() is None:
                os.kill(proc.pid, signal.SIGKILL)
            if proc is not None:
                proc.wait()
            self.procs[i] = None

    def check(self) -> None:
        """``maekawa check`` over the logs must pass."""
        out = subprocess.run(
            [self.bin, "check", "--log-dir", str(self.log_dir), "--config", self.config],
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert out.returncode == 0, f"maekawa check failed:\n{out.stdout}{out.stderr}"

    def cli(self, *args: str, **kw) -> subprocess.Popen:
        """``maekawa ARGS`` (e.g. ``lock NAME --node 0 --config F -- CMD``), started."""
        return subprocess.Popen([self.bin, *args], **kw)


@pytest.fixture
def cluster(tmp_path):
    """A running 3-node cluster; at the end its daemons are killed and its logs checked."""
    c = Cluster(tmp_path).start()
    try:
        yield c
    finally:
        c.stop()
    c.check()


@pytest.fixture
def python():
    """The interpreter running the tests (the one the package is installed in)."""
    return sys.executable


def within(what: str, deadline: float, fn: Callable[[], object]):
    """``fn()``'s value, failing the test if it has not returned within ``deadline`` seconds
    (for calls that block, such as reading a line from a process or the next leader)."""
    import threading

    box: dict = {}

    def run():
        try:
            box["value"] = fn()
        except BaseException as e:  # re-raised in the test's thread
            box["error"] = e

    t = threading.Thread(target=run, daemon=True)
    t.start()
    t.join(deadline)
    if t.is_alive():
        pytest.fail(f"timed out after {deadline}s waiting for {what}")
    if "error" in box:
        raise box["error"]
    return box["value"]
