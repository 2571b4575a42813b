//! One run, start to finish: settings → input header → report lock and resume state →
//! credentials and the account's rules → plan → the pipeline → summary and exit code.
//!
//! Everything that can refuse the run (bad settings, an unreadable input, a report that
//! exists, refused credentials) does so before the first request, as an `Err` that `main`
//! turns into exit 2. Once rows flow, nothing aborts the batch: each row ends as a report
//! row, and the exit code is decided from the tally and the stop reason at the end.

use crate::cli::{LogFormat, RunArgs};
use crate::ledger::journal::{self, Journal};
use crate::ledger::passwords::SavedPasswords;
use crate::ledger::report;
use crate::ledger::resume::{self, Resume};
use crate::output::summary::{self, Summary};
use crate::pipeline::checks::Checker;
use crate::pipeline::generate::Generator;
use crate::pipeline::input::{self, CHANNEL_DEPTH};
use crate::pipeline::limiter::Limiter;
use crate::pipeline::monitor::Monitor;
use crate::pipeline::workers::{self, Pool};
use crate::settings::{FileConfig, Settings};
use crate::simulator;
use crate::vocab::stop::{Stop, StopReason};
use crate::vocab::Tally;
use crate::zoom::auth::{Auth, Credentials};
use crate::zoom::client::{self, ZoomClient};
use crate::zoom::rules::PasswordPolicy;
use crate::zoom::url::{check_url, DEFAULT_BASE_URL};
use std::io::IsTerminal;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::sync::mpsc;

mod account;
mod claim;
mod confirm;
pub mod preview;

/// How a run ended, for `main` and for tests.
#[derive(Debug)]
pub struct RunResult {
    /// 0, 1 or 3 (2 is an `Err` before anything was attempted).
    pub exit_code: u8,
    pub tally: Tally,
    pub skipped: u64,
    pub report: PathBuf,
    pub stop: Option<StopReason>,
    pub elapsed: Duration,
}

/// Whom a command talks to: Zoom as the settings say, or (with `--simulate`) the built-in
/// simulator, started here on loopback, with its URLs and its credentials.
pub(crate) struct Target {
    pub sim: Option<simulator::SimHandle>,
    pub creds: Credentials,
    pub token_url: url::Url,
    pub base_url: Option<url::Url>,
}

impl Target {
    /// Starts the simulator when `simulate`, logging `banner` with its URL.
    pub async fn choose(
        s: &Settings,
        creds: Credentials,
        simulate: bool,
        banner: &str,
    ) -> anyhow::Result<Target> {
        if !simulate {
            return Ok(Target {
                sim: None,
                creds,
                token_url: s.token_url.clone(),
                base_url: s.base_url.clone(),
            });
        }
        let h = simulator::start(s.simulator.clone(), ([127, 0, 0, 1], 0).into()).await?;
        tracing::warn!(base_url = %h.base_url(), "{banner}");
        let c = h.config();
        let creds = Credentials::simulator(&c.account_id, &c.client_id, &c.client_secret);
        Ok(Target {
            creds,
            token_url: check_url("token_url", &h.token_url())?,
            base_url: Some(check_url("base_url", &h.base_url())?),
            sim: Some(h),
        })
    }
}

/// Loads config.toml, merges the command line, and runs. `argv` is only used to print
/// the resume command.
pub async fn run(
    args: &RunArgs,
    creds: Credentials,
    stop: Stop,
    argv: &[String],
) -> anyhow::Result<RunResult> {
    let file = FileConfig::load(args.config.as_deref())?;
    let settings = Settings::resolve(args, file)?;
    execute(settings, creds, stop, argv).await
}

pub async fn execute(
    s: Settings,
    creds: Credentials,
    stop: Stop,
    argv: &[String],
) -> anyhow::Result<RunResult> {
    let started = Instant::now();
    let Target {
        sim,
        creds,
        token_url,
        base_url,
    } = Target::choose(
        &s,
        creds,
        s.simulate && !s.dry_run,
        "SIMULATION: sending to the built-in Zoom simulator; no real account is touched",
    )
    .await?;

    let input = input::open(
        &s.input,
        s.user_column.as_deref(),
        &s.password_column,
        s.generate.is_some(),
    )?;
    let claim = claim::claim_report(&s)?;
    let continuing = claim.continuing;
    let journal_path = crate::ledger::side::journal(&s.report);
    let (resume, carried, wait) = if continuing {
        claim::load_resume(&s, &journal_path)?
    } else {
        (Resume::default(), Vec::new(), None)
    };

    // On --resume, only the rows this run sends: the plan, the prompt and the bar describe
    // this run, not the whole file (see `preview`).
    let counts = if continuing {
        preview::count(&s, &resume, &stop).await?
    } else {
        None
    };
    let records = match &counts {
        Some(c) => Some(c.records),
        None if continuing => None,
        None => input.counted.or_else(|| input::count_records(&s.input)),
    };
    let to_send = counts.as_ref().map_or(records, |c| Some(c.send));
    if let Some(rows) = to_send {
        let daily = if s.rate > s.plan.medium_per_second() as f64 {
            None
        } else {
            s.plan.medium_per_day()
        };
        tracing::info!(
            rows,
            rate = s.rate,
            plan = s.plan.name(),
            budget_share = s.share,
            dry_run = s.dry_run,
            report = %s.report.display(),
            config = %s.config_name(),
            "plan: {}; {}{}",
            summary::estimate(rows, s.rate, daily),
            crate::pipeline::limiter::share::describe(s.plan, s.rate),
            if s.dry_run { " (dry run: nothing is sent)" } else { "" }
        );
        confirm::confirm(rows, &s)?;
    }
    if s.dry_run && continuing {
        return preview::run(&s, input, resume, &stop, argv, started).await;
    }
    let http = client::http_client(s.timeout)?;
    let limiter = Arc::new(Limiter::for_job(
        s.rate,
        f64::from(s.plan.medium_per_second()),
        s.plan.medium_per_day().is_some(),
    ));
    let mut policy = PasswordPolicy::default();
    let mut auth = None;
    let mut base = base_url
        .map(|u| u.to_string())
        .unwrap_or_else(|| DEFAULT_BASE_URL.to_string());
    if !s.dry_run {
        let a = Auth::new(creds, token_url)?.token_timeout(s.timeout);
        let api_url = tokio::select! {
            started = a.start_with_backoff(&http, s.retry.base_delay, s.retry.max_delay) => started?,
            _ = stop.stopped() => anyhow::bail!("stopped while asking for the first token: nothing was sent"),
        };
        // An explicit base (flag, environment, config, the simulator) always wins; the
        // token's api_url is only a default, and only to one of Zoom's own hosts (or the
        // token endpoint's, as the simulator's is).
        if let Some(api_url) = api_url.filter(|_| s.base_url.is_none() && sim.is_none()) {
            match crate::zoom::auth::api_base(&api_url, &s.token_url) {
                Ok(url) => {
                    base = url.to_string();
                    tracing::info!("the account's API base: {base} (the token's api_url)");
                }
                Err(why) => tracing::warn!(
                    "the token's api_url {:?} {why}: not followed, keeping {base}",
                    crate::zoom::auth::endpoint::shown(&api_url)
                ),
            }
        }
        let a = Arc::new(a);
        if s.fetch_policy {
            policy = account::fetch_policy(&http, &a, &base, &limiter, &s, &stop).await?;
        }
        policy.validate_as_account()?;
        auth = Some(a);
    }
    if s.generate.as_ref().is_some_and(|g| g.out.is_none()) && !s.dry_run {
        tracing::warn!("--discard-passwords: the new passwords are kept nowhere; users recover through \"forgot password\"");
    }

    // On --resume, users the file already holds are sent their saved password again: an
    // earlier attempt may have applied it, and only the same password is safe to resend.
    let (saved, reuse) = match s.generate.as_ref().and_then(|g| g.out.as_ref()) {
        Some(path) if !s.dry_run && s.resume => {
            let (saved, reuse) = SavedPasswords::open_for_resume(path)?;
            (Some(saved), reuse)
        }
        Some(path) if !s.dry_run => (Some(SavedPasswords::create(path)?), Default::default()),
        _ => (None, Default::default()),
    };
    let writer = report::Writer::open(&s.report, continuing)?;
    if !continuing {
        resume::origin::record(&s.report, &s.input)?;
    }
    let journal = if s.dry_run {
        None
    } else {
        Some(Journal::start(
            &journal_path,
            report::len(&s.report),
            &carried,
            s.timeout,
        )?)
    };

    // The pipeline: reader → (bounded) → dispatcher/workers → (bounded) → monitor.
    let generator = s
        .generate
        .as_ref()
        .map(|g| Generator::new(g.length).reusing(reuse));
    let checker =
        Checker::new(policy, s.max_field_bytes, generator).expecting(records.unwrap_or(0));
    let (item_tx, item_rx) = mpsc::channel(CHANNEL_DEPTH);
    let (row_tx, row_rx) = mpsc::channel(CHANNEL_DEPTH);
    let reader = tokio::task::spawn_blocking(move || input.stream(checker, item_tx));
    // Users in flight when a previous run died wait out its requests (see resume::hold).
    let item_rx = match wait.filter(|_| !s.dry_run) {
        Some(wait) => {
            let (held_tx, held_rx) = mpsc::channel(CHANNEL_DEPTH);
            tokio::spawn(crate::pipeline::hold::hold_back(
                item_rx,
                held_tx,
                resume.in_flight(),
                wait,
                stop.clone(),
            ));
            held_rx
        }
        None => item_rx,
    };
    let bar = s.log_format == LogFormat::Text && std::io::stderr().is_terminal();
    let monitor = tokio::spawn(
        Monitor {
            writer,
            stop: stop.clone(),
            limiter: Some(limiter.clone()),
            max_failures: s.max_failures,
            // The rows that get a report row in this run: sent or refused, not skipped.
            total: counts.as_ref().map_or(records, |c| Some(c.report_rows())),
            bar,
        }
        .run(row_rx),
    );
    let daily_left = limiter.clone();
    let pool = Arc::new(Pool::new(
        ZoomClient::new(http.clone(), &base, s.body),
        http,
        auth.unwrap_or_else(|| Arc::new(Auth::Static(secrecy::SecretString::from(String::new())))),
        limiter,
        s.retry,
        stop.clone(),
        journal,
        saved,
        s.concurrency,
    ));
    let dispatched = workers::dispatch(pool, item_rx, row_tx, resume, s.dry_run).await;
    let skipped = dispatched.skipped;
    let read_result = reader.await?;
    let tally = monitor.await??;
    if let Err(e) = read_result {
        // The stream broke (an I/O error mid-file): the rows read so far are reported, the
        // rest are unknown, so this is a stop, not a finish.
        stop.stop(StopReason::Local(format!("input: {e}")));
    }
    // A local failure (the report, the journal, the password file) may have left rows
    // unrecorded: the journal is then the only record of what was on the wire, so it stays.
    if !s.dry_run && !matches!(stop.reason(), Some(StopReason::Local(_))) {
        journal::finish(&journal_path);
    }
    drop(claim);
    if let Some(h) = sim {
        h.shutdown().await;
    }

    let reason = stop.reason();
    // From the rows read as well as the tally: a row read and never reported (a lost
    // task) means the run did not finish, whatever the rows that were reported say.
    let exit_code = {
        let missing = dispatched.unreported(&tally);
        if missing != 0 {
            tracing::error!(
                rows = missing,
                "rows read have no report row: the run did not finish; --resume continues it"
            );
        }
        dispatched.exit_code(&tally, reason.is_some(), s.dry_run)
    };
    let elapsed = started.elapsed();
    let resume_command = (tally.remaining() > 0 || reason.is_some())
        .then(|| summary::resume_command(argv, &s.report));
    Summary {
        tally: &tally,
        skipped: skipped.total,
        elapsed,
        report: &s.report,
        stop: reason.as_ref(),
        resume_command,
        simulated: s.simulate,
        exit_code,
        daily_remaining: daily_left.daily_remaining(),
    }
    .print(s.log_format);
    if let Some(r) = &reason {
        tracing::warn!(exit_code, "stopped early: {}", r.explain());
    }
    Ok(RunResult {
        exit_code,
        tally,
        skipped: skipped.total,
        report: s.report.clone(),
        stop: reason,
        elapsed,
    })
}
