//! Two algorithms to compare Maekawa's against, simulated rather than quoted: Ricart and
//! Agrawala's (every requester asks all N − 1 others) and a token ring (one token passed to
//! the next node on a ring), under the workload of `maekawa simulate --contention full`.
//!
//! They exist so that the picture of messages per CS entry against N (BENCHMARKS.md, "Scale")
//! shows counted messages, not formulas: each model runs whole schedules, checks that at most
//! one node is in the CS after every step, and counts what crossed the network. They are
//! deliberately small (no crashes, no lock names, no tokens); the real algorithm is
//! [`crate::protocol`]. Like the rest of the crate they are deterministic: a seed decides
//! every choice.

use crate::rng::SplitMix64;
use std::collections::VecDeque;
use std::fmt;

/// What a baseline run did.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct BaselineStats {
    /// CS entries.
    pub entries: u64,
    /// Messages between different nodes.
    pub messages: u64,
}

impl BaselineStats {
    /// Messages per CS entry, the figure the comparison is about.
    pub fn per_entry(&self) -> f64 {
        if self.entries == 0 {
            0.0
        } else {
            self.messages as f64 / self.entries as f64
        }
    }
}

/// A baseline run that broke mutual exclusion or stopped with requests unserved (a bug in the
/// model, never expected).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BaselineFailure(pub String);

impl fmt::Display for BaselineFailure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for BaselineFailure {}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum RaPhase {
    Idle,
    Wanting,
    InCs,
}

#[derive(Clone, Copy, Debug)]
enum RaMsg {
    /// A request with its priority (Lamport time, node).
    Request(u64, usize),
    Reply,
}

/// The state of a Ricart–Agrawala run: per node its phase, Lamport clock, current request,
/// replies counted, deferred replies and requests left; the FIFO links; the figures.
struct Ra {
    n: usize,
    phase: Vec<RaPhase>,
    clock: Vec<u64>,
    /// Each node's current request, as its priority (Lamport time, node).
    mine: Vec<(u64, usize)>,
    replies: Vec<usize>,
    /// `deferred[i][j]`: node i owes node j a reply once it leaves the CS.
    deferred: Vec<Vec<bool>>,
    left: Vec<u32>,
    links: Vec<VecDeque<RaMsg>>,
    /// Non-empty links, for a uniform pick without scanning N² queues.
    busy: Vec<usize>,
    stats: BaselineStats,
}

impl Ra {
    fn new(n: usize, requests: u32) -> Ra {
        Ra {
            n,
            phase: vec![RaPhase::Idle; n],
            clock: vec![0; n],
            mine: vec![(0, 0); n],
            replies: vec![0; n],
            deferred: vec![vec![false; n]; n],
            left: vec![requests; n],
            links: vec![VecDeque::new(); n * n],
            busy: Vec::new(),
            stats: BaselineStats::default(),
        }
    }

    fn send(&mut self, from: usize, to: usize, msg: RaMsg) {
        let link = from * self.n + to;
        if self.links[link].is_empty() {
            self.busy.push(link);
        }
        self.links[link].push_back(msg);
        self.stats.messages += 1;
    }

    /// Full contention: an idle node with requests left asks every other node at once; a node
    /// that has every reply enters.
    fn request_and_enter(&mut self) {
        let n = self.n;
        for i in 0..n {
            if self.phase[i] == RaPhase::Idle && self.left[i] > 0 {
                self.left[i] -= 1;
                self.clock[i] += 1;
                self.mine[i] = (self.clock[i], i);
                self.phase[i] = RaPhase::Wanting;
                self.replies[i] = 0;
                for j in (0..n).filter(|&j| j != i) {
                    self.send(i, j, RaMsg::Request(self.clock[i], i));
                }
            }
            if self.phase[i] == RaPhase::Wanting && self.replies[i] == n - 1 {
                self.phase[i] = RaPhase::InCs;
                self.stats.entries += 1;
            }
        }
    }

    /// Node `i` leaves the CS and sends every reply it deferred.
    fn leave(&mut self, i: usize) {
        self.phase[i] = RaPhase::Idle;
        let waiting: Vec<usize> = (0..self.n).filter(|&j| self.deferred[i][j]).collect();
        self.deferred[i].fill(false);
        for j in waiting {
            self.send(i, j, RaMsg::Reply);
        }
    }

    /// Delivers the first message of the `pick`-th busy link.
    fn deliver(&mut self, pick: usize) {
        let link = self.busy[pick];
        let (from, to) = (link / self.n, link % self.n);
        let msg = self.links[link]
            .pop_front()
            .expect("busy links are not empty");
        if self.links[link].is_empty() {
            self.busy.swap_remove(pick);
        }
        match msg {
            RaMsg::Reply => self.replies[to] += 1,
            RaMsg::Request(ts, j) => {
                self.clock[to] = self.clock[to].max(ts);
                let defer = match self.phase[to] {
                    RaPhase::InCs => true,
                    RaPhase::Wanting => self.mine[to] < (ts, j),
                    RaPhase::Idle => false,
                };
                if defer {
                    self.deferred[to][from] = true;
                } else {
                    self.send(to, from, RaMsg::Reply);
                }
            }
        }
    }
}

/// Ricart–Agrawala under full contention: each of `nodes` nodes makes `requests` requests,
/// asking again the moment it leaves. A request goes to all N − 1 others; a node answers at
/// once unless it is in the CS or wants it with a higher priority (lower (time, id)), and then
/// answers when it leaves. Links are FIFO; which message is delivered next (or who leaves the
/// CS) is drawn from `seed`. Every entry costs exactly 2(N − 1) messages, whatever the order.
pub fn ricart_agrawala(
    nodes: usize,
    requests: u32,
    seed: u64,
) -> Result<BaselineStats, BaselineFailure> {
    let n = nodes;
    let mut rng = SplitMix64::new(seed);
    let mut ra = Ra::new(n, requests);
    loop {
        ra.request_and_enter();
        if ra.phase.iter().filter(|p| **p == RaPhase::InCs).count() > 1 {
            return Err(BaselineFailure(format!(
                "ricart-agrawala: two nodes in the CS (seed {seed}, {n} nodes)"
            )));
        }
        let holder = ra.phase.iter().position(|p| *p == RaPhase::InCs);
        let choices = ra.busy.len() + usize::from(holder.is_some());
        if choices == 0 {
            break;
        }
        let pick = rng.below(choices as u64) as usize;
        match holder {
            Some(i) if pick == ra.busy.len() => ra.leave(i),
            _ => ra.deliver(pick),
        }
    }
    let expected = n as u64 * u64::from(requests);
    if ra.stats.entries != expected {
        return Err(BaselineFailure(format!(
            "ricart-agrawala: {} entries, expected {expected} (seed {seed}, {n} nodes)",
            ra.stats.entries
        )));
    }
    Ok(ra.stats)
}

/// Who wants the CS while a token ring runs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RingLoad {
    /// Every node asks again the moment it leaves: the token enters at every node it reaches,
    /// about one message per entry.
    Full,
    /// One request at a time, from a node drawn at random (the holder included): the token
    /// travels from where it is to the requester, (N − 1)/2 messages per entry on average.
    OneAtATime,
}

/// A token ring of `nodes` nodes (node i passes the token to i + 1 mod N, one message per
/// hop) serving `requests` entries per node (`Full`) or `nodes × requests` entries in all
/// (`OneAtATime`). The token moves only while someone wants it (a ring that circulates it
/// when no one does would cost more, without bound, at light load).
pub fn token_ring(
    nodes: usize,
    requests: u32,
    load: RingLoad,
    seed: u64,
) -> Result<BaselineStats, BaselineFailure> {
    let n = nodes;
    let mut rng = SplitMix64::new(seed);
    let mut stats = BaselineStats::default();
    let mut token = 0usize;
    match load {
        RingLoad::Full => {
            let mut left = vec![requests; n];
            let mut wanting = n * requests as usize;
            while wanting > 0 {
                if left[token] > 0 {
                    left[token] -= 1;
                    wanting -= 1;
                    stats.entries += 1;
                }
                if wanting > 0 {
                    token = (token + 1) % n;
                    stats.messages += u64::from(n > 1);
                }
            }
        }
        RingLoad::OneAtATime => {
            for _ in 0..n as u64 * u64::from(requests) {
                let requester = rng.below(n as u64) as usize;
                while token != requester {
                    token = (token + 1) % n;
                    stats.messages += 1;
                }
                stats.entries += 1;
            }
        }
    }
    Ok(stats)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ricart_agrawala_costs_two_n_minus_one_per_entry_whatever_the_order() {
        for n in [1usize, 2, 3, 9, 25] {
            for seed in 0..5 {
                let s = ricart_agrawala(n, 3, seed).unwrap();
                assert_eq!(s.entries, 3 * n as u64, "{n} nodes, seed {seed}");
                assert_eq!(
                    s.messages,
                    2 * (n as u64 - 1) * s.entries,
                    "{n} nodes, seed {seed}"
                );
            }
        }
    }

    #[test]
    fn token_ring_under_full_contention_passes_once_per_entry() {
        for n in [1usize, 3, 25, 100] {
            let s = token_ring(n, 4, RingLoad::Full, 1).unwrap();
            assert_eq!(s.entries, 4 * n as u64);
            // Every entry but the last hands the token on once.
            let expected = if n == 1 { 0 } else { s.entries - 1 };
            assert_eq!(s.messages, expected, "{n} nodes");
        }
    }

    #[test]
    fn token_ring_at_light_load_travels_half_the_ring() {
        let n = 25;
        let s = token_ring(n, 200, RingLoad::OneAtATime, 7).unwrap();
        assert_eq!(s.entries, 5000);
        let expected = (n as f64 - 1.0) / 2.0;
        assert!(
            (s.per_entry() - expected).abs() < 0.05 * expected,
            "{} per entry, expected about {expected}",
            s.per_entry()
        );
    }
}
