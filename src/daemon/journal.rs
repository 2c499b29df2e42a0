//! The voter's durable locks and the token floor: for each named lock, which request holds this
//! node's vote, kept in `<log-dir>/node-<id>.journal` so that a restarted voter never grants
//! twice because it forgot a grant (PROTOCOL.md §3); and the largest fencing token this node
//! knows of, so that no token is handed out twice (DESIGN.md, "Fencing tokens"). The driver
//! records every change here, and waits for the sync, before any GRANT or entry that depends
//! on it.
//!
//! This module only stores and replays the lock; it must not interpret it (reconciling a lock
//! held by an older incarnation is the protocol's job) and must never guess: a record it cannot
//! prove was a crash's torn tail is refused, not skipped.
//!
//! # File format
//!
//! Append-only UTF-8 JSON lines, one record per line, each ending in `\n`:
//!
//! ```text
//! {"seq":12,"lock":{"ts":3,"node":1,"inc":2},"sum":"9f3a0c5e1b2d4f67"}
//! {"seq":13,"lock":null,"floor":4,"sum":"0123456789abcdef"}
//! {"seq":14,"lock":{"ts":9,"node":2,"inc":1},"name":"orders","floor":4,"sum":"…"}
//! ```
//!
//! A line is its *body*, the compact JSON object `{"seq":N,"lock":L,"name":S,"floor":F}`
//! (exactly as `serde_json::to_vec` writes it; `name` is left out for the lock `cs` and `floor`
//! when it is 0, so journals written before named locks read the same), with the body's
//! closing `}` replaced by
//! `,"sum":"<16 lowercase hex digits>"}`. `sum` is the xxh3-64 of the body's bytes, so a reader
//! strips the fixed 26-byte suffix, puts back the `}`, and checks the sum over exactly the
//! bytes that were hashed. `seq` strictly increases from line to line (compaction keeps it
//! going, so it never restarts). Each record sets the vote of one lock (`null`: not given) and
//! the floor; replaying them in order gives every lock's vote (the last record of its name) and
//! the floor (the largest). Compaction rewrites the file as one record per vote given.
//!
//! # Replay
//!
//! Only the last line may be bad, and only in a way a crash inside [`Journal::record`] can
//! produce: missing its `\n`, or failing its checksum. Such a record was never acknowledged, so
//! no GRANT depended on it; it is cut off and the previous record is the lock. Anything else
//! (a bad line before the last, a checksummed line that does not parse, a `seq` that does not
//! increase) is [`JournalError::Corrupt`].

use super::env::{OsStorage, Storage};
use crate::logdir;
use maekawa_core::id::{NodeId, RequestId};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::fs::{File, OpenOptions};
use std::io::{self, Read, Write};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use xxhash_rust::xxh3::xxh3_64;

/// Past this size, [`Journal::record`] rewrites the file as a single record.
const COMPACT_AT: u64 = 64 * 1024;

/// `,"sum":"` + 16 hex digits + `"}`.
const SUM_SUFFIX_LEN: usize = 26;

/// One `sync_data` of the journal, taken out by [`Journal::sync_job`] so that it can block
/// another thread instead of the node's event loop.
#[derive(Debug)]
pub struct SyncJob {
    file: File,
    path: PathBuf,
}

impl SyncJob {
    /// Blocks until every record written before the job was taken is on disk.
    pub fn run(self, storage: &dyn Storage) -> Result<(), JournalError> {
        storage
            .sync_file(&self.file, &self.path)
            .map_err(|source| JournalError::Io {
                path: self.path,
                op: "sync",
                source,
            })
    }
}

/// Why the journal could not be opened or written.
#[derive(Debug, thiserror::Error)]
pub enum JournalError {
    /// A record other than a torn last one is bad: the durable lock is unknown.
    #[error("{path}:{line}: corrupt journal record ({why}); the voter cannot know which vote it gave: restore it from a backup; deleting it is safe only with every node stopped and every node's journal deleted (a fresh cluster: votes forgotten, fencing tokens starting again from 1)")]
    Corrupt {
        /// The journal file.
        path: PathBuf,
        /// 1-based line number of the bad record.
        line: usize,
        /// What is wrong with it.
        why: String,
    },
    /// The file system refused an operation.
    #[error("{path}: cannot {op} the journal ({source}); check that --log-dir is writable and the disk is not full")]
    Io {
        /// The file or directory concerned.
        path: PathBuf,
        /// What was being done, e.g. "sync".
        op: &'static str,
        /// The underlying error.
        source: io::Error,
    },
    /// An earlier write failed, so what the file holds after the last good record is unknown.
    #[error("{path}: an earlier journal write failed, so its tail is uncertain; restart the node so that it replays the journal")]
    Broken {
        /// The journal file.
        path: PathBuf,
    },
}

/// One line's body, in the field order it is hashed in.
#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct Record {
    seq: u64,
    lock: Option<RequestId>,
    #[serde(default = "cs", skip_serializing_if = "is_cs")]
    name: String,
    #[serde(default, skip_serializing_if = "is_zero")]
    floor: u64,
}

fn cs() -> String {
    "cs".to_string()
}

fn is_cs(name: &str) -> bool {
    name == "cs"
}

fn is_zero(n: &u64) -> bool {
    *n == 0
}

/// What a journal holds: every vote given (lock name and request) and the token floor.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Restored {
    /// The votes, by lock name.
    pub votes: BTreeMap<String, RequestId>,
    /// No entry this node knows of had a larger fencing token.
    pub floor: u64,
}

impl Restored {
    /// The vote of the emulated CS (the lock `cs`).
    pub fn cs(&self) -> Option<RequestId> {
        self.votes.get("cs").copied()
    }
}

/// The open journal of one voter; appends go to the end of the file.
#[derive(Debug)]
pub struct Journal {
    /// Makes writes and renames durable.
    storage: Arc<dyn Storage>,
    file: File,
    path: PathBuf,
    /// Bytes in the file, all of them good records.
    len: u64,
    /// `seq` of the last good record (0 when there is none).
    seq: u64,
    /// Set when a write or sync failed: the tail may hold a partial record, so appending more
    /// could bury it mid-file.
    broken: bool,
    /// Records written since the last sync.
    unsynced: bool,
    /// The floor of the records made durable so far ([`Journal::durable_floor`]).
    durable_floor: u64,
    compact_at: u64,
    /// What the records written so far add up to (what a compaction writes).
    state: Restored,
    /// Size of the file the last compaction wrote.
    compacted_len: u64,
}

impl Journal {
    /// Opens (creating if absent) and replays `<dir>/node-<node>.journal`: returns the journal
    /// and the last durable lock, so the voter resumes exactly the vote it may have given.
    ///
    /// A torn last record is cut off (and the cut made durable) so later appends start on a
    /// clean line.
    pub fn open(dir: &Path, node: NodeId) -> Result<(Journal, Restored), JournalError> {
        Journal::open_on(dir, node, Arc::new(OsStorage))
    }

    /// [`Journal::open`], its syncs and renames made durable by `storage`.
    pub fn open_on(
        dir: &Path,
        node: NodeId,
        storage: Arc<dyn Storage>,
    ) -> Result<(Journal, Restored), JournalError> {
        let path = logdir::journal(dir, node);
        let io_err = |op, path: &Path| {
            let path = path.to_path_buf();
            move |source| JournalError::Io { path, op, source }
        };
        // A compaction that crashed before its rename leaves this behind; the journal itself is
        // intact, so the leftover only needs tidying.
        match std::fs::remove_file(tmp_path(&path)) {
            Err(e) if e.kind() != io::ErrorKind::NotFound => {
                return Err(io_err("remove the leftover temporary file of", &path)(e))
            }
            _ => {}
        }
        let mut file = OpenOptions::new()
            .read(true)
            .append(true)
            .create(true)
            .open(&path)
            .map_err(io_err("open", &path))?;
        // The file's directory entry must be durable too, or a crash could lose a new journal
        // whose first record was already acknowledged.
        sync_dir(&*storage, &path)?;
        let mut bytes = Vec::new();
        file.read_to_end(&mut bytes)
            .map_err(io_err("read", &path))?;
        let replay = replay(&bytes).map_err(|(line, why)| JournalError::Corrupt {
            path: path.clone(),
            line,
            why,
        })?;
        if replay.good_len < bytes.len() as u64 {
            file.set_len(replay.good_len)
                .map_err(io_err("truncate the torn last record of", &path))?;
            storage
                .sync_file(&file, &path)
                .map_err(io_err("sync", &path))?;
        }
        let journal = Journal {
            storage,
            file,
            path,
            len: replay.good_len,
            seq: replay.seq,
            broken: false,
            unsynced: false,
            durable_floor: replay.state.floor,
            compact_at: COMPACT_AT,
            state: replay.state.clone(),
            compacted_len: 0,
        };
        Ok((journal, replay.state))
    }

    /// Appends the new lock and syncs it to disk before returning: after `Ok`, a crash cannot
    /// lose it, so a GRANT may leave. After an `Err` the journal refuses further records
    /// ([`JournalError::Broken`]); the node must stop and replay it on restart.
    pub fn record(&mut self, lock: Option<RequestId>) -> Result<(), JournalError> {
        self.write(lock)?;
        self.sync()
    }

    /// The vote of the lock `cs`, written as [`Journal::write_vote`] does, with the current
    /// floor.
    pub fn write(&mut self, lock: Option<RequestId>) -> Result<(), JournalError> {
        let floor = self.state.floor;
        self.write_vote("cs", lock, floor)
    }

    /// Makes every record written so far durable. Callers that [`Journal::write`] several
    /// decisions call this once before any GRANT those decisions protect may leave: one fsync
    /// for a whole batch.
    pub fn sync(&mut self) -> Result<(), JournalError> {
        match self.sync_job()? {
            Some(job) => job.run(&*self.storage).inspect_err(|_| self.broken = true),
            None => Ok(()),
        }
    }

    /// The floor (reservation) of the records already durable (synced, or counted as synced
    /// by a [`Journal::sync_job`] taken out): an entry whose token is above it must wait for a
    /// sync, even when its own batch wrote no record (the reservation that covers it may have
    /// been written by an earlier batch whose GRANT went to this node itself, which waits for
    /// no sync).
    pub fn durable_floor(&self) -> u64 {
        self.durable_floor
    }

    /// The floor (reservation) of every record written so far, durable or not.
    pub fn written_floor(&self) -> u64 {
        self.state.floor
    }

    /// Takes the pending sync out of the journal, to run on a blocking thread while the
    /// caller's runtime goes on sending what need not wait for the disk. `None` when every
    /// record is already durable. The journal counts the records as synced from here on, so
    /// the caller must stop if [`SyncJob::run`] fails.
    pub fn sync_job(&mut self) -> Result<Option<SyncJob>, JournalError> {
        if !self.unsynced {
            return Ok(None);
        }
        let file = self.file.try_clone().map_err(|source| {
            self.broken = true;
            JournalError::Io {
                path: self.path.clone(),
                op: "sync",
                source,
            }
        })?;
        self.unsynced = false;
        self.durable_floor = self.state.floor;
        Ok(Some(SyncJob {
            file,
            path: self.path.clone(),
        }))
    }

    /// Appends a record of the token floor alone (the vote of `cs` as the journal holds it
    /// now, unchanged), not yet synced: see [`Journal::write_vote`].
    pub fn write_floor(&mut self, floor: u64) -> Result<(), JournalError> {
        let vote = self.state.cs();
        self.write_vote("cs", vote, floor)
    }

    /// Appends lock `name`'s new vote and the floor without waiting for the disk: not durable
    /// until [`Journal::sync`]. A crash before that may tear or lose it, which replay tolerates
    /// for the last record (no GRANT can have depended on it).
    pub fn write_vote(
        &mut self,
        name: &str,
        lock: Option<RequestId>,
        floor: u64,
    ) -> Result<(), JournalError> {
        if self.broken {
            return Err(JournalError::Broken {
                path: self.path.clone(),
            });
        }
        let seq = self.seq + 1;
        let line = encode_named(seq, name, lock, floor);
        apply(&mut self.state, name, lock, floor);
        // Past twice the last compaction's size too, so many votes held at once (many locks in
        // use) do not make every write a compaction.
        let limit = self.compact_at.max(2 * self.compacted_len);
        let result = if self.len + line.len() as u64 > limit {
            self.compact()
        } else {
            self.append(&line)
        };
        match result {
            Ok(()) => Ok(()),
            Err(e) => {
                self.broken = true;
                Err(e)
            }
        }
    }

    /// The journal file's size in bytes (the `maekawa_journal_bytes` metric).
    pub fn size_bytes(&self) -> u64 {
        self.len
    }

    /// The journal file, for messages and logs.
    pub fn path(&self) -> &Path {
        &self.path
    }

    fn append(&mut self, line: &[u8]) -> Result<(), JournalError> {
        let io_err = |op| {
            let path = self.path.clone();
            move |source| JournalError::Io { path, op, source }
        };
        self.file.write_all(line).map_err(io_err("append to"))?;
        self.len += line.len() as u64;
        self.seq += 1;
        self.unsynced = true;
        Ok(())
    }

    /// Replaces the file by one holding only the current state (one record per vote given,
    /// each with the floor; one unlocked `cs` record when there is none): written to a
    /// temporary file, synced, renamed over the journal, and the rename made durable. A crash
    /// at any point leaves either the old journal or the new one, each ending in a good record.
    fn compact(&mut self) -> Result<(), JournalError> {
        let mut bytes = Vec::new();
        let mut seq = self.seq;
        let floor = self.state.floor;
        if self.state.votes.is_empty() {
            seq += 1;
            bytes.extend(encode_named(seq, "cs", None, floor));
        }
        for (name, req) in &self.state.votes {
            seq += 1;
            bytes.extend(encode_named(seq, name, Some(*req), floor));
        }
        let line = &bytes[..];
        let tmp = tmp_path(&self.path);
        let io_err = |op, path: &Path| {
            let path = path.to_path_buf();
            move |source| JournalError::Io { path, op, source }
        };
        {
            let mut f = File::create(&tmp).map_err(io_err("create the compacted copy of", &tmp))?;
            f.write_all(line)
                .map_err(io_err("write the compacted copy of", &tmp))?;
            self.storage
                .sync_new_file(&f, &tmp)
                .map_err(io_err("sync the compacted copy of", &tmp))?;
        }
        self.storage
            .rename(&tmp, &self.path)
            .map_err(io_err("rename the compacted copy over", &self.path))?;
        sync_dir(&*self.storage, &self.path)?;
        // The compacted file holds only the current state, already durable.
        self.unsynced = false;
        self.durable_floor = self.state.floor;
        self.file = OpenOptions::new()
            .read(true)
            .append(true)
            .open(&self.path)
            .map_err(io_err("reopen", &self.path))?;
        self.len = line.len() as u64;
        self.compacted_len = self.len;
        self.seq = seq;
        Ok(())
    }
}

/// Folds one record into the state.
fn apply(state: &mut Restored, name: &str, lock: Option<RequestId>, floor: u64) {
    match lock {
        Some(r) => {
            state.votes.insert(name.to_string(), r);
        }
        None => {
            state.votes.remove(name);
        }
    }
    state.floor = state.floor.max(floor);
}

/// What replaying a journal's bytes found.
#[derive(Debug)]
struct Replay {
    state: Restored,
    seq: u64,
    /// Length of the prefix made of good records; anything after it is a torn tail.
    good_len: u64,
}

/// Replays a whole journal, or says which line (1-based) is corrupt and why.
fn replay(bytes: &[u8]) -> Result<Replay, (usize, String)> {
    let mut out = Replay {
        state: Restored::default(),
        seq: 0,
        good_len: 0,
    };
    let mut start = 0;
    let mut number = 0;
    while start < bytes.len() {
        number += 1;
        let (line, end, complete) = match bytes[start..].iter().position(|&b| b == b'\n') {
            Some(i) => (&bytes[start..start + i], start + i + 1, true),
            None => (&bytes[start..], bytes.len(), false),
        };
        let is_last = end == bytes.len();
        if !complete {
            // A partial write: the record never got its newline, so it was never acknowledged.
            break;
        }
        let record = match decode(line) {
            Ok(record) => record,
            Err(Bad::Torn(_)) if is_last => break,
            Err(Bad::Torn(why) | Bad::Invalid(why)) => return Err((number, why)),
        };
        if record.seq <= out.seq && number > 1 {
            return Err((
                number,
                format!(
                    "seq {} does not follow seq {} on the line before",
                    record.seq, out.seq
                ),
            ));
        }
        apply(&mut out.state, &record.name, record.lock, record.floor);
        out.seq = record.seq;
        out.good_len = end as u64;
        start = end;
    }
    Ok(out)
}

/// Why a line is not a good record.
enum Bad {
    /// The checksum does not hold: what a crash mid-write can leave.
    Torn(String),
    /// The checksum holds but the record is not one this code writes: no crash explains it.
    Invalid(String),
}

/// Serialises one record as its line, `\n` included (format in the module docs).
#[cfg(test)]
fn encode(seq: u64, lock: Option<RequestId>) -> Vec<u8> {
    encode_named(seq, "cs", lock, 0)
}

/// Serialises one record of lock `name` as its line, `\n` included.
fn encode_named(seq: u64, name: &str, lock: Option<RequestId>, floor: u64) -> Vec<u8> {
    let record = Record {
        seq,
        lock,
        name: name.to_string(),
        floor,
    };
    let mut line = serde_json::to_vec(&record).expect("a journal record always serialises");
    let sum = xxh3_64(&line);
    line.pop(); // the body's closing '}'
    line.extend_from_slice(format!(",\"sum\":\"{sum:016x}\"}}\n").as_bytes());
    line
}

/// Checks and parses one line (without its `\n`).
fn decode(line: &[u8]) -> Result<Record, Bad> {
    let Some(split) = line.len().checked_sub(SUM_SUFFIX_LEN) else {
        return Err(Bad::Torn(format!(
            "{} bytes, too short for a record",
            line.len()
        )));
    };
    let (head, suffix) = line.split_at(split);
    let (Some(hex), Some(b"\"}")) = (
        suffix.strip_prefix(b",\"sum\":\"").map(|s| &s[..16]),
        suffix.get(24..),
    ) else {
        return Err(Bad::Torn("no \"sum\" field at the end".into()));
    };
    let mut body = head.to_vec();
    body.push(b'}');
    let sum = format!("{:016x}", xxh3_64(&body));
    if hex != sum.as_bytes() {
        return Err(Bad::Torn(format!(
            "checksum mismatch: the line says {}, its content hashes to {sum}",
            String::from_utf8_lossy(hex)
        )));
    }
    serde_json::from_slice(&body).map_err(|e| Bad::Invalid(format!("not a journal record: {e}")))
}

fn tmp_path(path: &Path) -> PathBuf {
    let mut name = path.as_os_str().to_owned();
    name.push(".tmp");
    PathBuf::from(name)
}

/// Makes the directory entries under `path`'s parent (a creation or a rename) durable.
fn sync_dir(storage: &dyn Storage, path: &Path) -> Result<(), JournalError> {
    storage.sync_dir(path).map_err(|source| JournalError::Io {
        path: path.parent().unwrap_or(Path::new(".")).to_path_buf(),
        op: "sync the directory of",
        source,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use maekawa_core::id::{Incarnation, Lamport};

    const ME: NodeId = NodeId(1);

    fn req(ts: u64, node: u32, inc: u64) -> RequestId {
        RequestId {
            ts: Lamport(ts),
            node: NodeId(node),
            inc: Incarnation(inc),
            epoch: maekawa_core::id::Epoch(0),
        }
    }

    fn reopen(dir: &Path) -> (Journal, Option<RequestId>) {
        let (j, restored) = Journal::open(dir, ME).expect("journal opens");
        (j, restored.cs())
    }

    fn append_raw(path: &Path, bytes: &[u8]) {
        let mut f = OpenOptions::new().append(true).open(path).unwrap();
        f.write_all(bytes).unwrap();
    }

    #[test]
    fn absent_file_means_no_lock_and_creates_it() {
        let dir = tempfile::tempdir().unwrap();
        let (j, lock) = reopen(dir.path());
        assert_eq!(lock, None);
        assert_eq!(j.path(), dir.path().join("node-1.journal"));
        assert!(j.path().exists());
        drop(j);
        assert_eq!(reopen(dir.path()).1, None, "an empty file means no lock");
    }

    #[test]
    fn round_trip_returns_the_last_record() {
        let dir = tempfile::tempdir().unwrap();
        let (mut j, _) = reopen(dir.path());
        j.record(Some(req(3, 1, 2))).unwrap();
        j.record(None).unwrap();
        j.record(Some(req(7, 2, 1))).unwrap();
        drop(j);
        let (mut j, lock) = reopen(dir.path());
        assert_eq!(lock, Some(req(7, 2, 1)));
        j.record(Some(req(9, 0, 5))).unwrap();
        drop(j);
        assert_eq!(reopen(dir.path()).1, Some(req(9, 0, 5)));
    }

    #[test]
    fn none_lock_round_trips() {
        let dir = tempfile::tempdir().unwrap();
        let (mut j, _) = reopen(dir.path());
        j.record(Some(req(3, 1, 2))).unwrap();
        j.record(None).unwrap();
        drop(j);
        assert_eq!(reopen(dir.path()).1, None);
    }

    #[test]
    fn lines_follow_the_documented_format() {
        let dir = tempfile::tempdir().unwrap();
        let (mut j, _) = reopen(dir.path());
        j.record(Some(req(3, 1, 2))).unwrap();
        j.record(None).unwrap();
        let text = std::fs::read_to_string(j.path()).unwrap();
        let lines: Vec<&str> = text.lines().collect();
        let body = br#"{"seq":1,"lock":{"ts":3,"node":1,"inc":2}}"#;
        assert_eq!(
            lines[0],
            format!(
                r#"{{"seq":1,"lock":{{"ts":3,"node":1,"inc":2}},"sum":"{:016x}"}}"#,
                xxh3_64(body)
            )
        );
        let body = br#"{"seq":2,"lock":null}"#;
        assert_eq!(
            lines[1],
            format!(r#"{{"seq":2,"lock":null,"sum":"{:016x}"}}"#, xxh3_64(body))
        );
        assert!(text.ends_with('\n'));
    }

    /// Writes two good records then `tail`, and checks that reopening yields the second record,
    /// cuts the tail off, and that appending afterwards still replays cleanly.
    fn torn_tail_is_ignored(tail: &[u8]) {
        let dir = tempfile::tempdir().unwrap();
        let (mut j, _) = reopen(dir.path());
        j.record(Some(req(3, 1, 2))).unwrap();
        j.record(Some(req(4, 2, 1))).unwrap();
        let path = j.path().to_path_buf();
        drop(j);
        let good = std::fs::read(&path).unwrap();
        append_raw(&path, tail);

        let (mut j, lock) = reopen(dir.path());
        assert_eq!(lock, Some(req(4, 2, 1)));
        assert_eq!(
            std::fs::read(&path).unwrap(),
            good,
            "the torn tail is cut off"
        );
        j.record(None).unwrap();
        j.record(Some(req(8, 0, 3))).unwrap();
        drop(j);
        assert_eq!(reopen(dir.path()).1, Some(req(8, 0, 3)));
    }

    #[test]
    fn partial_last_line_without_newline_is_ignored() {
        let line = encode(3, Some(req(5, 0, 1)));
        torn_tail_is_ignored(&line[..line.len() / 2]);
    }

    #[test]
    fn whole_last_record_missing_only_its_newline_is_ignored() {
        let line = encode(3, Some(req(5, 0, 1)));
        torn_tail_is_ignored(&line[..line.len() - 1]);
    }

    #[test]
    fn garbage_last_line_is_ignored() {
        torn_tail_is_ignored(b"\0\0\0\0garbage\0\0\n");
    }

    #[test]
    fn bad_checksum_on_last_line_is_ignored() {
        let mut line = encode(3, Some(req(5, 0, 1)));
        line[10] ^= 1; // inside the lock, so the hashed body changes
        torn_tail_is_ignored(&line);
    }

    #[test]
    fn empty_last_line_is_ignored() {
        torn_tail_is_ignored(b"\n");
    }

    #[test]
    fn corruption_before_the_last_line_is_refused_with_its_line_number() {
        let dir = tempfile::tempdir().unwrap();
        let (mut j, _) = reopen(dir.path());
        for ts in 1..=4 {
            j.record(Some(req(ts, 1, 1))).unwrap();
        }
        let path = j.path().to_path_buf();
        drop(j);
        let text = std::fs::read_to_string(&path).unwrap();
        let mut lines: Vec<String> = text.lines().map(str::to_owned).collect();
        lines[1] = lines[1].replace("\"ts\":2", "\"ts\":9");
        std::fs::write(&path, lines.join("\n") + "\n").unwrap();

        let err = Journal::open(dir.path(), ME).unwrap_err();
        match &err {
            JournalError::Corrupt { line, why, .. } => {
                assert_eq!(*line, 2);
                assert!(why.contains("checksum"), "{why}");
            }
            other => panic!("expected Corrupt, got {other:?}"),
        }
        let msg = err.to_string();
        assert!(msg.starts_with(&format!("{}:2: corrupt journal record", path.display())));
        assert!(msg.contains("restore it from a backup"), "{msg}");
        assert!(msg.contains("every node's journal deleted"), "{msg}");
        assert!(!msg.contains('\n'));
        assert_eq!(
            std::fs::read_to_string(&path).unwrap(),
            lines.join("\n") + "\n",
            "a refused journal is left as it was"
        );
    }

    #[test]
    fn unparsable_line_in_the_middle_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("node-1.journal");
        let mut bytes = encode(1, None);
        bytes.extend_from_slice(b"not json at all\n");
        bytes.extend_from_slice(&encode(2, None));
        std::fs::write(&path, bytes).unwrap();
        let err = Journal::open(dir.path(), ME).unwrap_err();
        assert!(
            matches!(err, JournalError::Corrupt { line: 2, .. }),
            "{err:?}"
        );
    }

    #[test]
    fn seq_that_does_not_increase_is_refused_even_on_the_last_line() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("node-1.journal");
        let mut bytes = encode(5, None);
        bytes.extend_from_slice(&encode(5, Some(req(1, 1, 1))));
        std::fs::write(&path, bytes).unwrap();
        let err = Journal::open(dir.path(), ME).unwrap_err();
        match err {
            JournalError::Corrupt { line: 2, why, .. } => assert!(why.contains("seq 5"), "{why}"),
            other => panic!("expected Corrupt at line 2, got {other:?}"),
        }
    }

    #[test]
    fn checksummed_record_of_another_shape_is_refused_even_on_the_last_line() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("node-1.journal");
        let body = br#"{"seq":2,"lock":"mine"}"#;
        let mut bytes = encode(1, None);
        bytes.extend_from_slice(&body[..body.len() - 1]);
        bytes.extend_from_slice(format!(",\"sum\":\"{:016x}\"}}\n", xxh3_64(body)).as_bytes());
        std::fs::write(&path, bytes).unwrap();
        let err = Journal::open(dir.path(), ME).unwrap_err();
        assert!(
            matches!(err, JournalError::Corrupt { line: 2, .. }),
            "{err:?}"
        );
    }

    #[test]
    fn compaction_keeps_the_last_lock_and_the_file_small() {
        let dir = tempfile::tempdir().unwrap();
        let (mut j, _) = reopen(dir.path());
        j.compact_at = 1024;
        for ts in 1..=200u64 {
            let lock = (ts % 3 != 0).then(|| req(ts, (ts % 5) as u32, ts / 7));
            j.record(lock).unwrap();
            let len = std::fs::metadata(j.path()).unwrap().len();
            assert!(len <= 1024, "file grew to {len} bytes");
            assert_eq!(len, j.len);
        }
        let last = Some(req(1000, 4, 4));
        j.record(last).unwrap();
        let path = j.path().to_path_buf();
        drop(j);
        assert!(!tmp_path(&path).exists(), "no temporary file is left");
        let text = std::fs::read_to_string(&path).unwrap();
        assert!(
            !text.starts_with(r#"{"seq":1,"#),
            "the file was compacted: {text}"
        );
        let (mut j, lock) = reopen(dir.path());
        assert_eq!(lock, last);
        assert_eq!(j.seq, 201, "seq keeps counting through compactions");
        j.record(None).unwrap();
        drop(j);
        assert_eq!(reopen(dir.path()).1, None);
    }

    #[test]
    fn compaction_at_the_default_size() {
        let dir = tempfile::tempdir().unwrap();
        let (j, _) = reopen(dir.path());
        let line_len = encode(1, Some(req(1, 1, 1))).len() as u64;
        // Pre-fill close to the limit without a sync per record.
        let mut bytes = Vec::new();
        let mut seq = 0;
        while (bytes.len() as u64) + 2 * line_len < COMPACT_AT {
            seq += 1;
            bytes.extend_from_slice(&encode(seq, Some(req(seq, 1, 1))));
        }
        std::fs::write(j.path(), &bytes).unwrap();
        drop(j);
        let (mut j, lock) = reopen(dir.path());
        assert_eq!(lock, Some(req(seq, 1, 1)));
        j.record(Some(req(1, 2, 3))).unwrap();
        j.record(Some(req(2, 2, 3))).unwrap();
        j.record(Some(req(3, 2, 3))).unwrap();
        let len = std::fs::metadata(j.path()).unwrap().len();
        assert!(len < 4 * line_len, "compacted to {len} bytes");
        drop(j);
        assert_eq!(reopen(dir.path()).1, Some(req(3, 2, 3)));
    }

    #[test]
    fn leftover_temporary_file_is_removed_on_open() {
        let dir = tempfile::tempdir().unwrap();
        let tmp = dir.path().join("node-1.journal.tmp");
        std::fs::write(&tmp, b"half a compaction").unwrap();
        let (_, lock) = reopen(dir.path());
        assert_eq!(lock, None);
        assert!(!tmp.exists());
    }

    #[test]
    fn journals_of_different_nodes_are_separate_files() {
        let dir = tempfile::tempdir().unwrap();
        let (mut a, _) = Journal::open(dir.path(), NodeId(1)).unwrap();
        let (b, lock_b) = Journal::open(dir.path(), NodeId(2)).unwrap();
        a.record(Some(req(1, 1, 1))).unwrap();
        assert_eq!(lock_b.cs(), None);
        assert_ne!(a.path(), b.path());
        drop((a, b));
        assert_eq!(Journal::open(dir.path(), NodeId(2)).unwrap().1.cs(), None);
    }
}
