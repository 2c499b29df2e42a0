"""maekawa: take named locks, semaphores and elections from a maekawa cluster.

A maekawa cluster (the Rust daemon of this repository) grants named locks by Maekawa's quorum
voting, each acquisition with a fencing token larger than every earlier one. This package is
its Python client: :func:`lock` holds a lock through one daemon for as long as a gRPC session
lives and says at once when it is lost; :func:`elect` and :func:`leaders` build leader election
on it. It depends on grpcio and protobuf only, and knows the daemon only through the wire
(wire/proto/maekawa.proto)::

    import maekawa
    with maekawa.lock("counter", addr="127.0.0.1:50051", timeout=5) as held:
        print(held.token)   # hand it to the resource; stop if held.lost is set
"""

from .election import Leader, elect, leaders
from .errors import (
    ConfigError,
    InvalidName,
    LockLost,
    MaekawaError,
    ProtocolError,
    Refused,
    TimedOut,
    TlsError,
    Unreachable,
)
from .lock import MAX_LIMIT, MAX_NAME_LEN, Lock, lock, validate_name

__all__ = [
    "lock",
    "Lock",
    "elect",
    "leaders",
    "Leader",
    "validate_name",
    "MAX_NAME_LEN",
    "MAX_LIMIT",
    "MaekawaError",
    "InvalidName",
    "ConfigError",
    "TlsError",
    "Unreachable",
    "TimedOut",
    "LockLost",
    "Refused",
    "ProtocolError",
]

#: The package's version (the distribution is maekawa-client).
__version__ = "0.1.0"
