//! The simulator's settings: the `[simulator]` section of config.toml. Plain data with
//! Zoom-like defaults (Pro plan, the `sim-*` credentials of CONTRACT.md, no latency, no
//! faults), checked once by [`SimConfig::validate`] before the simulator starts so the
//! handlers never re-check them.

use std::path::PathBuf;

use serde::{Deserialize, Serialize};

use crate::zoom::plan::{Label, Plan};
use crate::zoom::rules::PasswordPolicy;

/// Where the demo account comes from when neither `users_file` nor `generate_users` is set.
pub const DEFAULT_USERS_FILE: &str = "fixtures/simulator-users.csv";

/// How a 429 spells `Retry-After`. Zoom has sent an ISO-8601 timestamp; RFC 9110 allows
/// seconds or an HTTP-date; some daily 429s carried none. A client must survive all four.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum RetryAfterFormat {
    /// Whole seconds to wait, rounded up: `1`.
    #[default]
    Seconds,
    /// A UTC timestamp at second precision: `2026-11-30T00:00:00Z`.
    Iso8601,
    /// An RFC 9110 IMF-fixdate: `Mon, 30 Nov 2026 00:00:00 GMT`.
    HttpDate,
    /// No `Retry-After` header at all.
    Absent,
}

/// The `[simulator]` section. Every field has a default, so an empty section (or none)
/// gives the demo account of `fixtures/simulator-users.csv` on a Pro plan.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct SimConfig {
    /// CSV of users (`id,email,password,role,changes_24h,recent_passwords`, and optionally
    /// `login_types,status,type,dept,last_login,groups`: see `directory`). None: the
    /// demo fixture, from the working directory when it exists, else the built-in copy.
    pub users_file: Option<PathBuf>,
    /// Generate this many members (for benchmarks). Without `users_file`, the account
    /// holds only the generated users.
    pub generate_users: Option<u32>,
    /// E-mail of generated user n (1-based); must contain `{n}`. Their ids are `u{n}`.
    pub user_pattern: String,
    /// Zoom plan: `free`, `pro` or `business` (`education`, `enterprise`, `partner` are
    /// the same tier), read as [`Plan`] reads a plan name. Its budgets per label are
    /// Zoom's, from [`Label`]: the simulator never restates them. Kept as the name given,
    /// so the banner shows it as written and tests can set it from a string.
    pub plan: String,
    /// Medium requests per second, overriding the plan's.
    pub qps: Option<u32>,
    /// Medium requests per day (UTC), overriding the plan's (only free has a daily limit).
    pub daily_limit: Option<u64>,
    pub retry_after: RetryAfterFormat,
    /// Send daily 429s without `X-RateLimit-Type` and `Retry-After`, as Zoom has done.
    pub omit_daily_headers: bool,
    /// Changes allowed per user in any 24 hours (an admin setting at Zoom); 0 = no limit.
    pub change_limit_24h: u32,
    /// How many previous passwords (the current one aside) may not be reused; 0 = off.
    pub password_history: u32,
    /// The account's enhanced rules, as the settings endpoint reports them.
    pub password_requirement: PasswordPolicy,
    /// Answer the settings endpoint with 403/4700, like a token without `account:read:admin`.
    pub settings_forbidden: bool,
    /// A bearer token that is always accepted and never expires.
    pub access_token: String,
    /// Server-to-Server OAuth credentials the token endpoint accepts.
    pub account_id: String,
    pub client_id: String,
    pub client_secret: String,
    /// Lifetime of a granted token, on the simulator clock.
    pub token_lifetime_secs: u64,
    /// A granted token stops working after this many API requests (tests of re-auth).
    pub token_max_uses: Option<u64>,
    /// Processing time of every budgeted request, plus uniform jitter in `0..=jitter_ms`.
    pub latency_ms: u64,
    pub jitter_ms: u64,
    /// Probability that a password change answers 502 with an HTML body, not applied.
    pub fault_5xx: f64,
    /// Probability that the connection closes with no answer, not applied.
    pub fault_drop_before: f64,
    /// Probability that the change is applied, then the connection closes with no answer.
    pub fault_drop_after: f64,
    /// Probability that the change is applied and the answer held back `slow_ms`.
    pub fault_slow: f64,
    pub slow_ms: u64,
    /// Seed of the latency and fault draws: the same seed and the same request order give
    /// the same faults.
    pub seed: u64,
    /// Light-label requests per second (the SSO token revoke), overriding the plan's.
    pub light_qps: Option<u32>,
    /// Light-label requests per UTC day, overriding the plan's (only free has one).
    pub light_daily_limit: Option<u64>,
    /// How long a `next_page_token` stays valid, on the simulator clock (Zoom: 15 min).
    pub page_token_lifetime_secs: u64,
    /// Answer `GET /report/activities` with 403/4700, like a token without the report
    /// scope.
    pub activities_forbidden: bool,
    /// Other apps on the account (see `neighbours`): a steady consumer of this many
    /// Medium requests per second (0 = none)...
    pub other_app_qps: f64,
    /// ...and a bursty one that sends this many at once (0 = none)...
    pub other_app_burst: u32,
    /// ...every this many seconds.
    pub other_app_burst_every_secs: f64,
    /// The other apps are HTTP clients of the simulator on loopback: each of their
    /// requests leaves on schedule and arrives this many ms later...
    pub other_app_latency_ms: u64,
    /// ...plus a uniform 0 to this many ms (drawn per request, seeded), so their arrivals
    /// in the one-second window are as jittered as a real neighbour's.
    pub other_app_jitter_ms: u64,
}

impl Default for SimConfig {
    fn default() -> Self {
        SimConfig {
            users_file: None,
            generate_users: None,
            user_pattern: "user{n}@example.com".into(),
            plan: "pro".into(),
            qps: None,
            daily_limit: None,
            retry_after: RetryAfterFormat::Seconds,
            omit_daily_headers: false,
            change_limit_24h: 3,
            password_history: 3,
            password_requirement: PasswordPolicy::default(),
            settings_forbidden: false,
            access_token: "sim-token".into(),
            account_id: "sim-account".into(),
            client_id: "sim-client".into(),
            client_secret: "sim-secret".into(),
            token_lifetime_secs: 3600,
            token_max_uses: None,
            latency_ms: 0,
            jitter_ms: 0,
            fault_5xx: 0.0,
            fault_drop_before: 0.0,
            fault_drop_after: 0.0,
            fault_slow: 0.0,
            slow_ms: 30_000,
            seed: 1,
            light_qps: None,
            light_daily_limit: None,
            page_token_lifetime_secs: 900,
            activities_forbidden: false,
            other_app_qps: 0.0,
            other_app_burst: 0,
            other_app_burst_every_secs: 30.0,
            other_app_latency_ms: 25,
            other_app_jitter_ms: 50,
        }
    }
}

/// What the "at least 1" errors below expect, by kind of field.
const OR_NO_LIMIT: &str = "at least 1 (leave it out for no limit)";
const PER_SECOND: &str = "at least 1 request per second";
const ONE_SECOND: &str = "at least 1 second";

/// `name: expected {expected}` when `value` is 0: the one check every count, limit and
/// lifetime below shares (an absent optional one is no limit, never 0).
fn at_least_one(name: &str, value: Option<u64>, expected: &str) -> Result<(), String> {
    match value {
        Some(0) => Err(format!("{name}: expected {expected}")),
        _ => Ok(()),
    }
}

impl SimConfig {
    /// Checks every field; the error names the field and what was expected. The checks
    /// run in a fixed order, so a section with several mistakes always reports the same
    /// one first.
    pub fn validate(&self) -> Result<(), String> {
        if Plan::parse(&self.plan).is_none() {
            return Err(format!(
                "plan: expected free, pro or business (or education, enterprise, partner), got {:?}",
                self.plan
            ));
        }
        at_least_one("qps", self.qps.map(u64::from), PER_SECOND)?;
        at_least_one("daily_limit", self.daily_limit, OR_NO_LIMIT)?;
        let none = "at least 1 (leave it out for none)";
        at_least_one("generate_users", self.generate_users.map(u64::from), none)?;
        if !self.user_pattern.contains("{n}") {
            return Err(format!(
                "user_pattern: expected a pattern containing {{n}}, got {:?}",
                self.user_pattern
            ));
        }
        self.validate_credentials()?;
        at_least_one("light_qps", self.light_qps.map(u64::from), PER_SECOND)?;
        at_least_one("light_daily_limit", self.light_daily_limit, OR_NO_LIMIT)?;
        let page_token = Some(self.page_token_lifetime_secs);
        at_least_one("page_token_lifetime_secs", page_token, ONE_SECOND)?;
        let token = Some(self.token_lifetime_secs);
        at_least_one("token_lifetime_secs", token, ONE_SECOND)?;
        at_least_one("token_max_uses", self.token_max_uses, OR_NO_LIMIT)?;
        // The same check the run applies to the account's real settings (rules.rs).
        self.password_requirement
            .validate()
            .map_err(|e| format!("password_requirement.{e}"))?;
        self.validate_fault_each()?;
        self.validate_other_apps()?;
        self.validate_fault_total()
    }

    fn validate_credentials(&self) -> Result<(), String> {
        for (name, value) in [
            ("access_token", &self.access_token),
            ("account_id", &self.account_id),
            ("client_id", &self.client_id),
            ("client_secret", &self.client_secret),
        ] {
            if value.is_empty() {
                return Err(format!("{name}: expected a non-empty string"));
            }
        }
        Ok(())
    }

    /// The fault probabilities, in the order `Sim::draw` (in `state`) stacks them.
    fn faults(&self) -> [(&'static str, f64); 4] {
        [
            ("fault_5xx", self.fault_5xx),
            ("fault_drop_before", self.fault_drop_before),
            ("fault_drop_after", self.fault_drop_after),
            ("fault_slow", self.fault_slow),
        ]
    }

    fn validate_fault_each(&self) -> Result<(), String> {
        for (name, p) in self.faults() {
            if !(0.0..=1.0).contains(&p) {
                return Err(format!(
                    "{name}: expected a probability from 0.0 to 1.0, got {p}"
                ));
            }
        }
        Ok(())
    }

    /// The faults share one draw per request, so together they are one probability too.
    fn validate_fault_total(&self) -> Result<(), String> {
        let total: f64 = self.faults().iter().map(|(_, p)| p).sum();
        if total > 1.0 + 1e-9 {
            return Err(format!(
                "fault_5xx + fault_drop_before + fault_drop_after + fault_slow: expected at most 1.0 in all, got {total}"
            ));
        }
        Ok(())
    }

    fn validate_other_apps(&self) -> Result<(), String> {
        if !(self.other_app_qps.is_finite() && (0.0..=100_000.0).contains(&self.other_app_qps)) {
            return Err(format!(
                "other_app_qps: expected 0 (none) to 100000 requests per second, got {}",
                self.other_app_qps
            ));
        }
        let every = self.other_app_burst_every_secs;
        if !(every.is_finite() && (0.01..=86_400.0).contains(&every)) {
            return Err(format!(
                "other_app_burst_every_secs: expected 0.01 to 86400 seconds, got {every}"
            ));
        }
        if self.other_app_burst > 100_000 {
            return Err(format!(
                "other_app_burst: expected 0 (none) to 100000 requests, got {}",
                self.other_app_burst
            ));
        }
        let delay = self.other_app_latency_ms.max(self.other_app_jitter_ms);
        if delay > 60_000 {
            return Err(format!(
                "other_app_latency_ms, other_app_jitter_ms: expected 0 to 60000 ms each, got {delay}"
            ));
        }
        Ok(())
    }

    /// The plan, read by Zoom's own [`Plan::parse`]. [`SimConfig::validate`] refuses any
    /// other name before the simulator starts, so the fallback (the default plan, pro)
    /// never sets a running simulator's budgets.
    fn zoom_plan(&self) -> Plan {
        Plan::parse(&self.plan).unwrap_or(Plan::Pro)
    }

    /// Requests per second the account's Medium budget admits.
    pub fn effective_qps(&self) -> u32 {
        self.qps
            .unwrap_or_else(|| Label::Medium.per_second(self.zoom_plan()))
    }

    /// The Light budget: requests per second and per UTC day (None = unlimited).
    pub fn effective_light(&self) -> (u32, Option<u64>) {
        let plan = self.zoom_plan();
        (
            self.light_qps
                .unwrap_or_else(|| Label::Light.per_second(plan)),
            self.light_daily_limit.or(Label::Light.per_day(plan)),
        )
    }

    /// The Heavy budget (the activity report), the plan's.
    pub fn effective_heavy(&self) -> (u32, Option<u64>) {
        let plan = self.zoom_plan();
        (Label::Heavy.per_second(plan), Label::Heavy.per_day(plan))
    }

    /// Requests per UTC day the Medium budget admits; None = unlimited.
    pub fn effective_daily_limit(&self) -> Option<u64> {
        self.daily_limit
            .or_else(|| Label::Medium.per_day(self.zoom_plan()))
    }
}

#[cfg(test)]
mod unit {
    use super::*;

    #[test]
    fn defaults_are_valid_and_pro() {
        let c = SimConfig::default();
        assert_eq!(c.validate(), Ok(()));
        assert_eq!((c.effective_qps(), c.effective_daily_limit()), (20, None));
    }

    #[test]
    fn plans_and_overrides() {
        let free = SimConfig {
            plan: "free".into(),
            ..SimConfig::default()
        };
        assert_eq!(
            (free.effective_qps(), free.effective_daily_limit()),
            (2, Some(2000))
        );
        let custom = SimConfig {
            plan: "business".into(),
            qps: Some(7),
            daily_limit: Some(9),
            ..SimConfig::default()
        };
        assert_eq!(
            (custom.effective_qps(), custom.effective_daily_limit()),
            (7, Some(9))
        );
    }

    #[test]
    fn errors_name_the_field() {
        let bad = |c: SimConfig| c.validate().unwrap_err();
        let d = SimConfig::default;
        assert!(bad(SimConfig {
            plan: "gold".into(),
            ..d()
        })
        .starts_with("plan:"));
        assert!(bad(SimConfig {
            fault_slow: 1.5,
            ..d()
        })
        .starts_with("fault_slow:"));
        assert!(bad(SimConfig {
            fault_5xx: 0.6,
            fault_drop_after: 0.6,
            ..d()
        })
        .contains("at most 1.0"));
        assert!(bad(SimConfig {
            user_pattern: "x".into(),
            ..d()
        })
        .starts_with("user_pattern:"));
        assert_eq!(
            bad(SimConfig {
                password_requirement: PasswordPolicy {
                    consecutive_characters_length: 1,
                    ..PasswordPolicy::default()
                },
                ..d()
            }),
            "password_requirement.consecutive_characters_length = 1: expected 0 (off) or 4 to 8"
        );
    }

    #[test]
    fn plan_names_are_zooms_and_so_are_their_budgets() {
        let on = |plan: &str| SimConfig {
            plan: plan.into(),
            ..SimConfig::default()
        };
        for alias in ["education", "enterprise", "partner"] {
            let c = on(alias);
            assert_eq!(c.validate(), Ok(()));
            assert_eq!(
                (c.effective_qps(), c.effective_light(), c.effective_heavy()),
                (60, (80, None), (40, None))
            );
        }
        let free = on("free");
        assert_eq!(
            (free.effective_light(), free.effective_heavy()),
            ((4, Some(6000)), (1, Some(1000)))
        );
        let light = SimConfig {
            light_qps: Some(3),
            light_daily_limit: Some(5),
            ..on("pro")
        };
        assert_eq!(light.effective_light(), (3, Some(5)));
        assert_eq!(on("pro").effective_heavy(), (10, None));
        assert!(on("Pro").validate().is_err());
    }

    /// One mistake set on the defaults, and the whole text of its refusal.
    type Case = (fn(&mut SimConfig), &'static str);

    /// Every refusal's text, whole: what an operator reads after `[simulator] `.
    #[test]
    fn every_error_text() {
        let d = SimConfig::default;
        let cases: [Case; 16] = [
            (|c| c.plan = "gold".into(), "plan: expected free, pro or business (or education, enterprise, partner), got \"gold\""),
            (|c| c.qps = Some(0), "qps: expected at least 1 request per second"),
            (|c| c.daily_limit = Some(0), "daily_limit: expected at least 1 (leave it out for no limit)"),
            (|c| c.generate_users = Some(0), "generate_users: expected at least 1 (leave it out for none)"),
            (|c| c.user_pattern = "u".into(), "user_pattern: expected a pattern containing {n}, got \"u\""),
            (|c| c.client_id = String::new(), "client_id: expected a non-empty string"),
            (|c| c.light_qps = Some(0), "light_qps: expected at least 1 request per second"),
            (|c| c.light_daily_limit = Some(0), "light_daily_limit: expected at least 1 (leave it out for no limit)"),
            (|c| c.page_token_lifetime_secs = 0, "page_token_lifetime_secs: expected at least 1 second"),
            (|c| c.token_lifetime_secs = 0, "token_lifetime_secs: expected at least 1 second"),
            (|c| c.token_max_uses = Some(0), "token_max_uses: expected at least 1 (leave it out for no limit)"),
            (|c| c.fault_5xx = -0.5, "fault_5xx: expected a probability from 0.0 to 1.0, got -0.5"),
            (|c| c.other_app_qps = f64::NAN, "other_app_qps: expected 0 (none) to 100000 requests per second, got NaN"),
            (|c| c.other_app_burst_every_secs = 0.0, "other_app_burst_every_secs: expected 0.01 to 86400 seconds, got 0"),
            (|c| c.other_app_burst = 100_001, "other_app_burst: expected 0 (none) to 100000 requests, got 100001"),
            (|c| { c.fault_slow = 0.5; c.fault_drop_before = 0.75; }, "fault_5xx + fault_drop_before + fault_drop_after + fault_slow: expected at most 1.0 in all, got 1.25"),
        ];
        for (set, expected) in cases {
            let mut config = d();
            set(&mut config);
            assert_eq!(config.validate().unwrap_err(), expected);
        }
        // Several mistakes: the first in the fixed order is the one reported.
        let two = SimConfig {
            fault_5xx: 0.9,
            fault_slow: 0.9,
            other_app_burst: 100_001,
            ..d()
        };
        assert!(two.validate().unwrap_err().starts_with("other_app_burst:"));
    }

    #[test]
    fn toml_section_round_trip() {
        let c: SimConfig = toml::from_str(
            "plan = \"free\"\nretry_after = \"http-date\"\n[password_requirement]\nminimum_password_length = 10\n",
        )
        .unwrap();
        assert_eq!(c.retry_after, RetryAfterFormat::HttpDate);
        assert_eq!(c.password_requirement.minimum_password_length, 10);
        assert!(toml::from_str::<SimConfig>("qsp = 3").is_err());
        let iso: SimConfig = toml::from_str("retry_after = \"iso8601\"").unwrap();
        assert_eq!(iso.retry_after, RetryAfterFormat::Iso8601);
    }
}
