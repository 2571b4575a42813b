//! The rate controller: how fast the job may send now, found from Zoom's answers.
//!
//! The account's Medium budget B is shared with every other app on it; what they draw, o,
//! is unknown and changes. The job should use what is left, B − o, no more, and never more
//! than its ceiling C (`--rate`, or `--budget-share` × the plan's budget). The arithmetic:
//!
//! - **What a 429 measures.** Zoom refuses a request when its one-second window is full:
//!   at that moment the window holds B requests, j of them the job's and o the others'.
//!   So j = B − o is exactly what is left, and the job knows j without knowing B or o: it
//!   is the number of the job's own requests sent in the second before the refused one
//!   that were not refused themselves ([`Controller::throttled_at`] counts them from the
//!   send times it records). The new rate is j itself: the pacing never puts more than
//!   ⌈j⌉ of the job's requests in a window (see `limiter`), and the refusal happened when
//!   the others' window was at its fullest, jitter included (a 5/s neighbour with
//!   ±25 ms of jitter puts 6 in a window about half the time), so j already leaves room
//!   for their worst second; a margin under it would give away budget for nothing. A
//!   429 when the rate is already at or under j (the others grew) cuts j × (1 − [`MARGIN`]).
//! - **Draining after a cut.** The window still holds the second of requests sent at the
//!   old rate: sending on at the new one keeps it full for up to a second, and every
//!   request that arrives then, the job's or a neighbour's, is refused.
//!   [`Controller::drain_until`] says when the job may send again so that its requests
//!   already in the window plus those it sends at the new rate never exceed ⌊rate⌋ in one
//!   second; the limiter pauses until then.
//! - **One cut per overshoot.** Every request already on the wire when the first 429
//!   comes back was sent at the old rate and may be refused too; those 429s say nothing
//!   new. Requests are numbered as they leave, and a 429 counts only when its request
//!   left after the last cut (TCP's "one reduction per window").
//! - **Headers, when Zoom sends them** (all optional): `X-RateLimit-Limit` on a
//!   per-second answer is B itself, so the job never aims above it (a `--rate` far above
//!   the account's budget comes down to B on the first 429, not by halvings); with
//!   `X-RateLimit-Remaining` on a per-second answer that was admitted, the window holds
//!   B − R requests, j of them the job's, so what is left is R + j, and the rate follows it
//!   without waiting for a 429 (at most once a second).
//! - **Probing, rarely and gently.** What others draw changes, so after [`PROBE_EVERY`]
//!   without a 429 the rate rises by [`PROBE_FIRST`] (2%), and each further quiet probe by
//!   a step twice the last, up to [`PROBE_MAX`]: a probe into a still-full budget costs one
//!   429 (and, often, one of a neighbour's), a budget that others have left is found again
//!   in a few probes (10 s per probe: from half the budget back to all of it in about a
//!   minute). A probe that lands back where the last cut did (the others have not moved)
//!   doubles the quiet time before the next, up to [`PROBE_EVERY_MAX`]; a probe that
//!   stands resets it.
//! - **Starting.** At the ceiling, or at the plan's budget when the ceiling is above it
//!   (`--rate-above-plan`): Zoom has said nothing yet, and the plan is the best guess.
//!   From there, until the first 429, the rate doubles every [`RAMP_EVERY`] up to the
//!   ceiling (TCP's slow start), so a budget larger than the plan is found in about a
//!   second, and one that is not costs a handful of 429s instead of a flood.
//! - **The floor** is an absolute [`FLOOR`] (0.5/s), not a share of a ceiling that may be
//!   absurd: a job set to 1000/s on a 20/s account must be able to come down to 20/s and
//!   below. A ceiling under the floor is kept (the floor never raises the rate).
//!
//! Alone on the account the controller never moves: no 429 comes, and the rate stays at
//! the ceiling, within the pacing's guarantee (see `limiter`).

use std::collections::VecDeque;
use std::time::Duration;
use tokio::time::Instant;

/// The lowest rate a cut can reach, requests per second.
pub const FLOOR: f64 = 0.5;
/// How far under a measured fill the rate settles.
pub const MARGIN: f64 = 0.03;
/// Quiet time (no 429) before each probe upward.
pub const PROBE_EVERY: Duration = Duration::from_secs(10);
/// The first probe's step, as a share of the rate; each quiet probe doubles it.
pub const PROBE_FIRST: f64 = 0.02;
pub const PROBE_MAX: f64 = 0.16;
/// The longest quiet time between probes, once they keep finding the same budget.
pub const PROBE_EVERY_MAX: Duration = Duration::from_secs(60);
/// Until the first 429, the rate doubles this often (when below the ceiling).
pub const RAMP_EVERY: Duration = Duration::from_millis(250);
/// Zoom's window.
const WINDOW: Duration = Duration::from_secs(1);
/// Send times kept: a 429 can come back long after its request left (a slow answer), and
/// its window is the second before it left. Bounded both ways.
const HISTORY: Duration = Duration::from_secs(40);
const HISTORY_CAP: usize = 1 << 16;
/// When Zoom's window held none of the job's requests (others take everything), a 429
/// measures nothing about the job's share: halve.
const BLIND_CUT: f64 = 0.5;

/// What a per-second answer's headers said, each optional.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct PerSecond {
    /// `X-RateLimit-Limit`: the account's per-second budget.
    pub limit: Option<u32>,
    /// `X-RateLimit-Remaining`: what the window still had room for.
    pub remaining: Option<u32>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Phase {
    /// No 429 yet: doubling towards the ceiling.
    Ramp,
    /// After a 429: just under the measured fill, probing rarely.
    Settled,
}

/// One request the job sent: when, and whether Zoom refused it (per second).
#[derive(Debug, Clone, Copy)]
struct Send {
    seq: u64,
    at: Instant,
    refused: bool,
}

/// The controller's state. Pure: every method takes the clock, so tests drive it.
#[derive(Debug)]
pub struct Controller {
    ceiling: f64,
    rate: f64,
    /// The account's per-second budget as Zoom stated it (`X-RateLimit-Limit`).
    budget: Option<f64>,
    phase: Phase,
    /// When the rate last changed, or the last 429 counted: the quiet time starts there.
    since: Instant,
    /// When the headers last moved the rate (at most once a second).
    followed: Option<Instant>,
    probe_step: f64,
    /// The quiet time before the next probe: [`PROBE_EVERY`], doubled by probes that
    /// found nothing new.
    probe_every: Duration,
    /// Where the last cut settled, while no probe has stood since.
    settled_at: Option<f64>,
    /// 429s of requests numbered below this were sent before the last cut.
    cut_seq: u64,
    next_seq: u64,
    sends: VecDeque<Send>,
}

impl Controller {
    /// A controller that never sends above `ceiling`, starting at it, or at
    /// `plan_budget` when the ceiling is above the plan (see the module comment).
    pub fn new(ceiling: f64, plan_budget: f64, now: Instant) -> Self {
        let start = if ceiling > plan_budget && plan_budget > 0.0 {
            plan_budget
        } else {
            ceiling
        };
        Controller {
            ceiling,
            rate: start,
            budget: None,
            phase: Phase::Ramp,
            since: now,
            followed: None,
            probe_step: PROBE_FIRST,
            probe_every: PROBE_EVERY,
            settled_at: None,
            cut_seq: 0,
            next_seq: 0,
            sends: VecDeque::new(),
        }
    }

    /// The rate now, requests per second.
    pub fn rate(&self) -> f64 {
        self.rate
    }

    pub fn ceiling(&self) -> f64 {
        self.ceiling
    }

    /// The account's per-second budget, when Zoom has said it.
    pub fn budget(&self) -> Option<f64> {
        self.budget
    }

    /// The highest rate allowed: the ceiling, and the budget Zoom stated.
    fn cap(&self) -> f64 {
        self.budget.map_or(self.ceiling, |b| self.ceiling.min(b))
    }

    /// The floor, which never lifts a ceiling that is lower.
    fn floor(&self) -> f64 {
        FLOOR.min(self.ceiling)
    }

    fn clamp(&self, rate: f64) -> f64 {
        let rate = if rate.is_finite() { rate } else { self.rate };
        rate.min(self.cap()).max(self.floor())
    }

    /// A request leaves at `now`: its number, for [`Controller::throttled_at`].
    pub fn sent_at(&mut self, now: Instant) -> u64 {
        let seq = self.next_seq;
        self.next_seq += 1;
        while self.sends.front().is_some_and(|s| {
            self.sends.len() >= HISTORY_CAP || now.saturating_duration_since(s.at) > HISTORY
        }) {
            self.sends.pop_front();
        }
        self.sends.push_back(Send {
            seq,
            at: now,
            refused: false,
        });
        seq
    }

    /// Requests numbered so far (the next one's number).
    pub fn sent_count(&self) -> u64 {
        self.next_seq
    }

    /// The job's requests not refused that left in the second before `until`.
    fn fill_before(&self, until: Instant) -> usize {
        self.sends
            .iter()
            .filter(|s| {
                !s.refused && s.at < until && until.saturating_duration_since(s.at) <= WINDOW
            })
            .count()
    }

    /// Request `seq` was answered with a per-second 429 at `now`. Returns the new rate
    /// when it changed.
    pub fn throttled_at(&mut self, seq: u64, headers: PerSecond, now: Instant) -> Option<f64> {
        let before = self.rate;
        self.learn(headers);
        self.cut(seq, now);
        self.changed_from(before)
    }

    fn cut(&mut self, seq: u64, now: Instant) {
        let left = match self.sends.iter_mut().find(|s| s.seq == seq) {
            Some(s) => {
                s.refused = true;
                s.at
            }
            None => now,
        };
        if seq < self.cut_seq {
            return; // sent before the last cut: the same overshoot
        }
        let fill = self.fill_before(left) as f64;
        let target = if fill == 0.0 {
            self.rate * BLIND_CUT
        } else if fill < self.rate {
            fill
        } else {
            self.rate * (1.0 - MARGIN)
        };
        self.phase = Phase::Settled;
        self.probe_step = PROBE_FIRST;
        self.cut_seq = self.next_seq;
        self.set(target.min(self.rate), now);
        if self.settled_at.is_some_and(|at| self.rate >= at - 0.5) {
            self.probe_every = (self.probe_every * 2).min(PROBE_EVERY_MAX);
        }
        self.settled_at = Some(self.rate);
    }

    /// After a cut at `now`: when the job may send again so that no one-second window
    /// holds more than ⌊rate⌋ of its requests, counting those it sent before (not
    /// refused) and those it will send at the new rate, one period (1.01 s / rate) apart.
    /// `None` when it may send at once. The i-th most recent send b_i shares a window
    /// with the new sends that leave before b_i + 1 s; at most ⌊rate⌋ − i of them may,
    /// so the first leaves after b_i + 1 s − (⌊rate⌋ − i) periods.
    pub fn drain_until(&self, now: Instant) -> Option<Instant> {
        let k = (self.rate.floor() as usize).max(1);
        let period = WINDOW.mul_f64(1.01 / self.rate);
        let recent = self
            .sends
            .iter()
            .rev()
            .filter(|s| !s.refused && now.saturating_duration_since(s.at) < WINDOW);
        recent
            .take(k)
            .enumerate()
            .filter_map(|(i, s)| {
                let ahead = period.mul_f64((k - (i + 1)) as f64);
                (s.at + WINDOW).checked_sub(ahead)
            })
            .max()
            .filter(|t| *t > now)
    }

    /// Request `seq` was admitted at `now` (any answer but a 429). Returns the new rate
    /// when it changed: following per-second headers, ramping, or probing.
    pub fn admitted_at(&mut self, headers: PerSecond, now: Instant) -> Option<f64> {
        let before = self.rate;
        self.learn(headers);
        self.follow_or_probe(headers, now);
        self.changed_from(before)
    }

    fn follow_or_probe(&mut self, headers: PerSecond, now: Instant) {
        if let (Some(limit), Some(remaining)) = (headers.limit, headers.remaining) {
            let recent = self
                .followed
                .is_some_and(|t| now.saturating_duration_since(t) < WINDOW);
            if !recent {
                self.followed = Some(now);
                // The window holds limit − remaining, the job's fill among them.
                let fill = self.fill_before(now) as f64;
                let left = f64::from(remaining.min(limit)) + fill;
                let target = left * (1.0 - MARGIN);
                if (target - self.rate).abs() > self.rate * MARGIN {
                    self.phase = Phase::Settled;
                    self.set(target, now);
                    return;
                }
            }
        }
        let quiet = now.saturating_duration_since(self.since);
        match self.phase {
            Phase::Ramp if self.rate < self.cap() && quiet >= RAMP_EVERY => {
                self.set(self.rate * 2.0, now);
            }
            Phase::Settled if self.rate < self.cap() && quiet >= self.probe_every => {
                let step = self.probe_step;
                if step > PROBE_FIRST {
                    // The last probe stood: what is left grew, and may grow again.
                    self.probe_every = PROBE_EVERY;
                    self.settled_at = None;
                }
                self.probe_step = (step * 2.0).min(PROBE_MAX);
                self.set(self.rate * (1.0 + step), now);
            }
            _ => {}
        }
    }

    fn changed_from(&self, before: f64) -> Option<f64> {
        ((self.rate - before).abs() > 1e-9).then_some(self.rate)
    }

    /// `X-RateLimit-Limit` on a per-second answer is the account's budget.
    fn learn(&mut self, headers: PerSecond) {
        if let Some(limit) = headers.limit.filter(|l| *l > 0) {
            self.budget = Some(f64::from(limit));
            if self.rate > self.cap() {
                self.rate = self.cap().max(self.floor());
            }
        }
    }

    fn set(&mut self, rate: f64, now: Instant) {
        self.rate = self.clamp(rate);
        self.since = now;
    }
}

#[cfg(test)]
#[path = "controller_tests.rs"]
mod unit;
