//! `maekawa quorums`: print the quorum system of a cluster file (grid, majority or explicit,
//! every own quorum, the intersection check and the dead nodes it survives), or only its node
//! ids, for scripts. A joint system (a membership change) is shown as its two parts.

use super::fail;
use clap::Args;
use maekawa::config::Config;
use maekawa_core::id::NodeId;
use maekawa_core::quorum::{QuorumKind, QuorumSystem};
use std::fmt::Write as _;
use std::path::PathBuf;
use std::process::ExitCode;

/// Flags of `maekawa quorums`.
#[derive(Args, Debug)]
pub(crate) struct QuorumsArgs {
    /// The cluster file (node ids and addresses, optional quorum_system or explicit quorums).
    #[arg(long, default_value = "quorums.json")]
    config: PathBuf,
    /// Print only the node ids, one per line (for scripts).
    #[arg(long)]
    ids: bool,
}

/// Exit 2 when the cluster file is missing or invalid.
pub(crate) fn run(args: QuorumsArgs) -> ExitCode {
    match Config::load(&args.config) {
        Ok(cfg) if args.ids => {
            cfg.ids().iter().for_each(|id| outln!("{id}"));
            ExitCode::SUCCESS
        }
        Ok(cfg) => {
            out!("{}", render(&cfg.quorums));
            ExitCode::SUCCESS
        }
        Err(e) => fail(&e),
    }
}

/// What `maekawa quorums` prints: the kind of system (and the grid, if any), every own quorum,
/// the result of the intersection check and what the system survives.
fn render(system: &QuorumSystem) -> String {
    let mut out = String::new();
    let nodes: Vec<NodeId> = system.nodes().collect();
    let n = nodes.len();
    let _ = writeln!(out, "{}", headline(system));
    if let Some(rows) = system.rows() {
        let width = nodes
            .iter()
            .map(|id| id.to_string().len())
            .max()
            .unwrap_or(1);
        for row in rows {
            let cells: Vec<String> = row.iter().map(|id| format!("{:>width$}", id.0)).collect();
            let _ = writeln!(out, "  {}", cells.join(" "));
        }
    }
    if let Some((old, new)) = system.parts() {
        for (label, part) in [("old", old), ("new", new)] {
            let ids: Vec<String> = part.nodes().map(|id| id.to_string()).collect();
            let _ = writeln!(out, "  {label}: {} ({})", headline(part), ids.join(", "));
        }
    }
    let _ = writeln!(out, "quorums:");
    for &owner in &nodes {
        let q = system.quorum(owner);
        let members: Vec<String> = q.iter().map(|m| m.0.to_string()).collect();
        let _ = writeln!(
            out,
            "  Q({owner}) = {{{}}}  size {}",
            members.join(", "),
            q.len()
        );
    }
    // The quorums are checked against their own owners, not against a node list.
    match system.validate(&nodes) {
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
    let _ = writeln!(out, "survives: {}", survival_text(system));
    out
}

/// The first line of [`render`], which also sums up each part of a joint system.
fn headline(system: &QuorumSystem) -> String {
    let n = system.nodes().count();
    match (system.rows(), system.quorum_kind()) {
        (Some(rows), _) => {
            let k = rows.first().map_or(0, Vec::len);
            format!("grid: {n} nodes in rows of {k}")
        }
        (None, QuorumKind::Majority) => {
            format!(
                "majority: {n} nodes, any {} of them form a quorum",
                n / 2 + 1
            )
        }
        (None, QuorumKind::Joint) => {
            format!("joint: {n} nodes changing membership, a quorum of the old system plus one of the new")
        }
        (None, QuorumKind::Grid | QuorumKind::Explicit) => {
            format!("explicit quorums for {n} nodes")
        }
    }
}

/// The `survives:` line of [`render`], without the label.
fn survival_text(system: &QuorumSystem) -> String {
    let n = system.nodes().count();
    let count = match system.survives() {
        0 => format!("no dead node of {n} in the worst case (one death can leave no quorum)"),
        1 => format!("any 1 dead node of {n} (worst case)"),
        f => format!("any {f} dead nodes of {n} (worst case)"),
    };
    let switch = match system.quorum_kind() {
        QuorumKind::Grid => "any full row plus any full column without a suspected node",
        QuorumKind::Majority => "any majority without a suspected node",
        QuorumKind::Explicit => "any listed quorum without a suspected node",
        QuorumKind::Joint => {
            "a quorum of the old system plus one of the new, each without a suspected node"
        }
    };
    format!("{count}; a requester switches to {switch}")
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeMap;

    fn range(n: u32) -> Vec<NodeId> {
        (0..n).map(NodeId).collect()
    }

    fn explicit(qs: &[(u32, &[u32])]) -> QuorumSystem {
        let quorums: BTreeMap<NodeId, Vec<NodeId>> = qs
            .iter()
            .map(|&(o, q)| (NodeId(o), q.iter().copied().map(NodeId).collect()))
            .collect();
        QuorumSystem::explicit(quorums)
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

    /// The whole text for a grid, byte for byte (the width of the cells follows the widest id).
    #[test]
    fn a_grid_is_printed_row_by_row_with_every_quorum() {
        let ids: Vec<NodeId> = [0, 1, 2, 3, 10].map(NodeId).to_vec();
        assert_eq!(
            render(&QuorumSystem::grid(&ids)),
            "grid: 5 nodes in rows of 3\n\
             \x20  0  1  2\n\
             \x20  3 10\n\
             quorums:\n\
             \x20 Q(0) = {0, 1, 2, 3}  size 4\n\
             \x20 Q(1) = {0, 1, 2, 10}  size 4\n\
             \x20 Q(2) = {0, 1, 2}  size 3\n\
             \x20 Q(3) = {0, 3, 10}  size 3\n\
             \x20 Q(10) = {1, 3, 10}  size 3\n\
             check: every quorum contains its owner; all 10 pairs intersect\n\
             survives: any 1 dead node of 5 (worst case); a requester switches to any full row \
             plus any full column without a suspected node\n"
        );
    }

    /// A membership change from a grid of 4 to a majority of 5: both parts, then the joint own
    /// quorums (node 4, not in the grid, takes node 0's row and column there).
    #[test]
    fn a_joint_system_is_printed_as_both_parts() {
        let joint = QuorumSystem::joint(
            QuorumSystem::grid(&range(4)).into(),
            QuorumSystem::majority(&range(5)).into(),
        );
        assert_eq!(
            render(&joint),
            "joint: 5 nodes changing membership, a quorum of the old system plus one of the new\n\
             \x20 old: grid: 4 nodes in rows of 2 (0, 1, 2, 3)\n\
             \x20 new: majority: 5 nodes, any 3 of them form a quorum (0, 1, 2, 3, 4)\n\
             quorums:\n\
             \x20 Q(0) = {0, 1, 2}  size 3\n\
             \x20 Q(1) = {0, 1, 2, 3}  size 4\n\
             \x20 Q(2) = {0, 2, 3, 4}  size 4\n\
             \x20 Q(3) = {0, 1, 2, 3, 4}  size 5\n\
             \x20 Q(4) = {0, 1, 2, 4}  size 4\n\
             check: every quorum contains its owner; all 10 pairs intersect\n\
             survives: any 1 dead node of 5 (worst case); a requester switches to a quorum of \
             the old system plus one of the new, each without a suspected node\n"
        );
    }

    #[test]
    fn render_shows_grid_quorums_and_check() {
        let out = render(&QuorumSystem::grid(&range(3)));
        for line in [
            "grid: 3 nodes in rows of 2",
            "Q(0) = {0, 1, 2}",
            "Q(1) = {0, 1}",
            "Q(2) = {0, 2}",
            "all 3 pairs intersect",
            "survives: any 1 dead node of 3 (worst case)",
        ] {
            assert!(out.contains(line), "{line:?} not in\n{out}");
        }
    }

    #[test]
    fn explicit_quorums_are_printed_and_checked() {
        let out = render(&explicit(FANO));
        assert!(out.contains("explicit quorums for 7 nodes"), "{out}");
        assert!(out.contains("all 21 pairs intersect"), "{out}");
        // Checked against their own owners: a quorum without its owner, or two that miss.
        for broken in [&[(0, &[0][..]), (1, &[1][..])][..], &[(0, &[1]), (1, &[1])]] {
            let out = render(&explicit(broken));
            assert!(out.contains("check: FAILED: "), "{out}");
        }
    }

    #[test]
    fn render_says_what_each_kind_survives() {
        let g = render(&QuorumSystem::grid(&range(9)));
        assert!(g.contains("survives: any 2 dead nodes of 9 (worst case); a requester switches to any full row plus any full column without a suspected node"), "{g}");
        let m = render(&QuorumSystem::majority(&range(9)));
        for line in [
            "majority: 9 nodes, any 5 of them form a quorum",
            "Q(7) = {0, 1, 2, 7, 8}  size 5",
            "all 36 pairs intersect",
            "survives: any 4 dead nodes of 9 (worst case); a requester switches to any majority without a suspected node",
        ] {
            assert!(m.contains(line), "{line:?} not in\n{m}");
        }
        let f = render(&explicit(FANO));
        assert!(f.contains("survives: any 2 dead nodes of 7 (worst case); a requester switches to any listed quorum without a suspected node"), "{f}");
        let j = render(&QuorumSystem::joint(
            QuorumSystem::grid(&range(4)).into(),
            QuorumSystem::majority(&range(5)).into(),
        ));
        assert!(j.contains("survives: any 1 dead node of 5 (worst case); a requester switches to a quorum of the old system plus one of the new, each without a suspected node"), "{j}");
        let three = render(&QuorumSystem::majority(&range(3)));
        assert!(
            three.contains("survives: any 1 dead node of 3 (worst case)"),
            "{three}"
        );
        let two = render(&QuorumSystem::grid(&range(2)));
        assert!(
            two.contains("survives: no dead node of 2 in the worst case"),
            "{two}"
        );
    }
}
