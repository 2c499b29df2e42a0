//! The seeded simulator: random schedules of a whole cluster, invariants checked after every
//! step.
//!
//! Each run picks, from its seed alone, how eager nodes are to request and to leave the CS and
//! how slow each link is; then it repeatedly chooses one enabled [`Step`] at random. After every
//! step it checks safety ([`Cluster::check_safety`]) and the overtaking bound; at the end it
//! checks that every request entered the CS and that no vote leaked. A failure carries the
//! [`SimConfig`] that replays it exactly. Library code so that tests and `maekawa simulate`
//! share it; it must stay deterministic (no clock, no thread-dependent order within a run), and
//! it knows nothing of the command line (the replay command is rendered by `maekawa simulate`).

use crate::cluster::{Cluster, CrashModel, Step};
use crate::id::NodeId;
use crate::protocol::{Message, MsgKind, Options, Phase};
use crate::rng::SplitMix64;
use std::collections::VecDeque;
use std::fmt;

/// How often nodes want the CS.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Contention {
    /// Think and hold times are random: sometimes alone, sometimes crowded.
    Random,
    /// Every node asks again the moment it leaves the CS: the worst case for messages.
    Full,
}

/// One simulation run, fully determined by these fields.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SimConfig {
    /// Cluster size (grid quorums over ids `0..nodes`).
    pub nodes: usize,
    /// Seed of every random choice.
    pub seed: u64,
    /// CS requests each node makes.
    pub requests: u32,
    /// Request timing.
    pub contention: Contention,
    /// Core switches (only the checkers' non-vacuity tests turn anything off).
    pub options: Options,
    /// Crash-restarts of random nodes at random moments (kill -9, restart, journal kept).
    pub crashes: u32,
    /// Voters journal their lock (off only to show the checker catches the double grant).
    pub journal: bool,
    /// The token floor survives a restart (off only to show the checker catches the repeated
    /// token).
    pub journal_token: bool,
    /// Lock names the nodes take turns asking for (1: just `cs`).
    pub locks: usize,
    /// Withdrawals of a waiting request, at random moments.
    pub cancels: u32,
    /// Nodes that die for good at random moments (suspected by all, eventually).
    pub stops: u32,
    /// Suspicions of live nodes, each lifted later.
    pub wrong_suspicions: u32,
    /// Pauses: a random node takes no step for a while (its timer too) while time passes and
    /// the others (who may suspect it) go on.
    pub pauses: u32,
}

/// What one or more runs did.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct SimStats {
    /// Runs aggregated here.
    pub runs: u64,
    /// CS entries.
    pub entries: u64,
    /// Steps taken.
    pub steps: u64,
    /// Network messages (a node to another node) by kind, indexed by [`MsgKind::index`].
    pub network: [u64; MsgKind::ALL.len()],
    /// Messages a node sent to itself (they cost no network).
    pub self_messages: u64,
    /// Most times one node overtook one waiting request (the bound is 1).
    pub max_overtakes: u32,
}

impl SimStats {
    /// All network messages.
    pub fn network_total(&self) -> u64 {
        self.network.iter().sum()
    }

    /// Network messages per CS entry.
    pub fn per_entry(&self) -> f64 {
        if self.entries == 0 {
            0.0
        } else {
            self.network_total() as f64 / self.entries as f64
        }
    }

    /// Adds another run's figures to these.
    pub fn merge(&mut self, other: &SimStats) {
        self.runs += other.runs;
        self.entries += other.entries;
        self.steps += other.steps;
        for (a, b) in self.network.iter_mut().zip(other.network) {
            *a += b;
        }
        self.self_messages += other.self_messages;
        self.max_overtakes = self.max_overtakes.max(other.max_overtakes);
    }
}

impl fmt::Display for SimStats {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "runs:                {}", self.runs)?;
        writeln!(f, "steps:               {}", self.steps)?;
        writeln!(f, "CS entries:          {}", self.entries)?;
        writeln!(f, "network messages:    {}", self.network_total())?;
        for kind in MsgKind::ALL {
            writeln!(
                f,
                "  {:<8}           {}",
                kind.name(),
                self.network[kind.index()]
            )?;
        }
        writeln!(f, "self messages:       {}", self.self_messages)?;
        writeln!(f, "messages per entry:  {:.2}", self.per_entry())?;
        write!(f, "max overtakes:       {} (bound 1)", self.max_overtakes)
    }
}

/// A run that broke an invariant: everything needed to understand and replay it (the
/// command line that replays [`SimFailure::config`] is the caller's to render: `maekawa
/// simulate` prints one).
#[derive(Clone, Debug)]
pub struct SimFailure {
    /// The run.
    pub config: SimConfig,
    /// Step at which the violation was seen.
    pub step: u64,
    /// What went wrong.
    pub what: String,
    /// The last steps before it, oldest first.
    pub trace: Vec<String>,
    /// The cluster's state when it failed.
    pub state: String,
}

impl fmt::Display for SimFailure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "simulation failed at step {}: {}", self.step, self.what)?;
        writeln!(
            f,
            "seed {} ({} nodes, {} requests each)",
            self.config.seed, self.config.nodes, self.config.requests
        )?;
        writeln!(f, "last steps:")?;
        for line in &self.trace {
            writeln!(f, "  {line}")?;
        }
        write!(f, "state:\n{}", self.state)
    }
}

impl std::error::Error for SimFailure {}

const TRACE_LEN: usize = 60;

/// Per-run bookkeeping for the overtaking bound (PROTOCOL.md §2): once every voter of node
/// `i`'s quorum has received `i`'s request, any other node may enter at most once with a
/// request it made after that moment before `i` enters.
struct OvertakeTracker {
    quorum_len: Vec<usize>,
    /// Step at which node j's current request was made.
    issued_at: Vec<u64>,
    /// How many voters have received node i's current request.
    reached: Vec<usize>,
    /// Step at which the last of them did.
    reached_all_at: Vec<Option<u64>>,
    /// `overtakes[i][j]`: entries of j counted against i's current request.
    overtakes: Vec<Vec<u32>>,
    max: u32,
}

impl OvertakeTracker {
    fn new(cluster: &Cluster) -> OvertakeTracker {
        let n = cluster.len();
        OvertakeTracker {
            quorum_len: (0..n)
                .map(|i| cluster.node(NodeId(i as u32)).quorum().len())
                .collect(),
            issued_at: vec![0; n],
            reached: vec![0; n],
            reached_all_at: vec![None; n],
            overtakes: vec![vec![0; n]; n],
            max: 0,
        }
    }

    fn requested(&mut self, i: usize, step: u64) {
        self.issued_at[i] = step;
        self.reached[i] = 0;
        self.reached_all_at[i] = None;
        self.overtakes[i].iter_mut().for_each(|c| *c = 0);
    }

    fn request_delivered(&mut self, i: usize, step: u64) {
        self.reached[i] += 1;
        if self.reached[i] == self.quorum_len[i] {
            self.reached_all_at[i] = Some(step);
        }
    }

    fn entered(&mut self, cluster: &Cluster, j: usize) -> Result<(), String> {
        for i in 0..cluster.len() {
            if i == j || !matches!(cluster.phase(NodeId(i as u32)), Phase::Wanting(_)) {
                continue;
            }
            if let Some(t0) = self.reached_all_at[i] {
                if self.issued_at[j] > t0 {
                    self.overtakes[i][j] += 1;
                    self.max = self.max.max(self.overtakes[i][j]);
                    if self.overtakes[i][j] > 1 {
                        return Err(format!(
                            "node {j} overtook node {i}'s request {} times after it reached all its voters",
                            self.overtakes[i][j]
                        ));
                    }
                }
            }
        }
        self.reached_all_at[j] = None;
        Ok(())
    }
}

/// Runs one seeded schedule to completion, checking every invariant on the way.
pub fn run(cfg: &SimConfig) -> Result<SimStats, Box<SimFailure>> {
    let mut rng = SplitMix64::new(cfg.seed);
    let n = cfg.nodes;
    // Half the seeds let self-messages wait on the self-link like network messages (more
    // interleavings than the daemon can produce); the other half handle them at once, as the
    // daemon's driver does.
    let queued_self = rng.below(2) == 0;
    let mut cluster = Cluster::with_locks(
        n,
        cfg.requests,
        cfg.locks,
        cfg.options,
        queued_self,
        CrashModel {
            crashes: cfg.crashes,
            journal: cfg.journal,
            journal_token: cfg.journal_token,
            stops: cfg.stops,
            wrong_suspicions: cfg.wrong_suspicions,
        },
    )
    .with_cancels(cfg.cancels);
    // Crashes come at random moments spread over the run: each step has this chance.
    let crash_period = 20 + rng.below(30 * (n * n) as u64 * cfg.requests as u64 + 1);
    let (mut made, mut lost) = (0u64, 0u64);
    // Per-run character, drawn from the seed: link speeds and how eager nodes are.
    let link_weight: Vec<u64> = (0..n * n).map(|_| rng.between(1, 16)).collect();
    let request_weight = rng.between(1, 24);
    let exit_weight = rng.between(1, 24);
    // Drawn only when cancels are on, so that other runs keep their schedules.
    let cancel_weight = if cfg.cancels > 0 {
        rng.between(1, 8)
    } else {
        0
    };
    let max_steps = 100_000 + 400 * (n * n) as u64 * cfg.requests as u64;
    // Faults of issue 14, drawn only when asked for so that other runs keep their schedules.
    let faulty = cfg.stops + cfg.wrong_suspicions + cfg.pauses > 0;
    let (suspect_weight, time_weight) = if faulty {
        (rng.between(1, 8), rng.between(1, 8))
    } else {
        (1, 1)
    };
    let mut pauses_left = cfg.pauses;
    // The paused node and the step its pause ends.
    let mut paused: Option<(NodeId, u64)> = None;

    let mut stats = SimStats {
        runs: 1,
        ..SimStats::default()
    };
    let mut overtakes = OvertakeTracker::new(&cluster);
    let mut trace: VecDeque<(u64, Step, Option<Message>)> = VecDeque::with_capacity(TRACE_LEN);
    let mut enabled = Vec::new();
    let mut weights = Vec::new();
    let fail = |cluster: &Cluster, step: u64, what: String, trace: &VecDeque<_>| {
        Box::new(SimFailure {
            config: *cfg,
            step,
            what,
            trace: render_trace(trace),
            state: cluster.describe(),
        })
    };

    let mut step_no: u64 = 0;
    loop {
        cluster.enabled(&mut enabled);
        if let Some((id, until)) = paused {
            if step_no >= until || enabled.iter().all(|s| s.actor() == Some(id)) {
                paused = None;
            } else {
                enabled.retain(|s| s.actor() != Some(id));
            }
        }
        if enabled.is_empty() {
            break;
        }
        if pauses_left > 0 && paused.is_none() && rng.below(crash_period) == 0 {
            pauses_left -= 1;
            let id = NodeId(rng.below(n as u64) as u32);
            paused = Some((id, step_no + rng.between(5, 60 * n as u64)));
        }
        let stop_steps = enabled
            .iter()
            .filter(|s| matches!(s, Step::Stop(_)))
            .count() as u64;
        let crash_steps = enabled
            .iter()
            .filter(|s| matches!(s, Step::Crash { .. }))
            .count() as u64;
        let step = if stop_steps > 0 && rng.below(crash_period) == 0 {
            let pick = rng.below(stop_steps) as usize;
            *enabled
                .iter()
                .filter(|s| matches!(s, Step::Stop(_)))
                .nth(pick)
                .expect("counted above")
        } else if crash_steps > 0 && rng.below(crash_period) == 0 {
            let pick = rng.below(crash_steps) as usize;
            *enabled
                .iter()
                .filter(|s| matches!(s, Step::Crash { .. }))
                .nth(pick)
                .expect("counted above")
        } else if cfg.contention == Contention::Full
            && enabled.iter().any(|s| matches!(s, Step::Request(_)))
        {
            *enabled
                .iter()
                .find(|s| matches!(s, Step::Request(_)))
                .expect("checked above")
        } else {
            weights.clear();
            weights.extend(enabled.iter().map(|s| match s {
                Step::Deliver { from, to } => link_weight[from.0 as usize * n + to.0 as usize],
                Step::Request(_) => request_weight,
                Step::Exit(_) => exit_weight,
                Step::Cancel(_) => cancel_weight,
                Step::Crash { .. } | Step::Stop(_) => 0,
                Step::Suspect { .. } => suspect_weight,
                Step::Tick | Step::Wake(_) => time_weight,
            }));
            let total: u64 = weights.iter().sum();
            let mut pick = rng.below(total);
            let mut chosen = enabled[0];
            for (s, &w) in enabled.iter().zip(&weights) {
                if pick < w {
                    chosen = *s;
                    break;
                }
                pick -= w;
            }
            chosen
        };
        step_no += 1;
        if step_no > max_steps {
            return Err(fail(
                &cluster,
                step_no,
                format!("no end after {max_steps} steps (livelock?)"),
                &trace,
            ));
        }
        if let Step::Crash { node, .. } | Step::Stop(node) = step {
            // A request still waiting dies with its process: it is not owed an entry.
            lost += u64::from(matches!(cluster.phase(node), Phase::Wanting(_)));
        }
        // A withdrawn request is not owed an entry either.
        lost += u64::from(matches!(step, Step::Cancel(_)));
        let effect = cluster.apply(step);
        if trace.len() == TRACE_LEN {
            trace.pop_front();
        }
        trace.push_back((step_no, step, effect.delivered));

        let actor = step.actor().unwrap_or(NodeId(u32::MAX));
        for (to, msg) in &effect.sent {
            if *to == actor {
                stats.self_messages += 1;
            } else {
                stats.network[msg.kind.index()] += 1;
            }
        }
        if let Step::Request(id) = step {
            made += 1;
            overtakes.requested(id.0 as usize, step_no);
        }
        for msg in effect.delivered.iter().chain(&effect.handled_locally) {
            let requester = msg.req.node;
            if msg.kind == MsgKind::Request && cluster.phase(requester) == Phase::Wanting(msg.req) {
                overtakes.request_delivered(requester.0 as usize, step_no);
            }
        }
        if let Some(req) = effect.entered {
            stats.entries += 1;
            // Crashes reset priorities (a restarted node's clock starts again): the overtaking
            // bound is checked on crash-free runs, of one lock (entries of other locks do not
            // overtake).
            if cfg.crashes == 0 && cfg.locks == 1 && !faulty {
                if let Err(what) = overtakes.entered(&cluster, req.node.0 as usize) {
                    return Err(fail(&cluster, step_no, what, &trace));
                }
            }
        }
        if let Err(what) = cluster.check_safety() {
            return Err(fail(&cluster, step_no, what, &trace));
        }
    }
    stats.steps = step_no;
    stats.max_overtakes = overtakes.max;
    if !cluster.is_finished() {
        return Err(fail(
            &cluster,
            step_no,
            "deadlock: no step is possible but requests are unserved".into(),
            &trace,
        ));
    }
    let expected = made - lost;
    if stats.entries != expected {
        return Err(fail(
            &cluster,
            step_no,
            format!("{} CS entries, expected {expected}", stats.entries),
            &trace,
        ));
    }
    if let Err(what) = cluster.check_no_vote_leak() {
        return Err(fail(&cluster, step_no, what, &trace));
    }
    Ok(stats)
}

fn render_trace(trace: &VecDeque<(u64, Step, Option<Message>)>) -> Vec<String> {
    trace
        .iter()
        .map(|(no, step, msg)| match msg {
            Some(m) => format!(
                "step {no}: {step}: {} for request {} (lamport {})",
                m.kind, m.req, m.lamport
            ),
            None => format!("step {no}: {step}"),
        })
        .collect()
}

/// Runs `count` schedules with seeds `first_seed..first_seed + count` on `threads` threads and
/// adds up their figures; stops at the first failure (the lowest failing seed of those seen).
/// Seed `s` runs on `sizes[s % sizes.len()]` nodes (an empty `sizes` keeps the template's).
/// The first failure by seed among those seen is returned.
pub fn run_many(
    template: &SimConfig,
    sizes: &[usize],
    first_seed: u64,
    count: u64,
    threads: usize,
) -> Result<SimStats, Box<SimFailure>> {
    let threads = threads.max(1) as u64;
    let failed = std::sync::atomic::AtomicBool::new(false);
    let results: Vec<Result<SimStats, Box<SimFailure>>> = std::thread::scope(|scope| {
        let handles: Vec<_> = (0..threads)
            .map(|t| {
                let failed = &failed;
                scope.spawn(move || {
                    let mut total = SimStats::default();
                    let mut seed = first_seed + t;
                    while seed < first_seed + count {
                        if failed.load(std::sync::atomic::Ordering::Relaxed) {
                            break;
                        }
                        let cfg = SimConfig {
                            seed,
                            nodes: if sizes.is_empty() {
                                template.nodes
                            } else {
                                size_for_seed(sizes, seed)
                            },
                            ..*template
                        };
                        match run(&cfg) {
                            Ok(s) => total.merge(&s),
                            Err(e) => {
                                failed.store(true, std::sync::atomic::Ordering::Relaxed);
                                return Err(e);
                            }
                        }
                        seed += threads;
                    }
                    Ok(total)
                })
            })
            .collect();
        handles
            .into_iter()
            .map(|h| h.join().expect("simulation thread panicked"))
            .collect()
    });
    let mut total = SimStats::default();
    let mut first_failure: Option<Box<SimFailure>> = None;
    for r in results {
        match r {
            Ok(s) => total.merge(&s),
            Err(e) => {
                if first_failure
                    .as_ref()
                    .is_none_or(|f| e.config.seed < f.config.seed)
                {
                    first_failure = Some(e);
                }
            }
        }
    }
    match first_failure {
        Some(e) => Err(e),
        None => Ok(total),
    }
}

/// The cluster size seed `seed` runs on when a run mixes several sizes (`sizes` non-empty).
pub fn size_for_seed(sizes: &[usize], seed: u64) -> usize {
    sizes[(seed % sizes.len() as u64) as usize]
}
