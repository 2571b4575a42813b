//! Evidence of an incident run (`--evidence DIR`): what Zoom knew of each target before
//! anything was sent, the sign-in activity of the incident window, the run's report and
//! summary, and a SHA-256 manifest of every file, so a reviewer can show later that the
//! folder is complete and untouched (`cd DIR && sha256sum -c SHA256SUMS`, or [`verify`]).
//!
//! The folder is created private (0700, files 0600) and must be new or empty, unless the
//! run is a `--resume` of the one that made it: a resume adds its own files (named by its
//! start, `targets-<stamp>.csv`...), replaces the copies of the report and its provenance
//! with their latest state, and writes the manifest again, once the old one still
//! verifies (evidence touched since is refused, never blessed). A missing report scope (403) for the activity
//! report is a warning kept in `WARNINGS.txt`, not a failure: the rotation matters more
//! than its paperwork. Nothing here holds a password or a token: the listing rows, Zoom's
//! activity records and the report carry none.

use std::collections::{BTreeMap, HashSet};
use std::io::{Read, Write};
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

use sha2::{Digest, Sha256};

use crate::commands::users::fetch::{each_page, Endpoint, PageError, Pager, Walk};
use crate::commands::users::rows::{Sink, UserRow};
use crate::ledger::files::create_private;

pub const MANIFEST: &str = "SHA256SUMS";
pub const TARGETS: &str = "targets";
pub const ACTIVITIES: &str = "activities";
pub const WARNINGS: &str = "WARNINGS.txt";
pub const SUMMARY: &str = "summary";

const DAY: Duration = Duration::from_secs(86_400);
/// Days per activity request: Zoom serves one month per request.
const DAYS_PER_REQUEST: u64 = 30;

/// An evidence folder being filled.
#[derive(Debug)]
pub struct Evidence {
    dir: PathBuf,
    warnings: Vec<String>,
    /// This run's start (`20261206T101500Z`): the suffix of the files it adds.
    stamp: String,
}

/// What became of the activity report.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Activities {
    pub records: u64,
    /// Why the records are missing or partial (a missing scope, a failure), if they are.
    pub warning: Option<String>,
}

/// A manifest that does not match the folder.
#[derive(Debug, thiserror::Error)]
pub enum VerifyError {
    #[error("cannot read {path}: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{MANIFEST} line {line} is not `<sha256>  <file>`")]
    BadLine { line: usize },
    #[error("{file}: the SHA-256 does not match the manifest (changed after the run)")]
    Mismatch { file: String },
    #[error("{file} is in the folder but not in the manifest (added after the run)")]
    Unlisted { file: String },
}

fn io_err(path: &Path) -> impl FnOnce(std::io::Error) -> VerifyError + '_ {
    move |source| VerifyError::Io {
        path: path.to_path_buf(),
        source,
    }
}

/// The SHA-256 of a file, in lower-case hex.
pub fn sha256_file(path: &Path) -> std::io::Result<String> {
    let mut file = std::fs::File::open(path)?;
    let mut hasher = Sha256::new();
    let mut buf = vec![0u8; 64 * 1024];
    loop {
        let n = file.read(&mut buf)?;
        if n == 0 {
            break;
        }
        hasher.update(&buf[..n]);
    }
    Ok(hasher
        .finalize()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect())
}

/// `yyyy-mm-dd` of `t` (UTC).
fn day(t: SystemTime) -> String {
    humantime::format_rfc3339_seconds(t).to_string()[..10].to_string()
}

impl Evidence {
    /// Creates `dir` (0700), or takes an existing empty directory, or (`resuming`) one
    /// whose manifest verifies; refuses anything else.
    pub fn create(dir: &Path, resuming: bool, now: SystemTime) -> anyhow::Result<Evidence> {
        match std::fs::read_dir(dir) {
            Ok(mut entries) => {
                if entries.next().is_some() && !resuming {
                    anyhow::bail!("evidence folder {} is not empty: evidence is never mixed with an earlier run's; choose a new folder (a --resume adds to its own run's folder)", dir.display());
                }
                if dir.join(MANIFEST).exists() {
                    verify(dir).map_err(|e| anyhow::anyhow!("evidence folder {}: {e}; it was changed since its run, so this run will not add to it: choose a new folder", dir.display()))?;
                }
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                std::fs::DirBuilder::new()
                    .recursive(true)
                    .mode(0o700)
                    .create(dir)
                    .map_err(|e| {
                        anyhow::anyhow!("cannot create evidence folder {}: {e}", dir.display())
                    })?;
            }
            Err(e) => anyhow::bail!("evidence folder {}: {e}", dir.display()),
        }
        std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o700))?;
        let stamp = humantime::format_rfc3339_seconds(now)
            .to_string()
            .replace(['-', ':'], "");
        Ok(Evidence {
            dir: dir.to_path_buf(),
            warnings: Vec::new(),
            stamp,
        })
    }

    /// `<base>-<stamp>.<ext>`: a name of this run's.
    fn named(&self, base: &str, ext: &str) -> PathBuf {
        self.dir.join(format!("{base}-{}.{ext}", self.stamp))
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// The warnings recorded so far (they go to `WARNINGS.txt` at [`Evidence::finish`]).
    pub fn warnings(&self) -> &[String] {
        &self.warnings
    }

    /// Records a warning for the folder (and logs it).
    pub fn warn(&mut self, warning: impl Into<String>) {
        let w = warning.into();
        tracing::warn!("evidence: {w}");
        self.warnings.push(w);
    }

    /// Saves what Zoom knew of each target before anything was sent: the listing rows,
    /// in the `users` command's CSV.
    pub fn save_targets(&mut self, rows: &[UserRow]) -> anyhow::Result<PathBuf> {
        let path = self.named(TARGETS, "csv");
        let mut sink = Sink::new(Box::new(create_private(&path)?), false)?;
        for row in rows {
            sink.write(row)?;
        }
        sink.flush()?;
        Ok(path)
    }

    /// Saves the sign-in/sign-out records of `from..=to` (whole UTC days) from
    /// `GET /report/activities` (a Heavy call: give `pager` a limiter at the Heavy rate),
    /// one month per request. A refusal or failure is a warning, never an error; only a
    /// local write failure is.
    pub async fn save_activities(
        &mut self,
        pager: &Pager<'_>,
        from: SystemTime,
        to: SystemTime,
    ) -> anyhow::Result<Activities> {
        let path = self.named(ACTIVITIES, "jsonl");
        let mut out = std::io::BufWriter::new(create_private(&path)?);
        let (mut records, mut seen) = (0u64, HashSet::new());
        let mut start = from;
        while start <= to {
            let end = start
                .checked_add(DAY * (DAYS_PER_REQUEST as u32 - 1))
                .map_or(to, |e| e.min(to));
            let endpoint = Endpoint::Activities {
                from: day(start),
                to: day(end),
            };
            let walked = each_page(pager, &endpoint, |page| {
                let logs = page.get("activity_logs").and_then(|l| l.as_array());
                for log in logs.into_iter().flatten() {
                    let line = log.to_string();
                    // A restart after an expired page token serves records again.
                    if seen.insert(line.clone()) {
                        writeln!(out, "{line}")?;
                        records += 1;
                    }
                }
                Ok::<(), std::io::Error>(())
            })
            .await;
            match walked {
                Ok(()) => {}
                Err(Walk::Sink(e)) => return Err(e.into()),
                Err(Walk::Page(e)) => {
                    out.flush()?;
                    let warning = activity_warning(&e, &endpoint);
                    self.warn(warning.clone());
                    return Ok(Activities {
                        records,
                        warning: Some(warning),
                    });
                }
            }
            start = match end.checked_add(DAY) {
                Some(next) => next,
                None => break,
            };
        }
        out.flush()?;
        Ok(Activities {
            records,
            warning: None,
        })
    }

    /// Copies the report and its provenance (`<report>.meta`, when there is one) in, in
    /// their latest state, writes the summary, then `WARNINGS.txt` (when there are
    /// warnings) and last `SHA256SUMS` over every file, and syncs the folder. Returns
    /// the manifest's path.
    pub fn finish(self, report: &Path, meta: &Path, summary_json: &str) -> anyhow::Result<PathBuf> {
        let ext = if report.extension().is_some_and(|e| e == "jsonl") {
            "jsonl"
        } else {
            "csv"
        };
        self.copy_in(report, &format!("report.{ext}"))?;
        if meta.exists() {
            self.copy_in(meta, &format!("report.{ext}.meta"))?;
        }
        let mut summary = create_private(&self.named(SUMMARY, "json"))?;
        summary.write_all(summary_json.as_bytes())?;
        if !summary_json.ends_with('\n') {
            summary.write_all(b"\n")?;
        }
        summary.sync_all()?;
        if !self.warnings.is_empty() {
            let mut w = std::fs::OpenOptions::new()
                .append(true)
                .create(true)
                .mode(0o600)
                .open(self.dir.join(WARNINGS))?;
            for line in &self.warnings {
                writeln!(w, "{}", line.replace('\n', " "))?;
            }
            w.sync_all()?;
        }
        let manifest = write_manifest(&self.dir)?;
        std::fs::File::open(&self.dir)?.sync_all()?;
        Ok(manifest)
    }

    /// Copies `from` in as `name`, replacing an earlier run's copy (through a private
    /// temporary file and a rename, so the folder never holds half a copy).
    fn copy_in(&self, from: &Path, name: &str) -> anyhow::Result<()> {
        let to = self.dir.join(name);
        let tmp = self.dir.join(format!(".{name}.tmp"));
        let _ = std::fs::remove_file(&tmp);
        let mut copy = create_private(&tmp)?;
        std::io::copy(&mut std::fs::File::open(from)?, &mut copy)?;
        copy.sync_all()?;
        std::fs::rename(&tmp, &to)?;
        Ok(())
    }
}

/// The warning for an activity report that could not be read.
fn activity_warning(e: &PageError, endpoint: &Endpoint) -> String {
    let window = match endpoint {
        Endpoint::Activities { from, to } => format!("{from} to {to}"),
        _ => String::new(),
    };
    match e {
        PageError::Refused { status: 403, .. } => format!("the sign-in activity report ({window}) was not saved: the app lacks the report scope (report:read:admin): {e}"),
        _ => format!("the sign-in activity report ({window}) is missing or partial: {e}"),
    }
}

/// The files of `dir` a manifest covers: every regular file but the manifest, by name.
fn files(dir: &Path) -> std::io::Result<Vec<String>> {
    let mut names = Vec::new();
    for entry in std::fs::read_dir(dir)? {
        let entry = entry?;
        let name = entry.file_name().to_string_lossy().into_owned();
        if name != MANIFEST {
            names.push(name);
        }
    }
    names.sort();
    Ok(names)
}

/// Writes `MANIFEST.sha256`: `<hex>  <name>` a line, sorted, as `sha256sum` writes it.
fn write_manifest(dir: &Path) -> anyhow::Result<PathBuf> {
    let mut text = String::new();
    for name in files(dir)? {
        if name.contains(['\n', '\\']) {
            anyhow::bail!("{name:?} in the evidence folder cannot be named in a manifest");
        }
        text += &format!("{}  {name}\n", sha256_file(&dir.join(&name))?);
    }
    let path = dir.join(MANIFEST);
    let tmp = dir.join(format!(".{MANIFEST}.tmp"));
    let _ = std::fs::remove_file(&tmp);
    let mut f = create_private(&tmp)?;
    f.write_all(text.as_bytes())?;
    f.sync_all()?;
    std::fs::rename(&tmp, &path)?;
    Ok(path)
}

/// `zoom-rotate evidence verify DIR`: each file checked on stdout as `sha256sum -c`
/// says it (`name: OK`), or why the folder does not verify on stderr; exit 0 or 1.
pub fn verify_command(dir: &Path) -> crate::vocab::Exit {
    match verify(dir) {
        Ok(names) => {
            let mut out = String::new();
            for name in &names {
                out += &format!("{name}: OK\n");
            }
            out += &format!(
                "{}: {} files verified against {MANIFEST}\n",
                dir.display(),
                names.len()
            );
            let _ = crate::output::summary::to_stdout(&out);
            crate::vocab::Exit::Done
        }
        Err(e) => {
            eprintln!(
                "zoom-rotate: evidence {} does not verify: {e}",
                dir.display()
            );
            crate::vocab::Exit::Unfinished
        }
    }
}

/// Checks an evidence folder against its manifest: every listed file has its hash, and
/// no file is unlisted. Returns the names verified.
pub fn verify(dir: &Path) -> Result<Vec<String>, VerifyError> {
    let manifest = dir.join(MANIFEST);
    let text = std::fs::read_to_string(&manifest).map_err(io_err(&manifest))?;
    let mut listed = BTreeMap::new();
    for (i, line) in text.lines().enumerate() {
        let (hash, name) = line
            .split_once("  ")
            .filter(|(h, n)| h.len() == 64 && !n.is_empty() && !n.contains('/'))
            .ok_or(VerifyError::BadLine { line: i + 1 })?;
        listed.insert(name.to_string(), hash.to_ascii_lowercase());
    }
    for (name, hash) in &listed {
        let path = dir.join(name);
        if sha256_file(&path).map_err(io_err(&path))? != *hash {
            return Err(VerifyError::Mismatch { file: name.clone() });
        }
    }
    for name in files(dir).map_err(io_err(dir))? {
        if !listed.contains_key(&name) {
            return Err(VerifyError::Unlisted { file: name });
        }
    }
    Ok(listed.into_keys().collect())
}

#[cfg(test)]
mod unit {
    use super::*;

    #[test]
    fn sha256_of_a_known_text() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("abc");
        std::fs::write(&p, "abc").unwrap();
        assert_eq!(
            sha256_file(&p).unwrap(),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
    }

    #[test]
    fn days() {
        let t = humantime::parse_rfc3339("2026-11-30T23:59:59Z").unwrap();
        assert_eq!(day(t), "2026-11-30");
    }
}
