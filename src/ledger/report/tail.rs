//! A report's torn tail: the bytes after its last whole record, left by a write cut short
//! (ENOSPC, a power loss, a partial flush).
//!
//! Before `--resume` reads a report or appends to it, the torn tail is moved into
//! `<report>.torn` (appended there, synced) and cut off the report (synced), so the
//! report ends on a whole record again. Appending after a tail cut inside a quoted CSV
//! field would instead put the new rows *inside* that field: the CSV reader folds them
//! into it, and the resume after that knows nothing of them and sends those users again.
//! Terminating the torn record would not do either: its open quote still swallows what
//! follows. Setting it aside loses nothing: the bytes are kept for a human to read, and
//! the row they began belongs to a request the journal recorded before it was sent (a
//! row without a request, such as `not_attempted`, says nothing a resume needs), so the
//! resume retries that user as an unanswered attempt.
//!
//! Where the last whole record ends: in JSON Lines, after the last newline (JSON escapes
//! every newline inside a string). In CSV, after the last newline outside quotes, found
//! by the quote state machine of RFC 4180 as the csv crate writes it: a quote only opens
//! or closes a quoted field, and a quote inside one is doubled, so each quote flips the
//! state and a doubled one flips it twice.
//!
//! A last record that lacks only its line end is a row when it reads whole (`read`):
//! spreadsheets such as Google Sheets save the last row so, and the writer puts the line
//! end last, so a cut that leaves every cell readable cut nothing but the line end. Its
//! line is ended, and it stays. Anything else after the last line end is torn. A torn
//! tail with no journal is no crash's (a run removes its journal only once the report
//! is synced whole), so a person or a tool cut that row: the resume is refused, as for
//! any row that cannot be read, rather than sending its user again.

pub use super::read::whole_len;

use super::read::{self, Tail, FIX};
use super::Format;
use crate::ledger::files::Disk;
use crate::vocab::{RefusalCode, Refused};
use std::io::Write;
use std::path::Path;

/// What a resume does with a report's tail before it reads the report.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Settle {
    /// Nothing: the report ends on a line end.
    Whole,
    /// The last row lacks only its line end: end it (with this).
    EndLine(&'static str),
    /// A write cut short: the bytes from this length on are set aside.
    SetAside(usize),
}

/// What to do with `bytes`' tail; `crashed`: a journal says a run was cut short. A torn
/// tail without one is refused (see the module's comment).
pub fn settle_plan(report: &Path, bytes: &[u8], crashed: bool) -> Result<Settle, Refused> {
    let end = whole_len(bytes, Format::for_path(report));
    if end == bytes.len() {
        return Ok(Settle::Whole);
    }
    let contents = read::parse(report, bytes, 0);
    // A tail the reader never reached (after a header it cannot read) is torn too.
    let line = match contents.tail {
        Tail::RowWithoutLineEnd => return Ok(Settle::EndLine(contents.line_end)),
        Tail::Torn { line } => line,
        Tail::Whole => 1 + bytes[..end].iter().filter(|b| **b == b'\n').count() as u64,
    };
    match line {
        _ if crashed => Ok(Settle::SetAside(end)),
        line => Err(Refused::new(
            RefusalCode::ReportUnreadable,
            format!(
                "--resume refused: the report {} ends inside a row (line {line}), and no journal says a run was cut short there, so a person or a tool cut it; a row that cannot be read is never taken to mean \"not attempted\", so nothing was sent: {FIX}",
                report.display()
            ),
        )),
    }
}

/// Before a resume reads or appends to `report`: ends a last row that lacks only its
/// line end, or moves a torn tail into its `.torn` side file
/// ([`crate::ledger::side::torn`]) and cuts it off the report (see [`settle_plan`]).
/// Returns the report's bytes as they now are (so a resume reads the file once) and how
/// many bytes were moved (0: none).
pub fn set_aside_torn(report: &Path, crashed: bool, disk: &Disk) -> anyhow::Result<(Vec<u8>, u64)> {
    let mut bytes = crate::ledger::files::read_private(report)?.ok_or_else(|| {
        anyhow::anyhow!("cannot read report {}: it does not exist", report.display())
    })?;
    let end = match settle_plan(report, &bytes, crashed)? {
        Settle::Whole => return Ok((bytes, 0)),
        Settle::EndLine(line_end) => {
            let mut file = crate::ledger::files::open_append(report)?;
            file.write_all(line_end.as_bytes())?;
            disk.sync(&file, report)?;
            bytes.extend_from_slice(line_end.as_bytes());
            tracing::info!(report = %report.display(), "the report's last row had no line end (a spreadsheet's save): ended it");
            return Ok((bytes, 0));
        }
        Settle::SetAside(end) => end,
    };
    let tail = bytes.split_off(end);
    let torn = crate::ledger::side::torn(report);
    // Kept durably first: a crash between the two steps leaves the tail in both places,
    // never in neither.
    let mut kept = disk.append_private(&torn)?;
    kept.write_all(&tail)?;
    disk.sync(&kept, &torn)?;
    let file = crate::ledger::files::open_append(report)?;
    file.set_len(end as u64)?;
    disk.sync(&file, report)?;
    tracing::warn!(
        report = %report.display(),
        torn = %torn.display(),
        bytes = tail.len(),
        // More than one line: rows appended after an earlier tear (by a version that
        // did not set it aside) are in it too; read them there.
        lines = tail.split(|b| *b == b'\n').filter(|l| !l.is_empty()).count(),
        "the report ended inside a row (cut short by a crash or a full disk); that part is moved to the .torn file, and the journal's record of its request makes this resume retry that user"
    );
    Ok((bytes, tail.len() as u64))
}

#[cfg(test)]
mod unit {
    use super::*;

    #[test]
    fn whole_records_end_at_a_newline_outside_quotes() {
        let csv = |s: &str| whole_len(s.as_bytes(), Format::Csv);
        assert_eq!(csv(""), 0);
        assert_eq!(csv("a,b\n"), 4);
        assert_eq!(csv("a,b\nc,d"), 4, "no newline yet: torn");
        assert_eq!(csv("a,\"x\ny\"\n"), 8, "a newline inside quotes is data");
        assert_eq!(csv("a,b\nc,\"x\n"), 4, "cut right after a quoted newline");
        assert_eq!(
            csv("a,\"say \"\"hi\"\"\"\nb,\"\"\"\n"),
            15,
            "doubled quotes flip twice"
        );
        let jsonl = |s: &str| whole_len(s.as_bytes(), Format::JsonLines);
        assert_eq!(jsonl("{\"m\":\"a\\nb\"}\n{\"m\":"), 13);
        assert_eq!(jsonl("{}"), 0);
    }

    #[test]
    fn a_torn_tail_is_moved_aside_and_appended_to_what_was_kept() {
        let dir = tempfile::tempdir().unwrap();
        let report = dir.path().join("r.csv");
        std::fs::write(&report, "h\n1,\"cut, here\n").unwrap();
        let disk = Disk::default();
        assert_eq!(
            set_aside_torn(&report, true, &disk).unwrap(),
            (b"h\n".to_vec(), 13)
        );
        assert_eq!(std::fs::read_to_string(&report).unwrap(), "h\n");
        assert_eq!(
            set_aside_torn(&report, true, &disk).unwrap(),
            (b"h\n".to_vec(), 0)
        );
        std::fs::write(&report, "h\n2,x").unwrap();
        assert_eq!(set_aside_torn(&report, true, &disk).unwrap().1, 3);
        assert_eq!(
            std::fs::read_to_string(crate::ledger::side::torn(&report)).unwrap(),
            "1,\"cut, here\n2,x"
        );
    }
}
