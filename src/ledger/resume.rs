//! `--resume`: what the report (and a journal left by a crash) say about each user, and
//! so what this run must do with each row.
//!
//! The rules are the contract's. A user whose latest row is final is skipped.
//! `change_limit_24h` is tried again once its `finished_at` is 24 hours old. Everything
//! else is tried again. A user that was in flight at a crash (a journal record after the
//! last epoch with no report row for that user after it), or whose latest row says an
//! unanswered attempt may have applied the change, is retried *as an unanswered attempt*:
//! the same password again, and a same-as-old answer confirms `changed`. In-flight users
//! are matched by user, not by line, so an input edited before the resume still matches.
//! A user whose SSO token revoke the journal saw answered 204, with no report row after
//! it, ends `sso_revoked` without another request: the crash came between the revoke and
//! its report row.
//!
//! Before any of that, [`origin`] checks that the report may be continued at all (it
//! exists, is a regular file, is not the input, and was written for this input), and
//! [`hold`] keeps the users in flight at a crash back until the dead run's requests have
//! surely ended.

use crate::ledger::journal::{Previous, Record};
use crate::ledger::report;
use crate::vocab::{Outcome, Refused, Row};
use std::collections::{HashMap, HashSet};
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

pub mod origin;
pub mod provenance;

/// How long Zoom's change limit lasts.
pub const CHANGE_LIMIT_WINDOW: Duration = Duration::from_secs(24 * 3600);

/// What to do with one row.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Decision {
    /// Final already; `changed` says whether that final state is done (`changed`, or
    /// `sso_revoked`; the exit code counts skipped users too: 0 only when every input
    /// row ends done).
    Skip {
        changed: bool,
    },
    Send {
        unanswered: bool,
    },
    /// The crashed run's journal saw this user's SSO token revoke answered 204: report
    /// `sso_revoked`, send nothing.
    Revoked,
}

/// What a resume would do with one row, and why: [`Decision`] with the reasons a
/// preview (`--resume --dry-run`) shows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fate {
    /// Sent as a first attempt (no row yet, or a row that says nothing was applied).
    Send,
    /// Sent again as an unanswered attempt: the same password, a same-as-old confirms.
    Resend,
    /// Skipped: the user's latest row is final.
    Final(Outcome),
    /// Skipped: the user is waiting out Zoom's 24-hour change limit until then.
    Waiting { until: SystemTime },
    /// Reported `sso_revoked` from the journal, nothing sent (see [`Decision::Revoked`]).
    Revoked,
}

impl Fate {
    /// What the row is sent or skipped as, in one word (for logs and scripts).
    pub fn name(&self) -> &'static str {
        match self {
            Fate::Send => "send",
            Fate::Resend => "resend_unanswered",
            Fate::Final(_) => "skip_final",
            Fate::Waiting { .. } => "skip_24h",
            Fate::Revoked => "report_revoked",
        }
    }

    pub fn decision(&self) -> Decision {
        match self {
            Fate::Send => Decision::Send { unanswered: false },
            Fate::Resend => Decision::Send { unanswered: true },
            Fate::Final(o) => Decision::Skip {
                changed: o.is_done(),
            },
            Fate::Waiting { .. } => Decision::Skip { changed: false },
            Fate::Revoked => Decision::Revoked,
        }
    }
}

/// A user's state as the report left it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Prior {
    Done(Outcome),
    Waiting { until: SystemTime },
    Retry { unanswered: bool },
}

/// The resume plan. Empty (send everything) for a fresh run.
#[derive(Debug, Default)]
pub struct Resume {
    users: HashMap<String, Prior>,
    /// Users in flight at a crash: shared with the pipeline's hold, which keeps them back
    /// until the dead run's requests have surely ended.
    in_flight: Arc<InFlight>,
}

/// The rows in flight at a crash.
#[derive(Debug, Default)]
pub struct InFlight {
    /// Users (by [`key`]).
    pub(crate) users: HashSet<String>,
    /// Lines, from a journal that did not record users.
    pub(crate) lines: HashSet<u64>,
    /// Users (by [`key`]) whose revoke was answered 204 and never reported.
    pub(crate) revoked: HashSet<String>,
}

impl InFlight {
    pub fn contains(&self, line: u64, user: &str) -> bool {
        self.users.contains(&key(user)) || self.lines.contains(&line)
    }

    pub fn is_empty(&self) -> bool {
        self.users.is_empty() && self.lines.is_empty()
    }
}

/// Users compare as the reader's duplicate check compares them.
fn key(user: &str) -> String {
    crate::vocab::user_key(user)
}

/// What a resume found, for the log and the summary.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Found {
    pub rows: usize,
    pub done: usize,
    pub waiting_24h: usize,
    /// Rows in flight at a crash: carried into the new journal until they are resolved.
    pub in_flight: Vec<Record>,
    /// Rows whose revoke was answered but not reported: carried into the new journal too.
    pub revoked: Vec<Record>,
    /// When the oldest and the newest of the rows that make users skipped (final, or
    /// waiting out the 24-hour limit) finished: how old the state a resume trusts is.
    pub skipped_span: Option<(SystemTime, SystemTime)>,
    /// When the report's oldest row finished.
    pub oldest_row: Option<SystemTime>,
}

/// `span` widened to hold `t`.
fn widen(
    span: Option<(SystemTime, SystemTime)>,
    t: SystemTime,
) -> Option<(SystemTime, SystemTime)> {
    Some(match span {
        None => (t, t),
        Some((a, b)) => (a.min(t), b.max(t)),
    })
}

impl Resume {
    /// Reads `report` and the journal `previous` (if a crash left one) as of `now`.
    pub fn load(
        report_path: &Path,
        previous: Option<&Previous>,
        now: SystemTime,
    ) -> anyhow::Result<(Resume, Found)> {
        let offset = previous.map_or(u64::MAX, |p| p.epoch_offset);
        let contents = report::load(report_path, offset)?;
        Ok(Resume::from_contents(report_path, contents, previous, now)?)
    }

    /// [`Resume::load`] of a report's bytes already read (`report_path` gives the format
    /// and names the report). A row the reader cannot read refuses the resume before
    /// anything is sent: it could be any user's latest state, and taken as absent it
    /// would send that user again.
    pub fn load_bytes(
        report_path: &Path,
        text: &[u8],
        previous: Option<&Previous>,
        now: SystemTime,
    ) -> Result<(Resume, Found), Refused> {
        let offset = previous.map_or(u64::MAX, |p| p.epoch_offset);
        let contents = report::read::parse(report_path, text, offset);
        Resume::from_contents(report_path, contents, previous, now)
    }

    fn from_contents(
        report_path: &Path,
        contents: report::Contents,
        previous: Option<&Previous>,
        now: SystemTime,
    ) -> Result<(Resume, Found), Refused> {
        if !contents.unreadable.is_empty() {
            return Err(report::read::refusal(
                report_path,
                &contents.unreadable,
                true,
            ));
        }
        Ok(Resume::plan((contents.rows, contents.after), previous, now))
    }

    /// The plan from a report's rows (`after`: the first row of the run `previous`
    /// journaled).
    fn plan(
        (rows, after): (Vec<Row>, usize),
        previous: Option<&Previous>,
        now: SystemTime,
    ) -> (Resume, Found) {
        let mut latest: HashMap<String, &Row> = HashMap::new();
        for row in &rows {
            // A refused duplicate or a dry run says nothing about the user's account:
            // letting it stand as the latest row would hide a `changed` (and resend).
            if matches!(row.outcome, Outcome::InvalidInput | Outcome::DryRun) {
                continue;
            }
            latest.insert(key(&row.user_id), row);
        }
        let mut found = Found {
            rows: rows.len(),
            oldest_row: rows.iter().map(|r| r.finished_at).min(),
            ..Found::default()
        };
        let mut users = HashMap::new();
        for (user, row) in latest {
            let prior = match row.outcome {
                o if o.is_final() => Prior::Done(o),
                Outcome::ChangeLimit24h
                    if now.duration_since(row.finished_at).unwrap_or_default()
                        < CHANGE_LIMIT_WINDOW =>
                {
                    found.waiting_24h += 1;
                    // A finished_at so far ahead that 24 h more overflow: it waits
                    // "forever", which the preview shows as the far end of time.
                    let until = row
                        .finished_at
                        .checked_add(CHANGE_LIMIT_WINDOW)
                        .unwrap_or(row.finished_at);
                    Prior::Waiting { until }
                }
                _ => Prior::Retry {
                    unanswered: row.may_have_applied,
                },
            };
            if !matches!(prior, Prior::Retry { .. }) {
                found.done += 1;
                found.skipped_span = widen(found.skipped_span, row.finished_at);
            }
            users.insert(user, prior);
        }
        let in_flight = previous.map_or_else(InFlight::default, |prev| {
            open_records(prev, &rows[after..], &mut found)
        });
        found.in_flight.sort_unstable();
        let resume = Resume {
            users,
            in_flight: Arc::new(in_flight),
        };
        (resume, found)
    }

    /// Some user is to be sent again as unanswered (its change may have applied), so it
    /// must be sent the same password as before.
    pub fn resends_any(&self) -> bool {
        !self.in_flight.is_empty()
            || self
                .users
                .values()
                .any(|p| matches!(p, Prior::Retry { unanswered: true }))
    }

    /// The rows in flight at a crash (shared with [`hold`]).
    pub fn in_flight(&self) -> Arc<InFlight> {
        self.in_flight.clone()
    }

    /// What to do with the row at `line` for `user`.
    pub fn decide(&self, line: u64, user: &str) -> Decision {
        self.fate(line, user).decision()
    }

    /// What to do with the row at `line` for `user`, and why.
    pub fn fate(&self, line: u64, user: &str) -> Fate {
        if self.in_flight.revoked.contains(&key(user)) {
            return Fate::Revoked;
        }
        if self.in_flight.contains(line, user) {
            return Fate::Resend;
        }
        match self.users.get(&key(user)) {
            Some(Prior::Done(o)) => Fate::Final(*o),
            Some(Prior::Waiting { until }) => Fate::Waiting { until: *until },
            Some(Prior::Retry { unanswered: true }) => Fate::Resend,
            Some(Prior::Retry { unanswered: false }) | None => Fate::Send,
        }
    }
}

/// The journal's records still open (no report row for their user after the crashed
/// run's epoch, `after`): the users in flight, and those whose revoke was answered.
fn open_records(prev: &Previous, after: &[Row], found: &mut Found) -> InFlight {
    let mut in_flight = InFlight::default();
    let reported_users: HashSet<String> = after.iter().map(|r| key(&r.user_id)).collect();
    let reported_lines: HashSet<u64> = after.iter().map(|r| r.line).collect();
    for record in &prev.sent {
        let open = match &record.user {
            Some(u) => !reported_users.contains(&key(u)),
            None => !reported_lines.contains(&record.line),
        };
        if !open {
            continue;
        }
        match &record.user {
            Some(u) => in_flight.users.insert(key(u)),
            None => in_flight.lines.insert(record.line),
        };
        found.in_flight.push(record.clone());
    }
    for record in &prev.revoked {
        if let Some(u) = record
            .user
            .as_ref()
            .filter(|u| !reported_users.contains(&key(u)))
        {
            in_flight.revoked.insert(key(u));
            found.revoked.push(record.clone());
        }
    }
    // Their revoke was answered: nothing of theirs is on the wire any more.
    let revoked = &in_flight.revoked;
    in_flight.users.retain(|u| !revoked.contains(u));
    let open = |r: &Record| r.user.as_ref().is_none_or(|u| !revoked.contains(&key(u)));
    found.in_flight.retain(open);
    in_flight
}
