//! Retry and backoff, once for every caller that asks Zoom again: the workers' rows, the
//! listing's pages, the settings read and the token endpoint. [`RetrySettings`] is
//! `[retry]` checked; [`backoff`] is the one doubling-with-a-cap every one of them waits.

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
