//! Stage 2, the limiter: one pace for every request of the run, and one shared pause.
//!
//! Zoom counts the Medium budget per account, and the strictest plausible counter is a
//! sliding one-second window over arrivals. A governor GCRA limiter with a burst of 1
//! spaces the job's requests at least one period apart at the moment they leave. What
//! reaches Zoom is that spacing plus the request's own transit delay, and transit delays
//! differ from request to request (scheduling, connection reuse, a busy core). Any R+1
//! consecutive requests span R periods at the sender; at the server they span that plus
//! the difference of two transit delays. So the period is `(1 s + slack) / R`, where the
//! slack ([`PACING_SLACK`]) bounds that difference: R+1 requests then always span more
//! than one second, no sliding window holds more than R, and the cost is slack/(1 s + slack)
//! of the budget (1%).
//!
//! Two controls sit on top, both driven by Zoom's answers (see `workers`):
//! - a shared pause: a per-second 429 with `Retry-After` (or a backoff when it says
//!   nothing) pauses every worker, not just the one that was told;
//! - AIMD: per-second 429s mean someone else is drawing on the account's budget, so the
//!   job's rate is cut (multiplicative decrease) and recovered slowly (additive increase),
//!   never above the configured rate.

use governor::{DefaultDirectRateLimiter, Quota};
use std::sync::{Arc, Mutex, RwLock};
use std::time::Duration;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

/// The transit-delay difference the pacing absorbs; see the module comment.
pub const PACING_SLACK: Duration = Duration::from_millis(10);

/// The rate is never cut below this share of the configured rate.
const FLOOR_SHARE: f64 = 0.05;
/// Multiplicative decrease on a burst of per-second 429s.
const DECREASE: f64 = 0.7;
/// Additive increase, as a share of the configured rate, per quiet [`RECOVER_EVERY`].
const INCREASE_SHARE: f64 = 0.05;
const RECOVER_EVERY: Duration = Duration::from_secs(2);

struct Aimd {
    current: f64,
    last_change: Instant,
}

/// The run's rate limiter. Shared by every worker through an `Arc`.
pub struct Limiter {
    ceiling: f64,
    // Replaced whole when AIMD changes the rate: governor quotas are fixed at creation.
    pace: RwLock<Arc<DefaultDirectRateLimiter>>,
    aimd: Mutex<Aimd>,
    pause_until: Mutex<Option<Instant>>,
}

fn pace_for(rate: f64) -> DefaultDirectRateLimiter {
    let period = (Duration::from_secs(1) + PACING_SLACK).div_f64(rate);
    let quota =
        Quota::with_period(period.max(Duration::from_micros(1))).expect("period is positive");
    DefaultDirectRateLimiter::direct(quota)
}

impl Limiter {
    /// A limiter for `rate` requests per second (validated positive by `config`).
    pub fn new(rate: f64) -> Self {
        Limiter {
            ceiling: rate,
            pace: RwLock::new(Arc::new(pace_for(rate))),
            aimd: Mutex::new(Aimd {
                current: rate,
                last_change: Instant::now(),
            }),
            pause_until: Mutex::new(None),
        }
    }

    /// The rate the job is allowed now (below the configured one after 429s).
    pub fn effective_rate(&self) -> f64 {
        self.aimd.lock().unwrap().current
    }

    /// Waits for the shared pause to pass and then for the pace. Returns `false` if `stop`
    /// fired first: the caller must not send.
    pub async fn acquire(&self, stop: &CancellationToken) -> bool {
        loop {
            let until = *self.pause_until.lock().unwrap();
            match until {
                Some(t) if t > Instant::now() => {
                    tokio::select! {
                        _ = tokio::time::sleep_until(t) => continue,
                        _ = stop.cancelled() => return false,
                    }
                }
                _ => break,
            }
        }
        let pace = self.pace.read().unwrap().clone();
        tokio::select! {
            _ = pace.until_ready() => !stop.is_cancelled(),
            _ = stop.cancelled() => false,
        }
    }

    /// Pauses every worker for `wait` (extends, never shortens, a pause in force).
    pub fn pause_for(&self, wait: Duration) {
        let until = Instant::now() + wait;
        let mut p = self.pause_until.lock().unwrap();
        if p.is_none_or(|t| t < until) {
            *p = Some(until);
        }
    }

    /// A per-second 429: cut the rate, at most once a second (one burst of 429s is one
    /// signal, not many).
    pub fn throttled(&self) {
        let mut a = self.aimd.lock().unwrap();
        if a.last_change.elapsed() < Duration::from_secs(1) && a.current < self.ceiling {
            return;
        }
        let next = (a.current * DECREASE).max(self.ceiling * FLOOR_SHARE);
        self.set(&mut a, next);
    }

    /// A request went through: recover the rate slowly once quiet for a while.
    pub fn succeeded(&self) {
        let mut a = self.aimd.lock().unwrap();
        if a.current >= self.ceiling || a.last_change.elapsed() < RECOVER_EVERY {
            return;
        }
        let next = (a.current + self.ceiling * INCREASE_SHARE).min(self.ceiling);
        self.set(&mut a, next);
    }

    fn set(&self, a: &mut Aimd, rate: f64) {
        a.current = rate;
        a.last_change = Instant::now();
        let pace = pace_for(rate);
        // Spend the fresh limiter's first cell, so its first release is one period after
        // the swap rather than at once, right behind the old limiter's last.
        let _ = pace.check();
        *self.pace.write().unwrap() = Arc::new(pace);
        tracing::info!(rate = format!("{rate:.2}"), "effective rate changed");
    }
}

#[cfg(test)]
mod unit {
    use super::*;

    #[tokio::test]
    async fn spacing_is_at_least_one_period() {
        let l = Limiter::new(50.0);
        let stop = CancellationToken::new();
        let start = std::time::Instant::now();
        for _ in 0..11 {
            assert!(l.acquire(&stop).await);
        }
        // 11 releases span 10 periods of 1.01 s / 50.
        assert!(start.elapsed() >= Duration::from_millis(200));
    }

    #[test]
    fn aimd_cuts_and_recovers_within_bounds() {
        let l = Limiter::new(20.0);
        l.throttled();
        assert!((l.effective_rate() - 14.0).abs() < 1e-9);
        l.throttled(); // same second: one signal
        assert!((l.effective_rate() - 14.0).abs() < 1e-9);
        l.succeeded(); // too soon to recover
        assert!((l.effective_rate() - 14.0).abs() < 1e-9);
    }
}
