//! The gate between the network and the protocol core: every Hello and every Envelope a peer
//! sends is checked here before the core sees it (issue 15).
//!
//! The core trusts its inputs: it is a pure state machine, checked by the simulator and the
//! explorer on the messages real nodes send. A link's frames, though, come from the network,
//! where a buggy, old or hostile process can put anything in them: one Envelope with
//! `lamport = 2^64 - 1` used to kill the receiving node (an overflow in the core), and a Hello
//! claiming incarnation `2^64 - 1` made every later start of the real node look dead. So a
//! frame that no correct node sends is refused here, with a reason, and never reaches the core.
//! [`transport`](super::transport) calls these checks on every frame: a refused Hello refuses
//! the link, a refused Envelope closes it, and both leave a `bad_frame` line in the node log
//! (README, "Logs"); the process goes on.
//!
//! What is checked is what a correct node never sends: numbers beyond [`MAX_WIRE_VALUE`], a
//! sequence number 0, an unknown kind, a request of a node outside the cluster or of the wrong
//! node for the kind ([`MsgKind::from_requester`]), a lock name no client could have taken. A
//! peer that lies within those rules (a GRANT it did not give, a clock just below the bound)
//! is beyond any check of single frames: who may be a peer at all is decided by the cluster
//! file and, with TLS, by certificates (PROTOCOL.md §6, "Identity").
//!
//! The functions are pure, so each refusal has its unit test, and they are fuzzed: arbitrary
//! bytes through the decoder and these checks, and every message of random cluster schedules,
//! none of which may be refused (this module's tests).

use crate::daemon::lock_service;
use crate::daemon::wire;
use crate::node_event::FrameKind;
use maekawa_core::id::{Incarnation, Lamport, NodeId, RequestId, Token};
use maekawa_core::member::LockName;
use maekawa_core::protocol::{Message, MsgKind};
use std::collections::BTreeSet;

/// Every number of a frame that the core compares or adds to must be below this bound, 2^62:
/// the Envelope's `lamport`, `req_ts`, `req_inc`, `to_inc`, `token`, `echo` and `seq`, and the
/// Hello's `incarnation` and `token`.
///
/// Correct nodes never get near it. Each of these numbers grows by one per event: a Lamport
/// clock by one per message or request (it takes the largest it has seen, plus one), a token
/// by one per CS entry (plus at most a `TOKEN_BLOCK` per restart), an incarnation by one per
/// start, a sequence number by one per message on a link; `echo` is a time in milliseconds
/// since a process started. At a billion events a second, 2^62 is 146 years away.
///
/// It leaves headroom: the core adds small amounts to these numbers (one per receipt, send or
/// request, `TOKEN_BLOCK - 1` for a reservation, a lease to an echo), so from anything below
/// 2^62 it would take another 3 × 2^62 events to overflow a `u64`. A number that passes here
/// cannot overflow the core's arithmetic in the life of any process (and that arithmetic
/// saturates besides).
///
/// What a bound cannot do: a peer that sends a number just below it is no correct node
/// either, yet passes. The Lamport clock and the token floor only grow, and every node takes
/// the largest it hears of: a `lamport` of `2^62 - 1` puts the receiver's clock past the bound,
/// and the others refuse its frames until it restarts (the clock starts again); a `token` of
/// `2^62 - 1` is worse, since every node adopts it and journals it, and from then on each
/// node's next entry pushes its floor past the bound. Such a peer can cut nodes off, not
/// crash them; keeping it out of the cluster is authentication's job (TLS), not this check's.
pub const MAX_WIRE_VALUE: u64 = 1 << 62;

/// The largest attachment an Envelope may carry in its `config`, 64 KiB: a cluster
/// configuration (what attachments are for) is a few hundred bytes per node, and a peer must
/// not make this node hold megabytes per message.
pub const MAX_ATTACHMENT: usize = 64 * 1024;

/// Why a frame was refused: a sentence naming the field, its value and the rule, for the
/// node-log line and the gRPC status the sender gets.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{reason}")]
pub struct Refusal {
    reason: String,
}

impl Refusal {
    fn new(reason: impl Into<String>) -> Refusal {
        Refusal {
            reason: reason.into(),
        }
    }

    /// The reason, in words.
    pub fn reason(&self) -> &str {
        &self.reason
    }
}

/// A refused frame is the sender's mistake, not the server's: `INVALID_ARGUMENT` with the
/// reason, so whoever runs the sender can read what was wrong.
impl From<Refusal> for tonic::Status {
    fn from(refusal: Refusal) -> tonic::Status {
        tonic::Status::invalid_argument(refusal.reason)
    }
}

/// Checks the numbers of a link's Hello: `incarnation` from 1 and, like `token` and `epoch`,
/// below [`MAX_WIRE_VALUE`]. A receiver remembers the largest incarnation it saw of each peer and
/// refuses older ones, so one Hello with an absurd incarnation would lock the real node out
/// for good. Who the Hello claims to be from and to (a peer, this node) is the transport's
/// check, which answers a misconfiguration with its own status.
pub fn check_hello(hello: &wire::Hello) -> Result<(), Refusal> {
    if hello.incarnation == 0 {
        return Err(Refusal::new(
            "incarnation 0: a node's incarnations start at 1",
        ));
    }
    below_bound("incarnation", hello.incarnation)?;
    below_bound("token", hello.token)?;
    below_bound("epoch", hello.epoch)?;
    if hello.addr.len() > 256 {
        return Err(Refusal::new(format!(
            "an address of {} bytes (at most 256)",
            hello.addr.len()
        )));
    }
    Ok(())
}

/// A frame after a link's Hello, checked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Frame {
    /// A protocol message for the core (see [`check_envelope`]), numbered `seq` on its link.
    Message {
        /// Its sequence number on the link.
        seq: u64,
        /// The lock it is about.
        lock: LockName,
        /// The message.
        msg: Message,
        /// The Envelope's `config`, when not empty (at most [`MAX_ATTACHMENT`] bytes).
        attachment: Option<Vec<u8>>,
    },
    /// A heartbeat of an idle link: answered with the current acknowledgement.
    Heartbeat,
    /// A frame without a body this version knows (an empty one, or a kind of frame a newer
    /// version added): skipped, so that a newer peer can still talk to this node.
    Unknown,
}

/// Checks a frame that arrived on `from`'s link to `me` after the Hello: an Envelope as
/// [`check_envelope`] says, a heartbeat as it is; a second Hello is refused (a link has one,
/// first: a new process opens a new link).
pub fn check_frame(
    frame: &wire::LinkFrame,
    from: NodeId,
    me: NodeId,
    nodes: &BTreeSet<NodeId>,
) -> Result<Frame, Refusal> {
    match &frame.body {
        Some(wire::link_frame::Body::Envelope(env)) => {
            let (lock, msg) = check_envelope(env, from, me, nodes)?;
            Ok(Frame::Message {
                seq: env.seq,
                lock,
                msg,
                attachment: (!env.config.is_empty()).then(|| env.config.clone()),
            })
        }
        Some(wire::link_frame::Body::Heartbeat(_)) => Ok(Frame::Heartbeat),
        Some(wire::link_frame::Body::Hello(_)) => Err(Refusal::new(
            "a second Hello on a link: a link has one, first",
        )),
        None => Ok(Frame::Unknown),
    }
}

/// What a frame is, as a `bad_frame` log line names it: `hello`, `envelope`, `heartbeat` or
/// `unknown`.
pub fn frame_kind(frame: &wire::LinkFrame) -> FrameKind {
    match &frame.body {
        Some(wire::link_frame::Body::Hello(_)) => FrameKind::Hello,
        Some(wire::link_frame::Body::Envelope(_)) => FrameKind::Envelope,
        Some(wire::link_frame::Body::Heartbeat(_)) => FrameKind::Heartbeat,
        None => FrameKind::Unknown,
    }
}

/// Checks an Envelope that arrived on `from`'s link to `me` and turns it into what the core
/// takes, or says why no correct node sends it. `nodes` is every node of the cluster, `me`
/// included.
///
/// Refused: `seq` 0 (links number from 1); a kind this node does not know, or none; any
/// number at or beyond [`MAX_WIRE_VALUE`]; `req_ts` 0 outside a `Sync` (only a Sync may say "no
/// request"); a `req_node` outside the cluster; a requester's kind about another node's
/// request, or a voter's kind about a request that is not `me`'s
/// ([`MsgKind::from_requester`]); a lock name that is not 1 to 128 bytes of printable ASCII
/// without spaces (empty means `cs`); an attachment (`config`) over [`MAX_ATTACHMENT`].
pub fn check_envelope(
    env: &wire::Envelope,
    from: NodeId,
    me: NodeId,
    nodes: &BTreeSet<NodeId>,
) -> Result<(LockName, Message), Refusal> {
    if env.seq == 0 {
        return Err(Refusal::new("seq 0: a link numbers its messages from 1"));
    }
    below_bound("seq", env.seq)?;
    let kind = check_kind(env.kind)?;
    for (field, value) in [
        ("lamport", env.lamport),
        ("req_ts", env.req_ts),
        ("req_inc", env.req_inc),
        ("to_inc", env.to_inc),
        ("token", env.token),
        ("echo", env.echo),
    ] {
        below_bound(field, value)?;
    }
    if env.req_ts == 0 && !matches!(kind, MsgKind::Sync | MsgKind::Floor | MsgKind::Config) {
        return Err(Refusal::new(format!(
            "req_ts 0 in a {kind}: only a Sync, a Floor or a Config may carry no request"
        )));
    }
    let req_node = NodeId(env.req_node);
    if !nodes.contains(&req_node) {
        return Err(Refusal::new(format!(
            "req_node {req_node} is not a node of the cluster"
        )));
    }
    if kind.from_requester() && req_node != from {
        return Err(Refusal::new(format!(
            "a {kind} from node {from} about node {req_node}'s request: a requester sends it about its own request"
        )));
    }
    if !kind.from_requester() && req_node != me {
        return Err(Refusal::new(format!(
            "a {kind} from node {from} about node {req_node}'s request: a voter sends it to the requester, and this is node {me}"
        )));
    }
    if env.config.len() > MAX_ATTACHMENT {
        return Err(Refusal::new(format!(
            "an attachment of {} bytes: at most {MAX_ATTACHMENT} travel with a message",
            env.config.len()
        )));
    }
    let lock = check_lock(&env.lock)?;
    let msg = Message {
        kind,
        lamport: Lamport(env.lamport),
        req: RequestId {
            ts: Lamport(env.req_ts),
            node: req_node,
            inc: Incarnation(env.req_inc),
            epoch: maekawa_core::id::Epoch(env.req_epoch),
        },
        holds_grant: env.holds_grant,
        to_inc: Incarnation(env.to_inc),
        token: Token(env.token),
        echo: env.echo,
    };
    Ok((lock, msg))
}

/// The message kind of a wire `kind`: one of the protocol's, not `KIND_UNSPECIFIED` (what a
/// sender that forgot to set it sends) nor a number this version does not know.
pub fn check_kind(kind: i32) -> Result<MsgKind, Refusal> {
    let known = wire::Kind::try_from(kind)
        .map_err(|_| Refusal::new(format!("kind {kind} is not a message kind")))?;
    Ok(match known {
        wire::Kind::Unspecified => {
            return Err(Refusal::new(
                "kind 0 (KIND_UNSPECIFIED) is not a message kind",
            ))
        }
        wire::Kind::Request => MsgKind::Request,
        wire::Kind::Grant => MsgKind::Grant,
        wire::Kind::Failed => MsgKind::Failed,
        wire::Kind::Inquire => MsgKind::Inquire,
        wire::Kind::Yield => MsgKind::Yield,
        wire::Kind::Release => MsgKind::Release,
        wire::Kind::Sync => MsgKind::Sync,
        wire::Kind::Resync => MsgKind::Resync,
        wire::Kind::Fence => MsgKind::Fence,
        wire::Kind::Fenced => MsgKind::Fenced,
        wire::Kind::Revoked => MsgKind::Revoked,
        wire::Kind::Floor => MsgKind::Floor,
        wire::Kind::Config => MsgKind::Config,
    })
}

/// The lock an Envelope's `lock` names: empty is `cs` (the emulated CS costs no bytes on the
/// wire); anything else must be a name a client could have taken
/// ([`lock_service::shape_problem`]), or `cs` itself. A name the journal and the logs would
/// choke on never gets in.
pub fn check_lock(name: &str) -> Result<LockName, Refusal> {
    if name.is_empty() {
        return Ok(LockName::from(LockName::CS));
    }
    match lock_service::shape_problem(name) {
        Some(problem) => Err(Refusal::new(problem)),
        None => Ok(LockName::from(name)),
    }
}

fn below_bound(field: &str, value: u64) -> Result<(), Refusal> {
    if value >= MAX_WIRE_VALUE {
        return Err(Refusal::new(format!(
            "{field} {value} is out of range: no correct node gets to 2^62 ({MAX_WIRE_VALUE})"
        )));
    }
    Ok(())
}

#[cfg(test)]
#[path = "validate/tests.rs"]
mod tests;
