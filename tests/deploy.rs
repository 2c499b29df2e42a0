//! The deployment files in deploy/, checked as far as a machine without Docker or Kubernetes
//! can: they exist, the YAML parses (with python3's yaml when it is there; else the test says
//! it skipped that), every cluster file they carry is one `maekawa quorums` accepts, the
//! compose services and the StatefulSet's pods are the hosts of those cluster files, and the
//! image installs no protoc (the build has protox).

use std::path::{Path, PathBuf};
use std::process::Command;

const BIN: &str = env!("CARGO_BIN_EXE_maekawa");

fn deploy(path: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("deploy")
        .join(path)
}

fn read(path: &str) -> String {
    std::fs::read_to_string(deploy(path)).unwrap_or_else(|e| panic!("deploy/{path}: {e}"))
}

/// The documents of a YAML file as JSON, through python3's yaml; `None` (and why, printed)
/// when python3 or its yaml module is missing.
fn yaml_documents(path: &str) -> Option<Vec<serde_json::Value>> {
    let out = Command::new("python3")
        .args([
            "-c",
            "import sys, json, yaml\njson.dump(list(yaml.safe_load_all(open(sys.argv[1]))), sys.stdout)",
        ])
        .arg(deploy(path))
        .output();
    match out {
        Err(e) => {
            println!("skipped parsing deploy/{path}: no python3 ({e})");
            None
        }
        Ok(out) if String::from_utf8_lossy(&out.stderr).contains("No module named 'yaml'") => {
            println!("skipped parsing deploy/{path}: python3 has no yaml module");
            None
        }
        Ok(out) => {
            assert!(
                out.status.success(),
                "deploy/{path} is not valid YAML:\n{}",
                String::from_utf8_lossy(&out.stderr)
            );
            Some(serde_json::from_slice(&out.stdout).unwrap())
        }
    }
}

/// Runs `maekawa quorums --config` on the cluster file `text` and returns its addresses.
fn accepted_addrs(text: &str, what: &str) -> Vec<String> {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("quorums.json");
    std::fs::write(&file, text).unwrap();
    let out = Command::new(BIN)
        .arg("quorums")
        .arg("--config")
        .arg(&file)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "maekawa quorums rejects {what}:\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let json: serde_json::Value = serde_json::from_str(text).unwrap();
    json["nodes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|n| n["addr"].as_str().unwrap().to_string())
        .collect()
}

fn host(addr: &str) -> &str {
    addr.rsplit_once(':').unwrap().0
}

#[test]
fn every_deploy_file_exists() {
    for f in [
        "systemd/maekawa@.service",
        "Dockerfile",
        "Dockerfile.dockerignore",
        "compose.yaml",
        "compose/quorums.json",
        "k8s/maekawa.yaml",
    ] {
        assert!(deploy(f).is_file(), "deploy/{f} is missing");
    }
}

#[test]
fn compose_services_are_the_hosts_of_its_cluster_file() {
    let addrs = accepted_addrs(&read("compose/quorums.json"), "deploy/compose/quorums.json");
    let hosts: Vec<&str> = addrs.iter().map(|a| host(a)).collect();
    assert_eq!(hosts, ["node-0", "node-1", "node-2"]);

    let compose = read("compose.yaml");
    for (id, h) in hosts.iter().enumerate() {
        assert!(
            compose.contains(&format!("\"--id\", \"{id}\"")),
            "compose.yaml does not start node {id}"
        );
        assert!(compose.contains(&format!("\n  {h}:\n")), "no service {h}");
    }
    let Some(docs) = yaml_documents("compose.yaml") else {
        return;
    };
    let services = docs[0]["services"].as_object().unwrap();
    let mut nodes: Vec<&str> = services
        .keys()
        .map(String::as_str)
        .filter(|s| *s != "certs")
        .collect();
    nodes.sort();
    assert_eq!(nodes, hosts, "compose services against quorums.json");
    for (id, name) in hosts.iter().enumerate() {
        let s = &services[*name];
        let cmd: Vec<&str> = s["command"]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| v.as_str().unwrap())
            .collect();
        let id_flag = cmd.iter().position(|a| *a == "--id").unwrap();
        assert_eq!(cmd[id_flag + 1], id.to_string(), "{name}");
        assert_eq!(
            s["depends_on"]["certs"]["condition"], "service_completed_successfully",
            "{name} must wait for the certificates"
        );
    }
    let certs = services["certs"]["command"].to_string();
    assert!(
        certs.contains("certs init") && certs.contains("--out /certs"),
        "{certs}"
    );
}

#[test]
fn k8s_statefulset_pods_are_the_hosts_of_its_cluster_file() {
    let Some(docs) = yaml_documents("k8s/maekawa.yaml") else {
        return;
    };
    let kind = |k: &str| {
        docs.iter()
            .find(|d| d["kind"] == k)
            .unwrap_or_else(|| panic!("no {k} in deploy/k8s/maekawa.yaml"))
    };
    let service = kind("Service");
    let set = kind("StatefulSet");
    let map = kind("ConfigMap");
    assert_eq!(
        service["spec"]["clusterIP"], "None",
        "the Service must be headless"
    );
    assert_eq!(service["spec"]["publishNotReadyAddresses"], true);
    let (name, ns) = (
        set["metadata"]["name"].as_str().unwrap(),
        set["metadata"]["namespace"].as_str().unwrap(),
    );
    assert_eq!(set["spec"]["serviceName"], service["metadata"]["name"]);
    let replicas = set["spec"]["replicas"].as_u64().unwrap() as usize;

    let addrs = accepted_addrs(
        map["data"]["quorums.json"].as_str().unwrap(),
        "the ConfigMap's quorums.json",
    );
    let expected: Vec<String> = (0..replicas)
        .map(|i| {
            format!(
                "{name}-{i}.{}.{ns}.svc.cluster.local",
                service["metadata"]["name"].as_str().unwrap()
            )
        })
        .collect();
    let hosts: Vec<&str> = addrs.iter().map(|a| host(a)).collect();
    assert_eq!(hosts, expected);

    let pod = &set["spec"]["template"]["spec"];
    let container = &pod["containers"][0];
    let args = container["args"].to_string();
    assert!(args.contains("--id \\\"${HOSTNAME##*-}\\\""), "{args}");
    assert!(args.contains("--certs /etc/maekawa/certs"), "{args}");
    let probe = container["readinessProbe"].to_string();
    assert!(probe.contains("ctl health"), "{probe}");
    assert!(pod["volumes"]
        .as_array()
        .unwrap()
        .iter()
        .any(|v| v["secret"]["secretName"] == "maekawa-certs"));
}

#[test]
fn dockerfile_is_multi_stage_without_protoc() {
    let text = read("Dockerfile");
    let froms: Vec<&str> = text.lines().filter(|l| l.starts_with("FROM ")).collect();
    assert_eq!(froms.len(), 2, "{froms:?}");
    assert!(froms[0].starts_with("FROM rust:1-bookworm"), "{froms:?}");
    assert!(
        froms[1].starts_with("FROM debian:bookworm-slim"),
        "{froms:?}"
    );
    assert!(text.contains("cargo build --release --locked"));
    for line in text.lines().filter(|l| !l.trim_start().starts_with('#')) {
        assert!(
            !line.contains("protoc") && !line.contains("protobuf-compiler"),
            "the build needs no protoc (protox): {line}"
        );
    }
    assert!(
        text.contains("\nUSER maekawa\n"),
        "the image must run as a user"
    );
    assert!(text.contains("ENTRYPOINT [\"maekawa\"]"));
    assert!(text.contains("EXPOSE 7000"));
}

#[test]
fn systemd_unit_runs_a_hardened_node_per_instance() {
    let unit = read("systemd/maekawa@.service");
    let exec = unit
        .lines()
        .find(|l| l.starts_with("ExecStart="))
        .expect("ExecStart");
    for want in [
        "node --id %i",
        "--config /etc/maekawa/quorums.json",
        "--certs /etc/maekawa/certs",
        "--log-dir /var/lib/maekawa",
    ] {
        assert!(exec.contains(want), "{exec} lacks {want}");
    }
    for want in [
        "DynamicUser=yes",
        "StateDirectory=maekawa",
        "Restart=on-failure",
        "LimitNOFILE=",
        "NoNewPrivileges=yes",
    ] {
        assert!(unit.lines().any(|l| l.starts_with(want)), "no {want}");
    }
}
