//! Quorums: which voters a node must win before it may enter the critical section.
//!
//! Four kinds of [`QuorumSystem`]. The default is Maekawa's grid (PROTOCOL.md §1): ids sorted
//! and laid row by row into `k = ceil(sqrt N)` columns, a node's own quorum being its row plus
//! its column. [`QuorumSystem::majority`] takes any `⌊N/2⌋ + 1` nodes. Explicit quorums (e.g.
//! the Fano plane) may replace either; [`QuorumSystem::validate`] checks every kind. The fourth,
//! [`QuorumSystem::joint`], only exists while the membership changes: a quorum of the old
//! system plus a quorum of the new one (Raft's joint consensus, applied to quorum systems).
//!
//! Each node has one *own* quorum ([`QuorumSystem::quorum`]), the one it uses while nobody is
//! suspected. [`QuorumSystem::choose`] lets it route around suspected nodes by picking any other
//! quorum of the same system; safety holds because any two quorums a requester may pick
//! intersect (Garcia-Molina and Barbara, JACM 1985), whoever picks them:
//!
//! - grid: a choosable quorum is any full row `R` plus any full column `C` (a column is every
//!   row's element at one position, so it is one shorter when the last row is short of it).
//!   Take `R ∪ C` and `R' ∪ C'`. If `R` is a full-length row it has an element at the position
//!   of `C'`, and that element is in `C'` (a column holds the element of every row that reaches
//!   its position). Symmetrically if `R'` is full-length. Otherwise both are the short last row,
//!   so `R = R'`, which is not empty.
//! - majority: two sets of more than `N/2` nodes each out of `N` share a node.
//! - explicit: [`QuorumSystem::validate`] checks every pair of listed quorums.
//! - joint, from `old` to `new`: a choosable quorum is `Q ∪ Q'`, `Q` choosable in `old` and `Q'`
//!   in `new`. Two of them meet because their `Q`s do; and one meets every quorum of `old`
//!   (through its `Q`) and every quorum of `new` (through its `Q'`), so requesters of either
//!   configuration and of the change exclude one another while the change is under way.
//!
//! Pure data: no I/O, no knowledge of files (that is `config`'s job), no text for people (`maekawa
//! quorums` renders a system).

use crate::id::NodeId;
use std::collections::{BTreeMap, BTreeSet};
use std::hash::{Hash, Hasher};
use std::sync::Arc;

/// Why a set of quorums cannot guarantee mutual exclusion.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum QuorumError {
    /// A node's quorum does not contain the node itself.
    #[error("the quorum of node {owner} does not contain node {owner}")]
    MissingOwner {
        /// The node whose quorum is wrong.
        owner: NodeId,
    },
    /// A quorum names a node that is not in the node list.
    #[error("the quorum of node {owner} names unknown node {unknown}")]
    UnknownMember {
        /// The node whose quorum is wrong.
        owner: NodeId,
        /// The id that is not listed.
        unknown: NodeId,
    },
    /// Two quorums share no voter, so both owners could be in the CS at once.
    #[error("the quorums of nodes {a} and {b} do not intersect")]
    Disjoint {
        /// One owner.
        a: NodeId,
        /// The other owner.
        b: NodeId,
    },
    /// A listed node has no quorum at all.
    #[error("node {owner} has no quorum")]
    NoQuorum {
        /// The node without a quorum.
        owner: NodeId,
    },
}

/// The own quorum of every node (each sorted and free of duplicates) and the rule that says
/// which other quorums a node may switch to.
///
/// `Hash` is deliberately shallow (the kind and the number of nodes): every protocol node holds
/// the system in an `Arc` and the explorer hashes whole cluster states millions of times, while
/// one run only ever compares states built on the same system. Equality is deep.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QuorumSystem {
    quorums: BTreeMap<NodeId, Vec<NodeId>>,
    layout: Layout,
}

/// Which quorums besides its own a node may use.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Layout {
    /// Any full row plus any full column of these rows (the last one may be short).
    Grid { rows: Vec<Vec<NodeId>> },
    /// Any `⌊N/2⌋ + 1` of the nodes.
    Majority,
    /// Any quorum listed for any node.
    Explicit,
    /// A membership change: any quorum of `old` plus any quorum of `new`.
    Joint {
        old: Arc<QuorumSystem>,
        new: Arc<QuorumSystem>,
    },
}

/// The four kinds of [`QuorumSystem`], for callers that present one (`maekawa quorums`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum QuorumKind {
    /// Maekawa's grid: any full row plus any full column.
    Grid,
    /// Any `⌊N/2⌋ + 1` of the nodes.
    Majority,
    /// Quorums listed by hand: any listed one.
    Explicit,
    /// A membership change under way: any quorum of the old system plus any quorum of the new.
    Joint,
}

impl QuorumKind {
    /// `"grid"`, `"majority"` or `"explicit"`, as `quorums.json` names it, or `"joint"` for a
    /// membership change (which `quorums.json` never holds).
    pub fn name(self) -> &'static str {
        match self {
            QuorumKind::Grid => "grid",
            QuorumKind::Majority => "majority",
            QuorumKind::Explicit => "explicit",
            QuorumKind::Joint => "joint",
        }
    }
}

impl Hash for QuorumSystem {
    fn hash<H: Hasher>(&self, state: &mut H) {
        self.kind().hash(state);
        self.quorums.len().hash(state);
    }
}

/// Largest `N` for which [`QuorumSystem::survives`] searches every set of dead nodes of an
/// explicit system (`2^N` sets); beyond it, it searches for the fewest nodes that hit every
/// quorum instead.
const BRUTE_FORCE_MAX_NODES: usize = 20;

impl QuorumSystem {
    /// Maekawa's grid over `ids` (order and duplicates in `ids` do not matter).
    pub fn grid(ids: &[NodeId]) -> QuorumSystem {
        let sorted = sorted_ids(ids);
        let k = ceil_sqrt(sorted.len()).max(1);
        let rows: Vec<Vec<NodeId>> = sorted.chunks(k).map(|c| c.to_vec()).collect();
        let mut quorums = BTreeMap::new();
        for (p, &id) in sorted.iter().enumerate() {
            quorums.insert(id, row_plus_column(&rows, p / k, p % k));
        }
        QuorumSystem {
            quorums,
            layout: Layout::Grid { rows },
        }
    }

    /// Majority quorums over `ids` (order and duplicates do not matter): any `⌊N/2⌋ + 1` nodes.
    ///
    /// A node's own quorum is itself and the next `⌊N/2⌋` ids after it in id order, wrapping
    /// around, so that the failure-free load is spread evenly: every node is in exactly
    /// `⌊N/2⌋ + 1` own quorums.
    pub fn majority(ids: &[NodeId]) -> QuorumSystem {
        let sorted = sorted_ids(ids);
        let n = sorted.len();
        let size = n / 2 + 1;
        let quorums = (0..n)
            .map(|p| {
                let mut q: Vec<NodeId> = (0..size).map(|i| sorted[(p + i) % n]).collect();
                q.sort();
                (sorted[p], q)
            })
            .collect();
        QuorumSystem {
            quorums,
            layout: Layout::Majority,
        }
    }

    /// Quorums given by hand; call [`QuorumSystem::validate`] before trusting them.
    pub fn explicit(quorums: BTreeMap<NodeId, Vec<NodeId>>) -> QuorumSystem {
        let quorums = quorums
            .into_iter()
            .map(|(id, mut q)| {
                q.sort();
                q.dedup();
                (id, q)
            })
            .collect();
        QuorumSystem {
            quorums,
            layout: Layout::Explicit,
        }
    }

    /// The system in force while the membership changes from `old` to `new` (Raft's joint
    /// consensus, applied to quorum systems): a quorum is a quorum of `old` plus a quorum of
    /// `new`. Requesters under `old`, under `new` and under the change itself then exclude one
    /// another, so the cluster may move from one configuration to the other without a moment
    /// in which two of them could enter at once.
    ///
    /// Every node of either system has an own quorum: the union of its own quorum in `old` and
    /// its own quorum in `new`, where a system it is not a member of contributes the own
    /// quorum of that system's smallest id (a deterministic default). Call
    /// [`QuorumSystem::validate`] before trusting an explicit part.
    pub fn joint(old: Arc<QuorumSystem>, new: Arc<QuorumSystem>) -> QuorumSystem {
        let ids: BTreeSet<NodeId> = old.nodes().chain(new.nodes()).collect();
        let quorums = ids
            .into_iter()
            .map(|id| {
                let mut q = old.own_or_default(id).to_vec();
                q.extend_from_slice(new.own_or_default(id));
                q.sort();
                q.dedup();
                (id, q)
            })
            .collect();
        QuorumSystem {
            quorums,
            layout: Layout::Joint { old, new },
        }
    }

    /// The old and the new system of a joint one, or `None` for any other kind: what a caller
    /// that presents a membership change (`maekawa quorums`) or waits on one looks into.
    pub fn parts(&self) -> Option<(&QuorumSystem, &QuorumSystem)> {
        match &self.layout {
            Layout::Joint { old, new } => Some((old, new)),
            Layout::Grid { .. } | Layout::Majority | Layout::Explicit => None,
        }
    }

    /// True when `id` has an own quorum here, i.e. belongs to the configuration (to either one,
    /// for a joint system): a membership change asks it of each part, since a node may be in
    /// one configuration only.
    pub fn is_member(&self, id: NodeId) -> bool {
        self.quorums.contains_key(&id)
    }

    /// `id`'s own quorum, or, when `id` is not a member, the own quorum of the smallest id
    /// (empty for an empty system): what this system contributes to a joint own quorum.
    fn own_or_default(&self, id: NodeId) -> &[NodeId] {
        let owner = if self.is_member(id) {
            Some(id)
        } else {
            self.nodes().next()
        };
        owner.map_or(&[], |o| self.quorum(o))
    }

    /// `"grid"`, `"majority"`, `"explicit"` or `"joint"`: how the system was built, as
    /// `quorums.json` and `maekawa quorums` name it.
    pub fn kind(&self) -> &'static str {
        self.quorum_kind().name()
    }

    /// How the system was built, as a value to match on: what decides which quorums a node
    /// may switch to ([`QuorumSystem::choose`]).
    pub fn quorum_kind(&self) -> QuorumKind {
        match self.layout {
            Layout::Grid { .. } => QuorumKind::Grid,
            Layout::Majority => QuorumKind::Majority,
            Layout::Explicit => QuorumKind::Explicit,
            Layout::Joint { .. } => QuorumKind::Joint,
        }
    }

    /// Checks what safety rests on: every listed node has a quorum that contains it, names only
    /// listed nodes, and meets every other quorum.
    ///
    /// For an explicit system this covers every quorum [`QuorumSystem::choose`] may return,
    /// since it only returns listed ones; for the grid and majority the module documentation
    /// proves the rest. A joint system first validates each part on that part's own nodes
    /// (what its safety rests on), then its own quorums against `nodes` as above.
    pub fn validate(&self, nodes: &[NodeId]) -> Result<(), QuorumError> {
        if let Some((old, new)) = self.parts() {
            for part in [old, new] {
                part.validate(&part.nodes().collect::<Vec<_>>())?;
            }
        }
        for &owner in nodes {
            let q = self
                .quorums
                .get(&owner)
                .ok_or(QuorumError::NoQuorum { owner })?;
            if let Some(&unknown) = q.iter().find(|m| !nodes.contains(m)) {
                return Err(QuorumError::UnknownMember { owner, unknown });
            }
            if !q.contains(&owner) {
                return Err(QuorumError::MissingOwner { owner });
            }
        }
        for (&owner, q) in &self.quorums {
            if !nodes.contains(&owner) {
                return Err(QuorumError::UnknownMember {
                    owner,
                    unknown: owner,
                });
            }
            if let Some(&unknown) = q.iter().find(|m| !nodes.contains(m)) {
                return Err(QuorumError::UnknownMember { owner, unknown });
            }
        }
        let owners: Vec<_> = self.quorums.keys().copied().collect();
        for (i, &a) in owners.iter().enumerate() {
            for &b in &owners[i + 1..] {
                if !intersects(&self.quorums[&a], &self.quorums[&b]) {
                    return Err(QuorumError::Disjoint { a, b });
                }
            }
        }
        Ok(())
    }

    /// The voters `owner` must win while nobody is suspected (its own quorum), sorted; empty
    /// for an unknown node.
    pub fn quorum(&self, owner: NodeId) -> &[NodeId] {
        self.quorums.get(&owner).map(Vec::as_slice).unwrap_or(&[])
    }

    /// A quorum `owner` may use that contains no node of `avoid` (sorted, no duplicates), or
    /// `None` when every quorum of the system has a node of `avoid`, or `owner` is unknown.
    ///
    /// When `avoid` misses `owner`'s own quorum the answer is exactly
    /// [`QuorumSystem::quorum`]`(owner)`, so a failure-free run costs what it always did.
    /// Otherwise, deterministically:
    /// - grid: a full row plus a full column; first `owner`'s row with another column or
    ///   another row with `owner`'s column, then any row and column; among equals the fewest
    ///   nodes, then the lowest ids;
    /// - majority: `owner` (unless avoided), then the next ids after it in id order, wrapping
    ///   around, skipping avoided ones, until there are `⌊N/2⌋ + 1`;
    /// - explicit: the quorum listed for another node with the fewest nodes, then the lowest
    ///   ids;
    /// - joint: the union of a quorum chosen in the old system and one in the new, each as
    ///   that system chooses for `owner`, or, where `owner` is not a member, for its members in
    ///   id order (the first that finds one); `None` when either part has none.
    pub fn choose(&self, owner: NodeId, avoid: &BTreeSet<NodeId>) -> Option<Vec<NodeId>> {
        let own = self.quorums.get(&owner)?;
        let clear = |q: &[NodeId]| !q.iter().any(|m| avoid.contains(m));
        if clear(own) {
            return Some(own.clone());
        }
        match &self.layout {
            Layout::Grid { rows } => {
                let k = rows.first().map_or(0, Vec::len);
                let p = rows.iter().flatten().position(|&id| id == owner)?;
                let (own_row, own_col) = (p / k, p % k);
                let live_rows: Vec<bool> = rows.iter().map(|row| clear(row)).collect();
                let live_cols: Vec<bool> = (0..k)
                    .map(|c| {
                        !rows
                            .iter()
                            .any(|row| row.get(c).is_some_and(|m| avoid.contains(m)))
                    })
                    .collect();
                // Rank by (tier, size) without building every quorum; build only the best.
                let ranked: Vec<((usize, usize), usize, usize)> = (0..rows.len())
                    .flat_map(|r| (0..k).map(move |c| (r, c)))
                    .filter(|&(r, c)| live_rows[r] && live_cols[c])
                    .map(|(r, c)| {
                        let tier = usize::from(r != own_row) + usize::from(c != own_col);
                        let column = rows.iter().filter(|row| row.len() > c).count();
                        let size = rows[r].len() + column - usize::from(rows[r].len() > c);
                        ((tier, size), r, c)
                    })
                    .collect();
                let best = ranked.iter().map(|&(rank, _, _)| rank).min()?;
                ranked
                    .iter()
                    .filter(|&&(rank, _, _)| rank == best)
                    .map(|&(_, r, c)| row_plus_column(rows, r, c))
                    .min()
            }
            Layout::Majority => {
                let ids: Vec<NodeId> = self.quorums.keys().copied().collect();
                let n = ids.len();
                let start = ids.binary_search(&owner).ok()?;
                let mut q: Vec<NodeId> = (0..n)
                    .map(|i| ids[(start + i) % n])
                    .filter(|m| !avoid.contains(m))
                    .take(n / 2 + 1)
                    .collect();
                if q.len() < n / 2 + 1 {
                    return None;
                }
                q.sort();
                Some(q)
            }
            Layout::Explicit => self
                .quorums
                .values()
                .filter(|q| clear(q))
                .min_by(|a, b| (a.len(), a).cmp(&(b.len(), b)))
                .cloned(),
            Layout::Joint { old, new } => {
                let mut q = old.choose_as_part(owner, avoid)?;
                q.extend(new.choose_as_part(owner, avoid)?);
                q.sort();
                q.dedup();
                Some(q)
            }
        }
    }

    /// [`QuorumSystem::choose`] for `owner` when it is a member, else for the members in id
    /// order until one finds a quorum: this system's share of a joint quorum.
    fn choose_as_part(&self, owner: NodeId, avoid: &BTreeSet<NodeId>) -> Option<Vec<NodeId>> {
        if self.is_member(owner) {
            self.choose(owner, avoid)
        } else {
            self.nodes().find_map(|m| self.choose(m, avoid))
        }
    }

    /// True when `voters` holds some quorum a requester of this system may use (more voters
    /// do no harm): whether a set of live or answering nodes can still grant an entry.
    ///
    /// - grid: some full row and some full column (every row's element at one position) lie
    ///   within `voters`;
    /// - majority: more than `N/2` of the nodes are in `voters`;
    /// - explicit: some listed quorum lies within `voters`;
    /// - joint: `voters` holds a quorum of the old system and one of the new.
    pub fn contains_quorum(&self, voters: &BTreeSet<NodeId>) -> bool {
        let within = |q: &[NodeId]| q.iter().all(|m| voters.contains(m));
        match &self.layout {
            Layout::Grid { rows } => {
                let width = rows.first().map_or(0, Vec::len);
                let column_within = |c| {
                    rows.iter()
                        .filter_map(|r| r.get(c))
                        .all(|m| voters.contains(m))
                };
                rows.iter().any(|row| within(row)) && (0..width).any(column_within)
            }
            Layout::Majority => {
                let n = self.quorums.len();
                self.quorums.keys().filter(|m| voters.contains(m)).count() > n / 2
            }
            Layout::Explicit => self.quorums.values().any(|q| within(q)),
            Layout::Joint { old, new } => {
                old.contains_quorum(voters) && new.contains_quorum(voters)
            }
        }
    }

    /// True when `set` meets every quorum a requester of this system may use; equivalently,
    /// the nodes outside `set` hold no quorum ([`QuorumSystem::contains_quorum`]).
    ///
    /// A membership change waits until such a set of the old configuration has moved on: no
    /// entry of the old configuration can then still gather its votes.
    pub fn blocks(&self, set: &BTreeSet<NodeId>) -> bool {
        let outside: BTreeSet<NodeId> = self
            .quorums
            .iter()
            .flat_map(|(&owner, q)| std::iter::once(owner).chain(q.iter().copied()))
            .filter(|m| !set.contains(m))
            .collect();
        !self.contains_quorum(&outside)
    }

    /// True when `voters` is a quorum a requester of this system may use (what `maekawa
    /// check` asks of every entry's votes, since a requester may switch quorums). For a joint
    /// system: `voters` are all members and hold a quorum of each part
    /// ([`QuorumSystem::contains_quorum`]).
    pub fn is_quorum(&self, voters: &[NodeId]) -> bool {
        let mut q = voters.to_vec();
        q.sort();
        q.dedup();
        match &self.layout {
            Layout::Grid { rows } => {
                let width = rows.first().map_or(0, Vec::len);
                rows.iter().any(|row| {
                    (0..width).any(|c| {
                        let mut rc: Vec<NodeId> = row.clone();
                        rc.extend(rows.iter().filter_map(|r| r.get(c).copied()));
                        rc.sort();
                        rc.dedup();
                        rc == q
                    })
                })
            }
            Layout::Majority => {
                q.len() > self.quorums.len() / 2 && q.iter().all(|v| self.quorums.contains_key(v))
            }
            Layout::Explicit => self.quorums.values().any(|l| *l == q),
            Layout::Joint { .. } => {
                q.iter().all(|&v| self.is_member(v))
                    && self.contains_quorum(&q.iter().copied().collect())
            }
        }
    }

    /// The worst-case number of dead nodes the system survives: the largest `f` such that,
    /// whichever `f` nodes are dead, every node can still [`choose`](QuorumSystem::choose) a
    /// quorum without a dead one. One more than that is the fewest nodes that meet every
    /// choosable quorum.
    ///
    /// - grid: the number of rows minus one. Dead nodes leave a row `r` and a column `c` fully
    ///   alive unless they meet every row or every column; rows and columns are disjoint among
    ///   themselves, so that takes one node per row (there are no more rows than columns).
    /// - majority: `⌈N/2⌉ − 1`, leaving `⌊N/2⌋ + 1` alive.
    /// - explicit: searched, over every set of dead nodes up to 20 nodes, and beyond that by
    ///   a search for the fewest nodes meeting every listed quorum, exponential only in that
    ///   number (which is at most the smallest quorum's size).
    /// - joint: the lesser of the two parts, since a requester needs a quorum of each.
    pub fn survives(&self) -> usize {
        let n = self.quorums.len();
        match &self.layout {
            Layout::Grid { rows } => rows.len().saturating_sub(1),
            Layout::Majority => n.div_ceil(2).saturating_sub(1),
            Layout::Explicit => {
                let quorums: BTreeSet<&[NodeId]> =
                    self.quorums.values().map(Vec::as_slice).collect();
                let quorums: Vec<&[NodeId]> = quorums.into_iter().collect();
                let hit = if n <= BRUTE_FORCE_MAX_NODES {
                    fewest_meeting_all_by_subsets(self.quorums.keys().copied(), &quorums)
                } else {
                    fewest_meeting_all(&quorums).unwrap_or(n + 1)
                };
                hit.saturating_sub(1)
            }
            Layout::Joint { old, new } => old.survives().min(new.survives()),
        }
    }

    /// Every node that has a quorum, in id order.
    pub fn nodes(&self) -> impl Iterator<Item = NodeId> + '_ {
        self.quorums.keys().copied()
    }

    /// The nodes whose own quorum contains `voter`: those that ask it for its vote while
    /// nobody is suspected.
    ///
    /// Once a requester routes around a suspected node ([`QuorumSystem::choose`]) it may ask
    /// others: under the grid and majority any node may then ask any voter, and under explicit
    /// quorums any node may ask any voter of a listed quorum. A voter must therefore answer a
    /// request from any node, not only from these.
    pub fn voted_by(&self, voter: NodeId) -> Vec<NodeId> {
        self.quorums
            .iter()
            .filter(|(_, q)| q.contains(&voter))
            .map(|(&o, _)| o)
            .collect()
    }

    /// True when `heard` holds a node of every quorum that contains `voter`, besides `voter`
    /// itself: a voter that lost its journal has then heard, from someone who voted alongside
    /// it, a token floor at least as large as every token it confirmed before (DESIGN.md,
    /// "A lost disk"). A quorum of `voter` alone has nobody to ask and is passed over. In a
    /// joint system this must hold in each part that `voter` is a member of.
    pub fn witnessed(&self, voter: NodeId, heard: &BTreeSet<NodeId>) -> bool {
        let hit = |q: &mut dyn Iterator<Item = NodeId>| {
            let mut rest = q.filter(|&m| m != voter).peekable();
            rest.peek().is_none() || rest.any(|m| heard.contains(&m))
        };
        match &self.layout {
            Layout::Grid { rows } => {
                let width = rows.first().map_or(0, Vec::len);
                rows.iter().all(|row| {
                    (0..width).all(|c| {
                        let column = rows.iter().filter_map(|r| r.get(c).copied());
                        let in_column = rows.iter().any(|r| r.get(c) == Some(&voter));
                        !(row.contains(&voter) || in_column)
                            || hit(&mut row.iter().copied().chain(column))
                    })
                })
            }
            Layout::Majority => {
                let n = self.quorums.len();
                let unheard = self
                    .quorums
                    .keys()
                    .filter(|&&m| m != voter && !heard.contains(&m))
                    .count();
                n / 2 == 0 || unheard < n / 2
            }
            Layout::Explicit => self
                .quorums
                .values()
                .filter(|q| q.contains(&voter))
                .all(|q| hit(&mut q.iter().copied())),
            Layout::Joint { old, new } => [old, new]
                .into_iter()
                .filter(|part| part.is_member(voter))
                .all(|part| part.witnessed(voter, heard)),
        }
    }

    /// The grid rows, when the quorums come from the grid.
    pub fn rows(&self) -> Option<&[Vec<NodeId>]> {
        match &self.layout {
            Layout::Grid { rows } => Some(rows),
            Layout::Majority | Layout::Explicit | Layout::Joint { .. } => None,
        }
    }
}

/// `ids` sorted, without duplicates.
fn sorted_ids(ids: &[NodeId]) -> Vec<NodeId> {
    let mut sorted = ids.to_vec();
    sorted.sort();
    sorted.dedup();
    sorted
}

/// Row `r` of the grid plus every row's element at position `c`, sorted.
fn row_plus_column(rows: &[Vec<NodeId>], r: usize, c: usize) -> Vec<NodeId> {
    let mut q: Vec<NodeId> = rows[r].clone();
    q.extend(rows.iter().filter_map(|row| row.get(c).copied()));
    q.sort();
    q.dedup();
    q
}

fn intersects(a: &[NodeId], b: &[NodeId]) -> bool {
    a.iter().any(|x| b.binary_search(x).is_ok())
}

/// The fewest of `nodes` (at most [`BRUTE_FORCE_MAX_NODES`]) that meet every quorum, by trying
/// every subset; `nodes.len() + 1` when even all of them do not (no quorums at all).
fn fewest_meeting_all_by_subsets(
    nodes: impl Iterator<Item = NodeId>,
    quorums: &[&[NodeId]],
) -> usize {
    let nodes: Vec<NodeId> = nodes.collect();
    let n = nodes.len();
    assert!(
        n <= BRUTE_FORCE_MAX_NODES,
        "{n} nodes is too many to enumerate"
    );
    let bit = |id: &NodeId| nodes.binary_search(id).map_or(0u32, |i| 1 << i);
    let masks: Vec<u32> = quorums
        .iter()
        .map(|q| q.iter().map(bit).fold(0, |a, b| a | b))
        .collect();
    (0u32..1 << n)
        .filter(|dead| masks.iter().all(|q| q & dead != 0))
        .map(|dead| dead.count_ones() as usize)
        .min()
        .unwrap_or(n + 1)
}

/// The fewest nodes that meet every quorum, by iterative deepening: some node of the first
/// quorum not yet met must be among them, so try each. `None` when an empty quorum makes it
/// impossible.
fn fewest_meeting_all(quorums: &[&[NodeId]]) -> Option<usize> {
    fn within(quorums: &[&[NodeId]], dead: &mut Vec<NodeId>, budget: usize) -> bool {
        let Some(open) = quorums.iter().find(|q| !q.iter().any(|m| dead.contains(m))) else {
            return true;
        };
        if budget == 0 {
            return false;
        }
        open.iter().any(|&m| {
            dead.push(m);
            let found = within(quorums, dead, budget - 1);
            dead.pop();
            found
        })
    }
    let smallest = quorums.iter().map(|q| q.len()).min().unwrap_or(0);
    (0..=smallest).find(|&f| within(quorums, &mut Vec::new(), f))
}

/// Smallest `k` with `k * k >= n`.
pub fn ceil_sqrt(n: usize) -> usize {
    let mut k = (n as f64).sqrt() as usize;
    while k * k < n {
        k += 1;
    }
    while k > 0 && (k - 1) * (k - 1) >= n {
        k -= 1;
    }
    k
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ids(v: &[u32]) -> Vec<NodeId> {
        v.iter().copied().map(NodeId).collect()
    }

    fn range(n: u32) -> Vec<NodeId> {
        (0..n).map(NodeId).collect()
    }

    #[test]
    fn ceil_sqrt_table() {
        let table = [
            (0, 0),
            (1, 1),
            (2, 2),
            (4, 2),
            (5, 3),
            (9, 3),
            (10, 4),
            (16, 4),
            (17, 5),
            (200, 15),
        ];
        for (n, k) in table {
            assert_eq!(ceil_sqrt(n), k, "n = {n}");
        }
        for n in 1..=10_000usize {
            let k = ceil_sqrt(n);
            assert!(k * k >= n && (k - 1) * (k - 1) < n, "n = {n}, k = {k}");
        }
    }

    /// Grids worked out by hand from PROTOCOL.md §1: ids 0..N row by row in ceil(sqrt N)
    /// columns, Q(i) = i's row ∪ i's column.
    #[test]
    fn grid_quorums_by_hand() {
        // (N, rows, Q(0) .. Q(N-1))
        type Case = (u32, &'static [&'static [u32]], &'static [&'static [u32]]);
        let table: &[Case] = &[
            (1, &[&[0]], &[&[0]]),
            (2, &[&[0, 1]], &[&[0, 1], &[0, 1]]),
            (3, &[&[0, 1], &[2]], &[&[0, 1, 2], &[0, 1], &[0, 2]]),
            (
                4,
                &[&[0, 1], &[2, 3]],
                &[&[0, 1, 2], &[0, 1, 3], &[0, 2, 3], &[1, 2, 3]],
            ),
            (
                5,
                &[&[0, 1, 2], &[3, 4]],
                &[
                    &[0, 1, 2, 3],
                    &[0, 1, 2, 4],
                    &[0, 1, 2],
                    &[0, 3, 4],
                    &[1, 3, 4],
                ],
            ),
            (
                7,
                &[&[0, 1, 2], &[3, 4, 5], &[6]],
                &[
                    &[0, 1, 2, 3, 6],
                    &[0, 1, 2, 4],
                    &[0, 1, 2, 5],
                    &[0, 3, 4, 5, 6],
                    &[1, 3, 4, 5],
                    &[2, 3, 4, 5],
                    &[0, 3, 6],
                ],
            ),
            (
                9,
                &[&[0, 1, 2], &[3, 4, 5], &[6, 7, 8]],
                &[
                    &[0, 1, 2, 3, 6],
                    &[0, 1, 2, 4, 7],
                    &[0, 1, 2, 5, 8],
                    &[0, 3, 4, 5, 6],
                    &[1, 3, 4, 5, 7],
                    &[2, 3, 4, 5, 8],
                    &[0, 3, 6, 7, 8],
                    &[1, 4, 6, 7, 8],
                    &[2, 5, 6, 7, 8],
                ],
            ),
            (
                10,
                &[&[0, 1, 2, 3], &[4, 5, 6, 7], &[8, 9]],
                &[
                    &[0, 1, 2, 3, 4, 8],
                    &[0, 1, 2, 3, 5, 9],
                    &[0, 1, 2, 3, 6],
                    &[0, 1, 2, 3, 7],
                    &[0, 4, 5, 6, 7, 8],
                    &[1, 4, 5, 6, 7, 9],
                    &[2, 4, 5, 6, 7],
                    &[3, 4, 5, 6, 7],
                    &[0, 4, 8, 9],
                    &[1, 5, 8, 9],
                ],
            ),
        ];
        for &(n, rows, quorums) in table {
            let g = QuorumSystem::grid(&range(n));
            let want_rows: Vec<Vec<NodeId>> = rows.iter().map(|r| ids(r)).collect();
            assert_eq!(g.rows(), Some(want_rows.as_slice()), "rows for N = {n}");
            assert_eq!(g.nodes().collect::<Vec<_>>(), range(n), "nodes for N = {n}");
            for (i, q) in quorums.iter().enumerate() {
                assert_eq!(
                    g.quorum(NodeId(i as u32)),
                    ids(q).as_slice(),
                    "Q({i}) for N = {n}"
                );
            }
        }
    }

    /// Every property safety rests on, for a grid over `all`.
    fn check_grid(all: &[NodeId]) {
        let g = QuorumSystem::grid(all);
        let n = all.len();
        let max = 2 * ceil_sqrt(n) - 1;
        for &i in all {
            let q = g.quorum(i);
            assert!(q.contains(&i), "Q({i}) misses its owner, N = {n}");
            assert!(q.len() <= max, "|Q({i})| = {} > {max}, N = {n}", q.len());
            assert!(q.windows(2).all(|w| w[0] < w[1]), "Q({i}) unsorted");
            assert!(q.iter().all(|m| all.contains(m)), "Q({i}) names a stranger");
            for &j in all {
                let r = g.quorum(j);
                assert!(
                    q.iter().any(|m| r.contains(m)),
                    "Q({i}) ∩ Q({j}) = ∅, N = {n}"
                );
            }
            // The grid is symmetric: i is in j's row or column iff j is in i's.
            assert_eq!(g.voted_by(i), q.to_vec(), "voted_by({i}), N = {n}");
        }
        assert_eq!(g.nodes().count(), n);
        assert_eq!(g.validate(all), Ok(()), "N = {n}");
    }

    #[test]
    fn grid_properties_up_to_200() {
        for n in 1..=200 {
            check_grid(&range(n));
        }
    }

    #[test]
    fn grid_properties_with_scattered_ids() {
        for n in 1..=60u32 {
            // Non-contiguous, given out of order.
            let all: Vec<NodeId> = (0..n).rev().map(|i| NodeId(i * i * 7 + 3)).collect();
            check_grid(&all);
        }
    }

    #[test]
    fn grid_sorts_and_dedups_non_contiguous_ids() {
        let g = QuorumSystem::grid(&ids(&[42, 5, 10, 5]));
        let want_rows = vec![ids(&[5, 10]), ids(&[42])];
        assert_eq!(g.rows(), Some(want_rows.as_slice()));
        assert_eq!(g.quorum(NodeId(5)), ids(&[5, 10, 42]).as_slice());
        assert_eq!(g.quorum(NodeId(10)), ids(&[5, 10]).as_slice());
        assert_eq!(g.quorum(NodeId(42)), ids(&[5, 42]).as_slice());
        assert_eq!(g.quorum(NodeId(0)), &[] as &[NodeId]);
        assert_eq!(g.validate(&ids(&[5, 10, 42])), Ok(()));
    }

    fn explicit(qs: &[(u32, &[u32])]) -> QuorumSystem {
        QuorumSystem::explicit(qs.iter().map(|&(o, q)| (NodeId(o), ids(q))).collect())
    }

    const FANO: &[(u32, &[u32])] = &[
        (0, &[0, 1, 2]),
        (1, &[1, 3, 5]),
        (2, &[2, 4, 5]),
        (3, &[0, 3, 4]),
        (4, &[1, 4, 6]),
        (5, &[0, 5, 6]),
        (6, &[2, 3, 6]),
    ];

    fn fano_with(owner: u32, q: &'static [u32]) -> QuorumSystem {
        let mut f = FANO.to_vec();
        f[owner as usize].1 = q;
        explicit(&f)
    }

    #[test]
    fn fano_plane_validates() {
        let f = explicit(FANO);
        assert_eq!(f.validate(&range(7)), Ok(()));
        assert_eq!(f.rows(), None);
        assert_eq!(f.quorum(NodeId(4)), ids(&[1, 4, 6]).as_slice());
        // Every point is on 3 lines, so every node votes for 3 quorums.
        for v in 0..7 {
            assert_eq!(f.voted_by(NodeId(v)).len(), 3);
        }
    }

    #[test]
    fn explicit_quorums_are_sorted_and_deduplicated() {
        let q = explicit(&[(0, &[1, 0, 1]), (1, &[1, 0])]);
        assert_eq!(q.quorum(NodeId(0)), ids(&[0, 1]).as_slice());
        assert_eq!(q.validate(&range(2)), Ok(()));
    }

    #[test]
    fn explicit_errors_are_caught() {
        let owner = |o| NodeId(o);
        let cases: Vec<(QuorumSystem, Vec<NodeId>, QuorumError)> = vec![
            (
                fano_with(4, &[1, 6]),
                range(7),
                QuorumError::MissingOwner { owner: owner(4) },
            ),
            (
                fano_with(4, &[1, 4, 6, 9]),
                range(7),
                QuorumError::UnknownMember {
                    owner: owner(4),
                    unknown: NodeId(9),
                },
            ),
            (
                // {0, 5} misses {1, 4, 6}.
                fano_with(5, &[0, 5]),
                range(7),
                QuorumError::Disjoint {
                    a: NodeId(4),
                    b: NodeId(5),
                },
            ),
            (
                explicit(&FANO[..6]),
                range(7),
                QuorumError::NoQuorum { owner: owner(6) },
            ),
            (
                // Node 6 dropped from the list: the first listed quorum naming it is 4's.
                explicit(FANO),
                range(6),
                QuorumError::UnknownMember {
                    owner: owner(4),
                    unknown: NodeId(6),
                },
            ),
            (
                explicit(&[(0, &[0]), (1, &[1])]),
                range(2),
                QuorumError::Disjoint {
                    a: NodeId(0),
                    b: NodeId(1),
                },
            ),
        ];
        for (q, nodes, want) in cases {
            assert_eq!(q.validate(&nodes), Err(want.clone()), "{want}");
        }
        // An extra owner that is not listed, with a quorum of listed nodes only.
        let q = explicit(&[(0, &[0, 1]), (1, &[0, 1]), (2, &[0, 1])]);
        assert!(matches!(
            q.validate(&range(2)),
            Err(QuorumError::UnknownMember {
                owner: NodeId(2),
                ..
            })
        ));
    }

    #[test]
    fn error_messages() {
        let m = QuorumError::Disjoint {
            a: NodeId(1),
            b: NodeId(5),
        }
        .to_string();
        assert_eq!(m, "the quorums of nodes 1 and 5 do not intersect");
        let m = QuorumError::MissingOwner { owner: NodeId(3) }.to_string();
        assert!(m.contains("node 3"), "{m}");
    }

    fn set(v: &[u32]) -> BTreeSet<NodeId> {
        v.iter().copied().map(NodeId).collect()
    }

    /// The members of `mask` (bit `i` is `all[i]`), sorted like `all`.
    fn members(all: &[NodeId], mask: u32) -> Vec<NodeId> {
        (0..all.len())
            .filter(|i| mask & (1 << i) != 0)
            .map(|i| all[i])
            .collect()
    }

    fn mask_of(all: &[NodeId], q: &[NodeId]) -> u32 {
        q.iter()
            .map(|m| 1 << all.binary_search(m).expect("a member of the system"))
            .fold(0, |a, b| a | b)
    }

    /// Every `f`-subset of `n` bits, by Gosper's hack; checked against the binomial count.
    fn subsets(n: usize, f: usize) -> Vec<u32> {
        assert!(n < 32 && f <= n);
        let mut out = Vec::new();
        if f == 0 {
            out.push(0);
        } else {
            let mut x: u32 = (1 << f) - 1;
            while x < 1 << n {
                out.push(x);
                let c = x & x.wrapping_neg();
                let r = x + c;
                x = (((r ^ x) >> 2) / c) | r;
            }
        }
        let binomial = (0..f).fold(1u64, |b, i| b * (n - i) as u64 / (i as u64 + 1));
        assert_eq!(out.len() as u64, binomial, "C({n}, {f})");
        out
    }

    /// Every quorum a requester may use, as masks over the sorted ids, worked out here from
    /// the definitions rather than from `choose`.
    fn choosable(qs: &QuorumSystem) -> BTreeSet<u32> {
        let all: Vec<NodeId> = qs.nodes().collect();
        match qs.kind() {
            "grid" => {
                let rows = qs.rows().unwrap();
                let k = rows[0].len();
                let mut out = BTreeSet::new();
                for row in rows {
                    for c in 0..k {
                        let column = rows.iter().filter_map(|r| r.get(c));
                        out.insert(
                            mask_of(&all, row)
                                | mask_of(&all, &column.copied().collect::<Vec<_>>()),
                        );
                    }
                }
                out
            }
            "majority" => subsets(all.len(), all.len() / 2 + 1).into_iter().collect(),
            "joint" => {
                let (old, new) = qs.parts().unwrap();
                let (old, new) = (lifted(old, &all), lifted(new, &all));
                old.iter()
                    .flat_map(|a| new.iter().map(move |b| a | b))
                    .collect()
            }
            _ => all.iter().map(|&o| mask_of(&all, qs.quorum(o))).collect(),
        }
    }

    /// The choosable quorums of `part` as masks over `all` (a superset of its nodes).
    fn lifted(part: &QuorumSystem, all: &[NodeId]) -> BTreeSet<u32> {
        let own: Vec<NodeId> = part.nodes().collect();
        choosable(part)
            .into_iter()
            .map(|m| mask_of(all, &members(&own, m)))
            .collect()
    }

    /// Safety and completeness of `choose` for one system: any two choosable quorums meet;
    /// with nothing of its own quorum avoided a node gets its own quorum; otherwise `choose`
    /// returns a choosable quorum without an avoided node, and `None` only when there is none.
    /// Every avoided set is tried up to 10 nodes, those of at most 3 nodes beyond.
    fn check_choose(qs: &QuorumSystem) {
        let all: Vec<NodeId> = qs.nodes().collect();
        let n = all.len();
        let kind = qs.kind();
        let quorums = choosable(qs);
        for &a in &quorums {
            assert_ne!(a, 0, "{kind} N = {n}: an empty quorum");
            for &b in &quorums {
                assert_ne!(
                    a & b,
                    0,
                    "{kind} N = {n}: {:?} and {:?} are disjoint",
                    members(&all, a),
                    members(&all, b)
                );
            }
        }
        let avoided: Vec<u32> = if n <= 10 {
            (0..1u32 << n).collect()
        } else {
            (0..=3).flat_map(|f| subsets(n, f)).collect()
        };
        for dead in avoided {
            let avoid: BTreeSet<NodeId> = members(&all, dead).into_iter().collect();
            let alive = quorums.iter().any(|q| q & dead == 0);
            for &owner in &all {
                let got = qs.choose(owner, &avoid);
                let own = qs.quorum(owner);
                if mask_of(&all, own) & dead == 0 {
                    assert_eq!(
                        got.as_deref(),
                        Some(own),
                        "{kind} N = {n}, owner {owner}, avoid {avoid:?}"
                    );
                }
                match got {
                    None => assert!(
                        !alive,
                        "{kind} N = {n}, owner {owner}: None though a quorum avoids {avoid:?}"
                    ),
                    Some(q) => {
                        assert!(q.windows(2).all(|w| w[0] < w[1]), "{kind}: {q:?} unsorted");
                        let m = mask_of(&all, &q);
                        assert!(
                            quorums.contains(&m),
                            "{kind} N = {n}, owner {owner}: {q:?} is not choosable"
                        );
                        assert_eq!(
                            m & dead,
                            0,
                            "{kind} N = {n}, owner {owner}: {q:?} meets {avoid:?}"
                        );
                    }
                }
            }
        }
        // Deterministic: the same question, the same answer.
        let avoid: BTreeSet<NodeId> = all.iter().copied().take(1).collect();
        for &owner in &all {
            assert_eq!(qs.choose(owner, &avoid), qs.clone().choose(owner, &avoid));
        }
    }

    #[test]
    fn any_two_choosable_grid_quorums_meet_and_choose_finds_one() {
        for n in 1..=16 {
            check_choose(&QuorumSystem::grid(&range(n)));
        }
    }

    #[test]
    fn any_two_majorities_meet_and_choose_finds_one() {
        for n in 1..=12 {
            check_choose(&QuorumSystem::majority(&range(n)));
        }
    }

    #[test]
    fn explicit_choose_finds_a_listed_quorum() {
        check_choose(&explicit(FANO));
        for n in 1..=9 {
            // The grid's own quorums, listed by hand: only those may be used.
            let g = QuorumSystem::grid(&range(n));
            let listed =
                QuorumSystem::explicit(g.nodes().map(|o| (o, g.quorum(o).to_vec())).collect());
            check_choose(&listed);
        }
    }

    #[test]
    fn choose_with_nothing_avoided_is_the_own_quorum_even_for_large_n() {
        let none = BTreeSet::new();
        for n in [1, 2, 3, 50, 100, 101] {
            for qs in [
                QuorumSystem::grid(&range(n)),
                QuorumSystem::majority(&range(n)),
            ] {
                for owner in qs.nodes() {
                    assert_eq!(qs.choose(owner, &none).as_deref(), Some(qs.quorum(owner)));
                    // Avoiding only nodes outside the own quorum changes nothing either.
                    let outside: BTreeSet<NodeId> = qs
                        .nodes()
                        .filter(|m| !qs.quorum(owner).contains(m))
                        .collect();
                    assert_eq!(
                        qs.choose(owner, &outside).as_deref(),
                        Some(qs.quorum(owner))
                    );
                }
                assert_eq!(qs.choose(NodeId(u32::MAX), &none), None, "unknown owner");
            }
        }
    }

    /// `choose`'s order of preference, worked out by hand.
    #[test]
    fn choose_prefers_own_row_or_column_then_fewest_then_lowest() {
        type Case = (
            &'static str,
            u32,
            u32,
            &'static [u32],
            Option<&'static [u32]>,
        );
        let table: &[Case] = &[
            // 3x3; Q(0) = {0, 1, 2, 3, 6}.
            // 6 suspected: own row 0 with column 1 or 2 (same size), the lower ids win.
            ("grid", 9, 0, &[6], Some(&[0, 1, 2, 4, 7])),
            // Own row lost: another row with own column 0.
            ("grid", 9, 0, &[1], Some(&[0, 3, 4, 5, 6])),
            // Own row and column lost: any row and column.
            ("grid", 9, 0, &[0], Some(&[1, 3, 4, 5, 7])),
            // One dead node in every row: nothing is left.
            ("grid", 9, 0, &[0, 4, 8], None),
            ("grid", 9, 5, &[2, 3, 7], None),
            // Two dead nodes, the most a 3x3 grid survives.
            ("grid", 9, 4, &[0, 4], Some(&[2, 5, 6, 7, 8])),
            // Rows [0, 1], [2]: the short row with column 1 is {1, 2}.
            ("grid", 3, 1, &[0], Some(&[1, 2])),
            ("grid", 3, 2, &[0], Some(&[1, 2])),
            ("grid", 3, 0, &[2], Some(&[0, 1])),
            ("grid", 3, 0, &[1], Some(&[0, 2])),
            // Rows [0..3], [4..7], [8, 9]; Q(0) = {0, 1, 2, 3, 4, 8}. With 4 suspected, own
            // row 0 with column 2 or 3 (5 nodes) beats column 1 (6 nodes: 5 and 9).
            ("grid", 10, 0, &[4], Some(&[0, 1, 2, 3, 6])),
            // Majority of 5; Q(3) = {3, 4, 0}.
            ("majority", 5, 3, &[4], Some(&[0, 1, 3])),
            ("majority", 5, 3, &[3], Some(&[0, 1, 4])),
            ("majority", 5, 3, &[0, 4], Some(&[1, 2, 3])),
            ("majority", 5, 3, &[0, 1, 2], None),
        ];
        for &(kind, n, owner, avoid, want) in table {
            let qs = match kind {
                "grid" => QuorumSystem::grid(&range(n)),
                _ => QuorumSystem::majority(&range(n)),
            };
            let got = qs.choose(NodeId(owner), &set(avoid));
            assert_eq!(
                got,
                want.map(ids),
                "{kind} N = {n}, owner {owner}, avoid {avoid:?}"
            );
        }
        // Fano: Q(0) = {0, 1, 2}. Without 1: {2, 4, 5}, {0, 3, 4}, {0, 5, 6} and {2, 3, 6} are
        // left, all of 3 nodes; the lowest ids win.
        let f = explicit(FANO);
        assert_eq!(f.choose(NodeId(0), &set(&[1])), Some(ids(&[0, 3, 4])));
        assert_eq!(f.choose(NodeId(0), &set(&[0, 4, 6])), Some(ids(&[1, 3, 5])));
        // A line meets every line.
        assert_eq!(f.choose(NodeId(0), &set(&[1, 3, 5])), None);
    }

    fn majority_by_hand(n: u32, owner: u32) -> Vec<NodeId> {
        let mut q: Vec<u32> = (0..n / 2 + 1).map(|i| (owner + i) % n).collect();
        q.sort();
        ids(&q)
    }

    #[test]
    fn majority_quorums_are_the_next_ids_cyclically() {
        let m = QuorumSystem::majority(&range(5));
        assert_eq!(m.kind(), "majority");
        assert_eq!(m.rows(), None);
        assert_eq!(m.quorum(NodeId(0)), ids(&[0, 1, 2]).as_slice());
        assert_eq!(m.quorum(NodeId(3)), ids(&[0, 3, 4]).as_slice());
        assert_eq!(m.quorum(NodeId(4)), ids(&[0, 1, 4]).as_slice());
        // The node itself and the ⌊N/2⌋ before it ask it while nobody is suspected.
        assert_eq!(m.voted_by(NodeId(1)), ids(&[0, 1, 4]));
        for n in 1..=100u32 {
            let m = QuorumSystem::majority(&range(n));
            assert_eq!(m.validate(&range(n)), Ok(()), "N = {n}");
            for o in 0..n {
                assert_eq!(
                    m.quorum(NodeId(o)),
                    majority_by_hand(n, o).as_slice(),
                    "Q({o}), N = {n}"
                );
                // Load is even: every node is in ⌊N/2⌋ + 1 own quorums.
                assert_eq!(m.voted_by(NodeId(o)).len() as u32, n / 2 + 1, "N = {n}");
            }
        }
        // Scattered ids, given out of order and twice: positions count, not values.
        let m = QuorumSystem::majority(&ids(&[40, 7, 19, 7, 3]));
        assert_eq!(m.nodes().collect::<Vec<_>>(), ids(&[3, 7, 19, 40]));
        assert_eq!(m.quorum(NodeId(19)), ids(&[3, 19, 40]).as_slice());
        assert_eq!(m.choose(NodeId(19), &set(&[40])), Some(ids(&[3, 7, 19])));
    }

    /// `survives` by its definition: the largest `f` such that, for every set of `f` dead
    /// nodes, every node's `choose` finds a quorum without them.
    fn survives_by_brute_force(qs: &QuorumSystem) -> usize {
        let all: Vec<NodeId> = qs.nodes().collect();
        let n = all.len();
        for f in 0..=n {
            let killed = subsets(n, f).into_iter().any(|dead| {
                let avoid: BTreeSet<NodeId> = members(&all, dead).into_iter().collect();
                all.iter().any(|&o| qs.choose(o, &avoid).is_none())
            });
            if killed {
                return f.saturating_sub(1);
            }
        }
        0
    }

    #[test]
    fn survives_by_hand() {
        let table = [
            ("grid", 1, 0),
            ("grid", 2, 0),
            ("grid", 3, 1),
            ("grid", 4, 1),
            ("grid", 5, 1),
            ("grid", 9, 2),
            ("grid", 10, 2),
            ("grid", 16, 3),
            ("grid", 17, 3),
            ("grid", 100, 9),
            ("majority", 1, 0),
            ("majority", 2, 0),
            ("majority", 3, 1),
            ("majority", 4, 1),
            ("majority", 9, 4),
            ("majority", 100, 49),
            ("majority", 101, 50),
        ];
        for (kind, n, f) in table {
            let qs = match kind {
                "grid" => QuorumSystem::grid(&range(n)),
                _ => QuorumSystem::majority(&range(n)),
            };
            assert_eq!(qs.survives(), f, "{kind} N = {n}");
        }
        assert_eq!(explicit(FANO).survives(), 2);
        assert_eq!(QuorumSystem::grid(&[]).survives(), 0);
        assert_eq!(QuorumSystem::majority(&[]).survives(), 0);
    }

    #[test]
    fn grid_survives_closed_form_matches_brute_force_up_to_20() {
        for n in 1..=20 {
            let g = QuorumSystem::grid(&range(n));
            assert_eq!(g.survives(), survives_by_brute_force(&g), "grid N = {n}");
        }
    }

    #[test]
    fn majority_survives_closed_form_matches_brute_force() {
        for n in 1..=14 {
            let m = QuorumSystem::majority(&range(n));
            assert_eq!(
                m.survives(),
                survives_by_brute_force(&m),
                "majority N = {n}"
            );
        }
    }

    #[test]
    fn explicit_survives_matches_brute_force_and_both_searches_agree() {
        let mut systems = vec![explicit(FANO)];
        for n in 1..=12 {
            for qs in [
                QuorumSystem::grid(&range(n)),
                QuorumSystem::majority(&range(n)),
            ] {
                systems.push(QuorumSystem::explicit(
                    qs.nodes().map(|o| (o, qs.quorum(o).to_vec())).collect(),
                ));
            }
        }
        for qs in &systems {
            let n = qs.nodes().count();
            assert_eq!(
                qs.survives(),
                survives_by_brute_force(qs),
                "explicit N = {n}"
            );
            let quorums: Vec<&[NodeId]> = qs.nodes().map(|o| qs.quorum(o)).collect();
            assert_eq!(
                fewest_meeting_all(&quorums),
                Some(fewest_meeting_all_by_subsets(qs.nodes(), &quorums)),
                "explicit N = {n}"
            );
        }
        // Beyond 20 nodes, the search. When every row is full, the own quorums of a grid are
        // all its rows plus columns, so listing them by hand must survive what the grid does.
        for n in [25, 30] {
            let g = QuorumSystem::grid(&range(n));
            let listed =
                QuorumSystem::explicit(g.nodes().map(|o| (o, g.quorum(o).to_vec())).collect());
            assert_eq!(listed.survives(), g.survives(), "N = {n}");
        }
        // An empty quorum can never be hit.
        assert_eq!(fewest_meeting_all(&[&[]]), None);
    }

    #[test]
    fn hash_is_shallow_and_equality_deep() {
        use std::collections::hash_map::DefaultHasher;
        let hash = |q: &QuorumSystem| {
            let mut h = DefaultHasher::new();
            q.hash(&mut h);
            h.finish()
        };
        let a = QuorumSystem::grid(&range(4));
        assert_eq!(hash(&a), hash(&a.clone()));
        assert_eq!(a, a.clone());
        // Same kind and size: the same hash, yet not equal.
        let b = QuorumSystem::grid(&ids(&[5, 6, 7, 8]));
        assert_eq!(hash(&a), hash(&b));
        assert_ne!(a, b);
        let m = QuorumSystem::majority(&range(4));
        assert_ne!(a, m);
        assert_ne!(hash(&a), hash(&m));
        assert_eq!(a.kind(), "grid");
        assert_eq!(explicit(FANO).kind(), "explicit");
        assert_eq!(m.quorum_kind(), QuorumKind::Majority);
        assert_eq!(m.kind(), QuorumKind::Majority.name());
    }

    /// `witnessed` against its definition, by brute force over every set of heard nodes: every
    /// quorum (all the sets `is_quorum` accepts) that holds the voter and someone else must hold
    /// a heard node.
    #[test]
    fn witnessed_means_a_heard_node_in_every_quorum_of_the_voter() {
        let mut systems: Vec<QuorumSystem> =
            (1..=7).map(|n| QuorumSystem::grid(&range(n))).collect();
        systems.extend((1..=6).map(|n| QuorumSystem::majority(&range(n))));
        systems.push(explicit(FANO));
        for system in &systems {
            let nodes: Vec<NodeId> = system.nodes().collect();
            let subsets = |mask: u32| -> BTreeSet<NodeId> {
                (0..nodes.len())
                    .filter(|i| mask & (1 << i) != 0)
                    .map(|i| nodes[i])
                    .collect()
            };
            let quorums: Vec<BTreeSet<NodeId>> = (1..1u32 << nodes.len())
                .map(subsets)
                .filter(|q| system.is_quorum(&q.iter().copied().collect::<Vec<_>>()))
                .collect();
            for &voter in &nodes {
                for mask in 0..1u32 << nodes.len() {
                    let heard = subsets(mask);
                    let expected = quorums.iter().filter(|q| q.contains(&voter)).all(|q| {
                        q.len() == 1 || q.iter().any(|m| *m != voter && heard.contains(m))
                    });
                    assert_eq!(
                        system.witnessed(voter, &heard),
                        expected,
                        "{} of {} nodes, voter {voter}, heard {heard:?}",
                        system.kind(),
                        nodes.len()
                    );
                }
            }
        }
        // Three nodes on the grid (rows 0 1 / 2): node 1 votes with 0 alone and with 2 alone.
        let g = QuorumSystem::grid(&range(3));
        assert!(!g.witnessed(NodeId(1), &ids(&[0]).into_iter().collect()));
        assert!(g.witnessed(NodeId(1), &ids(&[0, 2]).into_iter().collect()));
    }

    /// Membership changes over small systems, as (description, joint system): from each of
    /// the grids of 3, 4, 5 and 9 nodes, the majorities of 3, 4 and 5 and the Fano plane, add
    /// one node, remove one, replace one id by a new id (each to the same kind, and the Fano
    /// plane to a grid and a majority too, and relabelled); and 3 → 5, 5 → 4 across kinds.
    fn changes() -> Vec<(String, QuorumSystem)> {
        type Build = fn(&[NodeId]) -> QuorumSystem;
        let kinds: [(&str, Build); 2] = [
            ("grid", QuorumSystem::grid),
            ("majority", QuorumSystem::majority),
        ];
        let mut pairs: Vec<(String, QuorumSystem, QuorumSystem)> = Vec::new();
        let mut change = |name: &str, old: &QuorumSystem, to: &[(&str, QuorumSystem)]| {
            for (kind, new) in to {
                pairs.push((format!("{name}, to {kind}"), old.clone(), new.clone()));
            }
        };
        let edits = |n: u32| -> Vec<(String, Vec<NodeId>)> {
            let mut replaced = range(n);
            replaced[n as usize / 2] = NodeId(n + 10);
            vec![
                (format!("add {n}"), range(n + 1)),
                (format!("remove {}", n - 1), range(n - 1)),
                ("remove 0".to_string(), (1..n).map(NodeId).collect()),
                (format!("replace {} by {}", n / 2, n + 10), replaced),
            ]
        };
        for (kind, build) in kinds {
            let sizes: &[u32] = if kind == "grid" {
                &[3, 4, 5, 9]
            } else {
                &[3, 4, 5]
            };
            for &n in sizes {
                let old = build(&range(n));
                for (edit, ids) in edits(n) {
                    change(&format!("{kind} {n}, {edit}"), &old, &[(kind, build(&ids))]);
                }
            }
        }
        let fano = explicit(FANO);
        for (edit, ids) in edits(7) {
            let to = kinds.map(|(kind, build)| (kind, build(&ids)));
            change(&format!("Fano, {edit}"), &fano, &to);
        }
        // The Fano plane with point 6 renamed 9.
        let rename = |m: u32| if m == 6 { 9 } else { m };
        let relabelled = QuorumSystem::explicit(
            FANO.iter()
                .map(|&(o, q)| {
                    (
                        NodeId(rename(o)),
                        q.iter().map(|&m| NodeId(rename(m))).collect(),
                    )
                })
                .collect(),
        );
        change(
            "Fano, replace 6 by 9",
            &fano,
            &[("explicit", relabelled.clone())],
        );
        change(
            "relabelled Fano, back",
            &relabelled,
            &[("explicit", fano.clone())],
        );
        for (from, to) in [(3, 5), (5, 4)] {
            for (a, build_a) in kinds {
                let old = build_a(&range(from));
                let name = format!("{a} {from}, {to} nodes");
                change(&name, &old, &kinds.map(|(kind, b)| (kind, b(&range(to)))));
            }
        }
        pairs
            .into_iter()
            .map(|(name, old, new)| (name, QuorumSystem::joint(Arc::new(old), Arc::new(new))))
            .collect()
    }

    /// The single systems the brute-force tests of `contains_quorum` and `blocks` run over.
    fn singles() -> Vec<QuorumSystem> {
        let mut systems: Vec<QuorumSystem> =
            (1..=10).map(|n| QuorumSystem::grid(&range(n))).collect();
        systems.extend((1..=9).map(|n| QuorumSystem::majority(&range(n))));
        systems.push(explicit(FANO));
        systems.push(QuorumSystem::grid(&ids(&[42, 5, 10, 7, 99])));
        systems
    }

    #[test]
    fn joint_quorums_meet_each_other_and_choose_finds_one() {
        for (name, joint) in changes() {
            assert_eq!(joint.kind(), "joint", "{name}");
            let (old, new) = joint.parts().unwrap();
            let nodes: Vec<NodeId> = joint.nodes().collect();
            assert_eq!(joint.validate(&nodes), Ok(()), "{name}");
            let both: BTreeSet<NodeId> = old.nodes().chain(new.nodes()).collect();
            assert_eq!(nodes, both.into_iter().collect::<Vec<_>>(), "{name}");
            // Pairwise intersection, the own quorum when it is clear, completeness and
            // determinism of `choose`: every avoided set up to 10 nodes.
            check_choose(&joint);
        }
    }

    #[test]
    fn joint_quorums_meet_every_quorum_of_old_and_new() {
        for (name, joint) in changes() {
            let all: Vec<NodeId> = joint.nodes().collect();
            let quorums = choosable(&joint);
            let (old, new) = joint.parts().unwrap();
            for part in [old, new] {
                for p in lifted(part, &all) {
                    for &q in &quorums {
                        assert_ne!(
                            p & q,
                            0,
                            "{name}: {:?} misses {:?} of {}",
                            members(&all, q),
                            members(&all, p),
                            part.kind()
                        );
                    }
                }
            }
            // And `choose` only ever returns such quorums: the union of one of each part.
            for &owner in &all {
                let q = joint.choose(owner, &BTreeSet::new()).unwrap();
                assert!(quorums.contains(&mask_of(&all, &q)), "{name}: {q:?}");
            }
        }
    }

    /// Avoided sets beyond the exhaustive ones of `check_choose`: a cheap generator of
    /// scattered sets, against the brute force over every union of a quorum of each part.
    #[test]
    fn joint_choose_avoids_random_sets_whenever_it_can() {
        let mut systems = changes();
        for (a, b) in [(16, 17), (12, 13), (13, 11)] {
            let old = Arc::new(QuorumSystem::grid(&range(a)));
            let new = Arc::new(QuorumSystem::majority(&range(b)));
            systems.push((
                format!("grid {a} to majority {b}"),
                QuorumSystem::joint(old, new),
            ));
        }
        let mut x: u64 = 0x9e37_79b9_7f4a_7c15;
        for (name, joint) in systems {
            let all: Vec<NodeId> = joint.nodes().collect();
            let quorums = choosable(&joint);
            for _ in 0..200 {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                // About one node in four avoided.
                let dead = (x & (x >> 20) & ((1 << all.len()) - 1)) as u32;
                let avoid: BTreeSet<NodeId> = members(&all, dead).into_iter().collect();
                let alive = quorums.iter().any(|q| q & dead == 0);
                for &owner in &all {
                    match joint.choose(owner, &avoid) {
                        None => assert!(!alive, "{name}, owner {owner}, avoid {avoid:?}"),
                        Some(q) => {
                            let m = mask_of(&all, &q);
                            assert!(quorums.contains(&m), "{name}: {q:?} not choosable");
                            assert_eq!(m & dead, 0, "{name}: {q:?} meets {avoid:?}");
                        }
                    }
                }
            }
        }
    }

    /// `contains_quorum`, `blocks` and `is_quorum` against the choosable quorums, over every
    /// subset of the nodes, for every layout.
    #[test]
    fn contains_quorum_and_blocks_agree_with_brute_force() {
        let mut systems = singles();
        systems.extend(changes().into_iter().map(|(_, joint)| joint));
        for qs in &systems {
            let all: Vec<NodeId> = qs.nodes().collect();
            let n = all.len();
            let quorums = choosable(qs);
            let full = (1u32 << n) - 1;
            for mask in 0..=full {
                let set: BTreeSet<NodeId> = members(&all, mask).into_iter().collect();
                let outside: BTreeSet<NodeId> = members(&all, full & !mask).into_iter().collect();
                let what = format!("{} of {n} nodes, {set:?}", qs.kind());
                let contains = quorums.iter().any(|q| q & mask == *q);
                assert_eq!(qs.contains_quorum(&set), contains, "contains: {what}");
                let meets_all = quorums.iter().all(|q| q & mask != 0);
                assert_eq!(qs.blocks(&set), meets_all, "blocks: {what}");
                assert_eq!(qs.blocks(&set), !qs.contains_quorum(&outside), "{what}");
                let listed: Vec<NodeId> = set.iter().copied().collect();
                if matches!(qs.kind(), "joint" | "majority") {
                    // Any set of members that holds a quorum.
                    assert_eq!(qs.is_quorum(&listed), contains, "is_quorum: {what}");
                } else {
                    // The grid and explicit quorums accept exactly a choosable quorum.
                    assert_eq!(qs.is_quorum(&listed), quorums.contains(&mask), "{what}");
                }
            }
        }
    }

    #[test]
    fn joint_quorums_by_hand() {
        // Grid of 4 (rows 0 1 / 2 3) to grid of 5 (rows 0 1 2 / 3 4).
        let old = Arc::new(QuorumSystem::grid(&range(4)));
        let new = Arc::new(QuorumSystem::grid(&range(5)));
        let j = QuorumSystem::joint(old.clone(), new.clone());
        assert_eq!(j.quorum_kind(), QuorumKind::Joint);
        assert_eq!(QuorumKind::Joint.name(), "joint");
        assert_eq!(j.rows(), None);
        assert_eq!(j.parts(), Some((&*old, &*new)));
        assert_eq!(old.parts(), None);
        assert!(j.is_member(NodeId(4)) && !old.is_member(NodeId(4)) && !j.is_member(NodeId(5)));
        // {0, 1, 2} ∪ {0, 1, 2, 3}.
        assert_eq!(j.quorum(NodeId(0)), ids(&[0, 1, 2, 3]).as_slice());
        // {1, 2, 3} ∪ {0, 3, 4}.
        assert_eq!(j.quorum(NodeId(3)), ids(&[0, 1, 2, 3, 4]).as_slice());
        // Node 4 is not in the grid of 4: node 0's {0, 1, 2} stands in, with {1, 3, 4}.
        assert_eq!(j.quorum(NodeId(4)), ids(&[0, 1, 2, 3, 4]).as_slice());
        // Node 0 avoided: the old grid chooses for node 0 itself, then row 2 3 with column
        // 1 ({1, 2, 3}), and the new grid row 3 4 with column 1 ({1, 3, 4}).
        assert_eq!(j.choose(NodeId(0), &set(&[0])), Some(ids(&[1, 2, 3, 4])));
        // Node 4's share of the old grid is chosen for node 0 first: {1, 2, 3} again.
        assert_eq!(j.choose(NodeId(4), &set(&[0])), Some(ids(&[1, 2, 3, 4])));
        // 1 and 2 meet both rows of the grid of 4, so nothing is left; the grid of 5 still has
        // row 3 4 with column 0 ({0, 3, 4}).
        assert_eq!(j.choose(NodeId(1), &set(&[1, 2])), None);
        assert!(j.blocks(&set(&[1, 2])) && old.blocks(&set(&[1, 2])));
        assert!(!new.blocks(&set(&[1, 2])));
        assert_eq!(new.choose(NodeId(1), &set(&[1, 2])), Some(ids(&[0, 3, 4])));
        assert_eq!(j.choose(NodeId(9), &BTreeSet::new()), None, "not a member");
        // Votes: both parts must be held, and only members may vote.
        assert!(j.is_quorum(&ids(&[1, 2, 3, 4])));
        assert!(j.is_quorum(&ids(&[4, 3, 2, 1, 1])));
        assert!(!j.is_quorum(&ids(&[1, 2, 3])), "no quorum of the new grid");
        assert!(!j.is_quorum(&ids(&[1, 2, 3, 4, 5])), "5 is no member");
        // The grid of 4 survives 1, the grid of 5 survives 1.
        assert_eq!(j.survives(), 1);
        let m = QuorumSystem::joint(
            Arc::new(QuorumSystem::majority(&range(7))),
            Arc::new(QuorumSystem::majority(&range(5))),
        );
        assert_eq!(m.survives(), 2);
        assert_eq!(m.kind(), "joint");
    }

    #[test]
    fn joint_survives_matches_brute_force() {
        for (name, joint) in changes() {
            let (old, new) = joint.parts().unwrap();
            assert_eq!(joint.survives(), survives_by_brute_force(&joint), "{name}");
            assert_eq!(
                joint.survives(),
                old.survives().min(new.survives()),
                "{name}"
            );
        }
    }

    /// A joint system validates each part on its own nodes, then its own quorums.
    #[test]
    fn joint_validate_checks_each_part() {
        let fano = Arc::new(explicit(FANO));
        let grid = Arc::new(QuorumSystem::grid(&range(8)));
        let j = QuorumSystem::joint(fano.clone(), grid.clone());
        assert_eq!(j.validate(&range(8)), Ok(()));
        // A broken part: {0, 5} misses {1, 4, 6}.
        let broken = QuorumSystem::joint(Arc::new(fano_with(5, &[0, 5])), grid.clone());
        assert_eq!(
            broken.validate(&range(8)),
            Err(QuorumError::Disjoint {
                a: NodeId(4),
                b: NodeId(5)
            })
        );
        // The part's own quorum of node 4 names node 9, not a node of the Fano plane.
        let stranger = QuorumSystem::joint(Arc::new(fano_with(4, &[1, 4, 6, 9])), grid);
        assert_eq!(
            stranger.validate(&range(8)),
            Err(QuorumError::UnknownMember {
                owner: NodeId(4),
                unknown: NodeId(9)
            })
        );
        // The joint node list must be old ∪ new: Q(1) = {1, 3, 5} ∪ {0, 1, 2, 7}.
        assert_eq!(
            j.validate(&range(7)),
            Err(QuorumError::UnknownMember {
                owner: NodeId(1),
                unknown: NodeId(7)
            })
        );
        assert_eq!(
            j.validate(&range(9)),
            Err(QuorumError::NoQuorum { owner: NodeId(8) })
        );
    }

    /// `witnessed` in a joint system, by its definition over every set of heard nodes: in
    /// each part the voter is a member of, every choosable quorum holding the voter and
    /// someone else holds a heard node.
    #[test]
    fn joint_witnessed_asks_each_part_the_voter_is_in() {
        for (name, joint) in changes() {
            let all: Vec<NodeId> = joint.nodes().collect();
            let (old, new) = joint.parts().unwrap();
            let parts: Vec<(&QuorumSystem, BTreeSet<u32>)> =
                [old, new].map(|p| (p, lifted(p, &all))).to_vec();
            for (v, &voter) in all.iter().enumerate() {
                let bit = 1u32 << v;
                for heard in 0..1u32 << all.len() {
                    let expected =
                        parts
                            .iter()
                            .filter(|(p, _)| p.is_member(voter))
                            .all(|(_, quorums)| {
                                quorums
                                    .iter()
                                    .filter(|&&q| q & bit != 0)
                                    .all(|&q| q == bit || q & heard & !bit != 0)
                            });
                    let heard_set: BTreeSet<NodeId> = members(&all, heard).into_iter().collect();
                    assert_eq!(
                        joint.witnessed(voter, &heard_set),
                        expected,
                        "{name}, voter {voter}, heard {heard_set:?}"
                    );
                }
            }
        }
    }

    /// Equality is deep and the hash shallow for joint systems too.
    #[test]
    fn joint_hash_and_equality() {
        use std::collections::hash_map::DefaultHasher;
        let hash = |q: &QuorumSystem| {
            let mut h = DefaultHasher::new();
            q.hash(&mut h);
            h.finish()
        };
        let a = Arc::new(QuorumSystem::grid(&range(4)));
        let b = Arc::new(QuorumSystem::majority(&range(5)));
        let ab = QuorumSystem::joint(a.clone(), b.clone());
        let same = QuorumSystem::joint(
            Arc::new(QuorumSystem::grid(&range(4))),
            Arc::new(QuorumSystem::majority(&range(5))),
        );
        assert_eq!(ab, same);
        assert_eq!(hash(&ab), hash(&same));
        let other = QuorumSystem::joint(a, Arc::new(QuorumSystem::grid(&range(5))));
        assert_ne!(ab, other);
        assert_eq!(hash(&ab), hash(&other), "shallow: kind and size");
        assert_ne!(hash(&ab), hash(&b));
    }
}
