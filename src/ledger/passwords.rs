//! The `--generated-out` file: `user_id,password` lines in a new 0600 file, each flushed
//! and synced before the request that uses the password leaves, so no change can ever be
//! applied whose password was not saved first. The writing and syncing happen on a thread
//! of its own, as the journal's do: an fsync on one of the runtime's few threads would
//! stall every worker on it and jitter the pacing Zoom sees. The thread writes whatever
//! lines have queued and syncs once for all of them; each `save` returns when its line is
//! durable. On `--resume` the same file is read back ([`SavedPasswords::open_for_resume`])
//! so that every user in it is sent its saved password again. Cells a spreadsheet would
//! run (a generated password may start with `+`, `-`, `=` or `@`) are written
//! neutralised and read back exactly ([`crate::vocab::cell`]). With recipients the
//! same lines go, encrypted, to a directory of age files instead ([`sealed`]).

use crate::ledger::files;
use crate::vocab::{cell, user_key};
use secrecy::zeroize::{Zeroize, Zeroizing};
use secrecy::{ExposeSecret, SecretString};
use std::collections::HashMap;
use std::fs::File;
use std::hash::{BuildHasher, RandomState};
use std::io::{self, Read, Seek, Write};
use std::path::Path;
use std::sync::mpsc as std_mpsc;
use tokio::sync::oneshot;

pub mod sealed;

/// The first line of a `--generated-out` file.
pub const HEADER: &str = "user_id,password";

/// A line for the writer thread (wiped when dropped: it holds a password) and where to
/// say it is durable.
type Pending = (Zeroizing<Vec<u8>>, oneshot::Sender<io::Result<()>>);

/// The `--generated-out` file.
pub struct SavedPasswords {
    /// To the writer thread, which owns the file; it ends when this is dropped. Shared by
    /// every row through the pool: the thread syncs once for whatever lines have queued,
    /// off the runtime's threads. Unbounded, as the rows in flight bound it: each waits
    /// for its line to be durable before its request leaves.
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
        Self::over(Store::Plain(file), &HashMap::new())
    }

    /// The encrypted form: a new directory of age files at `dir` (see [`sealed`]).
    pub fn create_sealed(dir: &Path, recipients: sealed::Recipients) -> anyhow::Result<Self> {
        Self::over(
            Store::Sealed(sealed::Segments::create(dir, recipients)?),
            &HashMap::new(),
        )
    }

    /// For `--resume` with recipients: the directory an earlier run wrote, added to; its
    /// passwords read back when `identity` is given (else none: see [`sealed`]).
    pub fn open_sealed_for_resume(
        dir: &Path,
        recipients: sealed::Recipients,
        identity: Option<&Path>,
    ) -> anyhow::Result<(SavedPasswords, HashMap<String, SecretString>)> {
        let saved = match identity {
            Some(id) if dir.exists() => sealed::read(dir, id)?,
            _ => HashMap::new(),
        };
        let segments = sealed::Segments::open(dir, recipients)?;
        Ok((Self::over(Store::Sealed(segments), &saved)?, saved))
    }

    /// Starts the writer over `store`, knowing the `saved` passwords it already holds.
    fn over(store: Store, saved: &HashMap<String, SecretString>) -> anyhow::Result<Self> {
        let keys = RandomState::new();
        let present = saved
            .iter()
            .map(|(user, p)| (keys.hash_one(user), keys.hash_one(p.expose_secret())))
            .collect();
        Ok(SavedPasswords {
            tx: start_writer(store)?,
            present,
            keys,
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
        Ok((Self::over(Store::Plain(file), &saved)?, saved))
    }

    /// Reads the file a run wrote (for a hand-out): the latest password of each user, by
    /// [`user_key`]. Nothing is written or created.
    pub fn read(path: &Path) -> anyhow::Result<HashMap<String, SecretString>> {
        let mut text = files::read_private(path)
            .map_err(|e| anyhow::anyhow!("cannot read {}: {e}", path.display()))?
            .ok_or_else(|| anyhow::anyhow!("{} does not exist", path.display()))?;
        let saved = Self::parse(path, &text);
        text.zeroize();
        saved
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
                    let password = cell::restore(password).to_string();
                    saved.insert(user_key(cell::restore(user)), SecretString::from(password));
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
    /// is not written again. Its span is at `trace`, as the row's that calls it is, and
    /// names the user only.
    #[tracing::instrument(level = "trace", skip_all, fields(user = %user_id))]
    pub async fn save(&self, user_id: &str, password: &SecretString) -> io::Result<()> {
        if !self.present.is_empty() {
            let user = self.keys.hash_one(user_key(user_id));
            if self.present.get(&user) == Some(&self.keys.hash_one(password.expose_secret())) {
                return Ok(());
            }
        }
        let mut line = Zeroizing::new(Vec::with_capacity(user_id.len() + 40));
        {
            // A generated password may start with `+`, `-`, `=` or `@`: written
            // neutralised, read back exactly (`parse`), so a resume resends the same one.
            let user = cell::neutralise(user_id);
            let password = Zeroizing::new(cell::neutralise(password.expose_secret()).into_owned());
            let mut w = csv::WriterBuilder::new().from_writer(&mut *line);
            w.write_record([user.as_ref(), password.as_str()])
                .map_err(io::Error::other)?;
            w.flush()?;
        }
        let (ack, done) = oneshot::channel();
        let gone = || io::Error::other("the generated-passwords writer has stopped");
        self.tx.send((line, ack)).map_err(|_| gone())?;
        done.await.unwrap_or_else(|_| Err(gone()))
    }
}

/// Where the writer thread puts each group of lines: appended to the plaintext file, or
/// as one more complete age file.
enum Store {
    Plain(File),
    Sealed(sealed::Segments),
}

impl Store {
    /// Writes `lines` and makes them durable.
    fn append(&mut self, lines: &[u8]) -> io::Result<()> {
        match self {
            Store::Plain(file) => file.write_all(lines).and_then(|_| file.sync_data()),
            Store::Sealed(segments) => segments.append(lines),
        }
    }
}

/// Starts the thread that owns `file` and appends the lines sent to it.
fn start_writer(file: Store) -> io::Result<std_mpsc::Sender<Pending>> {
    let (tx, rx) = std_mpsc::channel::<Pending>();
    std::thread::Builder::new()
        .name("generated-out".into())
        .spawn(move || writer(file, rx))?;
    Ok(tx)
}

/// Group commit: takes every line queued, writes them, syncs once, acknowledges each.
/// After a failed write the file may end in part of a line, so every later line fails
/// too: appending after a torn line would glue two users together.
fn writer(mut file: Store, rx: std_mpsc::Receiver<Pending>) {
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
            if let Err(e) = file.append(&buf) {
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
