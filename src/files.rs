//! The files a run writes (the report, its journal, generated passwords): created private
//! and never overwritten, and locked so that two runs cannot share a report.
//!
//! Mode 0600 is set at creation and again explicitly afterwards, because the creation
//! mode is filtered by the umask and a umask could just as well remove the owner's bits
//! as keep the others'. Evidence is never overwritten: creation uses `create_new`, and
//! only `--resume` opens an existing report, to append.

use std::fs::{File, OpenOptions};
use std::io;
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt, PermissionsExt};
use std::path::Path;

/// Creates `path` for writing, mode 0600; fails if it exists. Creates missing parent
/// directories (mode 0700).
pub fn create_private(path: &Path) -> io::Result<File> {
    if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
        if !parent.exists() {
            std::fs::DirBuilder::new()
                .recursive(true)
                .mode(0o700)
                .create(parent)?;
        }
    }
    let file = OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)
        .map_err(|e| match e.kind() {
            io::ErrorKind::AlreadyExists => io::Error::new(
                e.kind(),
                format!(
                    "{} already exists and is never overwritten (use --resume to continue it, or choose another path)",
                    path.display()
                ),
            ),
            _ => io::Error::new(e.kind(), format!("cannot create {}: {e}", path.display())),
        })?;
    file.set_permissions(std::fs::Permissions::from_mode(0o600))?;
    Ok(file)
}

/// Opens an existing file to append to it (for `--resume`), keeping it private.
pub fn open_append(path: &Path) -> io::Result<File> {
    let file = OpenOptions::new()
        .append(true)
        .open(path)
        .map_err(|e| io::Error::new(e.kind(), format!("cannot open {}: {e}", path.display())))?;
    file.set_permissions(std::fs::Permissions::from_mode(0o600))?;
    Ok(file)
}

/// The lock file beside a report: `<report>.lock`, holding the owner's PID.
pub fn lock_path(report: &Path) -> std::path::PathBuf {
    let mut name = report.as_os_str().to_owned();
    name.push(".lock");
    name.into()
}

/// An exclusive lock on a report, held for the life of the run. The lock is the kernel's
/// (flock through `File::try_lock`), so it dies with the process, even on kill -9; the
/// PID in the file only serves the error message of the run that is refused.
#[derive(Debug)]
pub struct ReportLock {
    _file: File,
    path: std::path::PathBuf,
}

impl ReportLock {
    pub fn acquire(report: &Path) -> anyhow::Result<ReportLock> {
        use std::io::{Read, Seek, Write};
        let path = lock_path(report);
        if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
            std::fs::create_dir_all(parent)?;
        }
        let mut file = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .mode(0o600)
            .open(&path)
            .map_err(|e| anyhow::anyhow!("cannot open lock {}: {e}", path.display()))?;
        if file.try_lock().is_err() {
            let mut holder = String::new();
            let _ = file.read_to_string(&mut holder);
            anyhow::bail!(
                "another run holds {} (pid {}); wait for it to finish, or stop it",
                report.display(),
                holder.trim().if_empty("unknown")
            );
        }
        file.set_len(0)?;
        file.rewind()?;
        write!(file, "{}", std::process::id())?;
        file.flush()?;
        Ok(ReportLock { _file: file, path })
    }
}

impl ReportLock {
    /// The lock file's path. It stays after the run: removing it would let a run that
    /// opened it a moment before lock an unlinked file while a third locks a new one.
    pub fn path(&self) -> &Path {
        &self.path
    }
}

trait IfEmpty {
    fn if_empty<'a>(&'a self, other: &'a str) -> &'a str;
}

impl IfEmpty for str {
    fn if_empty<'a>(&'a self, other: &'a str) -> &'a str {
        if self.is_empty() {
            other
        } else {
            self
        }
    }
}
