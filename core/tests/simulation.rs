//! The seeded simulator over many schedules, and the message cost of one uncontended entry.

use maekawa_core::cluster::{Cluster, Step};
use maekawa_core::id::NodeId;
use maekawa_core::protocol::{MsgKind, Options};
use maekawa_core::quorum::QuorumSystem;
use maekawa_core::rng::SplitMix64;
use maekawa_core::sim::{self, Contention, SimConfig};

fn template(contention: Contention) -> SimConfig {
    SimConfig {
        nodes: 3,
        seed: 0,
        requests: 3,
        contention,
        options: Options::default(),
        crashes: 0,
        journal: true,
        journal_token: true,
        locks: 1,
        cancels: 0,
        stops: 0,
        wrong_suspicions: 0,
        disk_losses: 0,
        pauses: 0,
        change: Default::default(),
    }
}

fn threads() -> usize {
    std::thread::available_parallelism().map_or(1, |n| n.get())
}

/// 10,000 random schedules across six cluster sizes, invariants checked after every step.
#[test]
fn ten_thousand_random_schedules_keep_every_invariant() {
    let sizes = [3, 4, 5, 7, 9, 16];
    let stats = sim::run_many(&template(Contention::Random), &sizes, 1, 8_000, threads())
        .unwrap_or_else(|f| panic!("{f}"));
    let full = sim::run_many(&template(Contention::Full), &sizes, 1, 2_000, threads())
        .unwrap_or_else(|f| panic!("{f}"));
    assert_eq!(stats.runs + full.runs, 10_000);
    // Every run checks its own entries; the totals must agree with sizes * requests.
    let expected: u64 = (1..=8_000u64)
        .map(|s| sim::size_for_seed(&sizes, s) as u64 * 3)
        .sum();
    assert_eq!(stats.entries, expected);
    assert!(stats.max_overtakes <= 1 && full.max_overtakes <= 1);
    println!("random contention:\n{stats}\nfull contention:\n{full}");
}

/// The same seed gives the same schedule: a printed seed really replays.
#[test]
fn a_seed_replays_exactly() {
    for seed in [1, 42, 7_777] {
        let cfg = SimConfig {
            nodes: 9,
            seed,
            ..template(Contention::Random)
        };
        assert_eq!(sim::run(&cfg).unwrap(), sim::run(&cfg).unwrap());
    }
}

/// The simulator is not vacuous: without Sanders' lock-change rule it finds a deadlock, and the
/// failure names the seed and carries the configuration that replays the same failure.
#[test]
fn without_the_lock_change_rule_the_simulator_reports_a_replayable_deadlock() {
    let cfg = SimConfig {
        nodes: 4,
        options: Options {
            lock_change_failed: false,
            ..Options::default()
        },
        ..template(Contention::Random)
    };
    let failure = sim::run_many(&cfg, &[], 1, 5_000, 1).expect_err("the deadlock must be found");
    let text = failure.to_string();
    println!("{text}");
    assert!(text.contains("deadlock"), "{text}");
    let seed = failure.config.seed;
    assert!(
        text.contains(&format!("seed {seed} (4 nodes, 3 requests each)")),
        "{text}"
    );
    // The failure carries the whole run (the command line that replays it is `maekawa
    // simulate`'s to render, from this): the template with the failing seed.
    assert_eq!(failure.config, SimConfig { seed, ..cfg });
    let again = sim::run(&failure.config).expect_err("replay fails the same way");
    assert_eq!(again.step, failure.step);
    assert_eq!(again.what, failure.what);
}

/// Without contention one CS entry costs exactly 3(|Q| - 1) network messages: a REQUEST, a
/// GRANT and a RELEASE per other member of the quorum (self-messages cost no network); with
/// leases, a FENCE and a FENCED more.
/// Without leases and with fast grants (issue 26): REQUEST, GRANT, RELEASE per other member;
/// with a Fence round before every entry (issue 14), FENCE and FENCED too.
#[test]
fn an_uncontended_entry_costs_three_messages_per_other_quorum_member_five_with_fence_rounds() {
    for (leases, fast_grants) in [(false, false), (true, true), (true, false)] {
        uncontended_entry_cost(leases, fast_grants);
    }
}

fn uncontended_entry_cost(leases: bool, fast_grants: bool) {
    let fence_round = leases && !fast_grants;
    let options = Options {
        leases,
        fast_grants,
        ..Options::default()
    };
    let mut rng = SplitMix64::new(3);
    for n in 1..=20usize {
        let ids: Vec<NodeId> = (0..n as u32).map(NodeId).collect();
        let quorums = QuorumSystem::grid(&ids);
        for &me in &ids {
            // Everyone could request once, but only `me` does; messages arrive in random order.
            let mut cluster = Cluster::new(n, 1, options, false);
            let mut network = [0u64; MsgKind::ALL.len()];
            let mut entered = 0;
            let mut requested = false;
            let mut enabled = Vec::new();
            loop {
                cluster.enabled(&mut enabled);
                enabled.retain(|s| match s {
                    Step::Request(id) => *id == me && !requested,
                    _ => true,
                });
                if enabled.is_empty() {
                    break;
                }
                let step = enabled[rng.below(enabled.len() as u64) as usize];
                if matches!(step, Step::Request(_)) {
                    requested = true;
                }
                let actor = step.actor().expect("no time passes without faults");
                let effect = cluster.apply(step);
                for (to, msg) in &effect.sent {
                    if *to != actor {
                        network[msg.kind.index()] += 1;
                    }
                }
                entered += u32::from(effect.entered.is_some());
                cluster.check_safety().unwrap();
            }
            let others = quorums.quorum(me).len() as u64 - 1;
            assert_eq!(entered, 1, "n={n} node {me}");
            let kinds: &[MsgKind] = if fence_round {
                &[
                    MsgKind::Request,
                    MsgKind::Grant,
                    MsgKind::Fence,
                    MsgKind::Fenced,
                    MsgKind::Release,
                ]
            } else {
                &[MsgKind::Request, MsgKind::Grant, MsgKind::Release]
            };
            assert_eq!(
                network.iter().sum::<u64>(),
                kinds.len() as u64 * others,
                "n={n} node {me}: {network:?}"
            );
            for &kind in kinds {
                assert_eq!(network[kind.index()], others, "n={n} node {me} {kind}");
            }
        }
    }
}

/// Crash-restarts at random moments (kill -9, restart, journal kept): safe after every step,
/// and after the last restart every request of a live node is served, with no vote leaked.
#[test]
fn thousands_of_schedules_with_crashes_keep_every_invariant() {
    let sizes = [3, 4, 5, 7, 9];
    let cfg = SimConfig {
        requests: 4,
        crashes: 3,
        ..template(Contention::Random)
    };
    let stats = sim::run_many(&cfg, &sizes, 1, 5_000, threads()).unwrap_or_else(|f| panic!("{f}"));
    let full = SimConfig {
        contention: Contention::Full,
        crashes: 5,
        ..cfg
    };
    let full = sim::run_many(&full, &sizes, 1, 2_000, threads()).unwrap_or_else(|f| panic!("{f}"));
    assert_eq!(stats.runs + full.runs, 7_000);
    println!("with crashes:\n{stats}\nfull contention with crashes:\n{full}");
}

/// Not vacuous: without the voter journal a restarted voter forgets the vote it gave, and the
/// simulator catches the second grant.
#[test]
fn without_the_journal_the_simulator_catches_a_double_grant() {
    let cfg = SimConfig {
        nodes: 5,
        requests: 4,
        crashes: 2,
        journal: false,
        // Votes journaled (`--journal-votes`): with leases they are forgotten anyway.
        options: Options {
            forget_votes: false,
            ..Options::default()
        },
        ..template(Contention::Random)
    };
    let failure =
        sim::run_many(&cfg, &[], 1, 5_000, 1).expect_err("the double grant must be found");
    println!("{failure}");
    assert!(failure.what.contains("counts voter"), "{failure}");
    // The failure carries the mutated run (`maekawa simulate` renders it as `--without-journal`).
    assert_eq!(
        failure.config,
        SimConfig {
            seed: failure.config.seed,
            ..cfg
        }
    );
}

/// Fencing tokens under crashes, on random schedules: 3 lock names, crash-restarts at random
/// moments; every entry's token is larger than every earlier entry's of its lock (checked after
/// every step), besides every other invariant.
#[test]
fn thousands_of_schedules_over_three_locks_with_crashes_keep_tokens_increasing() {
    let sizes = [3, 4, 5, 9];
    let cfg = SimConfig {
        requests: 6,
        crashes: 3,
        locks: 3,
        ..template(Contention::Random)
    };
    let stats = sim::run_many(&cfg, &sizes, 1, 3_000, threads()).unwrap_or_else(|f| panic!("{f}"));
    let full = SimConfig {
        contention: Contention::Full,
        ..cfg
    };
    let full = sim::run_many(&full, &sizes, 1, 1_000, threads()).unwrap_or_else(|f| panic!("{f}"));
    assert_eq!(stats.runs + full.runs, 4_000);
    println!("3 locks with crashes:\n{stats}\nfull contention:\n{full}");
}

/// Not vacuous: when the token floor is not kept across a restart, nor learned from peers
/// (a restart whose journal has no floor waits for floor witnesses, which alone would make up
/// for the lost floor), a holder killed in the CS takes its token with it, and the simulator
/// finds the repeated token and says how to replay.
#[test]
fn without_the_token_journal_the_simulator_finds_a_repeated_token() {
    let cfg = SimConfig {
        nodes: 3,
        requests: 6,
        crashes: 3,
        journal_token: false,
        options: Options {
            floor_witnesses: false,
            ..Options::default()
        },
        // A peer's Hello carries its journal's floor, reserved in blocks: the restarted node
        // takes its floor from there unless the peers it hears from never reserved one (a
        // peer that died, one wrongly suspected).
        stops: 1,
        wrong_suspicions: 1,
        ..template(Contention::Full)
    };
    let failure =
        sim::run_many(&cfg, &[], 1, 5_000, 1).expect_err("the repeated token must be found");
    println!("{failure}");
    assert!(failure.what.contains("token"), "{failure}");
    // The failure carries the mutated run (`maekawa simulate` renders it as `--without-token-journal`).
    assert_eq!(
        failure.config,
        SimConfig {
            seed: failure.config.seed,
            ..cfg
        }
    );
}

/// Not vacuous: when a RELEASE does not carry the holder's token to its voters, the simulator
/// finds a token that did not grow.
#[test]
fn without_the_token_on_release_the_simulator_finds_a_repeated_token() {
    let cfg = SimConfig {
        nodes: 5,
        // Without leases: their Fence round carries the token to the voters too.
        options: Options {
            release_carries_token: false,
            leases: false,
            ..Options::default()
        },
        ..template(Contention::Full)
    };
    let failure =
        sim::run_many(&cfg, &[], 1, 5_000, 1).expect_err("the repeated token must be found");
    println!("{failure}");
    assert!(failure.what.contains("token"), "{failure}");
    // The failure carries the mutated run (`maekawa simulate` renders it as `--without-release-token`).
    assert_eq!(
        failure.config,
        SimConfig {
            seed: failure.config.seed,
            ..cfg
        }
    );
}

/// Withdrawn requests (issue 14, item 4) at random moments, with crashes and 2 lock names:
/// every invariant holds, every request not withdrawn is served, no vote is left behind.
#[test]
fn schedules_with_withdrawn_requests_keep_every_invariant() {
    let sizes = [3, 4, 5, 9];
    let cfg = SimConfig {
        requests: 6,
        cancels: 8,
        locks: 2,
        ..template(Contention::Random)
    };
    let stats = sim::run_many(&cfg, &sizes, 1, 2_000, threads()).unwrap_or_else(|f| panic!("{f}"));
    let crashing = SimConfig { crashes: 2, ..cfg };
    let more =
        sim::run_many(&crashing, &sizes, 1, 1_000, threads()).unwrap_or_else(|f| panic!("{f}"));
    assert_eq!(stats.runs + more.runs, 3_000);
    println!("withdrawals:\n{stats}\nwith crashes:\n{more}");
}

/// Availability (issue 14) on random schedules: nodes dying for good (as many as the grid
/// survives), wrong suspicions, pauses, crash-restarts, withdrawals and two locks, with time
/// passing. Safety and token order after every step; at the end every request of a live node
/// entered and no vote is held (suspicion is eventually right in these runs).
#[test]
fn deaths_wrong_suspicions_and_pauses_keep_every_invariant_and_every_live_request_enters() {
    let base = SimConfig {
        requests: 4,
        stops: 2,
        wrong_suspicions: 2,
        pauses: 2,
        ..template(Contention::Random)
    };
    for (extra, schedules) in [
        (base, 3000),
        (
            SimConfig {
                crashes: 1,
                locks: 2,
                cancels: 1,
                ..base
            },
            2000,
        ),
        (
            SimConfig {
                contention: Contention::Full,
                ..base
            },
            2000,
        ),
    ] {
        let stats = sim::run_many(&extra, &[3, 4, 5, 9, 16], 1, schedules, threads())
            .unwrap_or_else(|f| panic!("{f}"));
        assert_eq!(stats.runs, schedules);
        assert!(stats.entries > schedules * 4, "{stats}");
    }
}

/// Not vacuous: a voter that reclaims a confirmed vote without waiting for the lease lets a
/// second holder in while the first one's lease is live.
#[test]
fn a_reclaim_without_waiting_for_the_lease_is_caught_on_random_schedules() {
    let cfg = SimConfig {
        requests: 5,
        wrong_suspicions: 2,
        pauses: 2,
        options: Options {
            reclaim_waits: false,
            ..Options::default()
        },
        ..template(Contention::Random)
    };
    let failure = sim::run_many(&cfg, &[3, 4, 5, 9], 1, 2000, threads())
        .expect_err("the early reclaim must be caught");
    assert!(
        failure.what.contains("counts voter") || failure.what.contains("same time"),
        "{failure}"
    );
}

/// Not vacuous (issue 26): a fast entry whose lease runs from the entry, not from the request's
/// making, outlives the reclaim of a vote granted long before it.
#[test]
fn a_fast_lease_from_the_entry_is_caught_on_random_schedules() {
    let cfg = SimConfig {
        requests: 5,
        wrong_suspicions: 2,
        pauses: 2,
        options: Options {
            lease_from_request: false,
            ..Options::default()
        },
        ..template(Contention::Random)
    };
    let failure = sim::run_many(&cfg, &[3, 4, 5, 9], 1, 20_000, threads())
        .expect_err("the late lease must be caught");
    println!("{failure}");
    assert!(
        failure.what.contains("counts voter") || failure.what.contains("same time"),
        "{failure}"
    );
}

/// Not vacuous (issue 26): a GRANT that confirms a timestamp its voter's floor already reached
/// lets an overtaken request enter with a token no larger than the previous entry's.
#[test]
fn a_grant_that_confirms_without_checking_the_floor_is_caught_on_random_schedules() {
    let cfg = SimConfig {
        nodes: 5,
        options: Options {
            grant_checks_floor: false,
            ..Options::default()
        },
        ..template(Contention::Full)
    };
    let failure =
        sim::run_many(&cfg, &[], 1, 5_000, 1).expect_err("the repeated token must be found");
    println!("{failure}");
    assert!(failure.what.contains("token"), "{failure}");
}

/// Not vacuous (issue 26): a restarted voter that forgot its votes and grants at once, without
/// its quiet period, lets a second request take a vote a live holder still counts.
#[test]
fn a_restarted_voter_granting_without_its_quiet_period_is_caught_on_random_schedules() {
    let cfg = SimConfig {
        nodes: 5,
        requests: 4,
        crashes: 2,
        options: Options {
            quarantine: false,
            ..Options::default()
        },
        ..template(Contention::Random)
    };
    let failure =
        sim::run_many(&cfg, &[], 1, 5_000, 1).expect_err("the early grant must be caught");
    println!("{failure}");
    assert!(
        failure.what.contains("counts voter") || failure.what.contains("same time"),
        "{failure}"
    );
}

/// Issue 27: crash-restarts that lose the disk (no journal, no token floor, a new incarnation
/// found from the peers) among deaths, wrong suspicions, pauses and withdrawals, over two locks,
/// with votes forgotten in a restart and with votes journaled: every invariant holds. A run
/// whose lost disk can never hear a floor witness again (every node that voted alongside it in
/// some quorum died) rightly serves nothing more of it, and is counted as stranded.
#[test]
fn thousands_of_schedules_with_lost_disks_keep_every_invariant() {
    for forget_votes in [true, false] {
        let cfg = SimConfig {
            requests: 4,
            crashes: 2,
            disk_losses: 2,
            locks: 2,
            stops: 1,
            wrong_suspicions: 1,
            pauses: 1,
            cancels: 1,
            options: Options {
                forget_votes,
                ..Options::default()
            },
            ..template(Contention::Random)
        };
        let stats = sim::run_many(&cfg, &[3, 4, 5, 9], 1, 3_000, threads())
            .unwrap_or_else(|f| panic!("{f}"));
        println!("lost disks, votes forgotten {forget_votes}:\n{stats}");
        assert_eq!(stats.runs, 3_000);
        assert!(stats.stranded < stats.runs / 10, "{stats}");
    }
}

/// Not vacuous (issue 27): a node that lost its disk and grants before it heard the token floor
/// of a node of every quorum it is in confirms a token smaller than one it confirmed before.
#[test]
fn a_lost_disk_granting_without_floor_witnesses_is_caught_on_random_schedules() {
    let cfg = SimConfig {
        nodes: 3,
        requests: 4,
        crashes: 2,
        disk_losses: 2,
        locks: 2,
        stops: 1,
        wrong_suspicions: 1,
        options: Options {
            floor_witnesses: false,
            ..Options::default()
        },
        ..template(Contention::Random)
    };
    let failure =
        sim::run_many(&cfg, &[], 1, 20_000, 1).expect_err("the smaller token must be caught");
    println!("{failure}");
    assert!(failure.what.contains("token"), "{failure}");
}

/// Not vacuous (issue 27): with votes journaled, a node whose disk is lost has forgotten them
/// all the same; granting without a quiet period lets a second request take a vote a live
/// holder still counts.
#[test]
fn a_lost_disk_granting_without_its_quiet_period_is_caught_on_random_schedules() {
    let cfg = SimConfig {
        nodes: 3,
        requests: 4,
        crashes: 2,
        disk_losses: 2,
        options: Options {
            forget_votes: false,
            quarantine: false,
            ..Options::default()
        },
        ..template(Contention::Random)
    };
    let failure =
        sim::run_many(&cfg, &[], 1, 20_000, 1).expect_err("the early grant must be caught");
    println!("{failure}");
    assert!(failure.what.contains("counts voter"), "{failure}");
}
