//! One run, in three steps: [`prepare`] (everything that can refuse the run, exit 2:
//! the input's header, the report's claim and resume state, credentials and the
//! account's rules, the plan and the prompt, the ledger's files; a dry run asks Zoom the
//! same, unless `--offline`, and sends no password), then the pipeline
//! (reader → limiter → workers → client → monitor), then [`finish`] (the summary, the
//! exit code), which the preview of a resume (`preview`) ends with too.
//!
//! Once rows flow, nothing aborts the batch: each row ends as a report row, and the exit
//! code is decided from the rows read, the tally and the stop reason at the end. What
//! remains and the command that continues are read back from the ledger, so the summary
//! says what `status` says.

use crate::cli::{LogFormat, RunArgs};
use crate::commands::target::Target;
use crate::ledger::files::Disk;
use crate::ledger::journal::Journal;
use crate::ledger::passwords::SavedPasswords;
use crate::ledger::resume::{origin, Resume};
use crate::ledger::state::Status;
use crate::ledger::{report, side};
use crate::output::context::RunContext;
use crate::output::summary::Summary;
use crate::pipeline::checks::Checker;
use crate::pipeline::generate::Generator;
use crate::pipeline::input::cut::{self, ReadEnd};
use crate::pipeline::input::{self, Feed, Input, ReadCut, CHANNEL_DEPTH};
use crate::pipeline::limiter::Limiter;
use crate::pipeline::monitor::Monitor;
use crate::pipeline::workers::{self, Dispatched, Pool};
use crate::settings::{FileConfig, Settings};
use crate::vocab::stop::{Stop, StopReason};
use crate::vocab::{Exit, Tally};
use crate::zoom::auth::Credentials;
use crate::zoom::client::{self, ZoomClient};
use std::io::IsTerminal;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::sync::mpsc;

mod account;
mod claim;
mod confirm;
mod keep;
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
    /// The summary as its JSON object (what `--log-format json` prints, and what the
    /// evidence folder keeps).
    pub summary: serde_json::Value,
    /// HTTP 429 answers received (any limit), for the metrics.
    pub throttled: u64,
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
    run_with_disk(args, creds, stop, argv, Disk::default()).await
}

/// [`run`], making the run's files durable through `disk`: a test hands in a
/// [`Disk::traced`] to read back the order of the run's syncs and removals.
pub async fn run_with_disk(
    args: &RunArgs,
    creds: Credentials,
    stop: Stop,
    argv: &[String],
    disk: Disk,
) -> anyhow::Result<RunResult> {
    let file = FileConfig::load(args.zoom.config.as_deref())?;
    let settings = Settings::resolve(args, &file)?;
    let ctx = RunContext::of(&settings, std::time::SystemTime::now());
    execute(settings, &ctx, creds, stop, argv, disk).await
}

/// Runs resolved settings: prepare, the pipeline, finish, then the metrics file (when
/// asked for) at every exit, a refusal's included. Every file the run makes durable goes
/// through `disk` (`Disk::default()` but for a test watching the order).
#[tracing::instrument(level = "debug", skip_all, fields(report = %s.report.display()))]
pub async fn execute(
    s: Settings,
    ctx: &RunContext,
    creds: Credentials,
    stop: Stop,
    argv: &[String],
    disk: Disk,
) -> anyhow::Result<RunResult> {
    let metrics = s.metrics_file.clone().map(|path| (path, s.dry_run));
    let result = execute_run(s, ctx, creds, stop, argv, &disk).await;
    if let Some((path, dry_run)) = metrics {
        let none = Tally::default();
        let (tally, skipped, throttled, exit) = match &result {
            Ok(r) => (&r.tally, r.skipped, r.throttled, r.exit_code),
            Err(_) => (&none, 0, 0, Exit::Refused),
        };
        crate::output::metrics::RunMetrics {
            tally,
            skipped,
            throttled,
            exit,
            started_at: ctx.started_at,
            ended_at: std::time::SystemTime::now(),
            rate: ctx.rate,
            dry_run,
            simulated: ctx.simulated,
        }
        .write(&path, &disk);
    }
    result
}

/// [`execute`] without the metrics.
async fn execute_run(
    mut s: Settings,
    ctx: &RunContext,
    creds: Credentials,
    stop: Stop,
    argv: &[String],
    disk: &Disk,
) -> anyhow::Result<RunResult> {
    let disk = disk.clone();
    let started = Instant::now();
    let program = argv.first().map_or("zoom-rotate", String::as_str);
    match prepare(&mut s, creds, &stop, program, &disk).await? {
        Prepared::Preview(p) => preview::run(&s, ctx, *p, &stop, started).await,
        Prepared::Run(p) => {
            // Before the first password leaves: what Zoom knew of the targets.
            let evidence = keep::before(&s, &p.pool, &p.limiter, &stop).await?;
            let ran = pipeline(&s, *p, &stop, &disk).await?;
            let result = finish(&s, ctx, ran, &stop, started);
            keep::after(&s, evidence, &result.summary)?;
            Ok(result)
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
    /// The run's one limiter, shared by the workers (who pace through it) and the
    /// monitor (which shows its rate), and read at the end for the daily budget left.
    limiter: Arc<Limiter>,
    pool: Pool,
    writer: report::Writer,
    checker: Checker,
}

/// Everything that can refuse the run (exit 2), in the order a refusal is cheapest:
/// before the first request and before any file is made that a refusal would leave.
async fn prepare(
    s: &mut Settings,
    creds: Credentials,
    stop: &Stop,
    program: &str,
    disk: &Disk,
) -> anyhow::Result<Prepared> {
    let z = &s.zoom;
    // A dry run asks the simulator what it would ask Zoom; an offline one asks nothing.
    let target = Target::choose(
        z,
        creds,
        z.simulate && !s.offline,
        "SIMULATION: sending to the built-in Zoom simulator; no real account is touched",
    )
    .await?;
    let input = open_input(s, stop).await?;
    let (claim, loaded) = claim::claim(s, &target, disk)?;
    let (s, z) = (&*s, &s.zoom);
    let claim::Loaded {
        resume,
        carried,
        revoked,
        wait,
        provenance,
    } = loaded;
    let counts = plan::announce(s, input.counted, claim.continuing, &resume, stop).await?;
    let http = client::http_client(z.timeout)?;
    let limiter = plan::job_limiter(z);
    let (auth, base, policy) = account::connect(s, &target, &http, &limiter, stop).await?;
    if s.dry_run && claim.continuing {
        if let Some(h) = target.sim {
            h.shutdown().await;
        }
        let ready = preview::Ready {
            input,
            resume,
            policy,
        };
        return Ok(Prepared::Preview(Box::new(ready)));
    }
    let (saved, reuse) = open_saved(s, &resume)?;
    let writer = report::Writer::open(&s.report, claim.continuing, disk)?;
    // Every run that writes the report records what continues it (its input and flags),
    // and what the report is for: its first run's provenance, or this run's.
    let provenance = claim.provenance(provenance, &base);
    let words = &s.continue_words(program);
    origin::record_for(&s.report, &s.input, words, &provenance, disk)?;
    stop.set_continue_command(origin::continue_command(&s.report));
    let journal = start_journal(s, (&carried, &revoked), disk)?;
    let generator = s.generate.as_ref().map(|g| Generator::new(g.length));
    let generator = generator.map(|g| g.reusing(reuse));
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
    )
    .containing(plan::containment(s));
    Ok(Prepared::Run(Box::new(Ready {
        sim: target.sim,
        checker: Checker::new(policy, s.max_field_bytes, generator)
            .refusing_listed_without_password(s.dry_run)
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

/// Opens the input and reads its header on a blocking thread: standard input or a FIFO
/// may send nothing (or never open), and a stop must still end the run. Then the thread
/// is left where it is (see `pipeline::input::cut`); nothing was sent, so exit 2.
async fn open_input(s: &Settings, stop: &Stop) -> anyhow::Result<Input> {
    let cut = ReadCut::new();
    let opening = tokio::task::spawn_blocking({
        let (source, cut) = (s.input.clone(), cut.clone());
        let (user, password) = (s.user_column.clone(), s.password_column.clone());
        let generate = s.generate.is_some();
        move || input::open(&source, user.as_deref(), &password, generate, &cut)
    });
    tokio::select! {
        opened = opening => Ok(opened??),
        () = stop.stopped() => {
            cut.cut();
            anyhow::bail!("stopped while opening the input and reading its header: nothing was sent")
        }
    }
}

/// The write-ahead journal (none in a dry run, which sends nothing), carrying the
/// records of a crashed run's requests still unsettled.
fn start_journal(
    s: &Settings,
    carried: (
        &[crate::ledger::journal::Record],
        &[crate::ledger::journal::Record],
    ),
    disk: &Disk,
) -> anyhow::Result<Option<Journal>> {
    if s.dry_run {
        return Ok(None);
    }
    Ok(Some(Journal::start(
        &side::journal(&s.report),
        report::len(&s.report),
        carried,
        s.zoom.timeout,
        disk,
    )?))
}

/// The `--generated-out` file (created, or on `--resume` read back so its users are sent
/// their saved passwords again: only the same password is safe to resend), and those
/// saved passwords. Encrypted, it is read back only with `--identity`: a resume that
/// must resend without one is refused before anything is sent.
fn open_saved(s: &Settings, resume: &Resume) -> anyhow::Result<(Option<SavedPasswords>, Reused)> {
    let Some(g) = s.generate.as_ref() else {
        return Ok((None, Default::default()));
    };
    let Some(path) = g.out.as_ref().filter(|_| !s.dry_run) else {
        if !s.dry_run {
            tracing::warn!("--discard-passwords: the new passwords are kept nowhere; users recover through \"forgot password\"");
        }
        return Ok((None, Default::default()));
    };
    let (saved, reuse) = match (&g.seal, s.resume) {
        (None, true) => SavedPasswords::open_for_resume(path)?,
        (None, false) => (SavedPasswords::create(path)?, Default::default()),
        (Some(r), false) => (
            SavedPasswords::create_sealed(path, r.clone())?,
            Default::default(),
        ),
        (Some(r), true) => {
            if g.identity.is_none() && resume.resends_any() && path.exists() {
                anyhow::bail!(
                    "some users' changes may have applied, and they must be sent the same password again, which is encrypted in {}: pass --identity KEY_FILE (the age identity of a recipient) to read it back",
                    path.display()
                );
            }
            SavedPasswords::open_sealed_for_resume(path, r.clone(), g.identity.as_deref())?
        }
    };
    Ok((Some(saved), reuse))
}

/// The passwords a `--generated-out` file already holds, by user key.
type Reused = std::collections::HashMap<String, secrecy::SecretString>;

/// What the pipeline did.
struct Ran {
    dispatched: Dispatched,
    tally: Tally,
    /// Requests left of Zoom's daily budget, when its answers said so.
    daily_remaining: Option<u64>,
    /// The reading was cut at a stop: the line of the last input row read.
    input_cut: Option<u64>,
    /// HTTP 429 answers received.
    throttled: u64,
}

/// The pipeline: reader → (bounded) → hold → dispatcher/workers → (bounded) → monitor.
async fn pipeline(s: &Settings, r: Ready, stop: &Stop, disk: &Disk) -> anyhow::Result<Ran> {
    let (item_tx, item_rx) = mpsc::channel(CHANNEL_DEPTH);
    let (row_tx, row_rx) = mpsc::channel(CHANNEL_DEPTH);
    let input = r.input;
    let (cut, regular) = (input.cut.clone(), input.regular);
    let checker = r.checker;
    let reader = tokio::task::spawn_blocking(move || input.stream(checker, item_tx));
    let item_rx = Feed::new(item_rx, cut.clone());
    // Users in flight when a previous run died wait out its requests (see pipeline::hold).
    let item_rx: Feed = match r.wait.filter(|_| !s.dry_run) {
        Some(wait) => {
            let (held_tx, held_rx) = mpsc::channel(CHANNEL_DEPTH);
            tokio::spawn(crate::pipeline::hold::hold_back(
                item_rx,
                held_tx,
                r.resume.in_flight(),
                wait,
                stop.clone(),
            ));
            held_rx.into()
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
    // The reader is watched, not awaited: after a stop it may be cut and left behind.
    let (dispatched, read_end) = tokio::join!(
        workers::dispatch(Arc::new(r.pool), item_rx, row_tx, r.resume, s.dry_run),
        cut::watch(reader, cut.clone(), stop.clone(), regular),
    );
    let tally = monitor.await??;
    let input_cut = match read_end? {
        ReadEnd::Whole(Ok(())) => None,
        ReadEnd::Whole(Err(e)) => {
            // The stream broke (an I/O error mid-file): the rows read so far are reported,
            // the rest are unknown, so this is a stop, not a finish.
            stop.stop(StopReason::Local(format!("input: {e}")));
            None
        }
        ReadEnd::Cut => Some(cut.last_line()),
    };
    // A local failure (the report, the journal, the password file) may have left rows
    // unrecorded: the journal is then the only record of what was on the wire, so it stays.
    if !s.dry_run && !matches!(stop.reason(), Some(StopReason::Local(_))) {
        crate::ledger::journal::finish(&side::journal(&s.report), disk);
    }
    drop(r.claim);
    if let Some(h) = r.sim {
        h.shutdown().await;
    }
    Ok(Ran {
        dispatched,
        tally,
        daily_remaining: r.limiter.daily_remaining(),
        input_cut,
        throttled: r.limiter.answers_429(),
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
        input_cut,
        throttled,
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
    if s.contain_sso {
        tracing::info!(
            signed_out = tally.get(crate::vocab::Outcome::SsoRevoked),
            "--contain-sso: users without a Zoom password signed out (SSO token revoked)"
        );
    }
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
    let summary = Summary {
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
        input_cut,
    };
    summary.print(s.log_format);
    let summary = summary.json();
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
        summary,
        throttled,
    }
}
