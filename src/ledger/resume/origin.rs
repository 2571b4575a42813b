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
//!
//! The sidecar also keeps the report's [`Provenance`] (simulated or real, the API host,
//! the account, the first run's start, the version), which a resume checks in
//! [`super::provenance`].

use super::provenance::Provenance;
use crate::ledger::files::{self, Disk, FileId};
use std::io;
use std::path::{Path, PathBuf};

/// What the sidecar records.
#[derive(serde::Serialize, serde::Deserialize)]
struct Meta {
    /// The input's canonical path, or `-` for standard input.
    input: String,
    /// The words of the command that continues the run, without `--resume --report`
    /// (`Settings::continue_words`); absent in sidecars of older versions.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    command: Option<Vec<String>>,
    /// What the report was written for; absent in sidecars of older versions.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    provenance: Option<Provenance>,
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

/// Records, beside `report`, the input it is written for and the words of the command
/// that continues it, keeping the provenance already recorded. Written again by every
/// run that appends to the report, so the command is the latest run's.
pub fn record(report: &Path, input: &Path, command: &[String], disk: &Disk) -> anyhow::Result<()> {
    write(report, input, command, None, disk)
}

/// [`record`], with the report's provenance: its first run's, kept by every resume.
pub fn record_for(
    report: &Path,
    input: &Path,
    command: &[String],
    provenance: &Provenance,
    disk: &Disk,
) -> anyhow::Result<()> {
    write(report, input, command, Some(provenance.clone()), disk)
}

fn write(
    report: &Path,
    input: &Path,
    command: &[String],
    provenance: Option<Provenance>,
    disk: &Disk,
) -> anyhow::Result<()> {
    let before = recorded(report);
    // A resume from standard input keeps the file the report was started for.
    let input = match (input_name(input), &before) {
        (now, Some(before)) if now == "-" => before.input.clone(),
        (now, _) => now,
    };
    let meta = Meta {
        input,
        command: Some(command.to_vec()),
        provenance: provenance.or_else(|| before.and_then(|b| b.provenance)),
    };
    let mut text = serde_json::to_vec(&meta)?;
    text.push(b'\n');
    disk.replace_private(&crate::ledger::side::meta(report), &text)?;
    Ok(())
}

fn recorded(report: &Path) -> Option<Meta> {
    let bytes = files::read_private(&crate::ledger::side::meta(report)).ok()??;
    serde_json::from_slice(&bytes).ok()
}

/// What the report was written for, as its sidecar records it: `None` for a report of
/// an older version (no sidecar, or one without provenance). A sidecar that cannot be
/// read is refused, naming it: it is what a resume is checked against.
pub fn provenance(report: &Path) -> anyhow::Result<Option<Provenance>> {
    let path = crate::ledger::side::meta(report);
    let Some(bytes) = files::read_private(&path)? else {
        return Ok(None);
    };
    let meta: Meta = serde_json::from_slice(&bytes).map_err(|e| {
        anyhow::anyhow!(
            "cannot read {}: {e}; it records what the report was written for (its input, target and first run)",
            path.display()
        )
    })?;
    Ok(meta.provenance)
}

/// The input a report was started for, as its sidecar records it (`None` for standard
/// input, or a report without a readable sidecar).
pub fn recorded_input(report: &Path) -> Option<PathBuf> {
    let meta = recorded(report)?;
    (meta.input != "-").then(|| PathBuf::from(meta.input))
}

/// `path` made absolute against the working directory, lexically (a symlink stays the
/// name the operator gave); `-` stays standard input.
pub fn absolute(path: &Path) -> PathBuf {
    if path == Path::new("-") {
        return path.to_path_buf();
    }
    std::path::absolute(path).unwrap_or_else(|_| path.to_path_buf())
}

/// The one command that continues the run recorded in `report`, quoted for a POSIX
/// shell: the words its sidecar keeps, then `--resume --report REPORT`. A report from an
/// older version, whose sidecar has no words, gets its input (or `<INPUT>`) and nothing
/// else. The summary, `status` and the second Ctrl-C all show this.
pub fn continue_command(report: &Path) -> String {
    let meta = recorded(report);
    let mut words: Vec<String> = match meta {
        Some(Meta {
            command: Some(words),
            ..
        }) if !words.is_empty() => words,
        Some(Meta { input, .. }) if input != "-" => vec!["zoom-rotate".into(), "run".into(), input],
        _ => vec!["zoom-rotate".into(), "run".into(), "<INPUT>".into()],
    };
    words.push("--resume".into());
    words.push("--report".into());
    words.push(absolute(report).display().to_string());
    words
        .iter()
        .map(|w| {
            if w == "<INPUT>" {
                w.clone()
            } else {
                shell_quote(w)
            }
        })
        .collect::<Vec<_>>()
        .join(" ")
}

/// One word for a POSIX shell: as is when it holds nothing the shell reads, else in
/// single quotes.
pub fn shell_quote(s: &str) -> String {
    if !s.is_empty()
        && s.chars()
            .all(|c| c.is_ascii_alphanumeric() || "-_./=:@+,".contains(c))
    {
        s.to_string()
    } else {
        format!("'{}'", s.replace('\'', "'\\''"))
    }
}

/// Where the run recorded in `report` kept its generated passwords, as the words its
/// sidecar records say (for a hand-out).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum KeptPasswords {
    /// `--generated-out PATH` (absolute, as recorded).
    File(PathBuf),
    /// `--discard-passwords`: nowhere.
    Discarded,
    /// Neither: passwords from the input, or a sidecar without words (an older version).
    NotRecorded,
}

/// See [`KeptPasswords`].
pub fn kept_passwords(report: &Path) -> KeptPasswords {
    let words = recorded(report).and_then(|m| m.command).unwrap_or_default();
    match recorded_flag(&words, "--generated-out") {
        Some(path) => KeptPasswords::File(PathBuf::from(path)),
        None if words.iter().any(|w| w == "--discard-passwords") => KeptPasswords::Discarded,
        None => KeptPasswords::NotRecorded,
    }
}

/// The value of `flag` among the words the sidecar of `report` records.
pub fn recorded_value(report: &Path, flag: &str) -> Option<String> {
    let words = recorded(report)?.command?;
    recorded_flag(&words, flag)
}

fn recorded_flag(words: &[String], flag: &str) -> Option<String> {
    let i = words.iter().position(|w| w == flag)?;
    words.get(i + 1).cloned()
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
        // The run records this input with its command (`record`) before it appends.
        tracing::warn!(report = %report.display(), "the report has no record of its input (written by an older version); this input is recorded for the next resume");
        return Ok(());
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
        record(&report, &input, &[], &Disk::default()).unwrap();
        std::fs::write(&input, "user_id\nedited\n").unwrap();
        verify(&report, &dir.path().join(".").join("in.csv"), false).unwrap();
        verify(&report, Path::new("-"), false).unwrap();
        let other = dir.path().join("other.csv");
        std::fs::write(&other, "user_id\n").unwrap();
        let e = verify(&report, &other, false).unwrap_err().to_string();
        assert!(e.contains("was written for the input"), "{e}");
        // No sidecar (an older report): accepted (the run then records its input); by a
        // preview, accepted and nothing written.
        std::fs::remove_file(crate::ledger::side::meta(&report)).unwrap();
        verify(&report, &other, true).unwrap();
        assert!(!crate::ledger::side::meta(&report).exists());
        verify(&report, &other, false).unwrap();
        record(&report, &other, &[], &Disk::default()).unwrap();
        assert!(verify(&report, &input, false).is_err());
        // A resume from standard input keeps the file the report was started for.
        record(&report, Path::new("-"), &[], &Disk::default()).unwrap();
        assert!(verify(&report, &input, false).is_err());
        assert_eq!(
            recorded_input(&report),
            Some(std::fs::canonicalize(&other).unwrap())
        );
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
