//! One run, in three steps: [`prepare`] (everything that can refuse the run, exit 2:
//! the input's header, the report's claim and resume state, credentials and the
//! account's rules, the plan and the prompt, the ledger's files), then the pipeline
//! (reader → limiter → workers → client → monitor), then [`finish`] (the summary, the
//! exit code), which the preview of a resume (`preview`) ends with too.
//!
//! Once rows flow, nothing aborts the batch: each row ends as a report row, and the exit
//! code is decided from the rows read, the tally and the stop reason at the end. What
//! remains and the command that continues are read back from the ledger, so the summary
//! says what `status` says.

use crate::cli::{LogFormat, RunArgs};
use crate::commands::target::Target;
use crate::ledger::journal::Journal;
use crate::ledger::passwords::SavedPasswords;
use crate::ledger::resume::{origin, Resume};
use crate::ledger::state::Status;
use crate::ledger::{report, side};
use crate::output::context::RunContext;
use crate::output::summary::Summary;
use crate::pipeline::checks::Checker;
use crate::pipeline::generate::Generator;
use crate::pipeline::input::{self, Input, CHANNEL_DEPTH};
use crate::pipeline::limiter::Limiter;
use crate::pipeline::monitor::Monitor;
use crate::pipeline::workers::{self, Dispatched, Pool};
use crate::settings::{FileConfig, Settings};
use crate::vocab::stop::{Stop, StopReason};
use crate::vocab::{Exit, Tally};
use crate::zoom::auth::{Auth, Credentials};
use crate::zoom::client::{self, ZoomClient};
use crate::zoom::rules::PasswordPolicy;
use std::io::IsTerminal;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::sync::mpsc;

mod account;
mod claim;
mod confirm;
mod plan;
pub mod preview;

/// How a run ended, for `main` and for tests.
#[derive(Debug)]
pub struct RunResult {
    /// Done, unfinished or stopped (refused is an `Err` before anything was attempted).
    pub exit_code: Exit,
    pub tally: Tally,
    pub skipped: u64,
    pub report: PathBuf,
    pub stop: Option<StopReason>,
    pub elapsed: Duration,
}

/// Reads config.toml once, merges the command line, and runs: the library's one call
/// for a whole run (tests and benchmarks; `main` resolves first, to set up logging).
/// `argv` names the program in the command that continues the run.
pub async fn run(
    args: &RunArgs,
    creds: Credentials,
    stop: Stop,
    argv: &[String],
) -> anyhow::Result<RunResult> {
    let file = FileConfig::load(args.zoom.config.as_deref())?;
    let settings = Settings::resolve(args, &file)?;
    let ctx = RunContext::of(&settings, std::time::SystemTime::now());
    execute(settings, &ctx, creds, stop, argv).await
}

/// Runs resolved settings: prepare, the pipeline, finish.
#[tracing::instrument(level = "debug", skip_all, fields(report = %s.report.display()))]
pub async fn execute(
    s: Settings,
    ctx: &RunContext,
    creds: Credentials,
    stop: Stop,
    argv: &[String],
) -> anyhow::Result<RunResult> {
    let started = Instant::now();
    let program = argv.first().map_or("zoom-rotate", String::as_str);
    match prepare(&s, creds, &stop, program).await? {
        Prepared::Preview(p) => preview::run(&s, ctx, *p, &stop, started).await,
        Prepared::Run(p) => {
            let ran = pipeline(&s, *p, &stop).await?;
            Ok(finish(&s, ctx, ran, &stop, started))
        }
    }
}

/// What `prepare` leaves: a preview of a resume (it sends nothing and writes nothing),
/// or a run ready to send (both boxed: they are large, and moved once).
enum Prepared {
    Preview(Box<preview::Ready>),
    Run(Box<Ready>),
}

/// Everything the pipeline needs, opened and checked.
struct Ready {
    /// The simulator this run started (`--simulate`), shut down at the end.
    sim: Option<crate::simulator::SimHandle>,
    /// The locks on the input and the report: held until the run's end, released on drop.
    claim: claim::Claim,
    input: Input,
    resume: Resume,
    /// How long users in flight at a crash wait before they are sent again.
    wait: Option<Duration>,
    /// The rows that get a report row in this run: sent or refused, not skipped.
    report_rows: Option<u64>,
    limiter: Arc<Limiter>,
    pool: Pool,
    writer: report::Writer,
    checker: Checker,
}

/// Everything that can refuse the run (exit 2), in the order a refusal is cheapest:
/// before the first request and before any file is made that a refusal would leave.
async fn prepare(
    s: &Settings,
    creds: Credentials,
    stop: &Stop,
    program: &str,
) -> anyhow::Result<Prepared> {
    let z = &s.zoom;
    let target = Target::choose(
        z,
        creds,
        z.simulate && !s.dry_run,
        "SIMULATION: sending to the built-in Zoom simulator; no real account is touched",
    )
    .await?;
    let input = input::open(
        &s.input,
        s.user_column.as_deref(),
        &s.password_column,
        s.generate.is_some(),
    )?;
    let claim = claim::claim_report(s)?;
    let (resume, carried, wait) = if claim.continuing {
        claim::load_resume(s, &side::journal(&s.report))?
    } else {
        (Resume::default(), Vec::new(), None)
    };
    let counts = plan::announce(s, input.counted, claim.continuing, &resume, stop).await?;
    if s.dry_run && claim.continuing {
        return Ok(Prepared::Preview(Box::new(preview::Ready {
            input,
            resume,
        })));
    }
    let http = client::http_client(z.timeout)?;
    let limiter = Arc::new(Limiter::for_job(
        z.rate,
        f64::from(z.plan.medium_per_second()),
        z.plan.medium_per_day().is_some(),
    ));
    let (auth, base, policy) = connect(s, &target, &http, &limiter, stop).await?;
    let (saved, reuse) = open_saved(s)?;
    let writer = report::Writer::open(&s.report, claim.continuing)?;
    // Every run that writes the report records what continues it (its input and flags).
    origin::record(&s.report, &s.input, &s.continue_words(program))?;
    stop.set_continue_command(origin::continue_command(&s.report));
    let journal = start_journal(s, &carried)?;
    let generator = s
        .generate
        .as_ref()
        .map(|g| Generator::new(g.length).reusing(reuse));
    let pool = Pool::new(
        ZoomClient::new(http.clone(), &base, s.body),
        http,
        auth,
        limiter.clone(),
        z.retry,
        stop.clone(),
        journal,
        saved,
        s.concurrency,
    );
    Ok(Prepared::Run(Box::new(Ready {
        sim: target.sim,
        checker: Checker::new(policy, s.max_field_bytes, generator)
            .expecting(counts.records.unwrap_or(0)),
        claim,
        input,
        resume,
        wait,
        report_rows: counts.report_rows,
        limiter,
        pool,
        writer,
    })))
}

/// The write-ahead journal (none in a dry run, which sends nothing), carrying the
/// records of a crashed run's requests still unsettled.
fn start_journal(
    s: &Settings,
    carried: &[crate::ledger::journal::Record],
) -> anyhow::Result<Option<Journal>> {
    if s.dry_run {
        return Ok(None);
    }
    Ok(Some(Journal::start(
        &side::journal(&s.report),
        report::len(&s.report),
        carried,
        s.zoom.timeout,
    )?))
}

/// The `--generated-out` file (created, or on `--resume` read back so its users are sent
/// their saved passwords again: only the same password is safe to resend), and those
/// saved passwords.
fn open_saved(s: &Settings) -> anyhow::Result<(Option<SavedPasswords>, Reused)> {
    if s.generate.as_ref().is_some_and(|g| g.out.is_none()) && !s.dry_run {
        tracing::warn!("--discard-passwords: the new passwords are kept nowhere; users recover through \"forgot password\"");
    }
    Ok(match s.generate.as_ref().and_then(|g| g.out.as_ref()) {
        Some(path) if !s.dry_run && s.resume => {
            let (saved, reuse) = SavedPasswords::open_for_resume(path)?;
            (Some(saved), reuse)
        }
        Some(path) if !s.dry_run => (Some(SavedPasswords::create(path)?), Default::default()),
        _ => (None, Default::default()),
    })
}

/// The passwords a `--generated-out` file already holds, by user key.
type Reused = std::collections::HashMap<String, secrecy::SecretString>;

/// What the pipeline did.
struct Ran {
    dispatched: Dispatched,
    tally: Tally,
    /// Requests left of Zoom's daily budget, when its answers said so.
    daily_remaining: Option<u64>,
}

/// The pipeline: reader → (bounded) → hold → dispatcher/workers → (bounded) → monitor.
async fn pipeline(s: &Settings, r: Ready, stop: &Stop) -> anyhow::Result<Ran> {
    let (item_tx, item_rx) = mpsc::channel(CHANNEL_DEPTH);
    let (row_tx, row_rx) = mpsc::channel(CHANNEL_DEPTH);
    let input = r.input;
    let checker = r.checker;
    let reader = tokio::task::spawn_blocking(move || input.stream(checker, item_tx));
    // Users in flight when a previous run died wait out its requests (see pipeline::hold).
    let item_rx = match r.wait.filter(|_| !s.dry_run) {
        Some(wait) => {
            let (held_tx, held_rx) = mpsc::channel(CHANNEL_DEPTH);
            tokio::spawn(crate::pipeline::hold::hold_back(
                item_rx,
                held_tx,
                r.resume.in_flight(),
                wait,
                stop.clone(),
            ));
            held_rx
        }
        None => item_rx,
    };
    let monitor = tokio::spawn(
        Monitor {
            writer: r.writer,
            stop: stop.clone(),
            limiter: Some(r.limiter.clone()),
            max_failures: s.max_failures,
            total: r.report_rows,
            bar: s.log_format == LogFormat::Text && std::io::stderr().is_terminal(),
        }
        .run(row_rx),
    );
    let dispatched =
        workers::dispatch(Arc::new(r.pool), item_rx, row_tx, r.resume, s.dry_run).await;
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
        crate::ledger::journal::finish(&side::journal(&s.report));
    }
    drop(r.claim);
    if let Some(h) = r.sim {
        h.shutdown().await;
    }
    Ok(Ran {
        dispatched,
        tally,
        daily_remaining: r.limiter.daily_remaining(),
    })
}

/// The end of every run, the preview's included: the exit code from the rows read, the
/// tally and the stop; what remains and the command that continues, from the ledger; the
/// summary; the result.
fn finish(s: &Settings, ctx: &RunContext, ran: Ran, stop: &Stop, started: Instant) -> RunResult {
    let Ran {
        dispatched,
        tally,
        daily_remaining,
    } = ran;
    let reason = stop.reason();
    // From the rows read as well as the tally: a row read and never reported (a lost
    // task) means the run did not finish, whatever the rows that were reported say.
    let missing = dispatched.unreported(&tally);
    if missing != 0 {
        tracing::error!(
            rows = missing,
            "rows read have no report row: the run did not finish; --resume continues it"
        );
    }
    let exit = dispatched.exit(&tally, reason.is_some(), s.dry_run);
    let remaining = match Status::load(&s.report) {
        Ok(status) => match status.unreadable_refusal(&s.report, false) {
            None => Some(status.remaining() as u64),
            Some(e) => {
                tracing::warn!("cannot count what remains: {e}");
                None
            }
        },
        Err(e) => {
            tracing::warn!(report = %s.report.display(), "cannot read the report back to count what remains: {e:#}");
            None
        }
    };
    let continues = remaining != Some(0) || reason.is_some();
    let elapsed = started.elapsed();
    Summary {
        ctx,
        tally: &tally,
        skipped: dispatched.skipped.total,
        elapsed,
        report: &s.report,
        stop: reason.as_ref(),
        remaining,
        resume_command: continues.then(|| origin::continue_command(&s.report)),
        exit,
        daily_remaining,
    }
    .print(s.log_format);
    if let Some(r) = &reason {
        tracing::warn!(exit_code = exit.code(), "stopped early: {}", r.explain());
    }
    RunResult {
        exit_code: exit,
        tally,
        skipped: dispatched.skipped.total,
        report: s.report.clone(),
        stop: reason,
        elapsed,
    }
}

/// The token, the API base and the account's password rules: a dry run needs none of
/// them (it sends nothing and may run without credentials); a real run fetches the first
/// token (refused credentials are exit 2), follows the token's `api_url` where allowed,
/// and reads the rules (`account`), refusing rules no password can meet.
async fn connect(
    s: &Settings,
    target: &Target,
    http: &reqwest::Client,
    limiter: &Limiter,
    stop: &Stop,
) -> anyhow::Result<(Arc<Auth>, String, PasswordPolicy)> {
    if s.dry_run {
        let base = target.base(&s.zoom, None);
        let none = Arc::new(Auth::Static(secrecy::SecretString::from(String::new())));
        return Ok((none, base, PasswordPolicy::default()));
    }
    let z = &s.zoom;
    let auth = Auth::new(target.creds.clone(), target.token_url.clone())?.token_timeout(z.timeout);
    let api_url = tokio::select! {
        started = auth.start_with_backoff(http, z.retry.base_delay, z.retry.max_delay) => started?,
        _ = stop.stopped() => anyhow::bail!("stopped while asking for the first token: nothing was sent"),
    };
    let base = target.base(z, api_url);
    let policy = if s.fetch_policy {
        account::fetch_policy(http, &auth, &base, limiter, s, stop).await?
    } else {
        PasswordPolicy::default()
    };
    policy.validate_as_account()?;
    Ok((Arc::new(auth), base, policy))
}
