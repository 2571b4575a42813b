//! `run --evidence DIR`: the run's side of the evidence folder (`commands::evidence`).
//! [`before`] runs once everything that can refuse the run has passed and before the
//! first password leaves: it opens the folder (a `--resume` adds to its own), saves the
//! targets as Zoom lists them (`users::lookup` of the input's users) and, with the report
//! scope, the sign-in activity report of `--since` days. [`after`] copies in the report
//! and its provenance, writes the summary and last the manifest.
//!
//! Zoom's answers here (a listing refused, a missing report scope) are warnings written
//! into the folder, never a refusal: the rotation matters more than its paperwork. Only a
//! folder that cannot be written (or that was touched since its run) refuses the run,
//! exit 2, before anything is sent. The folder holds no secret: the listing rows, Zoom's
//! activity records, the report and its sidecar carry no password and no token.

use crate::commands::evidence::Evidence;
use crate::commands::users::fetch::Pager;
use crate::ledger::side;
use crate::pipeline::checks::Checker;
use crate::pipeline::input::{self, ReadCut};
use crate::pipeline::limiter::Limiter;
use crate::pipeline::workers::Pool;
use crate::settings::Settings;
use crate::vocab::stop::Stop;
use crate::vocab::Item;
use crate::zoom::plan::{heavy_per_second, MIN_RATE};
use crate::zoom::rules::PasswordPolicy;
use std::collections::HashSet;
use std::path::PathBuf;
use std::time::SystemTime;

/// Opens the folder and saves what Zoom knew before anything is sent.
pub(super) async fn before(
    s: &Settings,
    pool: &Pool,
    limiter: &Limiter,
    stop: &Stop,
) -> anyhow::Result<Option<Evidence>> {
    let Some(e) = &s.evidence else {
        return Ok(None);
    };
    let now = SystemTime::now();
    let mut ev = Evidence::create(&e.dir, s.resume, now)?;
    let pager = |limiter| Pager {
        client: &pool.client,
        http: &pool.http,
        auth: &pool.auth,
        limiter,
        retry: s.zoom.retry,
        stop,
    };
    match users_of(s).await {
        Ok(wanted) => match crate::commands::users::lookup(&pager(limiter), &wanted).await {
            Ok(rows) => {
                ev.save_targets(&rows)?;
                let missing = wanted.len().saturating_sub(rows.len());
                if missing > 0 {
                    ev.warn(format!("{missing} of the input's {} users are not in Zoom's listing (the run reports them user_not_found, or they are duplicates)", wanted.len()));
                }
            }
            Err(err) => ev.warn(format!("the targets' listing rows were not saved: {err}")),
        },
        Err(why) => ev.warn(format!("the targets' listing rows were not saved: {why}")),
    }
    // The activity report is Heavy: its own pace, at the plan's Heavy rate scaled as the
    // job's Medium rate is.
    let plan = s.zoom.plan;
    let share = (s.zoom.rate / f64::from(plan.medium_per_second())).min(1.0);
    let heavy = Limiter::new((f64::from(heavy_per_second(plan)) * share).max(MIN_RATE));
    let from = now.checked_sub(e.since).unwrap_or(SystemTime::UNIX_EPOCH);
    let saved = ev.save_activities(&pager(&heavy), from, now).await?;
    tracing::info!(
        dir = %e.dir.display(),
        activity_records = saved.records,
        "evidence: targets and sign-in activity saved before anything is sent"
    );
    Ok(Some(ev))
}

/// The input's users, read in a pass of their own (the run's pass streams them into the
/// pipeline, after the folder must already hold them). Standard input cannot be read
/// twice.
async fn users_of(s: &Settings) -> Result<HashSet<String>, String> {
    if s.input.as_os_str() == "-" {
        return Err("the input is standard input, which cannot be read twice".into());
    }
    let (source, user, password) = (
        s.input.clone(),
        s.user_column.clone(),
        s.password_column.clone(),
    );
    let generate = s.generate.as_ref().map(|g| g.length);
    let max = s.max_field_bytes;
    let read = tokio::task::spawn_blocking(move || {
        let input = input::open(
            &source,
            user.as_deref(),
            &password,
            generate.is_some(),
            &ReadCut::new(),
        )
        .map_err(|e| e.to_string())?;
        let generator = generate.map(crate::pipeline::generate::Generator::new);
        // The rules do not matter here: a refused row's user is a target all the same.
        let checker = Checker::new(PasswordPolicy::default(), max, generator);
        let (tx, mut rx) = tokio::sync::mpsc::channel(1024);
        let reader = std::thread::spawn(move || input.stream(checker, tx));
        let mut users = HashSet::new();
        while let Some(item) = rx.blocking_recv() {
            users.insert(match item {
                Item::Send(job) => job.user_id,
                Item::Refused(r) => r.user_id,
            });
        }
        let _ = reader.join();
        users.remove("");
        Ok::<_, String>(users)
    });
    read.await.map_err(|e| e.to_string())?
}

/// Copies the report and its provenance in, writes the summary, then the manifest.
pub(super) fn after(
    s: &Settings,
    ev: Option<Evidence>,
    summary: &serde_json::Value,
) -> anyhow::Result<Option<PathBuf>> {
    let Some(ev) = ev else {
        return Ok(None);
    };
    let json = serde_json::to_string_pretty(summary)?;
    let manifest = ev.finish(&s.report, &side::meta(&s.report), &json)?;
    tracing::info!(manifest = %manifest.display(), "evidence: written and synced; check it with `sha256sum -c SHA256SUMS` in its folder, or `zoom-rotate evidence verify`");
    Ok(Some(manifest))
}
