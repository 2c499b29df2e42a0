//! Whole rounds, the test playing the network by hand: costs, contention and restarts at any point.

use super::*;

// ---- whole rounds, the test playing the network by hand -------------------------------------

/// Nodes by id, and the messages in flight, delivered in global FIFO order (so FIFO per link).
struct Net {
    nodes: BTreeMap<NodeId, Node>,
    in_flight: VecDeque<(NodeId, NodeId, Message)>,
    /// Network messages (sender != receiver) delivered, per kind.
    network: BTreeMap<MsgKind, usize>,
    /// Self-messages delivered.
    to_self: usize,
    entries: Vec<(NodeId, RequestId, Vec<NodeId>)>,
    /// Each node's voter journal: the lock of its last `Persist` (survives restarts).
    journal: BTreeMap<NodeId, Option<RequestId>>,
    /// `Revote` decisions logged, as `(node, what, request)`.
    revotes: Vec<(NodeId, RevoteKind, RequestId)>,
}

impl Net {
    fn new(quorums: &[(u32, &[u32])]) -> Net {
        let mut nodes: BTreeMap<NodeId, Node> =
            quorums.iter().map(|&(i, q)| (n(i), node(i, q))).collect();
        // Every node starts knowing every other one as incarnation 1 (as the checkers do).
        let ids: Vec<NodeId> = nodes.keys().copied().collect();
        for x in nodes.values_mut() {
            for &p in &ids {
                x.assume_peer(p, Incarnation(1));
            }
        }
        Net {
            nodes,
            in_flight: VecDeque::new(),
            network: BTreeMap::new(),
            to_self: 0,
            entries: Vec::new(),
            journal: BTreeMap::new(),
            revotes: Vec::new(),
        }
    }

    /// `kill -9` of `who` and a restart as the next incarnation: whatever it had in flight, to or
    /// from it, is lost; it restores its journal lock; then every link to it comes up again and
    /// both ends learn the other's incarnation (the restarted end first hears of everyone).
    ///
    /// Dropping what the dead process had sent is not just convenient: the core relies on it.
    /// The transport discards frames of a superseded incarnation once the new one said Hello
    /// (transport.rs), and must: an old GRANT delivered after the new process regranted can
    /// cross a YIELD and be counted for a vote that has moved on.
    fn restart(&mut self, who: u32) {
        let who = n(who);
        let old = &self.nodes[&who];
        let (q, inc) = (old.quorum().to_vec(), old.incarnation().next());
        self.in_flight.retain(|&(f, t, _)| f != who && t != who);
        let lock = self.journal.get(&who).copied().flatten();
        let (fresh, out) = Node::restore(who, &q, inc, lock, Token(0), classic());
        self.nodes.insert(who, fresh);
        self.carry_out(who, out);
        let peers: Vec<NodeId> = self.nodes.keys().copied().filter(|&p| p != who).collect();
        for p in peers {
            let out = self
                .nodes
                .get_mut(&p)
                .unwrap()
                .peer_incarnation(who, inc, Token(0));
            self.carry_out(p, out);
            let p_inc = self.nodes[&p].incarnation();
            let out = self
                .nodes
                .get_mut(&who)
                .unwrap()
                .peer_incarnation(p, p_inc, Token(0));
            self.carry_out(who, out);
        }
        self.check();
    }

    fn carry_out(&mut self, from: NodeId, actions: Vec<Action>) {
        for a in actions {
            match a {
                Action::Send { to, msg } => self.in_flight.push_back((from, to, msg)),
                Action::EnterCs { req, votes, .. } => self.entries.push((from, req, votes)),
                Action::Persist { lock, .. } => {
                    self.journal.insert(from, lock);
                }
                Action::Log(LogEvent::Revote { what, req, .. }) => {
                    self.revotes.push((from, what, req))
                }
                Action::Log(_) | Action::LeaseExpired { .. } | Action::PersistFloor { .. } => {}
            }
        }
    }

    fn request(&mut self, who: u32) {
        let out = self.nodes.get_mut(&n(who)).unwrap().request_cs().unwrap();
        self.carry_out(n(who), out);
    }

    fn exit(&mut self, who: NodeId) {
        let out = self.nodes.get_mut(&who).unwrap().exit_cs().unwrap();
        self.carry_out(who, out);
    }

    /// Delivers the oldest message in flight, if any, checking safety after it.
    fn step(&mut self) -> bool {
        let Some((from, to, m)) = self.in_flight.pop_front() else {
            return false;
        };
        if from == to {
            self.to_self += 1;
        } else {
            *self.network.entry(m.kind).or_default() += 1;
        }
        let out = self.nodes.get_mut(&to).unwrap().handle(from, m);
        self.carry_out(to, out);
        self.check();
        true
    }

    /// Delivers until nothing is in flight, checking safety after every step.
    fn run(&mut self) {
        while self.step() {}
    }

    /// Runs, letting whoever is in the CS out, until nothing more happens.
    fn run_to_quiet(&mut self) {
        loop {
            self.run();
            match self.in_cs() {
                Some(who) => self.exit(who),
                None => break,
            }
        }
    }

    /// The request `who` wants or holds the CS with.
    fn current(&self, who: u32) -> RequestId {
        match self.nodes[&n(who)].phase() {
            Phase::Wanting(r) | Phase::InCs(r) => r,
            Phase::Idle => panic!("node {who} has no request"),
        }
    }

    /// Safety after every step: at most one node in the CS; every grant a requester counts is
    /// the lock of that voter (one vote, never two); every voter's lock is in its journal.
    fn check(&self) {
        let in_cs = self
            .nodes
            .values()
            .filter(|x| matches!(x.phase(), Phase::InCs(_)))
            .count();
        assert!(in_cs <= 1, "safety: {in_cs} nodes in the CS");
        for x in self.nodes.values() {
            if let Phase::Wanting(r) | Phase::InCs(r) = x.phase() {
                for v in &x.requester().granted {
                    let lock = self.nodes[v].voter().lock;
                    assert_eq!(lock, Some(r), "{} counts {v}'s grant for {r}", x.id());
                }
            }
            let journal = self.journal.get(&x.id()).copied().flatten();
            assert_eq!(journal, x.voter().lock, "lock of {} not persisted", x.id());
        }
    }

    fn in_cs(&self) -> Option<NodeId> {
        self.nodes
            .values()
            .find(|x| matches!(x.phase(), Phase::InCs(_)))
            .map(|x| x.id())
    }

    fn network_total(&self) -> usize {
        self.network.values().sum()
    }

    fn assert_quiet(&self) {
        for x in self.nodes.values() {
            assert_eq!(x.phase(), Phase::Idle, "node {} not idle", x.id());
            assert_eq!(x.voter().lock, None, "vote leak at {}", x.id());
            assert!(x.voter().queue.is_empty(), "queue left at {}", x.id());
            assert!(
                x.voter().told_failed.is_empty(),
                "FAILED set left at {}",
                x.id()
            );
        }
    }
}

// Rows "want CS", "voter gets REQUEST" (unlocked), "requester gets GRANT", "exit CS", "voter gets
// RELEASE": one uncontended CS entry in a 3-node quorum costs exactly 3 * (|Q| - 1) network
// messages — REQUEST, GRANT and RELEASE to/from each other member — plus 3 self-messages.
#[test]
fn uncontended_round_costs_three_messages_per_other_member() {
    let q: &[u32] = &[0, 1, 2];
    for who in [0u32, 1, 2] {
        let mut net = Net::new(&[(0, q), (1, q), (2, q)]);
        net.request(who);
        net.run();
        assert_eq!(net.entries.len(), 1);
        let (at, req, votes) = net.entries[0].clone();
        assert_eq!((at, req), (n(who), rid(1, who)));
        assert_eq!(votes, vec![n(0), n(1), n(2)]);
        assert_eq!(net.in_cs(), Some(n(who)));
        net.exit(n(who));
        net.run();
        net.assert_quiet();

        assert_eq!(net.network_total(), 3 * (q.len() - 1));
        assert_eq!(
            net.network,
            BTreeMap::from([
                (MsgKind::Request, 2),
                (MsgKind::Grant, 2),
                (MsgKind::Release, 2),
            ])
        );
        assert_eq!(net.to_self, 3);
    }
}

// The same count for a larger quorum: 3 * (|Q| - 1) for |Q| = 5.
#[test]
fn uncontended_round_cost_scales_with_the_quorum() {
    let q: &[u32] = &[0, 1, 2, 3, 4];
    let mut net = Net::new(&[(0, q), (1, q), (2, q), (3, q), (4, q)]);
    net.request(3);
    net.run();
    net.exit(n(3));
    net.run();
    net.assert_quiet();
    assert_eq!(net.entries.len(), 1);
    assert_eq!(net.network_total(), 3 * (q.len() - 1));
}

// All rows together: every node of the 2x2 grid (quorums {0,1,2}, {0,1,3}, {0,2,3}, {1,2,3})
// requests at once; delivered FIFO, each enters exactly once and the system ends quiet (no
// deadlock, no vote leak). Node 3 asks first and finds its whole quorum unlocked, so it goes first
// although its request has the lowest priority.
#[test]
fn concurrent_requests_on_a_grid_all_enter_once() {
    let mut net = Net::new(&[
        (0, &[0, 1, 2]),
        (1, &[0, 1, 3]),
        (2, &[0, 2, 3]),
        (3, &[1, 2, 3]),
    ]);
    for who in [3, 1, 0, 2] {
        net.request(who);
    }
    loop {
        net.run();
        match net.in_cs() {
            Some(who) => net.exit(who),
            None => break,
        }
    }
    net.assert_quiet();
    // The schedule really is contended: the voters had to inquire and a requester yielded.
    for kind in [MsgKind::Failed, MsgKind::Inquire, MsgKind::Yield] {
        assert!(net.network.get(&kind).is_some_and(|&c| c > 0), "no {kind}");
    }
    let order: Vec<RequestId> = net.entries.iter().map(|e| e.1).collect();
    assert_eq!(order.len(), 4);
    assert_eq!(order[0], rid(1, 3));
    assert_eq!(
        set(&order),
        set(&[rid(1, 0), rid(1, 1), rid(1, 2), rid(1, 3)])
    );
}

/// The 2x2 grid: quorums {0,1,2}, {0,1,3}, {0,2,3}, {1,2,3}.
fn grid() -> Net {
    Net::new(&[
        (0, &[0, 1, 2]),
        (1, &[0, 1, 3]),
        (2, &[0, 2, 3]),
        (3, &[1, 2, 3]),
    ])
}

// §3 as users see it: voter 0 is killed while node 1 is in the CS with its vote and node 2
// waits for it. The journal keeps 0's lock, so the vote is not given twice; node 2's lost
// request is re-queued through its Sync (re-voting), and everyone gets in, with no vote leak.
#[test]
fn voter_restart_during_a_cs_requeues_the_lost_request_and_everyone_enters() {
    let mut net = grid();
    net.request(1);
    net.run();
    assert_eq!(net.in_cs(), Some(n(1)));
    net.request(2);
    net.run();
    let (r1, r2) = (net.current(1), net.current(2));
    assert_eq!(net.nodes[&n(0)].voter().queue, set(&[r2]));

    net.restart(0);
    assert_eq!(net.nodes[&n(0)].incarnation(), Incarnation(2));
    assert_eq!(net.nodes[&n(0)].voter().lock, Some(r1));
    assert!(net.nodes[&n(0)].voter().queue.is_empty());
    net.run();
    assert_eq!(net.in_cs(), Some(n(1)));
    assert_eq!(net.revotes, vec![(n(0), RevoteKind::Requeued, r2)]);
    assert_eq!(net.nodes[&n(0)].voter().queue, set(&[r2]));

    net.run_to_quiet();
    net.assert_quiet();
    let order: Vec<(NodeId, RequestId)> = net.entries.iter().map(|e| (e.0, e.1)).collect();
    assert_eq!(order, vec![(n(1), r1), (n(2), r2)]);
}

// §3: voter 0 is killed after persisting its lock but before its GRANT left (the GRANT is
// lost). The restored lock is granted again on node 1's Sync, exactly once.
#[test]
fn voter_restart_before_its_grant_left_regrants_it() {
    let mut net = grid();
    net.request(1);
    assert!(net.step()); // voter 0 takes (1, 1): Persist, then the GRANT is in flight
    let r1 = net.current(1);
    assert_eq!(net.journal[&n(0)], Some(r1));
    net.restart(0);
    net.run();
    assert_eq!(net.in_cs(), Some(n(1)));
    assert_eq!(net.revotes, vec![(n(0), RevoteKind::Regranted, r1)]);
    net.run_to_quiet();
    net.assert_quiet();
    assert_eq!(net.entries.len(), 1);
}

// §3: node 1 is killed in the CS. Its own voter frees its dead lock at restore, the other voters
// free theirs on learning the new incarnation, and waiting node 2 gets in; node 1's new
// incarnation then gets in with a request that is not its old one.
#[test]
fn requester_restart_in_the_cs_frees_its_votes() {
    let mut net = grid();
    net.request(1);
    net.run();
    net.request(2);
    net.run();
    let (r1, r2) = (net.current(1), net.current(2));
    assert_eq!(net.in_cs(), Some(n(1)));

    net.restart(1);
    assert_eq!(net.nodes[&n(1)].phase(), Phase::Idle);
    assert_eq!(
        net.revotes,
        vec![
            (n(1), RevoteKind::Freed, r1),
            (n(0), RevoteKind::Freed, r1),
            (n(3), RevoteKind::Freed, r1),
        ]
    );
    net.run();
    assert_eq!(net.in_cs(), Some(n(2)));
    net.run_to_quiet();

    net.request(1);
    let r1_new = net.current(1);
    assert_eq!(r1_new.inc, Incarnation(2));
    net.run_to_quiet();
    net.assert_quiet();
    let order: Vec<(NodeId, RequestId)> = net.entries.iter().map(|e| (e.0, e.1)).collect();
    assert_eq!(order, vec![(n(1), r1), (n(2), r2), (n(1), r1_new)]);
}

// §3 under contention: every node of the grid requests at once, then one node is killed and
// restarted after every possible number of deliveries. Safety (one CS, one vote per voter,
// every lock journaled) is checked after each step; every request of a node that was not
// restarted enters exactly once, and the system ends quiet (no deadlock, no vote leak).
#[test]
fn a_restart_at_any_point_of_a_contended_round_is_safe_and_live() {
    for who in 0..4u32 {
        for k in 0.. {
            let mut net = grid();
            for r in [3, 1, 0, 2] {
                net.request(r);
            }
            let mut delivered = 0;
            while delivered < k && net.step() {
                delivered += 1;
            }
            let ended = delivered < k;
            let before: Vec<(NodeId, RequestId)> = net.entries.iter().map(|e| (e.0, e.1)).collect();
            net.restart(who);
            net.run_to_quiet();
            net.assert_quiet();
            let entered: Vec<NodeId> = net.entries.iter().map(|e| e.0).collect();
            for other in (0..4).filter(|&o| o != who) {
                let times = entered.iter().filter(|&&e| e == n(other)).count();
                assert_eq!(
                    times, 1,
                    "restart {who} after {k}: node {other} entered {times}x"
                );
            }
            // The restarted node entered only if it was in before the crash.
            let before_who = before.iter().filter(|e| e.0 == n(who)).count();
            let times_who = entered.iter().filter(|&&e| e == n(who)).count();
            assert_eq!(times_who, before_who, "restart {who} after {k}");
            if ended {
                break;
            }
        }
    }
}

// §3 under contention, twice: as in the test above, with a second restart (of any node, the
// same one included) after every possible number of further deliveries.
#[test]
fn two_restarts_at_any_points_of_a_contended_round_are_safe_and_live() {
    for (first, second) in (0..4u32).flat_map(|a| (0..4u32).map(move |b| (a, b))) {
        for k1 in 0.. {
            let mut ended1 = false;
            for k2 in 0.. {
                let mut net = grid();
                for r in [3, 1, 0, 2] {
                    net.request(r);
                }
                let mut delivered = 0;
                while delivered < k1 && net.step() {
                    delivered += 1;
                }
                ended1 = delivered < k1;
                net.restart(first);
                let mut delivered = 0;
                while delivered < k2 && net.step() {
                    delivered += 1;
                }
                let ended2 = delivered < k2;
                net.restart(second);
                net.run_to_quiet();
                net.assert_quiet();
                let entered: Vec<NodeId> = net.entries.iter().map(|e| e.0).collect();
                for other in (0..4).filter(|&o| o != first && o != second) {
                    let times = entered.iter().filter(|&&e| e == n(other)).count();
                    assert_eq!(
                        times, 1,
                        "restarts {first}@{k1}, {second}@{k2}: node {other} entered {times}x"
                    );
                }
                assert!(entered.len() <= 4, "{entered:?}");
                if ended2 {
                    break;
                }
            }
            if ended1 {
                break;
            }
        }
    }
}
