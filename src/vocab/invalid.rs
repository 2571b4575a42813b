//! The one shape of a refused setting, wherever it is checked (settings, the limiter's
//! share, a URL): `invalid FIELD = VALUE: expected WHAT`, so the fix is obvious and the
//! refusal's machine word (`config`) is a type, not a phrase.

/// A setting that cannot be used, said so that the fix is obvious.
#[derive(Debug, thiserror::Error)]
#[error("invalid {field} = {value}: expected {expected}")]
pub struct ConfigError {
    pub field: String,
    pub value: String,
    pub expected: String,
}

pub fn bad(field: &str, value: impl std::fmt::Display, expected: &str) -> ConfigError {
    ConfigError {
        field: field.to_string(),
        value: value.to_string(),
        expected: expected.to_string(),
    }
}

/// Why a command refused to start (exit 2), as a stable machine word: the JSON summary's
/// `stopped_code`. New words are only ever added.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RefusalCode {
    /// The command line itself (clap refused it).
    Usage,
    /// A setting, or config.toml.
    Config,
    /// The input cannot be read.
    Input,
    /// The credentials are missing or refused.
    Credentials,
    /// The account's password rules cannot be met.
    Policy,
    /// The report exists and `--resume` was not given.
    ReportExists,
    /// Another run holds the report.
    ReportLocked,
    /// Another run is rotating the same input into another report.
    InputLocked,
    /// The operator answered no at the prompt.
    NotConfirmed,
    /// The report's directory cannot be written (permissions, a read-only file system).
    ReportUnwritable,
    /// `--resume` on a report written for another target: a simulation's report by a
    /// real run or the other way round, another API host, another account.
    ReportMismatch,
    /// `--resume` on a report whose first run began longer ago than the allowed age.
    ReportTooOld,

    /// The report holds rows the tool cannot read (a resume would not know whom it may
    /// send to), or a hand-out cannot be made from it.
    ReportUnreadable,
    /// Anything else.
    Refused,
}

impl RefusalCode {
    pub fn as_str(self) -> &'static str {
        match self {
            RefusalCode::Usage => "usage",
            RefusalCode::Config => "config",
            RefusalCode::Input => "input",
            RefusalCode::Credentials => "credentials",
            RefusalCode::Policy => "policy",
            RefusalCode::ReportExists => "report_exists",
            RefusalCode::ReportLocked => "report_locked",
            RefusalCode::InputLocked => "input_locked",
            RefusalCode::NotConfirmed => "not_confirmed",
            RefusalCode::ReportUnwritable => "report_unwritable",
            RefusalCode::ReportMismatch => "report_mismatch",
            RefusalCode::ReportTooOld => "report_too_old",

            RefusalCode::ReportUnreadable => "report_unreadable",
            RefusalCode::Refused => "refused",
        }
    }
}

/// A refusal whose reason is not one of the typed errors of its own (`ConfigError`, an
/// input or credentials error): the words for the operator, and the machine word beside
/// them, carried together so that nobody has to read one from the other.
#[derive(Debug, thiserror::Error)]
#[error("{message}")]
pub struct Refused {
    pub code: RefusalCode,
    pub message: String,
}

impl Refused {
    pub fn new(code: RefusalCode, message: impl Into<String>) -> Refused {
        Refused {
            code,
            message: message.into(),
        }
    }
}
