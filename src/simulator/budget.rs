//! The account's rate budgets (one per label: Medium, Light, Heavy) and the simulator
//! clock they run on.
//!
//! Every budgeted request (password changes and the settings read) passes [`Budget::admit`]
//! or gets a 429 whose body and headers are Zoom's ([`Limited::headers`]). The clock is
//! the wall clock plus an offset that tests move forward, so "24 hours later" and "after
//! 00:00 UTC" take no real time; the per-second window runs on the same shifted clock.

use std::collections::VecDeque;
use std::sync::Mutex;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use axum::http::{HeaderMap, HeaderName, HeaderValue};

use super::config::RetryAfterFormat;
use super::lock::LockRecover;
use crate::zoom::plan::Label;

/// How far the simulator clock may run ahead: 100 years (of 365.25 days), far past any
/// "next day" a test needs, and near enough that the shifted `Instant` and `SystemTime`
/// can never overflow.
pub const MAX_AHEAD: Duration = Duration::from_secs(3_155_760_000);

const DAY_SECS: u64 = 86_400;
const WINDOW: Duration = Duration::from_secs(1);
/// Admission times kept for [`Budget::admitted`]: enough for any test run, bounded so a
/// long benchmark cannot grow it without end.
const ADMITTED_LOG_CAP: usize = 100_000;

/// Wall-clock time plus an offset that only grows. Both readings (calendar time for the
/// daily reset and the 24-hour change window, monotonic time for the per-second window)
/// carry the same offset, so advancing the clock empties the per-second window too.
#[derive(Debug, Default)]
pub struct SimClock {
    /// Moved forward by `/_sim/clock` while requests read it: behind a lock so every
    /// reader sees the one offset.
    offset: Mutex<Duration>,
}

/// An advance the clock refused: it would run more than [`MAX_AHEAD`] ahead.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("advance_secs = {asked}: expected at most {room} seconds (the simulator clock runs at most 100 years ahead; it is {ahead} s ahead now)")]
pub struct TooFarAhead {
    asked: u64,
    room: u64,
    ahead: u64,
}

impl SimClock {
    pub fn now(&self) -> SystemTime {
        // The offset is at most MAX_AHEAD, so this cannot fail; checked all the same.
        let now = SystemTime::now();
        now.checked_add(self.offset()).unwrap_or(now)
    }

    pub fn instant(&self) -> Instant {
        let now = Instant::now();
        now.checked_add(self.offset()).unwrap_or(now)
    }

    /// Moves the clock forward by `by`, or refuses (leaving it where it is) when it would
    /// end more than [`MAX_AHEAD`] ahead. Checked before the offset changes, so no panic
    /// can happen under the lock.
    pub fn try_advance(&self, by: Duration) -> Result<(), TooFarAhead> {
        let mut offset = self.offset.locked();
        match offset.checked_add(by).filter(|o| *o <= MAX_AHEAD) {
            Some(moved) => {
                *offset = moved;
                Ok(())
            }
            None => Err(TooFarAhead {
                asked: by.as_secs(),
                room: MAX_AHEAD.saturating_sub(*offset).as_secs(),
                ahead: offset.as_secs(),
            }),
        }
    }

    /// Moves the clock as far ahead as it may go.
    pub fn advance_to_limit(&self) {
        *self.offset.locked() = MAX_AHEAD;
    }

    fn offset(&self) -> Duration {
        *self.offset.locked()
    }
}

/// Seconds since the epoch, for day arithmetic (the simulator clock is never before 1970).
fn epoch_secs(t: SystemTime) -> u64 {
    t.duration_since(UNIX_EPOCH).unwrap_or_default().as_secs()
}

/// The next 00:00 UTC after `now`: when the daily count resets.
pub fn next_midnight(now: SystemTime) -> SystemTime {
    UNIX_EPOCH + Duration::from_secs((epoch_secs(now) / DAY_SECS + 1) * DAY_SECS)
}

/// Which of the two Medium limits refused a request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LimitKind {
    Qps,
    Daily,
}

/// A refusal: what to tell the client and when it may try again.
#[derive(Debug, Clone)]
pub struct Limited {
    /// The rate-limit label refused: Medium, Light or Heavy.
    pub label: Label,
    pub kind: LimitKind,
    pub limit: u64,
    /// When a request would be admitted, on the simulator clock.
    pub retry_at: SystemTime,
    /// How long from now that is.
    pub wait: Duration,
}

/// An admission, with the daily figures Zoom reports on APIs that have a daily limit.
#[derive(Debug, Clone, Copy)]
pub struct Admitted {
    pub label: Label,
    pub daily: Option<(u64, u64)>,
}

/// One label's per-account budget: a sliding one-second window plus a UTC-day count.
#[derive(Debug)]
pub struct Budget {
    /// The label this budget counts (`X-RateLimit-Category`): Zoom budgets each label
    /// separately, so a token revoke (Light) never spends a password change's (Medium).
    label: Label,
    qps: u32,
    daily_limit: Option<u64>,
    /// Arrival times of the admitted requests of the last second, oldest first.
    ///
    /// Zoom does not say whether "per second" means calendar-second buckets or a sliding
    /// window. Buckets let 2×limit through across a boundary (limit at x.99 s, limit again
    /// at y.01 s); a sliding window over admitted requests never admits more than the
    /// limit in any one-second span, so it is the strictest plausible reading: a client
    /// that stays clear of it here stays clear under any bucketing. Refused requests are
    /// not counted, or a client that kept knocking could never get in again.
    window: VecDeque<Instant>,
    day: u64,
    day_count: u64,
    admitted: Vec<Instant>,
}

impl Budget {
    pub fn new(qps: u32, daily_limit: Option<u64>) -> Self {
        Budget::labelled(Label::Medium, qps, daily_limit)
    }

    /// A budget for `label` (Light, Heavy; [`Budget::new`] is the Medium one).
    pub fn labelled(label: Label, qps: u32, daily_limit: Option<u64>) -> Self {
        Budget {
            label,
            qps,
            daily_limit,
            window: VecDeque::with_capacity(qps as usize + 1),
            day: 0,
            day_count: 0,
            admitted: Vec::new(),
        }
    }

    /// Admits the request arriving at (`now`, `instant`) or says why not. The daily limit
    /// is checked first: when the day is spent, waiting a second would not help.
    pub fn admit(&mut self, now: SystemTime, instant: Instant) -> Result<Admitted, Limited> {
        let day = epoch_secs(now) / DAY_SECS;
        if day != self.day {
            self.day = day;
            self.day_count = 0;
        }
        if let Some(limit) = self.daily_limit {
            if self.day_count >= limit {
                let retry_at = next_midnight(now);
                return Err(Limited {
                    label: self.label,
                    kind: LimitKind::Daily,
                    limit,
                    retry_at,
                    wait: retry_at.duration_since(now).unwrap_or_default(),
                });
            }
        }
        while let Some(&oldest) = self.window.front() {
            if instant.saturating_duration_since(oldest) >= WINDOW {
                self.window.pop_front();
            } else {
                break;
            }
        }
        if self.window.len() >= self.qps as usize {
            let oldest = self.window[0];
            let wait = (oldest + WINDOW).saturating_duration_since(instant);
            return Err(Limited {
                label: self.label,
                kind: LimitKind::Qps,
                limit: u64::from(self.qps),
                retry_at: now + wait,
                wait,
            });
        }
        self.window.push_back(instant);
        self.day_count += 1;
        if self.admitted.len() < ADMITTED_LOG_CAP {
            self.admitted.push(instant);
        }
        Ok(Admitted {
            label: self.label,
            daily: self
                .daily_limit
                .map(|limit| (limit, limit.saturating_sub(self.day_count))),
        })
    }

    /// Admitted requests in the window as of the last [`Budget::admit`] (whose refusal
    /// has just pruned it): what a per-second refusal saw. For `neighbours`.
    pub fn in_window(&self) -> usize {
        self.window.len()
    }

    /// The per-second budget.
    pub fn qps(&self) -> u32 {
        self.qps
    }

    /// Arrival times (simulator clock) of the admitted requests, oldest first; capped at
    /// the first 100 000.
    pub fn admitted(&self) -> Vec<Instant> {
        self.admitted.clone()
    }
}

/// The other apps' admissions of the last second (simulator clock), oldest first: what
/// `neighbours` needs to tell the job's share of a full window from theirs.
#[derive(Debug, Default)]
pub struct Others {
    pub admitted: std::collections::VecDeque<Instant>,
}

/// The most admissions found in any span of length `window` (admissions sorted).
pub fn max_in_window(admitted: &[Instant], window: Duration) -> usize {
    let mut start = 0;
    let mut best = 0;
    for (end, &t) in admitted.iter().enumerate() {
        while t.saturating_duration_since(admitted[start]) >= window {
            start += 1;
        }
        best = best.max(end + 1 - start);
    }
    best
}

/// Rounds up to the next whole second: a client told "retry at 12:00:00" when the real
/// moment is 11:59:59.4 would come back too early.
fn ceil_second(t: SystemTime) -> SystemTime {
    let since = t.duration_since(UNIX_EPOCH).unwrap_or_default();
    let whole = since.as_secs() + u64::from(since.subsec_nanos() > 0);
    UNIX_EPOCH + Duration::from_secs(whole)
}

/// `Retry-After` in the configured form; None for [`RetryAfterFormat::Absent`].
pub fn retry_after_value(
    format: RetryAfterFormat,
    retry_at: SystemTime,
    wait: Duration,
) -> Option<String> {
    match format {
        RetryAfterFormat::Seconds => {
            let secs = wait.as_secs() + u64::from(wait.subsec_nanos() > 0);
            Some(secs.max(1).to_string())
        }
        RetryAfterFormat::Iso8601 => {
            Some(humantime::format_rfc3339_seconds(ceil_second(retry_at)).to_string())
        }
        RetryAfterFormat::HttpDate => Some(httpdate::fmt_http_date(ceil_second(retry_at))),
        RetryAfterFormat::Absent => None,
    }
}

fn insert(headers: &mut HeaderMap, name: &'static str, value: String) {
    let value = HeaderValue::from_str(&value).expect("header values here are ASCII");
    headers.insert(HeaderName::from_static(name), value);
}

impl Limited {
    /// Zoom's 429 body for this limit.
    pub fn message(&self) -> &'static str {
        match self.kind {
            LimitKind::Qps => {
                "You have reached the maximum per-second rate limit for this API. Try again later."
            }
            LimitKind::Daily => {
                "You have reached the maximum daily rate limit for this API. Refer to the response header for details on when you can make another request."
            }
        }
    }

    /// The 429's rate-limit headers. `omit_daily_headers` drops the type and the
    /// `Retry-After` of a daily 429, as Zoom has done.
    pub fn headers(&self, format: RetryAfterFormat, omit_daily_headers: bool) -> HeaderMap {
        let mut headers = HeaderMap::new();
        insert(
            &mut headers,
            "x-ratelimit-category",
            self.label.name().into(),
        );
        insert(&mut headers, "x-ratelimit-limit", self.limit.to_string());
        insert(&mut headers, "x-ratelimit-remaining", "0".into());
        let bare = omit_daily_headers && self.kind == LimitKind::Daily;
        if !bare {
            let kind = match self.kind {
                LimitKind::Qps => "QPS",
                LimitKind::Daily => "Daily-limit",
            };
            insert(&mut headers, "x-ratelimit-type", kind.into());
            if let Some(value) = retry_after_value(format, self.retry_at, self.wait) {
                insert(&mut headers, "retry-after", value);
            }
        }
        headers
    }
}

impl Admitted {
    /// Headers of an admitted request: the category, and the day's figures where a daily
    /// limit applies (Zoom reports them on daily-limited APIs).
    pub fn headers(&self) -> HeaderMap {
        let mut headers = HeaderMap::new();
        insert(
            &mut headers,
            "x-ratelimit-category",
            self.label.name().into(),
        );
        if let Some((limit, remaining)) = self.daily {
            insert(&mut headers, "x-ratelimit-limit", limit.to_string());
            insert(&mut headers, "x-ratelimit-remaining", remaining.to_string());
        }
        headers
    }
}

#[cfg(test)]
mod unit {
    use super::*;

    #[test]
    fn sliding_window_admits_the_limit_per_second() {
        let mut b = Budget::new(2, None);
        let t0 = Instant::now();
        let now = SystemTime::now();
        assert!(b.admit(now, t0).is_ok());
        assert!(b.admit(now, t0 + Duration::from_millis(600)).is_ok());
        let refused = b.admit(now, t0 + Duration::from_millis(900)).unwrap_err();
        assert_eq!(refused.kind, LimitKind::Qps);
        assert_eq!(refused.wait, Duration::from_millis(100));
        assert!(b.admit(now, t0 + Duration::from_millis(1000)).is_ok());
        assert!(b.admit(now, t0 + Duration::from_millis(1500)).is_err());
        assert_eq!(max_in_window(&b.admitted(), WINDOW), 2);
    }

    #[test]
    fn daily_limit_resets_at_midnight() {
        let mut b = Budget::new(100, Some(1));
        let t = Instant::now();
        let evening = UNIX_EPOCH + Duration::from_secs(20_000 * DAY_SECS + 80_000);
        assert!(b.admit(evening, t).is_ok());
        let refused = b.admit(evening, t + WINDOW).unwrap_err();
        assert_eq!(refused.kind, LimitKind::Daily);
        assert_eq!(refused.wait, Duration::from_secs(6_400));
        let morning = evening + Duration::from_secs(6_400);
        assert!(b.admit(morning, t + WINDOW * 2).is_ok());
    }

    #[test]
    fn the_clock_refuses_to_run_past_its_limit() {
        let clock = SimClock::default();
        assert_eq!(clock.try_advance(Duration::from_secs(60)), Ok(()));
        let refused = clock
            .try_advance(Duration::from_secs(u64::MAX))
            .unwrap_err();
        assert_eq!(
            refused.to_string(),
            "advance_secs = 18446744073709551615: expected at most 3155759940 seconds (the simulator clock runs at most 100 years ahead; it is 60 s ahead now)"
        );
        assert_eq!(
            clock.try_advance(MAX_AHEAD),
            Err(TooFarAhead {
                asked: MAX_AHEAD.as_secs(),
                room: MAX_AHEAD.as_secs() - 60,
                ahead: 60
            })
        );
        assert_eq!(
            clock.try_advance(MAX_AHEAD - Duration::from_secs(60)),
            Ok(())
        );
        assert!(clock.now() > SystemTime::now());
    }

    #[test]
    fn retry_after_forms() {
        let at = UNIX_EPOCH + Duration::from_millis(1_764_460_799_300);
        let wait = Duration::from_millis(300);
        let f = |format| retry_after_value(format, at, wait);
        assert_eq!(f(RetryAfterFormat::Seconds).as_deref(), Some("1"));
        assert_eq!(
            f(RetryAfterFormat::Iso8601).as_deref(),
            Some("2025-11-30T00:00:00Z")
        );
        assert_eq!(
            f(RetryAfterFormat::HttpDate).as_deref(),
            Some("Sun, 30 Nov 2025 00:00:00 GMT")
        );
        assert_eq!(f(RetryAfterFormat::Absent), None);
    }
}
