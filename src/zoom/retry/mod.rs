//! Retry and backoff, once for every caller that asks Zoom again. [`RetrySettings`] is
//! `[retry]` checked; [`backoff`] is the one doubling-with-a-cap every caller waits. Each
//! caller's rules are a pure policy here, `state + event → next step`, so every answer in
//! every state is table-tested and the async code is only the loop that carries the steps
//! out:
//!
//! - [`listing`]: one page of `GET /users` or `/groups/{id}/members` (429 per-second or
//!   daily, 5xx, no answer, a 401 renewed once, an expired page token);
//! - [`settings_read`]: `GET /accounts/me/settings`, read once before a run (a 401 is the
//!   run's end, anything else falls back to the basic password rules);
//! - [`token_start`]: the first request to the token endpoint (a blip is asked again, a
//!   refusal is final).
//!
//! The workers' rows have the richest rules (same-password retries, shared pauses, the
//! run's stop): their policy is the pipeline's (`pipeline::workers::policy`), and waits the
//! same [`backoff`], jittered. Nothing here reads a clock, draws a random number or sends
//! a request: a moment or a jitter a policy needed would come in as a value.

pub mod listing;
pub mod settings_read;
pub mod token_start;

use std::time::Duration;

/// How retries are paced (`[retry]`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RetrySettings {
    /// Tries per row that may fail without an answer (or with a 5xx).
    pub attempts: u32,
    pub base_delay: Duration,
    pub max_delay: Duration,
}

/// The backoff before try `n + 1` (n ≥ 1): `base · 2^(n−1)`, at most `max`.
pub fn backoff(retry: &RetrySettings, n: u32) -> Duration {
    let factor = 1u32.checked_shl(n.saturating_sub(1)).unwrap_or(u32::MAX);
    retry.base_delay.saturating_mul(factor).min(retry.max_delay)
}

#[cfg(test)]
mod unit {
    use super::*;

    #[test]
    fn backoff_doubles_and_is_capped_without_overflow() {
        let r = RetrySettings {
            attempts: 5,
            base_delay: Duration::from_millis(500),
            max_delay: Duration::from_secs(30),
        };
        assert_eq!(backoff(&r, 0), Duration::from_millis(500));
        assert_eq!(backoff(&r, 1), Duration::from_millis(500));
        assert_eq!(backoff(&r, 3), Duration::from_secs(2));
        assert_eq!(backoff(&r, 40), Duration::from_secs(30));
        assert_eq!(backoff(&r, u32::MAX), Duration::from_secs(30));
    }

    #[test]
    fn a_huge_cap_still_saturates() {
        let r = RetrySettings {
            attempts: 1,
            base_delay: Duration::from_secs(u64::MAX / 2),
            max_delay: Duration::MAX,
        };
        assert_eq!(backoff(&r, 1), Duration::from_secs(u64::MAX / 2));
        assert_eq!(backoff(&r, 3), Duration::MAX);
    }
}
