//! A simulated disk for one node: real files in the run's directory, but fsync only *records*
//! what a machine crash would keep, and takes seeded virtual time instead of blocking.
//!
//! A file's length is durable as of its last [`Storage::sync_file`]; its existence, and a
//! rename, once its directory is synced ([`Storage::sync_dir`]). [`SimDisk::crash`] puts
//! every file this disk has seen back to what a crash leaves: a rename not made durable is
//! undone (the old file comes back), a file whose directory entry was never synced disappears,
//! and every other file is cut to its durable length plus (when asked) a random part of what
//! was written after it, as a torn write leaves. Lengths are enough because the daemon only
//! appends to a file between syncs, and a crash can only come where a node's task awaits. The
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
    /// How much of each file a crash keeps.
    durable: BTreeMap<PathBuf, u64>,
    /// Files whose directory entry is durable (a crash removes the others).
    entered: BTreeSet<PathBuf>,
    /// Renames not yet made durable by a directory sync, with what `to` held before.
    renames: Vec<Rename>,
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

/// A rename a crash would undo.
#[derive(Debug)]
struct Rename {
    from: PathBuf,
    to: PathBuf,
    /// `to`'s content before, and its durable length (`None`: it did not exist).
    old: Option<(Vec<u8>, u64)>,
    /// `from`'s durable length, which `to` takes once the rename is durable.
    len: u64,
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
                entered: BTreeSet::new(),
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
        for r in std::mem::take(&mut st.renames).into_iter().rev() {
            match r.old {
                Some((content, len)) => {
                    std::fs::write(&r.to, content)?;
                    st.durable.insert(r.to, len);
                }
                None => {
                    remove(&r.to)?;
                    st.entered.remove(&r.to);
                }
            }
        }
        let seen: Vec<PathBuf> = st.seen.iter().cloned().collect();
        for path in seen {
            let now = match std::fs::metadata(&path) {
                Ok(m) => m.len(),
                Err(e) if e.kind() == io::ErrorKind::NotFound => continue,
                Err(e) => return Err(e),
            };
            if !st.entered.contains(&path) {
                remove(&path)?;
                st.durable.remove(&path);
                continue;
            }
            let keep = st.durable.get(&path).copied().unwrap_or(0);
            if now > keep {
                let extra = if torn {
                    st.rng.below(now - keep + 1)
                } else {
                    0
                };
                std::fs::OpenOptions::new()
                    .write(true)
                    .open(&path)?
                    .set_len(keep + extra)?;
                // What survived the crash is on disk now.
                st.durable.insert(path, keep + extra);
            }
        }
        Ok(())
    }

    /// The disk is lost: `paths` are gone, and so is everything this disk knew of them.
    pub fn lose(&self, paths: &[PathBuf]) -> io::Result<()> {
        let mut st = self.state();
        for p in paths {
            st.durable.remove(p);
            st.entered.remove(p);
            remove(p)?;
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
        let old = match std::fs::read(to) {
            Ok(content) => Some(content),
            Err(e) if e.kind() == io::ErrorKind::NotFound => None,
            Err(e) => return Err(e),
        };
        std::fs::rename(from, to)?;
        let mut st = self.state();
        st.seen.insert(from.to_path_buf());
        st.seen.insert(to.to_path_buf());
        let old = old.map(|c| {
            let len = st.durable.get(to).copied().unwrap_or(0);
            (c, len)
        });
        let len = st.durable.get(from).copied().unwrap_or(0);
        st.renames.push(Rename {
            from: from.to_path_buf(),
            to: to.to_path_buf(),
            old,
            len,
        });
        Ok(())
    }

    fn sync_dir(&self, path: &Path) -> io::Result<()> {
        let dir = path.parent().map(Path::to_path_buf).unwrap_or_default();
        let mut st = self.state();
        st.seen.insert(path.to_path_buf());
        let (done, pending): (Vec<Rename>, Vec<Rename>) = std::mem::take(&mut st.renames)
            .into_iter()
            .partition(|r| r.to.parent() == Some(dir.as_path()));
        st.renames = pending;
        for r in done {
            st.durable.remove(&r.from);
            st.entered.remove(&r.from);
            st.durable.insert(r.to.clone(), r.len);
            st.entered.insert(r.to);
        }
        // Every file of this disk now in the directory has a durable entry.
        let present: Vec<PathBuf> = st
            .seen
            .iter()
            .filter(|p| p.parent() == Some(dir.as_path()) && p.exists())
            .cloned()
            .collect();
        st.entered.extend(present);
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

/// Removes `path`; already gone is fine.
fn remove(path: &Path) -> io::Result<()> {
    match std::fs::remove_file(path) {
        Err(e) if e.kind() != io::ErrorKind::NotFound => Err(e),
        _ => Ok(()),
    }
}
