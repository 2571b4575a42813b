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
//! 1 otherwise, 2 when the report cannot be read, or holds a row that cannot be (listed
//! with its line: what remains is then unknown, as a resume would be refused). With
//! `--handout`, the passwords of the users changed go to a new file (`handout`).

use super::handout;
use crate::cli::{Only, StatusArgs, StatusFormat};
use crate::ledger::resume::origin;
use crate::ledger::state::{Status, UserState, Which};
use crate::vocab::cell::neutralised;
use crate::vocab::{rfc3339, Exit, Outcome};
use std::path::Path;
use std::time::SystemTime;

/// What `status` shows: stdout, the lines for stderr, and the exit code.
#[derive(Debug)]
pub struct Shown {
    pub exit: Exit,
    pub stdout: String,
    /// For stderr, each prefixed with the program's name by `main`.
    pub notes: Vec<String>,
}

/// `zoom-rotate status`, as of `now`: the report read (`Err`: it cannot be, exit 2), its
/// rendering, the rows that cannot be read, and the hand-out when one is asked for.
pub fn run(args: &StatusArgs, now: SystemTime) -> anyhow::Result<Shown> {
    let status = Status::load(&args.report)?;
    let stdout = render(&status, &args.report, args.format, args.only, now)?;
    let mut exit = status.exit();
    let mut notes = Vec::new();
    if let Some(e) = status.unreadable_refusal(&args.report, false) {
        notes.push(format!("error: {e}"));
    }
    if let Some(out) = &args.handout {
        let to = crate::ledger::passwords::sealed::Recipients::parse(
            &args.encrypt_to,
            args.recipients_file.as_deref(),
        )?;
        let keys = handout::Keys {
            identity: args.identity.as_deref(),
            to: to.as_ref(),
        };
        match handout::write_with(&status, &args.report, out, args.passwords.as_deref(), keys) {
            Ok(h) => {
                notes.push(h.summary());
                // A changed user left out of the hand-out is no "done".
                if !h.without_password.is_empty() && exit == Exit::Done {
                    exit = Exit::Unfinished;
                }
            }
            Err(e) => {
                notes.push(format!("error: {e:#}"));
                exit = Exit::Refused;
            }
        }
    }
    Ok(Shown {
        exit,
        stdout,
        notes,
    })
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

/// The users `--only` lists.
fn which(only: Option<Only>) -> Which {
    match only {
        None => Which::All,
        Some(Only::Remaining) => Which::Remaining,
        Some(Only::NotDone) => Which::NotDone,
    }
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
    let listed: Vec<&UserState> = status.listed(which(only)).collect();
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
                } else if only == Some(Only::NotDone) {
                    // The review reads why a final row is not done (rejected: how the
                    // user signs in and what to do).
                    crate::vocab::printable(&u.row.message)
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
    out.push_str(&conclusion(status, report));
    out
}

/// The end of the text: what remains and the command that continues, or, while rows
/// cannot be read, which and how to fix them (nobody can say what remains then).
fn conclusion(status: &Status, report: &Path) -> String {
    let mut out = String::new();
    if let Some(line) = status.torn {
        out.push_str(&format!(
            "line {line} was cut short by a crash; a --resume sets it aside and retries its user\n"
        ));
    }
    if !status.unreadable.is_empty() {
        let n = status.unreadable.len();
        out.push_str(&format!(
            "{n} {} cannot be read, so what remains is unknown and a --resume is refused:\n",
            plural(n, "row", "rows")
        ));
        for u in &status.unreadable {
            out.push_str(&format!("  {u}\n"));
        }
        out.push_str(&format!("{}\n", crate::ledger::report::read::FIX));
        return out;
    }
    match status.remaining() {
        0 if status.exit() == Exit::Done => match status
            .counts()
            .iter()
            .any(|(o, n)| *o == Outcome::SsoRevoked && *n > 0)
        {
            false => out.push_str("every user is changed\n"),
            true => out.push_str("every user is changed, or signed out (sso_revoked)\n"),
        },
        0 => {
            let n = status.listed(Which::NotDone).count();
            out.push_str(&format!(
                "nothing remains: a --resume would send nothing; {n} {} neither changed nor signed out (final): --only not-done lists them\n",
                plural(n, "user ended", "users ended")
            ))
        }
        n => out.push_str(&format!(
            "{n} {} to continue:\n  {}\n",
            plural(n, "user remains;", "users remain;"),
            origin::continue_command(report)
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

/// The report's columns (one list: `ledger::report::CSV_HEADER`), then what status adds.
fn csv_header() -> impl Iterator<Item = &'static str> {
    crate::ledger::report::CSV_HEADER
        .split(',')
        .chain(["remaining", "retryable_at"])
}

fn csv(status: &Status, only: Option<Only>) -> anyhow::Result<String> {
    let mut w = csv::Writer::from_writer(Vec::new());
    w.write_record(csv_header())?;
    for u in status.listed(which(only)) {
        let r = &u.row;
        let opt = |v: Option<String>| v.unwrap_or_default();
        let cells = [
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
        ];
        w.write_record(neutralised(cells.iter().map(String::as_str)))?;
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
        .listed(which(only))
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
    let readable = status.unreadable.is_empty();
    let unreadable: Vec<serde_json::Value> = status
        .unreadable
        .iter()
        .map(|u| serde_json::json!({"line": u.line, "why": u.why}))
        .collect();
    serde_json::json!({
        "report": report.display().to_string(),
        "rows": status.rows,
        "users": status.users.len(),
        "counts": counts,
        // Unknown while a row cannot be read, and no resume would be let through.
        "remaining": readable.then_some(remaining),
        "resume_command": (readable && remaining > 0).then(|| origin::continue_command(report)),
        "exit_code": status.exit().code(),
        "unreadable": unreadable,
        "torn_line": status.torn,
        "latest": users,
    })
}

#[cfg(test)]
mod unit {
    use super::*;

    #[test]
    fn the_resume_command_names_the_input_the_report_was_started_for() {
        let dir = tempfile::tempdir().unwrap();
        let report = dir.path().join("r.csv");
        std::fs::write(&report, "").unwrap();
        assert_eq!(
            origin::continue_command(&report),
            format!(
                "zoom-rotate run <INPUT> --resume --report {}",
                report.display()
            )
        );
        let input = dir.path().join("in.csv");
        std::fs::write(&input, "user_id\n").unwrap();
        // A sidecar of an older version: the input, and no words.
        std::fs::write(
            crate::ledger::side::meta(&report),
            format!("{{\"input\":{:?}}}\n", input.display().to_string()),
        )
        .unwrap();
        assert_eq!(
            origin::continue_command(&report),
            format!(
                "zoom-rotate run {} --resume --report {}",
                input.display(),
                report.display()
            )
        );
        // This version's: the words the run recorded, then the report.
        let words = ["/bin/zr", "run", "/in put.csv", "--simulate"].map(String::from);
        let disk = crate::ledger::files::Disk::default();
        origin::record(&report, &input, &words, &disk).unwrap();
        assert_eq!(
            origin::continue_command(&report),
            format!(
                "/bin/zr run '/in put.csv' --simulate --resume --report {}",
                report.display()
            )
        );
    }
}
