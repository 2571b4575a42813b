//! Configuration: config.toml as plain data, merged with the command line and the
//! environment, then resolved into validated [`Settings`] before anything is sent.
//!
//! Precedence is the contract's: command line, then environment (clap reads the
//! `ZOOM_*` variables named in `cli`), then config.toml, then the defaults below. Every
//! check happens here, once; a wrong value stops the run with exit 2 and a
//! [`ConfigError`] that names the field, the value and what was expected. Nothing
//! downstream re-checks. Credentials are not configuration: see `auth`.

use crate::cli::{LogFormat, RunArgs};
use crate::pipeline::workers::Concurrency;
use crate::simulator::SimConfig;
use crate::vocab::{bad, ConfigError};
use crate::zoom::client::BodyFormat;
use crate::zoom::plan::{Plan, MAX_RATE, MIN_RATE};
use crate::zoom::retry::RetrySettings;
use crate::zoom::url::{check_url, DEFAULT_TOKEN_URL};
use serde::Deserialize;
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};
use url::Url;

mod search;

pub use search::search_paths;

/// A config file that cannot be read or parsed.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct ConfigFileError(String);

/// config.toml as written. Unknown keys are errors, so a typo never silently falls back
/// to a default.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct FileConfig {
    /// The file these settings came from (`None`: built-in defaults), for the plan.
    #[serde(skip)]
    pub source: Option<PathBuf>,
    pub api: ApiSection,
    pub rate: RateSection,
    pub input: InputSection,
    pub report: ReportSection,
    pub retry: RetrySection,
    pub run: RunSection,
    pub generate: GenerateSection,
    pub simulator: SimConfig,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ApiSection {
    pub base_url: Option<String>,
    pub token_url: Option<String>,
    pub body: Option<BodyFormat>,
    pub timeout_secs: Option<f64>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RateSection {
    pub plan: Option<Plan>,
    pub rate: Option<f64>,
    pub concurrency: Option<u32>,
    pub max_concurrency: Option<u32>,
    /// The share of the account's budget the job may take (`limiter::share`).
    pub share: Option<f64>,
    /// A rate above the plan's budget is refused unless this is true.
    pub allow_above_plan: Option<bool>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct InputSection {
    pub user_column: Option<String>,
    pub password_column: Option<String>,
    pub max_field_bytes: Option<usize>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ReportSection {
    pub dir: Option<PathBuf>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RetrySection {
    pub attempts: Option<u32>,
    pub base_delay_ms: Option<u64>,
    pub max_delay_ms: Option<u64>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RunSection {
    pub max_failures: Option<u32>,
    pub log_format: Option<LogFormat>,
    pub confirm_above: Option<u64>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct GenerateSection {
    pub length: Option<usize>,
}

impl FileConfig {
    /// Reads `path`, or the first file of the search (see `search`), or nothing.
    pub fn load(path: Option<&Path>) -> anyhow::Result<FileConfig> {
        let Some(path) = path.map(Path::to_path_buf).or_else(search::find) else {
            return Ok(FileConfig::default());
        };
        let text = std::fs::read_to_string(&path)
            .map_err(|e| ConfigFileError(format!("cannot read config {}: {e}", path.display())))?;
        let mut file: FileConfig = toml::from_str(&text)
            .map_err(|e| ConfigFileError(format!("invalid config {}: {e}", path.display())))?;
        file.source = Some(path);
        Ok(file)
    }
}

/// Where generated passwords go.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GenerateSettings {
    pub length: usize,
    /// `None`: `--discard-passwords`.
    pub out: Option<PathBuf>,
}

/// Everything a run needs, checked.
#[derive(Debug, Clone)]
pub struct Settings {
    /// The config file used (`None`: built-in defaults), for the plan to name.
    pub config: Option<PathBuf>,
    /// The input file and how to read it (derefs to its path).
    pub input: crate::pipeline::input::InputSource,
    pub report: PathBuf,
    /// `None`: the OAuth token's `api_url`, else [`DEFAULT_BASE_URL`].
    pub base_url: Option<Url>,
    pub token_url: Url,
    pub plan: Plan,
    /// The job's ceiling: `--rate`, or the share of the plan's budget (`limiter::share`).
    pub rate: f64,
    /// The share of the plan's budget that `rate` is (above 1 with `--rate-above-plan`).
    pub share: f64,
    pub concurrency: Concurrency,
    pub body: BodyFormat,
    pub timeout: Duration,
    pub dry_run: bool,
    /// `--resume` or `--resume-or-start`.
    pub resume: bool,
    /// `--resume-or-start`: a missing report is started instead of refused.
    pub resume_or_start: bool,
    pub simulate: bool,
    pub generate: Option<GenerateSettings>,
    pub fetch_policy: bool,
    pub max_failures: u32,
    pub log_format: LogFormat,
    pub yes: bool,
    pub confirm_above: u64,
    /// `None`: the first header named user_id, userId, id or email.
    pub user_column: Option<String>,
    pub password_column: String,
    pub max_field_bytes: usize,
    pub retry: RetrySettings,
    pub simulator: SimConfig,
}

/// Checks a rate given as `field`: a finite number from [`MIN_RATE`] to [`MAX_RATE`].
fn check_rate(field: &str, rate: f64) -> Result<f64, ConfigError> {
    if rate.is_finite() && (MIN_RATE..=MAX_RATE).contains(&rate) {
        Ok(rate)
    } else {
        // `{:?}` shows 1e-30 as written, not as thirty zeros.
        Err(bad(
            field,
            format!("{rate:?}"),
            "0.01 to 100000 requests per second",
        ))
    }
}

/// `--delimiter`: a name, or one ASCII character that cannot be confused with a quote or
/// a line end.
fn delimiter(raw: &str) -> Result<u8, ConfigError> {
    let d = match raw.to_ascii_lowercase().as_str() {
        "comma" => b',',
        "semicolon" => b';',
        "tab" | "\\t" => b'\t',
        _ if raw.len() == 1 => raw.as_bytes()[0],
        _ => 0,
    };
    if d.is_ascii_graphic() && d != b'"' || d == b'\t' || d == b' ' {
        Ok(d)
    } else {
        Err(bad(
            "--delimiter",
            format!("{raw:?}"),
            "comma, semicolon, tab, or one ASCII character other than a quote",
        ))
    }
}

/// `--encoding`: a WHATWG label encoding_rs knows (not the "replacement" ones, which
/// would turn every byte into U+FFFD).
fn encoding(raw: &str) -> Result<&'static encoding_rs::Encoding, ConfigError> {
    match encoding_rs::Encoding::for_label(raw.trim().as_bytes()) {
        Some(e) if e != encoding_rs::REPLACEMENT => Ok(e),
        _ => Err(bad(
            "--encoding",
            format!("{raw:?}"),
            "an encoding label such as utf-8, windows-1252, latin1, iso-8859-15, utf-16le or utf-16be",
        )),
    }
}

/// The default report path: reports/rotation-<UTC timestamp>.csv.
fn default_report(dir: &Path) -> PathBuf {
    let stamp = humantime::format_rfc3339_seconds(SystemTime::now())
        .to_string()
        .replace(':', "");
    dir.join(format!("rotation-{stamp}.csv"))
}

impl Settings {
    /// The config file used, for the plan: its path, or that there was none.
    pub fn config_name(&self) -> String {
        match &self.config {
            Some(p) => p.display().to_string(),
            None => "none (built-in defaults)".to_string(),
        }
    }

    /// Merges the command line over config.toml and checks every value.
    pub fn resolve(args: &RunArgs, file: FileConfig) -> Result<Settings, ConfigError> {
        let base_url = args
            .base_url
            .as_deref()
            .or(file.api.base_url.as_deref())
            .map(|u| check_url("base_url", u))
            .transpose()?;
        let token_url = check_url(
            "token_url",
            args.token_url
                .as_deref()
                .or(file.api.token_url.as_deref())
                .unwrap_or(DEFAULT_TOKEN_URL),
        )?;
        let plan = args.plan.or(file.rate.plan).unwrap_or(Plan::Pro);
        // A plan given on the command line outranks a rate from config.toml.
        let file_rate = if args.plan.is_some() {
            None
        } else {
            file.rate.rate
        };
        let rate = match (args.rate, file_rate) {
            (Some(r), _) => Some((check_rate("--rate", r)?, "--rate")),
            (None, Some(r)) => Some((
                check_rate("rate.rate (config.toml)", r)?,
                "rate.rate (config.toml)",
            )),
            (None, None) => None,
        };
        let ceiling =
            crate::pipeline::limiter::share::resolve(&crate::pipeline::limiter::share::Asked {
                plan,
                plan_given: args.plan.or(file.rate.plan).is_some(),
                rate,
                share: match (args.budget_share, file.rate.share) {
                    (Some(s), _) => Some((s, "--budget-share")),
                    (None, Some(s)) => Some((s, "rate.share (config.toml)")),
                    (None, None) => None,
                },
                above_plan: args.rate_above_plan || file.rate.allow_above_plan.unwrap_or(false),
            })?;
        let max_concurrency = file.rate.max_concurrency.unwrap_or(256);
        if !(1..=4096).contains(&max_concurrency) {
            return Err(bad("rate.max_concurrency", max_concurrency, "1 to 4096"));
        }
        let concurrency = match args.concurrency.or(file.rate.concurrency) {
            Some(n) if (1..=4096).contains(&n) => Concurrency::Fixed(n),
            Some(n) => return Err(bad("concurrency", n, "1 to 4096 requests in flight")),
            None => Concurrency::Auto {
                max: max_concurrency,
            },
        };
        let timeout_secs = file.api.timeout_secs.unwrap_or(30.0);
        if !(timeout_secs.is_finite() && (0.05..=600.0).contains(&timeout_secs)) {
            return Err(bad("api.timeout_secs", timeout_secs, "0.05 to 600 seconds"));
        }
        let retry = RetrySettings {
            attempts: file.retry.attempts.unwrap_or(5),
            base_delay: Duration::from_millis(file.retry.base_delay_ms.unwrap_or(500)),
            max_delay: Duration::from_millis(file.retry.max_delay_ms.unwrap_or(30_000)),
        };
        if !(1..=100).contains(&retry.attempts) {
            return Err(bad(
                "retry.attempts",
                retry.attempts,
                "1 to 100 requests per row",
            ));
        }
        if retry.base_delay.is_zero() || retry.base_delay > retry.max_delay {
            return Err(bad(
                "retry.base_delay_ms",
                retry.base_delay.as_millis(),
                "above 0 and at most retry.max_delay_ms",
            ));
        }
        let max_field_bytes = file.input.max_field_bytes.unwrap_or(4096);
        if !(64..=1 << 20).contains(&max_field_bytes) {
            return Err(bad(
                "input.max_field_bytes",
                max_field_bytes,
                "64 to 1048576 bytes",
            ));
        }
        let column = |field: &str, v: Option<String>| match v {
            Some(c) if c.trim().is_empty() => Err(bad(field, "\"\"", "a column name")),
            other => Ok(other.map(|c| c.trim().to_string())),
        };
        let user_column = match &args.user_column {
            Some(c) => column("--user-column", Some(c.clone()))?,
            None => column("input.user_column", file.input.user_column)?,
        };
        let password_column = match &args.password_column {
            Some(c) => column("--password-column", Some(c.clone()))?,
            None => column("input.password_column", file.input.password_column)?,
        }
        .unwrap_or_else(|| "password".to_string());
        let dialect = crate::pipeline::input::Dialect {
            delimiter: args.delimiter.as_deref().map(delimiter).transpose()?,
            encoding: args.encoding.as_deref().map(encoding).transpose()?,
        };
        let generate = if args.generate {
            let length = file.generate.length.unwrap_or(20);
            if !(crate::zoom::rules::MIN_LEN..crate::zoom::rules::MAX_LEN).contains(&length) {
                return Err(bad("generate.length", length, "8 to 31 characters"));
            }
            if args.generated_out.is_none() && !args.discard_passwords {
                return Err(bad(
                    "--generate",
                    "without --generated-out or --discard-passwords",
                    "--generated-out FILE (keep the new passwords) or --discard-passwords \
                     (keep no copy: users recover through \"forgot password\")",
                ));
            }
            Some(GenerateSettings {
                length,
                out: args.generated_out.clone(),
            })
        } else {
            None
        };
        let confirm_above = file.run.confirm_above.unwrap_or(100);
        if let Err(e) = file.simulator.validate() {
            return Err(bad("simulator", "(section)", &e));
        }
        if args.input.as_os_str().is_empty() {
            return Err(bad(
                "INPUT",
                "\"\"",
                "a CSV file path, or - for standard input",
            ));
        }
        let report = match &args.report {
            Some(r) => r.clone(),
            None => default_report(file.report.dir.as_deref().unwrap_or(Path::new("reports"))),
        };
        Ok(Settings {
            config: file.source.clone(),
            input: crate::pipeline::input::InputSource {
                path: args.input.clone(),
                dialect,
            },
            report,
            base_url,
            token_url,
            plan,
            rate: ceiling.rate,
            share: ceiling.share,
            concurrency,
            body: args.body.or(file.api.body).unwrap_or(BodyFormat::Json),
            timeout: Duration::from_secs_f64(timeout_secs),
            dry_run: args.dry_run,
            resume: args.resume || args.resume_or_start,
            resume_or_start: args.resume_or_start,
            simulate: args.simulate,
            generate,
            fetch_policy: !args.no_fetch_policy && !args.dry_run,
            max_failures: args.max_failures.or(file.run.max_failures).unwrap_or(20),
            log_format: args
                .log_format
                .or(file.run.log_format)
                .unwrap_or(LogFormat::Text),
            yes: args.yes,
            confirm_above,
            user_column,
            password_column,
            max_field_bytes,
            retry,
            simulator: file.simulator,
        })
    }
}

#[cfg(test)]
mod unit {
    use super::*;

    #[test]
    fn a_plan_on_the_command_line_outranks_a_rate_in_config() {
        use clap::Parser;
        let args = |w: &[&str]| match crate::cli::Cli::parse_from(w).command {
            crate::cli::Command::Run(a) => *a,
            _ => unreachable!(),
        };
        let file = || FileConfig {
            rate: RateSection {
                rate: Some(7.0),
                ..RateSection::default()
            },
            ..FileConfig::default()
        };
        let s = Settings::resolve(&args(&["z", "run", "in.csv"]), file()).unwrap();
        assert_eq!(s.rate, 7.0);
        let s = Settings::resolve(&args(&["z", "run", "in.csv", "--plan", "business"]), file())
            .unwrap();
        // The plan's budget times the default --budget-share, 0.8 (issue 11).
        assert_eq!(s.rate, 48.0);
        let s = Settings::resolve(
            &args(&["z", "run", "in.csv", "--plan", "free", "--rate", "1.5"]),
            file(),
        )
        .unwrap();
        assert_eq!(s.rate, 1.5);
    }
}
