//! The outcomes a row can end in, exactly as CONTRACT.md's "Outcomes" table names them,
//! and which of them a `--resume` treats as final. How a Zoom answer maps onto one is
//! Zoom's business (`zoom::outcome`); this is only the word the report, the summary,
//! `status` and the exit code share.

use std::fmt;
use std::str::FromStr;

/// One row's final state, exactly as the report spells it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Outcome {
    Changed,
    /// With `--contain-sso`: a user without a Zoom password whose SSO token was revoked.
    SsoRevoked,
    SameAsOld,
    ChangeLimit24h,
    UserNotFound,
    PolicyRejected,
    Rejected,
    AuthFailed,
    RateLimited,
    Failed,
    InvalidInput,
    NotAttempted,
    DryRun,
}

impl Outcome {
    pub const ALL: [Outcome; 13] = [
        Outcome::Changed,
        Outcome::SsoRevoked,
        Outcome::SameAsOld,
        Outcome::ChangeLimit24h,
        Outcome::UserNotFound,
        Outcome::PolicyRejected,
        Outcome::Rejected,
        Outcome::AuthFailed,
        Outcome::RateLimited,
        Outcome::Failed,
        Outcome::InvalidInput,
        Outcome::NotAttempted,
        Outcome::DryRun,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Outcome::Changed => "changed",
            Outcome::SsoRevoked => "sso_revoked",
            Outcome::SameAsOld => "same_as_old",
            Outcome::ChangeLimit24h => "change_limit_24h",
            Outcome::UserNotFound => "user_not_found",
            Outcome::PolicyRejected => "policy_rejected",
            Outcome::Rejected => "rejected",
            Outcome::AuthFailed => "auth_failed",
            Outcome::RateLimited => "rate_limited",
            Outcome::Failed => "failed",
            Outcome::InvalidInput => "invalid_input",
            Outcome::NotAttempted => "not_attempted",
            Outcome::DryRun => "dry_run",
        }
    }

    /// Final on `--resume`: the user is skipped. `change_limit_24h` is final only until
    /// its row is 24 hours old, which `resume` decides from `finished_at`.
    pub fn is_final(self) -> bool {
        matches!(
            self,
            Outcome::Changed
                | Outcome::SsoRevoked
                | Outcome::SameAsOld
                | Outcome::UserNotFound
                | Outcome::PolicyRejected
                | Outcome::Rejected
        )
    }
}

impl Outcome {
    /// Done as an incident wants it: the password changed, or (under `--contain-sso`)
    /// the user without one signed out. Every other final outcome still needs a person.
    pub fn is_done(self) -> bool {
        matches!(self, Outcome::Changed | Outcome::SsoRevoked)
    }
}

impl fmt::Display for Outcome {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Outcome {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        Outcome::ALL
            .into_iter()
            .find(|o| o.as_str() == s)
            .ok_or_else(|| format!("unknown outcome {s:?}"))
    }
}
