//! Whether a report may be continued: `--resume` refuses, before anything is sent or
//! created, a report that does not exist (a typo would otherwise start over and change
//! everyone again; `--resume-or-start` says starting is meant), a symlink, anything that
//! is not a regular file, the input itself, and a report written for another input.
//!
//! "Another input" means another file: the input's canonical path is recorded in the
//! sidecar `<report>.meta` when the report is started, and compared on every resume. Its
//! content is deliberately not compared: an operator may edit the input before resuming
//! (drop the rows done, fix a password), and a resume matches users, not lines. Any
//! spelling of the same path (relative, through a symlink) is the same input. Standard
//! input has no path, so a report started from it, or resumed from it, is not compared.
//! A report from before the sidecar existed is accepted, and its input recorded then.

use crate::ledger::files::{self, FileId};
use std::io;
use std::path::{Path, PathBuf};

/// What the sidecar records.
#[derive(serde::Serialize, serde::Deserialize)]
struct Meta {
    /// The input's canonical path, or `-` for standard input.
    input: String,
}

/// Checks what `--report` names; `Ok(true)` when the run continues an existing report,
/// `Ok(false)` when it starts one. Without `resume`, an existing report is left to the
/// caller to refuse (under the report lock).
pub fn check_report(
    report: &Path,
    input: &Path,
    resume: bool,
    or_start: bool,
) -> anyhow::Result<bool> {
    let refuse = |why: &str| anyhow::anyhow!("--resume: the report {} {why}", report.display());
    let meta = match std::fs::symlink_metadata(report) {
        Err(e) if e.kind() == io::ErrorKind::NotFound => {
            if resume && !or_start {
                return Err(refuse("does not exist, so there is no run to continue; check the path, or pass --resume-or-start to start a new report when none exists"));
            }
            return Ok(false);
        }
        Err(e) => anyhow::bail!("cannot read report {}: {e}", report.display()),
        Ok(m) => m,
    };
    if !resume {
        return Ok(false);
    }
    if meta.file_type().is_symlink() {
        return Err(refuse("is a symbolic link; name the report itself"));
    }
    if !meta.is_file() {
        return Err(refuse(
            "is not a regular file (a device, a FIFO or a directory); name a report this tool wrote",
        ));
    }
    if input != Path::new("-") && FileId::of_path(input).ok() == Some(FileId::of(&meta)) {
        return Err(refuse(
            "is the input file itself; name the report the run wrote",
        ));
    }
    Ok(true)
}

fn input_name(input: &Path) -> String {
    if input == Path::new("-") {
        return "-".into();
    }
    std::fs::canonicalize(input)
        .unwrap_or_else(|_| input.to_path_buf())
        .display()
        .to_string()
}

/// Records the input of a report just started.
pub fn record(report: &Path, input: &Path) -> anyhow::Result<()> {
    let meta = Meta {
        input: input_name(input),
    };
    let mut text = serde_json::to_vec(&meta)?;
    text.push(b'\n');
    files::replace_private(&crate::ledger::side::meta(report), &text)?;
    Ok(())
}

/// The input a report was started for, as its sidecar records it: `None` when there is
/// no readable sidecar, or the input was standard input.
pub fn recorded_input(report: &Path) -> Option<PathBuf> {
    let bytes = files::read_private(&crate::ledger::side::meta(report)).ok()??;
    let meta: Meta = serde_json::from_slice(&bytes).ok()?;
    (meta.input != "-").then(|| PathBuf::from(meta.input))
}

/// Refuses to continue `report` with another input than the one it was started with.
/// A `preview` (`--resume --dry-run`) writes nothing, not even a missing sidecar.
pub fn verify(report: &Path, input: &Path, preview: bool) -> anyhow::Result<()> {
    let path = crate::ledger::side::meta(report);
    let Some(bytes) = files::read_private(&path)? else {
        if preview {
            tracing::warn!(report = %report.display(), "the report has no record of its input (written by an older version); a real --resume records this input");
            return Ok(());
        }
        tracing::warn!(report = %report.display(), "the report has no record of its input (written by an older version); this input is recorded for the next resume");
        return record(report, input);
    };
    let meta: Meta = serde_json::from_slice(&bytes).map_err(|e| {
        anyhow::anyhow!(
            "cannot read {}: {e}; it records the report's input (remove it to accept this input)",
            path.display()
        )
    })?;
    let now = input_name(input);
    if meta.input == "-" || now == "-" || meta.input == now {
        return Ok(());
    }
    anyhow::bail!(
        "--resume: the report {} was written for the input {}, not {now}; resume with that input, or start a new report for this one",
        report.display(),
        meta.input
    )
}

#[cfg(test)]
mod unit {
    use super::*;

    #[test]
    fn the_input_is_the_file_not_its_content_nor_its_spelling() {
        let dir = tempfile::tempdir().unwrap();
        let input = dir.path().join("in.csv");
        std::fs::write(&input, "user_id\n").unwrap();
        let report = dir.path().join("r.csv");
        std::fs::write(&report, "").unwrap();
        record(&report, &input).unwrap();
        std::fs::write(&input, "user_id\nedited\n").unwrap();
        verify(&report, &dir.path().join(".").join("in.csv"), false).unwrap();
        verify(&report, Path::new("-"), false).unwrap();
        let other = dir.path().join("other.csv");
        std::fs::write(&other, "user_id\n").unwrap();
        let e = verify(&report, &other, false).unwrap_err().to_string();
        assert!(e.contains("was written for the input"), "{e}");
        // No sidecar (an older report): accepted, and recorded; by a preview, accepted
        // and not recorded.
        std::fs::remove_file(crate::ledger::side::meta(&report)).unwrap();
        verify(&report, &other, true).unwrap();
        assert!(!crate::ledger::side::meta(&report).exists());
        verify(&report, &other, false).unwrap();
        assert!(verify(&report, &input, false).is_err());
    }

    #[test]
    fn what_resume_refuses_before_anything_is_created() {
        let dir = tempfile::tempdir().unwrap();
        let input = dir.path().join("in.csv");
        std::fs::write(&input, "user_id\n").unwrap();
        let missing = dir.path().join("missing.csv");
        assert!(check_report(&missing, &input, true, false).is_err());
        assert!(!check_report(&missing, &input, true, true).unwrap());
        assert!(!check_report(&missing, &input, false, false).unwrap());
        assert!(check_report(&input, &input, true, false).is_err());
        assert!(check_report(dir.path(), &input, true, false).is_err());
        let report = dir.path().join("r.csv");
        std::fs::write(&report, "").unwrap();
        assert!(check_report(&report, &input, true, false).unwrap());
        assert!(check_report(&report, Path::new("-"), true, false).unwrap());
    }
}
