//! The side files a run keeps beside its report (and a listing beside its output), named
//! here and nowhere else, so every reader, writer and cleaner agrees on them:
//!
//! - `<report>.journal`: requests on the wire, left behind only by a crash (`journal`);
//! - `<report>.lock`: held while a run writes the report (`files::lock`);
//! - `<report>.meta`: what the report was written for: its input, and the flags that
//!   change what a continuation sends (`resume::origin`);
//! - `<report>.torn`: a torn last record set aside before a resume appends (`report::tail`);
//! - `<out>.incomplete`: a listing until it is complete (`commands::users`);
//! - `<file>.tmp`: the temporary an atomic replace renames over its file (`files`).
//!
//! And the names a new report takes beside one that exists: [`numbered`] (a default
//! name already taken in the same second gets `-2`, `-3`…) and [`dated`] (the dated path
//! a refusal suggests, so that a new campaign never shares a path, and so a `--resume`,
//! with an old one).

use std::path::{Path, PathBuf};
use std::time::SystemTime;

fn beside(path: &Path, suffix: &str) -> PathBuf {
    let mut name = path.as_os_str().to_owned();
    name.push(suffix);
    name.into()
}

/// `<report>.journal`.
pub fn journal(report: &Path) -> PathBuf {
    beside(report, ".journal")
}

/// `<report>.lock`.
pub fn lock(report: &Path) -> PathBuf {
    beside(report, ".lock")
}

/// `<report>.meta`.
pub fn meta(report: &Path) -> PathBuf {
    beside(report, ".meta")
}

/// `<report>.torn`.
pub fn torn(report: &Path) -> PathBuf {
    beside(report, ".torn")
}

/// `<out>.incomplete`.
pub fn incomplete(out: &Path) -> PathBuf {
    beside(out, ".incomplete")
}

/// `<file>.tmp`.
pub fn tmp(file: &Path) -> PathBuf {
    beside(file, ".tmp")
}

/// `path` with `-n` before its extension (`r.csv`, `r-2.csv`, `r-3.csv`…); `n` 1 is
/// `path` itself.
pub fn numbered(path: &Path, n: u32) -> PathBuf {
    if n <= 1 {
        return path.to_path_buf();
    }
    let (stem, ext) = split(path);
    path.with_file_name(format!("{stem}-{n}{ext}"))
}

/// The file name's stem and its extension with the dot (empty when none).
fn split(path: &Path) -> (String, String) {
    let stem = path
        .file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_default();
    let ext = path
        .extension()
        .map(|e| format!(".{}", e.to_string_lossy()))
        .unwrap_or_default();
    (stem, ext)
}

/// A new path for a report beside `path`, dated `now` (UTC) and free: its name with any
/// date it ends in replaced by today's (`incident/rotation.csv` and
/// `reports/2026-11-02.csv` give `incident/rotation-2026-12-06.csv` and
/// `reports/2026-12-06.csv`), with the time when that exists too
/// (`…-2026-12-06T154400Z.csv`), then numbered.
pub fn dated(path: &Path, now: SystemTime) -> PathBuf {
    let stamp = humantime::format_rfc3339_seconds(now)
        .to_string()
        .replace(':', "");
    let date = &stamp[..10];
    let (stem, ext) = split(path);
    let base = without_date(&stem);
    let sep = if base.is_empty() || base.ends_with(['-', '_', '.']) {
        ""
    } else {
        "-"
    };
    let day = path.with_file_name(format!("{base}{sep}{date}{ext}"));
    let timed = path.with_file_name(format!("{base}{sep}{stamp}{ext}"));
    let free = |p: &Path| std::fs::symlink_metadata(p).is_err();
    if free(&day) {
        return day;
    }
    (1..1000)
        .map(|n| numbered(&timed, n))
        .find(|p| free(p))
        .unwrap_or(timed)
}

/// `stem` without the date (`YYYY-MM-DD`, with a `THHMMSSZ` time or not) it ends in.
fn without_date(stem: &str) -> &str {
    // Bytes, not chars: every byte matched is ASCII, so every cut is a char boundary.
    let b = stem.as_bytes();
    let digits = |r: std::ops::Range<usize>| b[r].iter().all(u8::is_ascii_digit);
    let mut end = b.len();
    if end >= 8 && b[end - 8] == b'T' && b[end - 1] == b'Z' && digits(end - 7..end - 1) {
        end -= 8;
    }
    let Some(d) = end.checked_sub(10) else {
        return stem;
    };
    if digits(d..d + 4)
        && b[d + 4] == b'-'
        && digits(d + 5..d + 7)
        && b[d + 7] == b'-'
        && digits(d + 8..end)
    {
        stem[..d].trim_end_matches(['-', '_'])
    } else {
        stem
    }
}

#[cfg(test)]
mod unit {
    use super::*;

    #[test]
    fn every_side_file_is_the_path_plus_its_suffix() {
        let r = Path::new("reports/a b.csv");
        assert_eq!(journal(r), Path::new("reports/a b.csv.journal"));
        assert_eq!(lock(r), Path::new("reports/a b.csv.lock"));
        assert_eq!(meta(r), Path::new("reports/a b.csv.meta"));
        assert_eq!(torn(r), Path::new("reports/a b.csv.torn"));
        assert_eq!(incomplete(r), Path::new("reports/a b.csv.incomplete"));
        assert_eq!(tmp(r), Path::new("reports/a b.csv.tmp"));
    }

    #[test]
    fn new_names_beside_a_report() {
        assert_eq!(numbered(Path::new("r/a.csv"), 1), Path::new("r/a.csv"));
        assert_eq!(numbered(Path::new("r/a.csv"), 2), Path::new("r/a-2.csv"));
        assert_eq!(numbered(Path::new("a.jsonl"), 3), Path::new("a-3.jsonl"));
        let now = humantime::parse_rfc3339("2026-12-06T15:44:00Z").unwrap();
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path();
        assert_eq!(
            dated(&d.join("rotation.csv"), now),
            d.join("rotation-2026-12-06.csv")
        );
        assert_eq!(
            dated(&d.join("2026-11-02.csv"), now),
            d.join("2026-12-06.csv")
        );
        assert_eq!(
            dated(&d.join("rotation-2026-11-02T010203Z.jsonl"), now),
            d.join("rotation-2026-12-06.jsonl")
        );
        std::fs::write(d.join("rotation-2026-12-06.csv"), "").unwrap();
        assert_eq!(
            dated(&d.join("rotation-2026-12-06.csv"), now),
            d.join("rotation-2026-12-06T154400Z.csv")
        );
        std::fs::write(d.join("rotation-2026-12-06T154400Z.csv"), "").unwrap();
        assert_eq!(
            dated(&d.join("rotation.csv"), now),
            d.join("rotation-2026-12-06T154400Z-2.csv")
        );
        assert_eq!(dated(&d.join("x"), now), d.join("x-2026-12-06"));
    }
}
