//! Stage 5, the report: one task owns the file, writes each row as it finishes, and keeps
//! the tally the summary and the exit code are made from.
//!
//! Columns are the contract's, in its order: [`CSV_HEADER`] — CSV by default, JSON Lines
//! with the same fields when the path ends in `.jsonl`. A CSV cell a spreadsheet would
//! run is written neutralised (`crate::vocab::cell`). The writer flushes whenever it has
//! caught up with the workers, so a crash loses at most the rows still in flight (which
//! the journal then knows about), while a burst of rows costs one write, not one per row.
//! A new report is created 0600 and never over an existing file; `--resume` appends to
//! the one it continues, in the delimiter and line end a spreadsheet may have re-saved it
//! with, after setting aside a torn tail ([`tail`]). At the end of the run the writer
//! syncs the file ([`Writer::sync`]): only then may the journal go. Reading it back is
//! [`read`]'s, strictly: a row it cannot read is never taken to mean "not attempted".

use crate::ledger::files::Disk;
use crate::vocab::cell::neutralised;
use crate::vocab::Row;
use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};

mod columns;
pub mod read;
pub mod tail;

pub use read::{Contents, Tail, Unreadable};

pub const CSV_HEADER: &str =
    "line,user_id,outcome,http_status,zoom_code,attempts,finished_at,message,may_have_applied";

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
        let format = Format::for_path(path);
        // Rows appended to a report a spreadsheet re-saved keep its delimiter and line end.
        let mut dialect = read::dialect(b"");
        let (mut file, header) = if existing {
            if format == Format::Csv {
                let bytes = crate::ledger::files::read_private(path)?.unwrap_or_default();
                dialect = read::dialect(&bytes);
            }
            let file = crate::ledger::files::open_append(path)?;
            // A report cut before its header was complete holds nothing: start it over.
            let empty = file.metadata()?.len() == 0;
            (file, empty)
        } else {
            (crate::ledger::files::create_private(path)?, true)
        };
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
                    .delimiter(dialect.delimiter)
                    .terminator(if dialect.crlf {
                        csv::Terminator::CRLF
                    } else {
                        csv::Terminator::Any(b'\n')
                    })
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
                // User IDs and Zoom's messages come from outside: a cell a spreadsheet
                // would run is written neutralised, and read back as it was.
                out.write_record(neutralised([
                    row.line.to_string().as_str(),
                    &row.user_id,
                    row.outcome.as_str(),
                    &num(row.http_status.map(u64::from)),
                    &num(row.zoom_code.map(u64::from)),
                    &row.attempts.to_string(),
                    &finished_at,
                    &row.message,
                    bool_text(row.may_have_applied),
                ]))
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

/// Reads a report back, in file order: every row, or the refusal that names the rows
/// it cannot read ([`read::refusal`]). A torn tail (a write cut short) is not a row.
pub fn read(path: &Path) -> anyhow::Result<Vec<Row>> {
    read_after(path, 0)
}

/// Reads the rows a report holds after byte `offset` (the rows of one run; see
/// `journal`). Offset 0 reads them all.
pub fn read_after(path: &Path, offset: u64) -> anyhow::Result<Vec<Row>> {
    let mut c = load(path, offset)?;
    if !c.unreadable.is_empty() {
        return Err(read::refusal(path, &c.unreadable, false).into());
    }
    Ok(c.rows.split_off(c.after))
}

/// Reads a report once: its rows, the index of the first row that starts at or after
/// byte `offset` (the rows of the run whose epoch began there), the rows it cannot
/// read, and how it ends.
pub fn load(path: &Path, offset: u64) -> anyhow::Result<Contents> {
    let text = crate::ledger::files::read_private(path)
        .map_err(|e| anyhow::anyhow!("cannot read report {}: {e}", path.display()))?
        .ok_or_else(|| {
            anyhow::anyhow!("cannot read report {}: it does not exist", path.display())
        })?;
    Ok(read::parse(path, &text, offset))
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
    fn formula_cells_are_neutralised_and_a_resave_keeps_its_dialect() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("r.csv");
        let row = |line: u64, user: &str, message: &str| Row {
            line,
            user_id: user.into(),
            outcome: Outcome::Failed,
            http_status: None,
            zoom_code: None,
            attempts: 0,
            finished_at: humantime::parse_rfc3339("2026-11-29T03:00:00Z").unwrap(),
            message: message.into(),
            may_have_applied: false,
        };
        let first = row(2, "=HYPERLINK(\"x\")", "@SUM(A1)");
        let mut w = Writer::open(&path, false, &Disk::default()).unwrap();
        w.write(&first).unwrap();
        w.flush().unwrap();
        drop(w);
        let text = std::fs::read_to_string(&path).unwrap();
        assert_eq!(
            text,
            format!("{CSV_HEADER}\n2,\"'=HYPERLINK(\"\"x\"\")\",failed,,,0,2026-11-29T03:00:00Z,'@SUM(A1),false\n")
        );
        assert_eq!(read(&path).unwrap(), vec![first.clone()]);
        // Excel's `;` re-save with CRLF: a resume appends in the same dialect.
        let resaved = format!("sep=;\r\n{}", text.replace(',', ";").replace('\n', "\r\n"));
        std::fs::write(&path, &resaved).unwrap();
        let second = row(3, "+cmd|x", "-1");
        let mut w = Writer::open(&path, true, &Disk::default()).unwrap();
        w.write(&second).unwrap();
        w.flush().unwrap();
        drop(w);
        let text = std::fs::read_to_string(&path).unwrap();
        assert_eq!(
            text,
            format!("{resaved}3;'+cmd|x;failed;;;0;2026-11-29T03:00:00Z;'-1;false\r\n")
        );
        assert_eq!(read(&path).unwrap(), vec![first, second]);
    }
}
