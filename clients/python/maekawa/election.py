"""Leader election on top of named locks: a candidate is a session waiting forever for lock
NAME whose client label is its VALUE, and the leader is whoever holds the lock.

:func:`elect` is a candidate (a :class:`~maekawa.lock.Lock` with the value as its label);
:func:`leaders` watches who leads by polling ``Lock.List`` on every node of the cluster file,
as ``maekawa elect NAME --watch`` does. The fencing token orders leaders: a leader seen late
with an older token is never reported after a newer one. No election state lives anywhere but
in the lock itself.
"""

from __future__ import annotations

import time
from concurrent.futures import Future
from dataclasses import dataclass
from typing import Callable, Iterator, List, Optional

import grpc

from . import _connect
from ._proto import maekawa_pb2 as pb
from ._proto import maekawa_pb2_grpc as pb_grpc
from .errors import LockLost
from .lock import Lock, validate_name

__all__ = ["Leader", "elect", "leaders"]

#: How long one node may take to answer ``Lock.List`` before the watch skips it this round.
LIST_DEADLINE = 1.0


@dataclass(frozen=True)
class Leader:
    """Who leads an election, as one node that holds the lock for it reports."""

    #: The leader's value: the client label of the session holding the lock.
    value: str
    #: The node (daemon) whose session holds the lock.
    node: int
    #: The fencing token of the leader's term: larger for every later leader.
    token: int
    #: The holding session's id at that node.
    session: int


def elect(
    name: str,
    value: str,
    *,
    addr: Optional[str] = None,
    node: Optional[int] = None,
    config: str = "quorums.json",
    on_lost: Optional[Callable[[LockLost], None]] = None,
    certs: Optional[str] = None,
    identity: str = "client",
    insecure: bool = False,
) -> Lock:
    """Stand as a candidate with ``value`` in election ``name``: ``with maekawa.elect(...) as
    term:`` blocks until this candidate leads and yields the held lock (``term.token`` orders
    terms, ``term.lost`` is set when leadership ends). Leaving the block steps down.

    A candidate is a lock on ``name`` whose client label is ``value``, waiting forever; the
    other keywords are :func:`maekawa.lock`'s.
    """
    if not isinstance(value, str):
        raise TypeError(
            f"value {value!r}: an election's value is a str (the leader's client label)"
        )
    return Lock(
        name,
        addr=addr,
        node=node,
        config=config,
        timeout=None,
        client=value,
        on_lost=on_lost,
        certs=certs,
        identity=identity,
        insecure=insecure,
    )


def leaders(
    name: str,
    *,
    config: str = "quorums.json",
    interval: float = 0.2,
    certs: Optional[str] = None,
    identity: str = "client",
    insecure: bool = False,
) -> Iterator[Leader]:
    """Yield each new leader of election ``name``, forever (close the generator to stop).

    Every ``interval`` seconds asks ``Lock.List`` of every node of ``config`` at once (1 s
    deadline each; nodes that do not answer are skipped this round), takes the holder of lock
    ``name`` with the largest token, and yields it when its token is larger than the last
    yielded one: the first value is the leader when the watch starts (if there is one), and
    an older leader seen late is never reported after a newer one.
    """
    validate_name(name)
    nodes = _connect.load_nodes(config)
    creds = _connect.credentials(config, [a for _, a in nodes], certs, identity, insecure)
    targets = [_connect.Target(addr, f"node {i} at {addr}", creds) for i, addr in nodes]
    channels = [t.channel() for t in targets]
    stubs = [pb_grpc.LockStub(c) for c in channels]
    last = 0
    try:
        while True:
            started = time.monotonic()
            best = _newest_holder(name, stubs)
            if best is not None and best.token > last:
                last = best.token
                yield best
            time.sleep(max(0.0, interval - (time.monotonic() - started)))
    finally:
        for c in channels:
            c.close()


def _newest_holder(name: str, stubs: List[pb_grpc.LockStub]) -> Optional[Leader]:
    """The holder of lock ``name`` with the largest token among the nodes that answer now."""
    calls: List[Future] = [
        stub.List.future(pb.ListLocksRequest(), timeout=LIST_DEADLINE) for stub in stubs
    ]
    best: Optional[Leader] = None
    for call in calls:
        try:
            reply = call.result()
        except grpc.RpcError:
            continue
        for info in reply.locks:
            if info.name == name and info.holder_session != 0:
                if best is None or info.token > best.token:
                    best = Leader(info.holder_client, reply.node, info.token, info.holder_session)
    return best
