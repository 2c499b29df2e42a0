from google.protobuf.internal import containers as _containers
from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class Kind(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    KIND_UNSPECIFIED: _ClassVar[Kind]
    KIND_REQUEST: _ClassVar[Kind]
    KIND_GRANT: _ClassVar[Kind]
    KIND_FAILED: _ClassVar[Kind]
    KIND_INQUIRE: _ClassVar[Kind]
    KIND_YIELD: _ClassVar[Kind]
    KIND_RELEASE: _ClassVar[Kind]
    KIND_SYNC: _ClassVar[Kind]
    KIND_RESYNC: _ClassVar[Kind]
    KIND_FENCE: _ClassVar[Kind]
    KIND_FENCED: _ClassVar[Kind]
    KIND_REVOKED: _ClassVar[Kind]
    KIND_FLOOR: _ClassVar[Kind]
    KIND_CONFIG: _ClassVar[Kind]
KIND_UNSPECIFIED: Kind
KIND_REQUEST: Kind
KIND_GRANT: Kind
KIND_FAILED: Kind
KIND_INQUIRE: Kind
KIND_YIELD: Kind
KIND_RELEASE: Kind
KIND_SYNC: Kind
KIND_RESYNC: Kind
KIND_FENCE: Kind
KIND_FENCED: Kind
KIND_REVOKED: Kind
KIND_FLOOR: Kind
KIND_CONFIG: Kind

class RecallRequest(_message.Message):
    __slots__ = ("to",)
    FROM_FIELD_NUMBER: _ClassVar[int]
    TO_FIELD_NUMBER: _ClassVar[int]
    to: int
    def __init__(self, to: _Optional[int] = ..., **kwargs) -> None: ...

class RecallReply(_message.Message):
    __slots__ = ("incarnation", "token")
    INCARNATION_FIELD_NUMBER: _ClassVar[int]
    TOKEN_FIELD_NUMBER: _ClassVar[int]
    incarnation: int
    token: int
    def __init__(self, incarnation: _Optional[int] = ..., token: _Optional[int] = ...) -> None: ...

class LinkFrame(_message.Message):
    __slots__ = ("hello", "envelope", "heartbeat")
    HELLO_FIELD_NUMBER: _ClassVar[int]
    ENVELOPE_FIELD_NUMBER: _ClassVar[int]
    HEARTBEAT_FIELD_NUMBER: _ClassVar[int]
    hello: Hello
    envelope: Envelope
    heartbeat: Heartbeat
    def __init__(self, hello: _Optional[_Union[Hello, _Mapping]] = ..., envelope: _Optional[_Union[Envelope, _Mapping]] = ..., heartbeat: _Optional[_Union[Heartbeat, _Mapping]] = ...) -> None: ...

class Heartbeat(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class Hello(_message.Message):
    __slots__ = ("to", "incarnation", "token", "boot", "awaits_floor", "epoch", "addr")
    FROM_FIELD_NUMBER: _ClassVar[int]
    TO_FIELD_NUMBER: _ClassVar[int]
    INCARNATION_FIELD_NUMBER: _ClassVar[int]
    TOKEN_FIELD_NUMBER: _ClassVar[int]
    BOOT_FIELD_NUMBER: _ClassVar[int]
    AWAITS_FLOOR_FIELD_NUMBER: _ClassVar[int]
    EPOCH_FIELD_NUMBER: _ClassVar[int]
    ADDR_FIELD_NUMBER: _ClassVar[int]
    to: int
    incarnation: int
    token: int
    boot: int
    awaits_floor: bool
    epoch: int
    addr: str
    def __init__(self, to: _Optional[int] = ..., incarnation: _Optional[int] = ..., token: _Optional[int] = ..., boot: _Optional[int] = ..., awaits_floor: _Optional[bool] = ..., epoch: _Optional[int] = ..., addr: _Optional[str] = ..., **kwargs) -> None: ...

class Envelope(_message.Message):
    __slots__ = ("seq", "kind", "lamport", "req_ts", "req_node", "req_inc", "holds_grant", "to_inc", "lock", "token", "echo", "req_epoch", "config")
    SEQ_FIELD_NUMBER: _ClassVar[int]
    KIND_FIELD_NUMBER: _ClassVar[int]
    LAMPORT_FIELD_NUMBER: _ClassVar[int]
    REQ_TS_FIELD_NUMBER: _ClassVar[int]
    REQ_NODE_FIELD_NUMBER: _ClassVar[int]
    REQ_INC_FIELD_NUMBER: _ClassVar[int]
    HOLDS_GRANT_FIELD_NUMBER: _ClassVar[int]
    TO_INC_FIELD_NUMBER: _ClassVar[int]
    LOCK_FIELD_NUMBER: _ClassVar[int]
    TOKEN_FIELD_NUMBER: _ClassVar[int]
    ECHO_FIELD_NUMBER: _ClassVar[int]
    REQ_EPOCH_FIELD_NUMBER: _ClassVar[int]
    CONFIG_FIELD_NUMBER: _ClassVar[int]
    seq: int
    kind: Kind
    lamport: int
    req_ts: int
    req_node: int
    req_inc: int
    holds_grant: bool
    to_inc: int
    lock: str
    token: int
    echo: int
    req_epoch: int
    config: bytes
    def __init__(self, seq: _Optional[int] = ..., kind: _Optional[_Union[Kind, str]] = ..., lamport: _Optional[int] = ..., req_ts: _Optional[int] = ..., req_node: _Optional[int] = ..., req_inc: _Optional[int] = ..., holds_grant: _Optional[bool] = ..., to_inc: _Optional[int] = ..., lock: _Optional[str] = ..., token: _Optional[int] = ..., echo: _Optional[int] = ..., req_epoch: _Optional[int] = ..., config: _Optional[bytes] = ...) -> None: ...

class LinkAck(_message.Message):
    __slots__ = ("seq", "incarnation")
    SEQ_FIELD_NUMBER: _ClassVar[int]
    INCARNATION_FIELD_NUMBER: _ClassVar[int]
    seq: int
    incarnation: int
    def __init__(self, seq: _Optional[int] = ..., incarnation: _Optional[int] = ...) -> None: ...

class MembershipReply(_message.Message):
    __slots__ = ("epoch", "json")
    EPOCH_FIELD_NUMBER: _ClassVar[int]
    JSON_FIELD_NUMBER: _ClassVar[int]
    epoch: int
    json: str
    def __init__(self, epoch: _Optional[int] = ..., json: _Optional[str] = ...) -> None: ...

class DrainedRequest(_message.Message):
    __slots__ = ("epoch", "exempt_lock", "exempt")
    EPOCH_FIELD_NUMBER: _ClassVar[int]
    EXEMPT_LOCK_FIELD_NUMBER: _ClassVar[int]
    EXEMPT_FIELD_NUMBER: _ClassVar[int]
    epoch: int
    exempt_lock: str
    exempt: WireRequest
    def __init__(self, epoch: _Optional[int] = ..., exempt_lock: _Optional[str] = ..., exempt: _Optional[_Union[WireRequest, _Mapping]] = ...) -> None: ...

class DrainedReply(_message.Message):
    __slots__ = ("drained", "epoch", "floor", "holding")
    DRAINED_FIELD_NUMBER: _ClassVar[int]
    EPOCH_FIELD_NUMBER: _ClassVar[int]
    FLOOR_FIELD_NUMBER: _ClassVar[int]
    HOLDING_FIELD_NUMBER: _ClassVar[int]
    drained: bool
    epoch: int
    floor: int
    holding: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, drained: _Optional[bool] = ..., epoch: _Optional[int] = ..., floor: _Optional[int] = ..., holding: _Optional[_Iterable[str]] = ...) -> None: ...

class ProposeRequest(_message.Message):
    __slots__ = ("json",)
    JSON_FIELD_NUMBER: _ClassVar[int]
    json: str
    def __init__(self, json: _Optional[str] = ...) -> None: ...

class EventsRequest(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class EventLines(_message.Message):
    __slots__ = ("lines", "dropped")
    LINES_FIELD_NUMBER: _ClassVar[int]
    DROPPED_FIELD_NUMBER: _ClassVar[int]
    lines: bytes
    dropped: int
    def __init__(self, lines: _Optional[bytes] = ..., dropped: _Optional[int] = ...) -> None: ...

class CtlEmpty(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class CtlReply(_message.Message):
    __slots__ = ("ok", "message")
    OK_FIELD_NUMBER: _ClassVar[int]
    MESSAGE_FIELD_NUMBER: _ClassVar[int]
    ok: bool
    message: str
    def __init__(self, ok: _Optional[bool] = ..., message: _Optional[str] = ...) -> None: ...

class WireRequest(_message.Message):
    __slots__ = ("ts", "node", "inc", "epoch")
    TS_FIELD_NUMBER: _ClassVar[int]
    NODE_FIELD_NUMBER: _ClassVar[int]
    INC_FIELD_NUMBER: _ClassVar[int]
    EPOCH_FIELD_NUMBER: _ClassVar[int]
    ts: int
    node: int
    inc: int
    epoch: int
    def __init__(self, ts: _Optional[int] = ..., node: _Optional[int] = ..., inc: _Optional[int] = ..., epoch: _Optional[int] = ...) -> None: ...

class NodeStatus(_message.Message):
    __slots__ = ("node", "incarnation", "phase", "lamport", "request", "granted", "missing", "failed", "yielded", "lock", "queue", "entries", "workload", "suspected")
    NODE_FIELD_NUMBER: _ClassVar[int]
    INCARNATION_FIELD_NUMBER: _ClassVar[int]
    PHASE_FIELD_NUMBER: _ClassVar[int]
    LAMPORT_FIELD_NUMBER: _ClassVar[int]
    REQUEST_FIELD_NUMBER: _ClassVar[int]
    GRANTED_FIELD_NUMBER: _ClassVar[int]
    MISSING_FIELD_NUMBER: _ClassVar[int]
    FAILED_FIELD_NUMBER: _ClassVar[int]
    YIELDED_FIELD_NUMBER: _ClassVar[int]
    LOCK_FIELD_NUMBER: _ClassVar[int]
    QUEUE_FIELD_NUMBER: _ClassVar[int]
    ENTRIES_FIELD_NUMBER: _ClassVar[int]
    WORKLOAD_FIELD_NUMBER: _ClassVar[int]
    SUSPECTED_FIELD_NUMBER: _ClassVar[int]
    node: int
    incarnation: int
    phase: str
    lamport: int
    request: WireRequest
    granted: _containers.RepeatedScalarFieldContainer[int]
    missing: _containers.RepeatedScalarFieldContainer[int]
    failed: _containers.RepeatedScalarFieldContainer[int]
    yielded: _containers.RepeatedScalarFieldContainer[int]
    lock: WireRequest
    queue: _containers.RepeatedCompositeFieldContainer[WireRequest]
    entries: int
    workload: str
    suspected: _containers.RepeatedScalarFieldContainer[int]
    def __init__(self, node: _Optional[int] = ..., incarnation: _Optional[int] = ..., phase: _Optional[str] = ..., lamport: _Optional[int] = ..., request: _Optional[_Union[WireRequest, _Mapping]] = ..., granted: _Optional[_Iterable[int]] = ..., missing: _Optional[_Iterable[int]] = ..., failed: _Optional[_Iterable[int]] = ..., yielded: _Optional[_Iterable[int]] = ..., lock: _Optional[_Union[WireRequest, _Mapping]] = ..., queue: _Optional[_Iterable[_Union[WireRequest, _Mapping]]] = ..., entries: _Optional[int] = ..., workload: _Optional[str] = ..., suspected: _Optional[_Iterable[int]] = ...) -> None: ...

class LockClientMsg(_message.Message):
    __slots__ = ("acquire", "release")
    ACQUIRE_FIELD_NUMBER: _ClassVar[int]
    RELEASE_FIELD_NUMBER: _ClassVar[int]
    acquire: Acquire
    release: ReleaseLock
    def __init__(self, acquire: _Optional[_Union[Acquire, _Mapping]] = ..., release: _Optional[_Union[ReleaseLock, _Mapping]] = ...) -> None: ...

class Acquire(_message.Message):
    __slots__ = ("name", "timeout_ms", "client", "limit")
    NAME_FIELD_NUMBER: _ClassVar[int]
    TIMEOUT_MS_FIELD_NUMBER: _ClassVar[int]
    CLIENT_FIELD_NUMBER: _ClassVar[int]
    LIMIT_FIELD_NUMBER: _ClassVar[int]
    name: str
    timeout_ms: int
    client: str
    limit: int
    def __init__(self, name: _Optional[str] = ..., timeout_ms: _Optional[int] = ..., client: _Optional[str] = ..., limit: _Optional[int] = ...) -> None: ...

class ReleaseLock(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class LockServerMsg(_message.Message):
    __slots__ = ("acquired", "timed_out", "released")
    ACQUIRED_FIELD_NUMBER: _ClassVar[int]
    TIMED_OUT_FIELD_NUMBER: _ClassVar[int]
    RELEASED_FIELD_NUMBER: _ClassVar[int]
    acquired: Acquired
    timed_out: TimedOut
    released: Released
    def __init__(self, acquired: _Optional[_Union[Acquired, _Mapping]] = ..., timed_out: _Optional[_Union[TimedOut, _Mapping]] = ..., released: _Optional[_Union[Released, _Mapping]] = ...) -> None: ...

class Acquired(_message.Message):
    __slots__ = ("name", "token", "node", "session", "slot")
    NAME_FIELD_NUMBER: _ClassVar[int]
    TOKEN_FIELD_NUMBER: _ClassVar[int]
    NODE_FIELD_NUMBER: _ClassVar[int]
    SESSION_FIELD_NUMBER: _ClassVar[int]
    SLOT_FIELD_NUMBER: _ClassVar[int]
    name: str
    token: int
    node: int
    session: int
    slot: int
    def __init__(self, name: _Optional[str] = ..., token: _Optional[int] = ..., node: _Optional[int] = ..., session: _Optional[int] = ..., slot: _Optional[int] = ...) -> None: ...

class TimedOut(_message.Message):
    __slots__ = ("name", "waited_ms")
    NAME_FIELD_NUMBER: _ClassVar[int]
    WAITED_MS_FIELD_NUMBER: _ClassVar[int]
    name: str
    waited_ms: int
    def __init__(self, name: _Optional[str] = ..., waited_ms: _Optional[int] = ...) -> None: ...

class Released(_message.Message):
    __slots__ = ("name", "token")
    NAME_FIELD_NUMBER: _ClassVar[int]
    TOKEN_FIELD_NUMBER: _ClassVar[int]
    name: str
    token: int
    def __init__(self, name: _Optional[str] = ..., token: _Optional[int] = ...) -> None: ...

class ListLocksRequest(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class LockInfo(_message.Message):
    __slots__ = ("name", "state", "holder_session", "holder_client", "token", "waiting_sessions", "waiting_clients", "request", "vote", "queue")
    NAME_FIELD_NUMBER: _ClassVar[int]
    STATE_FIELD_NUMBER: _ClassVar[int]
    HOLDER_SESSION_FIELD_NUMBER: _ClassVar[int]
    HOLDER_CLIENT_FIELD_NUMBER: _ClassVar[int]
    TOKEN_FIELD_NUMBER: _ClassVar[int]
    WAITING_SESSIONS_FIELD_NUMBER: _ClassVar[int]
    WAITING_CLIENTS_FIELD_NUMBER: _ClassVar[int]
    REQUEST_FIELD_NUMBER: _ClassVar[int]
    VOTE_FIELD_NUMBER: _ClassVar[int]
    QUEUE_FIELD_NUMBER: _ClassVar[int]
    name: str
    state: str
    holder_session: int
    holder_client: str
    token: int
    waiting_sessions: _containers.RepeatedScalarFieldContainer[int]
    waiting_clients: _containers.RepeatedScalarFieldContainer[str]
    request: WireRequest
    vote: WireRequest
    queue: _containers.RepeatedCompositeFieldContainer[WireRequest]
    def __init__(self, name: _Optional[str] = ..., state: _Optional[str] = ..., holder_session: _Optional[int] = ..., holder_client: _Optional[str] = ..., token: _Optional[int] = ..., waiting_sessions: _Optional[_Iterable[int]] = ..., waiting_clients: _Optional[_Iterable[str]] = ..., request: _Optional[_Union[WireRequest, _Mapping]] = ..., vote: _Optional[_Union[WireRequest, _Mapping]] = ..., queue: _Optional[_Iterable[_Union[WireRequest, _Mapping]]] = ...) -> None: ...

class ListLocksReply(_message.Message):
    __slots__ = ("node", "locks")
    NODE_FIELD_NUMBER: _ClassVar[int]
    LOCKS_FIELD_NUMBER: _ClassVar[int]
    node: int
    locks: _containers.RepeatedCompositeFieldContainer[LockInfo]
    def __init__(self, node: _Optional[int] = ..., locks: _Optional[_Iterable[_Union[LockInfo, _Mapping]]] = ...) -> None: ...
