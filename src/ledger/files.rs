//! The files a run writes (the report, its journal, lock and sidecars, generated
//! passwords): created private, never overwritten, never followed through a symlink, and
//! made durable in an order a power loss cannot undo.
//!
//! Mode 0600 (0700 for the directories a run creates) is set at creation and again
//! explicitly afterwards, because the creation mode is filtered by the umask and a umask
//! could just as well remove the owner's bits as keep the others'. Evidence is never
//! overwritten: creation uses `create_new`, and only `--resume` opens an existing report,
//! to append. Every open adds `O_NOFOLLOW` (a symlink planted at a report or lock path
//! would otherwise redirect the run's writes, and its chmod, to any file) and
//! `O_NONBLOCK` (a FIFO planted there would otherwise hang the open forever), and then
//! refuses anything that is not a regular file. The locks are in [`lock`].
//!
//! Durability: a file is synced before the entry that makes it count is removed (the
//! report before the journal), and a directory is synced after a file is created,
//! renamed or removed in it, since the entry lives in the directory, not in the file.
//! Those syncs and removals are the methods of a [`Disk`], which the run creates and
//! hands to everything that makes a file durable. A test gives the run a `Disk` with a
//! [`Trace`] of its own and reads the order back from it; the run's own `Disk` notes
//! nothing.

pub mod lock;

pub use lock::{InputLock, ReportLock};

use std::fs::{File, OpenOptions};
use std::io::{self, Write};
use std::os::unix::fs::{DirBuilderExt, MetadataExt, OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

/// Added to every open: never follow a symlink, never block on a FIFO.
const SAFE_OPEN: i32 = libc::O_NOFOLLOW | libc::O_NONBLOCK;

/// A file's identity: device and inode. Two paths name the same file when these match.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FileId {
    pub dev: u64,
    pub ino: u64,
}

impl FileId {
    pub fn of(meta: &std::fs::Metadata) -> FileId {
        FileId {
            dev: meta.dev(),
            ino: meta.ino(),
        }
    }

    /// The identity of what `path` names (following symlinks, as reading it does).
    pub fn of_path(path: &Path) -> io::Result<FileId> {
        Ok(FileId::of(&std::fs::metadata(path)?))
    }
}

/// The error of an open, with the path and, for a symlink, what to do about it.
fn open_error(e: io::Error, path: &Path, what: &str) -> io::Error {
    if e.raw_os_error() == Some(libc::ELOOP) {
        return io::Error::new(
            io::ErrorKind::InvalidInput,
            format!(
                "cannot {what} {}: it is a symbolic link, and a file the run writes is never followed",
                path.display()
            ),
        );
    }
    // What O_NONBLOCK makes of a FIFO nobody reads, instead of waiting forever.
    if e.raw_os_error() == Some(libc::ENXIO) {
        return io::Error::new(
            io::ErrorKind::InvalidInput,
            format!("{} is not a regular file", path.display()),
        );
    }
    io::Error::new(e.kind(), format!("cannot {what} {}: {e}", path.display()))
}

/// Refuses an opened file that is not a regular file (a device, a FIFO, a directory).
fn regular(file: File, path: &Path) -> io::Result<File> {
    if file.metadata()?.is_file() {
        Ok(file)
    } else {
        Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            format!("{} is not a regular file", path.display()),
        ))
    }
}

/// Creates `path` for writing, mode 0600; fails if it exists (a symlink included).
/// Creates missing parent directories (mode 0700).
pub fn create_private(path: &Path) -> io::Result<File> {
    create_parent_dirs(path)?;
    let file = OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .custom_flags(SAFE_OPEN)
        .open(path)
        .map_err(|e| match e.kind() {
            io::ErrorKind::AlreadyExists => io::Error::new(
                e.kind(),
                format!(
                    "{} already exists and is never overwritten (use --resume to continue it, or choose another path)",
                    path.display()
                ),
            ),
            _ => open_error(e, path, "create"),
        })?;
    file.set_permissions(std::fs::Permissions::from_mode(0o600))?;
    Ok(file)
}

/// Creates the missing directories above `path`, each 0700 whatever the umask (a umask
/// such as 0277 would leave them 0500, and nothing could then be created inside).
pub fn create_parent_dirs(path: &Path) -> io::Result<()> {
    let Some(parent) = parent_of(path) else {
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

/// The directory holding `path` (`None` for a bare file name: the current directory).
fn parent_of(path: &Path) -> Option<&Path> {
    path.parent().filter(|p| !p.as_os_str().is_empty())
}

/// Opens an existing regular file to append to it (for `--resume`), keeping it private.
pub fn open_append(path: &Path) -> io::Result<File> {
    open_existing(path, OpenOptions::new().append(true))
}

/// Opens an existing file to read it and then append (a resumed `--generated-out`),
/// keeping it private. Only a regular file is opened: never a FIFO or a device.
pub fn open_existing_private(path: &Path) -> io::Result<File> {
    open_existing(path, OpenOptions::new().read(true).write(true))
}

/// Opens an existing file with `options`, never through a symlink nor into a FIFO, and
/// only a regular file; keeps it private.
fn open_existing(path: &Path, options: &mut OpenOptions) -> io::Result<File> {
    let file = options
        .custom_flags(SAFE_OPEN)
        .open(path)
        .map_err(|e| open_error(e, path, "open"))?;
    let file = regular(file, path)?;
    file.set_permissions(std::fs::Permissions::from_mode(0o600))?;
    Ok(file)
}

/// Reads a regular file the run wrote (a journal, a sidecar) without following a
/// symlink; `None` when it does not exist.
pub fn read_private(path: &Path) -> io::Result<Option<Vec<u8>>> {
    use std::io::Read;
    let file = match OpenOptions::new()
        .read(true)
        .custom_flags(SAFE_OPEN)
        .open(path)
    {
        Ok(f) => f,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(open_error(e, path, "read")),
    };
    let mut bytes = Vec::new();
    regular(file, path)?.read_to_end(&mut bytes)?;
    Ok(Some(bytes))
}

/// How a run makes its files durable: every sync, directory sync and durable removal that
/// orders the run's files (the journal's and the password file's per-record syncs aside)
/// goes through the one `Disk` the run was handed. Cheap to clone (the report writer keeps
/// one for its last sync). The default notes nothing; [`Disk::traced`] notes each step in
/// a [`Trace`] its maker reads back.
#[derive(Debug, Clone, Default)]
pub struct Disk {
    /// `None` unless the run's caller watches it (the tests of the sync order): an
    /// untraced step costs only this check.
    trace: Option<Arc<Trace>>,
}

impl Disk {
    /// A `Disk` that notes every step it takes in `trace`.
    pub fn traced(trace: Arc<Trace>) -> Disk {
        Disk { trace: Some(trace) }
    }

    fn note(&self, op: &'static str, path: &Path) {
        if let Some(trace) = &self.trace {
            trace.note(op, path);
        }
    }

    /// Opens `path` to append, creating it (0600) when missing, and then syncing its
    /// directory; never through a symlink, never a special file. For the files several
    /// runs add to (`<report>.torn`).
    pub fn append_private(&self, path: &Path) -> io::Result<File> {
        let created = !path.exists();
        let file = OpenOptions::new()
            .append(true)
            .create(true)
            .mode(0o600)
            .custom_flags(SAFE_OPEN)
            .open(path)
            .map_err(|e| open_error(e, path, "open"))?;
        let file = regular(file, path)?;
        file.set_permissions(std::fs::Permissions::from_mode(0o600))?;
        if created {
            self.sync_dir_of(path)?;
        }
        Ok(file)
    }

    /// Replaces `path` with `bytes` atomically (a temporary beside it, synced, renamed
    /// over it, the directory synced): a crash leaves the old content or the new, never
    /// a mix.
    pub fn replace_private(&self, path: &Path, bytes: &[u8]) -> io::Result<()> {
        self.replace_private_open(path, bytes).map(drop)
    }

    /// [`Disk::replace_private`], keeping the new file open (for appending, as the
    /// journal does).
    pub fn replace_private_open(&self, path: &Path, bytes: &[u8]) -> io::Result<File> {
        let tmp = crate::ledger::side::tmp(path);
        // A leftover from a crash (or a symlink planted there) goes; remove_file never
        // follows.
        let _ = std::fs::remove_file(&tmp);
        let mut file = create_private(&tmp)?;
        file.write_all(bytes)?;
        self.sync(&file, &tmp)?;
        std::fs::rename(&tmp, path).map_err(|e| {
            io::Error::new(e.kind(), format!("cannot rename {}: {e}", tmp.display()))
        })?;
        self.sync_dir_of(path)?;
        Ok(file)
    }

    /// Syncs a file's data and metadata to disk.
    pub fn sync(&self, file: &File, path: &Path) -> io::Result<()> {
        file.sync_all().map_err(|e| {
            io::Error::new(e.kind(), format!("cannot sync {}: {e}", path.display()))
        })?;
        self.note("sync", path);
        Ok(())
    }

    /// Syncs the directory holding `path`, so that creating, renaming or removing `path`
    /// is durable too.
    pub fn sync_dir_of(&self, path: &Path) -> io::Result<()> {
        let dir = parent_of(path).unwrap_or(Path::new("."));
        File::open(dir).and_then(|d| d.sync_all()).map_err(|e| {
            io::Error::new(
                e.kind(),
                format!("cannot sync directory {}: {e}", dir.display()),
            )
        })?;
        self.note("sync_dir", dir);
        Ok(())
    }

    /// Removes `path` (a symlink itself, never its target) and syncs its directory. A
    /// file that is already gone is fine.
    pub fn remove_durably(&self, path: &Path) -> io::Result<()> {
        match std::fs::remove_file(path) {
            Ok(()) => {}
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(()),
            Err(e) => return Err(e),
        }
        self.note("remove", path);
        self.sync_dir_of(path)
    }
}

/// The durable steps taken through a [`Disk::traced`] over it, oldest first, for the tests
/// of the sync order: a test makes it, hands it to the run inside the `Disk`, and reads it
/// back; nothing else shares it.
#[derive(Debug, Default)]
pub struct Trace {
    /// Behind a lock because the run's tasks share their `Disk` (the report's last sync
    /// is the monitor task's); only a traced run ever takes it. Unbounded: a run takes a
    /// handful of steps, not one per row (the journal's and the password file's
    /// per-request syncs are their own).
    events: Mutex<Vec<(&'static str, PathBuf)>>,
}

impl Trace {
    fn note(&self, op: &'static str, path: &Path) {
        let mut events = self.events.lock().unwrap_or_else(|p| p.into_inner());
        events.push((op, path.to_path_buf()));
    }

    /// `(operation, path)` for every sync (`sync`, `sync_dir`) and removal (`remove`),
    /// oldest first.
    pub fn events(&self) -> Vec<(&'static str, PathBuf)> {
        self.events
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }
}

#[cfg(test)]
mod unit {
    use super::*;

    #[test]
    fn never_through_a_symlink_nor_into_a_fifo() {
        let dir = tempfile::tempdir().unwrap();
        let target = dir.path().join("target");
        std::fs::write(&target, "keep").unwrap();
        let link = dir.path().join("link");
        std::os::unix::fs::symlink(&target, &link).unwrap();
        let e = open_append(&link).unwrap_err().to_string();
        assert!(
            e.ends_with("is a symbolic link, and a file the run writes is never followed"),
            "{e}"
        );
        assert!(Disk::default().append_private(&link).is_err());
        assert!(read_private(&link).is_err());
        assert!(create_private(&link).is_err());
        assert_eq!(std::fs::read_to_string(&target).unwrap(), "keep");
        let fifo = dir.path().join("fifo");
        let c = std::ffi::CString::new(fifo.as_os_str().as_encoded_bytes()).unwrap();
        assert_eq!(unsafe { libc::mkfifo(c.as_ptr(), 0o600) }, 0);
        let e = open_append(&fifo).unwrap_err().to_string();
        assert_eq!(e, format!("{} is not a regular file", fifo.display()));
        assert!(read_private(&fifo).is_err());
        assert!(read_private(&dir.path().join("none")).unwrap().is_none());
    }

    #[test]
    fn replace_is_atomic_and_traced() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("m");
        let trace = Arc::new(Trace::default());
        let disk = Disk::traced(trace.clone());
        disk.replace_private(&path, b"one").unwrap();
        disk.replace_private(&path, b"two").unwrap();
        assert_eq!(std::fs::read(&path).unwrap(), b"two");
        disk.remove_durably(&path).unwrap();
        disk.remove_durably(&path).unwrap();
        let tmp = dir.path().join("m.tmp");
        let d = dir.path().to_path_buf();
        assert_eq!(
            trace.events(),
            vec![
                ("sync", tmp.clone()),
                ("sync_dir", d.clone()),
                ("sync", tmp),
                ("sync_dir", d.clone()),
                ("remove", path),
                ("sync_dir", d),
            ]
        );
    }
}
