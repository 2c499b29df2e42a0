//! The emulated critical section: `critical_section.log`, shared by every node of a run
//! (PROTOCOL.md §4).
//!
//! Every node appends one JSON line when it starts, one when it enters the CS and one when it
//! leaves. Each line goes out in a single `write` on a file opened with `O_APPEND`, so lines
//! from different processes never interleave and the file order is the global order of events:
//! that is what lets `maekawa check` ([`crate::logs::check`]) prove mutual exclusion from the
//! file alone. This module only writes that file (its reader is [`crate::logs::cslog`]); it
//! must not decide when a node may enter (that is the protocol's job) and it does not fsync
//! (the order, not durability, is the contract).

use super::env::Clock;
use crate::logdir;
use maekawa_core::id::{NodeId, RequestId};
use serde::Serialize;
use std::fs::{File, OpenOptions};
use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::time::SystemTime;

/// Why the CS log cannot be written. Each message names the file and how to fix it.
#[derive(Debug, thiserror::Error)]
pub enum CsLogError {
    /// The file cannot be opened for appending (missing directory, permissions, ...).
    #[error("{path}: cannot open for appending ({source}); check that the directory exists and is writable, or pass --log-dir DIR")]
    Open {
        /// The file.
        path: PathBuf,
        /// What the operating system said.
        source: io::Error,
    },
    /// A line could not be appended.
    #[error("{path}: cannot append a line ({source}); check free disk space and permissions")]
    Write {
        /// The file.
        path: PathBuf,
        /// What the operating system said.
        source: io::Error,
    },
    /// The kernel took only part of a line: the line is torn and the log no longer trustworthy.
    #[error("{path}: short write ({written} of {len} bytes); check free disk space, the log is torn from here on")]
    ShortWrite {
        /// The file.
        path: PathBuf,
        /// Bytes written.
        written: usize,
        /// Bytes in the line.
        len: usize,
    },
}

/// The writer a node keeps for its whole life; every method appends exactly one line.
#[derive(Debug)]
pub struct CsLog {
    path: PathBuf,
    file: File,
    clock: Clock,
}

/// Field order here is the order on the line (serde keeps declaration order).
#[derive(Serialize)]
struct StartLine {
    event: &'static str,
    node: NodeId,
    incarnation: u64,
    time: String,
}

/// The request as the CS log shows it: `{"ts":17,"node":1}` (PROTOCOL.md §4).
#[derive(Serialize)]
struct CsRequest {
    ts: u64,
    node: NodeId,
}

#[derive(Serialize)]
struct EnterLine<'a> {
    event: &'static str,
    node: NodeId,
    entry: u64,
    request: CsRequest,
    votes: &'a [NodeId],
    /// The entry's fencing token (PROTOCOL.md §6).
    token: u64,
    time: String,
}

#[derive(Serialize)]
struct ExitLine {
    event: &'static str,
    node: NodeId,
    entry: u64,
    time: String,
    /// Only when the lease ran out before the node left: why (`lease_expired`).
    #[serde(skip_serializing_if = "Option::is_none")]
    reason: Option<&'static str>,
    /// Only then: when the lease ran out, the end of the holder's right to the CS.
    #[serde(skip_serializing_if = "Option::is_none")]
    lease_end: Option<String>,
}

fn stamp(time: SystemTime) -> String {
    humantime::format_rfc3339_micros(time).to_string()
}

impl CsLog {
    /// Opens (creating if needed) `<log_dir>/critical_section.log` for appending.
    pub fn open(log_dir: &Path) -> Result<CsLog, CsLogError> {
        let path = logdir::cs_log(log_dir);
        let file = OpenOptions::new()
            .append(true)
            .create(true)
            .open(&path)
            .map_err(|source| CsLogError::Open {
                path: path.clone(),
                source,
            })?;
        Ok(CsLog {
            path,
            file,
            clock: Clock::System,
        })
    }

    /// The same log, its lines stamped by `clock` (a simulated cluster's virtual time).
    pub fn with_clock(mut self, clock: Clock) -> CsLog {
        self.clock = clock;
        self
    }

    /// The file being appended to, for messages.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Records that a new process of `node` runs; a CS its killed predecessor left open ends
    /// here. Must be written before the node talks to any peer.
    pub fn start(&mut self, node: NodeId, incarnation: u64) -> Result<(), CsLogError> {
        self.append(&StartLine {
            event: "start",
            node,
            incarnation,
            time: stamp(self.clock.now()),
        })
    }

    /// Records that `node` entered the CS for the `entry`-th time in this process, with `req`
    /// holding `votes`. Must be written before the node acts in the CS.
    pub fn enter(
        &mut self,
        node: NodeId,
        entry: u64,
        req: RequestId,
        votes: &[NodeId],
        token: u64,
    ) -> Result<(), CsLogError> {
        self.append(&EnterLine {
            event: "enter",
            node,
            entry,
            request: CsRequest {
                ts: req.ts.0,
                node: req.node,
            },
            votes,
            token,
            time: stamp(self.clock.now()),
        })
    }

    /// Records that `node` left its `entry`-th CS. Must be written before any RELEASE leaves.
    pub fn exit(&mut self, node: NodeId, entry: u64) -> Result<(), CsLogError> {
        self.append(&ExitLine {
            event: "exit",
            node,
            entry,
            time: stamp(self.clock.now()),
            reason: None,
            lease_end: None,
        })
    }

    /// Records that `node` lost its `entry`-th CS when its lease ran out at `lease_end` (it
    /// notices only now, for instance after a pause): checkers end the entry at `lease_end`.
    pub fn exit_lease_expired(
        &mut self,
        node: NodeId,
        entry: u64,
        lease_end: SystemTime,
    ) -> Result<(), CsLogError> {
        self.append(&ExitLine {
            event: "exit",
            node,
            entry,
            time: stamp(self.clock.now()),
            reason: Some("lease_expired"),
            lease_end: Some(humantime::format_rfc3339_micros(lease_end).to_string()),
        })
    }

    /// One `write` of the whole line: with `O_APPEND` that keeps concurrent writers' lines whole.
    fn append<T: Serialize>(&mut self, line: &T) -> Result<(), CsLogError> {
        let mut buf = serde_json::to_vec(line).expect("CS log lines always serialize");
        buf.push(b'\n');
        loop {
            match self.file.write(&buf) {
                Ok(n) if n == buf.len() => return Ok(()),
                Ok(written) => {
                    return Err(CsLogError::ShortWrite {
                        path: self.path.clone(),
                        written,
                        len: buf.len(),
                    })
                }
                // Nothing was written: trying again cannot split the line.
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(source) => {
                    return Err(CsLogError::Write {
                        path: self.path.clone(),
                        source,
                    })
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::logdir::CS_LOG as FILE_NAME;
    use maekawa_core::id::{Incarnation, Lamport};

    fn req(ts: u64, node: u32) -> RequestId {
        // The CS log does not carry the incarnation: it reads back as 0.
        RequestId {
            ts: Lamport(ts),
            node: NodeId(node),
            inc: Incarnation(0),
            epoch: maekawa_core::id::Epoch(0),
        }
    }

    /// The exact text of a line with its time replaced, so key order and shapes are checked.
    fn shape(line: &str) -> String {
        let (head, tail) = line.split_once(r#""time":""#).expect("has a time");
        let rest = &tail[tail.find('"').unwrap()..];
        format!("{head}\"time\":\"T{rest}")
    }

    #[test]
    fn lines_have_the_contract_format() {
        let dir = tempfile::tempdir().unwrap();
        let mut log = CsLog::open(dir.path()).unwrap();
        log.start(NodeId(1), 7).unwrap();
        log.enter(NodeId(1), 5, req(17, 1), &[NodeId(0), NodeId(1)], 3)
            .unwrap();
        log.exit(NodeId(1), 5).unwrap();
        let text = std::fs::read_to_string(dir.path().join(FILE_NAME)).unwrap();
        let lines: Vec<String> = text.lines().map(shape).collect();
        assert_eq!(
            lines,
            [
                r#"{"event":"start","node":1,"incarnation":7,"time":"T"}"#,
                r#"{"event":"enter","node":1,"entry":5,"request":{"ts":17,"node":1},"votes":[0,1],"token":3,"time":"T"}"#,
                r#"{"event":"exit","node":1,"entry":5,"time":"T"}"#,
            ]
        );
        assert!(text.ends_with('\n'));
        // RFC 3339, UTC, microseconds.
        let time = text.split(r#""time":""#).nth(1).unwrap();
        let time = &time[..time.find('"').unwrap()];
        assert_eq!(time.len(), "2024-01-01T00:00:00.000000Z".len(), "{time}");
        assert!(humantime::parse_rfc3339(time).is_ok());
    }

    #[test]
    fn an_unwritable_dir_says_what_to_do() {
        let dir = tempfile::tempdir().unwrap();
        let msg = CsLog::open(&dir.path().join("nope"))
            .unwrap_err()
            .to_string();
        assert!(
            msg.contains("nope/critical_section.log: cannot open"),
            "{msg}"
        );
        assert!(msg.contains("--log-dir"), "{msg}");
    }
}
