//! The encrypted `--generated-out`: with `--encrypt-to` / `--recipients-file`, the path
//! names a directory of age files (`000001.age`, `000002.age`, …), and no password is
//! ever on disk in plaintext.
//!
//! An age file is only decryptable once it is complete (its last chunk is sealed as the
//! last), so one file cannot grow line by line. Instead each group the writer thread
//! takes (every line queued while it wrote the previous group) becomes one complete age
//! file: encrypted in memory, written to a temporary beside it, synced, renamed into
//! place, and the directory synced, all before the rows' acks go back and their requests
//! leave. A `kill -9` at any moment leaves only complete `*.age` files (a torn
//! temporary is removed on the next open), and every password that was sent is in one
//! of them. Each file is a whole CSV, `user_id,password` then its lines, so `age -d -i
//! key.txt 000001.age` reads alone; a later file's line for a user supersedes an earlier
//! one's.
//!
//! A resume must resend the same password to a user whose change may have applied, and
//! the host running the job holds only the recipients' public keys. So a resume reads
//! the files back only with `--identity FILE`; without it, the run refuses when any user
//! is to be resent (`commands::run` asks the resume state), and otherwise the users left
//! get fresh passwords, which is safe since none of their earlier ones was ever sent.

use crate::ledger::files::{self, Disk};
use crate::vocab::{bad, ConfigError};
use secrecy::zeroize::Zeroizing;
use secrecy::SecretString;
use std::collections::HashMap;
use std::io::{self, Read, Write};
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// A recipient of the encrypted files.
type Key = Box<dyn age::Recipient + Send + Sync>;

/// The recipients the generated passwords are encrypted to, parsed once (public keys
/// only: nothing here is secret).
#[derive(Clone)]
pub struct Recipients {
    keys: Arc<Vec<Key>>,
    /// The flags as given, for the command that continues the run.
    pub words: Vec<(&'static str, String)>,
}

/// Two sets of recipients are the same when they were given the same way.
impl PartialEq for Recipients {
    fn eq(&self, other: &Self) -> bool {
        self.words == other.words
    }
}

impl Eq for Recipients {}

impl std::fmt::Debug for Recipients {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Recipients({})", self.keys.len())
    }
}

/// An age X25519 recipient (`age1…`) or an SSH public key (`ssh-ed25519 …`, `ssh-rsa …`).
fn recipient(text: &str) -> Option<Key> {
    if let Ok(r) = text.parse::<age::x25519::Recipient>() {
        return Some(Box::new(r));
    }
    text.parse::<age::ssh::Recipient>()
        .ok()
        .map(|r| Box::new(r) as Key)
}

impl Recipients {
    /// `--encrypt-to` (each) and `--recipients-file` (one recipient a line; blank lines
    /// and `#` comments skipped, as age's own `-R` reads it). `None` when neither is given.
    pub fn parse(given: &[String], file: Option<&Path>) -> Result<Option<Recipients>, ConfigError> {
        let mut keys = Vec::new();
        let mut words = Vec::new();
        for text in given {
            keys.push(recipient(text.trim()).ok_or_else(|| {
                bad(
                    "--encrypt-to",
                    format!("{text:?}"),
                    "an age recipient (age1…) or an SSH public key",
                )
            })?);
            words.push(("encrypt-to", text.clone()));
        }
        if let Some(path) = file {
            let field = "--recipients-file";
            let text = std::fs::read_to_string(path).map_err(|e| {
                bad(
                    field,
                    path.display(),
                    &format!("a readable file of recipients ({e})"),
                )
            })?;
            let lines = text
                .lines()
                .map(str::trim)
                .filter(|l| !l.is_empty() && !l.starts_with('#'));
            let before = keys.len();
            for (n, line) in lines.enumerate() {
                keys.push(recipient(line).ok_or_else(|| {
                    bad(
                        field,
                        format!("{} (recipient {})", path.display(), n + 1),
                        "one age recipient (age1…) or SSH public key a line",
                    )
                })?);
            }
            if keys.len() == before {
                return Err(bad(field, path.display(), "at least one recipient"));
            }
            words.push(("recipients-file", path.display().to_string()));
        }
        Ok((!keys.is_empty()).then(|| Recipients {
            keys: Arc::new(keys),
            words,
        }))
    }

    /// `plaintext`, encrypted to every recipient, as one complete age file.
    pub fn seal(&self, plaintext: &[u8]) -> io::Result<Vec<u8>> {
        let keys = self.keys.iter().map(|k| k.as_ref() as &dyn age::Recipient);
        let encryptor = age::Encryptor::with_recipients(keys).map_err(io::Error::other)?;
        let mut out = Vec::with_capacity(plaintext.len() + 512);
        let mut w = encryptor.wrap_output(&mut out)?;
        w.write_all(plaintext)?;
        w.finish()?;
        Ok(out)
    }
}

/// The directory of age files, written one complete file per group.
pub struct Segments {
    dir: PathBuf,
    next: u64,
    recipients: Recipients,
}

/// The number of a segment file's name (`000042.age`).
fn number(name: &str) -> Option<u64> {
    let digits = name.strip_suffix(".age")?;
    (digits.len() == 6 && digits.bytes().all(|b| b.is_ascii_digit()))
        .then(|| digits.parse().ok())?
}

impl Segments {
    /// Creates the directory (mode 0700; an existing one is refused: the files of another
    /// run are never mixed in) for a new run.
    pub fn create(dir: &Path, recipients: Recipients) -> io::Result<Segments> {
        files::create_parent_dirs(dir)?;
        use std::os::unix::fs::DirBuilderExt;
        std::fs::DirBuilder::new().mode(0o700).create(dir).map_err(|e| {
            io::Error::new(e.kind(), format!("cannot create the directory {}: {e} (a new run needs a new --generated-out)", dir.display()))
        })?;
        Ok(Segments {
            dir: dir.to_path_buf(),
            next: 1,
            recipients,
        })
    }

    /// Opens the directory an earlier run of this job wrote (or creates it), to add
    /// files after the last one; a temporary a crash left is removed (its requests were
    /// never sent).
    pub fn open(dir: &Path, recipients: Recipients) -> io::Result<Segments> {
        if !dir.exists() {
            return Segments::create(dir, recipients);
        }
        let found = Self::list(dir)?;
        for entry in std::fs::read_dir(dir)? {
            let path = entry?.path();
            if path.extension().is_some_and(|e| e == "tmp") {
                tracing::warn!(path = %path.display(), "an encrypted segment cut short by a crash (its requests were never sent): removed");
                std::fs::remove_file(&path)?;
            }
        }
        let next = found.last().map_or(1, |(n, _)| n + 1);
        Ok(Segments {
            dir: dir.to_path_buf(),
            next,
            recipients,
        })
    }

    /// The segment files, in order.
    pub fn list(dir: &Path) -> io::Result<Vec<(u64, PathBuf)>> {
        let mut found = Vec::new();
        for entry in std::fs::read_dir(dir)? {
            let entry = entry?;
            if let Some(n) = entry.file_name().to_str().and_then(number) {
                found.push((n, entry.path()));
            }
        }
        found.sort();
        Ok(found)
    }

    /// Writes `lines` (complete CSV lines) as the next complete age file, durably.
    pub fn append(&mut self, lines: &[u8]) -> io::Result<()> {
        let mut plain = Zeroizing::new(Vec::with_capacity(lines.len() + 20));
        plain.extend_from_slice(super::HEADER.as_bytes());
        plain.push(b'\n');
        plain.extend_from_slice(lines);
        let sealed = self.recipients.seal(&plain)?;
        let path = self.dir.join(format!("{:06}.age", self.next));
        Disk::default().replace_private(&path, &sealed)?;
        self.next += 1;
        Ok(())
    }
}

/// Decrypts every segment in `dir` with the identities in `identity` (an age identity
/// file, as `age -d -i` reads), the latest line of a user winning.
pub fn read(dir: &Path, identity: &Path) -> anyhow::Result<HashMap<String, SecretString>> {
    let ids = age::IdentityFile::from_file(identity.display().to_string())
        .map_err(|e| anyhow::anyhow!("cannot read the identity file {}: {e}", identity.display()))?
        .into_identities()
        .map_err(|e| anyhow::anyhow!("{}: {e}", identity.display()))?;
    let mut saved = HashMap::new();
    for (_, path) in
        Segments::list(dir).map_err(|e| anyhow::anyhow!("cannot list {}: {e}", dir.display()))?
    {
        let bytes = std::fs::read(&path)
            .map_err(|e| anyhow::anyhow!("cannot read {}: {e}", path.display()))?;
        let cannot = |e: &dyn std::fmt::Display| {
            anyhow::anyhow!(
                "cannot decrypt {} with {}: {e}",
                path.display(),
                identity.display()
            )
        };
        let decryptor = age::Decryptor::new_buffered(&bytes[..]).map_err(|e| cannot(&e))?;
        let mut reader = decryptor
            .decrypt(ids.iter().map(|i| i.as_ref() as &dyn age::Identity))
            .map_err(|e| cannot(&e))?;
        let mut plain = Zeroizing::new(Vec::new());
        reader.read_to_end(&mut plain).map_err(|e| cannot(&e))?;
        saved.extend(super::SavedPasswords::parse(&path, &plain)?);
    }
    Ok(saved)
}

#[cfg(test)]
mod unit {
    use super::*;

    #[test]
    fn recipients_are_age_or_ssh_public_keys() {
        let age_key = age::x25519::Identity::generate().to_public().to_string();
        let ssh_key =
            "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIKFt0/yGYKYNeiKhbW1y1O77/aPr6XGZgkxnCTw4OlTd test";
        let r = Recipients::parse(&[age_key, ssh_key.into()], None)
            .unwrap()
            .unwrap();
        assert_eq!(r.keys.len(), 2);
        let sealed = r.seal(b"user_id,password\n").unwrap();
        assert!(sealed.starts_with(b"age-encryption.org/v1\n"));
        assert_eq!(Recipients::parse(&[], None).unwrap(), None);
        let e = Recipients::parse(&["ssh-ed25519 nope".into()], None).unwrap_err();
        assert_eq!(e.field, "--encrypt-to");
    }

    #[test]
    fn only_six_digit_age_names_are_segments() {
        assert_eq!(number("000042.age"), Some(42));
        for name in ["42.age", "000042.age.tmp", "000042.txt", "00004x.age"] {
            assert_eq!(number(name), None, "{name}");
        }
    }
}
