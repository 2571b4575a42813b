//! Settings, read once and resolved once: config.toml as plain data ([`file`], found by
//! [`search`]), merged with the command line and the environment, then resolved into
//! checked types before anything is sent, as ripgrep's low-level arguments become its
//! high-level ones. The command gets the result and nothing downstream re-checks.
//!
//! Precedence is the contract's: command line, then environment (clap reads the
//! `ZOOM_*` variables named in `cli`), then config.toml, then the defaults below. A wrong
//! value stops the command with exit 2 and a [`ConfigError`] that names the field, the
//! value and what was expected. What `run` and `users` share (where to send, the plan,
//! the rate, the retries) is [`ZoomSettings`], resolved by one function for both; the
//! rest of a run is [`Settings`]. Credentials are not configuration: see `zoom::auth`.

use crate::cli::{LogFormat, RunArgs};
use crate::pipeline::input::{Dialect, InputSource};
use crate::pipeline::workers::Concurrency;
use crate::vocab::{bad, ConfigError};
use crate::zoom::client::BodyFormat;
use crate::zoom::rules;
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

pub mod file;
mod search;
mod trust;
mod words;
mod zoom;

pub use file::{ConfigFileError, FileConfig};
pub use search::search_paths;
pub use trust::OffZoom;
pub use zoom::{RateFlags, ZoomSettings};

/// Where generated passwords go.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GenerateSettings {
    pub length: usize,
    /// `None`: `--discard-passwords`.
    pub out: Option<PathBuf>,
    /// `--encrypt-to` / `--recipients-file`: `out` is then a directory of age files.
    pub seal: Option<crate::ledger::passwords::sealed::Recipients>,
    /// `--identity`: reads the age files back on a resume.
    pub identity: Option<PathBuf>,
}

/// Everything a run needs, checked.
#[derive(Debug, Clone)]
pub struct Settings {
    /// Where and how fast (shared with `users`).
    pub zoom: ZoomSettings,
    /// The input file and how to read it (derefs to its path).
    pub input: InputSource,
    pub report: PathBuf,
    /// The report was named (`--report`, its variable); `false`: the default name, which
    /// the run numbers (`-2`, `-3`…) when another run took it in the same second.
    pub report_given: bool,
    pub concurrency: Concurrency,
    pub body: BodyFormat,
    pub dry_run: bool,
    /// `--offline` (a dry run only): ask Zoom nothing, no token and no settings read.
    pub offline: bool,
    /// `--resume` or `--resume-or-start`.
    pub resume: bool,
    /// `--resume-or-start`: a missing report is started instead of refused.
    pub resume_or_start: bool,
    /// How long ago a report's first run may have started for a resume to continue it.
    pub max_report_age: Duration,
    /// `--max-report-age` was given: the command that continues the run carries it.
    pub max_report_age_given: bool,
    pub generate: Option<GenerateSettings>,
    /// Read the account's password rules (not `--no-fetch-policy`); an offline dry run
    /// reads nothing whatever this says.
    pub fetch_policy: bool,
    pub max_failures: u32,
    pub log_format: LogFormat,
    pub yes: bool,
    pub confirm_above: u64,
    /// `None`: the first header named user_id, userId, id or email.
    pub user_column: Option<String>,
    pub password_column: String,
    pub max_field_bytes: usize,
    /// The input's options as given (`--delimiter`, `--encoding`), for the command that
    /// continues the run.
    pub dialect_given: (Option<String>, Option<String>),
    /// `--metrics-file` or `[run] metrics_file`: the Prometheus textfile written at exit.
    pub metrics_file: Option<PathBuf>,
    /// `--contain-sso`: sign out the users without a Zoom password.
    pub contain_sso: bool,
    /// `--evidence DIR`, and how far back (`--since`) its activity report goes.
    pub evidence: Option<EvidenceSettings>,
}

/// `--evidence DIR --since DAYS`, checked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EvidenceSettings {
    pub dir: PathBuf,
    pub since: Duration,
}

/// `--since`'s default: a week of sign-ins, enough to see what a leaked password was used
/// for in most incidents and one request of Zoom's one-month activity report.
pub const DEFAULT_SINCE_DAYS: u32 = 7;

/// `--evidence` and `--since`.
fn evidence(args: &RunArgs) -> Result<Option<EvidenceSettings>, ConfigError> {
    let days = args.since.unwrap_or(DEFAULT_SINCE_DAYS);
    if !(1..=180).contains(&days) {
        return Err(bad(
            "--since",
            days,
            "1 to 180 days (Zoom keeps six months of sign-ins)",
        ));
    }
    Ok(args.evidence.clone().map(|dir| EvidenceSettings {
        dir,
        since: Duration::from_secs(u64::from(days) * 86_400),
    }))
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

/// The default report path: reports/rotation-<UTC timestamp>.csv (numbered by the run
/// when another run of the same second has it: `commands::run::claim`).
fn default_report(dir: &Path) -> PathBuf {
    let stamp = humantime::format_rfc3339_seconds(SystemTime::now())
        .to_string()
        .replace(':', "");
    dir.join(format!("rotation-{stamp}.csv"))
}

impl Settings {
    /// Merges the command line over config.toml and checks every value.
    pub fn resolve(args: &RunArgs, file: &FileConfig) -> Result<Settings, ConfigError> {
        let zoom = ZoomSettings::resolve(
            &args.zoom,
            RateFlags {
                budget_share: args.budget_share,
                rate_above_plan: args.rate_above_plan,
            },
            file,
        )?;
        let (user_column, password_column) = columns(args, file)?;
        if args.input.as_os_str().is_empty() {
            return Err(bad(
                "INPUT",
                "\"\"",
                "a CSV file path, or - for standard input",
            ));
        }
        Ok(Settings {
            input: InputSource {
                path: args.input.clone(),
                dialect: Dialect {
                    delimiter: args.delimiter.as_deref().map(delimiter).transpose()?,
                    encoding: args.encoding.as_deref().map(encoding).transpose()?,
                },
            },
            report: match &args.report {
                Some(r) => r.clone(),
                None => default_report(file.report.dir.as_deref().unwrap_or(Path::new("reports"))),
            },
            report_given: args.report.is_some(),
            concurrency: concurrency(args, file)?,
            body: args.body.or(file.api.body).unwrap_or(BodyFormat::Json),
            dry_run: args.dry_run,
            offline: args.offline && args.dry_run,
            resume: args.resume || args.resume_or_start,
            resume_or_start: args.resume_or_start,
            max_report_age: max_report_age(args, file)?,
            max_report_age_given: args.max_report_age.is_some(),
            generate: generate(args, file)?,
            fetch_policy: !args.no_fetch_policy,
            max_failures: args.max_failures.or(file.run.max_failures).unwrap_or(20),
            log_format: args
                .log_format
                .or(file.run.log_format)
                .unwrap_or(LogFormat::Text),
            yes: args.yes,
            confirm_above: file.run.confirm_above.unwrap_or(100),
            user_column,
            password_column,
            max_field_bytes: max_field_bytes(file)?,
            dialect_given: (args.delimiter.clone(), args.encoding.clone()),
            contain_sso: args.contain_sso,
            evidence: evidence(args)?,
            metrics_file: metrics_file(args, file)?,
            zoom,
        })
    }
}

/// `--concurrency` or `[rate]`'s, checked.
fn concurrency(args: &RunArgs, file: &FileConfig) -> Result<Concurrency, ConfigError> {
    let max_concurrency = file.rate.max_concurrency.unwrap_or(256);
    if !(1..=4096).contains(&max_concurrency) {
        return Err(bad("rate.max_concurrency", max_concurrency, "1 to 4096"));
    }
    match args.concurrency.or(file.rate.concurrency) {
        Some(n) if (1..=4096).contains(&n) => Ok(Concurrency::Fixed(n)),
        Some(n) => Err(bad("concurrency", n, "1 to 4096 requests in flight")),
        None => Ok(Concurrency::Auto {
            max: max_concurrency,
        }),
    }
}

/// The default of `--max-report-age`: a month. The free plan's 2,000 requests a day
/// stretch 20,000 users over 11 daily runs at least, two weeks with a missed night or
/// two; a month leaves room for that, and still refuses a months-old campaign's report.
pub const MAX_REPORT_AGE_DAYS: u32 = 30;

/// `--max-report-age` or `[report] max_age_days`, checked.
fn max_report_age(args: &RunArgs, file: &FileConfig) -> Result<Duration, ConfigError> {
    let (field, days) = match (args.max_report_age, file.report.max_age_days) {
        (Some(d), _) => ("--max-report-age", d),
        (None, Some(d)) => ("report.max_age_days", d),
        (None, None) => ("", MAX_REPORT_AGE_DAYS),
    };
    if !(1..=3650).contains(&days) {
        return Err(bad(field, days, "1 to 3650 days"));
    }
    Ok(Duration::from_secs(u64::from(days) * 86_400))
}

/// `--metrics-file` or `[run] metrics_file`: a file path, never blank.
fn metrics_file(args: &RunArgs, file: &FileConfig) -> Result<Option<PathBuf>, ConfigError> {
    let (field, path) = match (&args.metrics_file, &file.run.metrics_file) {
        (Some(p), _) => ("--metrics-file", p),
        (None, Some(p)) => ("run.metrics_file", p),
        (None, None) => return Ok(None),
    };
    if path.as_os_str().is_empty() || path.file_name().is_none() {
        return Err(bad(
            field,
            format!("{:?}", path.display().to_string()),
            "a file path, e.g. /var/lib/node_exporter/textfile/zoom-rotate.prom",
        ));
    }
    Ok(Some(path.clone()))
}

/// `[input] max_field_bytes`, checked.
fn max_field_bytes(file: &FileConfig) -> Result<usize, ConfigError> {
    let max_field_bytes = file.input.max_field_bytes.unwrap_or(4096);
    if !(64..=1 << 20).contains(&max_field_bytes) {
        return Err(bad(
            "input.max_field_bytes",
            max_field_bytes,
            "64 to 1048576 bytes",
        ));
    }
    Ok(max_field_bytes)
}

/// The user and password columns: flags over `[input]`, never blank.
fn columns(args: &RunArgs, file: &FileConfig) -> Result<(Option<String>, String), ConfigError> {
    let column = |field: &str, v: Option<&String>| match v {
        Some(c) if c.trim().is_empty() => Err(bad(field, "\"\"", "a column name")),
        other => Ok(other.map(|c| c.trim().to_string())),
    };
    let user = match &args.user_column {
        Some(c) => column("--user-column", Some(c))?,
        None => column("input.user_column", file.input.user_column.as_ref())?,
    };
    let password = match &args.password_column {
        Some(c) => column("--password-column", Some(c))?,
        None => column("input.password_column", file.input.password_column.as_ref())?,
    }
    .unwrap_or_else(|| "password".to_string());
    Ok((user, password))
}

/// `--generate` and where its passwords go, checked.
fn generate(args: &RunArgs, file: &FileConfig) -> Result<Option<GenerateSettings>, ConfigError> {
    if !args.generate {
        return Ok(None);
    }
    let length = file.generate.length.unwrap_or(20);
    if !(rules::MIN_LEN..rules::MAX_LEN).contains(&length) {
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
    let seal = crate::ledger::passwords::sealed::Recipients::parse(
        &args.encrypt_to,
        args.recipients_file.as_deref(),
    )?;
    Ok(Some(GenerateSettings {
        length,
        out: args.generated_out.clone(),
        seal,
        identity: args.identity.clone(),
    }))
}

#[cfg(test)]
mod unit {
    use super::*;
    use crate::settings::file::RateSection;

    #[test]
    fn a_plan_on_the_command_line_outranks_a_rate_in_config() {
        use clap::Parser;
        // clap reads ZOOM_ROTATE_PLAN and the like: an exported one must not decide this.
        for (name, _) in std::env::vars_os() {
            if name.to_string_lossy().starts_with("ZOOM_") {
                std::env::remove_var(name);
            }
        }
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
        let s = Settings::resolve(&args(&["z", "run", "in.csv"]), &file()).unwrap();
        assert_eq!(s.zoom.rate, 7.0);
        let s = Settings::resolve(
            &args(&["z", "run", "in.csv", "--plan", "business"]),
            &file(),
        )
        .unwrap();
        // The plan's budget times the default --budget-share, 0.8 (issue 11).
        assert_eq!(s.zoom.rate, 48.0);
        let s = Settings::resolve(
            &args(&["z", "run", "in.csv", "--plan", "free", "--rate", "1.5"]),
            &file(),
        )
        .unwrap();
        assert_eq!(s.zoom.rate, 1.5);
    }
}
