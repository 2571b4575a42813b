//! What the JSON summary says beyond the counts: the context of the run (the version,
//! when it started, the plan, the rate, the config file and the report), and the stable
//! machine words beside the `stopped` text: `stopped_code` (`signal`, `daily_limit`,
//! `auth_lost`, `circuit_breaker`, `local`, and for exit 2 the [`RefusalCode`]s `usage`,
//! `config`, `input`, `credentials`, `policy`, `report_exists`, `report_locked`,
//! `input_locked`, `report_unwritable`, `report_mismatch`, `report_too_old`,
//! `not_confirmed`, or `refused`).
//!
//! The context is made once, from the resolved settings (or, for a command line clap
//! refused, from its words), and handed to whatever prints a summary: in-process runs
//! carry the same plan, rate and config as the binary's.

use crate::settings::{ConfigFileError, Settings};
use crate::vocab::stop::StopReason;
use crate::vocab::{ConfigError, RefusalCode, Refused};
use std::path::PathBuf;
use std::time::SystemTime;

/// The run as its command saw it before it started.
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

impl RunContext {
    /// The context of a run of `s` that started at `started_at`.
    pub fn of(s: &Settings, started_at: SystemTime) -> RunContext {
        RunContext {
            started_at,
            plan: Some(s.zoom.plan.name()),
            rate: Some(s.zoom.rate),
            config: s.zoom.config.clone(),
            report: Some(s.report.clone()),
            simulated: s.zoom.simulate,
        }
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

/// Why a command refused to start (exit 2): the first typed cause in the error's chain.
pub fn refusal_code(e: &anyhow::Error) -> RefusalCode {
    e.chain()
        .find_map(|cause| {
            if let Some(r) = cause.downcast_ref::<Refused>() {
                Some(r.code)
            } else if cause.is::<ConfigError>() || cause.is::<ConfigFileError>() {
                Some(RefusalCode::Config)
            } else if cause.is::<crate::pipeline::input::InputError>() {
                Some(RefusalCode::Input)
            } else if cause.is::<crate::zoom::auth::AuthError>() {
                Some(RefusalCode::Credentials)
            } else if cause.is::<crate::zoom::rules::AccountPolicyError>() {
                Some(RefusalCode::Policy)
            } else {
                None
            }
        })
        .unwrap_or(RefusalCode::Refused)
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
