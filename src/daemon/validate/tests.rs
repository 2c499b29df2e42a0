//! One test per refusal, the round trip of every kind through the wire, and the fuzz harness
//! (proptest, fixed budget and seed): arbitrary bytes through the decoder and the checks,
//! arbitrary Envelopes through the checks into a member, and the messages of random cluster
//! schedules, none of which may be refused.

use super::*;
use crate::daemon::transport::to_envelope;
use maekawa_core::cluster::{Cluster, CrashModel, Item, Step};
use maekawa_core::member::{LockAction, Member};
use maekawa_core::protocol::{Action, Options};
use maekawa_core::quorum::QuorumSystem;
use proptest::prelude::*;
use proptest::test_runner::{RngSeed, TestRunner};
use prost::Message as _;
use std::cell::Cell;
use std::collections::VecDeque;
use std::sync::Arc;
use std::time::Instant;

fn n(i: u32) -> NodeId {
    NodeId(i)
}

/// Nodes 0 to 4.
fn five() -> BTreeSet<NodeId> {
    (0..5).map(n).collect()
}

fn hello(incarnation: u64, token: u64) -> wire::Hello {
    wire::Hello {
        from: 1,
        to: 0,
        incarnation,
        token,
        boot: 1,
        awaits_floor: false,
        epoch: 0,
        addr: String::new(),
    }
}

/// A correct `kind` message on node 1's link to node 0: about node 1's request for a
/// requester's kind, node 0's for a voter's.
fn envelope(kind: MsgKind) -> wire::Envelope {
    let node = if kind.from_requester() { n(1) } else { n(0) };
    let msg = Message {
        kind,
        lamport: Lamport(7),
        req: RequestId {
            ts: Lamport(3),
            node,
            inc: Incarnation(2),
            epoch: maekawa_core::id::Epoch(0),
        },
        holds_grant: kind == MsgKind::Sync,
        to_inc: Incarnation(if kind == MsgKind::Sync { 4 } else { 0 }),
        token: Token(5),
        echo: if kind == MsgKind::Fenced { 11 } else { 0 },
    };
    to_envelope(9, &LockName::from("orders"), &msg)
}

/// The reason node 0 refuses `env` from node 1 with.
fn refused(env: &wire::Envelope) -> String {
    check_envelope(env, n(1), n(0), &five())
        .expect_err("refused")
        .reason()
        .to_string()
}

#[test]
fn a_hello_with_sane_numbers_passes() {
    assert_eq!(check_hello(&hello(1, 0)), Ok(()));
    assert_eq!(
        check_hello(&hello(MAX_WIRE_VALUE - 1, MAX_WIRE_VALUE - 1)),
        Ok(())
    );
}

/// The attack of issue 15: incarnation 2^64 - 1 would make every later start of the real node
/// look dead to this one.
#[test]
fn a_hello_with_an_absurd_incarnation_or_token_is_refused() {
    for (h, field) in [
        (
            hello(u64::MAX, 0),
            "incarnation 18446744073709551615 is out of range",
        ),
        (
            hello(MAX_WIRE_VALUE, 0),
            "incarnation 4611686018427387904 is out of range",
        ),
        (
            hello(1, u64::MAX),
            "token 18446744073709551615 is out of range",
        ),
        (
            hello(0, 0),
            "incarnation 0: a node's incarnations start at 1",
        ),
    ] {
        let reason = check_hello(&h).unwrap_err().to_string();
        assert!(reason.starts_with(field), "{reason}");
    }
}

/// A Hello's configuration epoch is a number the driver compares: bounded like the others.
#[test]
fn a_hello_with_an_absurd_epoch_is_refused() {
    let with_epoch = |epoch| wire::Hello {
        epoch,
        ..hello(1, 0)
    };
    assert_eq!(check_hello(&with_epoch(MAX_WIRE_VALUE - 1)), Ok(()));
    let reason = check_hello(&with_epoch(MAX_WIRE_VALUE))
        .unwrap_err()
        .to_string();
    assert!(
        reason.starts_with("epoch 4611686018427387904 is out of range"),
        "{reason}"
    );
}

/// An attachment of up to 64 KiB travels with its message (none when `config` is empty); a
/// bigger one is a frame no correct node sends.
#[test]
fn an_attachment_passes_up_to_its_limit_and_no_further() {
    let nodes = five();
    let check = |config: Vec<u8>| {
        let env = wire::Envelope {
            config,
            ..envelope(MsgKind::Grant)
        };
        let body = Some(wire::link_frame::Body::Envelope(env));
        check_frame(&wire::LinkFrame { body }, n(1), n(0), &nodes)
    };
    match check(vec![7; MAX_ATTACHMENT]) {
        Ok(Frame::Message {
            attachment: Some(a),
            ..
        }) => assert_eq!(a, vec![7; MAX_ATTACHMENT]),
        other => panic!("{other:?}"),
    }
    assert!(matches!(
        check(Vec::new()),
        Ok(Frame::Message {
            attachment: None,
            ..
        })
    ));
    assert_eq!(
        check(vec![7; MAX_ATTACHMENT + 1]).unwrap_err().reason(),
        "an attachment of 65537 bytes: at most 65536 travel with a message"
    );
}

#[test]
fn a_refusal_is_an_invalid_argument_status_with_its_reason() {
    let status: tonic::Status = check_hello(&hello(0, 0)).unwrap_err().into();
    assert_eq!(status.code(), tonic::Code::InvalidArgument);
    assert_eq!(
        status.message(),
        "incarnation 0: a node's incarnations start at 1"
    );
}

/// Every kind, sent the way the protocol sends it, comes out as the message that went in.
#[test]
fn every_kind_a_correct_node_sends_passes_unchanged() {
    for kind in MsgKind::ALL {
        let env = envelope(kind);
        let (lock, msg) = check_envelope(&env, n(1), n(0), &five()).unwrap();
        assert_eq!(lock.as_str(), "orders");
        assert_eq!(to_envelope(9, &lock, &msg), env, "{kind}");
    }
}

#[test]
fn seq_0_and_seq_beyond_the_bound_are_refused() {
    let env = wire::Envelope {
        seq: 0,
        ..envelope(MsgKind::Request)
    };
    assert_eq!(refused(&env), "seq 0: a link numbers its messages from 1");
    let env = wire::Envelope {
        seq: u64::MAX,
        ..envelope(MsgKind::Request)
    };
    assert!(refused(&env).starts_with("seq 18446744073709551615 is out of range"));
}

#[test]
fn an_unknown_or_unspecified_kind_is_refused() {
    for (kind, reason) in [
        (0, "kind 0 (KIND_UNSPECIFIED) is not a message kind"),
        (14, "kind 14 is not a message kind"),
        (-1, "kind -1 is not a message kind"),
        (i32::MAX, "kind 2147483647 is not a message kind"),
    ] {
        let env = wire::Envelope {
            kind,
            ..envelope(MsgKind::Request)
        };
        assert_eq!(refused(&env), reason);
    }
}

/// The other attack of issue 15: lamport 2^64 - 1 overflowed the receiver's clock. Every
/// number the core uses is held to the bound, at it and at the top of `u64`; one below passes.
#[test]
fn every_number_at_or_beyond_the_bound_is_refused() {
    type Set = fn(&mut wire::Envelope, u64);
    let fields: [(&str, Set); 6] = [
        ("lamport", |e, v| e.lamport = v),
        ("req_ts", |e, v| e.req_ts = v),
        ("req_inc", |e, v| e.req_inc = v),
        ("to_inc", |e, v| e.to_inc = v),
        ("token", |e, v| e.token = v),
        ("echo", |e, v| e.echo = v),
    ];
    for (field, set) in fields {
        for value in [MAX_WIRE_VALUE, MAX_WIRE_VALUE + 1, u64::MAX] {
            let mut env = envelope(MsgKind::Sync);
            set(&mut env, value);
            let reason = refused(&env);
            assert_eq!(
                reason,
                format!("{field} {value} is out of range: no correct node gets to 2^62 (4611686018427387904)")
            );
        }
        let mut env = envelope(MsgKind::Sync);
        set(&mut env, MAX_WIRE_VALUE - 1);
        assert!(check_envelope(&env, n(1), n(0), &five()).is_ok(), "{field}");
    }
}

#[test]
fn only_a_sync_may_carry_no_request() {
    let env = wire::Envelope {
        req_ts: 0,
        ..envelope(MsgKind::Sync)
    };
    let (_, msg) = check_envelope(&env, n(1), n(0), &five()).unwrap();
    assert_eq!(msg.synced_request(), None);
    for kind in MsgKind::ALL
        .into_iter()
        .filter(|k| !matches!(k, MsgKind::Sync | MsgKind::Floor | MsgKind::Config))
    {
        let env = wire::Envelope {
            req_ts: 0,
            ..envelope(kind)
        };
        assert_eq!(
            refused(&env),
            format!("req_ts 0 in a {kind}: only a Sync, a Floor or a Config may carry no request")
        );
    }
}

#[test]
fn a_request_of_a_node_outside_the_cluster_is_refused() {
    let env = wire::Envelope {
        req_node: 5,
        ..envelope(MsgKind::Request)
    };
    assert_eq!(refused(&env), "req_node 5 is not a node of the cluster");
}

/// A requester's kinds are about its own request: a RELEASE from node 1 for node 2's request
/// would free a vote node 2 holds.
#[test]
fn a_requesters_message_about_another_nodes_request_is_refused() {
    for kind in MsgKind::ALL.into_iter().filter(|k| k.from_requester()) {
        for other in [0, 2] {
            let env = wire::Envelope {
                req_node: other,
                ..envelope(kind)
            };
            assert_eq!(
                refused(&env),
                format!("a {kind} from node 1 about node {other}'s request: a requester sends it about its own request")
            );
        }
    }
}

/// A voter's kinds go to the requester of the request they are about: this node.
#[test]
fn a_voters_message_about_a_request_not_of_the_receiver_is_refused() {
    for kind in MsgKind::ALL.into_iter().filter(|k| !k.from_requester()) {
        for other in [1, 2] {
            let env = wire::Envelope {
                req_node: other,
                ..envelope(kind)
            };
            assert_eq!(
                refused(&env),
                format!("a {kind} from node 1 about node {other}'s request: a voter sends it to the requester, and this is node 0")
            );
        }
    }
}

#[test]
fn lock_names_follow_the_lock_services_rule_and_empty_is_cs() {
    assert_eq!(check_lock("").unwrap().as_str(), "cs");
    assert_eq!(check_lock("cs").unwrap().as_str(), "cs");
    assert_eq!(check_lock("orders/eu-1").unwrap().as_str(), "orders/eu-1");
    assert!(check_lock(&"x".repeat(128)).is_ok());
    for (name, reason) in [
        (
            "x".repeat(129),
            "lock name of 129 bytes: use 1 to 128 bytes",
        ),
        (
            "a b".to_string(),
            "lock name \"a b\": use printable ASCII without spaces",
        ),
        (
            "caf\u{e9}".to_string(),
            "lock name \"caf\u{e9}\": use printable ASCII without spaces",
        ),
        (
            "tab\t".to_string(),
            "lock name \"tab\\t\": use printable ASCII without spaces",
        ),
    ] {
        assert_eq!(check_lock(&name).unwrap_err().reason(), reason);
        let env = wire::Envelope {
            lock: name,
            ..envelope(MsgKind::Request)
        };
        assert_eq!(refused(&env), reason);
    }
}

#[test]
fn frames_after_the_hello_are_messages_heartbeats_or_skipped_and_a_second_hello_is_refused() {
    let nodes = five();
    let check = |body| check_frame(&wire::LinkFrame { body }, n(1), n(0), &nodes);
    let env = envelope(MsgKind::Grant);
    match check(Some(wire::link_frame::Body::Envelope(env))) {
        Ok(Frame::Message {
            seq: 9,
            lock,
            msg,
            attachment: None,
        }) => {
            assert_eq!((lock.as_str(), msg.kind), ("orders", MsgKind::Grant))
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(
        check(Some(wire::link_frame::Body::Heartbeat(wire::Heartbeat {}))),
        Ok(Frame::Heartbeat)
    );
    assert_eq!(check(None), Ok(Frame::Unknown));
    assert_eq!(
        check(Some(wire::link_frame::Body::Hello(hello(1, 0))))
            .unwrap_err()
            .reason(),
        "a second Hello on a link: a link has one, first"
    );
}

// ---- fuzzing ------------------------------------------------------------------------------

/// Runs `test` on `cases` values of `strategy` drawn from a fixed seed (no regression files:
/// the same run every time, within the test budget), and prints how many cases ran and how
/// long they took. A failure panics with the smallest failing value proptest found.
fn fuzz<S: Strategy>(
    name: &str,
    cases: u32,
    strategy: S,
    test: impl Fn(S::Value) -> Result<(), TestCaseError>,
) {
    let config = ProptestConfig {
        cases,
        rng_seed: RngSeed::Fixed(15),
        failure_persistence: None,
        ..ProptestConfig::default()
    };
    let start = Instant::now();
    if let Err(e) = TestRunner::new(config).run(&strategy, test) {
        panic!("{name}: {e}");
    }
    println!("{name}: {cases} cases in {:.2?}", start.elapsed());
}

/// Numbers as a hostile peer picks them: small ones, the edges of the bound and of `u64`, and
/// anything.
fn hostile_number() -> BoxedStrategy<u64> {
    prop_oneof![
        4 => 0u64..16,
        1 => (MAX_WIRE_VALUE - 2)..(MAX_WIRE_VALUE + 2),
        1 => (u64::MAX - 2)..=u64::MAX,
        1 => any::<u64>(),
    ]
    .boxed()
}

/// Numbers a correct node could send in a short run: the protocol's real cases (timestamps
/// and incarnations that match the member's), now and then a large but possible one.
fn sane_number() -> BoxedStrategy<u64> {
    prop_oneof![8 => 0u64..16, 1 => 0u64..(1 << 40)].boxed()
}

fn lock_name() -> impl Strategy<Value = String> {
    prop_oneof![
        4 => Just(String::new()),
        2 => Just("a".to_string()),
        1 => Just("cs".to_string()),
        1 => Just("x".repeat(129)),
        1 => Just("a b".to_string()),
        1 => "[ -~\u{80}-\u{ff}]{0,4}",
    ]
}

/// Any Envelope: kinds beyond the protocol's, ids beyond the cluster's `n` nodes.
fn any_envelope(n: u32, number: BoxedStrategy<u64>) -> impl Strategy<Value = wire::Envelope> {
    (
        (number.clone(), -1i32..14, number.clone(), number.clone()),
        (0..n + 2, number.clone(), any::<bool>(), number.clone()),
        (lock_name(), number.clone(), number),
    )
        .prop_map(
            |(
                (seq, kind, lamport, req_ts),
                (req_node, req_inc, holds_grant, to_inc),
                (lock, token, echo),
            )| {
                wire::Envelope {
                    seq,
                    kind,
                    lamport,
                    req_ts,
                    req_node,
                    req_inc,
                    holds_grant,
                    to_inc,
                    lock,
                    token,
                    echo,
                    req_epoch: 0,
                    config: Vec::new(),
                }
            },
        )
}

fn any_frame() -> impl Strategy<Value = wire::LinkFrame> {
    let body = prop_oneof![
        1 => (0u32..6, 0u32..6, hostile_number(), hostile_number()).prop_map(|(from, to, incarnation, token)| {
            Some(wire::link_frame::Body::Hello(wire::Hello { from, to, incarnation, token, boot: 1, awaits_floor: false, epoch: 0, addr: String::new() }))
        }),
        2 => any_envelope(5, hostile_number()).prop_map(|e| Some(wire::link_frame::Body::Envelope(e))),
        // Sane numbers about the request the kind is about (node 1 sends to node 0), so that
        // many pass before the damage.
        2 => (any_envelope(5, sane_number()), 0u32..2).prop_map(|(mut e, owner)| {
            e.req_node = owner;
            Some(wire::link_frame::Body::Envelope(e))
        }),
        1 => Just(Some(wire::link_frame::Body::Heartbeat(wire::Heartbeat {}))),
        1 => Just(None),
    ];
    body.prop_map(|body| wire::LinkFrame { body })
}

/// What a checked frame may contain: numbers below the bound, a known kind, ids of the
/// cluster agreeing with the kind, a lock name of the rule.
fn assert_sane(frame: &Frame, from: NodeId, me: NodeId) {
    let Frame::Message { seq, lock, msg, .. } = frame else {
        return;
    };
    for v in [
        *seq,
        msg.lamport.0,
        msg.req.ts.0,
        msg.req.inc.0,
        msg.to_inc.0,
        msg.token.0,
        msg.echo,
    ] {
        assert!(v < MAX_WIRE_VALUE, "{frame:?}");
    }
    assert!(*seq >= 1);
    let owner = if msg.kind.from_requester() { from } else { me };
    assert_eq!(msg.req.node, owner, "{frame:?}");
    assert!(lock.as_str() == "cs" || lock_service::shape_problem(lock.as_str()).is_none());
}

/// What became of fuzzed bytes: how many decoded, and how many frames passed the checks.
#[derive(Default)]
struct Tally {
    decoded: Cell<u64>,
    passed: Cell<u64>,
}

impl Tally {
    fn count(cell: &Cell<u64>) {
        cell.set(cell.get() + 1);
    }
}

/// Decodes `bytes` as a frame after a Hello and checks it, as the transport does; a Hello
/// goes through [`check_hello`] too. Must never panic.
fn decode_and_check(bytes: &[u8], tally: &Tally) {
    let nodes = five();
    let Ok(frame) = wire::LinkFrame::decode(bytes) else {
        return;
    };
    Tally::count(&tally.decoded);
    if let Some(wire::link_frame::Body::Hello(h)) = &frame.body {
        if check_hello(h).is_ok() {
            assert!(h.incarnation >= 1 && h.incarnation < MAX_WIRE_VALUE);
            assert!(h.token < MAX_WIRE_VALUE);
        }
    }
    let _ = frame_kind(&frame);
    if let Ok(checked) = check_frame(&frame, n(1), n(0), &nodes) {
        assert_sane(&checked, n(1), n(0));
        if let Frame::Message { .. } = checked {
            Tally::count(&tally.passed);
        }
    }
}

/// One input of a member whose peers' messages come through the checks.
#[derive(Clone, Debug)]
enum Input {
    /// An Envelope on a peer's link (an index among the peers); its `req_node` is replaced
    /// by that peer's id (0), by the member's (1), or kept (2).
    Envelope(u32, u8, wire::Envelope),
    /// A Hello from a peer: its incarnation and token floor.
    Hello(u32, u64, u64),
    Tick(u64),
    Request(bool),
    Exit(bool),
    Cancel(bool),
    Suspect(u32, bool),
}

fn input(n: u32, number: BoxedStrategy<u64>) -> impl Strategy<Value = Input> {
    prop_oneof![
        10 => (0..n - 1, 0u8..3, any_envelope(n, number.clone()))
            .prop_map(|(p, owner, e)| Input::Envelope(p, owner, e)),
        1 => (0..n - 1, number.clone(), number).prop_map(|(p, i, t)| Input::Hello(p, i, t)),
        2 => (0u64..2000).prop_map(Input::Tick),
        2 => any::<bool>().prop_map(Input::Request),
        1 => any::<bool>().prop_map(Input::Exit),
        1 => any::<bool>().prop_map(Input::Cancel),
        1 => (0..n - 1, any::<bool>()).prop_map(|(p, on)| Input::Suspect(p, on)),
    ]
}

/// A cluster size, this member's id, whether numbers are hostile, and the inputs.
fn member_scenario() -> impl Strategy<Value = (u32, u32, bool, Vec<Input>)> {
    (3u32..=9, any::<bool>()).prop_flat_map(|(n, hostile)| {
        let number = if hostile {
            hostile_number()
        } else {
            sane_number()
        };
        (
            Just(n),
            0..n,
            Just(hostile),
            prop::collection::vec(input(n, number), 0..300),
        )
    })
}

/// Carries out a batch as the driver does: messages to itself are handled after the batch;
/// every message to a peer must pass that peer's checks (when `closed`: numbers in the
/// inputs were sane, so sane ones come out). Returns how many went to peers.
fn run_batch(
    member: &mut Member,
    nodes: &BTreeSet<NodeId>,
    closed: bool,
    mut actions: Vec<LockAction>,
) -> u64 {
    let me = member.id();
    let mut local: VecDeque<(LockName, Message)> = VecDeque::new();
    let mut sent = 0;
    for round in 0.. {
        for LockAction { lock, action } in actions {
            let Action::Send { to, msg } = action else {
                continue;
            };
            if to == me {
                local.push_back((lock, msg));
                continue;
            }
            sent += 1;
            if closed {
                let env = to_envelope(1, &lock, &msg);
                if let Err(refusal) = check_envelope(&env, me, to, nodes) {
                    panic!("node {me} sends {msg:?} to node {to}, which refuses it: {refusal}");
                }
            }
        }
        let Some((lock, msg)) = local.pop_front() else {
            break;
        };
        assert!(round < 10_000, "node {me} keeps messaging itself");
        actions = member.handle(me, &lock, msg);
    }
    sent
}

/// A cluster's shape and the index of each step to take among those enabled.
#[derive(Clone, Debug)]
struct Schedule {
    nodes: usize,
    requests: u32,
    locks: usize,
    queued_self: bool,
    crash: CrashModel,
    cancels: u32,
    choices: Vec<u16>,
}

fn schedule() -> impl Strategy<Value = Schedule> {
    (
        (3usize..=9, 1u32..=4, 1usize..=3, any::<bool>()),
        (0u32..=2, 0u32..=1, 0u32..=2, 0u32..=2),
        prop::collection::vec(any::<u16>(), 50..1500),
    )
        .prop_map(
            |(
                (nodes, requests, locks, queued_self),
                (crashes, stops, wrong_suspicions, cancels),
                choices,
            )| {
                Schedule {
                    nodes,
                    requests,
                    locks,
                    queued_self,
                    crash: CrashModel {
                        crashes,
                        journal: true,
                        journal_token: true,
                        stops,
                        wrong_suspicions,
                        disk_losses: 0,
                    },
                    cancels,
                    choices,
                }
            },
        )
}

/// Arbitrary bytes through the decoder and the checks: no panic.
#[test]
fn arbitrary_bytes_never_panic_the_decoder_or_the_checks() {
    let tally = Tally::default();
    fuzz(
        "arbitrary bytes",
        65_536,
        prop::collection::vec(any::<u8>(), 0..200),
        |bytes| {
            decode_and_check(&bytes, &tally);
            Ok(())
        },
    );
    println!(
        "  {} decoded as a frame, {} passed as a message",
        tally.decoded.get(),
        tally.passed.get()
    );
}

/// Well-formed frames of any content, encoded, then cut, overwritten or lengthened: no panic,
/// and whatever passes is within the rules.
#[test]
fn damaged_frames_never_panic_and_what_passes_is_sane() {
    let damage = prop::collection::vec((any::<u16>(), any::<u8>(), 0u8..4), 0..4);
    let tally = Tally::default();
    fuzz(
        "damaged frames",
        65_536,
        (any_frame(), damage),
        |(frame, damage)| {
            let mut bytes = frame.encode_to_vec();
            decode_and_check(&bytes, &tally);
            for (at, byte, how) in damage {
                let at = usize::from(at) % (bytes.len() + 1);
                match how {
                    0 => bytes.truncate(at),
                    1 if at < bytes.len() => bytes[at] = byte,
                    _ => bytes.insert(at, byte),
                }
            }
            decode_and_check(&bytes, &tally);
            Ok(())
        },
    );
    println!(
        "  {} of twice as many byte strings decoded as a frame, {} passed as a message",
        tally.decoded.get(),
        tally.passed.get()
    );
}

/// Envelopes of any content from the member's peers, checked as the transport does, with
/// Hellos (checked too), time, requests, exits, withdrawals and suspicions: what passes never
/// panics the member; and when the numbers were sane, every message the member sends passes
/// its receiver's checks.
#[test]
fn checked_envelopes_never_panic_a_member_and_its_answers_pass_the_checks() {
    let (passed, refused, sent) = (Cell::new(0u64), Cell::new(0u64), Cell::new(0u64));
    fuzz(
        "envelopes into a member",
        1024,
        member_scenario(),
        |(n, me, hostile, inputs)| {
            let ids: Vec<NodeId> = (0..n).map(NodeId).collect();
            let nodes: BTreeSet<NodeId> = ids.iter().copied().collect();
            let me = NodeId(me);
            let peers: Vec<NodeId> = ids.iter().copied().filter(|&p| p != me).collect();
            let system = Arc::new(QuorumSystem::grid(&ids));
            let mut member = Member::with_system(me, system, Options::default());
            let cs = LockName::from(LockName::CS);
            let named = LockName::from("a");
            let lock = |named_lock: bool| if named_lock { &named } else { &cs };
            let mut now = 0u64;
            for input in inputs {
                member.set_now(now);
                let actions = match input {
                    Input::Envelope(p, owner, mut env) => {
                        let from = peers[p as usize];
                        // Most of the time the request is of the node the kind says (or the
                        // other one), so that many get past the checks.
                        match owner {
                            0 => env.req_node = from.0,
                            1 => env.req_node = me.0,
                            _ => {}
                        }
                        match check_envelope(&env, from, me, &nodes) {
                            Ok((lock, msg)) => {
                                passed.set(passed.get() + 1);
                                member.handle(from, &lock, msg)
                            }
                            Err(_) => {
                                refused.set(refused.get() + 1);
                                continue;
                            }
                        }
                    }
                    Input::Hello(p, incarnation, token) => {
                        let from = peers[p as usize];
                        let h = wire::Hello {
                            from: from.0,
                            to: me.0,
                            incarnation,
                            token,
                            boot: 1,
                            awaits_floor: false,
                            epoch: 0,
                            addr: String::new(),
                        };
                        match check_hello(&h) {
                            Ok(()) => member.peer_incarnation(
                                from,
                                Incarnation(incarnation),
                                Token(token),
                            ),
                            Err(_) => continue,
                        }
                    }
                    Input::Tick(by) => {
                        now += by;
                        member.tick(now)
                    }
                    Input::Request(l) => member.request_cs(lock(l)).unwrap_or_default(),
                    Input::Exit(l) => member.exit_cs(lock(l)).unwrap_or_default(),
                    Input::Cancel(l) => member.cancel_cs(lock(l)).unwrap_or_default(),
                    Input::Suspect(p, on) => member.set_suspected(peers[p as usize], on),
                };
                sent.set(sent.get() + run_batch(&mut member, &nodes, !hostile, actions));
            }
            Ok(())
        },
    );
    println!(
        "  {} envelopes passed the checks, {} refused; the member sent {} messages to peers",
        passed.get(),
        refused.get(),
        sent.get()
    );
}

/// Well-formed traffic is never refused: random schedules of the in-memory cluster (the
/// simulator's world: crash-restarts, deaths, wrong suspicions, withdrawals, several locks,
/// time passing), each step picked by proptest among those enabled. Every message and Hello a
/// node delivers to another passes the checks it would meet on the wire, unchanged, and safety
/// holds after every step.
#[test]
fn no_message_of_a_random_cluster_schedule_is_refused() {
    let (messages, hellos, steps) = (Cell::new(0u64), Cell::new(0u64), Cell::new(0u64));
    fuzz("cluster schedules", 2048, schedule(), |s| {
        let mut cluster = Cluster::with_locks(
            s.nodes,
            s.requests,
            s.locks,
            Options::default(),
            s.queued_self,
            s.crash,
        )
        .with_cancels(s.cancels);
        let nodes: BTreeSet<NodeId> = (0..s.nodes as u32).map(NodeId).collect();
        let mut enabled = Vec::new();
        let mut seq = 0;
        for choice in s.choices {
            cluster.enabled(&mut enabled);
            if enabled.is_empty() {
                break;
            }
            let step = enabled[usize::from(choice) % enabled.len()];
            if let Step::Deliver { from, to } = step {
                match cluster.link(from, to).front().copied() {
                    // A node's messages to itself never go over the wire.
                    _ if from == to => {}
                    Some(Item::Msg(ix, msg)) => {
                        seq += 1;
                        messages.set(messages.get() + 1);
                        let lock = &cluster.lock_names()[usize::from(ix)];
                        let env = to_envelope(seq, lock, &msg);
                        let checked = check_envelope(&env, from, to, &nodes);
                        prop_assert_eq!(checked, Ok((lock.clone(), msg)), "{} -> {}", from, to);
                    }
                    Some(Item::Hello(incarnation, token, _, _)) => {
                        hellos.set(hellos.get() + 1);
                        let h = wire::Hello {
                            from: from.0,
                            to: to.0,
                            incarnation: incarnation.0,
                            token: token.0,
                            boot: incarnation.0,
                            awaits_floor: false,
                            epoch: 0,
                            addr: String::new(),
                        };
                        prop_assert_eq!(check_hello(&h), Ok(()));
                    }
                    None => unreachable!("an enabled delivery has something to deliver"),
                }
            }
            steps.set(steps.get() + 1);
            cluster.apply(step);
            if let Err(what) = cluster.check_safety() {
                return Err(TestCaseError::fail(what.to_string()));
            }
        }
        Ok(())
    });
    println!(
        "  {} steps, {} messages and {} Hellos between nodes checked",
        steps.get(),
        messages.get(),
        hellos.get()
    );
}
