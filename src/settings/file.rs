//! config.toml as written: plain data, every section optional, unknown keys refused (a
//! typo never silently falls back to a default). It is read once per command, by
//! [`FileConfig::load`], and handed to the resolution; nothing else opens it. It is read
//! only when nobody but root or the running user can change it (`trust`).

use super::search;
use crate::cli::LogFormat;
use crate::simulator::SimConfig;
use crate::zoom::client::BodyFormat;
use crate::zoom::plan::Plan;
use serde::Deserialize;
use std::path::{Path, PathBuf};

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
    /// The oldest first run a `--resume` continues, in days.
    pub max_age_days: Option<u32>,
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
    /// `--metrics-file`'s default.
    pub metrics_file: Option<PathBuf>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct GenerateSection {
    pub length: Option<usize>,
}

impl FileConfig {
    /// Reads `path`, or the first file of the search (see `search`), or nothing; a file
    /// that someone else could have written is refused (see `trust`).
    pub fn load(path: Option<&Path>) -> Result<FileConfig, ConfigFileError> {
        let Some(path) = path.map(Path::to_path_buf).or_else(search::find) else {
            return Ok(FileConfig::default());
        };
        let text = super::trust::read_trusted(&path).map_err(ConfigFileError)?;
        let mut file: FileConfig = toml::from_str(&text)
            .map_err(|e| ConfigFileError(format!("invalid config {}: {e}", path.display())))?;
        file.source = Some(path);
        Ok(file)
    }
}
