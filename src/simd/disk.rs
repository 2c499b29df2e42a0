//! A simulated disk for one node: real files in the run's directory, but fsync only *records*
//! what a machine crash would keep, and takes seeded virtual time instead of blocking.
//!
//! A file's length is durable as of its last [`Storage::sync_file`]; a rename is durable once
//! its directory is synced. [`SimDisk::crash`] cuts every file this disk has seen back to what
//! a crash leaves: its durable length, plus (when asked) a random part of what was written
//! after it, as a torn write leaves; a file never synced disappears. Lengths are enough because
//! the daemon only appends to a file between syncs, and a crash can only come where a node's
//! task awaits (a rewrite, its sync and its rename happen with no await between them). The
//! daemon's own code decides when to sync; this module only keeps score.

use crate::daemon::Storage;
use maekawa_core::id::NodeId;
use maekawa_core::rng::SplitMix64;
use std::collections::{BTreeMap, BTreeSet};
use std::fs::File;
use std::io;
use std::path::{Path, PathBuf};
use std::sync::{Mutex, MutexGuard};
use std::time::Duration;
use tokio::sync::mpsc::UnboundedSender;

#[derive(Debug)]
struct State {
    /// How much of each file a crash keeps (absent: the file would not exist).
    durable: BTreeMap<PathBuf, u64>,
    /// Renames not yet made durable by a directory sync: (from, to).
    renames: Vec<(PathBuf, PathBuf)>,
    /// Every file this disk was asked about.
    seen: BTreeSet<PathBuf>,
    rng: SplitMix64,
    /// A sync's virtual duration, in microseconds (`lo..=hi`).
    delay_us: (u64, u64),
    /// Extra delay while a slow-disk fault lasts.
    slow: Duration,
    /// Told of every journal sync the driver waits for: (this node, how long it takes).
    starts: Option<(NodeId, UnboundedSender<(NodeId, Duration)>)>,
    syncs: u64,
}

/// One node's simulated disk (see the module).
#[derive(Debug)]
pub struct SimDisk {
    state: Mutex<State>,
}

impl SimDisk {
    /// A disk whose syncs take `delay_us` microseconds (`lo..=hi`, drawn from `seed`); each
    /// sync the driver waits for is told to `starts` with the node's id, if given.
    pub fn new(
        seed: u64,
        delay_us: (u64, u64),
        starts: Option<(NodeId, UnboundedSender<(NodeId, Duration)>)>,
    ) -> SimDisk {
        SimDisk {
            state: Mutex::new(State {
                durable: BTreeMap::new(),
                renames: Vec::new(),
                seen: BTreeSet::new(),
                rng: SplitMix64::new(seed),
                delay_us,
                slow: Duration::ZERO,
                starts,
                syncs: 0,
            }),
        }
    }

    fn state(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Makes every sync take `extra` longer (a slow disk), until set back to zero.
    pub fn set_slow(&self, extra: Duration) {
        self.state().slow = extra;
    }

    /// How many syncs were asked for.
    pub fn syncs(&self) -> u64 {
        self.state().syncs
    }

    /// A machine crash: every file goes back to its durable content; with `torn`, a random
    /// prefix of what was written after that survives too. Files never synced are removed.
    pub fn crash(&self, torn: bool) -> io::Result<()> {
        let mut st = self.state();
        st.renames.clear();
        let seen: Vec<PathBuf> = st.seen.iter().cloned().collect();
        for path in seen {
            let now = match std::fs::metadata(&path) {
                Ok(m) => Some(m.len()),
                Err(e) if e.kind() == io::ErrorKind::NotFound => None,
                Err(e) => return Err(e),
            };
            match (st.durable.get(&path).copied(), now) {
                (None, Some(_)) => std::fs::remove_file(&path)?,
                (Some(keep), Some(now)) if now > keep => {
                    let extra = if torn {
                        st.rng.below(now - keep + 1)
                    } else {
                        0
                    };
                    std::fs::OpenOptions::new()
                        .write(true)
                        .open(&path)?
                        .set_len(keep + extra)?;
                }
                _ => {}
            }
        }
        Ok(())
    }

    /// The disk is lost: `paths` are gone, and so is everything this disk knew of them.
    pub fn lose(&self, paths: &[PathBuf]) -> io::Result<()> {
        let mut st = self.state();
        for p in paths {
            st.durable.remove(p);
            match std::fs::remove_file(p) {
                Err(e) if e.kind() != io::ErrorKind::NotFound => return Err(e),
                _ => {}
            }
        }
        Ok(())
    }
}

impl Storage for SimDisk {
    fn sync_file(&self, file: &File, path: &Path) -> io::Result<()> {
        let len = file.metadata()?.len();
        let mut st = self.state();
        st.syncs += 1;
        st.seen.insert(path.to_path_buf());
        st.durable.insert(path.to_path_buf(), len);
        Ok(())
    }

    fn rename(&self, from: &Path, to: &Path) -> io::Result<()> {
        std::fs::rename(from, to)?;
        let mut st = self.state();
        st.seen.insert(from.to_path_buf());
        st.seen.insert(to.to_path_buf());
        st.renames.push((from.to_path_buf(), to.to_path_buf()));
        Ok(())
    }

    fn sync_dir(&self, path: &Path) -> io::Result<()> {
        let dir = path.parent().map(Path::to_path_buf).unwrap_or_default();
        let mut st = self.state();
        st.seen.insert(path.to_path_buf());
        let renames = std::mem::take(&mut st.renames);
        for (from, to) in renames {
            if from.parent() == Some(dir.as_path()) {
                let len = st.durable.remove(&from).unwrap_or_default();
                st.durable.insert(to, len);
            } else {
                st.renames.push((from, to));
            }
        }
        // A file created (and synced) earlier is now surely in its directory.
        if !st.durable.contains_key(path) && path.exists() {
            st.durable.insert(path.to_path_buf(), 0);
        }
        Ok(())
    }

    fn sync_delay(&self) -> Option<Duration> {
        let mut st = self.state();
        let (lo, hi) = st.delay_us;
        let d = Duration::from_micros(st.rng.between(lo, hi)) + st.slow;
        if let Some((id, starts)) = &st.starts {
            let _ = starts.send((*id, d));
        }
        Some(d)
    }
}
