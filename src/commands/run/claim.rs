//! The report a run claims before it sends: what `--report` names is checked, the input
//! and report locks are taken, and on `--resume` the report (and the journal a crash
//! left) is read into the resume plan. A preview (`--resume --dry-run`) does the reading
//! only: no lock, no sidecar, no torn tail set aside (see `preview`).

use crate::ledger::files::{InputLock, ReportLock};
use crate::ledger::journal::{self, Record};
use crate::ledger::report;
use crate::ledger::resume::{self, Resume};
use crate::settings::Settings;
use crate::vocab::{RefusalCode, Refused};
use std::time::Duration;

/// The report a run writes, claimed: the locks it holds (their files go when this is
/// dropped, however the run ends) and whether it continues an existing report.
pub(super) struct Claim {
    _input: Option<InputLock>,
    /// `None` for a preview (`--resume --dry-run`): it writes nothing, so it leaves no
    /// lock file either, and needs none (it reads the report once, as it is).
    _report: Option<ReportLock>,
    pub(super) continuing: bool,
}

/// Checks what --report names before any lock or file is made (so a refused run leaves
/// nothing behind), then takes the input lock (first, so a run refused for the input
/// creates no report directory) and the report lock.
pub(super) fn claim_report(s: &Settings) -> anyhow::Result<Claim> {
    let continuing =
        resume::origin::check_report(&s.report, &s.input, s.resume, s.resume_or_start)?;
    // A dry run sends nothing, and each --simulate run has a simulator of its own: neither
    // can change a real user twice, so neither takes the input lock (the demo's fixture
    // may be run by many at once).
    let input = if s.dry_run || s.zoom.simulate {
        None
    } else {
        InputLock::acquire(&s.input, &s.report)?
    };
    let report = if s.dry_run && continuing {
        None
    } else {
        Some(ReportLock::acquire(&s.report)?)
    };
    if !s.resume && std::fs::symlink_metadata(&s.report).is_ok() {
        return Err(Refused::new(
            RefusalCode::ReportExists,
            format!(
                "report {} already exists and is never overwritten: pass --resume to continue it, or choose another --report",
                s.report.display()
            ),
        )
        .into());
    }
    Ok(Claim {
        _input: input,
        _report: report,
        continuing,
    })
}

/// What `--resume` found in a report and the journal a crash left: the plan, the rows
/// to carry into the new journal, and how long the rows in flight at the crash must wait
/// before they are sent again (`None`: they need not).
pub(super) fn load_resume(
    s: &Settings,
    journal_path: &std::path::Path,
) -> anyhow::Result<(Resume, Vec<Record>, Option<Duration>)> {
    let preview = s.dry_run;
    resume::origin::verify(&s.report, &s.input, preview)?;
    let previous = journal::read(journal_path)?;
    let crashed = previous.is_some();
    let text = if preview {
        read_as_is(&s.report, crashed)?
    } else {
        // Before the report is read or appended to: a torn last row would swallow the next.
        report::tail::set_aside_torn(&s.report, crashed)?.0
    };
    let now = std::time::SystemTime::now();
    let (resume, found) = Resume::load_bytes(&s.report, &text, previous.as_ref(), now)?;
    tracing::info!(
        rows = found.rows,
        final_users = found.done,
        waiting_24h = found.waiting_24h,
        in_flight = found.in_flight.len(),
        in_flight_users = (!found.in_flight.is_empty()).then(|| in_flight_users(&found.in_flight)),
        "resuming"
    );
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
    Ok((resume, found.in_flight, wait))
}

/// The report's whole rows, for a preview: a torn tail is left where it is (a real
/// resume moves it aside) and read as absent, as a real resume would; a last row without
/// its line end is read as a row, as a real resume would after ending it.
fn read_as_is(report_path: &std::path::Path, crashed: bool) -> anyhow::Result<Vec<u8>> {
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
