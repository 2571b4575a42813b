//! Stage 2, the limiter: one pace for every request of the run, and one shared pause.
//!
//! Zoom counts the Medium budget per account, and the strictest plausible counter is a
//! sliding one-second window over arrivals. The pacing that fills it without tripping it:
//!
//! - A governor GCRA limiter releases requests one period T apart, with a burst B: over
//!   any span L it releases at most B + L/T requests.
//! - What reaches Zoom is that, shifted by each request's transit delay, and transit
//!   delays differ (scheduling, connection reuse, a busy core). If they differ by at most
//!   J, a one-second window at Zoom holds what the limiter released in 1 s + J.
//! - So with T = (1 s + S)/R for a slack S, a window holds at most B + R(1 s + J)/(1 s + S),
//!   which stays within R as long as B ≤ R(S − J)/(1 s + S).
//! - S = [`PACING_SLACK`] (10 ms) costs S/(1 s + S) ≈ 1% of the budget. J =
//!   [`TRANSIT_JITTER`] (5 ms) is what the slack absorbs. The burst is what is left,
//!   floor(R(S − J)/(1 s + S)), at least 1: 1 up to 201/s, 2 at 500/s. A burst above 1
//!   lets the limiter catch up a release that woke late, which at a 2 ms period would
//!   otherwise lose several percent of the budget to timer latency.
//! - Waiters queue on a FIFO gate, so one release wakes one waiter, not all of them.
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

/// The share of each second the pacing leaves unused; see the module comment.
pub const PACING_SLACK: Duration = Duration::from_millis(10);
/// The spread of transit delays the slack absorbs; see the module comment.
pub const TRANSIT_JITTER: Duration = Duration::from_millis(5);

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
    /// One waiter at a time on the pace (FIFO): a release wakes one task, not every
    /// worker waiting for its turn.
    gate: tokio::sync::Mutex<()>,
}

/// The burst for `rate`: see the module comment.
pub fn burst_for(rate: f64) -> u32 {
    let second = Duration::from_secs(1).as_secs_f64();
    let room =
        (PACING_SLACK - TRANSIT_JITTER).as_secs_f64() / (second + PACING_SLACK.as_secs_f64());
    ((rate * room).floor() as u32).max(1)
}

fn pace_for(rate: f64) -> DefaultDirectRateLimiter {
    let period = (Duration::from_secs(1) + PACING_SLACK).div_f64(rate);
    let burst = std::num::NonZeroU32::new(burst_for(rate)).expect("at least 1");
    let quota = Quota::with_period(period.max(Duration::from_micros(1)))
        .expect("period is positive")
        .allow_burst(burst);
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
            gate: tokio::sync::Mutex::new(()),
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
        tokio::select! {
            _ = async {
                let _turn = self.gate.lock().await;
                let pace = self.pace.read().unwrap().clone();
                pace.until_ready().await;
            } => !stop.is_cancelled(),
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
        // Spend the fresh limiter's burst, so its first release is one period after the
        // swap rather than at once, right behind the old limiter's last.
        for _ in 0..burst_for(rate) {
            let _ = pace.check();
        }
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
    fn burst_leaves_room_for_transit_jitter() {
        assert_eq!(burst_for(2.0), 1);
        assert_eq!(burst_for(60.0), 1);
        assert_eq!(burst_for(500.0), 2);
        // The bound of the module comment: B + R(1 s + J)/(1 s + S) <= R.
        for rate in [2.0, 20.0, 60.0, 500.0, 1000.0, 5000.0] {
            let worst = burst_for(rate) as f64 + rate * 1.005 / 1.010;
            assert!(
                worst <= rate + 1e-9 || burst_for(rate) == 1,
                "{rate}: {worst}"
            );
        }
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
