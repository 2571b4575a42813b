//! The cells of a CSV report row, by column name: where each of the contract's columns
//! is in the header (a spreadsheet may have moved them), and what each cell may hold, read
//! as spreadsheets leave it (see `read`). Each cell's problem is said with its column and
//! its value shown printable and short, so the operator can find and fix it.

use super::CSV_HEADER;
use crate::vocab::cell::restore;
use crate::vocab::{printable, Outcome, Row, MAY_HAVE_APPLIED};

/// A shown cell: printable, and short.
pub(super) fn shown(cell: &str) -> String {
    let mut s = printable(cell);
    if s.chars().count() > 40 {
        s = s.chars().take(40).collect::<String>() + "…";
    }
    format!("{s:?}")
}

/// A header cell as a column name: trimmed, unquoted, lower case.
pub(super) fn name(cell: &str) -> String {
    cell.trim().trim_matches('"').trim().to_ascii_lowercase()
}

/// Where each column is, by name.
pub(super) struct Columns {
    line: usize,
    user_id: usize,
    outcome: usize,
    http_status: usize,
    zoom_code: usize,
    attempts: usize,
    finished_at: usize,
    message: usize,
    /// Absent from reports written before the column existed, whose resumed runs then
    /// appended it as the cell after the header's last.
    may_have_applied: Option<usize>,
    width: usize,
    names: Vec<String>,
}

impl Columns {
    /// The columns of a header record; `Err` with what is missing.
    pub(super) fn of(header: &csv::StringRecord) -> Result<Columns, String> {
        let names: Vec<String> = header.iter().map(name).collect();
        let find = |want: &str| names.iter().position(|n| n == want);
        let missing: Vec<&str> = CSV_HEADER
            .split(',')
            .take(8)
            .filter(|w| find(w).is_none())
            .collect();
        if !missing.is_empty() {
            return Err(format!(
                "the first line is not a report's header: it has no {} column; a report starts with the line {CSV_HEADER}",
                missing.join(", ")
            ));
        }
        let at = |w: &str| find(w).unwrap_or(0);
        Ok(Columns {
            line: at("line"),
            user_id: at("user_id"),
            outcome: at("outcome"),
            http_status: at("http_status"),
            zoom_code: at("zoom_code"),
            attempts: at("attempts"),
            finished_at: at("finished_at"),
            message: at("message"),
            may_have_applied: find("may_have_applied"),
            width: names.len(),
            names,
        })
    }

    /// The row a record holds, its cells restored.
    pub(super) fn row(&self, rec: &csv::StringRecord) -> Result<Row, String> {
        let cells: Vec<&str> = rec.iter().map(restore).collect();
        let flag_at = self.may_have_applied.unwrap_or(self.width);
        let used = if self.may_have_applied.is_none() && cells.len() > self.width {
            self.width + 1
        } else {
            self.width
        };
        if cells.len() < self.width || cells[used..].iter().any(|c| !c.trim().is_empty()) {
            return Err(format!(
                "the row has {} cells, the header {}",
                cells.len(),
                self.width
            ));
        }
        let line = number::<u64>("line", cells[self.line]);
        let outcome = outcome(cells[self.outcome]);
        let http_status = optional::<u16>("http_status", cells[self.http_status]);
        let zoom_code = optional::<u32>("zoom_code", cells[self.zoom_code]);
        let attempts = number::<u32>("attempts", cells[self.attempts]);
        let finished_at = finished(cells[self.finished_at]);
        let message = cells[self.message];
        let flag = cells.get(flag_at).copied();
        let may_have_applied = flag_text(flag, self.may_have_applied.is_some(), message);
        let problems: Vec<&String> = [
            line.as_ref().err(),
            outcome.as_ref().err(),
            http_status.as_ref().err(),
            zoom_code.as_ref().err(),
            attempts.as_ref().err(),
            finished_at.as_ref().err(),
            may_have_applied.as_ref().err(),
        ]
        .into_iter()
        .flatten()
        .collect();
        if !problems.is_empty() {
            let words: Vec<&str> = problems.iter().map(|p| p.as_str()).collect();
            return Err(words.join(", "));
        }
        Ok(Row {
            line: line?,
            user_id: cells[self.user_id].to_string(),
            outcome: outcome?,
            http_status: http_status?,
            zoom_code: zoom_code?,
            attempts: attempts?,
            finished_at: finished_at?,
            message: message.to_string(),
            may_have_applied: may_have_applied?,
        })
    }

    /// The header again (a report a tool concatenated): not a row.
    pub(super) fn is_header(&self, rec: &csv::StringRecord) -> bool {
        rec.len() >= self.width
            && rec
                .iter()
                .map(name)
                .take(self.width)
                .eq(self.names.iter().cloned())
    }
}

pub(super) fn number<T: std::str::FromStr>(column: &str, cell: &str) -> Result<T, String> {
    cell.trim()
        .parse()
        .map_err(|_| format!("{column} {} is not a whole number", shown(cell)))
}

pub(super) fn optional<T: std::str::FromStr>(
    column: &str,
    cell: &str,
) -> Result<Option<T>, String> {
    if cell.trim().is_empty() {
        return Ok(None);
    }
    number(column, cell).map(Some)
}

/// An outcome, in any case.
pub(super) fn outcome(cell: &str) -> Result<Outcome, String> {
    let t = cell.trim();
    Outcome::ALL
        .into_iter()
        .find(|o| o.as_str().eq_ignore_ascii_case(t))
        .ok_or_else(|| format!("outcome {} is not an outcome", shown(cell)))
}

/// RFC 3339, or as a spreadsheet re-saves it (a space for the `T`, no `Z`): UTC.
pub(super) fn finished(cell: &str) -> Result<std::time::SystemTime, String> {
    humantime::parse_rfc3339_weak(cell.trim())
        .map_err(|_| format!("finished_at {} is not a time (RFC 3339, UTC)", shown(cell)))
}

/// `may_have_applied`: true or false in any case. A report from before the column
/// existed says it in the message instead; a report with the column must say it there.
pub(super) fn flag_text(cell: Option<&str>, column: bool, message: &str) -> Result<bool, String> {
    match cell.map(str::trim) {
        Some(t) if t.eq_ignore_ascii_case("true") => Ok(true),
        Some(t) if t.eq_ignore_ascii_case("false") => Ok(false),
        None | Some("") if !column => Ok(message.contains(MAY_HAVE_APPLIED)),
        Some(t) => Err(format!(
            "may_have_applied {} is not true or false",
            shown(t)
        )),
        None => Err("may_have_applied is missing: expected true or false".into()),
    }
}
