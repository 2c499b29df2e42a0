//! `maekawa bench` end to end: its report is complete and the check of its run passed.
//! (No timing thresholds: speed goals live in BENCHMARKS.md, not in tests.)

use std::process::Command;

#[test]
fn bench_reports_every_figure_and_a_passed_check() {
    let out = Command::new(env!("CARGO_BIN_EXE_maekawa"))
        .args(["bench", "--nodes", "3", "--seconds", "3", "--json"])
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{text}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let r: serde_json::Value = serde_json::from_str(&text).unwrap();
    assert_eq!(r["tls"], false, "plaintext unless --tls: {text}");
    for key in [
        "entries",
        "entries_per_second",
        "messages_per_entry",
        "acquire_p50_ms",
        "acquire_p99_ms",
        "acquire_max_ms",
        "one_way_t_ms",
        "bound_entries_per_second",
        "ratio_to_bound",
    ] {
        assert!(r[key].is_number(), "{key} missing: {text}");
    }
    assert!(r["entries"].as_u64().unwrap() > 0, "{text}");
    let by_type = r["messages_per_entry_by_type"].as_object().unwrap();
    for kind in [
        "Request", "Grant", "Failed", "Inquire", "Yield", "Release", "Sync",
    ] {
        assert!(by_type[kind].is_number(), "{kind}: {text}");
    }
    let daemons = r["daemons"].as_array().unwrap();
    assert_eq!(daemons.len(), 3);
    for d in daemons {
        assert!(d["peak_rss_kib"].as_u64().unwrap() > 0, "{d}");
        assert!(d["cpu_seconds"].is_number(), "{d}");
    }
    assert_eq!(r["check_passed"], true, "{text}");
    assert!(r["check"].as_str().unwrap().starts_with("check passed"));
}

/// The client path, with mutual TLS on every link and client (`--tls`, issue 15).
#[test]
fn client_path_reports_locks_per_second_and_increasing_tokens() {
    let out = Command::new(env!("CARGO_BIN_EXE_maekawa"))
        .args([
            "bench",
            "--nodes",
            "3",
            "--clients",
            "3",
            "--seconds",
            "3",
            "--tls",
            "--json",
        ])
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{text}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let r: serde_json::Value = serde_json::from_str(&text).unwrap();
    assert_eq!(r["clients"], 3, "{text}");
    assert_eq!(r["tls"], true, "{text}");
    assert!(r["locks"].as_u64().unwrap() > 0, "{text}");
    assert!(r["locks_per_second"].as_f64().unwrap() > 0.0, "{text}");
    for key in [
        "messages_per_lock",
        "acquire_p50_ms",
        "acquire_p99_ms",
        "clients_cpu_seconds",
    ] {
        assert!(r[key].is_number(), "{key} missing: {text}");
    }
    assert_eq!(r["daemons"].as_array().unwrap().len(), 3, "{text}");
    assert_eq!(r["tokens_increasing"], true, "{text}");
    assert_eq!(r["check_passed"], true, "{text}");
    // The check of the daemons' logs ran too: it names the lock the clients took.
    let check = r["check"].as_str().unwrap();
    assert!(check.starts_with("check passed"), "{check}");
    assert!(
        check.contains("named locks: ") && check.contains("bench ("),
        "{check}"
    );
}
