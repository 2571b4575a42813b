//! Stage 5, the report: one task owns the file, writes each row as it finishes, and keeps
//! the tally the summary and the exit code are made from.
//!
//! Columns are the contract's, in its order:
//! `line,user_id,outcome,http_status,zoom_code,attempts,finished_at,message` — CSV by
//! default, JSON Lines with the same fields when the path ends in `.jsonl`. The writer
//! flushes whenever it has caught up with the workers, so a crash loses at most the rows
//! still in flight (which the journal then knows about), while a burst of rows costs one
//! write, not one per row. A new report is created 0600 and never over an existing file;
//! `--resume` appends to the one it continues, after setting aside a torn tail
//! ([`tail`]). At the end of the run the writer syncs the file ([`Writer::sync`]): only
//! then may the journal go.

use crate::ledger::files::Disk;
use crate::vocab::{Row, MAY_HAVE_APPLIED};
use serde::Deserialize;
use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};

pub mod tail;

pub const CSV_HEADER: &str =
    "line,user_id,outcome,http_status,zoom_code,attempts,finished_at,message,may_have_applied";

/// The header of reports written before `may_have_applied` was added (still read).
const CSV_HEADER_V1: &str =
    "line,user_id,outcome,http_status,zoom_code,attempts,finished_at,message";

/// A row as read back from a report (`--resume`): the contract's field names.
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
    /// Absent from reports written before the column existed.
    #[serde(default)]
    may_have_applied: Option<Flag>,
}

/// `true`/`false`: a JSON boolean in JSON Lines, its text in CSV.
#[derive(Deserialize)]
#[serde(untagged)]
enum Flag {
    Bool(bool),
    Text(String),
}

impl Row {
    fn from_wire(w: Wire) -> Result<Row, String> {
        Ok(Row {
            line: w.line,
            user_id: w.user_id,
            outcome: w.outcome.parse()?,
            http_status: w.http_status,
            zoom_code: w.zoom_code,
            attempts: w.attempts,
            finished_at: humantime::parse_rfc3339(&w.finished_at)
                .map_err(|e| format!("finished_at {:?}: {e}", w.finished_at))?,
            may_have_applied: match w.may_have_applied {
                Some(Flag::Bool(b)) => b,
                Some(Flag::Text(t)) if t.is_empty() => w.message.contains(MAY_HAVE_APPLIED),
                None => w.message.contains(MAY_HAVE_APPLIED),
                Some(Flag::Text(t)) => return Err(format!("may_have_applied {t:?}")),
            },
            message: w.message,
        })
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    Csv,
    JsonLines,
}

impl Format {
    pub fn for_path(path: &Path) -> Format {
        match path.extension().and_then(|e| e.to_str()) {
            Some(e) if e.eq_ignore_ascii_case("jsonl") => Format::JsonLines,
            _ => Format::Csv,
        }
    }
}

/// The report file.
pub struct Writer {
    out: Out,
    path: PathBuf,
    /// The run's, for the report's last sync.
    disk: Disk,
}

/// One writer per format, each with its own 64 KiB buffer, kept for the whole run: a row
/// costs a few field copies, not a writer and a buffer of its own.
enum Out {
    Csv(Box<csv::Writer<File>>),
    JsonLines(BufWriter<File>),
}

impl Writer {
    /// Creates a new report (mode 0600, never over an existing file; the file and its
    /// directory synced, so the report exists before anything is sent), or, when
    /// `resume` and the report exists, opens it to append. A resumed report must end
    /// on a whole record: [`tail::set_aside_torn`] sees to that first.
    pub fn open(path: &Path, resume: bool, disk: &Disk) -> anyhow::Result<Writer> {
        let existing = resume && std::fs::symlink_metadata(path).is_ok();
        let (mut file, header) = if existing {
            let file = crate::ledger::files::open_append(path)?;
            // A report cut before its header was complete holds nothing: start it over.
            let empty = file.metadata()?.len() == 0;
            (file, empty)
        } else {
            (crate::ledger::files::create_private(path)?, true)
        };
        let format = Format::for_path(path);
        if header && format == Format::Csv {
            writeln!(file, "{CSV_HEADER}")?;
        }
        if !existing {
            disk.sync(&file, path)?;
            disk.sync_dir_of(path)?;
        }
        let out = match format {
            Format::JsonLines => Out::JsonLines(BufWriter::with_capacity(64 * 1024, file)),
            Format::Csv => Out::Csv(Box::new(
                csv::WriterBuilder::new()
                    .has_headers(false)
                    .buffer_capacity(64 * 1024)
                    .from_writer(file),
            )),
        };
        Ok(Writer {
            out,
            path: path.to_path_buf(),
            disk: disk.clone(),
        })
    }

    pub fn write(&mut self, row: &Row) -> std::io::Result<()> {
        let finished_at = humantime::format_rfc3339_seconds(row.finished_at).to_string();
        match &mut self.out {
            Out::JsonLines(out) => {
                serde_json::to_writer(
                    &mut *out,
                    &serde_json::json!({
                        "line": row.line,
                        "user_id": row.user_id,
                        "outcome": row.outcome.as_str(),
                        "http_status": row.http_status,
                        "zoom_code": row.zoom_code,
                        "attempts": row.attempts,
                        "finished_at": finished_at,
                        "message": row.message,
                        "may_have_applied": row.may_have_applied,
                    }),
                )?;
                out.write_all(b"\n")
            }
            Out::Csv(out) => {
                let num = |n: Option<u64>| n.map(|n| n.to_string()).unwrap_or_default();
                out.write_record([
                    row.line.to_string().as_str(),
                    &row.user_id,
                    row.outcome.as_str(),
                    &num(row.http_status.map(u64::from)),
                    &num(row.zoom_code.map(u64::from)),
                    &row.attempts.to_string(),
                    &finished_at,
                    &row.message,
                    bool_text(row.may_have_applied),
                ])
                .map_err(std::io::Error::other)
            }
        }
    }

    pub fn flush(&mut self) -> std::io::Result<()> {
        match &mut self.out {
            Out::Csv(out) => out.flush(),
            Out::JsonLines(out) => out.flush(),
        }
    }

    /// Flushes and syncs the report to disk: what the end of a run does before the
    /// journal, the only other record of what was sent, is removed.
    pub fn sync(&mut self) -> std::io::Result<()> {
        self.flush()?;
        let file = match &self.out {
            Out::Csv(out) => out.get_ref(),
            Out::JsonLines(out) => out.get_ref(),
        };
        self.disk.sync(file, &self.path)
    }
}

fn bool_text(b: bool) -> &'static str {
    if b {
        "true"
    } else {
        "false"
    }
}

/// Reads a report back (for `--resume`), in file order.
pub fn read(path: &Path) -> anyhow::Result<Vec<Row>> {
    read_after(path, 0)
}

/// Reads the rows a report holds after byte `offset` (the rows of one run; see
/// `journal`). Offset 0 reads them all.
pub fn read_after(path: &Path, offset: u64) -> anyhow::Result<Vec<Row>> {
    let (mut rows, after) = read_split(path, offset)?;
    Ok(rows.split_off(after))
}

/// Reads a report once: every row, and the index of the first row that starts at or
/// after byte `offset` (the rows of the run whose epoch began there).
pub fn read_split(path: &Path, offset: u64) -> anyhow::Result<(Vec<Row>, usize)> {
    let text = crate::ledger::files::read_private(path)
        .map_err(|e| anyhow::anyhow!("cannot read report {}: {e}", path.display()))?
        .ok_or_else(|| {
            anyhow::anyhow!("cannot read report {}: it does not exist", path.display())
        })?;
    Ok(parse_split(path, &text, offset))
}

/// [`read_split`] of a report's bytes already read (`path` gives the format and names
/// the report in warnings).
pub fn parse_split(path: &Path, text: &[u8], offset: u64) -> (Vec<Row>, usize) {
    let bad = |e: String| anyhow::anyhow!("report {}: {e}", path.display());
    let mut rows = Vec::new();
    let mut after = None;
    let mut take = |start: u64, w: Wire| match Row::from_wire(w) {
        Ok(row) => {
            if start >= offset && after.is_none() {
                after = Some(rows.len());
            }
            rows.push(row);
        }
        // A row cut short by a power loss: its request was in flight, and the journal
        // knows about it.
        Err(e) => tracing::warn!(error = %bad(e), "skipping an unreadable report row"),
    };
    match Format::for_path(path) {
        Format::JsonLines => {
            let mut start = 0u64;
            for line in text.split(|b| *b == b'\n') {
                let here = start;
                start += line.len() as u64 + 1;
                // A crash can cut the last line short: what it held was in flight, and
                // the journal knows about it.
                if let Ok(w) = serde_json::from_slice::<Wire>(line) {
                    take(here, w);
                }
            }
        }
        Format::Csv => {
            let mut r = csv::ReaderBuilder::new()
                .has_headers(false)
                .flexible(true)
                .from_reader(text);
            for rec in r.records() {
                let Ok(rec) = rec else { continue };
                let joined = rec.iter().collect::<Vec<_>>().join(",");
                if joined == CSV_HEADER || joined == CSV_HEADER_V1 {
                    continue;
                }
                let start = rec.position().map_or(0, |p| p.byte());
                if let Ok(w) = rec.deserialize::<Wire>(None) {
                    take(start, w);
                }
            }
        }
    }
    let n = rows.len();
    (rows, after.unwrap_or(n))
}

/// The report's length in bytes (0 when it does not exist yet).
pub fn len(path: &Path) -> u64 {
    std::fs::metadata(path).map(|m| m.len()).unwrap_or(0)
}

#[cfg(test)]
mod unit {
    use super::*;
    use crate::vocab::Outcome;

    #[test]
    fn csv_round_trip_with_awkward_fields() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("r.csv");
        let row = Row {
            line: 7,
            user_id: "a,\"b\"@x.com".into(),
            outcome: Outcome::Rejected,
            http_status: Some(403),
            zoom_code: None,
            attempts: 1,
            finished_at: humantime::parse_rfc3339("2026-11-29T03:00:00Z").unwrap(),
            message: "line one\nline two".into(),
            may_have_applied: true,
        };
        let mut w = Writer::open(&path, false, &Disk::default()).unwrap();
        w.write(&row).unwrap();
        w.flush().unwrap();
        let text = std::fs::read_to_string(&path).unwrap();
        assert_eq!(
            text,
            format!("{CSV_HEADER}\n7,\"a,\"\"b\"\"@x.com\",rejected,403,,1,2026-11-29T03:00:00Z,\"line one\nline two\",true\n")
        );
        assert_eq!(read(&path).unwrap(), vec![row]);
        assert!(
            Writer::open(&path, false, &Disk::default()).is_err(),
            "never overwritten"
        );
    }

    #[test]
    fn reads_reports_from_before_the_may_have_applied_column() {
        let dir = tempfile::tempdir().unwrap();
        for (name, text) in [
            ("old.csv", format!("{CSV_HEADER_V1}\n2,a@x.com,failed,502,,2,2026-11-29T03:00:00Z,gave up; {MAY_HAVE_APPLIED}\n3,b@x.com,failed,,,0,2026-11-29T03:00:00Z,not sent\n")),
            ("old.jsonl", format!("{{\"line\":2,\"user_id\":\"a@x.com\",\"outcome\":\"failed\",\"http_status\":502,\"zoom_code\":null,\"attempts\":2,\"finished_at\":\"2026-11-29T03:00:00Z\",\"message\":\"{MAY_HAVE_APPLIED}\"}}\n{{\"line\":3,\"user_id\":\"b@x.com\",\"outcome\":\"failed\",\"http_status\":null,\"zoom_code\":null,\"attempts\":0,\"finished_at\":\"2026-11-29T03:00:00Z\",\"message\":\"x\",\"may_have_applied\":true}}\n")),
        ] {
            let path = dir.path().join(name);
            std::fs::write(&path, text).unwrap();
            let flags: Vec<bool> = read(&path).unwrap().iter().map(|r| r.may_have_applied).collect();
            let want = if name.ends_with("csv") { vec![true, false] } else { vec![true, true] };
            assert_eq!(flags, want, "{name}");
        }
    }
}
