//! What a report says, user by user, after any number of resumes: the one reading of
//! "what remains" that every place an operator looks at uses (the summary, `status`, the
//! resume's plan line).
//!
//! Rows are only ever appended, so after a resume a user has several rows and only the
//! latest is its state; a `grep` over the file cannot tell. This reads the report the way
//! `--resume` does (a refused duplicate or a dry run says nothing about the account, so
//! such a row stands only when the user has no other). A user remains when that latest
//! state is not final on `--resume` (CONTRACT.md's table); a `change_limit_24h` row also
//! says from when it may be tried again.

use crate::ledger::report::{self, Tail, Unreadable};
use crate::ledger::resume::{Resume, CHANGE_LIMIT_WINDOW};
use crate::ledger::{journal, side};
use crate::vocab::{rfc3339, user_key, Exit, Outcome, Refused, Row};
use std::collections::HashMap;
use std::path::Path;
use std::time::SystemTime;

/// What `status` says of a user a run had on the wire when it stopped at once.
const IN_FLIGHT: &str = "in flight when a run stopped at once (its journal records the request, the report has no row of it yet): the change may have been applied; --resume sends the same password again";

/// One user's latest state.
#[derive(Debug, Clone)]
pub struct UserState {
    pub row: Row,
    /// A `--resume` would try this user again (now, or once `retryable_at` has passed).
    pub remaining: bool,
    /// For `change_limit_24h`: when Zoom's 24-hour limit has passed.
    pub retryable_at: Option<SystemTime>,
}

/// What a report says, user by user.
#[derive(Debug, Clone)]
pub struct Status {
    pub rows: usize,
    /// In input order (the line of each user's latest row).
    pub users: Vec<UserState>,
    /// Rows the tool cannot read: while there are any, nobody can say what remains, and
    /// a resume is refused (`report::read`).
    pub unreadable: Vec<Unreadable>,
    /// The line of a last row cut short by a crash (a journal says so): a resume sets it
    /// aside and retries its user.
    pub torn: Option<u64>,
}

impl Status {
    /// Reads `path` (CSV or JSON Lines, as `--resume` does). A report that exists and
    /// holds rows the tool cannot read is no error here: they are in
    /// [`Status::unreadable`], for `status` to list.
    pub fn load(path: &Path) -> anyhow::Result<Status> {
        let contents = report::load(path, 0)?;
        let mut status = Status::from_rows(contents.rows);
        status.unreadable = contents.unreadable;
        let torn = matches!(contents.tail, Tail::Torn { .. });
        if let Tail::Torn { line } = contents.tail {
            // No journal: no crash cut it, so a person or a tool did (see `report::tail`).
            if crate::ledger::side::journal(path).exists() {
                status.torn = Some(line);
            } else {
                status.unreadable.push(Unreadable {
                    line,
                    why: "the report ends inside this row, and no journal says a run was cut short there".into(),
                });
            }
        }
        if status.unreadable.is_empty() && !torn {
            status.add_in_flight(path)?;
        }
        Ok(status)
    }

    /// Users a run had on the wire when it stopped at once (kill -9, a second Ctrl-C):
    /// the journal it left records them and the report has no row of theirs since. They
    /// remain, as the resume that retries them (the same password again) says.
    fn add_in_flight(&mut self, path: &Path) -> anyhow::Result<()> {
        let Some(previous) = journal::read(&side::journal(path))? else {
            return Ok(());
        };
        let (_, found) = Resume::load(path, Some(&previous), SystemTime::now())?;
        for record in found.in_flight {
            let known = self.users.iter_mut().find(|u| match &record.user {
                Some(user) => user_key(user) == user_key(&u.row.user_id),
                None => u.row.line == record.line,
            });
            match known {
                Some(u) => u.remaining = true,
                None => {
                    let user = record.user.unwrap_or_default();
                    let mut row = Row::local(record.line, user, Outcome::Failed, IN_FLIGHT.into());
                    row.may_have_applied = true;
                    self.users.push(UserState::new(row));
                }
            }
        }
        self.users
            .sort_by(|a, b| (a.row.line, &a.row.user_id).cmp(&(b.row.line, &b.row.user_id)));
        Ok(())
    }

    /// The refusal that names the rows the tool cannot read, if there are any.
    pub fn unreadable_refusal(&self, path: &Path, resume: bool) -> Option<Refused> {
        (!self.unreadable.is_empty()).then(|| report::read::refusal(path, &self.unreadable, resume))
    }

    /// Each user's latest row: the last real one (not `invalid_input`, not `dry_run`)
    /// when there is one, else the last of any kind.
    pub fn from_rows(rows: Vec<Row>) -> Status {
        let count = rows.len();
        let mut real: HashMap<String, Row> = HashMap::new();
        let mut other: HashMap<String, Row> = HashMap::new();
        for row in rows {
            let key = crate::vocab::user_key(&row.user_id);
            if matches!(row.outcome, Outcome::InvalidInput | Outcome::DryRun) {
                other.insert(key, row);
            } else {
                real.insert(key, row);
            }
        }
        for (key, row) in other {
            real.entry(key).or_insert(row);
        }
        let mut users: Vec<UserState> = real.into_values().map(UserState::new).collect();
        users.sort_by(|a, b| (a.row.line, &a.row.user_id).cmp(&(b.row.line, &b.row.user_id)));
        Status {
            rows: count,
            users,
            unreadable: Vec::new(),
            torn: None,
        }
    }

    /// Users per outcome, in the contract's order of outcomes.
    pub fn counts(&self) -> Vec<(Outcome, usize)> {
        Outcome::ALL
            .iter()
            .map(|o| {
                (
                    *o,
                    self.users.iter().filter(|u| u.row.outcome == *o).count(),
                )
            })
            .collect()
    }

    /// Users a `--resume` would try again: the one count of what remains, which the
    /// summary, `status` and the second Ctrl-C all show.
    pub fn remaining(&self) -> usize {
        self.users.iter().filter(|u| u.remaining).count()
    }

    /// Done when every user's latest state is `changed` (or `sso_revoked`), else unfinished (an empty report
    /// too: it proves nothing was changed); refused (2) while a row cannot be read.
    pub fn exit(&self) -> Exit {
        if !self.unreadable.is_empty() {
            return Exit::Refused;
        }
        let all = !self.users.is_empty() && self.users.iter().all(|u| u.row.outcome.is_done());
        if all {
            Exit::Done
        } else {
            Exit::Unfinished
        }
    }

    /// The users to list: every one, only those that remain, or every one not done.
    pub fn listed(&self, which: Which) -> impl Iterator<Item = &UserState> {
        self.users.iter().filter(move |u| match which {
            Which::All => true,
            Which::Remaining => u.remaining,
            Which::NotDone => !u.row.outcome.is_done(),
        })
    }
}

/// Which users [`Status::listed`] gives.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Which {
    All,
    /// Those a `--resume` would try again.
    Remaining,
    /// Those whose latest state is neither `changed` nor `sso_revoked`, final ones
    /// (`rejected`, `user_not_found`...) included: what an incident's review must see.
    NotDone,
}

impl UserState {
    pub(crate) fn new(row: Row) -> UserState {
        let retryable_at = (row.outcome == Outcome::ChangeLimit24h)
            .then(|| row.finished_at.checked_add(CHANGE_LIMIT_WINDOW))
            .flatten();
        UserState {
            remaining: !row.outcome.is_final(),
            retryable_at,
            row,
        }
    }

    /// Why the user remains, in words, as of `now`: the report's message, and for the
    /// 24-hour limit when it ends.
    pub fn note(&self, now: SystemTime) -> String {
        let mut note = String::new();
        if let Some(at) = self.retryable_at {
            if at > now {
                note.push_str(&format!("retryable from {}; ", rfc3339(at)));
            } else {
                note.push_str("retryable now; ");
            }
        }
        note.push_str(&crate::vocab::printable(&self.row.message));
        note
    }
}

#[cfg(test)]
mod unit {
    use super::*;
    use std::time::Duration;

    /// After a kill -9 or a second Ctrl-C, the users on the wire have no report row, only
    /// the journal's record: they remain (the same count a resume acts on).
    #[test]
    fn users_in_flight_at_a_stop_remain() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("r.csv");
        let report = format!(
            "{}\n2,u1,changed,204,,1,2026-12-01T10:00:00Z,,false\n",
            report::CSV_HEADER
        );
        std::fs::write(&path, &report).unwrap();
        let journal = format!(
            "E {} 30000 1764583200000\nS 3 u2 1764583200001\n",
            report.len()
        );
        std::fs::write(side::journal(&path), journal).unwrap();
        let s = Status::load(&path).unwrap();
        let got: Vec<(u64, &str, Outcome, bool)> = s
            .users
            .iter()
            .map(|u| {
                (
                    u.row.line,
                    u.row.user_id.as_str(),
                    u.row.outcome,
                    u.remaining,
                )
            })
            .collect();
        assert_eq!(
            got,
            [
                (2, "u1", Outcome::Changed, false),
                (3, "u2", Outcome::Failed, true)
            ]
        );
        assert!(s.users[1].row.may_have_applied);
        assert_eq!((s.rows, s.remaining(), s.exit()), (1, 1, Exit::Unfinished));
    }

    fn row(line: u64, user: &str, outcome: Outcome, at: u64) -> Row {
        Row {
            finished_at: SystemTime::UNIX_EPOCH + Duration::from_secs(at),
            ..Row::local(line, user.into(), outcome, format!("m{line}"))
        }
    }

    #[test]
    fn the_latest_real_row_is_the_state_and_a_refusal_stands_only_alone() {
        let s = Status::from_rows(vec![
            row(3, "b", Outcome::Failed, 1),
            row(2, "a", Outcome::Changed, 1),
            row(3, "B", Outcome::InvalidInput, 2),
            row(4, "c", Outcome::DryRun, 2),
            row(3, "b", Outcome::Changed, 3),
        ]);
        let got: Vec<(u64, &str, Outcome)> = s
            .users
            .iter()
            .map(|u| (u.row.line, u.row.user_id.as_str(), u.row.outcome))
            .collect();
        assert_eq!(
            got,
            [
                (2, "a", Outcome::Changed),
                (3, "b", Outcome::Changed),
                (4, "c", Outcome::DryRun)
            ]
        );
        assert_eq!((s.rows, s.remaining(), s.exit()), (5, 1, Exit::Unfinished));
    }

    #[test]
    fn a_retry_time_past_the_year_9999_is_clamped_not_a_panic() {
        let mut r = row(2, "a", Outcome::ChangeLimit24h, 0);
        r.finished_at = humantime::parse_rfc3339("9999-12-31T23:00:00Z").unwrap();
        let u = UserState::new(r);
        assert!(u.remaining);
        assert_eq!(
            u.note(SystemTime::UNIX_EPOCH),
            "retryable from 9999-12-31T23:59:59Z; m2"
        );
        assert_eq!(
            rfc3339(SystemTime::UNIX_EPOCH - Duration::from_secs(1)),
            "1970-01-01T00:00:00Z"
        );
    }
}
