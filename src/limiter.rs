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
//! - What holds, then. Where the floor is at least 1 (R ≥ (1 s + S)/(S − J) = 202/s),
//!   B + R(1 s + J)/(1 s + S) ≤ R(S − J)/(1 s + S) + R(1 s + J)/(1 s + S) = R: the bound
//!   itself is within the budget. Below that B is forced to 1 and the bound is
//!   1 + R(1 s + J)/(1 s + S) = R + 1 − R(S − J)/(1 s + S), a little above R; but a window
//!   holds a whole number of requests, at most ⌊1 + R(1 s + J)/(1 s + S)⌋, and since
//!   0 < R(S − J)/(1 s + S) < 1 there, that is at most R for a whole-number budget R
//!   (Zoom's are: 2, 20, 60) and at most ⌈R⌉ for any R. The unit test checks exactly this.
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
/// The longest shared pause: the retry policy asks for at most a minute, and a wait that
/// came from a server is never trusted further than this.
pub const MAX_PAUSE: Duration = Duration::from_secs(300);

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
        self.aimd.lock().unwrap_or_else(|p| p.into_inner()).current
    }

    /// Waits for the pace and for the shared pause to pass. Returns `false` if `stop`
    /// fired first: the caller must not send.
    ///
    /// The pause is checked after the gate turn is taken, and again after the pace
    /// releases: a worker queued at the gate (or waiting on the pace) when a pause begins
    /// must not be released into it. The holder of the turn waits the pause out while
    /// holding it, so everyone queued behind stays queued, and they go on one period
    /// apart once it is over.
    pub async fn acquire(&self, stop: &CancellationToken) -> bool {
        tokio::select! {
            _ = async {
                let _turn = self.gate.lock().await;
                loop {
                    self.wait_out_pause().await;
                    let pace = self.pace.read().unwrap_or_else(|p| p.into_inner()).clone();
                    pace.until_ready().await;
                    // A pause that began while waiting on the pace spends this release.
                    if self.paused_until(Instant::now()).is_none() {
                        break;
                    }
                }
            } => !stop.is_cancelled(),
            _ = stop.cancelled() => false,
        }
    }

    /// When the pause in force at `now` ends, if one is.
    fn paused_until(&self, now: Instant) -> Option<Instant> {
        let until = *self.pause_until.lock().unwrap_or_else(|p| p.into_inner());
        until.filter(|t| *t > now)
    }

    async fn wait_out_pause(&self) {
        while let Some(t) = self.paused_until(Instant::now()) {
            tokio::time::sleep_until(t).await;
        }
    }

    /// Pauses every worker for `wait` (extends, never shortens, a pause in force). The
    /// wait comes from a server: it is clamped to [`MAX_PAUSE`], and never overflows.
    pub fn pause_for(&self, wait: Duration) {
        let now = Instant::now();
        let until = now
            .checked_add(wait.min(MAX_PAUSE))
            .unwrap_or_else(|| now + Duration::from_secs(1));
        let mut p = self.pause_until.lock().unwrap_or_else(|p| p.into_inner());
        if p.is_none_or(|t| t < until) {
            *p = Some(until);
        }
    }

    /// A per-second 429: cut the rate, at most once a second (one burst of 429s is one
    /// signal, not many).
    pub fn throttled(&self) {
        self.throttled_at(Instant::now())
    }

    /// [`Limiter::throttled`] at `now` (the clock injected, for tests).
    pub fn throttled_at(&self, now: Instant) {
        let mut a = self.aimd.lock().unwrap_or_else(|p| p.into_inner());
        let since = now.saturating_duration_since(a.last_change);
        if since < Duration::from_secs(1) && a.current < self.ceiling {
            return;
        }
        let next = (a.current * DECREASE).max(self.ceiling * FLOOR_SHARE);
        self.set(&mut a, next, now);
    }

    /// A request went through: recover the rate slowly once quiet for a while.
    pub fn succeeded(&self) {
        self.succeeded_at(Instant::now())
    }

    /// [`Limiter::succeeded`] at `now` (the clock injected, for tests).
    pub fn succeeded_at(&self, now: Instant) {
        let mut a = self.aimd.lock().unwrap_or_else(|p| p.into_inner());
        if a.current >= self.ceiling || now.saturating_duration_since(a.last_change) < RECOVER_EVERY
        {
            return;
        }
        let next = (a.current + self.ceiling * INCREASE_SHARE).min(self.ceiling);
        self.set(&mut a, next, now);
    }

    fn set(&self, a: &mut Aimd, rate: f64, now: Instant) {
        a.current = rate;
        a.last_change = now;
        let pace = pace_for(rate);
        // Spend the fresh limiter's burst, so its first release is one period after the
        // swap rather than at once, right behind the old limiter's last.
        for _ in 0..burst_for(rate) {
            let _ = pace.check();
        }
        *self.pace.write().unwrap_or_else(|p| p.into_inner()) = Arc::new(pace);
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

    /// The most requests a one-second window at Zoom can hold (module comment):
    /// ⌊B + R(1 s + J)/(1 s + S)⌋, with a hair of tolerance for float rounding.
    fn window_max(rate: f64) -> f64 {
        let (s, j) = (PACING_SLACK.as_secs_f64(), TRANSIT_JITTER.as_secs_f64());
        (burst_for(rate) as f64 + rate * (1.0 + j) / (1.0 + s) + 1e-9).floor()
    }

    #[test]
    fn burst_leaves_room_for_transit_jitter() {
        assert_eq!(burst_for(2.0), 1);
        assert_eq!(burst_for(60.0), 1);
        assert_eq!(burst_for(201.0), 1);
        assert_eq!(burst_for(202.0), 1);
        assert_eq!(burst_for(203.0), 1);
        assert_eq!(burst_for(500.0), 2);
        let (s, j) = (PACING_SLACK.as_secs_f64(), TRANSIT_JITTER.as_secs_f64());
        for r in 1..=5000u32 {
            let rate = f64::from(r);
            // A whole-number budget is never exceeded, at any rate.
            assert!(window_max(rate) <= rate, "{rate}/s: {}", window_max(rate));
            // Where the burst is not forced up to 1, even the real-valued bound holds.
            if (rate * (s - j) / (1.0 + s)).floor() >= 1.0 {
                let bound = burst_for(rate) as f64 + rate * (1.0 + j) / (1.0 + s);
                assert!(bound <= rate + 1e-9, "{rate}/s: {bound}");
            }
        }
        // Fractional rates: at most the next whole number.
        for rate in [0.01, 0.5, 1.5, 2.5, 19.99, 60.4, 201.7, 499.9] {
            assert!(
                window_max(rate) <= rate.ceil(),
                "{rate}/s: {}",
                window_max(rate)
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

    /// AIMD recovery, on an injected clock: the rate comes back 5% of the ceiling per
    /// quiet 2 s, only after quiet time, and never above the ceiling.
    #[test]
    fn aimd_recovers_after_quiet_time() {
        let l = Limiter::new(20.0);
        let t0 = Instant::now();
        let at = |ms: u64| t0 + Duration::from_millis(ms);
        l.throttled_at(at(0));
        assert!((l.effective_rate() - 14.0).abs() < 1e-9);
        l.succeeded_at(at(1_999)); // not quiet long enough
        assert!((l.effective_rate() - 14.0).abs() < 1e-9);
        l.succeeded_at(at(2_000));
        assert!((l.effective_rate() - 15.0).abs() < 1e-9);
        l.succeeded_at(at(3_000)); // the next step waits 2 s from the last change
        assert!((l.effective_rate() - 15.0).abs() < 1e-9);
        let mut t = 2_000;
        for _ in 0..10 {
            t += 2_000;
            l.succeeded_at(at(t));
        }
        assert!(
            (l.effective_rate() - 20.0).abs() < 1e-9,
            "{}",
            l.effective_rate()
        );
        // A 429 within a second of a change to the ceiling still counts: the rate is at
        // the ceiling, so it is a fresh signal.
        l.throttled_at(at(t + 10));
        assert!((l.effective_rate() - 14.0).abs() < 1e-9);
        // Repeated cuts stop at the floor (5% of the ceiling).
        for k in 1..=20 {
            l.throttled_at(at(t + 10 + k * 1_000));
        }
        assert!(
            (l.effective_rate() - 1.0).abs() < 1e-9,
            "{}",
            l.effective_rate()
        );
        // A clock that goes backwards neither panics nor recovers.
        l.succeeded_at(t0);
        assert!((l.effective_rate() - 1.0).abs() < 1e-9);
    }

    #[test]
    fn an_absurd_pause_is_clamped_not_a_panic() {
        let l = Limiter::new(20.0);
        l.pause_for(Duration::MAX);
        let until = l.paused_until(Instant::now()).expect("paused");
        assert!(until <= Instant::now() + MAX_PAUSE);
    }
}
