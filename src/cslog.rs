//! The emulated critical section: `critical_section.log`, shared by every node of a run
//! (PROTOCOL.md §4).
//!
//! Every node appends one JSON line when it starts, one when it enters the CS and one when it
//! leaves. Each line goes out in a single `write` on a file opened with `O_APPEND`, so lines
//! from different processes never interleave and the file order is the global order of events:
//! that is what lets [`crate::check`] prove mutual exclusion from the file alone. This module
//! only writes and reads that file; it must not decide when a node may enter (that is the
//! protocol's job) and it does not fsync (the order, not durability, is the contract).

use crate::id::{NodeId, RequestId};
use serde::{Deserialize, Serialize};
use std::fs::{File, OpenOptions};
use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::time::SystemTime;

/// The file name inside the log directory; scripts and tests expect exactly this name.
pub const FILE_NAME: &str = "critical_section.log";

/// Why the CS log cannot be written or read. Each message names the file and how to fix it.
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
    /// There is no CS log to read.
    #[error("{path}: not found; is --log-dir the directory the nodes wrote to?")]
    NotFound {
        /// The file.
        path: PathBuf,
    },
    /// The file exists but cannot be read.
    #[error("{path}: cannot read ({source}); check its permissions")]
    Read {
        /// The file.
        path: PathBuf,
        /// What the operating system said.
        source: io::Error,
    },
    /// A line that is not one of the three event objects.
    #[error("{path}:{line}: {problem}; every line must be a start, enter or exit object as written by `maekawa node`")]
    Malformed {
        /// The file.
        path: PathBuf,
        /// The 1-based line number.
        line: usize,
        /// What the parser said.
        problem: String,
    },
}

/// The writer a node keeps for its whole life; every method appends exactly one line.
#[derive(Debug)]
pub struct CsLog {
    path: PathBuf,
    file: File,
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
    time: String,
}

#[derive(Serialize)]
struct ExitLine {
    event: &'static str,
    node: NodeId,
    entry: u64,
    time: String,
}

fn now() -> String {
    humantime::format_rfc3339_micros(SystemTime::now()).to_string()
}

impl CsLog {
    /// Opens (creating if needed) `<log_dir>/critical_section.log` for appending.
    pub fn open(log_dir: &Path) -> Result<CsLog, CsLogError> {
        let path = log_dir.join(FILE_NAME);
        let file = OpenOptions::new()
            .append(true)
            .create(true)
            .open(&path)
            .map_err(|source| CsLogError::Open {
                path: path.clone(),
                source,
            })?;
        Ok(CsLog { path, file })
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
            time: now(),
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
    ) -> Result<(), CsLogError> {
        self.append(&EnterLine {
            event: "enter",
            node,
            entry,
            request: CsRequest {
                ts: req.ts,
                node: req.node,
            },
            votes,
            time: now(),
        })
    }

    /// Records that `node` left its `entry`-th CS. Must be written before any RELEASE leaves.
    pub fn exit(&mut self, node: NodeId, entry: u64) -> Result<(), CsLogError> {
        self.append(&ExitLine {
            event: "exit",
            node,
            entry,
            time: now(),
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

/// One line of the CS log, as read back. Unknown extra fields are ignored so that older checkers
/// can read newer logs; an unknown `event` is an error.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(tag = "event", rename_all = "lowercase")]
pub enum CsEvent {
    /// A process of `node` started; its predecessor's open CS (if any) ended.
    Start {
        /// The node.
        node: NodeId,
        /// The new process's incarnation number.
        incarnation: u64,
        /// When, as written (RFC 3339).
        time: String,
    },
    /// `node` entered the CS.
    Enter {
        /// The node.
        node: NodeId,
        /// Per-process entry number, from 1.
        entry: u64,
        /// The request that won.
        request: RequestId,
        /// The voters whose grants it held.
        votes: Vec<NodeId>,
        /// When, as written (RFC 3339).
        time: String,
    },
    /// `node` left the CS.
    Exit {
        /// The node.
        node: NodeId,
        /// The entry number it left.
        entry: u64,
        /// When, as written (RFC 3339).
        time: String,
    },
}

/// A parsed line with its place in the file, so that findings can point at it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CsLine {
    /// 1-based line number.
    pub line: usize,
    /// What the line says.
    pub event: CsEvent,
}

/// Reads a whole CS log in file order (which is the global order of events).
///
/// Blank lines are skipped. An unterminated last line that does not parse is skipped too: it
/// can only be a write still in flight while the file is read; any other bad line is an error.
pub fn read_cs_log(path: &Path) -> Result<Vec<CsLine>, CsLogError> {
    let text = std::fs::read_to_string(path).map_err(|source| {
        if source.kind() == io::ErrorKind::NotFound {
            CsLogError::NotFound {
                path: path.to_path_buf(),
            }
        } else {
            CsLogError::Read {
                path: path.to_path_buf(),
                source,
            }
        }
    })?;
    let unterminated_tail = !text.is_empty() && !text.ends_with('\n');
    let count = text.lines().count();
    let mut out = Vec::new();
    for (i, raw) in text.lines().enumerate() {
        if raw.trim().is_empty() {
            continue;
        }
        match serde_json::from_str::<CsEvent>(raw) {
            Ok(event) => out.push(CsLine { line: i + 1, event }),
            Err(_) if unterminated_tail && i + 1 == count => {}
            Err(e) => {
                return Err(CsLogError::Malformed {
                    path: path.to_path_buf(),
                    line: i + 1,
                    problem: e.to_string(),
                })
            }
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn req(ts: u64, node: u32) -> RequestId {
        // The CS log does not carry the incarnation: it reads back as 0.
        RequestId {
            ts,
            node: NodeId(node),
            inc: 0,
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
        log.enter(NodeId(1), 5, req(17, 1), &[NodeId(0), NodeId(1)])
            .unwrap();
        log.exit(NodeId(1), 5).unwrap();
        let text = std::fs::read_to_string(dir.path().join(FILE_NAME)).unwrap();
        let lines: Vec<String> = text.lines().map(shape).collect();
        assert_eq!(
            lines,
            [
                r#"{"event":"start","node":1,"incarnation":7,"time":"T"}"#,
                r#"{"event":"enter","node":1,"entry":5,"request":{"ts":17,"node":1},"votes":[0,1],"time":"T"}"#,
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
    fn two_writers_append_and_read_back_in_order() {
        let dir = tempfile::tempdir().unwrap();
        let mut a = CsLog::open(dir.path()).unwrap();
        let mut b = CsLog::open(dir.path()).unwrap();
        a.start(NodeId(0), 1).unwrap();
        b.start(NodeId(1), 3).unwrap();
        a.enter(NodeId(0), 1, req(2, 0), &[NodeId(0), NodeId(1)])
            .unwrap();
        a.exit(NodeId(0), 1).unwrap();
        let lines = read_cs_log(&dir.path().join(FILE_NAME)).unwrap();
        assert_eq!(lines.len(), 4);
        assert_eq!(lines[1].line, 2);
        assert!(matches!(
            lines[1].event,
            CsEvent::Start {
                node: NodeId(1),
                incarnation: 3,
                ..
            }
        ));
        assert_eq!(
            lines[2].event,
            CsEvent::Enter {
                node: NodeId(0),
                entry: 1,
                request: req(2, 0),
                votes: vec![NodeId(0), NodeId(1)],
                time: match &lines[2].event {
                    CsEvent::Enter { time, .. } => time.clone(),
                    _ => unreachable!(),
                },
            }
        );
    }

    #[test]
    fn reader_ignores_extra_fields_and_blank_lines_but_names_bad_lines() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join(FILE_NAME);
        std::fs::write(
            &path,
            "{\"event\":\"exit\",\"node\":2,\"entry\":1,\"time\":\"t\",\"new\":true}\n\n\
             {\"event\":\"enter\",\"node\":2}\n",
        )
        .unwrap();
        let err = read_cs_log(&path).unwrap_err();
        let msg = err.to_string();
        assert!(
            msg.contains("critical_section.log:3: missing field"),
            "{msg}"
        );

        std::fs::write(
            &path,
            "{\"event\":\"exit\",\"node\":2,\"entry\":1,\"time\":\"t\",\"new\":true}\n\n{\"event\":\"ent",
        )
        .unwrap();
        let lines = read_cs_log(&path).unwrap();
        assert_eq!(lines.len(), 1, "torn tail skipped");
    }

    #[test]
    fn missing_file_and_unwritable_dir_say_what_to_do() {
        let dir = tempfile::tempdir().unwrap();
        let msg = read_cs_log(&dir.path().join(FILE_NAME))
            .unwrap_err()
            .to_string();
        assert!(
            msg.ends_with(
                "critical_section.log: not found; is --log-dir the directory the nodes wrote to?"
            ),
            "{msg}"
        );
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
