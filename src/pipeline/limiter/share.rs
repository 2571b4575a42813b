//! The job's share of the account's budget: its ceiling from `--rate`, `--budget-share`
//! and the plan, the refusal of a rate above the plan, and the plan line's words for it.
//!
//! The rules, in order:
//! - `--rate` (or `[rate] rate`) is the ceiling when given, as the contract says
//!   ("overrides --plan"), but only up to the plan's Medium budget: the budget is the
//!   account's, every app on it shares it, and a rate above it floods them all. Above it
//!   the run is refused (exit 2, before anything is sent) unless the plan is larger
//!   (`--plan business`) or `--rate-above-plan` / `[rate] allow_above_plan = true` says
//!   the account's budget really is larger (a custom budget Zoom granted). The plan
//!   checked is the one the run uses, the default (`pro`) included: a new user typing
//!   `--rate 1000` is exactly who must be told.
//! - Otherwise the ceiling is `--budget-share` (or `[rate] share`, default
//!   [`DEFAULT_SHARE`] = 0.8) of the plan's budget: a nightly job leaves a fifth of the
//!   budget to SSO provisioning, calendar sync and the rest; an incident takes it all
//!   with `--budget-share 1`.
//!
//! Either way the controller (see `controller`) may settle lower when Zoom's answers
//! show that other apps use more than the job leaves them.

use crate::vocab::ConfigError;
use crate::zoom::plan::Plan;

/// The share of the plan's budget a job takes by default.
pub const DEFAULT_SHARE: f64 = 0.8;
/// The smallest share accepted.
pub const MIN_SHARE: f64 = 0.01;

/// The settings that decide the job's ceiling, as given.
#[derive(Debug, Clone, Copy)]
pub struct Asked<'a> {
    pub plan: Plan,
    /// Whether the plan was given (flag, environment or config.toml), for the message.
    pub plan_given: bool,
    /// A rate and where it came from (`--rate`, `rate.rate (config.toml)`), checked.
    pub rate: Option<(f64, &'a str)>,
    /// A share and where it came from.
    pub share: Option<(f64, &'a str)>,
    pub above_plan: bool,
}

/// The job's ceiling and the share it came from.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Ceiling {
    pub rate: f64,
    pub share: f64,
}

fn bad(field: &str, value: String, expected: String) -> ConfigError {
    ConfigError {
        field: field.to_string(),
        value,
        expected,
    }
}

/// The job's ceiling, or why the settings cannot be used.
pub fn resolve(asked: &Asked<'_>) -> Result<Ceiling, ConfigError> {
    let budget = f64::from(asked.plan.medium_per_second());
    let share = match asked.share {
        Some((s, field)) if !(s.is_finite() && (MIN_SHARE..=1.0).contains(&s)) => {
            return Err(bad(
                field,
                format!("{s:?}"),
                "a share of the account's budget from 0.01 to 1 (1 takes all of it)".into(),
            ))
        }
        Some((s, _)) => s,
        None => DEFAULT_SHARE,
    };
    let Some((rate, field)) = asked.rate else {
        return Ok(Ceiling {
            rate: budget * share,
            share,
        });
    };
    if rate > budget && !asked.above_plan {
        let which = if asked.plan_given {
            format!("the {} plan", asked.plan.name())
        } else {
            format!(
                "the {} plan (the default: no --plan was given)",
                asked.plan.name()
            )
        };
        let larger = match asked.plan {
            Plan::Business => String::new(),
            Plan::Pro => "give --plan business if the account is on it, or ".into(),
            Plan::Free => "give --plan pro or business if the account is on one, or ".into(),
        };
        return Err(bad(
            field,
            trim(rate),
            format!(
                "at most {} requests per second, the Medium budget of {which}, which every app on the account shares: {larger}pass --rate-above-plan (config: [rate] allow_above_plan = true) if the account's budget really is larger; nothing was sent",
                trim(budget)
            ),
        ));
    }
    Ok(Ceiling {
        rate,
        share: rate / budget,
    })
}

/// A rate as the plan line prints it: `20`, `0.50`.
pub fn trim(rate: f64) -> String {
    if rate.fract() == 0.0 {
        format!("{rate:.0}")
    } else {
        format!("{rate:.2}")
    }
}

/// The plan line's words for the job's share: how much of the budget it uses and how much
/// it leaves to other apps.
pub fn describe(plan: Plan, ceiling: f64) -> String {
    let budget = f64::from(plan.medium_per_second());
    let name = plan.name();
    if ceiling > budget {
        return format!(
            "{}/s is above the {name} plan's Medium budget of {}/s (--rate-above-plan): the job starts at {}/s and goes faster only while Zoom admits it, leaving nothing to other apps",
            trim(ceiling),
            trim(budget),
            trim(budget)
        );
    }
    let percent = (ceiling / budget * 100.0).round();
    let left = budget - ceiling;
    if left <= 1e-9 {
        format!("all of the {name} plan's Medium budget of {}/s, leaving nothing to other apps (it slows down when Zoom says they need some)", trim(budget))
    } else {
        format!(
            "{percent:.0}% of the {name} plan's Medium budget of {}/s, leaving {}/s to other apps (less if they need more)",
            trim(budget),
            trim(left)
        )
    }
}

#[cfg(test)]
mod unit {
    use super::*;

    fn asked(plan: Plan, rate: Option<f64>, share: Option<f64>, above: bool) -> Asked<'static> {
        Asked {
            plan,
            plan_given: false,
            rate: rate.map(|r| (r, "--rate")),
            share: share.map(|s| (s, "--budget-share")),
            above_plan: above,
        }
    }

    #[test]
    fn the_ceiling_is_the_rate_or_the_share_of_the_plan() {
        let c = |a| resolve(&a).map(|c| c.rate).map_err(|e| e.to_string());
        assert_eq!(c(asked(Plan::Pro, None, None, false)), Ok(16.0));
        assert_eq!(c(asked(Plan::Pro, None, Some(1.0), false)), Ok(20.0));
        assert_eq!(c(asked(Plan::Business, None, Some(0.5), false)), Ok(30.0));
        assert_eq!(c(asked(Plan::Pro, Some(20.0), Some(0.5), false)), Ok(20.0));
        assert_eq!(c(asked(Plan::Pro, Some(7.5), None, false)), Ok(7.5));
        assert_eq!(c(asked(Plan::Pro, Some(1000.0), None, true)), Ok(1000.0));
        assert_eq!(
            c(asked(Plan::Pro, None, Some(1.5), false)),
            Err("invalid --budget-share = 1.5: expected a share of the account's budget from 0.01 to 1 (1 takes all of it)".into())
        );
        assert!(c(asked(Plan::Pro, None, Some(f64::NAN), false)).is_err());
        assert_eq!(
            c(asked(Plan::Pro, Some(1000.0), None, false)),
            Err("invalid --rate = 1000: expected at most 20 requests per second, the Medium budget of the pro plan (the default: no --plan was given), which every app on the account shares: give --plan business if the account is on it, or pass --rate-above-plan (config: [rate] allow_above_plan = true) if the account's budget really is larger; nothing was sent".into())
        );
        let business = Asked {
            plan_given: true,
            ..asked(Plan::Business, Some(60.5), None, false)
        };
        assert_eq!(
            c(business),
            Err("invalid --rate = 60.50: expected at most 60 requests per second, the Medium budget of the business plan, which every app on the account shares: pass --rate-above-plan (config: [rate] allow_above_plan = true) if the account's budget really is larger; nothing was sent".into())
        );
    }

    #[test]
    fn the_plan_line_says_what_is_left_to_others() {
        assert_eq!(
            describe(Plan::Pro, 16.0),
            "80% of the pro plan's Medium budget of 20/s, leaving 4/s to other apps (less if they need more)"
        );
        assert_eq!(
            describe(Plan::Free, 2.0),
            "all of the free plan's Medium budget of 2/s, leaving nothing to other apps (it slows down when Zoom says they need some)"
        );
        assert_eq!(
            describe(Plan::Pro, 1000.0),
            "1000/s is above the pro plan's Medium budget of 20/s (--rate-above-plan): the job starts at 20/s and goes faster only while Zoom admits it, leaving nothing to other apps"
        );
    }
}
