//! `--generate`: a fresh password per user from the operating system's CSPRNG, and the
//! file the passwords are saved to before they are sent.
//!
//! A password is drawn uniformly from letters, digits and a few symbols that survive
//! copy and paste (no quotes, commas, spaces or backslashes), then drawn again until it
//! satisfies the basic rules and the account's enhanced rules and differs from every
//! other password of the run. At 20 characters that is about 123 bits of entropy. The
//! draws are bounded ([`MAX_DRAWS`]): the run validates the policy first, so within Zoom's
//! ranges nearly every draw passes, but a policy no password meets must end in an error,
//! never in a loop that holds a core and ignores SIGTERM.
//!
//! [`SavedPasswords`] writes `user_id,password` lines to a new 0600 file, flushed and
//! synced before the request that uses the password leaves, so no change can ever be
//! applied whose password was not saved first. The writing and syncing happen on a thread
//! of its own, as the journal's do: an fsync on one of the runtime's few threads would
//! stall every worker on it and jitter the pacing Zoom sees. The thread writes whatever
//! lines have queued and syncs once for all of them; each `save` returns when its line is
//! durable. On `--resume` the same file is read back
//! ([`SavedPasswords::open_for_resume`]) and every user in it gets its saved password
//! again ([`Generator::reusing`]): an earlier attempt may have applied it, and only the
//! same password is safe to send again (API-NOTES, "what that means for retries").

use crate::checks::user_key;
use crate::files;
use crate::rules::{self, PasswordPolicy};
use rand::rngs::OsRng;
use rand::Rng;
use secrecy::zeroize::{Zeroize, Zeroizing};
use secrecy::{ExposeSecret, SecretString};
use std::collections::{HashMap, HashSet};
use std::fs::File;
use std::hash::{BuildHasher, RandomState};
use std::io::{self, Read, Seek, Write};
use std::path::Path;
use std::sync::mpsc as std_mpsc;
use tokio::sync::oneshot;

const ALPHABET: &[u8] = b"ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz23456789!#$%&*+-=?@^_";

/// Draws per password before giving up. Under the strictest valid policy (14 characters,
/// a special character, runs of 4, weak words) well over half the draws pass, so 1000
/// failures in a row only happen when the policy cannot be met at all.
pub const MAX_DRAWS: u32 = 1000;

/// No password could be drawn that meets the rules.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("no generated password met the account's password rules in {MAX_DRAWS} draws: the rules cannot be met ({policy})")]
pub struct GenerateError {
    policy: String,
}

/// The first line of a `--generated-out` file.
pub const HEADER: &str = "user_id,password";

/// Makes unique passwords that pass the account's rules.
pub struct Generator {
    length: usize,
    issued: HashSet<u64>,
    keys: RandomState,
    /// Passwords saved by an earlier run of this job, by [`user_key`].
    reuse: HashMap<String, SecretString>,
}

impl Generator {
    pub fn new(length: usize) -> Self {
        Generator {
            length,
            issued: HashSet::new(),
            keys: RandomState::new(),
            reuse: HashMap::new(),
        }
    }

    /// Gives the users of `saved` (from [`SavedPasswords::open_for_resume`]) their saved
    /// password again instead of a new one; new passwords will differ from all of them.
    pub fn reusing(mut self, saved: HashMap<String, SecretString>) -> Self {
        for p in saved.values() {
            self.issued.insert(self.keys.hash_one(p.expose_secret()));
        }
        self.reuse = saved;
        self
    }

    /// The password for `user`: the one saved for it by an earlier run, else a new one.
    pub fn password_for(
        &mut self,
        user: &str,
        policy: &PasswordPolicy,
    ) -> Result<SecretString, GenerateError> {
        match self.reuse.remove(&user_key(user)) {
            Some(p) => Ok(p),
            None => self.next(policy),
        }
    }

    /// The next password: draws until one passes the rules and is new, at most
    /// [`MAX_DRAWS`] times; with 8+ characters from this alphabet, nearly every draw
    /// does. The length grows to the account's minimum when that is longer (never past
    /// the 31 characters Zoom accepts).
    pub fn next(&mut self, policy: &PasswordPolicy) -> Result<SecretString, GenerateError> {
        let length = self
            .length
            .max(policy.minimum_password_length as usize)
            .min(rules::MAX_LEN - 1);
        for _ in 0..MAX_DRAWS {
            let candidate: String = (0..length)
                .map(|_| ALPHABET[OsRng.gen_range(0..ALPHABET.len())] as char)
                .collect();
            let candidate = SecretString::from(candidate);
            if rules::check(candidate.expose_secret(), policy).is_err() {
                continue;
            }
            if self
                .issued
                .insert(self.keys.hash_one(candidate.expose_secret()))
            {
                return Ok(candidate);
            }
        }
        Err(GenerateError {
            policy: format!("{policy:?}"),
        })
    }
}

/// A line for the writer thread (wiped when dropped: it holds a password) and where to
/// say it is durable.
type Pending = (Zeroizing<Vec<u8>>, oneshot::Sender<io::Result<()>>);

/// The `--generated-out` file.
pub struct SavedPasswords {
    /// To the writer thread, which owns the file; it ends when this is dropped.
    tx: std_mpsc::Sender<Pending>,
    /// What the file held when a resumed run opened it: keyed hashes of each user's key
    /// and of its latest password, so saving the same pair again writes nothing.
    present: HashMap<u64, u64>,
    keys: RandomState,
}

impl SavedPasswords {
    /// Creates `path` (never overwriting), mode 0600, with its header line.
    pub fn create(path: &Path) -> anyhow::Result<Self> {
        let mut file = files::create_private(path)?;
        file.write_all(HEADER.as_bytes())?;
        file.write_all(b"\n")?;
        file.sync_data()?;
        Ok(SavedPasswords {
            tx: start_writer(file)?,
            present: HashMap::new(),
            keys: RandomState::new(),
        })
    }

    /// For `--resume`: opens the file an earlier run of this job wrote (or creates it,
    /// when that run stopped before writing it) to append to it, and returns the saved
    /// passwords by [`user_key`], the latest line of a user winning. Pass them to
    /// [`Generator::reusing`]. A last line cut short (power lost mid-write) is removed:
    /// its request had not been sent, since every line is synced before its request.
    pub fn open_for_resume(
        path: &Path,
    ) -> anyhow::Result<(SavedPasswords, HashMap<String, SecretString>)> {
        if !path.exists() {
            return Ok((Self::create(path)?, HashMap::new()));
        }
        let mut file = files::open_existing_private(path)?;
        let mut text = Vec::new();
        file.read_to_end(&mut text)
            .map_err(|e| anyhow::anyhow!("cannot read {}: {e}", path.display()))?;
        let result = Self::parse(path, &text);
        let complete = text.iter().rposition(|b| *b == b'\n').map_or(0, |i| i + 1);
        let torn = complete < text.len();
        text.zeroize();
        let saved = result?;
        if torn {
            tracing::warn!(path = %path.display(), "the last line of the generated-passwords file was cut short (its request was never sent): removed");
            file.set_len(complete as u64)?;
        }
        file.seek(std::io::SeekFrom::End(0))?;
        let keys = RandomState::new();
        let present = saved
            .iter()
            .map(|(user, p)| (keys.hash_one(user), keys.hash_one(p.expose_secret())))
            .collect();
        Ok((
            SavedPasswords {
                tx: start_writer(file)?,
                present,
                keys,
            },
            saved,
        ))
    }

    /// The complete lines of a generated-passwords file, by user key.
    fn parse(path: &Path, text: &[u8]) -> anyhow::Result<HashMap<String, SecretString>> {
        let complete = text.iter().rposition(|b| *b == b'\n').map_or(0, |i| i + 1);
        let mut reader = csv::ReaderBuilder::new()
            .has_headers(false)
            .flexible(true)
            .from_reader(&text[..complete]);
        let mut saved = HashMap::new();
        let mut record = csv::StringRecord::new();
        let mut first = true;
        loop {
            match reader.read_record(&mut record) {
                Ok(false) => break,
                Ok(true) => {}
                Err(_) => anyhow::bail!(
                    "{} is not a generated-passwords file this program wrote (unreadable at line {})",
                    path.display(),
                    reader.position().line()
                ),
            }
            let fields: Vec<&str> = record.iter().collect();
            if first {
                first = false;
                if fields != ["user_id", "password"] {
                    anyhow::bail!(
                        "{} does not start with the line {HEADER:?}: it is not a generated-passwords file; choose another --generated-out",
                        path.display()
                    );
                }
                continue;
            }
            match fields.as_slice() {
                [user, password] if !user.is_empty() && !password.is_empty() => {
                    saved.insert(user_key(user), SecretString::from(password.to_string()));
                }
                _ => anyhow::bail!(
                    "{}: line {} is not user_id,password",
                    path.display(),
                    record.position().map_or(0, |p| p.line())
                ),
            }
        }
        record.clear();
        Ok(saved)
    }

    /// Appends one line and returns once it is synced to disk (by the writer thread, so
    /// no runtime thread waits on the fsync). The only place a generated password is
    /// written anywhere. A user whose line a resumed run found with this same password
    /// is not written again.
    pub async fn save(&self, user_id: &str, password: &SecretString) -> io::Result<()> {
        if !self.present.is_empty() {
            let user = self.keys.hash_one(user_key(user_id));
            if self.present.get(&user) == Some(&self.keys.hash_one(password.expose_secret())) {
                return Ok(());
            }
        }
        let mut line = Zeroizing::new(Vec::with_capacity(user_id.len() + 40));
        {
            let mut w = csv::WriterBuilder::new().from_writer(&mut *line);
            w.write_record([user_id, password.expose_secret()])
                .map_err(io::Error::other)?;
            w.flush()?;
        }
        let (ack, done) = oneshot::channel();
        let gone = || io::Error::other("the generated-passwords writer has stopped");
        self.tx.send((line, ack)).map_err(|_| gone())?;
        done.await.unwrap_or_else(|_| Err(gone()))
    }
}

/// Starts the thread that owns `file` and appends the lines sent to it.
fn start_writer(file: File) -> io::Result<std_mpsc::Sender<Pending>> {
    let (tx, rx) = std_mpsc::channel::<Pending>();
    std::thread::Builder::new()
        .name("generated-out".into())
        .spawn(move || writer(file, rx))?;
    Ok(tx)
}

/// Group commit: takes every line queued, writes them, syncs once, acknowledges each.
/// After a failed write the file may end in part of a line, so every later line fails
/// too: appending after a torn line would glue two users together.
fn writer(mut file: File, rx: std_mpsc::Receiver<Pending>) {
    let mut buf = Zeroizing::new(Vec::new());
    let mut acks = Vec::new();
    let mut broken: Option<(io::ErrorKind, String)> = None;
    while let Ok(first) = rx.recv() {
        buf.clear();
        for (line, ack) in std::iter::once(first).chain(rx.try_iter()) {
            buf.extend_from_slice(&line);
            acks.push(ack);
        }
        if broken.is_none() {
            if let Err(e) = file.write_all(&buf).and_then(|_| file.sync_data()) {
                broken = Some((e.kind(), e.to_string()));
            }
        }
        // The buffer held passwords: wipe it now, not when it is next reused.
        buf.zeroize();
        for ack in acks.drain(..) {
            let _ = ack.send(match &broken {
                None => Ok(()),
                Some((kind, message)) => Err(io::Error::new(*kind, message.clone())),
            });
        }
    }
}

#[cfg(test)]
mod unit {
    use super::*;

    #[test]
    fn passwords_pass_the_rules_and_are_unique() {
        let policy = PasswordPolicy {
            minimum_password_length: 14,
            have_special_character: true,
            consecutive_characters_length: 4,
            weak_enhance_detection: true,
        };
        let mut g = Generator::new(14);
        let mut seen = HashSet::new();
        for _ in 0..2000 {
            let p = g.next(&policy).unwrap();
            assert_eq!(p.expose_secret().len(), 14);
            assert!(rules::check(p.expose_secret(), &policy).is_ok());
            assert!(seen.insert(p.expose_secret().to_string()));
        }
    }

    #[test]
    fn an_account_minimum_longer_than_the_setting_wins() {
        let policy = PasswordPolicy {
            minimum_password_length: 14,
            ..PasswordPolicy::default()
        };
        let p = Generator::new(8).next(&policy).unwrap();
        assert_eq!(p.expose_secret().len(), 14);
    }

    #[tokio::test]
    async fn resume_reuses_saved_passwords_and_writes_no_duplicate() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("gen.csv");
        let policy = PasswordPolicy::default();
        let mut g = Generator::new(20);
        let a = g.password_for("A@x.com", &policy).unwrap();
        {
            let saved = SavedPasswords::create(&path).unwrap();
            saved.save("A@x.com", &a).await.unwrap();
        }
        // A torn last line: power lost mid-write.
        let mut f = std::fs::OpenOptions::new()
            .append(true)
            .open(&path)
            .unwrap();
        f.write_all(b"b@x.com,Torn").unwrap();
        drop(f);

        let (saved, map) = SavedPasswords::open_for_resume(&path).unwrap();
        assert_eq!(map.len(), 1);
        let mut g = Generator::new(20).reusing(map);
        let again = g.password_for("a@X.COM", &policy).unwrap();
        assert_eq!(again.expose_secret(), a.expose_secret());
        saved.save("a@x.com", &again).await.unwrap();
        let b = g.password_for("b@x.com", &policy).unwrap();
        assert_ne!(b.expose_secret(), a.expose_secret());
        saved.save("b@x.com", &b).await.unwrap();
        let text = std::fs::read_to_string(&path).unwrap();
        assert_eq!(
            text,
            format!(
                "user_id,password\nA@x.com,{}\nb@x.com,{}\n",
                a.expose_secret(),
                b.expose_secret()
            )
        );
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&path).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600);

        std::fs::write(&path, "email,pw\n").unwrap();
        assert!(SavedPasswords::open_for_resume(&path)
            .err()
            .unwrap()
            .to_string()
            .contains("not a generated-passwords file"));
    }
}
