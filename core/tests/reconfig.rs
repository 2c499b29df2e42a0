//! Membership changes, proved before they are built (issue 27, DESIGN.md "Membership
//! changes"): the explorer visits every state of small clusters that add, remove or replace a
//! node through the joint configuration, and the simulator runs many seeded schedules with
//! crashes, deaths and lost disks around the change. Both catch the mutations that skip the
//! joint configuration or the drain.

use maekawa_core::cluster::{Change, ChangeModel, CrashModel};
use maekawa_core::explore::{explore, ExploreConfig};
use maekawa_core::protocol::Options;
use maekawa_core::sim::{self, Contention, SimConfig};

fn model(change: Change) -> ChangeModel {
    ChangeModel {
        change: Some(change),
        ..ChangeModel::default()
    }
}

fn explore_config(nodes: usize, requests: u32, change: ChangeModel) -> ExploreConfig {
    ExploreConfig {
        nodes,
        requests,
        options: Options::default(),
        max_states: 40_000_000,
        queued_self: false,
        crash: CrashModel::default(),
        locks: 1,
        cancels: 0,
        change,
    }
}

/// Every state of 2 nodes where node 1 joins node 0 (each asking twice), where node 1 leaves
/// (or dies for good), and where node 1 joins while either node may crash (votes journaled):
/// safe, no deadlock, no vote leak, tokens increasing, every entry holding a quorum of its
/// configuration (of both halves of the joint one) and none made in a configuration older
/// than the two newest. Three nodes outgrow 60 million states (a soak, VERIFICATION.md).
#[test]
fn add_and_remove_are_safe_and_live_in_every_state() {
    let runs = [
        ("add", explore_config(2, 2, model(Change::Add))),
        ("remove", explore_config(2, 2, model(Change::Remove))),
        (
            "remove, a death anywhere",
            ExploreConfig {
                crash: CrashModel {
                    stops: 1,
                    ..CrashModel::default()
                },
                ..explore_config(2, 1, model(Change::Remove))
            },
        ),
        (
            "add, a crash anywhere, votes journaled",
            ExploreConfig {
                options: Options {
                    forget_votes: false,
                    ..Options::default()
                },
                crash: CrashModel {
                    crashes: 1,
                    ..CrashModel::default()
                },
                ..explore_config(2, 2, model(Change::Add))
            },
        ),
    ];
    for (what, cfg) in runs {
        let report = explore(&cfg).unwrap_or_else(|f| panic!("{what}: {f}"));
        println!("2 nodes, {what}: {report}");
        assert!(report.states > 1_000, "{report}");
    }
}

fn sim_config(seed: u64, nodes: usize, change: ChangeModel) -> SimConfig {
    SimConfig {
        nodes,
        seed,
        requests: 3,
        contention: Contention::Full,
        options: Options::default(),
        crashes: 1,
        journal: true,
        journal_token: true,
        locks: 2,
        cancels: 1,
        stops: u32::from(seed.is_multiple_of(3)),
        wrong_suspicions: 1,
        disk_losses: u32::from(seed.is_multiple_of(4)),
        pauses: 1,
        change,
    }
}

/// Seeded schedules of 4, 5, 9 and 10 nodes, each making one change with a crash, a wrong
/// suspicion, a pause, sometimes a death and a lost disk around it: every invariant holds.
#[test]
fn seeded_changes_with_faults_keep_every_invariant() {
    let changes = [Change::Add, Change::Remove, Change::Replace];
    let mut entries = 0;
    for seed in 1..=600u64 {
        let nodes = [4, 5, 9, 10][(seed % 4) as usize];
        let change = model(changes[(seed % 3) as usize]);
        let stats = sim::run(&sim_config(seed, nodes, change)).unwrap_or_else(|f| panic!("{f}"));
        entries += stats.entries;
    }
    println!("600 schedules with a membership change: {entries} entries");
    assert!(entries > 3_000, "{entries}");
}

/// Not vacuous: without waiting for the drain, or without the joint configuration, the
/// simulator finds an entry of a configuration older than the two newest, or two holders at
/// once. A replacement in a grid of 3 (node 2's place taken by node 3) has quorums of the old
/// and the new configuration that do not meet ({0, 2} and {1, 3}); wrong suspicions make
/// requesters switch to them.
#[test]
fn the_simulator_catches_a_change_without_drain_or_joint_configuration() {
    for (joint, drain) in [(false, true), (true, false)] {
        let mutated = ChangeModel {
            joint,
            drain,
            ..model(Change::Replace)
        };
        let found = (1..=20_000u64).find_map(|seed| {
            let cfg = SimConfig {
                requests: 4,
                crashes: 0,
                locks: 1,
                cancels: 0,
                stops: 0,
                wrong_suspicions: 3,
                disk_losses: 0,
                pauses: 0,
                ..sim_config(seed, 4, mutated)
            };
            sim::run(&cfg).err().map(|f| (seed, f))
        });
        let (seed, failure) = found.expect("the mutation must be caught");
        println!(
            "joint {joint}, drain {drain}: seed {seed}: {}",
            failure.what
        );
        let expected = if joint {
            "was proposed already"
        } else {
            "at the same time"
        };
        assert!(failure.what.contains(expected), "{}", failure.what);
    }
}

/// The same schedules with the joint configuration and the drain: every invariant holds.
#[test]
fn the_same_replacements_through_the_joint_configuration_keep_every_invariant() {
    for seed in 1..=20_000u64 {
        let cfg = SimConfig {
            requests: 4,
            crashes: 0,
            locks: 1,
            cancels: 0,
            stops: 0,
            wrong_suspicions: 3,
            disk_losses: 0,
            pauses: 0,
            ..sim_config(seed, 4, model(Change::Replace))
        };
        sim::run(&cfg).unwrap_or_else(|f| panic!("{f}"));
    }
}
