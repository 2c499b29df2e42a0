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

use crate::cluster::{ChangeModel, Cluster, CrashModel, Step, StepEffect, Violation};
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
    /// How many of the crash-restarts lose the node's disk too (its journal and incarnation).
    pub disk_losses: u32,
    /// Pauses: a random node takes no step for a while (its timer too) while time passes and
    /// the others (who may suspect it) go on.
    pub pauses: u32,
    /// A membership change made during the run.
    pub change: ChangeModel,
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
    /// Runs that ended with a node that lost its disk unable to learn its token floor, since
    /// every node that voted alongside it in some quorum is dead: safe, but owed no entry
    /// ([`Cluster::floor_out_of_reach`]).
    pub stranded: u64,
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
        self.stranded += other.stranded;
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
        write!(f, "max overtakes:       {} (bound 1)", self.max_overtakes)?;
        if self.stranded > 0 {
            write!(
                f,
                "\nstranded runs:       {} (a lost disk whose floor witnesses all died)",
                self.stranded
            )?;
        }
        Ok(())
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

const TRACE_LEN: usize = 600;

/// What a step broke: the overtaking bound, or an invariant of the cluster's state. Its text is
/// the `what` of the [`SimFailure`].
#[derive(Debug, thiserror::Error)]
enum StepError {
    /// A node entered more than once ahead of a request that had reached all its voters.
    #[error(
        "node {by} overtook node {of}'s request {times} times after it reached all its voters"
    )]
    Overtaken {
        /// The node whose request was overtaken.
        of: usize,
        /// The node that overtook it.
        by: usize,
        /// How many times.
        times: u32,
    },
    /// Safety or fencing tokens.
    #[error(transparent)]
    Violation(#[from] Violation),
}

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

    fn entered(&mut self, cluster: &Cluster, j: usize) -> Result<(), StepError> {
        for i in 0..cluster.len() {
            if i == j || !matches!(cluster.phase(NodeId(i as u32)), Phase::Wanting(_)) {
                continue;
            }
            if let Some(t0) = self.reached_all_at[i] {
                if self.issued_at[j] > t0 {
                    self.overtakes[i][j] += 1;
                    self.max = self.max.max(self.overtakes[i][j]);
                    if self.overtakes[i][j] > 1 {
                        return Err(StepError::Overtaken {
                            of: i,
                            by: j,
                            times: self.overtakes[i][j],
                        });
                    }
                }
            }
        }
        self.reached_all_at[j] = None;
        Ok(())
    }
}

/// How one run behaves, drawn from its seed before the first step: how slow each link is, how
/// eager nodes are, and how often a fault strikes.
struct Character {
    /// Crashes, stops and pauses come at random moments spread over the run: each step has a
    /// chance of one in this.
    crash_period: u64,
    /// Weight of the link `from -> to` at `from * n + to`.
    link_weight: Vec<u64>,
    request_weight: u64,
    exit_weight: u64,
    cancel_weight: u64,
    suspect_weight: u64,
    time_weight: u64,
}

impl Character {
    /// Draws the character of a run of `cfg` (the order of the draws is part of the seed's
    /// meaning: changing it changes every schedule).
    fn draw(cfg: &SimConfig, rng: &mut SplitMix64) -> Character {
        let n = cfg.nodes;
        let crash_period = 20 + rng.below(30 * (n * n) as u64 * cfg.requests as u64 + 1);
        let link_weight: Vec<u64> = (0..n * n).map(|_| rng.between(1, 16)).collect();
        let request_weight = rng.between(1, 24);
        let exit_weight = rng.between(1, 24);
        // Drawn only when cancels are on, so that other runs keep their schedules.
        let cancel_weight = if cfg.cancels > 0 {
            rng.between(1, 8)
        } else {
            0
        };
        // Faults of issue 14, drawn only when asked for so that other runs keep their schedules.
        let (suspect_weight, time_weight) = if is_faulty(cfg) {
            (rng.between(1, 8), rng.between(1, 8))
        } else {
            (1, 1)
        };
        Character {
            crash_period,
            link_weight,
            request_weight,
            exit_weight,
            cancel_weight,
            suspect_weight,
            time_weight,
        }
    }

    /// The weight of `step` in an ordinary random pick (crashes and stops have their own draw).
    fn weight(&self, n: usize, step: &Step) -> u64 {
        match step {
            Step::Deliver { from, to } => self.link_weight[from.0 as usize * n + to.0 as usize],
            Step::Request(_) => self.request_weight,
            Step::Exit(_) => self.exit_weight,
            Step::Cancel(_) => self.cancel_weight,
            Step::Crash { .. } | Step::Stop(_) => 0,
            Step::Suspect { .. } => self.suspect_weight,
            Step::Tick | Step::Wake(_) => self.time_weight,
            Step::Propose => self.request_weight,
        }
    }
}

/// Faults of issue 14 (stops, wrong suspicions, pauses) are on.
fn is_faulty(cfg: &SimConfig) -> bool {
    cfg.stops + cfg.wrong_suspicions + cfg.pauses > 0
}

/// One run in progress: the cluster, the random source, and what the checks need.
struct Run<'a> {
    cfg: &'a SimConfig,
    rng: SplitMix64,
    cluster: Cluster,
    character: Character,
    /// Steps after which a run that has not ended is called a livelock.
    max_steps: u64,
    /// Pauses still to come.
    pauses_left: u32,
    /// The paused node and the step its pause ends.
    paused: Option<(NodeId, u64)>,
    /// Requests made, and those not owed an entry (dead with their node, or withdrawn).
    made: u64,
    lost: u64,
    stats: SimStats,
    overtakes: OvertakeTracker,
    trace: VecDeque<(u64, Step, Option<Message>)>,
    step_no: u64,
    enabled: Vec<Step>,
    weights: Vec<u64>,
}

impl Run<'_> {
    fn new(cfg: &SimConfig) -> Run<'_> {
        let mut rng = SplitMix64::new(cfg.seed);
        let n = cfg.nodes;
        // Half the seeds let self-messages wait on the self-link like network messages (more
        // interleavings than the daemon can produce); the other half handle them at once, as
        // the daemon's driver does.
        let queued_self = rng.below(2) == 0;
        let cluster = Cluster::with_locks(
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
                disk_losses: cfg.disk_losses,
            },
        )
        .with_cancels(cfg.cancels)
        .with_change(cfg.change);
        let character = Character::draw(cfg, &mut rng);
        let overtakes = OvertakeTracker::new(&cluster);
        Run {
            cfg,
            rng,
            cluster,
            character,
            max_steps: 100_000 + 400 * (n * n) as u64 * cfg.requests as u64,
            pauses_left: cfg.pauses,
            paused: None,
            made: 0,
            lost: 0,
            stats: SimStats {
                runs: 1,
                ..SimStats::default()
            },
            overtakes,
            trace: VecDeque::with_capacity(TRACE_LEN),
            step_no: 0,
            enabled: Vec::new(),
            weights: Vec::new(),
        }
    }

    /// The failure `what`, seen now.
    fn fail(&self, what: String) -> Box<SimFailure> {
        Box::new(SimFailure {
            config: *self.cfg,
            step: self.step_no,
            what,
            trace: render_trace(&self.trace),
            state: self.cluster.describe(),
        })
    }

    /// Fills `enabled` with the steps possible now, those of a paused node left out (a pause
    /// ends when its time is up or when nothing else could happen).
    fn collect_enabled(&mut self) {
        self.cluster.enabled(&mut self.enabled);
        if let Some((id, until)) = self.paused {
            if self.step_no >= until || self.enabled.iter().all(|s| s.actor() == Some(id)) {
                self.paused = None;
            } else {
                self.enabled.retain(|s| s.actor() != Some(id));
            }
        }
    }

    /// Perhaps starts a pause of a random node (when pauses are left and none is on).
    fn maybe_pause(&mut self) {
        let n = self.cfg.nodes as u64;
        if self.pauses_left > 0
            && self.paused.is_none()
            && self.rng.below(self.character.crash_period) == 0
        {
            self.pauses_left -= 1;
            let id = NodeId(self.rng.below(n) as u32);
            self.paused = Some((id, self.step_no + self.rng.between(5, 60 * n)));
        }
    }

    /// The `pick`-th enabled step that `matches`.
    fn nth_enabled(&self, matches: fn(&Step) -> bool, pick: u64) -> Step {
        *self
            .enabled
            .iter()
            .filter(|s| matches(s))
            .nth(pick as usize)
            .expect("counted above")
    }

    /// Chooses the next step among the enabled ones (not empty): a stop or a crash at their
    /// own rare rate, the first request under full contention, else a weighted random pick.
    fn choose(&mut self) -> Step {
        let is_stop: fn(&Step) -> bool = |s| matches!(s, Step::Stop(_));
        let is_crash: fn(&Step) -> bool = |s| matches!(s, Step::Crash { .. });
        let stop_steps = self.enabled.iter().filter(|s| is_stop(s)).count() as u64;
        let crash_steps = self.enabled.iter().filter(|s| is_crash(s)).count() as u64;
        let period = self.character.crash_period;
        if stop_steps > 0 && self.rng.below(period) == 0 {
            let pick = self.rng.below(stop_steps);
            return self.nth_enabled(is_stop, pick);
        }
        if crash_steps > 0 && self.rng.below(period) == 0 {
            let pick = self.rng.below(crash_steps);
            return self.nth_enabled(is_crash, pick);
        }
        if self.cfg.contention == Contention::Full {
            if let Some(s) = self.enabled.iter().find(|s| matches!(s, Step::Request(_))) {
                return *s;
            }
        }
        let n = self.cfg.nodes;
        self.weights.clear();
        let character = &self.character;
        self.weights
            .extend(self.enabled.iter().map(|s| character.weight(n, s)));
        let total: u64 = self.weights.iter().sum();
        let mut pick = self.rng.below(total);
        for (s, &w) in self.enabled.iter().zip(&self.weights) {
            if pick < w {
                return *s;
            }
            pick -= w;
        }
        self.enabled[0]
    }

    /// Takes `step` and checks what it did: the overtaking bound and safety.
    fn take(&mut self, step: Step) -> Result<(), StepError> {
        if let Step::Crash { node, .. } | Step::Stop(node) = step {
            // A request still waiting dies with its process: it is not owed an entry.
            self.lost += u64::from(matches!(self.cluster.phase(node), Phase::Wanting(_)));
        }
        // A withdrawn request is not owed an entry either.
        self.lost += u64::from(matches!(step, Step::Cancel(_)));
        let effect = self.cluster.apply(step);
        self.lost += u64::from(effect.withdrawn);
        if self.trace.len() == TRACE_LEN {
            self.trace.pop_front();
        }
        self.trace.push_back((self.step_no, step, effect.delivered));
        self.count_messages(step, &effect);
        if let Step::Request(id) = step {
            self.made += 1;
            self.overtakes.requested(id.0 as usize, self.step_no);
        }
        for msg in effect.delivered.iter().chain(&effect.handled_locally) {
            let requester = msg.req.node;
            if msg.kind == MsgKind::Request
                && self.cluster.phase(requester) == Phase::Wanting(msg.req)
            {
                self.overtakes
                    .request_delivered(requester.0 as usize, self.step_no);
            }
        }
        if let Some(req) = effect.entered {
            self.stats.entries += 1;
            // Crashes reset priorities (a restarted node's clock starts again): the overtaking
            // bound is checked on crash-free runs, of one lock (entries of other locks do not
            // overtake).
            if self.cfg.crashes == 0 && self.cfg.locks == 1 && !is_faulty(self.cfg) {
                self.overtakes.entered(&self.cluster, req.node.0 as usize)?;
            }
        }
        Ok(self.cluster.check_safety()?)
    }

    /// Counts the messages `step` sent: over the network, or to the sender itself.
    fn count_messages(&mut self, step: Step, effect: &StepEffect) {
        let actor = step.actor().unwrap_or(NodeId(u32::MAX));
        for (to, msg) in &effect.sent {
            if *to == actor {
                self.stats.self_messages += 1;
            } else {
                self.stats.network[msg.kind.index()] += 1;
            }
        }
    }

    /// The end-of-run checks, once no step is possible: no deadlock, an entry for every request
    /// owed one, no vote leaked.
    fn finish(mut self) -> Result<SimStats, Box<SimFailure>> {
        self.stats.steps = self.step_no;
        self.stats.max_overtakes = self.overtakes.max;
        if !self.cluster.is_finished() && self.cluster.floor_out_of_reach() {
            self.stats.stranded += 1;
            return Ok(self.stats);
        }
        if !self.cluster.is_finished() {
            let what = "deadlock: no step is possible but requests are unserved";
            return Err(self.fail(what.into()));
        }
        let expected = self.made - self.lost;
        if self.stats.entries != expected {
            let what = format!("{} CS entries, expected {expected}", self.stats.entries);
            return Err(self.fail(what));
        }
        if let Err(what) = self.cluster.check_no_vote_leak() {
            return Err(self.fail(what.to_string()));
        }
        Ok(self.stats)
    }
}

/// Runs one seeded schedule to completion, checking every invariant on the way.
pub fn run(cfg: &SimConfig) -> Result<SimStats, Box<SimFailure>> {
    let mut run = Run::new(cfg);
    loop {
        run.collect_enabled();
        if run.enabled.is_empty() {
            break;
        }
        run.maybe_pause();
        let step = run.choose();
        run.step_no += 1;
        if run.step_no > run.max_steps {
            let what = format!("no end after {} steps (livelock?)", run.max_steps);
            return Err(run.fail(what));
        }
        if let Err(what) = run.take(step) {
            return Err(run.fail(what.to_string()));
        }
    }
    run.finish()
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
