//! The report a run claims before it sends: what `--report` names is checked, the input
//! and report locks are taken (a default name numbered when another run has it), and on
//! `--resume` the report's provenance is checked against where this run sends (a
//! simulation's report is not a real run's, an old campaign's is not today's: see
//! `ledger::resume::provenance`), then the report (and the journal a crash left) is read
//! into the resume plan. A preview (`--resume --dry-run`) does the checks and the
//! reading only: no lock, no sidecar, no torn tail set aside (see `preview`).

use crate::commands::target::Target;
use crate::ledger::files::{Disk, InputLock, ReportLock};
use crate::ledger::journal::{self, Record};
use crate::ledger::resume::provenance::{self, Destination, Provenance};
use crate::ledger::resume::{self, Found, Resume};
use crate::ledger::{report, side};
use crate::settings::Settings;
use crate::vocab::{RefusalCode, Refused};
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

/// The report a run writes, claimed: the locks it holds (their files go when this is
/// dropped, however the run ends), the report's path (the default name numbered when
/// another run took it) and whether it continues an existing report.
pub(super) struct Claim {
    _input: Option<InputLock>,
    /// `None` for a preview (`--resume --dry-run`): it writes nothing, so it leaves no
    /// lock file either, and needs none (it reads the report once, as it is).
    _report: Option<ReportLock>,
    pub(super) report: PathBuf,
    pub(super) continuing: bool,
    /// Where this run sends, as known before it sends.
    dest: Destination,
    /// When the claim was made: a new report's first run's start.
    started: SystemTime,
}

/// Claims the report for `s` (numbering a default name: `s.report` becomes the name
/// taken) and, on `--resume`, checks and reads it.
pub(super) fn claim(
    s: &mut Settings,
    target: &Target,
    disk: &Disk,
) -> anyhow::Result<(Claim, Loaded)> {
    let started = SystemTime::now();
    let claim = claim_report(s, destination(s, target), started)?;
    s.report.clone_from(&claim.report);
    let loaded = if claim.continuing {
        load_resume(s, &side::journal(&s.report), &claim.dest, disk)?
    } else {
        Loaded::default()
    };
    Ok((claim, loaded))
}

impl Claim {
    /// The provenance to record beside the report: `recorded` (the first run's) when
    /// there is one, else this run's, sending to the API base `base` it ended up with.
    pub(super) fn provenance(&self, recorded: Option<Provenance>, base: &str) -> Provenance {
        recorded.unwrap_or_else(|| {
            let host = url::Url::parse(base)
                .ok()
                .and_then(|u| u.host_str().map(String::from))
                .unwrap_or_else(|| self.dest.host.clone());
            self.dest.provenance(&host, self.started, self.continuing)
        })
    }
}

/// Checks what --report names before any lock or file is made (so a refused run leaves
/// nothing behind), then takes the input lock (first, so a run refused for the input
/// creates no report directory) and the report lock.
fn claim_report(s: &Settings, dest: Destination, started: SystemTime) -> anyhow::Result<Claim> {
    let continuing =
        resume::origin::check_report(&s.report, &s.input, s.resume, s.resume_or_start)?;
    // The default name's first free number: the one the input lock's hint names.
    let first_free = if s.report_given {
        s.report.clone()
    } else {
        next_free(&s.report, 1).1
    };
    // A dry run sends nothing, and each --simulate run has a simulator of its own: neither
    // can change a real user twice, so neither takes the input lock (the demo's fixture
    // may be run by many at once).
    let input = if s.dry_run || s.zoom.simulate {
        None
    } else {
        InputLock::acquire(&s.input, &first_free)?
    };
    if s.dry_run && continuing {
        return Ok(Claim {
            _input: input,
            _report: None,
            report: s.report.clone(),
            continuing,
            dest,
            started,
        });
    }
    let (report, lock) = if s.report_given {
        (s.report.clone(), ReportLock::acquire(&s.report)?)
    } else {
        default_named(&s.report)?
    };
    if !s.resume && std::fs::symlink_metadata(&report).is_ok() {
        return Err(Refused::new(RefusalCode::ReportExists, exists_message(&report)).into());
    }
    Ok(Claim {
        _input: input,
        _report: Some(lock),
        report,
        continuing,
        dest,
        started,
    })
}

/// Why an existing report is refused, and the two ways on: `--resume` when it is this
/// campaign's, or a new dated path when it is not (a path shared by two campaigns lets
/// the second's `--resume` take the first's rows as done).
fn exists_message(report: &Path) -> String {
    let dated = side::dated(report, std::time::SystemTime::now());
    format!(
        "report {} already exists and is never overwritten: pass --resume to continue it if it is this campaign's, or start a new report at a dated path, e.g. --report {}",
        report.display(),
        dated.display()
    )
}

/// The first of `path`'s numbers from `from` on (`path`, `path-2`…) that names nothing.
fn next_free(path: &Path, from: u32) -> (u32, PathBuf) {
    (from..u32::MAX)
        .map(|n| (n, side::numbered(path, n)))
        .find(|(_, p)| std::fs::symlink_metadata(p).is_err())
        .unwrap_or((from, path.to_path_buf()))
}

/// The default report name, this run's alone: another run that started in the same
/// second holds it (its lock) or has written it (the report), so this one takes the next
/// free number instead of being told to `--resume` a report it never wrote.
fn default_named(path: &Path) -> anyhow::Result<(PathBuf, ReportLock)> {
    const TRIES: u32 = 1000;
    let mut n = 1;
    for _ in 0..TRIES {
        let (at, candidate) = next_free(path, n);
        n = at + 1;
        match ReportLock::acquire(&candidate) {
            // Under the lock, the report must still be missing (a run may have written
            // it and gone between our look and our lock).
            Ok(lock) if std::fs::symlink_metadata(&candidate).is_err() => {
                return Ok((candidate, lock))
            }
            Ok(_) => continue,
            Err(e)
                if e.downcast_ref::<Refused>()
                    .is_some_and(|r| r.code == RefusalCode::ReportLocked) =>
            {
                continue
            }
            Err(e) => return Err(e),
        }
    }
    anyhow::bail!(
        "no free report name beside {} after {TRIES} tries; pass --report",
        path.display()
    )
}

/// What `--resume` found in a report and the journal a crash left: the plan, the rows
/// to carry into the new journal, how long the rows in flight at the crash must wait
/// before they are sent again (`None`: they need not), and the report's provenance
/// (`None`: an older version's report, or a new one).
#[derive(Default)]
pub(super) struct Loaded {
    pub(super) resume: Resume,
    pub(super) carried: Vec<Record>,
    /// Rows whose revoke a crashed run saw answered, unreported: carried as well.
    pub(super) revoked: Vec<Record>,
    pub(super) wait: Option<Duration>,
    pub(super) provenance: Option<Provenance>,
}

/// Where this run is about to send, before it sends anything: what a report's
/// provenance is checked against (and, for a new report, recorded from).
fn destination(s: &Settings, target: &Target) -> Destination {
    let url = target.base_url.as_ref().unwrap_or(&target.token_url);
    Destination {
        simulated: s.zoom.simulate,
        host: url.host_str().unwrap_or_default().to_string(),
        account: target.creds.account_id.clone(),
    }
}

/// Reads the report (and the journal) to resume, after refusing, before anything is
/// read, moved or sent: a report of another input, of another target, or too old.
/// A torn tail is set aside through the run's `disk`.
fn load_resume(
    s: &Settings,
    journal_path: &Path,
    dest: &Destination,
    disk: &Disk,
) -> anyhow::Result<Loaded> {
    let preview = s.dry_run;
    resume::origin::verify(&s.report, &s.input, preview)?;
    let now = SystemTime::now();
    let provenance = resume::origin::provenance(&s.report)?;
    let first_age = match &provenance {
        Some(p) => Some(check_provenance(s, p, dest, now)?),
        None => None,
    };
    let previous = journal::read(journal_path)?;
    let crashed = previous.is_some();
    let text = if preview {
        read_as_is(&s.report, crashed)?
    } else {
        // Before the report is read or appended to: a torn last row would swallow the next.
        report::tail::set_aside_torn(&s.report, crashed, disk)?.0
    };
    let (resume, found) = Resume::load_bytes(&s.report, &text, previous.as_ref(), now)?;
    log_found(s, &found, provenance.is_none(), first_age, now);
    let wait = match &previous {
        Some(prev) if !found.in_flight.is_empty() => {
            let longest = prev
                .timeout
                .unwrap_or(s.zoom.timeout)
                .min(journal::MAX_TIMEOUT);
            crate::pipeline::hold::wait_for(prev.requests_over_at(s.zoom.timeout), now, longest)
        }
        _ => None,
    };
    if let (Some(w), true) = (wait, preview) {
        tracing::info!(
            users = found.in_flight.len(),
            wait_secs = w.as_secs_f64(),
            "the previous run died with requests on the wire: a resume now would send its users again last, once those requests have timed out"
        );
    } else if let Some(w) = wait {
        tracing::warn!(
            users = found.in_flight.len(),
            wait_secs = w.as_secs_f64(),
            "the previous run died with requests on the wire: its users are sent again last, once those requests have timed out"
        );
    }
    Ok(Loaded {
        resume,
        carried: found.in_flight,
        revoked: found.revoked,
        wait,
        provenance,
    })
}

/// Refuses a report written for another target or too old (see `provenance`), and
/// returns how long ago its first run started. A preview sends nothing: it says, as a
/// warning, that a real resume with these flags would be refused, and goes on to show
/// what the report holds.
fn check_provenance(
    s: &Settings,
    recorded: &Provenance,
    dest: &Destination,
    now: SystemTime,
) -> anyhow::Result<Duration> {
    let first = recorded.first_started(&side::meta(&s.report))?;
    let checked = provenance::check_target(&s.report, recorded, dest)
        .and_then(|()| provenance::check_age(&s.report, first, s.max_report_age, now));
    match checked {
        Ok(age) => Ok(age),
        Err(refused) if s.dry_run => {
            tracing::warn!("a real --resume with these flags would be refused (exit 2): {refused}");
            Ok(now.duration_since(first).unwrap_or_default())
        }
        Err(refused) => Err(refused.into()),
    }
}

/// The resume's log line: what the report holds, how old the rows it skips are and
/// when its first run started; for an older version's report (`legacy`: no provenance),
/// a warning with the age of its oldest row, since nothing else says whose campaign it
/// was.
fn log_found(
    s: &Settings,
    found: &Found,
    legacy: bool,
    first_age: Option<Duration>,
    now: SystemTime,
) {
    let age = |t: SystemTime| provenance::ago(now.duration_since(t).unwrap_or_default());
    tracing::info!(
        rows = found.rows,
        final_users = found.done,
        waiting_24h = found.waiting_24h,
        in_flight = found.in_flight.len(),
        in_flight_users = (!found.in_flight.is_empty()).then(|| in_flight_users(&found.in_flight)),
        skipped_rows_age = found.skipped_span.map(|(oldest, newest)| format!(
            "{} to {} old",
            age(oldest),
            age(newest)
        )),
        first_run_started = first_age.map(|a| format!("{} ago", provenance::ago(a))),
        "resuming"
    );
    if legacy && !s.dry_run {
        tracing::warn!(
            report = %s.report.display(),
            oldest_row_age = found.oldest_row.map(age),
            "the report records nothing of what it was written for (simulated or real, host, account, first run: an older version wrote it); accepted, and this run's target is recorded from now on. If its rows are another campaign's, stop and start a new report"
        );
    } else if legacy {
        tracing::warn!(
            report = %s.report.display(),
            oldest_row_age = found.oldest_row.map(age),
            "the report records nothing of what it was written for (an older version wrote it); a real --resume accepts it and records this run's target"
        );
    }
}

/// The report's whole rows, for a preview: a torn tail is left where it is (a real
/// resume moves it aside) and read as absent, as a real resume would; a last row without
/// its line end is read as a row, as a real resume would after ending it.
fn read_as_is(report_path: &Path, crashed: bool) -> anyhow::Result<Vec<u8>> {
    use report::tail::Settle;
    let mut bytes = crate::ledger::files::read_private(report_path)?.ok_or_else(|| {
        anyhow::anyhow!(
            "cannot read report {}: it does not exist",
            report_path.display()
        )
    })?;
    match report::tail::settle_plan(report_path, &bytes, crashed)? {
        Settle::Whole | Settle::EndLine(_) => {}
        Settle::SetAside(whole) => {
            tracing::warn!(
                report = %report_path.display(),
                bytes = bytes.len() - whole,
                "the report ends inside a row; a real --resume moves that part to {} and retries that user; this preview reads the report without it",
                crate::ledger::side::torn(report_path).display()
            );
            bytes.truncate(whole);
        }
    }
    Ok(bytes)
}

/// The users in flight at a crash, for a log line: comma-separated, a line number where
/// the journal recorded no user, at most 20 named.
fn in_flight_users(records: &[Record]) -> String {
    const SHOWN: usize = 20;
    let mut names: Vec<String> = records
        .iter()
        .take(SHOWN)
        .map(|r| match &r.user {
            Some(u) => crate::vocab::printable(u),
            None => format!("line {}", r.line),
        })
        .collect();
    if records.len() > SHOWN {
        names.push(format!("and {} more", records.len() - SHOWN));
    }
    names.join(", ")
}
