//! The plan line and the prompt, before anything is sent: how many rows this run sends,
//! at what rate, for how long, to which account, under which config, and (on a terminal,
//! above `[run] confirm_above` rows) the operator's yes. On `--resume` the count is of
//! the rows the resume sends, not of the whole file (`preview::count`), so the plan, the
//! prompt and the progress bar describe this run. The job's limiters are made here too:
//! the Medium one every request paces through, and with `--contain-sso` the Light one of
//! the revokes, both from the plan and the job's share of it.

use super::{confirm, preview};
use crate::ledger::resume::Resume;
use crate::output::summary;
use crate::pipeline::input;
use crate::pipeline::limiter::Limiter;
use crate::pipeline::workers::Containment;
use crate::settings::{Settings, ZoomSettings};
use crate::vocab::stop::Stop;
use crate::zoom::plan::{light_per_day, light_per_second, light_rate};
use std::sync::Arc;

/// What the plan counted.
pub(super) struct Planned {
    /// Data rows in the input (`None`: standard input, counted as it goes).
    pub records: Option<u64>,
    /// The rows that get a report row in this run (sent or refused, not skipped): the
    /// progress bar's length.
    pub report_rows: Option<u64>,
}

/// Counts (`counted`: the rows the encoding check already counted, if it read the whole
/// input), logs the plan and asks for confirmation; `Err` (exit 2) when refused.
pub(super) async fn announce(
    s: &Settings,
    counted: Option<u64>,
    continuing: bool,
    resume: &Resume,
    stop: &Stop,
) -> anyhow::Result<Planned> {
    let counts = if continuing {
        preview::count(s, resume, stop).await?
    } else {
        None
    };
    let records = match &counts {
        Some(c) => Some(c.records),
        None if continuing => None,
        None => counted.or_else(|| input::count_records(&s.input)),
    };
    let to_send = counts.as_ref().map_or(records, |c| Some(c.send));
    if let Some(rows) = to_send {
        log_plan(s, rows);
        confirm::confirm(rows, s)?;
    }
    Ok(Planned {
        records,
        report_rows: counts.as_ref().map_or(records, |c| Some(c.report_rows())),
    })
}

/// The plan line: one event, its words and its fields.
fn log_plan(s: &Settings, rows: u64) {
    let z = &s.zoom;
    let daily = if z.rate > z.plan.medium_per_second() as f64 {
        None
    } else {
        z.plan.medium_per_day()
    };
    tracing::info!(
        rows,
        rate = z.rate,
        plan = z.plan.name(),
        budget_share = z.share,
        dry_run = s.dry_run,
        offline = s.offline,
        report = %s.report.display(),
        config = %z.config_name(),
        "plan: {}; {}{}",
        summary::estimate(rows, z.rate, daily),
        crate::pipeline::limiter::share::describe(z.plan, z.rate),
        dry_run_words(s)
    );
}

/// What a dry run does, for the plan line: an offline one asks Zoom nothing; any other
/// asks what the real run would, and sends no password.
fn dry_run_words(s: &Settings) -> &'static str {
    match (s.dry_run, s.offline) {
        (false, _) => "",
        (true, false) => " (dry run: no password is sent)",
        (true, true) => " (offline dry run: nothing is sent, Zoom is not asked; only Zoom's basic password rules are checked)",
    }
}

/// The job's one limiter, at its rate under the plan's Medium budget (a dry run's reads
/// go through it too).
pub(super) fn job_limiter(z: &ZoomSettings) -> Arc<Limiter> {
    Arc::new(Limiter::for_job(
        z.rate,
        f64::from(z.plan.medium_per_second()),
        z.plan.medium_per_day().is_some(),
    ))
}

/// With `--contain-sso`: the revokes' own limiter, at the plan's Light rate scaled by the
/// share of the Medium budget the job takes (`zoom::plan::light_rate`).
pub(super) fn containment(s: &Settings) -> Option<Containment> {
    let z = &s.zoom;
    s.contain_sso.then(|| {
        let light = Limiter::for_job(
            light_rate(z.plan, z.rate),
            f64::from(light_per_second(z.plan)),
            light_per_day(z.plan).is_some(),
        );
        Containment::new(Arc::new(light))
    })
}
