//! Quorums: which voters each node must win before it may enter the critical section.
//!
//! The default is Maekawa's grid (PROTOCOL.md §1): ids sorted and laid row by row into
//! `k = ceil(sqrt N)` columns, a node's quorum being its row plus its column. Explicit quorums
//! (e.g. the Fano plane) may replace the grid; [`QuorumSystem::validate`] checks either kind.
//! Pure data: no I/O, no knowledge of files (that is `config`'s job).

use crate::id::NodeId;
use std::collections::BTreeMap;
use std::fmt::Write as _;

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

/// The quorum of every node, each sorted and free of duplicates.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QuorumSystem {
    quorums: BTreeMap<NodeId, Vec<NodeId>>,
    /// The grid rows when built by [`QuorumSystem::grid`]; `None` for explicit quorums.
    rows: Option<Vec<Vec<NodeId>>>,
}

impl QuorumSystem {
    /// Maekawa's grid over `ids` (order and duplicates in `ids` do not matter).
    pub fn grid(ids: &[NodeId]) -> QuorumSystem {
        let mut sorted = ids.to_vec();
        sorted.sort();
        sorted.dedup();
        let n = sorted.len();
        let k = ceil_sqrt(n).max(1);
        let rows: Vec<Vec<NodeId>> = sorted.chunks(k).map(|c| c.to_vec()).collect();
        let mut quorums = BTreeMap::new();
        for (p, &id) in sorted.iter().enumerate() {
            let (row, col) = (p / k, p % k);
            let mut q: Vec<NodeId> = rows[row].clone();
            q.extend(rows.iter().filter_map(|r| r.get(col).copied()));
            q.sort();
            q.dedup();
            quorums.insert(id, q);
        }
        QuorumSystem {
            quorums,
            rows: Some(rows),
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
            rows: None,
        }
    }

    /// Checks what safety rests on: every listed node has a quorum that contains it, names only
    /// listed nodes, and meets every other quorum.
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

    /// The voters `owner` must win, sorted; empty for an unknown node.
    pub fn quorum(&self, owner: NodeId) -> &[NodeId] {
        self.quorums.get(&owner).map(Vec::as_slice).unwrap_or(&[])
    }

    /// Every node that has a quorum, in id order.
    pub fn nodes(&self) -> impl Iterator<Item = NodeId> + '_ {
        self.quorums.keys().copied()
    }

    /// The nodes for which `voter` votes, i.e. whose quorum contains it.
    pub fn voted_by(&self, voter: NodeId) -> Vec<NodeId> {
        self.quorums
            .iter()
            .filter(|(_, q)| q.contains(&voter))
            .map(|(&o, _)| o)
            .collect()
    }

    /// The grid rows, when the quorums come from the grid.
    pub fn rows(&self) -> Option<&[Vec<NodeId>]> {
        self.rows.as_deref()
    }

    /// Human-readable layout for `maekawa quorums`: the grid (if any), every quorum and the
    /// result of the intersection check.
    pub fn render(&self) -> String {
        let mut out = String::new();
        let n = self.quorums.len();
        match &self.rows {
            Some(rows) => {
                let k = rows.first().map_or(0, Vec::len);
                let _ = writeln!(out, "grid: {n} nodes in rows of {k}");
                let width = self
                    .quorums
                    .keys()
                    .map(|id| id.to_string().len())
                    .max()
                    .unwrap_or(1);
                for row in rows {
                    let cells: Vec<String> =
                        row.iter().map(|id| format!("{:>width$}", id.0)).collect();
                    let _ = writeln!(out, "  {}", cells.join(" "));
                }
            }
            None => {
                let _ = writeln!(out, "explicit quorums for {n} nodes");
            }
        }
        let _ = writeln!(out, "quorums:");
        for (owner, q) in &self.quorums {
            let members: Vec<String> = q.iter().map(|m| m.0.to_string()).collect();
            let _ = writeln!(
                out,
                "  Q({owner}) = {{{}}}  size {}",
                members.join(", "),
                q.len()
            );
        }
        let nodes: Vec<NodeId> = self.quorums.keys().copied().collect();
        match self.validate(&nodes) {
            Ok(()) => {
                let pairs = n * n.saturating_sub(1) / 2;
                let _ = writeln!(
                    out,
                    "check: every quorum contains its owner; all {pairs} pairs intersect"
                );
            }
            Err(e) => {
                let _ = writeln!(out, "check: FAILED: {e}");
            }
        }
        out
    }
}

fn intersects(a: &[NodeId], b: &[NodeId]) -> bool {
    a.iter().any(|x| b.binary_search(x).is_ok())
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

    #[test]
    fn render_shows_grid_quorums_and_check() {
        let out = QuorumSystem::grid(&range(3)).render();
        for line in [
            "grid: 3 nodes in rows of 2",
            "Q(0) = {0, 1, 2}",
            "Q(1) = {0, 1}",
            "Q(2) = {0, 2}",
            "all 3 pairs intersect",
        ] {
            assert!(out.contains(line), "{line:?} not in\n{out}");
        }
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
        let out = f.render();
        assert!(out.contains("explicit quorums for 7 nodes"), "{out}");
        assert!(out.contains("all 21 pairs intersect"), "{out}");
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
            // render() checks the quorums against their own owners, not against a node list.
            let own: Vec<NodeId> = q.nodes().collect();
            assert_eq!(
                q.render().contains("check: FAILED"),
                q.validate(&own).is_err(),
                "{want}"
            );
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
}
