//! The write-ahead journal beside the report: which rows had a request on the wire.
//!
//! Before a request leaves, its row (input line and user) is appended to
//! `<report>.journal` and synced to disk; the report row written when it finishes closes
//! it. After a crash (kill -9, power loss) a user in the journal without a later report
//! row was in flight: its change may have been applied, so `--resume` retries it as an
//! unanswered attempt. The user is recorded, not only the line, because an operator may
//! edit the input before resuming (drop the rows already done), and lines then shift.
//!
//! Format, one record a line: `E <bytes> <timeout_ms> <unix_ms>` opens an epoch, says how
//! long the report was when the run started (rows after that offset belong to this run),
//! the run's request timeout and when it started; `S <line> <user> <unix_ms>` says a
//! request for that row is about to be sent, and when, the user percent-encoded so that
//! no character of it can break the line. With `--contain-sso`, `R <line> <user> <unix_ms>`
//! says an SSO token revoke for that row is about to be sent (read like `S`: in flight),
//! and `V <line> <user> <unix_ms>` that Zoom answered it 204: a resume reports such a
//! user `sso_revoked` without a second revoke. (A revoke that went unanswered is sent
//! again: it is idempotent, and only an answer makes the row's state known.) The times let a resume wait until a dead run's
//! last request has surely timed out before sending the same user again. Older journals
//! (`E <bytes>`, `S <line> [<user>]`) are still read. Syncs are grouped: one thread writes
//! whatever has queued and syncs once for all of it, so a fast run pays one fsync per
//! batch, not per request, and no request leaves before its record is durable.

use crate::ledger::files::Disk;
use percent_encoding::percent_decode_str;
use std::collections::HashSet;
use std::fs::File;
use std::io::{self, Write};
use std::path::Path;
use std::sync::mpsc as std_mpsc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};
use tokio::sync::oneshot;

/// Where the journal thread says a record is durable (or why it is not): the row waits on
/// it before its request may leave.
type Ack = oneshot::Sender<io::Result<()>>;

/// What a record says about its row: `S` a password change, `R` a revoke, about to be
/// sent; `V` a revoke Zoom answered 204.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Sending,
    Revoking,
    Revoked,
}

impl Kind {
    fn letter(self) -> &'static str {
        match self {
            Kind::Sending => "S ",
            Kind::Revoking => "R ",
            Kind::Revoked => "V ",
        }
    }
}

/// A handle to the journal thread.
#[derive(Clone)]
pub struct Journal {
    /// To the thread that owns the file, shared by every row: the thread takes whatever
    /// records have queued, writes them and syncs once for all of them (group commit),
    /// keeping the fsync off the runtime's threads. Unbounded, as the rows in flight
    /// bound it: each waits for its ack before it sends anything else. The thread ends
    /// when the last handle is dropped.
    tx: std_mpsc::Sender<(Kind, Record, Ack)>,
}

/// One `S` record: a row with a request on the wire (or about to be).
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Record {
    pub line: u64,
    /// `None` in a journal written before users were recorded.
    pub user: Option<String>,
}

impl Record {
    fn write_to(&self, kind: Kind, buf: &mut String, at: SystemTime) {
        buf.push_str(kind.letter());
        buf.push_str(&self.line.to_string());
        // A user is always written by this version; a line-only record carried from an
        // old journal gets a placeholder user, which matches nobody.
        buf.push(' ');
        match &self.user {
            Some(user) => buf.push_str(&crate::zoom::client::encode_segment(user)),
            None => buf.push('-'),
        }
        buf.push(' ');
        buf.push_str(&unix_ms(at).to_string());
        buf.push('\n');
    }
}

/// Milliseconds since the epoch (0 for a clock before it).
fn unix_ms(t: SystemTime) -> u64 {
    t.duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis().min(u64::MAX as u128) as u64)
        .unwrap_or(0)
}

/// The longest request timeout a journal is believed about (the config's own limit):
/// a corrupt or hostile value cannot make a resume wait for days.
pub const MAX_TIMEOUT: Duration = Duration::from_secs(600);

/// What a journal left by an earlier run says.
#[derive(Debug, Default, Clone)]
pub struct Previous {
    /// Report length when that run started.
    pub epoch_offset: u64,
    /// Rows with a request on the wire (or about to be) in that run.
    pub sent: HashSet<Record>,
    /// Rows whose SSO token revoke Zoom answered 204 in that run.
    pub revoked: HashSet<Record>,
    /// That run's request timeout (clamped to [`MAX_TIMEOUT`]); `None` in older journals.
    pub timeout: Option<Duration>,
    /// When its last record was written: from the records, else the file's mtime.
    pub last_record: Option<SystemTime>,
}

impl Previous {
    /// When every request of that run has surely ended (its last record plus its
    /// timeout, or `fallback` when it recorded none); `None` if that cannot be told.
    pub fn requests_over_at(&self, fallback: Duration) -> Option<SystemTime> {
        let timeout = self.timeout.unwrap_or(fallback).min(MAX_TIMEOUT);
        self.last_record?.checked_add(timeout)
    }
}

/// Reads a journal left behind; `None` when there is none (the last run completed).
pub fn read(path: &Path) -> io::Result<Option<Previous>> {
    let Some(bytes) = crate::ledger::files::read_private(path)? else {
        return Ok(None);
    };
    let text = String::from_utf8_lossy(&bytes);
    let mut prev = Previous::default();
    let mut last_ms: Option<u64> = None;
    for line in text.lines() {
        // A torn last line (power loss mid-write) belongs to a request never sent; a torn
        // user, the same (its encoding has no spaces, so a cut is simply a shorter user,
        // and a user that never left was not in flight). A torn time is only shorter, so
        // earlier: the wait it sets is then shorter, never longer than recorded.
        let mut parts = line.split(' ');
        let kind = parts.next();
        let number = parts.next().and_then(|n| n.trim().parse::<u64>().ok());
        let third = parts.next().map(str::trim);
        let ms = parts.next().and_then(|n| n.trim().parse::<u64>().ok());
        match (kind, number) {
            (Some("E"), Some(n)) => {
                prev.epoch_offset = n;
                let timeout = third.and_then(|t| t.parse::<u64>().ok());
                prev.timeout = timeout.map(|t| Duration::from_millis(t).min(MAX_TIMEOUT));
            }
            (Some(kind @ ("S" | "R" | "V")), Some(line)) => {
                let user = third
                    .filter(|u| *u != "-")
                    .map(|u| percent_decode_str(u).decode_utf8_lossy().into_owned());
                let record = Record { line, user };
                if kind == "V" {
                    prev.revoked.insert(record);
                } else {
                    prev.sent.insert(record);
                }
            }
            _ => continue,
        }
        last_ms = last_ms.max(ms);
    }
    prev.last_record = match last_ms {
        Some(ms) => UNIX_EPOCH.checked_add(Duration::from_millis(ms)),
        None => std::fs::symlink_metadata(path)
            .and_then(|m| m.modified())
            .ok(),
    };
    Ok(Some(prev))
}

impl Journal {
    /// Starts a new journal at `path` (replacing an old one atomically, the directory
    /// synced): an epoch at `report_len` with this run's request `timeout`, then `carried`
    /// — rows still unresolved from an earlier crash, so a second crash before they are
    /// retried still knows about them — and `revoked`, the rows whose revoke an earlier
    /// run saw answered but did not report.
    pub fn start(
        path: &Path,
        report_len: u64,
        (carried, revoked): (&[Record], &[Record]),
        timeout: Duration,
        disk: &Disk,
    ) -> io::Result<Journal> {
        let now = SystemTime::now();
        let mut head = format!(
            "E {report_len} {} {}\n",
            timeout.as_millis().min(u64::MAX as u128),
            unix_ms(now)
        );
        for record in carried {
            record.write_to(Kind::Sending, &mut head, now);
        }
        for record in revoked {
            record.write_to(Kind::Revoked, &mut head, now);
        }
        // Atomically: a crash leaves the previous journal or this one, never a mix.
        let file = disk.replace_private_open(path, head.as_bytes())?;
        let (tx, rx) = std_mpsc::channel::<(Kind, Record, Ack)>();
        std::thread::Builder::new()
            .name("journal".into())
            .spawn(move || writer(file, rx))?;
        Ok(Journal { tx })
    }

    /// Records that a request for `user` (input `line`) is about to leave; returns once it
    /// is on disk. Its span is at `trace`, as the row's that calls it is.
    #[tracing::instrument(level = "trace", skip_all, fields(line = line, user = %user))]
    pub async fn sending(&self, line: u64, user: &str) -> io::Result<()> {
        self.record(Kind::Sending, line, user).await
    }

    /// Records a revoke for `user` about to leave (`Kind::Revoking`), or answered 204
    /// (`Kind::Revoked`); returns once it is on disk.
    pub async fn record(&self, kind: Kind, line: u64, user: &str) -> io::Result<()> {
        let (ack, done) = oneshot::channel();
        let record = Record {
            line,
            user: Some(user.to_string()),
        };
        self.tx
            .send((kind, record, ack))
            .map_err(|_| io::Error::other("the journal thread has stopped"))?;
        done.await
            .unwrap_or_else(|_| Err(io::Error::other("the journal thread has stopped")))
    }
}

fn writer(mut file: File, rx: std_mpsc::Receiver<(Kind, Record, Ack)>) {
    let mut buf = String::new();
    let mut acks = Vec::new();
    while let Ok(first) = rx.recv() {
        buf.clear();
        acks.clear();
        let now = SystemTime::now();
        for (kind, record, ack) in std::iter::once(first).chain(rx.try_iter()) {
            record.write_to(kind, &mut buf, now);
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

/// Removes the journal (and syncs its directory) once the run has written, and synced,
/// a row for every input row.
pub fn finish(path: &Path, disk: &Disk) {
    if let Err(e) = disk.remove_durably(path) {
        tracing::warn!(path = %path.display(), error = %e, "could not remove the journal");
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
        let before = SystemTime::now() - Duration::from_millis(1);
        let journal = Journal::start(
            &path,
            71,
            (&carried, &[]),
            Duration::from_millis(2500),
            &Disk::default(),
        )
        .unwrap();
        journal.sending(2, "a b@example.com").await.unwrap();
        journal.sending(3, "x\ny %41").await.unwrap();
        journal.record(Kind::Revoking, 4, "sso@x").await.unwrap();
        journal.record(Kind::Revoked, 4, "sso@x").await.unwrap();
        drop(journal);
        let prev = read(&path).unwrap().unwrap();
        assert_eq!(
            prev.revoked.iter().collect::<Vec<_>>(),
            [&Record {
                line: 4,
                user: Some("sso@x".into())
            }]
        );
        assert_eq!(prev.epoch_offset, 71);
        assert_eq!(prev.timeout, Some(Duration::from_millis(2500)));
        let last = prev.last_record.unwrap();
        assert!(last >= before && last <= SystemTime::now(), "{last:?}");
        assert_eq!(
            prev.requests_over_at(Duration::ZERO),
            last.checked_add(Duration::from_millis(2500))
        );
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
                user(4, "sso@x"),
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
        // An old journal: no timeout recorded, and its time is the file's.
        assert_eq!(prev.timeout, None);
        assert_eq!(
            prev.last_record,
            Some(std::fs::metadata(&path).unwrap().modified().unwrap())
        );
    }

    #[test]
    fn a_recorded_timeout_is_believed_only_up_to_the_configs_limit() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("j");
        std::fs::write(
            &path,
            format!(
                "E 5 {} 1000\nS 2 u 99999999999999999999\nS 3 v 2000\n",
                u64::MAX
            ),
        )
        .unwrap();
        let prev = read(&path).unwrap().unwrap();
        assert_eq!(prev.timeout, Some(MAX_TIMEOUT));
        assert_eq!(
            prev.last_record,
            UNIX_EPOCH.checked_add(Duration::from_millis(2000))
        );
    }
}
