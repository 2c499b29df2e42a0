//! The seeded faults of a run: at random moments of the fault phase, `kill -9` (with or
//! without losing what was not synced), a lost journal, a pause, a partition, a cut
//! connection, a slow disk; each undone after a random while (restart, resume, heal). At the
//! end of the phase everything is undone so that the calm phase can demand progress.

use super::clients::{record, Record};
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
    /// Restart some killed nodes with their disk gone (journal and incarnation file), with
    /// leases on (without, such a node refuses to start).
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
    /// Of those, crashes in the middle of a journal sync.
    pub mid_sync: u64,
    /// Of those, nodes left dead through the calm phase (no more than the quorums survive).
    pub dead: u64,
    /// Restarts whose disk (journal, incarnation) was gone.
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
        self.mid_sync += other.mid_sync;
        self.dead += other.dead;
        self.journal_losses += other.journal_losses;
        self.pauses += other.pauses;
        self.partitions += other.partitions;
        self.cuts += other.cuts;
        self.slow_disks += other.slow_disks;
    }
}

/// What the injector does later: undo a fault, or crash a node in the middle of its sync.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Later {
    Restart(NodeId),
    Resume(NodeId),
    Heal,
    FastDisk(NodeId),
    CrashMidSync(NodeId),
    PauseMidSync(NodeId),
}

/// A node's disk telling the injector that a journal sync of this length starts now: a chance
/// to crash the machine while it lasts (what was written but not synced is then lost).
pub(super) type SyncStarts = tokio::sync::mpsc::UnboundedReceiver<(NodeId, Duration)>;

/// Injects faults into `nodes` for `length` of virtual time, then undoes every one.
pub(super) struct Injector<'a> {
    pub(super) nodes: &'a mut [SimNode],
    pub(super) setup: &'a NodeSetup,
    pub(super) net: &'a Net,
    pub(super) mix: FaultMix,
    pub(super) rng: SplitMix64,
    pub(super) counts: FaultCounts,
    agenda: BTreeMap<(Instant, u64), Later>,
    seq: u64,
    partitioned: bool,
    /// When each node's latest journal sync ends.
    syncing: BTreeMap<NodeId, Instant>,
    /// What the lock clients hold, to aim partitions at holders.
    held: Record,
}

impl<'a> Injector<'a> {
    /// An injector for `nodes`, drawing from `seed`.
    pub(super) fn new(
        nodes: &'a mut [SimNode],
        setup: &'a NodeSetup,
        net: &'a Net,
        mix: FaultMix,
        seed: u64,
        held: Record,
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
            syncing: BTreeMap::new(),
            held,
        }
    }

    /// Runs the fault phase for `length`, then undoes what is left. `syncs` says when the
    /// nodes' journal syncs start, for crashes in their middle.
    pub(super) async fn run(
        &mut self,
        length: Duration,
        syncs: &mut SyncStarts,
    ) -> std::io::Result<()> {
        let end = Instant::now() + length;
        let mut next_fault = self.next_fault();
        loop {
            let next_later = self.agenda.first_key_value().map(|((at, _), _)| *at);
            let wake = next_later
                .into_iter()
                .chain([next_fault, end])
                .min()
                .unwrap_or(end);
            tokio::select! {
                biased;
                Some((id, sync)) = syncs.recv() => self.sync_started(id, sync),
                _ = tokio::time::sleep_until(wake) => {
                    if next_later == Some(wake) {
                        if let Some((_, later)) = self.agenda.pop_first() {
                            self.undo(later).await?;
                        }
                    } else if wake >= end {
                        break;
                    } else {
                        self.inject().await?;
                        next_fault = self.next_fault();
                    }
                }
            }
        }
        self.undo_all().await
    }

    fn next_fault(&mut self) -> Instant {
        Instant::now() + Duration::from_millis(self.rng.between(20, 300))
    }

    /// A journal sync of `length` started at node `id`: now and then, crash it halfway (with
    /// others syncing then).
    fn sync_started(&mut self, id: NodeId, length: Duration) {
        self.syncing.insert(id, Instant::now() + length);
        let node = &self.nodes[id.0 as usize];
        if !self.mix.kills || !node.is_up() || node.is_paused() || self.rng.below(50) != 0 {
            return;
        }
        self.seq += 1;
        let at = Instant::now() + length / 2;
        let later = if self.mix.pauses && self.rng.below(2) == 0 {
            Later::PauseMidSync(id)
        } else {
            Later::CrashMidSync(id)
        };
        self.agenda.insert((at, self.seq), later);
    }

    fn later(&mut self, after_ms: u64, later: Later) {
        self.seq += 1;
        let at = Instant::now() + Duration::from_millis(after_ms);
        self.agenda.insert((at, self.seq), later);
    }

    async fn undo_all(&mut self) -> std::io::Result<()> {
        for (_, later) in std::mem::take(&mut self.agenda) {
            if !matches!(later, Later::CrashMidSync(_) | Later::PauseMidSync(_)) {
                self.undo(later).await?;
            }
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

    async fn undo(&mut self, later: Later) -> std::io::Result<()> {
        match later {
            Later::Restart(id) => {
                let node = &mut self.nodes[id.0 as usize];
                if !node.is_up() {
                    node.start(self.setup, self.net);
                }
            }
            Later::Resume(id) => self.nodes[id.0 as usize].resume(self.net),
            Later::Heal => {
                self.partitioned = false;
                self.net.heal();
            }
            Later::FastDisk(id) => self.nodes[id.0 as usize].disk.set_slow(Duration::ZERO),
            Later::PauseMidSync(id) => {
                // A stop of the process (a long GC, SIGSTOP) while it waits for the disk.
                let node = &mut self.nodes[id.0 as usize];
                if node.is_up() && !node.is_paused() {
                    node.pause(self.net);
                    self.counts.pauses += 1;
                    let lease = self.setup.lease_ms.max(300);
                    let length = self.rng.between(lease / 2, 3 * lease);
                    self.later(length, Later::Resume(id));
                }
            }
            Later::CrashMidSync(id) => {
                // A power loss: this node, and each other one in the middle of a sync with
                // even odds (a voter's GRANT is written at about the time of its peers').
                let now = Instant::now();
                let syncing: Vec<NodeId> = self
                    .syncing
                    .iter()
                    .filter(|(n, end)| **end > now && **n != id)
                    .map(|(n, _)| *n)
                    .collect();
                let mut hit = vec![id];
                hit.extend(syncing.into_iter().filter(|_| self.rng.below(2) == 0));
                for id in hit {
                    let node = &self.nodes[id.0 as usize];
                    if node.is_up() && !node.is_paused() {
                        self.kill(id, true).await?;
                        self.counts.mid_sync += 1;
                        let down = self.rng.between(10, 300);
                        self.later(down, Later::Restart(id));
                    }
                }
            }
        }
        Ok(())
    }

    /// One side of a new partition: half the time a node that holds a lock now, cut off alone
    /// (a holder that must lose its lease), else a random split.
    fn partition_side(&mut self) -> BTreeSet<NodeId> {
        let holders: Vec<NodeId> = {
            let r = record(&self.held);
            r.held
                .iter()
                .filter(|h| h.until.is_none())
                .map(|h| h.node)
                .chain(last_cs_holder(&self.setup.dir))
                .collect()
        };
        if !holders.is_empty() && self.rng.below(2) == 0 {
            let h = holders[self.rng.below(holders.len() as u64) as usize];
            return BTreeSet::from([h]);
        }
        let ids: Vec<NodeId> = self.nodes.iter().map(|n| n.id).collect();
        let mut side = BTreeSet::new();
        while side.is_empty() || side.len() == ids.len() {
            side = ids
                .iter()
                .filter(|_| self.rng.below(2) == 0)
                .copied()
                .collect();
        }
        side
    }

    /// `kill -9` of node `id`, with a machine crash if `crash`, counted.
    async fn kill(&mut self, id: NodeId, crash: bool) -> std::io::Result<()> {
        self.nodes[id.0 as usize].kill(self.net, crash).await?;
        self.counts.kills += 1;
        self.counts.crashes += u64::from(crash);
        Ok(())
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
                // Without leases a lost journal refuses to start (nothing bounds its votes). Two
                // disks lost before the first learned its floor again can take the only copies
                // of a token: more than the protocol survives (DESIGN.md, "A lost disk"; the
                // simulator, `maekawa simulate --disk-losses 2`, covers losses in turn). One
                // disk is lost per run.
                let lose = self.rng.below(2) == 0
                    && self.mix.journal_loss
                    && self.setup.lease_ms > 0
                    && self.counts.journal_losses == 0;
                self.kill(id, crash).await?;
                let node = &self.nodes[id.0 as usize];
                if lose {
                    let files = node.disk_files(&self.setup.dir);
                    node.disk.lose(&files)?;
                    self.counts.journal_losses += 1;
                }
                let down = self.rng.between(10, 800);
                self.later(down, Later::Restart(id));
            }
            3..=4 if self.mix.pauses && may_stop && !healthy.is_empty() => {
                let id = pick(&mut self.rng, &healthy);
                self.nodes[id.0 as usize].pause(self.net);
                self.counts.pauses += 1;
                let lease = self.setup.lease_ms.max(300);
                let length = self.rng.between(10, 2 * lease);
                self.later(length, Later::Resume(id));
            }
            5 if self.mix.partitions && !self.partitioned => {
                let side = self.partition_side();
                self.net.partition(side);
                self.partitioned = true;
                self.counts.partitions += 1;
                let length = self.rng.between(50, (3 * self.setup.lease_ms).max(1500));
                self.later(length, Later::Heal);
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
                self.later(length, Later::FastDisk(id));
            }
            _ => {}
        }
        Ok(())
    }
}

/// The node of the last `enter` line of the CS log, if it is the last line (someone is in the
/// emulated CS now).
fn last_cs_holder(dir: &std::path::Path) -> Option<NodeId> {
    use std::io::{Read, Seek, SeekFrom};
    let mut f = std::fs::File::open(crate::logdir::cs_log(dir)).ok()?;
    let len = f.metadata().ok()?.len();
    f.seek(SeekFrom::Start(len.saturating_sub(512))).ok()?;
    let mut tail = String::new();
    f.read_to_string(&mut tail).ok()?;
    let last = tail.lines().last()?;
    let v: serde_json::Value = serde_json::from_str(last).ok()?;
    let node = NodeId(v.get("node")?.as_u64()? as u32);
    (v.get("event")?.as_str()? == "enter").then_some(node)
}
