//! `maekawa scale` end to end on the smallest cluster: every column of its JSON is filled,
//! the models give their known counts, and the SVG is well-formed with a line per series.
//! (No timing thresholds: the goals live in BENCHMARKS.md.)

use std::process::Command;

#[test]
fn scale_reports_every_series_and_draws_them() {
    let dir = tempfile::tempdir().unwrap();
    let svg = dir.path().join("scale.svg");
    let out = Command::new(env!("CARGO_BIN_EXE_maekawa"))
        .args(["scale", "--nodes", "3", "--seconds", "1", "--json", "--svg"])
        .arg(&svg)
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{text}\n{err}");
    assert!(
        err.contains("[1/1] 3 nodes: real daemons, --lease-ms 0"),
        "{err}"
    );
    let rows: serde_json::Value = serde_json::from_str(&text).unwrap();
    let rows = rows.as_array().unwrap();
    assert_eq!(rows.len(), 1, "{text}");
    let r = &rows[0];
    assert_eq!(r["nodes"], 3);
    // The grid over 3 nodes: quorums {0, 1}, {0, 1, 2}... mean size 7/3.
    assert!((r["quorum"].as_f64().unwrap() - 2.33).abs() < 1e-9, "{r}");
    assert_eq!(r["ricart_agrawala"], 4.0, "2(N - 1): {r}");
    assert!(r["ring_full"].as_f64().unwrap() <= 1.0, "{r}");
    for key in [
        "simulated_leases",
        "simulated_no_leases",
        "ring_one_at_a_time",
    ] {
        assert!(r[key].as_f64().unwrap() > 0.0, "{key}: {r}");
    }
    for (run, lease) in [("daemons_leases", None), ("daemons_no_leases", Some(0))] {
        let d = &r[run];
        assert_eq!(d["lease_ms"].as_u64(), lease, "{run}: {d}");
        assert!(d["entries"].as_u64().unwrap() > 0, "{run}: {d}");
        for key in [
            "entries_per_second",
            "messages_per_entry",
            "messages_per_entry_steady",
            "max_peak_rss_mib",
        ] {
            assert!(d[key].as_f64().unwrap() > 0.0, "{run}.{key}: {d}");
        }
        assert_eq!(d["check_passed"], true, "{run}: {d}");
    }
    // Without leases an entry costs at least 3(|Q| - 1) messages; with leases and fast grants
    // (issue 26) no more under steady contention (a GRANT confirms the token: no Fence round).
    let steady = |run: &str| r[run]["messages_per_entry_steady"].as_f64().unwrap();
    assert!(steady("daemons_no_leases") >= 3.9, "{r}");
    let (leases, none) = (steady("daemons_leases"), steady("daemons_no_leases"));
    assert!(
        (leases - none).abs() <= 0.1 * none,
        "leases cost {leases} messages per entry, none {none}: {r}"
    );

    let svg = std::fs::read_to_string(&svg).unwrap();
    let doc = roxmltree::Document::parse(&svg).unwrap();
    let texts: Vec<String> = doc
        .descendants()
        .filter(|n| n.has_tag_name("text"))
        .filter_map(|n| n.text().map(|t| t.trim().to_string()))
        .collect();
    for label in [
        "N, nodes",
        "messages per CS entry (log scale)",
        "Ricart–Agrawala, simulated: 2(N − 1)",
        "token ring, full contention",
        "real daemons, leases (steady)",
        "real daemons, --lease-ms 0 (steady)",
    ] {
        assert!(texts.iter().any(|t| t == label), "{label} not in {texts:?}");
    }
}
