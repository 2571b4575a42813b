//! `zoom-rotate status REPORT`: what a report says about each user, after any number of
//! resumes.
//!
//! Rows are only ever appended, so after a resume a user has several rows and only the
//! latest is its state; a `grep` over the file cannot tell. This reads the report the way
//! `--resume` does (a refused duplicate or a dry run says nothing about the account, so
//! such a row stands only when the user has no other), and prints each user's latest
//! state in input order, the count per outcome, what remains and why, when a
//! `change_limit_24h` row may be tried again, and the command that continues. The exit
//! code lets a script ask "is it done?": 0 when every user's latest state is `changed`,
//! 1 otherwise, 2 when the report cannot be read.

use crate::cli::{Only, StatusFormat};
use crate::ledger::report;
use crate::ledger::resume::CHANGE_LIMIT_WINDOW;
use crate::vocab::Row;
use crate::vocab::{rfc3339, Outcome};
use std::collections::HashMap;
use std::path::Path;
use std::time::SystemTime;

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
}

impl Status {
    /// Reads `path` (CSV or JSON Lines, as `--resume` does).
    pub fn load(path: &Path) -> anyhow::Result<Status> {
        Ok(Status::from_rows(report::read(path)?))
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
        Status { rows: count, users }
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

    pub fn remaining(&self) -> usize {
        self.users.iter().filter(|u| u.remaining).count()
    }

    /// 0 when every user's latest state is `changed`, else 1 (an empty report too: it
    /// proves nothing was changed).
    pub fn exit_code(&self) -> u8 {
        let all =
            !self.users.is_empty() && self.users.iter().all(|u| u.row.outcome == Outcome::Changed);
        if all {
            0
        } else {
            1
        }
    }

    /// The users to list.
    pub fn listed(&self, only: Option<Only>) -> impl Iterator<Item = &UserState> {
        self.users
            .iter()
            .filter(move |u| only.is_none() || u.remaining)
    }
}

impl UserState {
    fn new(row: Row) -> UserState {
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

/// The command that continues the run: with the input its sidecar (`<report>.meta`)
/// records, else `<INPUT>` (standard input, or a report from before the sidecar), for
/// the same file (or an edited copy) the run read.
pub fn resume_command(report: &Path) -> String {
    let input = crate::ledger::resume::origin::recorded_input(report)
        .map(|p| crate::output::summary::shell_quote(&p.display().to_string()))
        .unwrap_or_else(|| "<INPUT>".to_string());
    format!(
        "zoom-rotate run {input} --resume --report {}",
        crate::output::summary::shell_quote(&report.display().to_string())
    )
}

/// The status of `report` in `format`, as of `now`.
pub fn render(
    status: &Status,
    report: &Path,
    format: StatusFormat,
    only: Option<Only>,
    now: SystemTime,
) -> anyhow::Result<String> {
    Ok(match format {
        StatusFormat::Text => text(status, report, only, now),
        StatusFormat::Csv => csv(status, only)?,
        StatusFormat::Json => format!("{}\n", json(status, report, only)),
    })
}

fn text(status: &Status, report: &Path, only: Option<Only>, now: SystemTime) -> String {
    let users = status.users.len();
    let mut out = format!(
        "report {}: {users} {}, {} {}\n",
        report.display(),
        plural(users, "user", "users"),
        status.rows,
        plural(status.rows, "row", "rows"),
    );
    let listed: Vec<&UserState> = status.listed(only).collect();
    if !listed.is_empty() {
        let ids: Vec<String> = listed
            .iter()
            .map(|u| crate::vocab::printable(&u.row.user_id))
            .collect();
        let line_w = listed
            .iter()
            .map(|u| u.row.line.to_string().len())
            .max()
            .unwrap_or(0)
            .max(4);
        let id_w = ids
            .iter()
            .map(|i| i.chars().count())
            .max()
            .unwrap_or(0)
            .max(7);
        out.push_str(&format!(
            "{:<line_w$}  {:<id_w$}  {:<16}  note\n",
            "line", "user_id", "outcome"
        ));
        for (u, id) in listed.iter().zip(&ids) {
            let row = format!(
                "{:<line_w$}  {id:<id_w$}  {:<16}  {}",
                u.row.line,
                u.row.outcome.as_str(),
                if u.remaining {
                    u.note(now)
                } else {
                    String::new()
                }
            );
            out.push_str(row.trim_end());
            out.push('\n');
        }
    }
    out.push_str("counts:\n");
    for (o, n) in status.counts().into_iter().filter(|(_, n)| *n > 0) {
        out.push_str(&format!("  {:<17} {n}\n", o.as_str()));
    }
    match status.remaining() {
        0 if status.exit_code() == 0 => out.push_str("every user is changed\n"),
        0 => out.push_str("nothing remains: a --resume would send nothing\n"),
        n => out.push_str(&format!(
            "{n} {} to continue:\n  {}\n",
            plural(n, "user remains;", "users remain;"),
            resume_command(report)
        )),
    }
    out
}

fn plural<'a>(n: usize, one: &'a str, many: &'a str) -> &'a str {
    if n == 1 {
        one
    } else {
        many
    }
}

const CSV_HEADER: [&str; 11] = [
    "line",
    "user_id",
    "outcome",
    "http_status",
    "zoom_code",
    "attempts",
    "finished_at",
    "message",
    "may_have_applied",
    "remaining",
    "retryable_at",
];

fn csv(status: &Status, only: Option<Only>) -> anyhow::Result<String> {
    let mut w = csv::Writer::from_writer(Vec::new());
    w.write_record(CSV_HEADER)?;
    for u in status.listed(only) {
        let r = &u.row;
        let opt = |v: Option<String>| v.unwrap_or_default();
        w.write_record([
            r.line.to_string(),
            r.user_id.clone(),
            r.outcome.as_str().to_string(),
            opt(r.http_status.map(|s| s.to_string())),
            opt(r.zoom_code.map(|c| c.to_string())),
            r.attempts.to_string(),
            rfc3339(r.finished_at),
            r.message.clone(),
            r.may_have_applied.to_string(),
            u.remaining.to_string(),
            opt(u.retryable_at.map(rfc3339)),
        ])?;
    }
    Ok(String::from_utf8(w.into_inner()?)?)
}

fn json(status: &Status, report: &Path, only: Option<Only>) -> serde_json::Value {
    let counts: serde_json::Map<String, serde_json::Value> = status
        .counts()
        .into_iter()
        .map(|(o, n)| (o.as_str().to_string(), n.into()))
        .collect();
    let users: Vec<serde_json::Value> = status
        .listed(only)
        .map(|u| {
            let r = &u.row;
            serde_json::json!({
                "line": r.line,
                "user_id": r.user_id,
                "outcome": r.outcome.as_str(),
                "http_status": r.http_status,
                "zoom_code": r.zoom_code,
                "attempts": r.attempts,
                "finished_at": rfc3339(r.finished_at),
                "message": r.message,
                "may_have_applied": r.may_have_applied,
                "remaining": u.remaining,
                "retryable_at": u.retryable_at.map(rfc3339),
            })
        })
        .collect();
    let remaining = status.remaining();
    serde_json::json!({
        "report": report.display().to_string(),
        "rows": status.rows,
        "users": status.users.len(),
        "counts": counts,
        "remaining": remaining,
        "resume_command": (remaining > 0).then(|| resume_command(report)),
        "exit_code": status.exit_code(),
        "latest": users,
    })
}

#[cfg(test)]
mod unit {
    use super::*;
    use std::time::Duration;

    #[test]
    fn the_resume_command_names_the_input_the_report_was_started_for() {
        let dir = tempfile::tempdir().unwrap();
        let report = dir.path().join("r.csv");
        std::fs::write(&report, "").unwrap();
        assert_eq!(
            resume_command(&report),
            format!(
                "zoom-rotate run <INPUT> --resume --report {}",
                report.display()
            )
        );
        let input = dir.path().join("in.csv");
        std::fs::write(&input, "user_id\n").unwrap();
        crate::ledger::resume::origin::record(&report, &input).unwrap();
        let canon = std::fs::canonicalize(&input).unwrap();
        assert_eq!(
            resume_command(&report),
            format!(
                "zoom-rotate run {} --resume --report {}",
                canon.display(),
                report.display()
            )
        );
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
        assert_eq!((s.rows, s.remaining(), s.exit_code()), (5, 1, 1));
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
