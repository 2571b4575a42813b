//! The run's locks: one on the report (`<report>.lock`, so two runs cannot write one
//! report) and one on the input (so two runs cannot change the same users at once into
//! two reports).
//!
//! The lock is the kernel's (flock through `File::try_lock`): it dies with the process,
//! even on kill -9. The file only carries it, plus a hint for the message of the run
//! that is refused (the holder's PID, and for the input lock its report). So the file is
//! removed whenever its run ends, on every exit path (`Drop`), and a run that is refused
//! leaves none behind.
//!
//! A lock file is only ever written by the run that created it, exclusively (`O_EXCL`):
//! whatever is already at the path is opened read-only, for its flock and its hint, and
//! never truncated or rewritten, so a hard link planted there cannot make a run write
//! into the file it names. One that no live run holds is a dead run's (kill -9): it is
//! removed under its flock and created afresh, unless it has another name (a hard link)
//! or another owner, which no run of ours leaves: that is refused, untouched.
//!
//! Removing a lock file opens a race, closed here: run B opens the file a moment before
//! run A removes it, then locks the removed inode while run C creates and locks a new
//! file at the path; B and C would both hold "the" lock. So a run that got the flock
//! checks that the path still names the inode it locked (fstat against lstat) and starts
//! again if not; and the holder removes the path while it still holds the flock, so any
//! later opener meets either the held inode or a new one.
//!
//! The input lock, a flock on the input file itself, is in [`input`].

mod input;

pub use input::InputLock;

use super::{open_error, regular, FileId, SAFE_OPEN};
use crate::vocab::{RefusalCode, Refused};
use std::fs::{File, OpenOptions};
use std::io::{self, Read, Write};
use std::os::unix::fs::{MetadataExt, OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};

/// How often to start over when the lock file keeps being replaced under us.
const TRIES: usize = 16;

/// A held lock; removes its file when dropped.
#[derive(Debug)]
struct Held {
    /// Holds the flock for as long as the lock lives.
    _file: File,
    path: PathBuf,
    id: FileId,
}

/// What an attempt to lock found.
enum Attempt {
    Held(Held),
    /// Another process holds it; what its file says.
    Busy(String),
    /// The path no longer names the inode we locked: open it again.
    Stale,
}

impl Held {
    /// Takes the lock at `path`, writing `hint` into it; `Err(holder's hint)` when
    /// another process holds it.
    fn acquire(path: &Path, hint: &str) -> io::Result<Result<Held, String>> {
        for _ in 0..TRIES {
            match Held::attempt(path, hint)? {
                Attempt::Held(h) => return Ok(Ok(h)),
                Attempt::Busy(holder) => return Ok(Err(holder)),
                Attempt::Stale => continue,
            }
        }
        Err(io::Error::other(format!(
            "cannot lock {}: it keeps being replaced",
            path.display()
        )))
    }

    fn attempt(path: &Path, hint: &str) -> io::Result<Attempt> {
        let mut file = match create_lock(path) {
            Ok(file) => file,
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists => return existing(path),
            Err(e) => return Err(e),
        };
        // Ours and new, so nobody else's bytes are in it. A run that met it between our
        // create and our flock took it for a stale one and removed it: start over.
        if file.try_lock().is_err() {
            return Ok(Attempt::Stale);
        }
        let id = FileId::of(&file.metadata()?);
        if !still_names(path, id)? {
            return Ok(Attempt::Stale);
        }
        file.write_all(hint.as_bytes())?;
        file.flush()?;
        Ok(Attempt::Held(Held {
            _file: file,
            path: path.to_path_buf(),
            id,
        }))
    }
}

/// Whether `path` still names the inode `id` (not removed, not replaced).
fn still_names(path: &Path, id: FileId) -> io::Result<bool> {
    match std::fs::symlink_metadata(path) {
        Ok(m) => Ok(FileId::of(&m) == id),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(false),
        Err(e) => Err(e),
    }
}

/// Creates a lock file, exclusively (0600 whatever the umask): a file already at the
/// path, a hard link or a symlink included, is never opened for writing here.
fn create_lock(path: &Path) -> io::Result<File> {
    let file = OpenOptions::new()
        .read(true)
        .write(true)
        .create_new(true)
        .mode(0o600)
        .custom_flags(SAFE_OPEN)
        .open(path)
        .map_err(|e| match e.kind() {
            io::ErrorKind::AlreadyExists => e,
            _ => open_error(e, path, "create lock"),
        })?;
    file.set_permissions(std::fs::Permissions::from_mode(0o600))?;
    Ok(file)
}

/// A lock file already at the path: a live run's (busy: what its file says), or one
/// left by a run that died (kill -9), which is removed while its flock is held and then
/// created afresh. It is opened read-only and never written: a file with another name
/// (a hard link to a file elsewhere) or another owner is not one a run of ours left, so
/// it is refused, untouched, for the operator to look at.
fn existing(path: &Path) -> io::Result<Attempt> {
    let mut file = match open_existing_lock(path) {
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(Attempt::Stale),
        other => other?,
    };
    if file.try_lock().is_err() {
        let mut holder = String::new();
        let _ = file.read_to_string(&mut holder);
        return Ok(Attempt::Busy(holder));
    }
    let meta = file.metadata()?;
    let id = FileId::of(&meta);
    if !still_names(path, id)? {
        return Ok(Attempt::Stale);
    }
    let uid = unsafe { libc::geteuid() };
    if meta.nlink() != 1 || meta.uid() != uid {
        let what = if meta.nlink() != 1 {
            format!(
                "it has {} names (a hard link to another file)",
                meta.nlink()
            )
        } else {
            format!("it belongs to user {}, not {uid}", meta.uid())
        };
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            format!(
                "the lock file {} was not left by a run of this user: {what}; it is left untouched: no run holds it, so look at it and remove it",
                path.display()
            ),
        ));
    }
    // Removed while the flock is held, as a holder removes its own (see the module).
    std::fs::remove_file(path)?;
    tracing::debug!(path = %path.display(), "removed a lock file left by a run that died");
    Ok(Attempt::Stale)
}

/// Opens an existing lock file read-only, for its flock and its hint: never through a
/// symlink, never a special file.
fn open_existing_lock(path: &Path) -> io::Result<File> {
    let file = OpenOptions::new()
        .read(true)
        .custom_flags(SAFE_OPEN)
        .open(path)
        .map_err(|e| {
            if e.raw_os_error() == Some(libc::ELOOP) {
                io::Error::new(
                    io::ErrorKind::InvalidInput,
                    format!(
                        "cannot open lock {}: it is a symbolic link (remove it; a lock file is never followed)",
                        path.display()
                    ),
                )
            } else if e.kind() == io::ErrorKind::NotFound {
                e
            } else if e.kind() == io::ErrorKind::PermissionDenied {
                io::Error::new(
                    io::ErrorKind::InvalidInput,
                    format!(
                        "cannot open lock {}: this user (uid {}) may not read it: another user's run holds or left it; wait for that run, or remove the file",
                        path.display(),
                        unsafe { libc::geteuid() }
                    ),
                )
            } else {
                open_error(e, path, "open lock")
            }
        })?;
    regular(file, path)
}

impl Drop for Held {
    fn drop(&mut self) {
        // Removed while the flock is still held (the file closes after this), and only
        // if the path is still ours.
        if std::fs::symlink_metadata(&self.path).is_ok_and(|m| FileId::of(&m) == self.id) {
            if let Err(e) = std::fs::remove_file(&self.path) {
                tracing::debug!(path = %self.path.display(), error = %e, "could not remove the lock file");
            }
        }
    }
}

/// An exclusive lock on a report, held for the life of the run.
#[derive(Debug)]
pub struct ReportLock {
    held: Held,
}

impl ReportLock {
    pub fn acquire(report: &Path) -> anyhow::Result<ReportLock> {
        let path = crate::ledger::side::lock(report);
        let taken = super::create_parent_dirs(&path)
            .and_then(|()| Held::acquire(&path, &std::process::id().to_string()))
            .map_err(|e| unwritable(report, e))?;
        match taken {
            Ok(held) => Ok(ReportLock { held }),
            Err(holder) => Err(Refused::new(
                RefusalCode::ReportLocked,
                format!(
                    "another run holds {} (pid {}); wait for it to finish, or stop it",
                    report.display(),
                    if holder.trim().is_empty() {
                        "unknown"
                    } else {
                        holder.trim()
                    }
                ),
            )
            .into()),
        }
    }

    /// The lock file's path (removed when the lock is dropped).
    pub fn path(&self) -> &Path {
        &self.held.path
    }
}

/// A lock that could not be created because the report's directory cannot be written
/// (its permissions, or a read-only file system): said of the directory, with the fix,
/// as `report_unwritable`. Any other error is passed on as it is.
fn unwritable(report: &Path, e: io::Error) -> anyhow::Error {
    if !matches!(
        e.kind(),
        io::ErrorKind::PermissionDenied | io::ErrorKind::ReadOnlyFilesystem
    ) {
        return e.into();
    }
    // The directory that refused: the report's, or the nearest existing one above it
    // when the report's must still be made.
    let dir = super::parent_of(report).unwrap_or(Path::new("."));
    let dir = dir
        .ancestors()
        .find(|d| d.as_os_str().is_empty() || d.exists())
        .filter(|d| !d.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    let why = if e.kind() == io::ErrorKind::ReadOnlyFilesystem {
        "is on a read-only file system".to_string()
    } else {
        format!("is not writable by this user (uid {})", unsafe {
            libc::geteuid()
        })
    };
    Refused::new(
        RefusalCode::ReportUnwritable,
        format!(
            "cannot write the report {}: its directory {} {why}, and a run writes its report, lock, journal and side files there; make the directory writable (chmod u+w), or choose another --report",
            report.display(),
            dir.display()
        ),
    )
    .into()
}

#[cfg(test)]
mod unit {
    use super::*;

    #[test]
    fn a_lock_file_goes_with_its_holder_and_a_second_holder_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let report = dir.path().join("r.csv");
        let lock = ReportLock::acquire(&report).unwrap();
        assert_eq!(
            std::fs::read_to_string(lock.path()).unwrap(),
            std::process::id().to_string()
        );
        let e = ReportLock::acquire(&report).unwrap_err().to_string();
        assert_eq!(
            e,
            format!(
                "another run holds {} (pid {}); wait for it to finish, or stop it",
                report.display(),
                std::process::id()
            )
        );
        drop(lock);
        assert!(!crate::ledger::side::lock(&report).exists());
    }

    /// The race of removing a lock file: B opened the file before A removed it, and
    /// gets the flock on the removed inode once A is gone. B must see that the path no
    /// longer names what it locked, and lock the new file instead.
    #[test]
    fn a_flock_on_a_removed_lock_file_is_not_taken_for_the_lock() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("r.csv.lock");
        let a = Held::acquire(&path, "a").unwrap().unwrap();
        let opened_by_b = open_existing_lock(&path).unwrap();
        drop(a);
        assert!(!path.exists());
        assert!(
            opened_by_b.try_lock().is_ok(),
            "B holds the flock of a removed inode"
        );
        // C comes along and takes the real lock at the path.
        let c = Held::acquire(&path, "c").unwrap().unwrap();
        // B's check (what `attempt` does after its flock) finds another inode.
        let b_id = FileId::of(&opened_by_b.metadata().unwrap());
        assert_ne!(FileId::of(&std::fs::symlink_metadata(&path).unwrap()), b_id);
        // So B starts over, meets C's held lock, and is refused.
        assert_eq!(Held::acquire(&path, "b").unwrap().unwrap_err(), "c");
        drop(c);
        let again = Held::acquire(&path, "d").unwrap().unwrap();
        assert!(matches!(Held::attempt(&path, "e").unwrap(), Attempt::Busy(h) if h == "d"));
        drop(again);
        assert!(!path.exists());
    }

    /// Defect 11: a hard link planted at the lock path is never written through; a dead
    /// run's lock file (ours, one name) is replaced by a new file, not rewritten.
    #[test]
    fn a_hard_linked_lock_is_refused_untouched_and_a_dead_runs_is_replaced() {
        let dir = tempfile::tempdir().unwrap();
        let victim = dir.path().join("victim");
        std::fs::write(&victim, "keep me\n").unwrap();
        std::fs::set_permissions(&victim, std::fs::Permissions::from_mode(0o644)).unwrap();
        let report = dir.path().join("r.csv");
        let path = crate::ledger::side::lock(&report);
        std::fs::hard_link(&victim, &path).unwrap();
        let e = ReportLock::acquire(&report).unwrap_err().to_string();
        assert_eq!(
            e,
            format!(
                "the lock file {} was not left by a run of this user: it has 2 names (a hard link to another file); it is left untouched: no run holds it, so look at it and remove it",
                path.display()
            )
        );
        assert_eq!(std::fs::read(&victim).unwrap(), b"keep me\n");
        let mode = std::fs::metadata(&victim).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o644);
        std::fs::remove_file(&path).unwrap();
        // A dead run's lock: its inode is left alone (a reader that opened it sees its
        // bytes unchanged), and a new file carries this run's PID.
        std::fs::write(&path, "4242").unwrap();
        let dead = std::fs::File::open(&path).unwrap();
        let dead_id = FileId::of(&dead.metadata().unwrap());
        let lock = ReportLock::acquire(&report).unwrap();
        assert_ne!(FileId::of(&std::fs::metadata(&path).unwrap()), dead_id);
        let mut old = String::new();
        (&dead).read_to_string(&mut old).unwrap();
        assert_eq!(old, "4242");
        assert_eq!(
            std::fs::read_to_string(&path).unwrap(),
            std::process::id().to_string()
        );
        drop(lock);
        assert!(!path.exists());
    }
}
