//! The write-ahead journal beside the report: which rows had a request on the wire.
//!
//! Before a request leaves, its row's line is appended to `<report>.journal` and synced
//! to disk; the report row written when it finishes closes it. After a crash (kill -9,
//! power loss) a line in the journal without a later report row was in flight: its
//! change may have been applied, so `--resume` retries it as an unanswered attempt.
//!
//! Format, one record a line: `E <bytes>` opens an epoch and says how long the report was
//! when the run started (rows after that offset belong to this run); `S <line>` says a
//! request for that input line is about to be sent. Syncs are grouped: one thread writes
//! whatever has queued and syncs once for all of it, so a fast run pays one fsync per
//! batch, not per request, and no request leaves before its record is durable.

use std::collections::HashSet;
use std::fs::File;
use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::sync::mpsc as std_mpsc;
use tokio::sync::oneshot;

/// The journal's path for a report.
pub fn path_for(report: &Path) -> PathBuf {
    let mut name = report.as_os_str().to_owned();
    name.push(".journal");
    name.into()
}

type Ack = oneshot::Sender<io::Result<()>>;

/// A handle to the journal thread.
#[derive(Clone)]
pub struct Journal {
    tx: std_mpsc::Sender<(u64, Ack)>,
}

/// What a journal left by an earlier run says.
#[derive(Debug, Default, Clone)]
pub struct Previous {
    /// Report length when that run started.
    pub epoch_offset: u64,
    /// Lines with a request on the wire (or about to be) in that run.
    pub sent: HashSet<u64>,
}

/// Reads a journal left behind; `None` when there is none (the last run completed).
pub fn read(path: &Path) -> io::Result<Option<Previous>> {
    let text = match std::fs::read_to_string(path) {
        Ok(t) => t,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(e),
    };
    let mut prev = Previous::default();
    for line in text.lines() {
        // A torn last line (power loss mid-write) belongs to a request never sent.
        let mut parts = line.splitn(2, ' ');
        match (
            parts.next(),
            parts.next().and_then(|n| n.trim().parse::<u64>().ok()),
        ) {
            (Some("E"), Some(n)) => prev.epoch_offset = n,
            (Some("S"), Some(n)) => {
                prev.sent.insert(n);
            }
            _ => {}
        }
    }
    Ok(Some(prev))
}

impl Journal {
    /// Starts a new journal at `path` (replacing an old one atomically): an epoch at
    /// `report_len`, then `carried` — lines still unresolved from an earlier crash, so a
    /// second crash before they are retried still knows about them.
    pub fn start(path: &Path, report_len: u64, carried: &[u64]) -> io::Result<Journal> {
        let tmp = path.with_extension("journal.tmp");
        let _ = std::fs::remove_file(&tmp);
        let mut file = crate::files::create_private(&tmp)?;
        let mut head = format!("E {report_len}\n");
        for l in carried {
            head.push_str(&format!("S {l}\n"));
        }
        file.write_all(head.as_bytes())?;
        file.sync_data()?;
        std::fs::rename(&tmp, path)?;
        let (tx, rx) = std_mpsc::channel::<(u64, Ack)>();
        std::thread::Builder::new()
            .name("journal".into())
            .spawn(move || writer(file, rx))?;
        Ok(Journal { tx })
    }

    /// Records that a request for `line` is about to leave; returns once it is on disk.
    pub async fn sending(&self, line: u64) -> io::Result<()> {
        let (ack, done) = oneshot::channel();
        self.tx
            .send((line, ack))
            .map_err(|_| io::Error::other("the journal thread has stopped"))?;
        done.await
            .unwrap_or_else(|_| Err(io::Error::other("the journal thread has stopped")))
    }
}

fn writer(mut file: File, rx: std_mpsc::Receiver<(u64, Ack)>) {
    let mut buf = String::new();
    let mut acks = Vec::new();
    while let Ok(first) = rx.recv() {
        buf.clear();
        acks.clear();
        for (line, ack) in std::iter::once(first).chain(rx.try_iter()) {
            buf.push_str("S ");
            buf.push_str(&line.to_string());
            buf.push('\n');
            acks.push(ack);
        }
        let result = file
            .write_all(buf.as_bytes())
            .and_then(|_| file.sync_data());
        for ack in acks.drain(..) {
            let _ = ack.send(match &result {
                Ok(()) => Ok(()),
                Err(e) => Err(io::Error::new(e.kind(), e.to_string())),
            });
        }
    }
}

/// Removes the journal once the run has written a row for every input row.
pub fn finish(path: &Path) {
    if let Err(e) = std::fs::remove_file(path) {
        if e.kind() != io::ErrorKind::NotFound {
            tracing::warn!(path = %path.display(), error = %e, "could not remove the journal");
        }
    }
}
