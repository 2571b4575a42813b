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
//! state and a doubled one flips it twice. A last record that lacks only its newline is
//! torn too: nothing proves it whole.

use super::Format;
use crate::ledger::files::Disk;
use std::io::Write;
use std::path::Path;

/// The length of the part of `bytes` made of whole records.
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

/// Moves a torn tail of `report` into its `.torn` side file ([`crate::ledger::side::torn`]) and cuts it off the report. Returns
/// the report's bytes as they now are (so a resume reads the file once) and how many
/// bytes were moved (0: the report ended on a whole record).
pub fn set_aside_torn(report: &Path, disk: &Disk) -> anyhow::Result<(Vec<u8>, u64)> {
    let mut bytes = crate::ledger::files::read_private(report)?.ok_or_else(|| {
        anyhow::anyhow!("cannot read report {}: it does not exist", report.display())
    })?;
    let end = whole_len(&bytes, Format::for_path(report));
    let tail = bytes.split_off(end);
    if tail.is_empty() {
        return Ok((bytes, 0));
    }
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
            set_aside_torn(&report, &disk).unwrap(),
            (b"h\n".to_vec(), 13)
        );
        assert_eq!(std::fs::read_to_string(&report).unwrap(), "h\n");
        assert_eq!(
            set_aside_torn(&report, &disk).unwrap(),
            (b"h\n".to_vec(), 0)
        );
        std::fs::write(&report, "h\n2,x").unwrap();
        assert_eq!(set_aside_torn(&report, &disk).unwrap().1, 3);
        assert_eq!(
            std::fs::read_to_string(crate::ledger::side::torn(&report)).unwrap(),
            "1,\"cut, here\n2,x"
        );
    }
}
