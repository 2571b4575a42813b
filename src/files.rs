//! The files a run writes (the report, its journal, generated passwords): created private
//! and never overwritten, and locked so that two runs cannot share a report.
//!
//! Mode 0600 (0700 for the directories a run creates) is set at creation and again
//! explicitly afterwards, because the creation mode is filtered by the umask and a umask
//! could just as well remove the owner's bits as keep the others'. Evidence is never overwritten: creation uses `create_new`, and
//! only `--resume` opens an existing report, to append.

use std::fs::{File, OpenOptions};
use std::io;
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt, PermissionsExt};
use std::path::Path;

/// Creates `path` for writing, mode 0600; fails if it exists. Creates missing parent
/// directories (mode 0700).
pub fn create_private(path: &Path) -> io::Result<File> {
    create_parent_dirs(path)?;
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

/// Creates the missing directories above `path`, each 0700 whatever the umask (a umask
/// such as 0277 would leave them 0500, and nothing could then be created inside).
pub fn create_parent_dirs(path: &Path) -> io::Result<()> {
    let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) else {
        return Ok(());
    };
    let missing: Vec<&Path> = parent
        .ancestors()
        .take_while(|p| !p.as_os_str().is_empty() && !p.exists())
        .collect();
    for dir in missing.into_iter().rev() {
        match std::fs::DirBuilder::new().mode(0o700).create(dir) {
            Ok(()) => std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o700))?,
            // Another run made it meanwhile: use it as it is.
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists => {}
            Err(e) => {
                return Err(io::Error::new(
                    e.kind(),
                    format!("cannot create directory {}: {e}", dir.display()),
                ))
            }
        }
    }
    Ok(())
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

/// Opens an existing file to read it and then append (a resumed `--generated-out`),
/// keeping it private. Only a regular file is opened: never a FIFO or a device.
pub fn open_existing_private(path: &Path) -> io::Result<File> {
    let file = OpenOptions::new()
        .read(true)
        .write(true)
        .open(path)
        .map_err(|e| io::Error::new(e.kind(), format!("cannot open {}: {e}", path.display())))?;
    if !file.metadata()?.is_file() {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            format!("{} is not a regular file", path.display()),
        ));
    }
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
        create_parent_dirs(&path)?;
        let open = || {
            OpenOptions::new()
                .read(true)
                .write(true)
                .create(true)
                .truncate(false)
                .mode(0o600)
                .open(&path)
        };
        // A umask like 0277 leaves a new lock file 0400, which the next run could not
        // open for writing: make it 0600 whatever the umask, and mend an old one.
        let mut file = match open() {
            Err(e) if e.kind() == io::ErrorKind::PermissionDenied && path.is_file() => {
                std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600))?;
                open()
            }
            other => other,
        }
        .map_err(|e| anyhow::anyhow!("cannot open lock {}: {e}", path.display()))?;
        file.set_permissions(std::fs::Permissions::from_mode(0o600))?;
        if file.try_lock().is_err() {
            let mut holder = String::new();
            let _ = file.read_to_string(&mut holder);
            anyhow::bail!(
                "another run holds {} (pid {}); wait for it to finish, or stop it",
                report.display(),
                if holder.trim().is_empty() {
                    "unknown"
                } else {
                    holder.trim()
                }
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
