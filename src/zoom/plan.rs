//! Zoom's plans and their rate-limit labels (API-NOTES, "Rate limits"), in one place that
//! the limiter, the plan line, the containment step and the simulator all read. Each
//! label is a budget of its own per account, shared by every app on it: a job that calls
//! endpoints of two labels paces each with its own limiter. Password changes and the
//! listings are Medium; the SSO token revoke (`DELETE /users/{id}/token`) is Light; the
//! activity report (`GET /report/activities`) is Heavy.
//!
//! The numbers live in one table, [`Label::per_second`] and [`Label::per_day`]; the
//! per-label helpers below it (`medium_per_second`, `light_per_day`...) only read it.

use clap::ValueEnum;
use serde::Deserialize;

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Plan {
    Free,
    Pro,
    /// Zoom's Business+ tier: Business, Education, Enterprise and Partner accounts share
    /// its budget (API-NOTES), so their names are accepted too, as the simulator does.
    #[value(alias = "education", alias = "enterprise", alias = "partner")]
    #[serde(alias = "education", alias = "enterprise", alias = "partner")]
    Business,
}

impl Plan {
    /// The plan a config file names, read exactly as a `plan = "..."` key is: lower case,
    /// with the Business+ aliases. None for any other name.
    pub fn parse(name: &str) -> Option<Plan> {
        use serde::de::value::{Error, StrDeserializer};
        Plan::deserialize(StrDeserializer::<Error>::new(name)).ok()
    }

    /// Zoom's Medium-label budget for the plan, in requests per second (API-NOTES).
    pub fn medium_per_second(self) -> u32 {
        Label::Medium.per_second(self)
    }

    /// Zoom's Medium-label daily limit, where the plan has one.
    pub fn medium_per_day(self) -> Option<u64> {
        Label::Medium.per_day(self)
    }

    pub fn name(self) -> &'static str {
        match self {
            Plan::Free => "free",
            Plan::Pro => "pro",
            Plan::Business => "business",
        }
    }
}

/// A rate-limit label: Zoom gives each endpoint one, and each label is a budget of its
/// own per account (API-NOTES).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Label {
    Light,
    Medium,
    Heavy,
}

impl Label {
    /// The label's requests per second on `plan` (API-NOTES, "Rate limits").
    pub fn per_second(self, plan: Plan) -> u32 {
        match (self, plan) {
            (Label::Light, Plan::Free) => 4,
            (Label::Light, Plan::Pro) => 30,
            (Label::Light, Plan::Business) => 80,
            (Label::Medium, Plan::Free) => 2,
            (Label::Medium, Plan::Pro) => 20,
            (Label::Medium, Plan::Business) => 60,
            (Label::Heavy, Plan::Free) => 1,
            (Label::Heavy, Plan::Pro) => 10,
            (Label::Heavy, Plan::Business) => 40,
        }
    }

    /// The label's requests per UTC day on `plan`, where it has a daily limit: only the
    /// free plan does.
    pub fn per_day(self, plan: Plan) -> Option<u64> {
        match (self, plan) {
            (Label::Light, Plan::Free) => Some(6000),
            (Label::Medium, Plan::Free) => Some(2000),
            (Label::Heavy, Plan::Free) => Some(1000),
            (_, Plan::Pro | Plan::Business) => None,
        }
    }

    /// The label as Zoom spells it in `X-RateLimit-Category`.
    pub fn name(self) -> &'static str {
        match self {
            Label::Light => "Light",
            Label::Medium => "Medium",
            Label::Heavy => "Heavy",
        }
    }
}

/// The slowest rate a run may ask for: one request every 100 s. Below it the spacing
/// between requests overflows what the limiter and the estimate can hold, and no job is
/// served by waiting longer than that between two users.
pub const MIN_RATE: f64 = 0.01;
/// The fastest: far above any Zoom plan (60/s), and below where pacing means anything.
pub const MAX_RATE: f64 = 100_000.0;

/// The Light label's requests per second: free 4, pro 30, business 80.
pub fn light_per_second(plan: Plan) -> u32 {
    Label::Light.per_second(plan)
}

/// The Light label's daily limit, where the plan has one (free: 6000).
pub fn light_per_day(plan: Plan) -> Option<u64> {
    Label::Light.per_day(plan)
}

/// The Heavy label's requests per second: free 1, pro 10, business 40.
pub fn heavy_per_second(plan: Plan) -> u32 {
    Label::Heavy.per_second(plan)
}

/// The Heavy label's daily limit, where the plan has one (free: 1000).
pub fn heavy_per_day(plan: Plan) -> Option<u64> {
    Label::Heavy.per_day(plan)
}

/// The Light rate for a job whose Medium rate is `medium` (its `--rate`, or the plan's):
/// the plan's Light budget scaled by the share of the Medium budget the job takes, so a
/// job told to leave room for other apps leaves the same room on both labels.
pub fn light_rate(plan: Plan, medium: f64) -> f64 {
    let share = (medium / f64::from(plan.medium_per_second())).min(1.0);
    (f64::from(light_per_second(plan)) * share).max(MIN_RATE)
}

#[cfg(test)]
mod unit {
    use super::*;

    const PLANS: [Plan; 3] = [Plan::Free, Plan::Pro, Plan::Business];

    #[test]
    fn per_plan() {
        assert_eq!(PLANS.map(light_per_second), [4, 30, 80]);
        assert_eq!(PLANS.map(heavy_per_second), [1, 10, 40]);
        assert_eq!(PLANS.map(Plan::medium_per_second), [2, 20, 60]);
        assert_eq!(PLANS.map(Plan::medium_per_day), [Some(2000), None, None]);
        assert_eq!(
            (light_per_day(Plan::Free), light_per_day(Plan::Pro)),
            (Some(6000), None)
        );
        assert_eq!(heavy_per_day(Plan::Free), Some(1000));
        assert_eq!(heavy_per_day(Plan::Business), None);
        assert_eq!(light_rate(Plan::Pro, 20.0), 30.0);
        assert_eq!(light_rate(Plan::Pro, 10.0), 15.0);
        assert_eq!(light_rate(Plan::Free, 1e9), 4.0);
    }

    #[test]
    fn names_parse_as_the_config_file_reads_them() {
        for plan in PLANS {
            assert_eq!(Plan::parse(plan.name()), Some(plan));
        }
        for alias in ["education", "enterprise", "partner"] {
            assert_eq!(Plan::parse(alias), Some(Plan::Business));
        }
        for other in ["gold", "Free", " pro", ""] {
            assert_eq!(Plan::parse(other), None, "{other:?}");
        }
        assert_eq!(
            [Label::Light, Label::Medium, Label::Heavy].map(Label::name),
            ["Light", "Medium", "Heavy"]
        );
    }
}
