//! Zoom's plans and their rate-limit labels (API-NOTES, "Rate limits"), in one place that
//! the limiter, the plan line, the containment step and the simulator all read. Each
//! label is a budget of its own per account, shared by every app on it: a job that calls
//! endpoints of two labels paces each with its own limiter. Password changes and the
//! listings are Medium; the SSO token revoke (`DELETE /users/{id}/token`) is Light; the
//! activity report (`GET /report/activities`) is Heavy.

use clap::ValueEnum;

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum, serde::Deserialize)]
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
    /// Zoom's Medium-label budget for the plan, in requests per second (API-NOTES).
    pub fn medium_per_second(self) -> u32 {
        match self {
            Plan::Free => 2,
            Plan::Pro => 20,
            Plan::Business => 60,
        }
    }

    /// Zoom's Medium-label daily limit, where the plan has one.
    pub fn medium_per_day(self) -> Option<u64> {
        match self {
            Plan::Free => Some(2000),
            _ => None,
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            Plan::Free => "free",
            Plan::Pro => "pro",
            Plan::Business => "business",
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
    match plan {
        Plan::Free => 4,
        Plan::Pro => 30,
        Plan::Business => 80,
    }
}

/// The Light label's daily limit, where the plan has one (free: 6000).
pub fn light_per_day(plan: Plan) -> Option<u64> {
    (plan == Plan::Free).then_some(6000)
}

/// The Heavy label's requests per second: free 1, pro 10, business 40.
pub fn heavy_per_second(plan: Plan) -> u32 {
    match plan {
        Plan::Free => 1,
        Plan::Pro => 10,
        Plan::Business => 40,
    }
}

/// The Heavy label's daily limit, where the plan has one (free: 1000).
pub fn heavy_per_day(plan: Plan) -> Option<u64> {
    (plan == Plan::Free).then_some(1000)
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

    #[test]
    fn per_plan() {
        assert_eq!(
            [Plan::Free, Plan::Pro, Plan::Business].map(light_per_second),
            [4, 30, 80]
        );
        assert_eq!(
            [Plan::Free, Plan::Pro, Plan::Business].map(heavy_per_second),
            [1, 10, 40]
        );
        assert_eq!(
            (light_per_day(Plan::Free), light_per_day(Plan::Pro)),
            (Some(6000), None)
        );
        assert_eq!(heavy_per_day(Plan::Free), Some(1000));
        assert_eq!(light_rate(Plan::Pro, 20.0), 30.0);
        assert_eq!(light_rate(Plan::Pro, 10.0), 15.0);
        assert_eq!(light_rate(Plan::Free, 1e9), 4.0);
    }
}
