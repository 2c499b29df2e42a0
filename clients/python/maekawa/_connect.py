"""Where a daemon is and how to talk to it: the cluster file, TLS or plaintext, and the gRPC
channel with the keepalive every client of the cluster uses.

Decides as the Rust CLI does (client/src/tls.rs, ``Security::choose``): mutual TLS when the
certificates directory holds ``ca.pem``, plaintext only when every address involved is a
loopback address or ``insecure=True``. It opens channels but sends nothing on them: the Lock
service's protocol is in :mod:`maekawa.lock` and :mod:`maekawa.election`.
"""

from __future__ import annotations

import ipaddress
import json
import os
from dataclasses import dataclass
from typing import List, Optional, Sequence, Tuple

import grpc

from .errors import ConfigError, TlsError

#: How often the channel pings the daemon (HTTP/2 keepalive), idle or not, in milliseconds.
KEEPALIVE_TIME_MS = 1000
#: How long a ping may go unanswered before the connection is dropped (and a held lock is
#: reported lost): a daemon whose host vanished is noticed within about 3 s.
KEEPALIVE_TIMEOUT_MS = 2000
#: How long opening a connection may take before the daemon counts as unreachable.
CONNECT_TIMEOUT_MS = 2000
#: The DNS name every node certificate is valid for and every client checks.
CLUSTER_NAME = "maekawa"
#: The CA certificate's file in a certificates directory.
CA_CERT = "ca.pem"

_CHANNEL_OPTIONS = [
    ("grpc.keepalive_time_ms", KEEPALIVE_TIME_MS),
    ("grpc.keepalive_timeout_ms", KEEPALIVE_TIMEOUT_MS),
    ("grpc.keepalive_permit_without_calls", 1),
    ("grpc.http2.max_pings_without_data", 0),
    # gRPC core waits this long for any ping's answer (default 1 min), keepalive pings
    # included: without it a frozen daemon (its host gone, its TCP still open) is not noticed.
    ("grpc.http2.ping_timeout_ms", KEEPALIVE_TIMEOUT_MS),
    # gRPC core gives a connection attempt at least this long (default 20 s).
    ("grpc.min_reconnect_backoff_ms", CONNECT_TIMEOUT_MS),
    # One connection per channel, as the Rust client has: a lock's session never shares its
    # connection (and its fate) with another channel of the process.
    ("grpc.use_local_subchannel_pool", 1),
]


@dataclass(frozen=True)
class Target:
    """One daemon to talk to: its address, how messages name it, and the credentials."""

    addr: str
    daemon: str
    credentials: Optional[grpc.ChannelCredentials]

    def channel(self) -> grpc.Channel:
        """A new channel to the daemon (not yet connected: gRPC connects at the first call)."""
        options = list(_CHANNEL_OPTIONS)
        if self.credentials is None:
            return grpc.insecure_channel(self.addr, options=options)
        options += [
            ("grpc.ssl_target_name_override", CLUSTER_NAME),
            ("grpc.default_authority", CLUSTER_NAME),
        ]
        return grpc.secure_channel(self.addr, self.credentials, options=options)


def load_nodes(config: str) -> List[Tuple[int, str]]:
    """The ``(id, addr)`` of every node in the cluster file ``config``, in file order."""
    try:
        with open(config, encoding="utf-8") as f:
            text = f.read()
    except FileNotFoundError:
        raise ConfigError(
            f"{config}: file not found; create it (see quorums.json at the top of the "
            "repository) or pass config=FILE"
        ) from None
    except (OSError, UnicodeDecodeError) as e:
        why = e.strerror if isinstance(e, OSError) and e.strerror else str(e)
        raise ConfigError(
            f"{config}: cannot read the file ({why}); make it a readable UTF-8 text file, "
            "create it or pass config=FILE"
        ) from None
    try:
        data = json.loads(text)
    except json.JSONDecodeError as e:
        raise ConfigError(
            f"{config}: line {e.lineno} column {e.colno}: invalid JSON: {e.msg}; fix the "
            "syntax there"
        ) from None
    example = '{"id": 0, "addr": "127.0.0.1:50051"}'
    nodes = data.get("nodes") if isinstance(data, dict) else None
    if not isinstance(nodes, list) or not nodes:
        raise ConfigError(f"{config}: nodes: missing or empty; list every node as {example}")
    found = []
    for i, n in enumerate(nodes):
        ok = isinstance(n, dict)
        node_id, addr = (n.get("id"), n.get("addr")) if ok else (None, None)
        if isinstance(node_id, bool) or not isinstance(node_id, int) or not isinstance(addr, str):
            raise ConfigError(f"{config}: nodes[{i}]: not a node; write it as {example}")
        found.append((node_id, addr))
    return found


def node_addr(config: str, node: int, nodes: Sequence[Tuple[int, str]]) -> str:
    """Node ``node``'s address among ``nodes``, those of the cluster file ``config``."""
    for node_id, addr in nodes:
        if node_id == node:
            return addr
    known = ", ".join(str(i) for i, _ in nodes)
    raise ConfigError(
        f"{config}: id {node} is not in the file; use one of {known} or add it to nodes"
    )


def is_loopback(addr: str) -> bool:
    """Whether ``addr`` (``host:port``) is a loopback address: 127.0.0.0/8, ::1 or localhost."""
    host = addr.rsplit(":", 1)[0] if ":" in addr else addr
    host = host.lstrip("[").rstrip("]")
    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def certs_dir(config: str, certs: Optional[str]) -> str:
    """The certificates directory: ``certs`` if given, else ``certs/`` beside the cluster file
    (where ``maekawa certs init`` puts them, so daemons and clients of one file agree)."""
    if certs is not None:
        return os.fspath(certs)
    return os.path.join(os.path.dirname(os.fspath(config)) or ".", "certs")


def credentials(
    config: str,
    addrs: Sequence[str],
    certs: Optional[str],
    identity: str,
    insecure: bool,
) -> Optional[grpc.ChannelCredentials]:
    """Mutual TLS credentials for a process that talks to ``addrs``, or ``None`` for
    plaintext (allowed only on loopback, or with ``insecure``). ``config`` names the cluster
    file in messages and locates the default certificates directory."""
    if insecure:
        return None
    directory = certs_dir(config, certs)
    if os.path.exists(os.path.join(directory, CA_CERT)):

        def read(name: str) -> bytes:
            path = os.path.join(directory, name)
            try:
                with open(path, "rb") as f:
                    return f.read()
            except OSError as e:
                raise TlsError(
                    f"{path}: cannot read ({e.strerror or e}); make the certificates with "
                    f"`maekawa certs init --config {config}` (or pass certs=DIR)"
                ) from None

        return grpc.ssl_channel_credentials(
            root_certificates=read(CA_CERT),
            private_key=read(f"{identity}.key"),
            certificate_chain=read(f"{identity}.pem"),
        )
    for addr in addrs:
        if not is_loopback(addr):
            raise TlsError(
                f"{config}: node addresses are not all loopback ({addr}) and {directory} has "
                f"no {CA_CERT}: make certificates with `maekawa certs init --config {config}`, "
                "or pass insecure=True to send everything in plaintext"
            )
    return None


def target(
    *,
    addr: Optional[str],
    node: Optional[int],
    config: str,
    certs: Optional[str],
    identity: str,
    insecure: bool,
) -> Target:
    """The daemon that ``addr`` or ``node`` (of ``config``) names, with its credentials.

    With ``node`` the whole cluster file decides TLS (as ``maekawa lock --node``); with
    ``addr`` only that address does, and the file is not read."""
    if node is not None:
        nodes = load_nodes(config)
        addr = node_addr(config, node, nodes)
        creds = credentials(config, [a for _, a in nodes], certs, identity, insecure)
        return Target(addr, f"node {node} at {addr}", creds)
    assert addr is not None
    plain = addr
    for scheme in ("http://", "https://"):
        if plain.startswith(scheme):
            plain = plain[len(scheme) :]
    plain = plain.rstrip("/")
    creds = credentials(config, [plain], certs, identity, insecure)
    return Target(plain, f"the daemon at {plain}", creds)


def status_text(e: grpc.RpcError) -> str:
    """What a failed call says: its details, or its code's name when there are none."""
    details = e.details() if hasattr(e, "details") else None
    if details:
        return details
    code = e.code() if hasattr(e, "code") else None
    return code.name.lower().replace("_", " ") if code is not None else str(e)
