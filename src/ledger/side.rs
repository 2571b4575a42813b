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

use std::path::{Path, PathBuf};

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
}
