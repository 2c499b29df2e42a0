//! The whole daemon in the deterministic simulator (issue 25): 2,000 seeded runs of 3 to 9
//! real daemons (driver, transport, journal, lock sessions) over the simulated network and
//! disks, with kills, machine crashes (also in the middle of a journal sync), pauses,
//! partitions, cut connections, slow disks, lost disks (issue 27), vanishing sessions, `ctl` requests and cancels;
//! after each, `maekawa check` on the logs, the client view and the session FIFO must hold,
//! and every node and client must make progress once the faults stop. The mutations that these
//! checks must catch are in tests/simd_mutations.rs; the soak of 10^5 seeds is in
//! docs/VERIFICATION.md.

use maekawa::simd::many::{run_many, Sweep};
use maekawa::simd::{FaultMix, SimdConfig};
use std::io::Write as _;
use std::time::Instant;

#[test]
fn two_thousand_seeds_of_three_to_nine_daemons_pass_every_check() {
    let nodes: Vec<usize> = (3..=9).collect();
    let leases = vec![0, 300, 1000];
    let sweep = Sweep {
        first: 1,
        count: 2000,
        // A lost disk (issue 27) in about a third of the runs: at most one per run, with leases.
        template: SimdConfig {
            faults: FaultMix {
                journal_loss: true,
                ..FaultMix::default()
            },
            ..SimdConfig::for_seed(1, &nodes, &leases)
        },
        nodes,
        leases,
        threads: std::thread::available_parallelism().map_or(2, |n| n.get()),
        max_failures: 5,
    };
    let started = Instant::now();
    let totals = run_many(&sweep, &|_| {}).expect("every run could be carried out");
    let f = &totals.faults;
    // Straight to stderr, past the test harness's capture: the figures show in every run.
    let _ = writeln!(
        std::io::stderr(),
        "simd: {} seeds (3-9 nodes) in {:.1} s: {} steps, {} CS entries, {} lock entries, {:.0} s virtual; \
         faults: {} kills ({} machine crashes, {} mid-sync, {} dead through the calm, {} lost disks), {} pauses, {} partitions, {} cuts, {} slow disks",
        totals.seeds,
        started.elapsed().as_secs_f64(),
        totals.steps,
        totals.cs_entries,
        totals.lock_entries,
        totals.virtual_time.as_secs_f64(),
        f.kills,
        f.crashes,
        f.mid_sync,
        f.dead,
        f.journal_losses,
        f.pauses,
        f.partitions,
        f.cuts,
        f.slow_disks
    );
    let failures: Vec<String> = totals
        .failures
        .iter()
        .map(|(cfg, o)| {
            format!(
                "seed {}: {}\n  logs: {:?}\n  replay: {}",
                cfg.seed,
                o.violations.join("\n  "),
                o.kept,
                cfg.replay_command()
            )
        })
        .collect();
    assert!(failures.is_empty(), "{}", failures.join("\n"));
    assert_eq!(totals.seeds, 2000);
    // The runs did something: every kind of fault, and entries of both kinds.
    assert!(f.kills > 0 && f.mid_sync > 0 && f.dead > 0 && f.pauses > 0 && f.partitions > 0);
    assert!(f.cuts > 0 && f.slow_disks > 0 && f.journal_losses > 0);
    assert!(totals.cs_entries > 10_000 && totals.lock_entries > 10_000);
}

/// Issue 28: clients also take a semaphore of limit 2, whose slots the same checks judge as
/// locks (no two holders of a slot in the client view or the logs, each slot's tokens grow),
/// through the same kills, pauses, partitions and lost disks.
#[test]
fn five_hundred_seeds_with_a_semaphore_pass_every_check() {
    let nodes: Vec<usize> = (3..=9).collect();
    let leases = vec![0, 300, 1000];
    let sweep = Sweep {
        first: 100_001,
        count: 500,
        template: SimdConfig {
            faults: FaultMix {
                journal_loss: true,
                ..FaultMix::default()
            },
            semaphores: true,
            ..SimdConfig::for_seed(1, &nodes, &leases)
        },
        nodes,
        leases,
        threads: std::thread::available_parallelism().map_or(2, |n| n.get()),
        max_failures: 5,
    };
    let totals = run_many(&sweep, &|_| {}).expect("every run could be carried out");
    let failures: Vec<String> = totals
        .failures
        .iter()
        .map(|(cfg, o)| {
            format!("seed {}: {}", cfg.seed, o.violations.join("\n  "))
                + &format!("\n  replay: {}", cfg.replay_command())
        })
        .collect();
    assert!(failures.is_empty(), "{}", failures.join("\n"));
    assert_eq!(totals.seeds, 500);
    assert!(
        totals.lock_entries > 2_000,
        "{} lock entries",
        totals.lock_entries
    );
}
