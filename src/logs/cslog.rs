//! Reading `critical_section.log` back (PROTOCOL.md §4), for `check`, `timeline` and `bench`.
//!
//! The file is written by the daemons ([`crate::daemon::cslog`]), one `O_APPEND` write per
//! line, so its order is the global order of events. This module only reads: it never
//! modifies the file, and it does not judge the run (that is [`crate::logs::check`]).

use maekawa_core::id::{NodeId, RequestId};
use serde::Deserialize;
use std::io;
use std::path::{Path, PathBuf};

/// Why the CS log cannot be read. Each message names the file and how to fix it.
#[derive(Debug, thiserror::Error)]
pub enum ReadCsLogError {
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
        /// The entry's fencing token (PROTOCOL.md §6); `None` in a log written before tokens.
        #[serde(default)]
        token: Option<u64>,
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
        /// When the node's lease ran out, if it noticed only afterwards (`reason` is then
        /// `lease_expired`): its right to the CS ended here, not at `time`.
        #[serde(default)]
        lease_end: Option<String>,
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
pub fn read_cs_log(path: &Path) -> Result<Vec<CsLine>, ReadCsLogError> {
    let text = std::fs::read_to_string(path).map_err(|source| {
        if source.kind() == io::ErrorKind::NotFound {
            ReadCsLogError::NotFound {
                path: path.to_path_buf(),
            }
        } else {
            ReadCsLogError::Read {
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
                return Err(ReadCsLogError::Malformed {
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
    use crate::logdir::CS_LOG as FILE_NAME;

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
    fn a_missing_file_says_what_to_do() {
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
    }
}
