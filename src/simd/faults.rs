//! The seeded faults of a run: at random moments of the fault phase, `kill -9` (with or
//! without losing what was not synced), a lost journal, a pause, a partition, a cut
//! connection, a slow disk; each undone after a random while (restart, resume, heal). At the
//! end of the phase everything is undone so that the calm phase can demand progress.

use super::cluster::{NodeSetup, SimNode};
use super::net::Net;
use maekawa_core::id::NodeId;
use maekawa_core::rng::SplitMix64;
use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;
use tokio::time::Instant;

/// Which faults a run injects.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FaultMix {
    /// `kill -9` and restart with the same journal (half of them also lose, or tear, what was
    /// not synced, as a machine crash does).
    pub kills: bool,
    /// Stop polling a node for a while (longer than a lease, at times).
    pub pauses: bool,
    /// Split the nodes in two for a while.
    pub partitions: bool,
    /// End every connection between two nodes.
    pub cuts: bool,
    /// Make a node's journal syncs slow for a while.
    pub slow_disks: bool,
    /// Restart a killed node with its journal gone: unsafe today (README, "What it
    /// survives"), so off unless asked for.
    pub journal_loss: bool,
}

impl Default for FaultMix {
    fn default() -> FaultMix {
        FaultMix {
            kills: true,
            pauses: true,
            partitions: true,
            cuts: true,
            slow_disks: true,
            journal_loss: false,
        }
    }
}

/// How many of each fault a run injected.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct FaultCounts {
    /// Nodes killed (`kill -9`).
    pub kills: u64,
    /// Of those, machine crashes that lost what was not synced.
    pub crashes: u64,
    /// Restarts whose journal was gone.
    pub journal_losses: u64,
    /// Pauses.
    pub pauses: u64,
    /// Partitions.
    pub partitions: u64,
    /// Connection cuts.
    pub cuts: u64,
    /// Slow-disk periods.
    pub slow_disks: u64,
}

impl FaultCounts {
    /// Every fault counted.
    pub fn total(&self) -> u64 {
        self.kills + self.pauses + self.partitions + self.cuts + self.slow_disks
    }

    /// Adds `other`'s counts.
    pub fn add(&mut self, other: &FaultCounts) {
        self.kills += other.kills;
        self.crashes += other.crashes;
        self.journal_losses += other.journal_losses;
        self.pauses += other.pauses;
        self.partitions += other.partitions;
        self.cuts += other.cuts;
        self.slow_disks += other.slow_disks;
    }
}

/// What undoes a fault.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Undo {
    Restart(NodeId),
    Resume(NodeId),
    Heal,
    FastDisk(NodeId),
}

/// Injects faults into `nodes` for `length` of virtual time, then undoes every one.
pub(super) struct Injector<'a> {
    pub(super) nodes: &'a mut [SimNode],
    pub(super) setup: &'a NodeSetup,
    pub(super) net: &'a Net,
    pub(super) mix: FaultMix,
    pub(super) rng: SplitMix64,
    pub(super) counts: FaultCounts,
    agenda: BTreeMap<(Instant, u64), Undo>,
    seq: u64,
    partitioned: bool,
}

impl<'a> Injector<'a> {
    /// An injector for `nodes`, drawing from `seed`.
    pub(super) fn new(
        nodes: &'a mut [SimNode],
        setup: &'a NodeSetup,
        net: &'a Net,
        mix: FaultMix,
        seed: u64,
    ) -> Injector<'a> {
        Injector {
            nodes,
            setup,
            net,
            mix,
            rng: SplitMix64::new(seed),
            counts: FaultCounts::default(),
            agenda: BTreeMap::new(),
            seq: 0,
            partitioned: false,
        }
    }

    /// Runs the fault phase for `length`, then undoes what is left.
    pub(super) async fn run(&mut self, length: Duration) -> std::io::Result<()> {
        let end = Instant::now() + length;
        loop {
            let next = Instant::now() + Duration::from_millis(self.rng.between(20, 300));
            self.undo_until(next.min(end)).await?;
            if next >= end {
                break;
            }
            tokio::time::sleep_until(next).await;
            self.inject().await?;
        }
        tokio::time::sleep_until(end).await;
        self.undo_all().await
    }

    fn later(&mut self, after_ms: u64, undo: Undo) {
        self.seq += 1;
        let at = Instant::now() + Duration::from_millis(after_ms);
        self.agenda.insert((at, self.seq), undo);
    }

    async fn undo_until(&mut self, until: Instant) -> std::io::Result<()> {
        while let Some(entry) = self.agenda.first_entry() {
            if entry.key().0 > until {
                break;
            }
            let ((at, _), undo) = entry.remove_entry();
            tokio::time::sleep_until(at).await;
            self.undo(undo);
        }
        Ok(())
    }

    async fn undo_all(&mut self) -> std::io::Result<()> {
        for (_, undo) in std::mem::take(&mut self.agenda) {
            self.undo(undo);
        }
        self.net.heal();
        for node in self.nodes.iter_mut() {
            if node.is_paused() {
                node.resume(self.net);
            }
            node.disk.set_slow(Duration::ZERO);
            if !node.is_up() {
                node.start(self.setup, self.net);
            }
        }
        Ok(())
    }

    fn undo(&mut self, undo: Undo) {
        match undo {
            Undo::Restart(id) => {
                let node = &mut self.nodes[id.0 as usize];
                if !node.is_up() {
                    node.start(self.setup, self.net);
                }
            }
            Undo::Resume(id) => self.nodes[id.0 as usize].resume(self.net),
            Undo::Heal => {
                self.partitioned = false;
                self.net.heal();
            }
            Undo::FastDisk(id) => self.nodes[id.0 as usize].disk.set_slow(Duration::ZERO),
        }
    }

    /// Nodes neither down nor paused.
    fn healthy(&self) -> Vec<NodeId> {
        self.nodes
            .iter()
            .filter(|n| n.is_up() && !n.is_paused())
            .map(|n| n.id)
            .collect()
    }

    async fn inject(&mut self) -> std::io::Result<()> {
        let healthy = self.healthy();
        let n = self.nodes.len();
        // Keep a majority of the nodes running, so that the cluster can make progress
        // between faults; which faults hit which nodes is up to the seed.
        let may_stop = n - healthy.len() < n.div_ceil(2) - 1 || n - healthy.len() == 0;
        let pick =
            |rng: &mut SplitMix64, from: &[NodeId]| from[rng.below(from.len() as u64) as usize];
        match self.rng.below(12) {
            0..=2 if self.mix.kills && may_stop && !healthy.is_empty() => {
                let id = pick(&mut self.rng, &healthy);
                let crash = self.rng.below(2) == 0;
                let lose = self.mix.journal_loss && self.rng.below(2) == 0;
                let node = &mut self.nodes[id.0 as usize];
                node.kill(self.net, crash).await?;
                self.counts.kills += 1;
                self.counts.crashes += u64::from(crash);
                if lose {
                    let files = node.journal_files(&self.setup.dir);
                    node.disk.lose(&files)?;
                    self.counts.journal_losses += 1;
                }
                let down = self.rng.between(10, 800);
                self.later(down, Undo::Restart(id));
            }
            3..=4 if self.mix.pauses && may_stop && !healthy.is_empty() => {
                let id = pick(&mut self.rng, &healthy);
                self.nodes[id.0 as usize].pause(self.net);
                self.counts.pauses += 1;
                let lease = self.setup.lease_ms.max(300);
                let length = self.rng.between(10, 2 * lease);
                self.later(length, Undo::Resume(id));
            }
            5 if self.mix.partitions && !self.partitioned => {
                let ids: Vec<NodeId> = self.nodes.iter().map(|n| n.id).collect();
                let mut side = BTreeSet::new();
                while side.is_empty() || side.len() == ids.len() {
                    side = ids
                        .iter()
                        .filter(|_| self.rng.below(2) == 0)
                        .copied()
                        .collect();
                }
                self.net.partition(side);
                self.partitioned = true;
                self.counts.partitions += 1;
                let length = self.rng.between(50, 1500);
                self.later(length, Undo::Heal);
            }
            6..=8 if self.mix.cuts => {
                let a = self.rng.below(n as u64) as u32;
                let b = (a + 1 + self.rng.below(n as u64 - 1) as u32) % n as u32;
                self.net.cut(NodeId(a), NodeId(b));
                self.counts.cuts += 1;
            }
            9 if self.mix.slow_disks => {
                let id = NodeId(self.rng.below(n as u64) as u32);
                let extra = Duration::from_millis(self.rng.between(1, 50));
                self.nodes[id.0 as usize].disk.set_slow(extra);
                self.counts.slow_disks += 1;
                let length = self.rng.between(50, 1000);
                self.later(length, Undo::FastDisk(id));
            }
            _ => {}
        }
        Ok(())
    }
}
