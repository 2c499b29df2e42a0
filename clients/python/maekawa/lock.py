"""Take a named lock (or one slot of a semaphore) through one daemon, hold it while a session
lives, and notice at once when it is lost.

One lock is one bidirectional ``maekawa.Lock/Session`` stream (wire/proto/maekawa.proto): the
client sends one ``Acquire`` and keeps its sending half open; the daemon answers ``Acquired``
(or ``TimedOut``); ``ReleaseLock`` is answered by ``Released``. While the lock is held, ANY
other end of the response stream means it is lost: a background thread reads the stream and
sets :attr:`Lock.lost` then. The channel pings every second and gives up after 2 s without an
answer, so a dead daemon is noticed at once (killed: its connection closes) or within about 3 s
(its host vanished).

This module speaks the session protocol; where the daemon is and how to reach it is
:mod:`maekawa._connect`'s business.
"""

from __future__ import annotations

import math
import os
import queue
import socket
import threading
from typing import Callable, Iterator, Optional

import grpc

from ._connect import Target, status_text, target
from ._proto import maekawa_pb2 as pb
from ._proto import maekawa_pb2_grpc as pb_grpc
from .errors import InvalidName, LockLost, ProtocolError, Refused, TimedOut, Unreachable

__all__ = ["Lock", "lock", "validate_name", "MAX_NAME_LEN", "MAX_LIMIT"]

#: The longest lock name, in bytes.
MAX_NAME_LEN = 128
#: The most slots a semaphore may have.
MAX_LIMIT = 64


def validate_name(name: str) -> None:
    """Raise :class:`InvalidName` unless ``name`` is 1 to 128 bytes of printable ASCII
    without spaces (``!`` to ``~``). The daemon checks the same; checking here gives the
    clearer message first, without a round trip."""
    if not isinstance(name, str):
        raise InvalidName(repr(name), f"it is a {type(name).__name__}, not a str")
    if not name:
        raise InvalidName(name, "it is empty")
    size = len(name.encode("utf-8"))
    if size > MAX_NAME_LEN:
        raise InvalidName(name, f"it is {size} bytes long")
    at = 0
    for c in name:
        if not ("!" <= c <= "~"):
            raise InvalidName(name, f"it contains {c!r} at byte {at}")
        at += len(c.encode("utf-8"))


def default_client_label() -> str:
    """What ``maekawa locks`` shows for a session by default: ``python pid 4242 on HOST``."""
    return f"python pid {os.getpid()} on {socket.gethostname()}"


class _Session:
    """One acquisition's stream and what its watcher thread learned (a fresh one per acquire,
    so a Lock can be taken again after a release)."""

    def __init__(self, channel: grpc.Channel) -> None:
        self.channel = channel
        self.requests: "queue.SimpleQueue[Optional[pb.LockClientMsg]]" = queue.SimpleQueue()
        self.call = None
        self.releasing = False
        self.closing = False
        self.done = threading.Event()

    def outgoing(self) -> Iterator[pb.LockClientMsg]:
        """The client half of the stream: open until ``None`` is queued."""
        while True:
            msg = self.requests.get()
            if msg is None:
                return
            yield msg

    def close(self) -> None:
        """End the call (which releases a held lock without confirmation) and the channel."""
        self.closing = True
        self.requests.put(None)
        if self.call is not None:
            self.call.cancel()
        self.channel.close()


class Lock:
    """A named lock (or a semaphore's slot) taken through one daemon.

    Use it as a context manager (acquire on enter, release on exit, waiting for the daemon to
    confirm) or with :meth:`acquire` / :meth:`release`. While it is held, :attr:`token` is the
    fencing token to hand to the resource you protect, and :attr:`lost` is set the moment the
    session breaks: then stop using the resource, someone else may hold the lock. Build it
    with :func:`lock`.
    """

    def __init__(
        self,
        name: str,
        *,
        addr: Optional[str] = None,
        node: Optional[int] = None,
        config: str = "quorums.json",
        timeout: Optional[float] = None,
        limit: Optional[int] = None,
        client: Optional[str] = None,
        on_lost: Optional[Callable[[LockLost], None]] = None,
        certs: Optional[str] = None,
        identity: str = "client",
        insecure: bool = False,
    ) -> None:
        validate_name(name)
        if (addr is None) == (node is None):
            raise ValueError(
                "give exactly one of addr= (HOST:PORT) or node= (an id of the cluster file)"
            )
        if node is not None and (isinstance(node, bool) or not isinstance(node, int) or node < 0):
            raise ValueError(f"node {node!r}: a node id is a non-negative int")
        if timeout is not None and not (timeout >= 0):
            raise ValueError(
                f"timeout {timeout!r}: give seconds >= 0 (0 = try once) or None (wait forever)"
            )
        if limit is not None and (
            isinstance(limit, bool) or not isinstance(limit, int) or not 1 <= limit <= MAX_LIMIT
        ):
            raise ValueError(f"invalid limit {limit!r}: a semaphore has 1 to {MAX_LIMIT} slots")
        #: The lock's name as asked for (a semaphore's slot is ``NAME#SLOT``: see :attr:`slot`).
        self.name = name
        self._where = dict(
            addr=addr, node=node, config=config, certs=certs, identity=identity, insecure=insecure
        )
        self._timeout = timeout
        self._limit = limit
        self._client = default_client_label() if client is None else client
        self._on_lost = on_lost
        self._guard = threading.Lock()
        self._session: Optional[_Session] = None
        self._target: Optional[Target] = None
        # What the daemon calls the lock held (a semaphore's slot: NAME#SLOT), for messages.
        self._held_name = name
        #: Set (from the watcher thread) when the lock is lost while held; a fresh Event at
        #: each acquire. Wait on it, or poll it between steps of the work.
        self.lost = threading.Event()
        #: Why the lock was lost (one line), or None while it is not.
        self.lost_reason: Optional[str] = None
        #: The fencing token of this acquisition: larger than every earlier holder's of this
        #: lock (of this slot, for a semaphore). None until acquired.
        self.token: Optional[int] = None
        #: The node (daemon) that serves the session. None until acquired.
        self.node: Optional[int] = None
        #: The session's id at that daemon, as ``maekawa locks`` shows it. None until acquired.
        self.session: Optional[int] = None
        #: For a semaphore (``limit`` of 2 or more), which slot is held (1 to limit); None for
        #: a mutex.
        self.slot: Optional[int] = None

    @property
    def daemon(self) -> Optional[str]:
        """Who the lock was last taken through, as messages name it (``node 1 at ADDR``)."""
        return self._target.daemon if self._target is not None else None

    @property
    def held(self) -> bool:
        """Whether the lock was acquired and is neither released nor lost."""
        return self._session is not None and not self.lost.is_set()

    def acquire(self) -> "Lock":
        """Wait for the lock (at most ``timeout`` seconds) and hold it; returns self.

        Raises :class:`TimedOut` when the wait ends first, :class:`Unreachable` when the daemon
        cannot be reached, :class:`Refused` when it refuses the session, and
        :class:`ConfigError` / :class:`TlsError` before any connection when the cluster file or
        certificates are wrong. A KeyboardInterrupt during the wait abandons it.
        """
        with self._guard:
            if self._session is not None:
                raise RuntimeError(
                    f"lock {self.name} is already held by this Lock; release it first"
                )
            t = target(**self._where)
            self._target = t
            session = _Session(t.channel())
            acquire = pb.Acquire(name=self.name, client=self._client)
            if self._timeout is not None:
                acquire.timeout_ms = math.ceil(self._timeout * 1000)
            if self._limit is not None:
                acquire.limit = self._limit
            # Queued before the call starts, so the Acquire is the stream's first message.
            session.requests.put(pb.LockClientMsg(acquire=acquire))
            try:
                session.call = pb_grpc.LockStub(session.channel).Session(
                    session.outgoing(), wait_for_ready=False
                )
                first = next(session.call)
            except StopIteration:
                session.close()
                raise Refused(t.daemon, "it ended the session without an answer") from None
            except grpc.RpcError as e:
                session.close()
                raise _status_error(t.daemon, e) from None
            except BaseException:
                session.close()
                raise
            kind = first.WhichOneof("body")
            if kind == "timed_out":
                session.close()
                raise TimedOut(self.name, first.timed_out.waited_ms / 1000, t.daemon)
            if kind != "acquired":
                session.close()
                raise ProtocolError(t.daemon, f"{_kind_name(kind)} before Acquired")
            a = first.acquired
            self.lost = threading.Event()
            self.lost_reason = None
            self.token = a.token
            self.node = a.node
            self.session = a.session
            self.slot = a.slot if a.slot else None
            self._held_name = a.name or self.name
            self._session = session
            threading.Thread(
                target=self._watch, args=(session,), name=f"maekawa lock {self.name}", daemon=True
            ).start()
            return self

    def _watch(self, session: _Session) -> None:
        """Read the rest of the stream while the lock is held: anything but the ``Released``
        that answers our release means the lock is lost."""
        why = self._read_end(session)
        session.requests.put(None)
        if why is None:
            session.done.set()
            return
        # Lost is set before release() may wake, and on_lost runs after it may, so that an
        # on_lost that releases does not wait for itself.
        self.lost_reason = why
        self.lost.set()
        session.done.set()
        session.close()  # nothing more will come: free the connection now
        if self._on_lost is not None:
            self._on_lost(self._lost_error())

    @staticmethod
    def _read_end(session: _Session) -> Optional[str]:
        """How the stream ended: None for the Released we asked for (or our own cancel),
        else why the lock is lost."""
        try:
            msg = next(session.call)
        except StopIteration:
            if session.releasing:
                return "the daemon ended the session before confirming the release"
            return "the daemon ended the session"
        except grpc.RpcError as e:
            return None if session.closing else f"the session broke: {status_text(e)}"
        kind = msg.WhichOneof("body")
        if kind == "released":
            return None if session.releasing else "the daemon released it without being asked"
        if session.releasing:
            return "the daemon sent an unexpected message instead of Released"
        return "the daemon sent an unexpected message"

    def _lost_error(self) -> LockLost:
        return LockLost(self._held_name, self.token or 0, self.lost_reason or "")

    def check(self) -> None:
        """Raise :class:`LockLost` if the lock was lost: call it between steps of the work
        done under the lock, and before each write to the protected resource."""
        if self.lost.is_set():
            raise self._lost_error()

    def release(self) -> None:
        """Release the lock and wait for the daemon to confirm (``Released``).

        Raises :class:`LockLost` when the session had ended before: then the work done since
        the loss may have run without the lock.
        """
        with self._guard:
            session = self._session
            if session is None:
                raise RuntimeError(f"lock {self.name} is not held by this Lock")
            if not self.lost.is_set():
                session.releasing = True
                session.requests.put(pb.LockClientMsg(release=pb.ReleaseLock()))
                # Bounded by the keepalive: a daemon that does not answer is dropped within 3 s.
                session.done.wait()
            session.close()
            self._session = None
            if self.lost.is_set():
                raise self._lost_error()

    def __enter__(self) -> "Lock":
        return self.acquire()

    def __exit__(self, exc_type, exc, tb) -> None:
        if exc_type is None:
            self.release()
            return
        # The body's own exception says more than a loss it may have caused or seen.
        try:
            self.release()
        except (LockLost, RuntimeError):
            pass

    def __repr__(self) -> str:
        state = "lost" if self.lost.is_set() else "held" if self._session else "not held"
        return f"<maekawa.Lock {self.name} {state} token={self.token} node={self.node} slot={self.slot}>"


def lock(
    name: str,
    *,
    addr: Optional[str] = None,
    node: Optional[int] = None,
    config: str = "quorums.json",
    timeout: Optional[float] = None,
    limit: Optional[int] = None,
    client: Optional[str] = None,
    on_lost: Optional[Callable[[LockLost], None]] = None,
    certs: Optional[str] = None,
    identity: str = "client",
    insecure: bool = False,
) -> Lock:
    """A :class:`Lock` on ``name``, not yet acquired: ``with maekawa.lock("counter", addr=...)
    as held:`` takes it for the block.

    Give exactly one of ``addr`` (``HOST:PORT`` of a daemon) or ``node`` (an id of the cluster
    file ``config``). ``timeout`` is in seconds (0 = try once, None = wait forever). ``limit``
    of 2 to 64 makes it a semaphore: any one of ``limit`` slots (every holder must give the
    same limit). ``client`` is the label ``maekawa locks`` shows (default ``python pid N on
    HOST``). ``on_lost(err)`` is called once, from the watcher thread, when the lock is lost.
    ``certs``, ``identity`` and ``insecure`` choose TLS as the ``maekawa`` CLI does. The name
    is checked here (:class:`InvalidName`), before any daemon is contacted.
    """
    return Lock(
        name,
        addr=addr,
        node=node,
        config=config,
        timeout=timeout,
        limit=limit,
        client=client,
        on_lost=on_lost,
        certs=certs,
        identity=identity,
        insecure=insecure,
    )


def _kind_name(kind: Optional[str]) -> str:
    return {"acquired": "Acquired", "timed_out": "TimedOut", "released": "Released"}.get(
        kind or "", "an empty message"
    )


def _status_error(daemon: str, e: grpc.RpcError) -> Exception:
    """The typed error for a status that ends a session before Acquired (as the Rust client)."""
    code = e.code() if hasattr(e, "code") else None
    if code == grpc.StatusCode.UNAVAILABLE:
        return Unreachable(daemon, status_text(e))
    if code == grpc.StatusCode.UNIMPLEMENTED:
        return Refused(daemon, "it does not serve the Lock service (an older maekawa?)")
    return Refused(daemon, status_text(e))
