//! The node log's format as a type: every line of `node-<id>.log` is a [`NodeLine`], whose
//! `event` is one [`NodeEvent`].
//!
//! The daemon writes these values ([`write_line`]) and every tool that reads a node log
//! (`check`, `report`, `timeline`, `bench`) parses them back ([`parse_line`]), so a field name
//! lives in one place: here. The format is a contract with users' `jq` (README.md, "Logs"): a
//! field is added, never renamed, and lines written by older versions (without `lock`, `token`,
//! `votes`, ...) still parse, their missing fields `None` or defaulted. An event this version
//! does not know parses as [`NodeEvent::Other`], so a reader skips it instead of failing.
//!
//! This module only describes and (de)serializes lines; it never touches a file, and it knows
//! nothing of the daemon or of the tools (layer 1, beside [`crate::logdir`]).

use maekawa_core::id::{Incarnation, Lamport, NodeId, RequestId};
use maekawa_core::member::LockName;
use maekawa_core::protocol::MsgKind;
use serde::{Deserialize, Serialize};
use std::time::SystemTime;

/// The name of the emulated critical section as a lock: a line about a lock that has no `lock`
/// field (older logs, some `cs` lines) is about this one.
pub const CS_LOCK: &str = LockName::CS;

/// How every line starts; the RFC 3339 time that follows has a fixed width (microseconds), so
/// a writer can stamp a held line again in place.
pub const TIMESTAMP_PREFIX: &str = "{\"timestamp\":\"";

/// A line's severity: `WARN` for what an operator should look at (a refused link, a bad frame,
/// plaintext), `INFO` for the rest. Lines written by older versions may carry the others.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "UPPERCASE")]
pub enum Level {
    /// Something went wrong.
    Error,
    /// An operator should look.
    Warn,
    /// What the node did.
    Info,
    /// Investigation only.
    Debug,
    /// Investigation only.
    Trace,
}

impl Level {
    /// The name as it appears in a line.
    pub fn as_str(self) -> &'static str {
        match self {
            Level::Error => "ERROR",
            Level::Warn => "WARN",
            Level::Info => "INFO",
            Level::Debug => "DEBUG",
            Level::Trace => "TRACE",
        }
    }
}

/// One line of a node log: the three keys every line starts with, then its event.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct NodeLine {
    /// RFC 3339 UTC with microseconds, as written.
    pub timestamp: String,
    /// The line's severity.
    pub level: Level,
    /// The node that wrote the line.
    pub node: NodeId,
    /// What happened (the `event` key and the keys that depend on it).
    #[serde(flatten)]
    pub event: NodeEvent,
}

impl NodeLine {
    /// When the line was written, or `None` if its timestamp does not parse.
    pub fn time(&self) -> Option<SystemTime> {
        humantime::parse_rfc3339_weak(&self.timestamp).ok()
    }
}

/// How the node chose when to ask for the CS (`start`'s `workload`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Workload {
    /// Asks again after a random think time (`--workload auto`).
    Auto,
    /// Asks only when told to (`--workload manual`).
    Manual,
}

/// Whether a process logs its messages (`start`'s `log_messages`, `--log-messages`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LogMessages {
    /// Every `send` and `recv` line (and logs written before the flag existed).
    #[default]
    All,
    /// No `send` or `recv` lines: `check` cannot match an entry's Grants.
    None,
}

/// Which frame a peer sent that no correct node sends (`bad_frame`'s `frame`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum FrameKind {
    /// The first frame of a link, naming the sender.
    Hello,
    /// A protocol message.
    Envelope,
    /// A keep-alive of an idle link.
    Heartbeat,
    /// A frame with no body.
    Unknown,
}

/// What a voter changed in re-voting (`revote`'s `what`): the core's kind, one type for the
/// producer and the log readers.
pub use maekawa_core::protocol::RevoteKind;

/// A manual command the state did not allow (`refused`'s `what`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Refusal {
    /// `maekawa ctl request` while not idle.
    Request,
    /// `maekawa ctl release` while not in the CS.
    Release,
}

/// A message sent or handled (`send`, `recv`): the message with its lock and both ends.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct MsgLine {
    /// The kind, by name (`Request`, `Grant`, ...).
    #[serde(with = "msg_kind")]
    pub msg: MsgKind,
    /// The sender.
    pub from: NodeId,
    /// The receiver (`to == from` for a message to itself).
    pub to: NodeId,
    /// The sender's Lamport clock at the send.
    pub lamport: u64,
    /// The request the message is about: its Lamport time ...
    pub req_ts: u64,
    /// ... its node ...
    pub req_node: NodeId,
    /// ... and the incarnation of `req_node` that made it (0 in logs older than incarnations).
    #[serde(default)]
    pub req_inc: u64,
    /// The lock (absent in logs older than named locks: `cs`).
    #[serde(default, skip_serializing_if = "Option::is_none", with = "opt_lock")]
    pub lock: Option<LockName>,
    /// The sender's token floor (absent in logs older than fencing tokens).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub token: Option<u64>,
    /// `Sync` only: whether the requester holds the voter's grant.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub holds_grant: Option<bool>,
    /// `Sync` only: the voter incarnation the requester saw.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub to_inc: Option<u64>,
}

impl MsgLine {
    /// The request the message is about.
    pub fn req(&self) -> RequestId {
        RequestId {
            ts: Lamport(self.req_ts),
            node: self.req_node,
            inc: Incarnation(self.req_inc),
            epoch: maekawa_core::id::Epoch(0),
        }
    }
}

/// What one node-log line says happened. The variant is the line's `event`; the fields are
/// its other keys, in the order they are written (README.md, "Logs", says what each means).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "event", rename_all = "snake_case")]
pub enum NodeEvent {
    /// The process started.
    Start {
        /// Grows at every start of the node.
        incarnation: u64,
        /// The address it serves on.
        #[serde(default)]
        addr: String,
        /// Its own quorum.
        #[serde(default)]
        quorum: Vec<NodeId>,
        /// Its process id.
        #[serde(default)]
        pid: u32,
        /// How it asks for the CS (absent in old logs).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        workload: Option<Workload>,
        /// The vote for `cs` its journal kept: `(ts, node)` or `none`.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        journaled_lock: Option<String>,
        /// How many votes (of all locks) its journal kept.
        #[serde(default)]
        journaled_votes: u64,
        /// The largest token it knows of.
        #[serde(default)]
        token_floor: u64,
        /// Whether it runs under mutual TLS.
        #[serde(default)]
        tls: bool,
        /// Whether it logs its messages.
        #[serde(default)]
        log_messages: LogMessages,
        /// With leases and votes not journaled (issue 26): a restarted node has forgotten the
        /// votes it gave and grants nothing for this many ms (its `--reclaim-ms`). Absent when
        /// it may grant at once.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        quiet_ms: Option<u64>,
        /// True when its journal holds no token floor (a first start, a lost disk, a new host):
        /// it grants nothing before it has heard the floor of a node of every quorum it is in
        /// (a `floor_learned` line). Absent otherwise.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        awaits_floor: Option<bool>,
    },
    /// Started without its incarnation file (a first start, a lost disk, a new host): what its
    /// peers remembered of it, and the incarnation that follows. Right after `start`.
    Recall {
        /// The incarnation this process took: above every one its peers knew.
        incarnation: u64,
        /// The newest incarnation of this node any peer knew (0: none did).
        seen: u64,
        /// The peers that answered.
        answered: Vec<NodeId>,
        /// The peers where nothing listened (no process, so nothing remembered).
        no_process: Vec<NodeId>,
        /// The peers that could not be asked; the incarnation then also exceeds the wall
        /// clock's seconds, which no counted incarnation reaches.
        unreachable: Vec<NodeId>,
    },
    /// A node that started with no token floor heard one from a node of every quorum it is in:
    /// it may grant from now on (after its quiet period, if it has one).
    FloorLearned {
        /// The floor it took.
        floor: u64,
        /// The peers whose Hello it heard by then.
        witnesses: Vec<NodeId>,
    },
    /// The node adopted a newer cluster configuration (a membership change, `maekawa
    /// cluster`), made durable first: from now on it grants only requests of `epoch`.
    ConfigAdopted {
        /// The configuration's epoch.
        epoch: u64,
        /// Its members (the new ones, in a joint configuration).
        members: Vec<NodeId>,
        /// In a joint configuration: the members before the change (every entry needs a
        /// quorum of both). Absent otherwise.
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        old_members: Vec<NodeId>,
        /// The token floor it carries.
        floor: u64,
        /// The peer whose `Config` brought it; absent when proposed here.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        from: Option<NodeId>,
    },
    /// Level WARN: the node runs without TLS.
    Plaintext {
        /// Why that is allowed.
        reason: String,
    },
    /// Level WARN: a connection was closed at once, `max` being open.
    ConnectionsFull {
        /// `--max-connections`.
        max: u64,
    },
    /// Level WARN: a peer link was refused for its certificate.
    RefusedLink {
        /// The node the Hello claimed to be (-1 when refused before the Hello).
        claimed: i64,
        /// Why.
        reason: String,
    },
    /// The link to `peer` is up.
    PeerUp {
        /// The peer.
        peer: NodeId,
    },
    /// The link to `peer` broke.
    PeerDown {
        /// The peer.
        peer: NodeId,
        /// Why.
        reason: String,
    },
    /// A waiting request moved to another quorum.
    QuorumSwitch {
        /// The request's Lamport time.
        req_ts: u64,
        /// The requester.
        req_node: NodeId,
        /// The requester's incarnation.
        #[serde(default)]
        req_inc: u64,
        /// The lock.
        #[serde(default, skip_serializing_if = "Option::is_none", with = "opt_lock")]
        lock: Option<LockName>,
        /// The quorum it used.
        from_quorum: Vec<NodeId>,
        /// The quorum it uses now.
        to_quorum: Vec<NodeId>,
    },
    /// The holder's lease ran out before it left.
    LeaseExpired {
        /// The lock.
        #[serde(default, skip_serializing_if = "Option::is_none", with = "opt_lock")]
        lock: Option<LockName>,
        /// The node's entry count (of `cs`).
        entry: u64,
        /// The request's Lamport time.
        req_ts: u64,
        /// The requester (this node).
        req_node: NodeId,
        /// The entry's fencing token.
        token: u64,
        /// How long after the lease's end it noticed.
        late_ms: u64,
    },
    /// The health service changed.
    Health {
        /// SERVING (`true`) or NOT_SERVING.
        serving: bool,
    },
    /// Nothing came from `peer` for `silent_ms`: suspected.
    Suspect {
        /// The peer.
        peer: NodeId,
        /// How long it was silent.
        silent_ms: u64,
    },
    /// Something came from the suspected `peer` again.
    Unsuspect {
        /// The peer.
        peer: NodeId,
        /// How long it was silent in all.
        silent_ms: u64,
    },
    /// The node wants the lock.
    RequestCs {
        /// The request's Lamport time.
        req_ts: u64,
        /// The requester (this node).
        req_node: NodeId,
        /// The lock (absent for `cs`).
        #[serde(default, skip_serializing_if = "Option::is_none", with = "opt_lock")]
        lock: Option<LockName>,
    },
    /// A message left.
    Send(MsgLine),
    /// A message was handled.
    Recv(MsgLine),
    /// A peer opened a link as a new incarnation.
    PeerIncarnation {
        /// The peer.
        peer: NodeId,
        /// Its incarnation.
        incarnation: u64,
        /// Its token floor.
        #[serde(default)]
        token_floor: u64,
    },
    /// Level WARN: a frame no correct node sends was refused.
    BadFrame {
        /// Which frame.
        frame: FrameKind,
        /// The node the link claims to come from.
        from: NodeId,
        /// Its socket address.
        addr: String,
        /// The field and the rule.
        reason: String,
    },
    /// The voter changed its vote or queue in re-voting.
    Revote {
        /// What changed.
        what: RevoteKind,
        /// The request's Lamport time.
        req_ts: u64,
        /// The requester.
        req_node: NodeId,
        /// The requester's incarnation.
        #[serde(default)]
        req_inc: u64,
        /// The lock.
        #[serde(default, skip_serializing_if = "Option::is_none", with = "opt_lock")]
        lock: Option<LockName>,
        /// Why, in words.
        why: String,
    },
    /// The node entered the CS of a lock.
    EnterCs {
        /// The node's entry count (`cs` only).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        entry: Option<u64>,
        /// The request's Lamport time.
        req_ts: u64,
        /// The requester (this node).
        req_node: NodeId,
        /// The voters whose votes let it in (absent in old logs: its own quorum).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        votes: Option<Vec<NodeId>>,
        /// Milliseconds since its `request_cs` (`cs` only).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        wait_ms: Option<f64>,
        /// The lock.
        #[serde(default, skip_serializing_if = "Option::is_none", with = "opt_lock")]
        lock: Option<LockName>,
        /// The entry's fencing token (absent in logs older than tokens).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        token: Option<u64>,
    },
    /// The node left the CS of a lock.
    ExitCs {
        /// The node's entry count (`cs` only).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        entry: Option<u64>,
        /// The lock.
        #[serde(default, skip_serializing_if = "Option::is_none", with = "opt_lock")]
        lock: Option<LockName>,
        /// The request's Lamport time.
        req_ts: u64,
        /// The requester (this node).
        req_node: NodeId,
        /// The entry's fencing token (named locks).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        token: Option<u64>,
    },
    /// The node withdrew a request that still waited for votes.
    CancelCs {
        /// The request's Lamport time.
        req_ts: u64,
        /// The requester (this node).
        req_node: NodeId,
        /// The lock.
        #[serde(default, skip_serializing_if = "Option::is_none", with = "opt_lock")]
        lock: Option<LockName>,
    },
    /// An INQUIRE is held back.
    InquiryDeferred {
        /// The voter that asked.
        voter: NodeId,
        /// The request's Lamport time.
        req_ts: u64,
        /// The requester (this node).
        req_node: NodeId,
        /// The lock.
        #[serde(default, skip_serializing_if = "Option::is_none", with = "opt_lock")]
        lock: Option<LockName>,
    },
    /// A stale message was dropped.
    Ignored {
        /// Its kind.
        #[serde(with = "msg_kind")]
        msg: MsgKind,
        /// Its sender.
        from: NodeId,
        /// The request's Lamport time.
        req_ts: u64,
        /// The requester.
        req_node: NodeId,
        /// The lock.
        #[serde(default, skip_serializing_if = "Option::is_none", with = "opt_lock")]
        lock: Option<LockName>,
        /// Why, in words.
        why: String,
    },
    /// A client session asked for a lock.
    SessionAcquire {
        /// The session.
        session: u64,
        /// The lock.
        #[serde(with = "lock_name")]
        lock: LockName,
        /// Who the client says it is.
        client: String,
        /// How long it waits: 0 tries once; absent (`null` to `jq`) waits for ever, as the
        /// tracing writer left it out.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        timeout_ms: Option<u64>,
        /// A semaphore's number of slots: the session waits for any one of the locks
        /// `LOCK#1` .. `LOCK#limit`. Absent for a mutex.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        limit: Option<u32>,
    },
    /// The session that held a lock ended.
    SessionRelease {
        /// The session.
        session: u64,
        /// The lock.
        #[serde(with = "lock_name")]
        lock: LockName,
        /// The token it held.
        token: u64,
        /// Released by the client (or its stream closed: false).
        explicit: bool,
    },
    /// A manual command the state did not allow.
    Refused {
        /// Which.
        what: Refusal,
        /// Why, in words.
        why: String,
    },
    /// The process is stopping.
    Stop {
        /// Its `cs` entries (0 when a line lacks it: a reader only needs the event).
        #[serde(default)]
        entries: u64,
        /// Whether every sent message was acknowledged.
        #[serde(default)]
        flushed: bool,
    },
    /// An event this version does not know (a newer writer's, or a diagnostic `log` line of
    /// an older one): readers skip it.
    #[serde(other)]
    Other,
}

impl NodeEvent {
    /// The severity the event is written with.
    pub fn level(&self) -> Level {
        match self {
            NodeEvent::Plaintext { .. }
            | NodeEvent::ConnectionsFull { .. }
            | NodeEvent::RefusedLink { .. }
            | NodeEvent::BadFrame { .. } => Level::Warn,
            _ => Level::Info,
        }
    }

    /// The lock the line is about: its `lock`, or [`CS_LOCK`] when it has none (older logs,
    /// `cs` lines that omit it, and node-wide events such as `start`, `stop`, `peer_up`).
    pub fn lock(&self) -> &str {
        let lock = match self {
            NodeEvent::Send(m) | NodeEvent::Recv(m) => m.lock.as_ref(),
            NodeEvent::QuorumSwitch { lock, .. }
            | NodeEvent::LeaseExpired { lock, .. }
            | NodeEvent::RequestCs { lock, .. }
            | NodeEvent::Revote { lock, .. }
            | NodeEvent::EnterCs { lock, .. }
            | NodeEvent::ExitCs { lock, .. }
            | NodeEvent::CancelCs { lock, .. }
            | NodeEvent::InquiryDeferred { lock, .. }
            | NodeEvent::Ignored { lock, .. } => lock.as_ref(),
            NodeEvent::SessionAcquire { lock, .. } | NodeEvent::SessionRelease { lock, .. } => {
                Some(lock)
            }
            _ => None,
        };
        lock.map_or(CS_LOCK, LockName::as_str)
    }

    /// True unless the line is about another lock than the emulated CS: the lines `check`,
    /// `report` and `timeline` read about the emulated CS.
    pub fn about_cs(&self) -> bool {
        self.lock() == CS_LOCK
    }

    /// The line's `event`, as written (`"enter_cs"`): for messages that name a line to a
    /// person. [`NodeEvent::Other`] is `"other"` (its name is not kept).
    pub fn name(&self) -> &'static str {
        match self {
            NodeEvent::Start { .. } => "start",
            NodeEvent::Recall { .. } => "recall",
            NodeEvent::FloorLearned { .. } => "floor_learned",
            NodeEvent::ConfigAdopted { .. } => "config_adopted",
            NodeEvent::Plaintext { .. } => "plaintext",
            NodeEvent::ConnectionsFull { .. } => "connections_full",
            NodeEvent::RefusedLink { .. } => "refused_link",
            NodeEvent::PeerUp { .. } => "peer_up",
            NodeEvent::PeerDown { .. } => "peer_down",
            NodeEvent::QuorumSwitch { .. } => "quorum_switch",
            NodeEvent::LeaseExpired { .. } => "lease_expired",
            NodeEvent::Health { .. } => "health",
            NodeEvent::Suspect { .. } => "suspect",
            NodeEvent::Unsuspect { .. } => "unsuspect",
            NodeEvent::RequestCs { .. } => "request_cs",
            NodeEvent::Send(_) => "send",
            NodeEvent::Recv(_) => "recv",
            NodeEvent::PeerIncarnation { .. } => "peer_incarnation",
            NodeEvent::BadFrame { .. } => "bad_frame",
            NodeEvent::Revote { .. } => "revote",
            NodeEvent::EnterCs { .. } => "enter_cs",
            NodeEvent::ExitCs { .. } => "exit_cs",
            NodeEvent::CancelCs { .. } => "cancel_cs",
            NodeEvent::InquiryDeferred { .. } => "inquiry_deferred",
            NodeEvent::Ignored { .. } => "ignored",
            NodeEvent::SessionAcquire { .. } => "session_acquire",
            NodeEvent::SessionRelease { .. } => "session_release",
            NodeEvent::Refused { .. } => "refused",
            NodeEvent::Stop { .. } => "stop",
            NodeEvent::Other => "other",
        }
    }

    /// The request the line is about, for the events that name one.
    pub fn req(&self) -> Option<RequestId> {
        let (ts, node, inc) = match self {
            NodeEvent::Send(m) | NodeEvent::Recv(m) => return Some(m.req()),
            NodeEvent::QuorumSwitch {
                req_ts,
                req_node,
                req_inc,
                ..
            }
            | NodeEvent::Revote {
                req_ts,
                req_node,
                req_inc,
                ..
            } => (*req_ts, *req_node, *req_inc),
            NodeEvent::LeaseExpired {
                req_ts, req_node, ..
            }
            | NodeEvent::RequestCs {
                req_ts, req_node, ..
            }
            | NodeEvent::EnterCs {
                req_ts, req_node, ..
            }
            | NodeEvent::ExitCs {
                req_ts, req_node, ..
            }
            | NodeEvent::CancelCs {
                req_ts, req_node, ..
            }
            | NodeEvent::InquiryDeferred {
                req_ts, req_node, ..
            }
            | NodeEvent::Ignored {
                req_ts, req_node, ..
            } => (*req_ts, *req_node, 0),
            _ => return None,
        };
        Some(RequestId {
            ts: Lamport(ts),
            node,
            inc: Incarnation(inc),
            epoch: maekawa_core::id::Epoch(0),
        })
    }
}

/// Appends the line (with its `'\n'`) that `event` becomes when node `node` writes it at
/// `time`: `timestamp`, `level`, `node`, then `event` and its fields. The timestamp has a fixed
/// width ([`TIMESTAMP_PREFIX`]), so a held line can be stamped again in place.
pub fn write_line(out: &mut Vec<u8>, time: SystemTime, node: NodeId, event: &NodeEvent) {
    use std::io::Write as _;
    let start = out.len();
    out.extend_from_slice(TIMESTAMP_PREFIX.as_bytes());
    // Writing into a Vec cannot fail.
    let _ = write!(
        out,
        "{}\",\"level\":\"{}\",\"node\":{}",
        humantime::format_rfc3339_micros(time),
        event.level().as_str(),
        node.0
    );
    let brace = out.len();
    if serde_json::to_writer(&mut *out, event).is_err() || out.get(brace) != Some(&b'{') {
        // Only `Other` (a reader's variant) has nothing to write: no line.
        out.truncate(start);
        return;
    }
    // The event's own `{` becomes the comma after `node`: one flat object.
    out[brace] = b',';
    out.push(b'\n');
}

/// Parses one line of a node log.
pub fn parse_line(raw: &str) -> Result<NodeLine, serde_json::Error> {
    serde_json::from_str(raw)
}

/// (De)serializes a [`MsgKind`] by its name (`Grant`), which is what the log has always said.
mod msg_kind {
    use maekawa_core::protocol::MsgKind;
    use serde::{Deserialize, Deserializer, Serializer};

    pub(super) fn serialize<S: Serializer>(kind: &MsgKind, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(kind.name())
    }

    pub(super) fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<MsgKind, D::Error> {
        let name = <std::borrow::Cow<'de, str>>::deserialize(d)?;
        MsgKind::ALL
            .into_iter()
            .find(|k| k.name() == name)
            .ok_or_else(|| serde::de::Error::custom(format!("unknown message kind {name:?}")))
    }
}

/// (De)serializes a [`LockName`] as its text.
mod lock_name {
    use maekawa_core::member::LockName;
    use serde::{Deserialize, Deserializer, Serializer};

    pub(super) fn serialize<S: Serializer>(lock: &LockName, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(lock.as_str())
    }

    pub(super) fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<LockName, D::Error> {
        let name = <std::borrow::Cow<'de, str>>::deserialize(d)?;
        Ok(LockName::from(name.as_ref()))
    }
}

/// (De)serializes an optional [`LockName`] as its text (or nothing).
mod opt_lock {
    use maekawa_core::member::LockName;
    use serde::{Deserialize, Deserializer, Serializer};

    pub(super) fn serialize<S: Serializer>(
        lock: &Option<LockName>,
        s: S,
    ) -> Result<S::Ok, S::Error> {
        match lock {
            Some(lock) => s.serialize_str(lock.as_str()),
            None => s.serialize_none(),
        }
    }

    pub(super) fn deserialize<'de, D: Deserializer<'de>>(
        d: D,
    ) -> Result<Option<LockName>, D::Error> {
        let name = <Option<std::borrow::Cow<'de, str>>>::deserialize(d)?;
        Ok(name.map(|n| LockName::from(n.as_ref())))
    }
}

#[cfg(test)]
mod tests;
