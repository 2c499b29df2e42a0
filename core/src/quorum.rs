//! Quorums: which voters a node must win before it may enter the critical section.
//!
//! Three kinds of [`QuorumSystem`]. The default is Maekawa's grid (PROTOCOL.md §1): ids sorted
//! and laid row by row into `k = ceil(sqrt N)` columns, a node's own quorum being its row plus
//! its column. [`QuorumSystem::majority`] takes any `⌊N/2⌋ + 1` nodes. Explicit quorums (e.g.
//! the Fano plane) may replace either; [`QuorumSystem::validate`] checks every kind.
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
//!
//! Pure data: no I/O, no knowledge of files (that is `config`'s job), no text for people (`maekawa
//! quorums` renders a system).

use crate::id::NodeId;
use std::collections::{BTreeMap, BTreeSet};
use std::hash::{Hash, Hasher};

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
}

/// The three kinds of [`QuorumSystem`], for callers that present one (`maekawa quorums`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum QuorumKind {
    /// Maekawa's grid: any full row plus any full column.
    Grid,
    /// Any `⌊N/2⌋ + 1` of the nodes.
    Majority,
    /// Quorums listed by hand: any listed one.
    Explicit,
}

impl QuorumKind {
    /// `"grid"`, `"majority"` or `"explicit"`, as `quorums.json` names it.
    pub fn name(self) -> &'static str {
        match self {
            QuorumKind::Grid => "grid",
            QuorumKind::Majority => "majority",
            QuorumKind::Explicit => "explicit",
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

    /// `"grid"`, `"majority"` or `"explicit"`: how the system was built, as `quorums.json`
    /// and `maekawa quorums` name it.
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
        }
    }

    /// Checks what safety rests on: every listed node has a quorum that contains it, names only
    /// listed nodes, and meets every other quorum.
    ///
    /// For an explicit system this covers every quorum [`QuorumSystem::choose`] may return,
    /// since it only returns listed ones; for the grid and majority the module documentation
    /// proves the rest.
    pub fn validate(&self, nodes: &[NodeId]) -> Result<(), QuorumError> {
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
    ///   ids.
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
        }
    }

    /// True when `voters` is a quorum a requester of this system may use (what `maekawa
    /// check` asks of every entry's votes, since a requester may switch quorums).
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
    /// "A lost disk"). A quorum of `voter` alone has nobody to ask and is passed over.
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
        }
    }

    /// The grid rows, when the quorums come from the grid.
    pub fn rows(&self) -> Option<&[Vec<NodeId>]> {
        match &self.layout {
            Layout::Grid { rows } => Some(rows),
            Layout::Majority | Layout::Explicit => None,
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
            _ => all.iter().map(|&o| mask_of(&all, qs.quorum(o))).collect(),
        }
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
}
