//! A simulated disk for one node: real files in the run's directory, but fsync only *records*
//! what a machine crash would keep, and takes seeded virtual time instead of blocking.
//!
//! A file's content is durable as of its last [`Storage::sync_file`]; a rename is durable once
//! its directory is synced. [`SimDisk::crash`] puts every file this disk has seen back to what
//! a crash leaves: the durable content, plus (when asked) a random prefix of what was written
//! after it, as a torn write leaves; a file never synced disappears. The daemon's own code
//! decides when to sync; this module only keeps score.

use crate::daemon::Storage;
use maekawa_core::rng::SplitMix64;
use std::collections::{BTreeMap, BTreeSet};
use std::fs::File;
use std::io;
use std::path::{Path, PathBuf};
use std::sync::{Mutex, MutexGuard};
use std::time::Duration;

#[derive(Debug)]
struct State {
    /// What a crash keeps of each file (absent: the file would not exist).
    durable: BTreeMap<PathBuf, Vec<u8>>,
    /// Renames not yet made durable by a directory sync: (from, to).
    renames: Vec<(PathBuf, PathBuf)>,
    /// Every file this disk was asked about.
    seen: BTreeSet<PathBuf>,
    rng: SplitMix64,
    /// A sync's virtual duration, in microseconds (`lo..=hi`).
    delay_us: (u64, u64),
    /// Extra delay while a slow-disk fault lasts.
    slow: Duration,
    syncs: u64,
}

/// One node's simulated disk (see the module).
#[derive(Debug)]
pub struct SimDisk {
    state: Mutex<State>,
}

impl SimDisk {
    /// A disk whose syncs take `delay_us` microseconds (`lo..=hi`, drawn from `seed`).
    pub fn new(seed: u64, delay_us: (u64, u64)) -> SimDisk {
        SimDisk {
            state: Mutex::new(State {
                durable: BTreeMap::new(),
                renames: Vec::new(),
                seen: BTreeSet::new(),
                rng: SplitMix64::new(seed),
                delay_us,
                slow: Duration::ZERO,
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
            let now = match std::fs::read(&path) {
                Ok(b) => Some(b),
                Err(e) if e.kind() == io::ErrorKind::NotFound => None,
                Err(e) => return Err(e),
            };
            match st.durable.get(&path).cloned() {
                None => {
                    if now.is_some() {
                        std::fs::remove_file(&path)?;
                    }
                }
                Some(mut keep) => {
                    if let Some(now) = now.filter(|n| torn && n.starts_with(&keep)) {
                        let extra = (now.len() - keep.len()) as u64;
                        let n = st.rng.below(extra + 1) as usize;
                        keep.extend_from_slice(&now[keep.len()..keep.len() + n]);
                    }
                    std::fs::write(&path, &keep)?;
                }
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
    fn sync_file(&self, _file: &File, path: &Path) -> io::Result<()> {
        let content = std::fs::read(path)?;
        let mut st = self.state();
        st.syncs += 1;
        st.seen.insert(path.to_path_buf());
        st.durable.insert(path.to_path_buf(), content);
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
                let content = st.durable.remove(&from).unwrap_or_default();
                st.durable.insert(to, content);
            } else {
                st.renames.push((from, to));
            }
        }
        // A file created (and synced) earlier is now surely in its directory.
        if !st.durable.contains_key(path) && path.exists() {
            st.durable.insert(path.to_path_buf(), Vec::new());
        }
        Ok(())
    }

    fn sync_delay(&self) -> Option<Duration> {
        let mut st = self.state();
        let (lo, hi) = st.delay_us;
        let d = Duration::from_micros(st.rng.between(lo, hi)) + st.slow;
        Some(d)
    }
}
