"""Why a lock could not be taken, kept or released: one exception class per thing a caller
may want to handle differently.

Every message is one line saying what is wrong and, where there is one, the fix, worded as
the Rust client's (client/src/client.rs) so that one cluster reads the same from every
language; a message about a daemon names it as ``the daemon at ADDR`` or ``node N at ADDR``.
This module only defines the types; it talks to nothing.
"""

from __future__ import annotations

__all__ = [
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


class MaekawaError(Exception):
    """The base of every error this package raises, so one ``except`` catches them all."""


class InvalidName(MaekawaError, ValueError):
    """The lock name breaks the rules (1 to 128 bytes of printable ASCII without spaces).

    Raised before any daemon is contacted; also a ValueError, as it is a bad argument.
    """

    def __init__(self, name: str, why: str) -> None:
        self.name = name
        self.why = why
        super().__init__(
            f"invalid lock name {name!r}: {why}; a lock name is 1 to 128 bytes of printable "
            "ASCII without spaces"
        )


class ConfigError(MaekawaError):
    """The cluster file cannot be read or does not give the node asked for."""


class TlsError(MaekawaError):
    """The certificates cannot be read, or the cluster needs them and has none."""


class Unreachable(MaekawaError):
    """Nothing answers at the daemon's address (or the connection broke before any answer).

    Worth retrying later or through another node: no lock was taken.
    """

    def __init__(self, daemon: str, why: str) -> None:
        self.daemon = daemon
        self.why = why
        super().__init__(f"cannot reach {daemon}: {why}; is the node running?")


class TimedOut(MaekawaError):
    """The wait for the lock ended (``timeout=``) before it was acquired: someone else holds it."""

    def __init__(self, name: str, waited: float, daemon: str) -> None:
        self.name = name
        self.waited = waited
        self.daemon = daemon
        super().__init__(
            f"timed out after {format_duration(waited)} waiting for lock {name} at {daemon}"
        )


class LockLost(MaekawaError):
    """The session broke while the lock was held: the lock may already be someone else's.

    Whoever sees it must stop using the resource and the token at once.
    """

    def __init__(self, name: str, token: int, why: str) -> None:
        self.name = name
        self.token = token
        self.why = why
        super().__init__(f"lock {name} (token {token}) was lost: {why}")


class Refused(MaekawaError):
    """The daemon refused the call (a gRPC error status: a bad limit, too many sessions, a
    certificate without the right role...), or ended the session before answering."""

    def __init__(self, daemon: str, why: str) -> None:
        self.daemon = daemon
        self.why = why
        super().__init__(f"{daemon} refused: {why}")


class ProtocolError(MaekawaError):
    """The daemon answered something the protocol does not allow (a bug on one side)."""

    def __init__(self, daemon: str, why: str) -> None:
        self.daemon = daemon
        self.why = why
        super().__init__(f"protocol error from {daemon}: {why}")


def format_duration(seconds: float) -> str:
    """A duration as the Rust client prints it (humantime): ``0s``, ``500ms``, ``1m 5s``."""
    ms = max(0, round(seconds * 1000))
    if ms == 0:
        return "0s"
    parts = []
    for unit, size in (("d", 86_400_000), ("h", 3_600_000), ("m", 60_000), ("s", 1000), ("ms", 1)):
        count, ms = divmod(ms, size)
        if count:
            parts.append(f"{count}{unit}")
    return " ".join(parts)
