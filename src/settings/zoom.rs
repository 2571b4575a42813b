//! The settings every command that talks to Zoom shares (`run` and `users`): where to
//! send (the API base, the token URL, or the built-in simulator), the plan and the rate,
//! the timeout and the retries. Resolved from [`ZoomArgs`] and config.toml by one
//! function, so the two commands cannot disagree on a rate or a URL, and neither reads
//! the other's flags: `users` is not refused for a `run`-only value.

use super::file::FileConfig;
use super::trust::{off_zoom, OffZoom};
use crate::cli::ZoomArgs;
use crate::pipeline::limiter::share;
use crate::simulator::SimConfig;
use crate::vocab::{bad, ConfigError};
use crate::zoom::plan::{Plan, MAX_RATE, MIN_RATE};
use crate::zoom::retry::RetrySettings;
use crate::zoom::url::{check_url, DEFAULT_TOKEN_URL};
use std::path::PathBuf;
use std::time::Duration;
use url::Url;

/// Where and how fast a command talks to Zoom, checked.
#[derive(Debug, Clone)]
pub struct ZoomSettings {
    /// The config file used (`None`: built-in defaults), for the plan to name.
    pub config: Option<PathBuf>,
    /// `None`: the OAuth token's `api_url`, else Zoom's default base.
    pub base_url: Option<Url>,
    pub token_url: Url,
    pub plan: Plan,
    /// The job's ceiling: `--rate`, or the share of the plan's budget (`limiter::share`).
    pub rate: f64,
    /// The share of the plan's budget that `rate` is (above 1 with `--rate-above-plan`).
    pub share: f64,
    /// The rate was given (`--rate`, its variable or `[rate] rate`), not derived from the
    /// share: the command that continues a run carries it as given.
    pub rate_given: bool,
    pub timeout: Duration,
    pub retry: RetrySettings,
    /// `--simulate`: the built-in simulator, configured by `simulator`.
    pub simulate: bool,
    pub simulator: SimConfig,
    /// The URLs config.toml moves off Zoom's hosts (and no flag or variable overrides),
    /// named in a warning whenever they are used (see `settings::trust`).
    pub off_zoom: Vec<OffZoom>,
}

/// The run-only rate flags `ZoomSettings` needs from `run` (a `users` listing has none).
#[derive(Debug, Clone, Copy, Default)]
pub struct RateFlags {
    pub budget_share: Option<f64>,
    pub rate_above_plan: bool,
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

impl ZoomSettings {
    /// The config file used, for the plan: its path, or that there was none.
    pub fn config_name(&self) -> String {
        match &self.config {
            Some(p) => p.display().to_string(),
            None => "none (built-in defaults)".to_string(),
        }
    }

    /// Warns of each URL config.toml moves off Zoom's hosts, naming the file, the key and
    /// the host: a planted config that passed `trust`'s checks is still seen. Called by
    /// every command that sends (`commands::target`), each time it sends.
    pub fn warn_off_zoom(&self) {
        let file = self.config_name();
        for o in &self.off_zoom {
            let local = if o.loopback {
                " (loopback: the simulator or a test stub, but any local user can listen there)"
            } else {
                ""
            };
            tracing::warn!(
                config = %file,
                key = o.key,
                host = %o.host,
                "config {file} sets {} to {}, which is not one of Zoom's hosts (zoom.us, zoomgov.com){local}: \
                 the credentials and every new password go there; if you did not set this, stop and check the file",
                o.key,
                o.host
            );
        }
    }

    /// Merges `args` (and `run`'s rate flags) over config.toml and checks every value.
    pub fn resolve(
        args: &ZoomArgs,
        flags: RateFlags,
        file: &FileConfig,
    ) -> Result<ZoomSettings, ConfigError> {
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
        // The URLs in effect that config.toml set (no flag or variable overrode them).
        let mut file_urls: Vec<(&'static str, &Url)> = Vec::new();
        if let (None, Some(_), Some(u)) = (&args.base_url, &file.api.base_url, &base_url) {
            file_urls.push(("api.base_url", u));
        }
        if let (None, Some(_)) = (&args.token_url, &file.api.token_url) {
            file_urls.push(("api.token_url", &token_url));
        }
        let off_zoom = off_zoom(file_urls);
        let (plan, rate, share) = rate(args, flags, file)?;
        let timeout_secs = file.api.timeout_secs.unwrap_or(30.0);
        if !(timeout_secs.is_finite() && (0.05..=600.0).contains(&timeout_secs)) {
            return Err(bad("api.timeout_secs", timeout_secs, "0.05 to 600 seconds"));
        }
        if let Err(e) = file.simulator.validate() {
            return Err(bad("simulator", "(section)", &e));
        }
        Ok(ZoomSettings {
            config: file.source.clone(),
            base_url,
            token_url,
            plan,
            rate: rate.0,
            share,
            rate_given: rate.1,
            timeout: Duration::from_secs_f64(timeout_secs),
            retry: retry(file)?,
            simulate: args.simulate,
            simulator: file.simulator.clone(),
            off_zoom,
        })
    }
}

/// The plan, the job's ceiling (and whether a rate was given) and its share of the plan.
fn rate(
    args: &ZoomArgs,
    flags: RateFlags,
    file: &FileConfig,
) -> Result<(Plan, (f64, bool), f64), ConfigError> {
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
    let ceiling = share::resolve(&share::Asked {
        plan,
        plan_given: args.plan.or(file.rate.plan).is_some(),
        rate,
        share: match (flags.budget_share, file.rate.share) {
            (Some(s), _) => Some((s, "--budget-share")),
            (None, Some(s)) => Some((s, "rate.share (config.toml)")),
            (None, None) => None,
        },
        above_plan: flags.rate_above_plan || file.rate.allow_above_plan.unwrap_or(false),
    })?;
    Ok((plan, (ceiling.rate, rate.is_some()), ceiling.share))
}

/// `[retry]`, checked.
fn retry(file: &FileConfig) -> Result<RetrySettings, ConfigError> {
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
    Ok(retry)
}
