//! The layers of ARCHITECTURE.md, checked: no module imports a layer above its own, `daemon`
//! and `logs` never import each other, and the control service never imports the driver.
//!
//! The boundaries between crates are enforced by Cargo itself, not here: `maekawa-core`,
//! `maekawa-wire` and `maekawa-client` cannot name this crate, and `.ci/run` checks what enters
//! their dependency trees (the core: nothing that does I/O; the client: nothing of the daemon,
//! its command line or its tools). The client's rule "it knows the daemon only through the
//! wire" was once held by this scan (with `src/client.rs` a layer above `daemon/`, which let it
//! name any of it); it is now the crate boundary (client/ depends on wire/ and core/ only, so
//! naming anything else does not compile), and the scan no longer looks at it. This test covers
//! the folders inside `src/`, where only discipline would otherwise hold the line. It reads the
//! sources: comments are skipped; every `crate::<module>` path in code (and `maekawa::<module>`
//! in the binary) counts.

use std::path::{Path, PathBuf};

/// Each top-level module of the library and binary, with its layer (a module may use only
/// its own layer's modules or lower ones).
const LAYERS: [(&str, u8); 13] = [
    ("logdir", 1),
    ("node_event", 1),
    ("tls", 1),
    ("certs", 1),
    ("daemon", 2),
    ("logs", 2),
    ("bench", 3),
    ("scale", 3),
    ("simd", 3),
    ("watch", 3),
    ("cli", 4),
    ("main", 4),
    ("lib", 4),
];

/// The modules of `src/lib.rs` that re-export crate `maekawa-client` under their old paths
/// (`maekawa::config`, `maekawa::client`): layer 0, below every module here, as Cargo makes
/// them (that crate cannot name this one), so any module may use them.
const FROM_THE_CLIENT_CRATE: [&str; 2] = ["config", "client"];

fn layer(module: &str) -> u8 {
    if FROM_THE_CLIENT_CRATE.contains(&module) {
        return 0;
    }
    LAYERS
        .iter()
        .find(|(m, _)| *m == module)
        .unwrap_or_else(|| {
            panic!("src/{module}: a top-level module with no layer; add it to ARCHITECTURE.md and tests/layers.rs")
        })
        .1
}

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            rust_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

/// The top-level module a file under `src/` belongs to: `daemon` for `src/daemon/driver.rs`,
/// `bench` for `src/bench/measure.rs`.
fn module_of(src: &Path, file: &Path) -> String {
    let rel = file.strip_prefix(src).unwrap();
    let first = rel
        .components()
        .next()
        .unwrap()
        .as_os_str()
        .to_str()
        .unwrap();
    first.trim_end_matches(".rs").to_string()
}

/// The code of a file without its comments (doc links may point anywhere).
fn code_lines(text: &str) -> impl Iterator<Item = (usize, &str)> {
    text.lines()
        .enumerate()
        .map(|(i, l)| (i + 1, l.split("//").next().unwrap_or("")))
}

/// Every top-level module a line names as `crate::<module>` (or `maekawa::<module>`, in the
/// binary).
fn named_modules(line: &str) -> Vec<String> {
    let mut out = Vec::new();
    for prefix in ["crate::", "maekawa::"] {
        let mut rest = line;
        while let Some(at) = rest.find(prefix) {
            let before = rest[..at].chars().last();
            rest = &rest[at + prefix.len()..];
            if before.is_some_and(|c| c.is_alphanumeric() || c == '_') {
                continue; // e.g. `maekawa_core::` or `my_crate::`
            }
            let name: String = rest
                .chars()
                .take_while(|c| c.is_alphanumeric() || *c == '_')
                .collect();
            if !name.is_empty() {
                out.push(name);
            }
        }
    }
    out
}

#[test]
fn no_module_imports_a_layer_above_its_own() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut files = Vec::new();
    rust_files(&src, &mut files);
    files.sort();
    let mut violations = Vec::new();
    for file in &files {
        let from = module_of(&src, file);
        let text = std::fs::read_to_string(file).unwrap();
        for (n, line) in code_lines(&text) {
            for to in named_modules(line) {
                if to == from {
                    continue;
                }
                let (lf, lt) = (layer(&from), layer(&to));
                let sideways = lf == lt && lf == 2;
                if lt > lf || sideways {
                    violations.push(format!(
                        "{}:{n}: {from} (layer {lf}) uses {to} (layer {lt})",
                        file.strip_prefix(&src).unwrap().display()
                    ));
                }
            }
        }
    }
    assert!(
        violations.is_empty(),
        "imports against the layers of ARCHITECTURE.md:\n{}",
        violations.join("\n")
    );
}

#[test]
fn the_control_service_never_imports_the_driver() {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("src/daemon/control.rs");
    let text = std::fs::read_to_string(path).unwrap();
    for (n, line) in code_lines(&text) {
        assert!(
            !line.contains("driver::"),
            "src/daemon/control.rs:{n}: imports the driver; use daemon::command instead"
        );
    }
}

#[test]
fn the_core_crate_never_names_this_crate() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("core/src");
    let mut files = Vec::new();
    rust_files(&src, &mut files);
    assert!(files.len() >= 6, "core/src has its modules");
    for file in &files {
        let text = std::fs::read_to_string(file).unwrap();
        for (n, line) in code_lines(&text) {
            for forbidden in [
                "maekawa::",
                "tokio",
                "tonic",
                "prost",
                "std::fs",
                "std::net",
            ] {
                let hit = line.match_indices(forbidden).any(|(at, _)| {
                    !line[..at].ends_with(|c: char| c.is_alphanumeric() || c == '_')
                });
                assert!(
                    !hit,
                    "{}:{n}: the core crate names `{forbidden}`; it must stay sans-IO",
                    file.display()
                );
            }
        }
    }
}

/// The crates a manifest's `[dependencies]` table names (not dev- or build-dependencies).
fn normal_dependencies(manifest: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut inside = false;
    for line in manifest.lines().map(str::trim) {
        if line.starts_with('[') {
            inside = line == "[dependencies]";
        } else if inside && !line.is_empty() && !line.starts_with('#') {
            if let Some((name, _)) = line.split_once('=') {
                out.push(name.trim().to_string());
            }
        }
    }
    out
}

#[test]
fn the_client_and_wire_crates_name_nothing_of_the_daemon() {
    // The cheap half of `.ci/run`'s `cargo tree` check (which also sees what comes in
    // through other crates): what the two manifests name directly.
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    for (manifest, allowed_ours) in [
        ("client/Cargo.toml", &["maekawa-core", "maekawa-wire"][..]),
        ("wire/Cargo.toml", &[][..]),
    ] {
        let text = std::fs::read_to_string(root.join(manifest)).unwrap();
        let deps = normal_dependencies(&text);
        assert!(deps.contains(&"tonic".to_string()), "{manifest}: {deps:?}");
        for dep in &deps {
            let daemon_only = [
                "clap",
                "plotters",
                "procfs",
                "rcgen",
                "indicatif",
                "prometheus-client",
                "tonic-health",
                "tracing-subscriber",
                "x509-parser",
                "hyper",
            ];
            assert!(
                !daemon_only.contains(&dep.as_str()),
                "{manifest} depends on {dep}, which only the daemon may use"
            );
            assert!(
                !dep.starts_with("maekawa") || allowed_ours.contains(&dep.as_str()),
                "{manifest} depends on {dep}"
            );
        }
    }
}

#[test]
fn the_checker_sees_an_upward_import() {
    // The scanner itself: a daemon file naming `crate::logs` or `crate::bench` is caught, a
    // `maekawa_core::` path or a comment is not.
    assert_eq!(named_modules("use crate::logs::check;"), ["logs"]);
    assert_eq!(named_modules("let x = crate::bench::run(s);"), ["bench"]);
    assert!(named_modules("use maekawa_core::id::NodeId;").is_empty());
    let text = "// see crate::logs::check\nuse crate::config::Config;";
    let named: Vec<String> = code_lines(text)
        .flat_map(|(_, l)| named_modules(l))
        .collect();
    assert_eq!(named, ["config"]);
    assert!(layer("logs") > layer("config") && layer("cli") > layer("bench"));
}

/// The paths ARCHITECTURE.md names: backticked ones (`src/daemon/`, `core/tests/`) and the
/// file names of its message-flow picture (`daemon/driver.rs` means `src/daemon/driver.rs`).
fn paths_in_architecture_md(text: &str) -> Vec<String> {
    let mut out = Vec::new();
    for word in text.split(|c: char| c.is_whitespace() || "`(),".contains(c)) {
        let word = word.trim_end_matches(['.', ':', ';']);
        let is_path = word.ends_with(".rs") || word.ends_with('/') || word.ends_with(".md");
        if !is_path || word.starts_with("http") || word.contains("<") {
            continue;
        }
        if [
            "src/", "core/", "wire/", "client/", "tests/", "docs/", "scripts/", "bench/",
        ]
        .iter()
        .any(|p| word.starts_with(p))
        {
            out.push(word.to_string());
        } else if ["daemon/", "logs/", "cli/"]
            .iter()
            .any(|p| word.starts_with(p))
        {
            out.push(format!("src/{word}"));
        }
    }
    out
}

#[test]
fn architecture_md_matches_the_tree() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let text = std::fs::read_to_string(root.join("ARCHITECTURE.md")).unwrap();
    let named = paths_in_architecture_md(&text);
    assert!(
        named.len() > 20,
        "ARCHITECTURE.md names its paths: {named:?}"
    );
    for path in &named {
        assert!(
            root.join(path).exists(),
            "ARCHITECTURE.md names {path}, which does not exist"
        );
    }
    // Every top-level module, and every module of daemon/ and logs/, is on the map.
    let src = root.join("src");
    for dir in [src.clone(), src.join("daemon"), src.join("logs")] {
        for entry in std::fs::read_dir(&dir).unwrap() {
            let path = entry.unwrap().path();
            let name = path.file_name().unwrap().to_str().unwrap();
            let module = name.trim_end_matches(".rs");
            if module == "mod" || module == "lib" {
                continue;
            }
            assert!(
                text.contains(&format!("`{module}`"))
                    || named
                        .iter()
                        .any(|n| n.ends_with(&format!("/{name}"))
                            || n.ends_with(&format!("/{name}/"))),
                "{} is not on the map in ARCHITECTURE.md",
                path.strip_prefix(root).unwrap().display()
            );
        }
    }
    // Its layer table is the one this test enforces.
    let mut table = Vec::new();
    for line in text.lines() {
        let cells: Vec<&str> = line.split('|').map(str::trim).collect();
        let Some(Ok(level)) = cells.get(1).map(|c| c.parse::<u8>()) else {
            continue;
        };
        for path in paths_in_architecture_md(cells[2]) {
            let Some(rest) = path.strip_prefix("src/") else {
                continue;
            };
            let module = rest
                .trim_end_matches('/')
                .trim_end_matches(".rs")
                .to_string();
            table.push((module, level));
        }
    }
    for (module, level) in LAYERS.iter().filter(|(m, _)| *m != "lib") {
        assert!(
            table.contains(&(module.to_string(), *level)),
            "ARCHITECTURE.md's layer table does not put src/{module} in layer {level}: {table:?}"
        );
    }
    assert_eq!(table.len(), LAYERS.len() - 1, "{table:?}");
}
