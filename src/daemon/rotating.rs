//! A log file that rotates by size and keeps a bounded number of old files, so a node that runs
//! for months cannot fill its disk (README, "Operating it").
//!
//! `node-<id>.log` is the file written; when a write would take it past the size limit, it is
//! renamed to `node-<id>.log.1` (the older ones move up: `.1` to `.2`, ...; the one past the
//! retention count is deleted) and a new `node-<id>.log` is started. Each write is a whole
//! batch of lines ([`super::node_log`] writes a batch with one `write`), so a line is never
//! split across two files. Hand-written rather than a rolling-file crate for exactly that:
//! the crates rotate inside a write, at a byte, or by time.

use crate::logdir;
use std::fs::{File, OpenOptions};
use std::io::{self, Write};
use std::path::PathBuf;

/// How a log rotates.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Rotation {
    /// Rotate before a write would make the file larger than this (0: never rotate).
    pub max_bytes: u64,
    /// Rotated files to keep (`.1` to `.keep`); older ones are deleted.
    pub keep: usize,
}

impl Rotation {
    /// Never rotate: the file grows for as long as the node runs.
    pub const NEVER: Rotation = Rotation {
        max_bytes: 0,
        keep: 0,
    };
}

/// An append-only file that rotates by size (see the module).
pub struct RotatingFile {
    path: PathBuf,
    file: File,
    size: u64,
    rotation: Rotation,
}

impl RotatingFile {
    /// Opens `path` for appending (creating it), continuing from its current size.
    pub fn open(path: PathBuf, rotation: Rotation) -> io::Result<RotatingFile> {
        let file = OpenOptions::new().append(true).create(true).open(&path)?;
        let size = file.metadata()?.len();
        Ok(RotatingFile {
            path,
            file,
            size,
            rotation,
        })
    }

    fn rotate(&mut self) -> io::Result<()> {
        self.file.flush()?;
        if self.rotation.keep == 0 {
            // Keep nothing old: start the file again.
            self.file.set_len(0)?;
        } else {
            let oldest = logdir::rotated_node_log(&self.path, self.rotation.keep);
            match std::fs::remove_file(&oldest) {
                Err(e) if e.kind() != io::ErrorKind::NotFound => return Err(e),
                _ => {}
            }
            for k in (1..self.rotation.keep).rev() {
                let from = logdir::rotated_node_log(&self.path, k);
                if from.exists() {
                    std::fs::rename(&from, logdir::rotated_node_log(&self.path, k + 1))?;
                }
            }
            std::fs::rename(&self.path, logdir::rotated_node_log(&self.path, 1))?;
            self.file = OpenOptions::new()
                .append(true)
                .create(true)
                .open(&self.path)?;
        }
        self.size = 0;
        Ok(())
    }
}

impl Write for RotatingFile {
    /// Writes all of `buf` to one file: the current one, or a fresh one after a rotation.
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let limit = self.rotation.max_bytes;
        if limit > 0 && self.size > 0 && self.size + buf.len() as u64 > limit {
            self.rotate()?;
        }
        self.file.write_all(buf)?;
        self.size += buf.len() as u64;
        Ok(buf.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        self.file.flush()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rotates_whole_writes_and_keeps_at_most_keep_old_files() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("node-0.log");
        let rotation = Rotation {
            max_bytes: 100,
            keep: 2,
        };
        let mut f = RotatingFile::open(path.clone(), rotation).unwrap();
        for i in 0..10 {
            // 40-byte batches: two fit in 100 bytes, the third rotates.
            f.write_all(format!("{i:039}\n").as_bytes()).unwrap();
        }
        let read = |p: &PathBuf| std::fs::read_to_string(p).unwrap();
        assert_eq!(read(&path).lines().count(), 2, "batches 8 and 9");
        assert!(read(&path).starts_with(&format!("{:039}", 8)));
        let one = logdir::rotated_node_log(&path, 1);
        let two = logdir::rotated_node_log(&path, 2);
        assert!(read(&one).starts_with(&format!("{:039}", 6)));
        assert!(read(&two).starts_with(&format!("{:039}", 4)));
        assert!(!logdir::rotated_node_log(&path, 3).exists(), "only 2 kept");
        for p in [&path, &one, &two] {
            assert!(std::fs::metadata(p).unwrap().len() <= 100);
        }
        // A batch larger than the limit goes whole into a file of its own.
        f.write_all(&[b'x'; 250]).unwrap();
        assert_eq!(std::fs::metadata(&path).unwrap().len(), 250);
        // Reopened, it continues from the file's size.
        drop(f);
        let mut f = RotatingFile::open(path.clone(), rotation).unwrap();
        f.write_all(b"y\n").unwrap();
        assert_eq!(read(&path).len(), 2, "250 + 2 > 100: rotated first");
    }
}
