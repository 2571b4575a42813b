//! The write-ahead journal beside the report: which rows had a request on the wire.
//!
//! Before a request leaves, its row (input line and user) is appended to
//! `<report>.journal` and synced to disk; the report row written when it finishes closes
//! it. After a crash (kill -9, power loss) a user in the journal without a later report
//! row was in flight: its change may have been applied, so `--resume` retries it as an
//! unanswered attempt. The user is recorded, not only the line, because an operator may
//! edit the input before resuming (drop the rows already done), and lines then shift.
//!
//! Format, one record a line: `E <bytes>` opens an epoch and says how long the report was
//! when the run started (rows after that offset belong to this run); `S <line> <user>`
//! says a request for that row is about to be sent, the user percent-encoded so that no
//! character of it can break the line (`S <line>` alone, from older journals, is read as
//! the line only). Syncs are grouped: one thread writes
//! whatever has queued and syncs once for all of it, so a fast run pays one fsync per
//! batch, not per request, and no request leaves before its record is durable.

use percent_encoding::percent_decode_str;
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
    tx: std_mpsc::Sender<(Record, Ack)>,
}

/// One `S` record: a row with a request on the wire (or about to be).
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Record {
    pub line: u64,
    /// `None` in a journal written before users were recorded.
    pub user: Option<String>,
}

impl Record {
    fn write_to(&self, buf: &mut String) {
        buf.push_str("S ");
        buf.push_str(&self.line.to_string());
        if let Some(user) = &self.user {
            buf.push(' ');
            buf.push_str(&crate::client::encode_segment(user));
        }
        buf.push('\n');
    }
}

/// What a journal left by an earlier run says.
#[derive(Debug, Default, Clone)]
pub struct Previous {
    /// Report length when that run started.
    pub epoch_offset: u64,
    /// Rows with a request on the wire (or about to be) in that run.
    pub sent: HashSet<Record>,
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
        // A torn last line (power loss mid-write) belongs to a request never sent; a torn
        // user, the same (its encoding has no spaces, so a cut is simply a shorter user,
        // and a user that never left was not in flight).
        let mut parts = line.split(' ');
        let kind = parts.next();
        let number = parts.next().and_then(|n| n.trim().parse::<u64>().ok());
        let user = parts.next().map(|u| {
            percent_decode_str(u.trim())
                .decode_utf8_lossy()
                .into_owned()
        });
        match (kind, number) {
            (Some("E"), Some(n)) => prev.epoch_offset = n,
            (Some("S"), Some(line)) => {
                prev.sent.insert(Record { line, user });
            }
            _ => {}
        }
    }
    Ok(Some(prev))
}

impl Journal {
    /// Starts a new journal at `path` (replacing an old one atomically): an epoch at
    /// `report_len`, then `carried` — rows still unresolved from an earlier crash, so a
    /// second crash before they are retried still knows about them.
    pub fn start(path: &Path, report_len: u64, carried: &[Record]) -> io::Result<Journal> {
        let tmp = path.with_extension("journal.tmp");
        let _ = std::fs::remove_file(&tmp);
        let mut file = crate::files::create_private(&tmp)?;
        let mut head = format!("E {report_len}\n");
        for record in carried {
            record.write_to(&mut head);
        }
        file.write_all(head.as_bytes())?;
        file.sync_data()?;
        std::fs::rename(&tmp, path)?;
        let (tx, rx) = std_mpsc::channel::<(Record, Ack)>();
        std::thread::Builder::new()
            .name("journal".into())
            .spawn(move || writer(file, rx))?;
        Ok(Journal { tx })
    }

    /// Records that a request for `user` (input `line`) is about to leave; returns once it
    /// is on disk.
    pub async fn sending(&self, line: u64, user: &str) -> io::Result<()> {
        let (ack, done) = oneshot::channel();
        let record = Record {
            line,
            user: Some(user.to_string()),
        };
        self.tx
            .send((record, ack))
            .map_err(|_| io::Error::other("the journal thread has stopped"))?;
        done.await
            .unwrap_or_else(|_| Err(io::Error::other("the journal thread has stopped")))
    }
}

fn writer(mut file: File, rx: std_mpsc::Receiver<(Record, Ack)>) {
    let mut buf = String::new();
    let mut acks = Vec::new();
    while let Ok(first) = rx.recv() {
        buf.clear();
        acks.clear();
        for (record, ack) in std::iter::once(first).chain(rx.try_iter()) {
            record.write_to(&mut buf);
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

#[cfg(test)]
mod unit {
    use super::*;

    #[tokio::test]
    async fn records_users_that_no_character_can_break() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("r.csv.journal");
        let carried = [Record {
            line: 9,
            user: Some("carried@example.com".into()),
        }];
        let journal = Journal::start(&path, 71, &carried).unwrap();
        journal.sending(2, "a b@example.com").await.unwrap();
        journal.sending(3, "x\ny %41").await.unwrap();
        drop(journal);
        let prev = read(&path).unwrap().unwrap();
        assert_eq!(prev.epoch_offset, 71);
        let mut sent: Vec<Record> = prev.sent.into_iter().collect();
        sent.sort();
        let user = |line, u: &str| Record {
            line,
            user: Some(u.into()),
        };
        assert_eq!(
            sent,
            vec![
                user(2, "a b@example.com"),
                user(3, "x\ny %41"),
                user(9, "carried@example.com")
            ]
        );
    }

    #[test]
    fn reads_line_only_records_and_skips_a_torn_tail() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("j");
        std::fs::write(&path, "E 5\nS 4\nS 6 u6%40example.com\nS").unwrap();
        let prev = read(&path).unwrap().unwrap();
        let mut sent: Vec<Record> = prev.sent.into_iter().collect();
        sent.sort();
        assert_eq!(
            sent,
            vec![
                Record {
                    line: 4,
                    user: None
                },
                Record {
                    line: 6,
                    user: Some("u6@example.com".into())
                }
            ]
        );
        assert!(read(&dir.path().join("none")).unwrap().is_none());
    }
}
