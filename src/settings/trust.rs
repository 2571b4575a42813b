//! Whether a config file may be believed, as ssh's StrictModes decides for `~/.ssh`.
//!
//! config.toml says where the client secret, the bearer token and every new password are
//! sent (`[api] base_url`, `token_url`). A file that someone else can write can redirect
//! them all, so a config file (given with `--config` or found by the search) is read only
//! when:
//!
//! - it is a regular file (a symlink is followed, and the file it names is checked);
//! - it is owned by root or by the user running the program, and not writable by group
//!   or others;
//! - every directory from the file's up to `/` (of the file as named and, when that is a
//!   symlink, of the file it names) is owned by root or that user, and not writable by
//!   group or others unless it has the sticky bit (`/tmp`): whoever can rename entries in
//!   a directory can swap the file for one of their own, or a symlink to another.
//!
//! Anything else is refused (exit 2) before the file is parsed, naming the file and the
//! fix. The checks are made on the file as opened (its `fstat`), so the file read is the
//! file checked; the directories can only be checked by path, as ssh does.
//!
//! Separately, [`off_zoom`] says which of a config's URLs point away from Zoom's hosts:
//! the run names each in a warning (the file, the key and the host) every time it uses
//! one, so a redirect planted in a file that passes these checks is still seen.

use crate::ledger::resume::origin::shell_quote;
use std::fs::Metadata;
use std::io::Read;
use std::os::unix::fs::{MetadataExt, OpenOptionsExt};
use std::path::{Path, PathBuf};

/// The largest config file read: far beyond any real one, and a bound on what a hostile
/// path (a device that never ends) can cost.
const MAX_CONFIG_BYTES: u64 = 1 << 20;

/// Group- and other-write bits.
const WRITE_BY_OTHERS: u32 = 0o022;
const STICKY: u32 = 0o1000;

/// Reads the config file at `path` once it has passed the checks above; the error is
/// the message for the operator.
pub fn read_trusted(path: &Path) -> Result<String, String> {
    let shown = path.display();
    // O_NONBLOCK: a FIFO planted as the config must be refused, not wait for a writer.
    let file = std::fs::OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NONBLOCK)
        .open(path)
        .map_err(|e| format!("cannot read config {shown}: {e}"))?;
    let meta = file
        .metadata()
        .map_err(|e| format!("cannot read config {shown}: {e}"))?;
    let me = euid();
    check_file(&meta, me).map_err(|why| refusal(path, &why))?;
    check_dirs(path, me).map_err(|why| refusal(path, &why))?;
    let mut text = String::new();
    file.take(MAX_CONFIG_BYTES + 1)
        .read_to_string(&mut text)
        .map_err(|e| format!("cannot read config {shown}: {e}"))?;
    if text.len() as u64 > MAX_CONFIG_BYTES {
        return Err(format!(
            "config {shown} is larger than {MAX_CONFIG_BYTES} bytes: not a config file"
        ));
    }
    Ok(text)
}

/// What is wrong with a file or one of its directories, and the command that fixes it.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Why {
    what: String,
    fix: String,
}

fn refusal(path: &Path, why: &Why) -> String {
    format!(
        "refusing config {}: {}; whoever can change it decides where the client secret and \
         every new password are sent. Check its contents, then fix it: {}",
        path.display(),
        why.what,
        why.fix
    )
}

/// The user the checks trust besides root.
fn euid() -> u32 {
    // SAFETY: geteuid has no preconditions and cannot fail.
    unsafe { libc::geteuid() }
}

/// The file itself: regular, owned by root or `me`, written by its owner only.
fn check_file(meta: &Metadata, me: u32) -> Result<(), Why> {
    if !meta.is_file() {
        return Err(Why {
            what: "it is not a regular file".into(),
            fix: "point --config at a regular file".into(),
        });
    }
    let mode = meta.mode() & 0o7777;
    if meta.uid() != 0 && meta.uid() != me {
        return Err(Why {
            what: format!(
                "it is owned by uid {}, not by root or the user running zoom-rotate (uid {me})",
                meta.uid()
            ),
            fix: format!("`chown {me} FILE` and `chmod go-w FILE` (mode now {mode:04o})"),
        });
    }
    if mode & WRITE_BY_OTHERS != 0 {
        return Err(Why {
            what: format!("it is writable by group or others (mode {mode:04o})"),
            fix: "`chmod go-w FILE`".into(),
        });
    }
    Ok(())
}

/// One directory above the file: owned by root or `me`, and not writable by group or
/// others unless sticky.
fn check_dir(dir: &Path, meta: &Metadata, me: u32) -> Result<(), Why> {
    let mode = meta.mode() & 0o7777;
    let quoted = shell_quote(&dir.display().to_string());
    if meta.uid() != 0 && meta.uid() != me {
        return Err(Why {
            what: format!(
                "its directory {} is owned by uid {}, who can replace the file",
                dir.display(),
                meta.uid()
            ),
            fix: format!(
                "`chown {me} {quoted}`, or keep the config in a directory of root or uid {me}"
            ),
        });
    }
    if mode & WRITE_BY_OTHERS != 0 && mode & STICKY == 0 {
        return Err(Why {
            what: format!(
                "its directory {} is writable by group or others (mode {mode:04o}), so \
                 anyone can replace the file",
                dir.display()
            ),
            fix: format!("`chmod go-w {quoted}`, or move the config to a private directory"),
        });
    }
    Ok(())
}

/// The directories whose owners could replace the file: from the named file's directory
/// up, and from the real file's directory up when a symlink leads elsewhere; nearest
/// first, each once.
fn directories(path: &Path) -> Vec<PathBuf> {
    let named = match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    };
    let mut dirs: Vec<PathBuf> = Vec::new();
    let real_file = std::fs::canonicalize(path).ok();
    let chains = [
        std::fs::canonicalize(named).ok(),
        real_file
            .as_deref()
            .and_then(Path::parent)
            .map(Path::to_path_buf),
    ];
    for start in chains.into_iter().flatten() {
        for d in start.ancestors() {
            if !dirs.iter().any(|seen| seen == d) {
                dirs.push(d.to_path_buf());
            }
        }
    }
    dirs
}

fn check_dirs(path: &Path, me: u32) -> Result<(), Why> {
    for dir in directories(path) {
        let meta = std::fs::metadata(&dir).map_err(|e| Why {
            what: format!("its directory {} cannot be checked ({e})", dir.display()),
            fix: "make the directory readable to the user running zoom-rotate".into(),
        })?;
        check_dir(&dir, &meta, me)?;
    }
    Ok(())
}

/// A config URL that leaves Zoom: the key and the host, for the warning.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OffZoom {
    /// `api.base_url` or `api.token_url`.
    pub key: &'static str,
    pub host: String,
    /// A loopback host: the simulator or a test stub, but also any local user's listener.
    pub loopback: bool,
}

/// The URLs among `(key, url)` whose host is not one of Zoom's.
pub fn off_zoom<'a>(urls: impl IntoIterator<Item = (&'static str, &'a url::Url)>) -> Vec<OffZoom> {
    urls.into_iter()
        .filter_map(|(key, url)| {
            let host = url.host_str()?.to_string();
            if crate::zoom::url::is_zoom_host(&host) {
                return None;
            }
            Some(OffZoom {
                key,
                loopback: crate::zoom::url::is_loopback(url),
                host,
            })
        })
        .collect()
}

#[cfg(test)]
mod unit {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    fn meta_of(mode: u32) -> (tempfile::TempDir, Metadata) {
        let dir = tempfile::tempdir().unwrap();
        let f = dir.path().join("c.toml");
        std::fs::write(&f, "").unwrap();
        std::fs::set_permissions(&f, std::fs::Permissions::from_mode(mode)).unwrap();
        let m = std::fs::metadata(&f).unwrap();
        (dir, m)
    }

    #[test]
    fn the_file_must_be_written_by_its_owner_only() {
        let me = euid();
        for (mode, ok) in [(0o600, true), (0o644, true), (0o664, false), (0o646, false)] {
            let (_d, m) = meta_of(mode);
            assert_eq!(check_file(&m, me).is_ok(), ok, "{mode:o}");
        }
        let (_d, m) = meta_of(0o600);
        let other = if m.uid() == 0 { 65534 } else { m.uid() + 1 };
        // As seen by a user who neither owns it nor is root (unless the owner is root).
        if m.uid() != 0 {
            assert!(check_file(&m, other).is_err());
        }
        let dir = tempfile::tempdir().unwrap();
        let m = std::fs::metadata(dir.path()).unwrap();
        let why = check_file(&m, me).unwrap_err();
        assert_eq!(why.what, "it is not a regular file");
    }

    #[test]
    fn directories_are_checked_up_to_the_root_and_sticky_ones_pass() {
        let (d, _) = meta_of(0o600);
        let file = d.path().join("c.toml");
        let link = d.path().join("sub");
        std::fs::create_dir(&link).unwrap();
        std::os::unix::fs::symlink(&file, link.join("l.toml")).unwrap();
        let dirs = directories(&link.join("l.toml"));
        let real = std::fs::canonicalize(d.path()).unwrap();
        assert_eq!(dirs[0], real.join("sub"), "the link's own directory first");
        assert_eq!(
            dirs[1], real,
            "then up, the real file's directory among them"
        );
        assert_eq!(dirs.last().map(PathBuf::as_path), Some(Path::new("/")));
        assert_eq!(dirs.len(), real.ancestors().count() + 1, "each once");
        let tmp = std::fs::metadata("/tmp").unwrap();
        if tmp.mode() & 0o1777 == 0o1777 && tmp.uid() == 0 {
            assert!(check_dir(Path::new("/tmp"), &tmp, euid()).is_ok());
        }
        let d = tempfile::tempdir().unwrap();
        std::fs::set_permissions(d.path(), std::fs::Permissions::from_mode(0o777)).unwrap();
        let m = std::fs::metadata(d.path()).unwrap();
        let why = check_dir(d.path(), &m, euid()).unwrap_err();
        assert!(why.fix.starts_with("`chmod go-w "), "{why:?}");
    }

    #[test]
    fn only_hosts_off_zoom_are_named() {
        let u = |s: &str| url::Url::parse(s).unwrap();
        let (a, b, c, d) = (
            u("https://api.zoom.us/v2"),
            u("https://api-eu.zoomgov.com/v2"),
            u("https://evil.example/v2"),
            u("http://127.0.0.1:9/oauth/token"),
        );
        let named = off_zoom([
            ("api.base_url", &a),
            ("api.base_url", &b),
            ("api.base_url", &c),
            ("api.token_url", &d),
        ]);
        assert_eq!(
            named,
            [
                OffZoom {
                    key: "api.base_url",
                    host: "evil.example".into(),
                    loopback: false
                },
                OffZoom {
                    key: "api.token_url",
                    host: "127.0.0.1".into(),
                    loopback: true
                }
            ]
        );
        let e = u("https://zoom.us.evil.example/");
        assert_eq!(off_zoom([("api.base_url", &e)]).len(), 1);
    }
}
