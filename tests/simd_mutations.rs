//! The simulated cluster's checks are not vacuous (issue 25): each defect of
//! [`maekawa::daemon::Flaws`] makes some seed fail, that seed fails again when run again (with
//! the same logs), and the command it prints replays it through `maekawa simd`. A node that
//! ignores its lost disk is caught the same way, and a seed replays byte for byte.

use maekawa::daemon::Flaws;
use maekawa::simd::many::{run_kept_on_failure, run_many, Sweep};
use maekawa::simd::{run_seed, FaultMix, Outcome, SimdConfig};
use std::process::Command;

/// The first failing seed of 3-node runs with `flaws` and `faults`, at lease `lease_ms`, with
/// three seconds of faults each (more chances per seed for the rarer interleavings).
fn first_failure(flaws: Flaws, faults: FaultMix, lease_ms: u64) -> (SimdConfig, Outcome) {
    let template = SimdConfig {
        flaws,
        faults,
        fault_phase: std::time::Duration::from_secs(3),
        ..SimdConfig::for_seed(1, &[3], &[lease_ms])
    };
    let sweep = Sweep {
        first: 1,
        count: 1000,
        nodes: vec![3],
        leases: vec![lease_ms],
        template,
        threads: std::thread::available_parallelism().map_or(2, |n| n.get()),
        max_failures: 1,
    };
    let totals = run_many(&sweep, &|_| {}).expect("every run could be carried out");
    totals
        .failures
        .into_iter()
        .next()
        .unwrap_or_else(|| panic!("no seed of {} failed with {flaws:?}", totals.seeds))
}

/// `flaws` is caught: a seed fails, fails again with the same logs when replayed in-process,
/// and its printed command fails too.
fn caught(flaws: Flaws, faults: FaultMix, lease_ms: u64) -> Vec<String> {
    let (cfg, first) = first_failure(flaws, faults, lease_ms);
    let again = run_kept_on_failure(&cfg).expect("the replay runs");
    assert_eq!(
        first.violations, again.violations,
        "seed {} replays",
        cfg.seed
    );
    assert_eq!(
        first.digest, again.digest,
        "seed {} replays to the same logs",
        cfg.seed
    );
    let dir = tempfile::tempdir().unwrap();
    let command = cfg.replay_command();
    let mut args: Vec<String> = shell_words::split(&command).unwrap();
    assert_eq!(args.remove(0), "maekawa");
    let keep = args.iter().position(|a| a == "--keep-logs").unwrap();
    args[keep + 1] = dir.path().join("logs").display().to_string();
    let out = Command::new(env!("CARGO_BIN_EXE_maekawa"))
        .args(&args)
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{command}: {stderr}");
    assert!(stderr.contains("replay: maekawa simd"), "{stderr}");
    assert!(dir.path().join("logs").join("node-0.log").exists());
    first.violations
}

#[test]
fn a_grant_sent_before_its_journal_sync_is_caught() {
    let flaws = Flaws {
        grant_before_sync: true,
        ..Flaws::default()
    };
    let found = caught(flaws, FaultMix::default(), 0);
    assert!(found.iter().any(|v| v.starts_with("check:")), "{found:?}");
}

#[test]
fn a_lease_renewal_that_does_not_wait_for_every_voter_is_caught() {
    let flaws = Flaws {
        renew_without_every_voter: true,
        ..Flaws::default()
    };
    let found = caught(flaws, FaultMix::default(), 300);
    assert!(found.iter().any(|v| v.contains("while node")), "{found:?}");
}

#[test]
fn a_session_served_out_of_fifo_order_is_caught() {
    let flaws = Flaws {
        sessions_lifo: true,
        ..Flaws::default()
    };
    let found = caught(flaws, FaultMix::default(), 300);
    assert!(
        found.iter().any(|v| v.starts_with("session FIFO")),
        "{found:?}"
    );
}

#[test]
fn a_transport_that_drops_its_resends_after_a_reconnect_is_caught() {
    let flaws = Flaws {
        drop_resend_on_reconnect: true,
        ..Flaws::default()
    };
    let found = caught(flaws, FaultMix::default(), 0);
    assert!(found.iter().any(|v| v.starts_with("liveness")), "{found:?}");
}

/// A lost disk (issue 27): a node restarted with its journal and incarnation file gone, that
/// ignored the loss (granting at once, its token floor 0), lets two nodes hold a lock at once
/// or repeats a token; the same seed without the defect passes.
#[test]
fn a_node_that_ignores_its_lost_disk_is_caught() {
    let faults = FaultMix {
        journal_loss: true,
        ..FaultMix::default()
    };
    let flaws = Flaws {
        ignore_lost_disk: true,
        ..Flaws::default()
    };
    let (cfg, outcome) = first_failure(flaws, faults, 1000);
    assert!(
        outcome
            .violations
            .iter()
            .any(|v| v.contains("while node") || v.contains("must increase")),
        "seed {}: {:?}",
        cfg.seed,
        outcome.violations
    );
    let kept = SimdConfig {
        flaws: Flaws::default(),
        ..cfg
    };
    let dir = tempfile::tempdir().unwrap();
    let control = run_seed(&kept, dir.path()).unwrap();
    assert!(control.passed(), "{:?}", control.violations);
}

#[test]
fn seeds_replay_byte_for_byte() {
    for seed in 1..=20 {
        let cfg = SimdConfig::for_seed(seed, &[3, 4, 5, 6, 7, 8, 9], &[0, 300, 1000]);
        let (a, b) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
        let first = run_seed(&cfg, a.path()).unwrap();
        let second = run_seed(&cfg, b.path()).unwrap();
        assert!(first.passed(), "seed {seed}: {:?}", first.violations);
        assert!(first.cs_entries > 0, "seed {seed}");
        assert_eq!(first.digest, second.digest, "seed {seed}: node logs differ");
        assert_eq!(first.steps, second.steps, "seed {seed}");
        assert_eq!(
            std::fs::read(a.path().join("critical_section.log")).unwrap(),
            std::fs::read(b.path().join("critical_section.log")).unwrap(),
            "seed {seed}"
        );
    }
}

/// The 33 seeds of the 100,000-seed soak (issue 25) that found the lease-after-stall defect: a
/// node woken after a stall longer than its lease acted on what arrived meanwhile (a late
/// `Fenced`, its hold timer, an entry whose sync was slow) before it noticed the lease had run
/// out. The driver now ticks the core first on every wake-up and again after a journal sync.
#[test]
fn the_soak_seeds_of_the_lease_after_stall_defect_pass() {
    const SEEDS: [(u64, usize); 33] = [
        (18656, 4),
        (19067, 7),
        (29578, 8),
        (33113, 5),
        (33304, 8),
        (3540, 3),
        (39532, 4),
        (46247, 7),
        (48784, 8),
        (50646, 9),
        (51056, 4),
        (53483, 3),
        (5651, 6),
        (56647, 4),
        (57273, 6),
        (57841, 9),
        (58737, 5),
        (59852, 4),
        (68188, 4),
        (72156, 3),
        (74440, 7),
        (7512, 4),
        (75895, 8),
        (77685, 7),
        (89652, 5),
        (90279, 6),
        (91625, 6),
        (94417, 5),
        (95033, 5),
        (97099, 6),
        (99397, 7),
        (99626, 4),
        (9991, 9),
    ];
    for (seed, nodes) in SEEDS {
        let cfg = SimdConfig::for_seed(seed, &[nodes], &[300]);
        let dir = tempfile::tempdir().unwrap();
        let outcome = run_seed(&cfg, dir.path()).expect("the run can be carried out");
        assert!(
            outcome.violations.is_empty(),
            "seed {seed} of {nodes} nodes: {:?}\nreplay: {}",
            outcome.violations,
            cfg.replay_command()
        );
    }
}
