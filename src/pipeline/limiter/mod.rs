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
//! - the rate controller (`controller`, whose comment has its arithmetic): the job's rate
//!   settles just below what other apps on the account leave of the budget, measured from
//!   the 429s (and the `X-RateLimit-*` headers when Zoom sends them), probes upward
//!   rarely and gently, never goes above the ceiling (`--rate`, or `--budget-share` × the
//!   plan's budget) and never below an absolute floor of 0.5/s.
//!
//! And on a plan with a daily budget (`daily`), the `X-RateLimit-Remaining` of Zoom's
//! daily-limited answers is counted down as requests leave: once it reaches 0 no further
//! request is released ([`Acquired::DaySpent`]), and the run stops as a daily 429 would
//! have stopped it, without spending requests on 429s.
//!
//! Layout: this file is the pacing, the gate and the pause; `controller` the rate;
//! `daily` the day's budget; `share` the job's ceiling and the plan line's words.

mod controller;
mod daily;
pub mod share;

pub use controller::{Controller, PerSecond, FLOOR};
pub use daily::Daily;
use governor::{DefaultDirectRateLimiter, Quota};
use std::sync::{Arc, Mutex, RwLock};
use std::time::Duration;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

/// The share of each second the pacing leaves unused; see the module comment.
pub const PACING_SLACK: Duration = Duration::from_millis(10);
/// The spread of transit delays the slack absorbs; see the module comment.
pub const TRANSIT_JITTER: Duration = Duration::from_millis(5);

/// The longest shared pause: the retry policy asks for at most a minute, and a wait that
/// came from a server is never trusted further than this.
pub const MAX_PAUSE: Duration = Duration::from_secs(300);

/// The run's rate limiter. Shared by every worker through an `Arc` (and read by the
/// monitor for the rate it shows). The std locks here are held for a few instructions
/// and never across an await; only the gate is held while waiting.
pub struct Limiter {
    /// The pace, replaced whole when the controller changes the rate: governor quotas
    /// are fixed at creation. Read by the gate's holder on every request, written only on
    /// a rate change, hence a `RwLock`; an `Arc` inside, so the holder clones it out and
    /// waits on it without holding the lock (a swap meanwhile lets that one release
    /// finish on the old pace).
    pace: RwLock<Arc<DefaultDirectRateLimiter>>,
    /// The controller and the day's budget: numbered by the gate's holder as a request
    /// leaves, fed by whichever worker got the answer. One lock for both so a request is
    /// numbered and the day's budget checked in the same step.
    control: Mutex<Control>,
    /// The shared pause: set by any worker told of a per-second 429 (`pause_for`), and
    /// read by the gate's holder before and after the pace, so no one is released into it.
    pause_until: Mutex<Option<Instant>>,
    /// One waiter at a time on the pace (FIFO): a release wakes one task, not every
    /// worker waiting for its turn. A tokio mutex, as it is held across the waits for
    /// the pause and the pace.
    gate: tokio::sync::Mutex<()>,
    /// HTTP 429 answers of any kind (per second, daily, concurrent), for the metrics: an
    /// atomic, as every worker adds to it without taking the control lock.
    throttled: std::sync::atomic::AtomicU64,
}

/// The controller and the day's budget, under one lock: a request is numbered, and the
/// day's budget checked, in the same step.
struct Control {
    rate: Controller,
    daily: Daily,
    /// The plan has a daily budget: `X-RateLimit-Remaining` without a type is the day's.
    daily_plan: bool,
    /// The day's figure has been logged once.
    daily_logged: bool,
}

/// A request the limiter released: its number, for [`Limiter::answered`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Turn(u64);

/// What [`Limiter::acquire_turn`] gives.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Acquired {
    /// Send now.
    Go(Turn),
    /// The run stopped first: don't send.
    Stopped,
    /// Zoom's daily budget is spent (it said so in `X-RateLimit-Remaining`): don't send,
    /// stop the run as a daily 429 would.
    DaySpent,
}

/// What an answer said, as far as the limiter cares. Every header is optional.
#[derive(Debug, Clone, Copy, Default)]
pub struct Reply<'a> {
    /// A per-second 429 (not a daily one, not one user's "too many concurrent requests").
    pub throttled: bool,
    /// `X-RateLimit-Type` as sent (`QPS`, `Daily-limit`).
    pub kind: Option<&'a str>,
    pub limit: Option<u32>,
    pub remaining: Option<u32>,
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
    /// A limiter for `rate` requests per second (validated positive by `config`), alone:
    /// the rate is also the plan's budget, and there is no daily budget.
    pub fn new(rate: f64) -> Self {
        Limiter::for_job(rate, rate, false)
    }

    /// A limiter whose rate never exceeds `ceiling`, starting at `plan_budget` when the
    /// ceiling is above it (see `controller`); `daily_plan` when the plan has a daily
    /// budget.
    pub fn for_job(ceiling: f64, plan_budget: f64, daily_plan: bool) -> Self {
        let rate = Controller::new(ceiling, plan_budget, Instant::now());
        Limiter {
            pace: RwLock::new(Arc::new(pace_for(rate.rate()))),
            control: Mutex::new(Control {
                rate,
                daily: Daily::default(),
                daily_plan,
                daily_logged: false,
            }),
            pause_until: Mutex::new(None),
            gate: tokio::sync::Mutex::new(()),
            throttled: std::sync::atomic::AtomicU64::new(0),
        }
    }

    fn control(&self) -> std::sync::MutexGuard<'_, Control> {
        self.control.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// The rate the job is allowed now (below the ceiling after 429s).
    pub fn effective_rate(&self) -> f64 {
        self.control().rate.rate()
    }

    /// Counts one HTTP 429 answer, whichever limit it named.
    pub fn count_429(&self) {
        self.throttled
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    }

    /// The HTTP 429 answers counted so far.
    pub fn answers_429(&self) -> u64 {
        self.throttled.load(std::sync::atomic::Ordering::Relaxed)
    }

    /// Requests left of Zoom's daily budget, when an answer has said so.
    pub fn daily_remaining(&self) -> Option<u64> {
        let c = self.control();
        c.daily.left(c.rate.sent_count())
    }

    /// Waits for the pace and for the shared pause to pass. Returns `false` if `stop`
    /// fired first (or the day's budget is spent): the caller must not send.
    pub async fn acquire(&self, stop: &CancellationToken) -> bool {
        matches!(self.acquire_turn(stop).await, Acquired::Go(_))
    }

    /// Waits for the pace and for the shared pause to pass, then numbers the request (for
    /// [`Limiter::answered`]), unless the day's budget is spent or `stop` fired first.
    ///
    /// The pause is checked after the gate turn is taken, and again after the pace
    /// releases: a worker queued at the gate (or waiting on the pace) when a pause begins
    /// must not be released into it. The holder of the turn waits the pause out while
    /// holding it, so everyone queued behind stays queued, and they go on one period
    /// apart once it is over.
    ///
    /// Not instrumented: it runs inside the row's span (`Pool::rotate`), which already
    /// names the line and user, and it is the one step whose timing is the pacing Zoom
    /// sees, where a span entered and left on every poll would only add jitter.
    pub async fn acquire_turn(&self, stop: &CancellationToken) -> Acquired {
        tokio::select! {
            turn = async {
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
                self.number(Instant::now())
            } => if stop.is_cancelled() { Acquired::Stopped } else { turn },
            _ = stop.cancelled() => Acquired::Stopped,
        }
    }

    /// Numbers a request leaving at `now`, unless the day's budget is spent.
    fn number(&self, now: Instant) -> Acquired {
        let mut c = self.control();
        if c.daily.left(c.rate.sent_count()) == Some(0) {
            return Acquired::DaySpent;
        }
        Acquired::Go(Turn(c.rate.sent_at(now)))
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

    /// What Zoom answered to `turn`'s request.
    pub fn answered(&self, turn: Turn, reply: Reply<'_>) {
        self.answered_at(turn, reply, Instant::now())
    }

    /// [`Limiter::answered`] at `now` (the clock injected, for tests).
    pub fn answered_at(&self, turn: Turn, reply: Reply<'_>, now: Instant) {
        let kind = reply.kind.map(str::to_ascii_lowercase);
        let mut c = self.control();
        let daily = match kind.as_deref() {
            Some("daily-limit") => true,
            Some(_) => false,
            None => c.daily_plan && !reply.throttled,
        };
        if daily {
            if let Some(remaining) = reply.remaining {
                c.daily.observe(turn.0, remaining, reply.limit);
                self.log_daily(&mut c);
            }
        }
        // A 429's limit is the per-second one unless it says otherwise; an admitted
        // answer's only when it says QPS.
        let per_second = match kind.as_deref() {
            Some("qps") => true,
            None => reply.throttled,
            Some(_) => false,
        };
        let headers = if per_second {
            PerSecond {
                limit: reply.limit,
                remaining: reply.remaining,
            }
        } else {
            PerSecond::default()
        };
        let changed = if reply.throttled {
            c.rate.throttled_at(turn.0, headers, now)
        } else {
            c.rate.admitted_at(headers, now)
        };
        // After a cut, let the window drain of what was sent at the old rate.
        let drain = changed
            .filter(|_| reply.throttled)
            .and_then(|_| c.rate.drain_until(now));
        drop(c);
        if let Some(rate) = changed {
            self.set(rate);
        }
        if let Some(until) = drain {
            self.pause_for(until.saturating_duration_since(now));
        }
    }

    fn log_daily(&self, c: &mut Control) {
        if c.daily_logged {
            return;
        }
        c.daily_logged = true;
        let left = c.daily.left(c.rate.sent_count()).unwrap_or(0);
        match c.daily.limit() {
            Some(limit) => tracing::info!(
                daily_remaining = left,
                daily_limit = limit,
                "Zoom's daily budget: {left} of the day's {limit} requests remain"
            ),
            None => tracing::info!(
                daily_remaining = left,
                "Zoom's daily budget: {left} requests remain today"
            ),
        }
    }

    fn set(&self, rate: f64) {
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
    fn an_absurd_pause_is_clamped_not_a_panic() {
        let l = Limiter::new(20.0);
        l.pause_for(Duration::MAX);
        let until = l.paused_until(Instant::now()).expect("paused");
        assert!(until <= Instant::now() + MAX_PAUSE);
    }
}
