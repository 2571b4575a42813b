//! The input lock: a flock on the input file itself (opened read-only), so that two runs
//! cannot change the same users at once into two reports. Whatever path, symlink or hard
//! link names the input, whichever user or environment runs, two runs on one file meet
//! the same lock, and there is no lock file to race on. The refused run learns the
//! holder's report from a hint file written by the holder, named after the input's
//! device and inode, in a private per-user directory (`$XDG_RUNTIME_DIR/zoom-rotate`,
//! else `<tmp>/zoom-rotate-<uid>`); the hint is only for the message, so a missing one
//! (another user's run, another environment) weakens nothing, and it is replaced by a
//! rename, never written into. Standard input, or an input that is not a regular file (a
//! pipe), has no identity to lock: two runs reading pipes cannot be told apart.

use crate::ledger::files::{self, FileId};
use crate::vocab::{RefusalCode, Refused};
use std::fs::{File, OpenOptions};
use std::io;
use std::os::unix::fs::{DirBuilderExt, MetadataExt, OpenOptionsExt};
use std::path::{Path, PathBuf};

/// An exclusive lock on an input file, held for the life of a run that sends.
#[derive(Debug)]
pub struct InputLock {
    /// The input, flocked.
    _input: File,
    /// The hint naming this run's report, removed with the lock.
    hint: Option<Hint>,
}

/// A hint file, removed on drop if it is still the one this run wrote.
#[derive(Debug)]
struct Hint {
    path: PathBuf,
    id: FileId,
}

impl Drop for Hint {
    fn drop(&mut self) {
        if std::fs::symlink_metadata(&self.path).is_ok_and(|m| FileId::of(&m) == self.id) {
            let _ = std::fs::remove_file(&self.path);
        }
    }
}

impl InputLock {
    /// Locks `input` for a run writing `report`; `None` for standard input or a pipe,
    /// or a file system that cannot lock (said in a warning).
    pub fn acquire(input: &Path, report: &Path) -> anyhow::Result<Option<InputLock>> {
        if input == Path::new("-") {
            tracing::debug!("standard input: no input lock (a pipe has no identity to lock)");
            return Ok(None);
        }
        let file = OpenOptions::new()
            .read(true)
            .custom_flags(libc::O_NONBLOCK)
            .open(input)
            .map_err(|e| anyhow::anyhow!("cannot read input {}: {e}", input.display()))?;
        let meta = file.metadata()?;
        if !meta.is_file() {
            tracing::debug!(input = %input.display(), "not a regular file: no input lock");
            return Ok(None);
        }
        let id = FileId::of(&meta);
        let hint_path = lock_dir().map(|d| d.join(format!("input-{}-{}", id.dev, id.ino)));
        let ours = absolute(report).display().to_string();
        match file.try_lock() {
            Ok(()) => {}
            Err(std::fs::TryLockError::WouldBlock) => {
                let holder = hint_path
                    .ok()
                    .and_then(|p| files::read_private(&p).ok().flatten())
                    .map(|b| String::from_utf8_lossy(&b).into_owned())
                    .unwrap_or_default();
                let (pid, other) = holder.split_once('\n').unwrap_or(("", ""));
                let pid = if pid.trim().is_empty() {
                    "unknown"
                } else {
                    pid.trim()
                };
                // The same report too: say it as the report lock would.
                if other == ours {
                    return Err(Refused::new(
                        RefusalCode::ReportLocked,
                        format!(
                            "another run holds {} (pid {pid}); wait for it to finish, or stop it",
                            report.display()
                        ),
                    )
                    .into());
                }
                let other = if other.is_empty() {
                    "(unknown: run by another user?)"
                } else {
                    other
                };
                return Err(Refused::new(
                    RefusalCode::InputLocked,
                    format!(
                        "another run (pid {pid}) is rotating the same input into the report {other}; wait for it to finish, or stop it (input {})",
                        input.display()
                    ),
                )
                .into());
            }
            Err(std::fs::TryLockError::Error(e)) => {
                tracing::warn!(input = %input.display(), error = %e, "cannot lock the input file; a second run on it at the same time would not be detected");
                return Ok(None);
            }
        }
        let hint = match hint_path {
            Ok(path) => write_hint(&path, &format!("{}\n{ours}", std::process::id())),
            Err(e) => {
                tracing::debug!(error = %e, "no input lock hint: a refused run will not learn this run's report");
                None
            }
        };
        Ok(Some(InputLock { _input: file, hint }))
    }

    /// The hint file naming this run's report, while it holds the lock.
    pub fn hint_path(&self) -> Option<&Path> {
        self.hint.as_ref().map(|h| h.path.as_path())
    }
}

/// Writes the hint for runs refused on this input (only the flock's holder writes it, so
/// writers never race). It replaces whatever is there (a stale one from a killed run) by
/// a rename, never by writing into an existing file.
fn write_hint(path: &Path, text: &str) -> Option<Hint> {
    let write = || -> io::Result<Hint> {
        // Not part of a run's durable order: no probe watches it.
        let file = files::Disk::default().replace_private_open(path, text.as_bytes())?;
        Ok(Hint {
            path: path.to_path_buf(),
            id: FileId::of(&file.metadata()?),
        })
    };
    write()
        .map_err(|e| tracing::debug!(path = %path.display(), error = %e, "cannot write the input lock hint"))
        .ok()
}

/// `path` made absolute (its directory canonical when it exists), for a message read by
/// a run started elsewhere.
fn absolute(path: &Path) -> PathBuf {
    let name = path.file_name();
    let dir = files::parent_of(path).unwrap_or(Path::new("."));
    match (std::fs::canonicalize(dir), name) {
        (Ok(d), Some(n)) => d.join(n),
        _ => std::path::absolute(path).unwrap_or_else(|_| path.to_path_buf()),
    }
}

/// The private directory of input locks, created 0700; refused unless it is a real
/// directory of ours that nobody else can write to (else another user could plant a
/// lock file, or a symlink, there).
fn lock_dir() -> anyhow::Result<PathBuf> {
    let dir = match std::env::var_os("XDG_RUNTIME_DIR").map(PathBuf::from) {
        Some(d) if d.is_absolute() && d.is_dir() => d.join("zoom-rotate"),
        _ => std::env::temp_dir().join(format!("zoom-rotate-{}", unsafe { libc::geteuid() })),
    };
    match std::fs::DirBuilder::new().mode(0o700).create(&dir) {
        Ok(()) => {}
        Err(e) if e.kind() == io::ErrorKind::AlreadyExists => {}
        Err(e) => anyhow::bail!("cannot create the lock directory {}: {e}", dir.display()),
    }
    let meta = std::fs::symlink_metadata(&dir)?;
    let uid = unsafe { libc::geteuid() };
    if !meta.is_dir() || meta.uid() != uid || meta.mode() & 0o022 != 0 {
        anyhow::bail!(
            "the lock directory {} is not a private directory of user {uid} (a directory, mode 0700, not a symlink); remove it",
            dir.display()
        );
    }
    Ok(dir)
}

#[cfg(test)]
mod unit {
    use super::*;

    #[test]
    fn the_input_lock_is_the_files_whatever_its_name() {
        let dir = tempfile::tempdir().unwrap();
        let input = dir.path().join("in.csv");
        std::fs::write(&input, "user_id\n").unwrap();
        let link = dir.path().join("link.csv");
        std::os::unix::fs::symlink(&input, &link).unwrap();
        let report = dir.path().join("a.csv");
        let held = InputLock::acquire(&input, &report).unwrap().unwrap();
        let e = InputLock::acquire(&link, &dir.path().join("b.csv"))
            .unwrap_err()
            .to_string();
        assert!(
            e.starts_with(&format!(
                "another run (pid {}) is rotating the same input into the report {}",
                std::process::id(),
                std::fs::canonicalize(dir.path())
                    .unwrap()
                    .join("a.csv")
                    .display()
            )),
            "{e}"
        );
        // Without its hint (another user's run), the lock holds all the same.
        let hint = held.hint_path().unwrap().to_path_buf();
        std::fs::remove_file(&hint).unwrap();
        let e = InputLock::acquire(&input, &report).unwrap_err().to_string();
        assert!(
            e.starts_with(
                "another run (pid unknown) is rotating the same input into the report (unknown"
            ),
            "{e}"
        );
        drop(held);
        assert!(InputLock::acquire(&input, &report).unwrap().is_some());
        assert!(InputLock::acquire(Path::new("-"), &report)
            .unwrap()
            .is_none());
    }
}
