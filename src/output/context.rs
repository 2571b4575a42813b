//! What the JSON summary says beyond the counts, and the summary of a run refused before
//! it started (exit 2), so that with `--log-format json` every exit of `run` prints one
//! summary object a monitor can parse: the version, when it started, the plan, the rate,
//! the config file and the report, and `stopped_code`, a stable machine word beside the
//! `stopped` text (`signal`, `daily_limit`, `auth_lost`, `circuit_breaker`, `local`, and
//! for exit 2 `usage`, `config`, `input`, `credentials`, `policy`, `report_exists`,
//! `report_locked`, `not_confirmed`, or `refused`).
//!
//! The context is set by `main` around the run as a task-local: the summary is printed
//! at the end of `run::execute`, and this carries what it needs without a parameter
//! through every layer between.

use super::summary::Summary;
use crate::cli::RunArgs;
use crate::settings::{FileConfig, Settings};
use crate::vocab::stop::StopReason;
use crate::vocab::Tally;
use std::future::Future;
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

/// The run as `main` saw it before it started.
#[derive(Debug, Clone)]
pub struct RunContext {
    pub started_at: SystemTime,
    /// `None` when the settings do not resolve (the run is then refused, exit 2).
    pub plan: Option<&'static str>,
    pub rate: Option<f64>,
    pub config: Option<PathBuf>,
    pub report: Option<PathBuf>,
    pub simulated: bool,
}

tokio::task_local! {
    static CONTEXT: RunContext;
}

impl RunContext {
    /// The context of `args`, resolved as `run` will resolve them. Errors are `run`'s to
    /// report; here they only leave the fields unknown.
    pub fn of(args: &RunArgs, started_at: SystemTime) -> RunContext {
        let file = FileConfig::load(args.config.as_deref()).ok();
        let config = file.as_ref().and_then(|f| f.source.clone());
        let settings = file.and_then(|f| Settings::resolve(args, f).ok());
        RunContext {
            started_at,
            plan: settings.as_ref().map(|s| s.plan.name()),
            rate: settings.as_ref().map(|s| s.rate),
            config,
            // Without --report the default name has a timestamp: only the run knows it.
            report: args.report.clone(),
            simulated: args.simulate,
        }
    }

    /// Runs `f` with this context visible to the summary it prints.
    pub async fn scope<F: Future>(self, f: F) -> F::Output {
        CONTEXT.scope(self, f).await
    }

    /// The context of the task, if `main` set one (in-process tests may not).
    pub(super) fn current() -> Option<RunContext> {
        CONTEXT.try_with(Clone::clone).ok()
    }
}

impl StopReason {
    /// A stable machine word for the reason, for monitoring (the words of `explain` may
    /// change; this does not).
    pub fn code(&self) -> &'static str {
        match self {
            StopReason::Interrupted => "signal",
            StopReason::DailyLimit { .. } => "daily_limit",
            StopReason::AuthLost(_) => "auth_lost",
            StopReason::CircuitBreaker(_) => "circuit_breaker",
            StopReason::Local(_) => "local",
        }
    }
}

/// The machine word for why `run` refused to start (exit 2).
pub fn refusal_code(e: &anyhow::Error) -> &'static str {
    for cause in e.chain() {
        if cause.is::<crate::vocab::ConfigError>() || cause.is::<crate::settings::ConfigFileError>()
        {
            return "config";
        }
        if cause.is::<crate::pipeline::input::InputError>() {
            return "input";
        }
        if cause.is::<crate::zoom::auth::AuthError>() {
            return "credentials";
        }
        if cause.is::<crate::zoom::rules::AccountPolicyError>() {
            return "policy";
        }
    }
    // Refusals that are plain messages in `run` and `files` (not typed errors yet).
    let text = e.to_string();
    if text.contains("already exists and is never overwritten") {
        "report_exists"
    } else if text.starts_with("another run holds ") {
        "report_locked"
    } else if text.starts_with("not confirmed") {
        "not_confirmed"
    } else {
        "refused"
    }
}

/// The summary of a run that never started: nothing counted, exit 2, `stopped` the
/// error's words and `stopped_code` its machine word.
pub fn refused(message: &str, code: &str, ctx: &RunContext) -> serde_json::Value {
    let tally = Tally::default();
    let elapsed = SystemTime::now()
        .duration_since(ctx.started_at)
        .unwrap_or(Duration::ZERO);
    let mut v = Summary {
        tally: &tally,
        skipped: 0,
        elapsed,
        report: ctx.report.as_deref().unwrap_or(Path::new("")),
        stop: None,
        resume_command: None,
        simulated: ctx.simulated,
        exit_code: 2,
        daily_remaining: None,
    }
    .json_with(Some(ctx));
    v["stopped"] = message.into();
    v["stopped_code"] = code.into();
    if ctx.report.is_none() {
        v["report"] = serde_json::Value::Null;
    }
    v
}

/// `run` words that ask for JSON on the command line (`--log-format json` or
/// `--log-format=json`): for a command line clap refuses, which was never parsed.
pub fn wants_json(argv: &[String]) -> bool {
    argv.iter().any(|a| a == "run")
        && (argv.iter().any(|a| a == "--log-format=json")
            || argv
                .windows(2)
                .any(|w| w[0] == "--log-format" && w[1] == "json"))
}

/// The context of a command line clap refused: its start and its `--report`, if any.
pub fn unparsed(argv: &[String], started_at: SystemTime) -> RunContext {
    let report = argv
        .windows(2)
        .find(|w| w[0] == "--report" || w[0] == "-r")
        .map(|w| PathBuf::from(&w[1]))
        .or_else(|| {
            argv.iter()
                .find_map(|a| a.strip_prefix("--report=").map(PathBuf::from))
        });
    RunContext {
        started_at,
        plan: None,
        rate: None,
        config: None,
        report,
        simulated: argv.iter().any(|a| a == "--simulate"),
    }
}

#[cfg(test)]
mod unit {
    use super::*;

    #[test]
    fn stop_codes_are_stable_words() {
        let codes: Vec<&str> = [
            StopReason::Interrupted,
            StopReason::DailyLimit {
                resets_at: SystemTime::UNIX_EPOCH,
            },
            StopReason::AuthLost("401".into()),
            StopReason::CircuitBreaker("x".into()),
            StopReason::Local("disk full".into()),
        ]
        .iter()
        .map(StopReason::code)
        .collect();
        assert_eq!(
            codes,
            [
                "signal",
                "daily_limit",
                "auth_lost",
                "circuit_breaker",
                "local"
            ]
        );
    }

    #[test]
    fn a_refused_command_line_is_read_for_json_and_its_report() {
        let argv = |w: &[&str]| w.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        assert!(wants_json(&argv(&[
            "z",
            "run",
            "--log-format",
            "json",
            "--x"
        ])));
        assert!(wants_json(&argv(&["z", "-v", "run", "--log-format=json"])));
        assert!(!wants_json(&argv(&["z", "run", "--log-format", "text"])));
        assert!(!wants_json(&argv(&[
            "z",
            "simulate",
            "--log-format",
            "json"
        ])));
        let ctx = unparsed(&argv(&["z", "run", "-r", "a.csv"]), SystemTime::UNIX_EPOCH);
        assert_eq!(ctx.report, Some(PathBuf::from("a.csv")));
        let ctx = unparsed(
            &argv(&["z", "run", "--report=b.csv"]),
            SystemTime::UNIX_EPOCH,
        );
        assert_eq!(ctx.report, Some(PathBuf::from("b.csv")));
    }
}
