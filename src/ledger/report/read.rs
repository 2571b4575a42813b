//! Reading a report back, strictly: the report is evidence and state at once, and people
//! and spreadsheets touch it between runs, so it is read as a hostile CSV would be.
//!
//! What spreadsheets do to a CSV is read as meant: a UTF-8 byte-order mark, CRLF line
//! ends, quoted numbers, `TRUE`/`FALSE` (any case) for `may_have_applied`, an outcome in
//! another case, a time without its `T` or `Z` (UTC, as written), a re-save with `;` or a
//! tab between cells (the delimiter is the one that makes the first line the report's
//! header), Excel's `sep=;` first line, rows of empty cells (not rows at all), columns in
//! another order (they are read by name), and cells the writer neutralised
//! ([`crate::vocab::cell`]).
//!
//! Everything else is an [`Unreadable`] row, with the file's line and what is wrong, and
//! never a row skipped: an unreadable row could be any user's latest state, so taken as
//! absent it would mean "not attempted" and send that user again. `--resume` refuses
//! such a report before anything is sent, and `status` lists the rows and exits 2
//! ([`refusal`] words both). The bytes after the last line end are the tail: a row
//! saved without its line end (as Google Sheets does) is a row, anything else is
//! [`Tail::Torn`], a write cut short, which `tail` deals with.

use super::columns::{finished, flag_text, name, outcome, Columns};
use super::{Format, CSV_HEADER};
use crate::vocab::{RefusalCode, Refused, Row, MAY_HAVE_APPLIED};
use serde::Deserialize;
use std::path::Path;

/// A row the tool cannot read: where it is, and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Unreadable {
    /// The report file's line the row starts on (its first line is 1).
    pub line: u64,
    /// What is wrong, in words: the cells named, their values shown printable.
    pub why: String,
}

impl std::fmt::Display for Unreadable {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "line {}: {}", self.line, self.why)
    }
}

/// The bytes after the report's last line end.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Tail {
    /// None: the report ends on a line end.
    Whole,
    /// A row that reads whole but lacks its line end (a spreadsheet's save): it is among
    /// the rows, and a resume ends its line before appending.
    RowWithoutLineEnd,
    /// A write cut short: not a row. `line`: the file's line it starts on.
    Torn { line: u64 },
}

/// What a report holds.
#[derive(Debug)]
pub struct Contents {
    /// The rows read, in file order.
    pub rows: Vec<Row>,
    /// The index of the first row that starts at or after the offset asked for.
    pub after: usize,
    pub unreadable: Vec<Unreadable>,
    pub tail: Tail,
    /// The line end the report uses (`"\r\n"` after a spreadsheet's save), for appends.
    pub line_end: &'static str,
}

/// How a CSV report is laid out: what precedes the header, and its delimiter.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Dialect {
    pub delimiter: u8,
    pub crlf: bool,
    /// Bytes before the header (a byte-order mark, a `sep=` line) and the lines they take.
    skip: usize,
    skip_lines: u64,
}

/// The fix every refusal names.
pub const FIX: &str =
    "fix the cells (see the README, \"The report\"), or restore the report from its backup";

/// The most unreadable rows a message lists (all are counted).
const LISTED: usize = 10;

/// The words of a report that cannot be read whole, for `--resume` (which then sends
/// nothing) and for `status`: the lines, what is wrong with each, and the fix.
pub fn refusal(path: &Path, unreadable: &[Unreadable], resume: bool) -> Refused {
    let n = unreadable.len();
    let mut lines: Vec<String> = unreadable
        .iter()
        .take(LISTED)
        .map(|u| u.to_string())
        .collect();
    if n > LISTED {
        lines.push(format!("and {} more", n - LISTED));
    }
    let rows = if n == 1 { "a row" } else { "rows" };
    let head = if resume { "--resume refused: " } else { "" };
    let sent = if resume { ", so nothing was sent" } else { "" };
    Refused::new(
        RefusalCode::ReportUnreadable,
        format!(
            "{head}the report {} has {rows} the tool cannot read ({}); a row that cannot be read is never taken to mean \"not attempted\"{sent}: {FIX}",
            path.display(),
            lines.join("; ")
        ),
    )
}

/// Reads a report's bytes (`path` gives the format); `offset` marks the run whose rows
/// [`Contents::after`] points at.
pub fn parse(path: &Path, bytes: &[u8], offset: u64) -> Contents {
    match Format::for_path(path) {
        Format::JsonLines => parse_jsonl(bytes, offset),
        Format::Csv => parse_csv(bytes, offset),
    }
}

/// Where the rows of a report start and what separates their cells.
pub fn dialect(bytes: &[u8]) -> Dialect {
    let mut d = Dialect {
        delimiter: b',',
        crlf: false,
        skip: 0,
        skip_lines: 0,
    };
    if bytes.starts_with(b"\xEF\xBB\xBF") {
        d.skip = 3;
    }
    // Excel's `sep=;` line names the delimiter, and is not a row.
    let first = first_line(&bytes[d.skip..]);
    let line = first.strip_suffix(b"\r").unwrap_or(first);
    if line.len() == 5 && line[..4].eq_ignore_ascii_case(b"sep=") {
        d.delimiter = line[4];
        d.skip += first.len() + 1;
        d.skip_lines = 1;
    }
    let header = first_line(bytes.get(d.skip..).unwrap_or_default());
    d.crlf = header.ends_with(b"\r");
    if d.skip_lines == 0 {
        let wanted = CSV_HEADER.split(',').collect::<Vec<_>>();
        let fits = |sep: u8| {
            let names: Vec<String> = header
                .split(|b| *b == sep)
                .map(|n| name(&String::from_utf8_lossy(n)))
                .collect();
            wanted[..8].iter().all(|w| names.iter().any(|n| n == w))
        };
        d.delimiter = [b',', b';', b'\t']
            .into_iter()
            .find(|s| fits(*s))
            .unwrap_or(b',');
    }
    d
}

/// The first line's bytes, without its `\n`.
fn first_line(bytes: &[u8]) -> &[u8] {
    let end = bytes
        .iter()
        .position(|b| *b == b'\n')
        .unwrap_or(bytes.len());
    &bytes[..end]
}

/// What a reading collects.
struct Collect {
    rows: Vec<Row>,
    after: Option<usize>,
    unreadable: Vec<Unreadable>,
    tail: Tail,
    offset: u64,
}

impl Collect {
    fn new(offset: u64) -> Collect {
        Collect {
            rows: Vec::new(),
            after: None,
            unreadable: Vec::new(),
            tail: Tail::Whole,
            offset,
        }
    }

    /// One record's reading: `in_tail` when it starts after the last line end, where a
    /// record that does not read is a write cut short, not an unreadable row.
    fn take(&mut self, start: u64, line: u64, in_tail: bool, read: Result<Row, String>) {
        match read {
            Ok(row) => {
                if start >= self.offset && self.after.is_none() {
                    self.after = Some(self.rows.len());
                }
                self.rows.push(row);
                if in_tail {
                    self.tail = Tail::RowWithoutLineEnd;
                }
            }
            Err(_) if in_tail => self.tail = Tail::Torn { line },
            Err(why) => self.unreadable.push(Unreadable { line, why }),
        }
    }

    fn done(self, line_end: &'static str) -> Contents {
        let n = self.rows.len();
        Contents {
            rows: self.rows,
            after: self.after.unwrap_or(n),
            unreadable: self.unreadable,
            tail: self.tail,
            line_end,
        }
    }
}

/// The length of the part of `bytes` made of whole records (see `tail` for where a
/// record ends).
pub fn whole_len(bytes: &[u8], format: Format) -> usize {
    match format {
        Format::JsonLines => bytes.iter().rposition(|b| *b == b'\n').map_or(0, |i| i + 1),
        Format::Csv => {
            let mut quoted = false;
            let mut end = 0;
            for (i, b) in bytes.iter().enumerate() {
                match b {
                    b'"' => quoted = !quoted,
                    b'\n' if !quoted => end = i + 1,
                    _ => {}
                }
            }
            end
        }
    }
}

fn parse_csv(bytes: &[u8], offset: u64) -> Contents {
    let d = dialect(bytes);
    let whole = whole_len(bytes, Format::Csv);
    // Inside quotes at the end: a write cut short, whatever the csv crate makes of it.
    let open_quote = bytes[whole..].iter().filter(|b| **b == b'"').count() % 2 == 1;
    let mut out = Collect::new(offset);
    let line_end = if d.crlf { "\r\n" } else { "\n" };
    let body = bytes.get(d.skip..).unwrap_or_default();
    let mut reader = csv::ReaderBuilder::new()
        .has_headers(false)
        .flexible(true)
        .delimiter(d.delimiter)
        .from_reader(body);
    let mut columns: Option<Columns> = None;
    let mut record = csv::ByteRecord::new();
    // With `flexible`, the csv crate fails only on I/O, and a slice has none.
    while let Ok(true) = reader.read_byte_record(&mut record) {
        let (start, line) = record.position().map_or((0, 0), |p| {
            (p.byte() + d.skip as u64, p.line() + d.skip_lines)
        });
        let in_tail = start as usize >= whole;
        let Ok(rec) = csv::StringRecord::from_byte_record(record.clone()) else {
            // Excel's plain "CSV" saves in the system's code page, not UTF-8.
            let why = "the row is not UTF-8 text (a spreadsheet saved it in another encoding: save it as \"CSV UTF-8\")".to_string();
            out.take(start, line, in_tail, Err(why));
            continue;
        };
        // Rows of empty cells are what a spreadsheet leaves of deleted rows: not rows.
        if rec.iter().all(|c| c.trim().is_empty()) {
            continue;
        }
        let Some(cols) = &columns else {
            match Columns::of(&rec) {
                Ok(c) => columns = Some(c),
                Err(why) => {
                    // Nothing after a header that cannot be read can be read either.
                    out.take(start, line, in_tail, Err(why));
                    break;
                }
            }
            continue;
        };
        if cols.is_header(&rec) {
            continue;
        }
        let read = if in_tail && open_quote {
            Err("cut short".to_string())
        } else {
            cols.row(&rec)
        };
        out.take(start, line, in_tail, read);
    }
    out.done(line_end)
}

/// A row as JSON Lines spell it: the contract's field names.
#[derive(Deserialize)]
struct Wire {
    line: u64,
    user_id: String,
    outcome: String,
    http_status: Option<u16>,
    zoom_code: Option<u32>,
    attempts: u32,
    finished_at: String,
    message: String,
    /// Absent from reports written before the field existed.
    #[serde(default)]
    may_have_applied: Option<Flag>,
}

/// `true`/`false`: a JSON boolean, or its text.
#[derive(Deserialize)]
#[serde(untagged)]
enum Flag {
    Bool(bool),
    Text(String),
}

impl Wire {
    fn row(self) -> Result<Row, String> {
        let may_have_applied = match &self.may_have_applied {
            Some(Flag::Bool(b)) => *b,
            Some(Flag::Text(t)) => flag_text(Some(t), true, &self.message)?,
            None => self.message.contains(MAY_HAVE_APPLIED),
        };
        Ok(Row {
            line: self.line,
            outcome: outcome(&self.outcome)?,
            user_id: self.user_id,
            http_status: self.http_status,
            zoom_code: self.zoom_code,
            attempts: self.attempts,
            finished_at: finished(&self.finished_at)?,
            message: self.message,
            may_have_applied,
        })
    }
}

fn parse_jsonl(bytes: &[u8], offset: u64) -> Contents {
    let whole = whole_len(bytes, Format::JsonLines);
    let mut out = Collect::new(offset);
    let mut start = 0usize;
    for (i, line) in bytes.split(|b| *b == b'\n').enumerate() {
        let here = start;
        start += line.len() + 1;
        let line = line.strip_suffix(b"\r").unwrap_or(line);
        if line.iter().all(u8::is_ascii_whitespace) {
            continue;
        }
        let read = serde_json::from_slice::<Wire>(line)
            .map_err(|e| format!("not a report row: {e}"))
            .and_then(Wire::row);
        out.take(here as u64, i as u64 + 1, here >= whole, read);
    }
    out.done("\n")
}

#[cfg(test)]
#[path = "read_tests.rs"]
mod unit;
