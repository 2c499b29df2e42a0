//! Reading and validating `quorums.json`: the node list and, optionally, the quorum system
//! (`"quorum_system": "grid"` or `"majority"`) or explicit quorums (PROTOCOL.md §1).
//!
//! Everything a user can get wrong in that file is caught here, before any node starts, and
//! reported as one line that names the file, the field and the fix. This module only reads the
//! file: it must not open sockets, resolve host names or start anything, and it leaves the
//! quorum rules themselves to [`maekawa_core::quorum`].
//!
//! The file is parsed into a [`Value`] and walked by hand rather than read into
//! `#[derive(Deserialize)]` structs. That was tried, with `serde_path_to_error` for the field
//! paths, and came out longer. Derive alone takes `[0, "h:1"]` for a node and `null` for an
//! absent field, its errors name Rust types (`expected u32`) where these messages quote the
//! value found, and serde_json has no check for repeated keys. Keeping these messages took a
//! wrapper type, a table from path to message and this module's own visitor anyway.

use maekawa_core::id::NodeId;
use maekawa_core::quorum::{QuorumError, QuorumSystem};
use serde_json::{Map, Value};
use std::collections::{BTreeMap, HashMap};
use std::io;
use std::net::Ipv6Addr;
use std::path::{Path, PathBuf};

mod json;

/// What a whole file looks like, quoted in messages about its shape.
const FILE_EXAMPLE: &str = r#"{"nodes": [{"id": 0, "addr": "127.0.0.1:50051"}, ...], "quorums": {"0": [0, 1, 2], ...}} ("quorums" is optional; "quorum_system": "grid" or "majority" picks a built-in system instead)"#;
/// The values `quorum_system` accepts, quoted in messages about it.
const QUORUM_SYSTEMS: &str = r#""grid" (the default) or "majority""#;
/// What one node looks like, quoted in messages about a node.
const NODE_EXAMPLE: &str = r#"{"id": 0, "addr": "127.0.0.1:50051"}"#;

/// One node as listed in the file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NodeAddr {
    /// The node's id.
    pub id: NodeId,
    /// Where it listens, `host:port` exactly as written (checked, not resolved).
    pub addr: String,
}

/// A validated `quorums.json`.
#[derive(Debug, Clone)]
pub struct Config {
    /// The file it was read from (used in messages).
    pub path: PathBuf,
    /// Every node, sorted by id; ids and addresses are distinct.
    pub nodes: Vec<NodeAddr>,
    /// The explicit quorums of the file when it has them (validated), otherwise the system
    /// its `quorum_system` names (the grid when absent).
    pub quorums: QuorumSystem,
}

/// Why a `quorums.json` cannot be used. Every message is one line: file, field, problem, fix.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// The file does not exist.
    #[error("{path}: file not found; create it (see quorums.json at the top of the repository) or pass --config FILE")]
    Missing {
        /// The file.
        path: PathBuf,
    },
    /// The file exists but cannot be read (permissions, a directory, not UTF-8, ...).
    #[error("{path}: cannot read the file ({source}); make it a readable UTF-8 text file, create it or pass --config FILE")]
    Unreadable {
        /// The file.
        path: PathBuf,
        /// What the operating system said.
        source: io::Error,
    },
    /// The text is not JSON.
    #[error("{path}: line {line} column {column}: invalid JSON: {message}; fix the syntax there")]
    InvalidJson {
        /// The file.
        path: PathBuf,
        /// Where the parser stopped (1-based).
        line: usize,
        /// Where the parser stopped (1-based; 0 = before the first character).
        column: usize,
        /// The parser's complaint.
        message: String,
    },
    /// An object repeats a key, so one of the values would be silently lost.
    #[error("{path}: {field}: the key appears twice (second at line {line} column {column}); keep only one")]
    DuplicateKey {
        /// The file.
        path: PathBuf,
        /// The repeated key, as a path from the top (`quorums.1`).
        field: String,
        /// Where the second occurrence was read.
        line: usize,
        /// Where the second occurrence was read.
        column: usize,
    },
    /// Valid JSON, but a value is missing or of the wrong type.
    #[error("{path}: {field}: {problem}; {fix}")]
    Shape {
        /// The file.
        path: PathBuf,
        /// The offending value, as a path from the top (`nodes[1].id`).
        field: String,
        /// What is wrong with it.
        problem: String,
        /// How to fix it.
        fix: String,
    },
    /// A field the file format does not have (often a misspelling).
    #[error("{path}: {field}: unknown field; remove it or fix its spelling ({allowed})")]
    UnknownField {
        /// The file.
        path: PathBuf,
        /// The unknown field, as a path from the top (`nodes[0].port`).
        field: String,
        /// The fields allowed at that place.
        allowed: &'static str,
    },
    /// `nodes` is an empty list.
    #[error("{path}: nodes: the list is empty; list every node as {NODE_EXAMPLE}")]
    NoNodes {
        /// The file.
        path: PathBuf,
    },
    /// Two nodes share an id.
    #[error("{path}: nodes[{index}].id: duplicate id {id} (also nodes[{first}]); give every node a distinct id")]
    DuplicateId {
        /// The file.
        path: PathBuf,
        /// Position of the second node with that id.
        index: usize,
        /// The repeated id.
        id: NodeId,
        /// Position of the first node with that id.
        first: usize,
    },
    /// Two nodes share an address.
    #[error("{path}: nodes[{index}].addr: duplicate address {addr:?} (also nodes[{first}]); give every node its own host:port")]
    DuplicateAddr {
        /// The file.
        path: PathBuf,
        /// Position of the second node with that address.
        index: usize,
        /// The repeated address.
        addr: String,
        /// Position of the first node with that address.
        first: usize,
    },
    /// An address that is not `host:port`.
    #[error("{path}: nodes[{index}].addr: {addr:?} is not host:port ({reason}); write it like \"127.0.0.1:50051\", \"node1:50051\" or \"[::1]:50051\"")]
    BadAddr {
        /// The file.
        path: PathBuf,
        /// Position of the node.
        index: usize,
        /// The address as written.
        addr: String,
        /// What is wrong with it.
        reason: AddrError,
    },
    /// A `quorum_system` that is not one of the built-in systems.
    #[error("{path}: quorum_system: {found} is not a quorum system; use {QUORUM_SYSTEMS}, or leave it out for the grid")]
    UnknownQuorumSystem {
        /// The file.
        path: PathBuf,
        /// The value found, described (`the string "raft"`, `3`).
        found: String,
    },
    /// Both `quorum_system` and explicit `quorums`: one would silently override the other.
    #[error("{path}: quorum_system and quorums: both are given; remove \"quorum_system\" to use the explicit quorums, or \"quorums\" to use the {system} system")]
    QuorumSystemAndQuorums {
        /// The file.
        path: PathBuf,
        /// The system `quorum_system` names.
        system: &'static str,
    },
    /// A key of `quorums` that is not a node id in plain decimal.
    #[error("{path}: quorums.{key:?}: the key is not a node id; key every quorum by its owner's id in decimal, e.g. \"0\": [0, 1, 2]")]
    BadQuorumKey {
        /// The file.
        path: PathBuf,
        /// The key as written.
        key: String,
    },
    /// A quorum for a node that is not in `nodes`.
    #[error("{path}: quorums.{owner}: node {owner} is not in nodes; remove this quorum or add node {owner} to nodes")]
    QuorumOfUnknownNode {
        /// The file.
        path: PathBuf,
        /// The owner named by the key.
        owner: NodeId,
    },
    /// A listed node without a quorum in the explicit `quorums`.
    #[error("{path}: quorums.{owner}: missing, but node {owner} is in nodes; give it a quorum, or leave out \"quorums\" to use the grid")]
    QuorumMissing {
        /// The file.
        path: PathBuf,
        /// The node without a quorum.
        owner: NodeId,
    },
    /// A quorum that does not contain its owner.
    #[error("{path}: quorums.{owner}: does not contain node {owner} itself; add {owner} to it (every node votes in its own quorum)")]
    QuorumMissingOwner {
        /// The file.
        path: PathBuf,
        /// The owner of the quorum.
        owner: NodeId,
    },
    /// A quorum that names a node not in `nodes`.
    #[error("{path}: quorums.{owner}: names node {unknown}, which is not in nodes; remove it from the quorum or add node {unknown} to nodes")]
    QuorumUnknownMember {
        /// The file.
        path: PathBuf,
        /// The owner of the quorum.
        owner: NodeId,
        /// The member that is not listed.
        unknown: NodeId,
    },
    /// Two quorums without a common voter: both owners could be in the CS at once.
    #[error("{path}: quorums.{a} and quorums.{b} do not intersect ({} and {}); add a common node to both (any two quorums must share a voter)", set(.qa), set(.qb))]
    QuorumsDisjoint {
        /// The file.
        path: PathBuf,
        /// One owner.
        a: NodeId,
        /// Its quorum.
        qa: Vec<NodeId>,
        /// The other owner.
        b: NodeId,
        /// Its quorum.
        qb: Vec<NodeId>,
    },
    /// An id (e.g. from `--id`) that the file does not list.
    #[error("{path}: id {id} is not in the file; use one of {} or add it to nodes", list(.known))]
    NotInFile {
        /// The file.
        path: PathBuf,
        /// The id asked for.
        id: NodeId,
        /// The ids the file lists.
        known: Vec<NodeId>,
    },
}

fn list(ids: &[NodeId]) -> String {
    ids.iter()
        .map(NodeId::to_string)
        .collect::<Vec<_>>()
        .join(", ")
}

fn set(ids: &[NodeId]) -> String {
    format!("{{{}}}", list(ids))
}

impl Config {
    /// Reads and validates the file at `path`.
    pub fn load(path: &Path) -> Result<Config, ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|source| {
            if source.kind() == io::ErrorKind::NotFound {
                ConfigError::Missing {
                    path: path.to_path_buf(),
                }
            } else {
                ConfigError::Unreadable {
                    path: path.to_path_buf(),
                    source,
                }
            }
        })?;
        Config::parse(path, &text)
    }

    /// Validates `text` as the contents of a `quorums.json`; `path` is only used in messages.
    pub fn parse(path: &Path, text: &str) -> Result<Config, ConfigError> {
        let root = read_json(path, text)?;
        let Value::Object(top) = root else {
            return Err(shape(
                path,
                "top level",
                format!("expected an object, found {}", describe(&root)),
                format!("write the file as {FILE_EXAMPLE}"),
            ));
        };
        check_fields(
            path,
            &top,
            "",
            &["nodes", "quorum_system", "quorums"],
            r#"the file has "nodes", an optional "quorum_system" and an optional "quorums""#,
        )?;

        let nodes = read_nodes(path, &top)?;
        let mut ids: Vec<NodeId> = nodes.iter().map(|n| n.id).collect();
        ids.sort();

        let system = top
            .get("quorum_system")
            .map(|v| read_quorum_system(path, v))
            .transpose()?;
        let quorums = match (top.get("quorums"), system) {
            (None, None | Some("grid")) => QuorumSystem::grid(&ids),
            (None, Some(_)) => QuorumSystem::majority(&ids),
            (Some(_), Some(system)) => {
                return Err(ConfigError::QuorumSystemAndQuorums {
                    path: path.to_path_buf(),
                    system,
                })
            }
            (Some(value), None) => {
                let explicit = QuorumSystem::explicit(read_quorums(path, value, &ids)?);
                explicit
                    .validate(&ids)
                    .map_err(|e| quorum_error(path, &explicit, e))?;
                explicit
            }
        };

        let mut nodes = nodes;
        nodes.sort_by_key(|n| n.id);
        Ok(Config {
            path: path.to_path_buf(),
            nodes,
            quorums,
        })
    }

    /// Every node id, in increasing order.
    pub fn ids(&self) -> Vec<NodeId> {
        self.nodes.iter().map(|n| n.id).collect()
    }

    /// The node with id `id`, or an error naming the ids the file does list.
    pub fn node(&self, id: NodeId) -> Result<&NodeAddr, ConfigError> {
        self.nodes
            .iter()
            .find(|n| n.id == id)
            .ok_or_else(|| ConfigError::NotInFile {
                path: self.path.clone(),
                id,
                known: self.ids(),
            })
    }
}

fn shape(path: &Path, field: &str, problem: String, fix: String) -> ConfigError {
    ConfigError::Shape {
        path: path.to_path_buf(),
        field: field.to_string(),
        problem,
        fix,
    }
}

/// `found …` text for a value of the wrong type: scalars verbatim, containers by kind.
fn describe(v: &Value) -> String {
    match v {
        Value::Null => "null".to_string(),
        Value::Bool(b) => b.to_string(),
        Value::Number(n) => n.to_string(),
        Value::String(s) => format!("the string {s:?}"),
        Value::Array(_) => "an array".to_string(),
        Value::Object(_) => "an object".to_string(),
    }
}

/// A key as it appears in a field path: bare when harmless, quoted otherwise.
fn key_name(key: &str) -> String {
    if !key.is_empty()
        && key
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
    {
        key.to_string()
    } else {
        format!("{key:?}")
    }
}

fn join(prefix: &str, key: &str) -> String {
    if prefix.is_empty() {
        key_name(key)
    } else {
        format!("{prefix}.{}", key_name(key))
    }
}

fn check_fields(
    path: &Path,
    obj: &Map<String, Value>,
    prefix: &str,
    allowed: &[&str],
    allowed_text: &'static str,
) -> Result<(), ConfigError> {
    match obj.keys().find(|k| !allowed.contains(&k.as_str())) {
        Some(k) => Err(ConfigError::UnknownField {
            path: path.to_path_buf(),
            field: join(prefix, k),
            allowed: allowed_text,
        }),
        None => Ok(()),
    }
}

/// A node id: a JSON integer in `0..=u32::MAX`.
fn read_id(path: &Path, field: &str, v: &Value, fix: &str) -> Result<NodeId, ConfigError> {
    let problem = match v.as_u64() {
        Some(n) => match u32::try_from(n) {
            Ok(n) => return Ok(NodeId(n)),
            Err(_) => format!("id {n} is too large (at most {})", u32::MAX),
        },
        None => format!("expected a non-negative integer id, found {}", describe(v)),
    };
    Err(shape(path, field, problem, fix.to_string()))
}

/// The `nodes` list: present, a list, not empty.
fn node_list<'a>(path: &Path, top: &'a Map<String, Value>) -> Result<&'a [Value], ConfigError> {
    let list = match top.get("nodes") {
        None => {
            return Err(shape(
                path,
                "nodes",
                "missing".to_string(),
                format!("add \"nodes\": [{NODE_EXAMPLE}, ...] listing every node"),
            ))
        }
        Some(Value::Array(list)) => list,
        Some(other) => {
            return Err(shape(
                path,
                "nodes",
                format!("expected a list of nodes, found {}", describe(other)),
                format!("write it as \"nodes\": [{NODE_EXAMPLE}, ...]"),
            ))
        }
    };
    if list.is_empty() {
        return Err(ConfigError::NoNodes {
            path: path.to_path_buf(),
        });
    }
    Ok(list)
}

/// Node `index`'s `addr` (at `here.addr`): present, a string, a valid `host:port`.
fn read_addr(
    path: &Path,
    index: usize,
    here: &str,
    obj: &Map<String, Value>,
) -> Result<String, ConfigError> {
    let addr_field = format!("{here}.addr");
    let addr = match obj.get("addr") {
        None => {
            return Err(shape(
                path,
                &addr_field,
                "missing".to_string(),
                format!("give the node a host:port, as in {NODE_EXAMPLE}"),
            ))
        }
        Some(Value::String(s)) => s.clone(),
        Some(other) => {
            return Err(shape(
                path,
                &addr_field,
                format!("expected a \"host:port\" string, found {}", describe(other)),
                "quote it, e.g. \"127.0.0.1:50051\"".to_string(),
            ))
        }
    };
    match check_addr(&addr) {
        Ok(()) => Ok(addr),
        Err(reason) => Err(ConfigError::BadAddr {
            path: path.to_path_buf(),
            index,
            addr,
            reason,
        }),
    }
}

/// Every node of the file, in its order; ids and addresses are distinct.
fn read_nodes(path: &Path, top: &Map<String, Value>) -> Result<Vec<NodeAddr>, ConfigError> {
    let list = node_list(path, top)?;
    let mut nodes = Vec::with_capacity(list.len());
    let mut seen_ids: HashMap<NodeId, usize> = HashMap::new();
    let mut seen_addrs: HashMap<String, usize> = HashMap::new();
    for (index, item) in list.iter().enumerate() {
        let here = format!("nodes[{index}]");
        let Value::Object(obj) = item else {
            return Err(shape(
                path,
                &here,
                format!("expected a node object, found {}", describe(item)),
                format!("write every node as {NODE_EXAMPLE}"),
            ));
        };
        check_fields(
            path,
            obj,
            &here,
            &["id", "addr"],
            r#"a node has "id" and "addr""#,
        )?;
        let id_field = format!("{here}.id");
        let id = match obj.get("id") {
            None => {
                return Err(shape(
                    path,
                    &id_field,
                    "missing".to_string(),
                    format!("give the node an id, as in {NODE_EXAMPLE}"),
                ))
            }
            Some(v) => read_id(path, &id_field, v, "use a distinct integer like 0, 1, 2")?,
        };
        if let Some(&first) = seen_ids.get(&id) {
            return Err(ConfigError::DuplicateId {
                path: path.to_path_buf(),
                index,
                id,
                first,
            });
        }
        seen_ids.insert(id, index);

        let addr = read_addr(path, index, &here, obj)?;
        // Host names are case-insensitive; "Node1:5" and "node1:5" are the same listener.
        let key = addr.to_ascii_lowercase();
        if let Some(&first) = seen_addrs.get(&key) {
            return Err(ConfigError::DuplicateAddr {
                path: path.to_path_buf(),
                index,
                addr,
                first,
            });
        }
        seen_addrs.insert(key, index);
        nodes.push(NodeAddr { id, addr });
    }
    Ok(nodes)
}

/// What is wrong with a node's address (`host:port`), as [`ConfigError::BadAddr`] says it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AddrError {
    /// A URI rather than `host:port`.
    #[error("leave out the scheme, e.g. http://")]
    Scheme,
    /// `[` with no `]`.
    #[error("'[' without a closing ']'")]
    UnclosedBracket,
    /// Brackets around something that is not an IPv6 address (given).
    #[error("{0:?} in brackets is not an IPv6 address")]
    NotIpv6(String),
    /// Nothing or no `:` after the `]`.
    #[error("no :port after the ']'")]
    NoPortAfterBracket,
    /// No `:` at all.
    #[error("no :port")]
    NoPort,
    /// Nothing before the `:`.
    #[error("no host before the ':'")]
    NoHost,
    /// An IPv6 address without brackets.
    #[error("an IPv6 address must be in brackets, e.g. [::1]:50051")]
    UnbracketedIpv6,
    /// A character no host name has (given).
    #[error("the host may not contain {0:?}")]
    HostChar(char),
    /// Nothing after the `:`.
    #[error("no port after the ':'")]
    EmptyPort,
    /// A port with a non-digit (given).
    #[error("port {0:?} is not a number")]
    PortNotNumber(String),
    /// A port outside 1..=65535 (given).
    #[error("port {0} is not in 1..=65535")]
    PortOutOfRange(String),
}

/// Checks `host:port` without resolving anything: port in 1..=65535, host a non-empty name or
/// IPv4 address, or an IPv6 address in brackets. `Err` says what is wrong.
/// Checks `addr` is `host:port` as the cluster file takes it (no scheme, a port number):
/// what `maekawa cluster add` and `replace` check of a new address too.
pub fn check_addr(addr: &str) -> Result<(), AddrError> {
    if addr.contains("://") {
        return Err(AddrError::Scheme);
    }
    let (host, port) = if let Some(rest) = addr.strip_prefix('[') {
        let (inside, after) = rest.split_once(']').ok_or(AddrError::UnclosedBracket)?;
        if inside.parse::<Ipv6Addr>().is_err() {
            return Err(AddrError::NotIpv6(inside.to_string()));
        }
        let port = after
            .strip_prefix(':')
            .ok_or(AddrError::NoPortAfterBracket)?;
        (None, port)
    } else {
        let (host, port) = addr.rsplit_once(':').ok_or(AddrError::NoPort)?;
        (Some(host), port)
    };
    if let Some(host) = host {
        if host.is_empty() {
            return Err(AddrError::NoHost);
        }
        if host.contains(':') {
            return Err(AddrError::UnbracketedIpv6);
        }
        if let Some(c) = host
            .chars()
            .find(|c| !(c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_')))
        {
            return Err(AddrError::HostChar(c));
        }
    }
    if port.is_empty() {
        return Err(AddrError::EmptyPort);
    }
    if !port.chars().all(|c| c.is_ascii_digit()) {
        return Err(AddrError::PortNotNumber(port.to_string()));
    }
    match port.parse::<u32>() {
        Ok(n) if (1..=65535).contains(&n) => Ok(()),
        _ => Err(AddrError::PortOutOfRange(port.to_string())),
    }
}

/// The value of `quorum_system`: `"grid"` or `"majority"`.
fn read_quorum_system(path: &Path, v: &Value) -> Result<&'static str, ConfigError> {
    match v.as_str() {
        Some("grid") => Ok("grid"),
        Some("majority") => Ok("majority"),
        _ => Err(ConfigError::UnknownQuorumSystem {
            path: path.to_path_buf(),
            found: describe(v),
        }),
    }
}

/// The explicit quorums, keyed by owner; only their shape is checked here.
fn read_quorums(
    path: &Path,
    value: &Value,
    ids: &[NodeId],
) -> Result<BTreeMap<NodeId, Vec<NodeId>>, ConfigError> {
    let Value::Object(obj) = value else {
        return Err(shape(
            path,
            "quorums",
            format!("expected an object, found {}", describe(value)),
            "write it as \"quorums\": {\"0\": [0, 1, 2], ...}, or leave it out to use the grid"
                .to_string(),
        ));
    };
    // Keys first, in id order, so that the first error reported is the lowest owner's.
    let mut entries = Vec::with_capacity(obj.len());
    for (key, members) in obj {
        let owner = match key.parse::<u32>() {
            Ok(n) if n.to_string() == *key => NodeId(n),
            _ => {
                return Err(ConfigError::BadQuorumKey {
                    path: path.to_path_buf(),
                    key: key.clone(),
                })
            }
        };
        if !ids.contains(&owner) {
            return Err(ConfigError::QuorumOfUnknownNode {
                path: path.to_path_buf(),
                owner,
            });
        }
        entries.push((owner, members));
    }
    entries.sort_by_key(|&(owner, _)| owner);
    let mut quorums = BTreeMap::new();
    for (owner, members) in entries {
        let field = format!("quorums.{owner}");
        let Value::Array(members) = members else {
            return Err(shape(
                path,
                &field,
                format!("expected a list of node ids, found {}", describe(members)),
                format!("write it as \"{owner}\": [{owner}, ...]"),
            ));
        };
        let mut q = Vec::with_capacity(members.len());
        for (j, m) in members.iter().enumerate() {
            q.push(read_id(
                path,
                &format!("{field}[{j}]"),
                m,
                "list the ids of the quorum's members, e.g. [0, 1, 2]",
            )?);
        }
        quorums.insert(owner, q);
    }
    Ok(quorums)
}

fn quorum_error(path: &Path, qs: &QuorumSystem, e: QuorumError) -> ConfigError {
    let path = path.to_path_buf();
    match e {
        QuorumError::MissingOwner { owner } => ConfigError::QuorumMissingOwner { path, owner },
        QuorumError::UnknownMember { owner, unknown } if owner == unknown => {
            ConfigError::QuorumOfUnknownNode { path, owner }
        }
        QuorumError::UnknownMember { owner, unknown } => ConfigError::QuorumUnknownMember {
            path,
            owner,
            unknown,
        },
        QuorumError::NoQuorum { owner } => ConfigError::QuorumMissing { path, owner },
        QuorumError::Disjoint { a, b } => ConfigError::QuorumsDisjoint {
            path,
            a,
            qa: qs.quorum(a).to_vec(),
            b,
            qb: qs.quorum(b).to_vec(),
        },
    }
}

/// Parses JSON like `serde_json::from_str::<Value>`, but refuses an object that repeats a key
/// (serde_json would silently keep the last one, e.g. drop a node's first quorum).
fn read_json(path: &Path, text: &str) -> Result<Value, ConfigError> {
    json::parse(text).map_err(|(e, duplicate)| {
        let (line, column) = (e.line(), e.column());
        match duplicate {
            Some(field) => ConfigError::DuplicateKey {
                path: path.to_path_buf(),
                field,
                line,
                column,
            },
            None => {
                let full = e.to_string();
                let suffix = format!(" at line {line} column {column}");
                ConfigError::InvalidJson {
                    path: path.to_path_buf(),
                    line,
                    column,
                    message: full.strip_suffix(&suffix).unwrap_or(&full).to_string(),
                }
            }
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Result<Config, ConfigError> {
        Config::parse(Path::new("quorums.json"), text)
    }

    /// The message of the error `text` must produce; checks it is one lowercase-started line
    /// that names the file.
    fn err(text: &str) -> String {
        let e = match parse(text) {
            Ok(c) => panic!("expected an error, got {c:?}"),
            Err(e) => e,
        };
        let msg = e.to_string();
        assert!(!msg.contains('\n'), "not one line: {msg}");
        assert!(msg.starts_with("quorums.json: "), "no file name: {msg}");
        assert!(msg.contains("; "), "no fix: {msg}");
        msg
    }

    fn has(msg: &str, parts: &[&str]) {
        for p in parts {
            assert!(msg.contains(p), "{msg:?} does not contain {p:?}");
        }
    }

    const THREE: &str = r#"{"nodes": [
        {"id": 2, "addr": "127.0.0.1:50053"},
        {"id": 0, "addr": "127.0.0.1:50051"},
        {"id": 1, "addr": "127.0.0.1:50052"}
    ]}"#;

    fn ids(v: &[u32]) -> Vec<NodeId> {
        v.iter().copied().map(NodeId).collect()
    }

    #[test]
    fn three_nodes_get_the_grid_sorted_by_id() {
        let c = parse(THREE).unwrap();
        assert_eq!(c.ids(), ids(&[0, 1, 2]));
        assert_eq!(c.nodes[0].addr, "127.0.0.1:50051");
        assert_eq!(c.quorums, QuorumSystem::grid(&ids(&[0, 1, 2])));
        assert_eq!(c.quorums.quorum(NodeId(0)), ids(&[0, 1, 2]).as_slice());
        assert_eq!(c.node(NodeId(2)).unwrap().addr, "127.0.0.1:50053");
        assert_eq!(c.path, PathBuf::from("quorums.json"));
    }

    #[test]
    fn the_committed_file_is_valid() {
        // The demo cluster at the top of the repository, one level above this crate.
        let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../quorums.json");
        let c = Config::load(&path).unwrap();
        assert_eq!(c.ids(), ids(&[0, 1, 2]));
        assert_eq!(c.nodes[2].addr, "127.0.0.1:50053");
    }

    #[test]
    fn unknown_id_names_the_known_ones() {
        let c = parse(THREE).unwrap();
        let msg = c.node(NodeId(7)).unwrap_err().to_string();
        has(
            &msg,
            &[
                "quorums.json",
                "id 7 is not in the file; use one of 0, 1, 2 or add it",
            ],
        );
    }

    #[test]
    fn missing_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("nope.json");
        let e = Config::load(&path).unwrap_err();
        assert!(matches!(e, ConfigError::Missing { .. }), "{e:?}");
        has(
            &e.to_string(),
            &["nope.json", "not found", "create it", "--config"],
        );
    }

    #[test]
    fn unreadable_file() {
        // A directory cannot be read as a file, whoever runs the test (root ignores modes).
        let dir = tempfile::tempdir().unwrap();
        let e = Config::load(dir.path()).unwrap_err();
        assert!(matches!(e, ConfigError::Unreadable { .. }), "{e:?}");
        let msg = e.to_string();
        assert!(!msg.contains('\n'));
        has(&msg, &["cannot read", "create it", "--config"]);
    }

    #[test]
    fn load_reads_a_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("q.json");
        std::fs::write(&path, THREE).unwrap();
        let c = Config::load(&path).unwrap();
        assert_eq!(c.path, path);
        assert_eq!(c.ids(), ids(&[0, 1, 2]));
    }

    #[test]
    fn invalid_json_gives_line_and_column() {
        let msg = err("{\"nodes\": [\n  {\"id\": 0, \"addr\": \"127.0.0.1:1\"},\n]}");
        has(&msg, &["invalid JSON", "line 3 column 1", "fix the syntax"]);
        assert!(
            !msg.contains(" at line "),
            "position given twice in {msg:?}"
        );
        has(&err(""), &["invalid JSON", "line 1"]);
        has(&err(r#"{"nodes": []} x"#), &["invalid JSON", "trailing"]);
    }

    #[test]
    fn duplicate_keys_are_refused() {
        let msg = err(r#"{"nodes": [{"id": 0, "id": 1, "addr": "a:1"}]}"#);
        has(
            &msg,
            &["nodes[0].id", "appears twice", "line 1", "keep only one"],
        );
        let msg = err(r#"{"nodes": [{"id": 0, "addr": "a:1"}], "quorums": {"0": [0], "0": [0]}}"#);
        has(&msg, &["quorums.0", "appears twice"]);
    }

    #[test]
    fn wrong_shapes() {
        let cases: &[(&str, &[&str])] = &[
            (
                "[]",
                &["top level", "expected an object", "an array", "\"nodes\""],
            ),
            ("{}", &["nodes: missing", "add \"nodes\""]),
            (r#"{"nodes": {}}"#, &["nodes: expected a list", "an object"]),
            (
                r#"{"nodes": [3]}"#,
                &["nodes[0]: expected a node object", "found 3"],
            ),
            (
                r#"{"nodes": [{"addr": "a:1"}]}"#,
                &["nodes[0].id: missing", "give the node an id"],
            ),
            (
                r#"{"nodes": [{"id": 0}]}"#,
                &["nodes[0].addr: missing", "host:port"],
            ),
            (
                r#"{"nodes": [{"id": "0", "addr": "a:1"}]}"#,
                &[
                    "nodes[0].id: expected a non-negative integer",
                    "the string \"0\"",
                ],
            ),
            (
                r#"{"nodes": [{"id": -1, "addr": "a:1"}]}"#,
                &["nodes[0].id", "found -1"],
            ),
            (
                r#"{"nodes": [{"id": 1.5, "addr": "a:1"}]}"#,
                &["nodes[0].id", "found 1.5"],
            ),
            (
                r#"{"nodes": [{"id": 4294967296, "addr": "a:1"}]}"#,
                &["nodes[0].id", "too large"],
            ),
            (
                r#"{"nodes": [{"id": 0, "addr": 50051}]}"#,
                &[
                    "nodes[0].addr: expected a \"host:port\" string",
                    "found 50051",
                    "quote it",
                ],
            ),
            (
                r#"{"nodes": [{"id": 0, "addr": "a:1"}], "quorums": [[0]]}"#,
                &[
                    "quorums: expected an object",
                    "leave it out to use the grid",
                ],
            ),
            (
                r#"{"nodes": [{"id": 0, "addr": "a:1"}], "quorums": {"0": 0}}"#,
                &["quorums.0: expected a list of node ids", "found 0"],
            ),
            (
                r#"{"nodes": [{"id": 0, "addr": "a:1"}], "quorums": {"0": [0, "1"]}}"#,
                &[
                    "quorums.0[1]: expected a non-negative integer",
                    "e.g. [0, 1, 2]",
                ],
            ),
        ];
        for (text, parts) in cases {
            let e = parse(text).unwrap_err();
            assert!(matches!(e, ConfigError::Shape { .. }), "{text}: {e:?}");
            has(&err(text), parts);
        }
    }

    #[test]
    fn unknown_fields() {
        let msg = err(r#"{"nodes": [{"id": 0, "addr": "a:1"}], "quorum": {}}"#);
        has(
            &msg,
            &["quorums.json: quorum: unknown field", "\"quorums\""],
        );
        let msg = err(r#"{"nodes": [{"id": 0, "addr": "a:1", "port": 5}]}"#);
        has(
            &msg,
            &["nodes[0].port: unknown field", "\"id\" and \"addr\""],
        );
        let msg = err(r#"{"nodes": [{"id": 0, "addr": "a:1", "a b": 5}]}"#);
        has(&msg, &["nodes[0].\"a b\": unknown field"]);
        assert!(matches!(
            parse(r#"{"nodes": [], "x": 1}"#),
            Err(ConfigError::UnknownField { .. })
        ));
    }

    #[test]
    fn no_nodes() {
        let msg = err(r#"{"nodes": []}"#);
        assert!(matches!(
            parse(r#"{"nodes": []}"#),
            Err(ConfigError::NoNodes { .. })
        ));
        has(&msg, &["nodes: the list is empty", "\"addr\""]);
    }

    #[test]
    fn duplicate_id() {
        let text = r#"{"nodes": [
            {"id": 1, "addr": "h:1"}, {"id": 0, "addr": "h:2"}, {"id": 1, "addr": "h:3"}]}"#;
        assert_eq!(
            err(text),
            "quorums.json: nodes[2].id: duplicate id 1 (also nodes[0]); give every node a distinct id"
        );
    }

    #[test]
    fn duplicate_addr() {
        let text = r#"{"nodes": [
            {"id": 0, "addr": "Node-A:50051"}, {"id": 1, "addr": "node-a:50051"}]}"#;
        let e = parse(text).unwrap_err();
        assert!(matches!(
            e,
            ConfigError::DuplicateAddr {
                index: 1,
                first: 0,
                ..
            }
        ));
        has(
            &err(text),
            &[
                "nodes[1].addr: duplicate address \"node-a:50051\" (also nodes[0])",
                "host:port",
            ],
        );
    }

    #[test]
    fn addresses() {
        for good in [
            "127.0.0.1:50051",
            "localhost:1",
            "node-1.maekawa.svc.cluster.local:65535",
            "my_service:8080",
            "[::1]:50051",
            "[fe80::1]:7",
        ] {
            assert_eq!(check_addr(good), Ok(()), "{good}");
        }
        let bad: &[(&str, &str)] = &[
            ("127.0.0.1", "no :port"),
            ("127.0.0.1:", "no port after"),
            (":50051", "no host"),
            ("h:0", "not in 1..=65535"),
            ("h:65536", "not in 1..=65535"),
            ("h:99999999999", "not in 1..=65535"),
            ("h:+5", "not a number"),
            ("h:5x", "not a number"),
            ("::1:50051", "in brackets"),
            ("[::1]", "no :port after"),
            ("[::1:50051", "closing"),
            ("[]:1", "not an IPv6 address"),
            ("[nothost]:1", "not an IPv6 address"),
            ("http://h:1", "scheme"),
            ("h h:1", "may not contain ' '"),
            (" h:1", "may not contain ' '"),
            ("", "no :port"),
        ];
        for (addr, reason) in bad {
            match check_addr(addr) {
                Ok(()) => panic!("{addr:?} accepted"),
                Err(r) => {
                    let r = r.to_string();
                    assert!(r.contains(reason), "{addr:?}: {r:?} lacks {reason:?}");
                }
            }
        }
        let text = r#"{"nodes": [{"id": 0, "addr": "h:1"}, {"id": 1, "addr": "127.0.0.1"}]}"#;
        assert!(matches!(
            parse(text),
            Err(ConfigError::BadAddr { index: 1, .. })
        ));
        has(
            &err(text),
            &[
                "nodes[1].addr: \"127.0.0.1\" is not host:port (no :port)",
                "write it like",
            ],
        );
        // Control characters stay escaped, so the message stays on one line.
        let text = r#"{"nodes": [{"id": 0, "addr": "h\n:1"}]}"#;
        has(&err(text), &["\\n"]);
    }

    const FANO_NODES: &str = r#""nodes": [
        {"id": 0, "addr": "h:1"}, {"id": 1, "addr": "h:2"}, {"id": 2, "addr": "h:3"},
        {"id": 3, "addr": "h:4"}, {"id": 4, "addr": "h:5"}, {"id": 5, "addr": "h:6"},
        {"id": 6, "addr": "h:7"}]"#;

    fn fano(quorums: &str) -> String {
        format!("{{{FANO_NODES}, \"quorums\": {{{quorums}}}}}")
    }

    const FANO: &str = r#""0": [0, 1, 2], "1": [1, 3, 5], "2": [2, 4, 5], "3": [0, 3, 4],
        "4": [1, 4, 6], "5": [0, 5, 6], "6": [2, 3, 6]"#;

    #[test]
    fn explicit_fano_plane() {
        let c = parse(&fano(FANO)).unwrap();
        assert_eq!(c.quorums.rows(), None);
        assert_eq!(c.quorums.quorum(NodeId(4)), ids(&[1, 4, 6]).as_slice());
        assert_eq!(c.quorums.nodes().count(), 7);
    }

    /// THREE's nodes with `extra` fields at the top level.
    fn three_with(extra: &str) -> String {
        format!("{}, {extra}}}", THREE.trim_end().strip_suffix('}').unwrap())
    }

    #[test]
    fn quorum_system_picks_grid_or_majority() {
        let all = ids(&[0, 1, 2]);
        let c = parse(&three_with(r#""quorum_system": "grid""#)).unwrap();
        assert_eq!(c.quorums, QuorumSystem::grid(&all));
        let c = parse(&three_with(r#""quorum_system": "majority""#)).unwrap();
        assert_eq!(c.quorums, QuorumSystem::majority(&all));
        assert_eq!(c.quorums.kind(), "majority");
        assert_eq!(c.quorums.quorum(NodeId(2)), ids(&[0, 2]).as_slice());
        assert_eq!(parse(THREE).unwrap().quorums.kind(), "grid");
    }

    #[test]
    fn bad_quorum_system() {
        for (value, found) in [
            (r#""raft""#, r#"the string "raft""#),
            (r#""Majority""#, r#"the string "Majority""#),
            (r#""explicit""#, r#"the string "explicit""#),
            ("3", "3"),
            ("null", "null"),
            (r#"["grid"]"#, "an array"),
        ] {
            let text = three_with(&format!(r#""quorum_system": {value}"#));
            assert!(matches!(
                parse(&text),
                Err(ConfigError::UnknownQuorumSystem { .. })
            ));
            has(
                &err(&text),
                &[
                    "quorums.json: quorum_system: ",
                    &format!("{found} is not a quorum system"),
                    r#"use "grid" (the default) or "majority""#,
                ],
            );
        }
        let msg = err(&format!(
            "{{{FANO_NODES}, \"quorum_system\": \"majority\", \"quorums\": {{{FANO}}}}}"
        ));
        has(
            &msg,
            &[
                "quorum_system and quorums: both are given",
                "or \"quorums\" to use the majority system",
            ],
        );
        let msg = err(r#"{"nodes": [{"id": 0, "addr": "a:1"}], "quorum_sytem": "grid"}"#);
        has(&msg, &["quorum_sytem: unknown field", "\"quorum_system\""]);
    }

    #[test]
    fn bad_quorum_keys() {
        for key in ["a", "-1", "01", "+1", " 1", "1.0", ""] {
            let text = fano(&format!("{FANO}, \"{key}\": [0]"));
            let e = parse(&text).unwrap_err();
            assert!(
                matches!(e, ConfigError::BadQuorumKey { .. }),
                "{key}: {e:?}"
            );
            has(&err(&text), &[&format!("quorums.{key:?}"), "not a node id"]);
        }
        let msg = err(&fano(&format!("{FANO}, \"9\": [9]")));
        has(
            &msg,
            &[
                "quorums.9: node 9 is not in nodes",
                "remove this quorum or add node 9",
            ],
        );
    }

    #[test]
    fn quorum_missing_its_owner() {
        let q = FANO.replace("\"4\": [1, 4, 6]", "\"4\": [1, 6]");
        let msg = err(&fano(&q));
        has(
            &msg,
            &["quorums.4: does not contain node 4 itself", "add 4 to it"],
        );
    }

    #[test]
    fn quorum_names_unknown_node() {
        let q = FANO.replace("\"4\": [1, 4, 6]", "\"4\": [1, 4, 6, 12]");
        let msg = err(&fano(&q));
        has(
            &msg,
            &[
                "quorums.4: names node 12, which is not in nodes",
                "add node 12",
            ],
        );
    }

    #[test]
    fn node_without_quorum() {
        let q = FANO.replace(", \"6\": [2, 3, 6]", "");
        let msg = err(&fano(&q));
        has(
            &msg,
            &[
                "quorums.6: missing, but node 6 is in nodes",
                "leave out \"quorums\"",
            ],
        );
        assert!(matches!(
            parse(&fano("")),
            Err(ConfigError::QuorumMissing {
                owner: NodeId(0),
                ..
            })
        ));
    }

    #[test]
    fn disjoint_quorums_name_both() {
        // 5's quorum {0, 5} misses 4's {1, 4, 6}.
        let q = FANO.replace("\"5\": [0, 5, 6]", "\"5\": [5, 0]");
        let e = parse(&fano(&q)).unwrap_err();
        assert!(
            matches!(
                e,
                ConfigError::QuorumsDisjoint {
                    a: NodeId(4),
                    b: NodeId(5),
                    ..
                }
            ),
            "{e:?}"
        );
        has(
            &err(&fano(&q)),
            &[
                "quorums.4 and quorums.5 do not intersect ({1, 4, 6} and {0, 5})",
                "add a common node",
            ],
        );
    }

    #[test]
    fn every_error_is_one_line_naming_the_file() {
        let texts = [
            "{",
            "{}",
            r#"{"nodes": []}"#,
            r#"{"nodes": [{"id": 0, "addr": "a:1"}, {"id": 0, "addr": "a:2"}]}"#,
            r#"{"nodes": [{"id": 0, "addr": "a:1"}, {"id": 1, "addr": "a:1"}]}"#,
            r#"{"nodes": [{"id": 0, "addr": "a"}]}"#,
        ];
        for t in texts {
            let msg = err(t);
            let first = msg["quorums.json: ".len()..].chars().next().unwrap();
            assert!(!first.is_uppercase(), "{msg}");
        }
    }

    /// The exact words of one message for each check (the other tests look for parts of them),
    /// so that a rewrite of the reading code can be held to every byte.
    #[test]
    fn messages_word_for_word() {
        let cases: &[(&str, &str)] = &[
            (
                r#"[]"#,
                r#"quorums.json: top level: expected an object, found an array; write the file as {"nodes": [{"id": 0, "addr": "127.0.0.1:50051"}, ...], "quorums": {"0": [0, 1, 2], ...}} ("quorums" is optional; "quorum_system": "grid" or "majority" picks a built-in system instead)"#,
            ),
            (
                r#"{"nodes": null}"#,
                r#"quorums.json: nodes: expected a list of nodes, found null; write it as "nodes": [{"id": 0, "addr": "127.0.0.1:50051"}, ...]"#,
            ),
            (
                r#"{}"#,
                r#"quorums.json: nodes: missing; add "nodes": [{"id": 0, "addr": "127.0.0.1:50051"}, ...] listing every node"#,
            ),
            (
                r#"{"nodes": []}"#,
                r#"quorums.json: nodes: the list is empty; list every node as {"id": 0, "addr": "127.0.0.1:50051"}"#,
            ),
            (
                r#"{"nodes": ["a:1"]}"#,
                r#"quorums.json: nodes[0]: expected a node object, found the string "a:1"; write every node as {"id": 0, "addr": "127.0.0.1:50051"}"#,
            ),
            (
                r#"{"nodes": [{"addr": "a:1"}]}"#,
                r#"quorums.json: nodes[0].id: missing; give the node an id, as in {"id": 0, "addr": "127.0.0.1:50051"}"#,
            ),
            (
                r#"{"nodes": [{"id": "\u0007x\"y", "addr": "a:1"}]}"#,
                r#"quorums.json: nodes[0].id: expected a non-negative integer id, found the string "\u{7}x\"y"; use a distinct integer like 0, 1, 2"#,
            ),
            (
                r#"{"nodes": [{"id": 4294967296, "addr": "a:1"}]}"#,
                r#"quorums.json: nodes[0].id: id 4294967296 is too large (at most 4294967295); use a distinct integer like 0, 1, 2"#,
            ),
            (
                r#"{"nodes": [{"id": 18446744073709551616, "addr": "a:1"}]}"#,
                r#"quorums.json: nodes[0].id: expected a non-negative integer id, found 1.8446744073709552e+19; use a distinct integer like 0, 1, 2"#,
            ),
            (
                r#"{"nodes": [{"id": 0}]}"#,
                r#"quorums.json: nodes[0].addr: missing; give the node a host:port, as in {"id": 0, "addr": "127.0.0.1:50051"}"#,
            ),
            (
                r#"{"nodes": [{"id": 0, "addr": 50051}]}"#,
                r#"quorums.json: nodes[0].addr: expected a "host:port" string, found 50051; quote it, e.g. "127.0.0.1:50051""#,
            ),
            (
                r#"{"nodes": [{"id": 0, "addr": "[nothost]:1"}]}"#,
                r#"quorums.json: nodes[0].addr: "[nothost]:1" is not host:port ("nothost" in brackets is not an IPv6 address); write it like "127.0.0.1:50051", "node1:50051" or "[::1]:50051""#,
            ),
            (
                r#"{"nodes": [{"id": 0, "addr": "Node-A:50051"}, {"id": 1, "addr": "node-a:50051"}]}"#,
                r#"quorums.json: nodes[1].addr: duplicate address "node-a:50051" (also nodes[0]); give every node its own host:port"#,
            ),
            (
                r#"{"nodes": [{"id": 0, "addr": "a:1"}], "quorum": {}}"#,
                r#"quorums.json: quorum: unknown field; remove it or fix its spelling (the file has "nodes", an optional "quorum_system" and an optional "quorums")"#,
            ),
            (
                r#"{"nodes": [{"id": 0, "addr": "a:1", "a b": 5}]}"#,
                r#"quorums.json: nodes[0]."a b": unknown field; remove it or fix its spelling (a node has "id" and "addr")"#,
            ),
            (
                r#"{"nodes": [{"id": 0, "addr": "a:1"}], "quorums": null}"#,
                r#"quorums.json: quorums: expected an object, found null; write it as "quorums": {"0": [0, 1, 2], ...}, or leave it out to use the grid"#,
            ),
            (
                r#"{"nodes": [{"id": 0, "addr": "a:1"}], "quorums": {"0": 0}}"#,
                r#"quorums.json: quorums.0: expected a list of node ids, found 0; write it as "0": [0, ...]"#,
            ),
            (
                r#"{"nodes": [{"id": 0, "addr": "a:1"}], "quorums": {"0": [0, -1]}}"#,
                r#"quorums.json: quorums.0[1]: expected a non-negative integer id, found -1; list the ids of the quorum's members, e.g. [0, 1, 2]"#,
            ),
            (
                r#"{"nodes": [{"id": 0, "addr": "a:1"}], "quorums": {"0": [0], "01": [0]}}"#,
                r#"quorums.json: quorums."01": the key is not a node id; key every quorum by its owner's id in decimal, e.g. "0": [0, 1, 2]"#,
            ),
            (
                r#"{"nodes": [{"id": 0, "addr": "a:1"}], "quorums": {"0": [0], "9": [9]}}"#,
                r#"quorums.json: quorums.9: node 9 is not in nodes; remove this quorum or add node 9 to nodes"#,
            ),
            (
                r#"{"nodes": [{"id": 0, "addr": "a:1"}, {"id": 1, "addr": "a:2"}], "quorums": {"0": [0, 1], "1": [0]}}"#,
                r#"quorums.json: quorums.1: does not contain node 1 itself; add 1 to it (every node votes in its own quorum)"#,
            ),
            (
                r#"{"nodes": [{"id": 0, "addr": "a:1"}, {"id": 1, "addr": "a:2"}], "quorums": {"0": [0, 1], "1": [0, 1, 7]}}"#,
                r#"quorums.json: quorums.1: names node 7, which is not in nodes; remove it from the quorum or add node 7 to nodes"#,
            ),
            (
                r#"{"nodes": [{"id": 0, "addr": "a:1"}, {"id": 1, "addr": "a:2"}], "quorums": {"0": [0, 1]}}"#,
                r#"quorums.json: quorums.1: missing, but node 1 is in nodes; give it a quorum, or leave out "quorums" to use the grid"#,
            ),
            (
                r#"{"nodes": [{"id": 0, "addr": "a:1"}, {"id": 1, "addr": "a:2"}], "quorums": {"0": [0], "1": [1]}}"#,
                r#"quorums.json: quorums.0 and quorums.1 do not intersect ({0} and {1}); add a common node to both (any two quorums must share a voter)"#,
            ),
            (
                "{\"nodes\": [\n  {\"id\": 0, \"addr\": \"127.0.0.1:1\"},\n]}",
                r#"quorums.json: line 3 column 1: invalid JSON: trailing comma; fix the syntax there"#,
            ),
            (
                r#"{"nodes": []} x"#,
                r#"quorums.json: line 1 column 15: invalid JSON: trailing characters; fix the syntax there"#,
            ),
            (
                r#""#,
                r#"quorums.json: line 1 column 0: invalid JSON: EOF while parsing a value; fix the syntax there"#,
            ),
            (
                "{\"nodes\": [{\"id\": 0, \"addr\": \"a:1\",\n \"addr\": \"a:2\"}]}",
                r#"quorums.json: nodes[0].addr: the key appears twice (second at line 2 column 7); keep only one"#,
            ),
            (
                r#"{"nodes": [{"id": 0, "addr": "a:1"}], "x": {"a": 1, "a": 2}}"#,
                r#"quorums.json: x.a: the key appears twice (second at line 1 column 55); keep only one"#,
            ),
            (
                r#"{"nodes": [{"id": 0, "addr": "a:1"}], "quorums": {"0": [0], "0": [0]}}"#,
                r#"quorums.json: quorums.0: the key appears twice (second at line 1 column 63); keep only one"#,
            ),
            (
                r#"{"nodes": [{"id": 0, "addr": "a:1"}], "quorum_system": "raft"}"#,
                r#"quorums.json: quorum_system: the string "raft" is not a quorum system; use "grid" (the default) or "majority", or leave it out for the grid"#,
            ),
            (
                r#"{"nodes": [{"id": 0, "addr": "a:1"}], "quorum_system": "grid", "quorums": {"0": [0]}}"#,
                r#"quorums.json: quorum_system and quorums: both are given; remove "quorum_system" to use the explicit quorums, or "quorums" to use the grid system"#,
            ),
        ];
        for (text, message) in cases {
            assert_eq!(err(text), *message, "{text}");
        }
    }
}
