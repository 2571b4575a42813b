//! The retry policy of `workers` as a pure function: what the row has been through so far
//! ([`State`]) and what just happened ([`Event`]) decide the next [`Step`]. No HTTP, no
//! clock, no randomness: the moment and the backoff's jitter come in as [`Now`], so every
//! answer in every state is table-tested below, and `rotate` is only the loop that carries
//! the steps out.
//!
//! The rules (API-NOTES, "what that means for retries"): nothing sent → back off and send
//! again; sent but unanswered (timeout, reset, 5xx, or a 2xx other than Zoom's 204) →
//! send the *same* password again, and read a same-as-old answer as proof the earlier
//! attempt was applied; per-second 429 → pause everyone for `Retry-After` (or a jittered
//! backoff) and cut the rate; daily 429 → stop the run; 401 → renew the token once for
//! everybody and send again, but give up the run when a fresh token that never worked is
//! refused too; a token endpoint that fails on its side (unreachable, 5xx), at a send or
//! at a renewal, is asked again after a backoff within the row's tries; a redirect is not
//! followed and not final; any other 4xx is final and never retried.

use crate::vocab::stop::{next_utc_midnight, StopReason};
use crate::vocab::Outcome;
use crate::vocab::MAY_HAVE_APPLIED;
use crate::zoom::outcome::{RateKind, Verdict};
use crate::zoom::retry::RetrySettings;
use std::time::{Duration, SystemTime};

/// The longest `Retry-After` a per-second 429 is waited out for. A "per-second" 429 that
/// asks for more is a daily limit in all but name (a gateway's own wording): the run
/// stops rather than hold itself, and its lock, for hours.
pub const LONG_RETRY_AFTER: Duration = Duration::from_secs(60);

/// Renewals after a 401 for one row, at most: a backstop (see `answer`), not a policy.
pub const MAX_RENEWALS: u32 = 1000;

/// What one row has been through.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct State {
    /// Requests that left this machine (the report's `attempts`).
    pub attempts: u32,
    /// Every try, a refused connection included, for the messages.
    pub tries: u32,
    /// Tries that failed without a usable answer (no answer, 5xx, token endpoint down).
    pub failures: u32,
    pub throttles: u32,
    pub renewals: u32,
    /// An attempt went unanswered, and no answer since settled it.
    pub unanswered: bool,
    /// The last answer (or the failure standing for one).
    pub last: Option<Verdict>,
    /// A renewal after a 401 was asked for and has not succeeded yet: a token error now is
    /// the renewal's, and its retry is another renewal, not a send with the refused token.
    pub renewing: bool,
}

/// What the policy knows about the run.
#[derive(Debug, Clone, Copy)]
pub struct Rules {
    pub retry: RetrySettings,
    /// Whether a 401 can be cured by a new token (OAuth), or not (a fixed token).
    pub renewable: bool,
}

/// The moment of the decision and the backoff's jitter (0..=1), injected for the tests.
#[derive(Debug, Clone, Copy)]
pub struct Now {
    pub time: SystemTime,
    pub jitter: f64,
}

/// What just happened to the row.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Event {
    /// No token could be had: asking for one, or renewing one after a 401, failed.
    TokenError { transient: bool, message: String },
    /// After a 401, no renewal can help: a fixed token, or a fresh one that never worked.
    RenewRefused,
    /// After a 401, a new token is there.
    Renewed,
    /// A request left and this came back.
    Answer {
        verdict: Verdict,
        retry_after: Option<Duration>,
    },
    /// No answer: `sent` says whether the request left this machine.
    NoAnswer { sent: bool, message: String },
}

/// What to do next.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Step {
    /// Send (again) after `wait`; only this row waits.
    Send { wait: Duration },
    /// A per-second 429: cut the rate and pause every worker for `wait`, then send again.
    PauseAll { wait: Duration },
    /// After `wait`, renew the token; when `check_worked`, first make sure the refused
    /// token ever worked (a second 401 on a token that never did is a refusal).
    Renew { wait: Duration, check_worked: bool },
    /// Stop the run, and end the row with `finish` (`None`: it was never answered, so it
    /// ends `not_attempted` with the stop's reason).
    Stop {
        reason: StopReason,
        finish: Option<Finish>,
    },
    /// The row is done.
    Finish(Finish),
}

/// How a row ends; its status and code are those of [`State::last`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Finish {
    pub outcome: Outcome,
    pub message: String,
}

fn finish(outcome: Outcome, message: impl Into<String>) -> Step {
    Step::Finish(Finish {
        outcome,
        message: message.into(),
    })
}

/// How a row that ends without a final answer says whether its change may have applied.
pub fn applied_or_not(unanswered: bool) -> &'static str {
    if unanswered {
        MAY_HAVE_APPLIED
    } else {
        "the change was not applied"
    }
}

/// `message`, and when an earlier attempt went unanswered, that it may have applied the
/// change: `--resume` reads that to send the same password again as a confirmation.
pub fn noting_unanswered(message: &str, unanswered: bool) -> String {
    if unanswered {
        format!("{message}; an earlier attempt was unanswered: {MAY_HAVE_APPLIED}")
    } else {
        message.to_string()
    }
}

/// Full-jitter exponential backoff for the `n`th retry (1-based), `jitter` in 0..=1.
pub fn backoff(retry: &RetrySettings, n: u32, jitter: f64) -> Duration {
    // The shared doubling, stopped at 2^16 as a row's backoff always was: its throttles
    // reach 300, and with a small base under a large cap, doubling on would lengthen them.
    let cap = crate::zoom::retry::backoff(retry, n.min(17));
    let jitter = if jitter.is_finite() {
        jitter.clamp(0.0, 1.0)
    } else {
        1.0
    };
    cap.mul_f64(jitter)
}

/// The longest `Retry-After` believed for a daily limit. Beyond it (a year 9999 date,
/// `u64::MAX` seconds) the value is not Zoom's, and not even printable as a date.
pub const LATEST_RESET: Duration = Duration::from_secs(31 * 86_400);

/// When a daily limit resets: `Retry-After` from `now` when it is believable (within
/// [`LATEST_RESET`]), else Zoom's own reset at the next UTC midnight. The server's value
/// is never added unchecked: `u64::MAX` seconds must not panic.
pub fn resets_at(retry_after: Option<Duration>, now: SystemTime) -> SystemTime {
    retry_after
        .filter(|d| *d <= LATEST_RESET)
        .and_then(|d| now.checked_add(d))
        .unwrap_or_else(|| next_utc_midnight(now))
}

/// The row's end when the run stopped before its next attempt: the last answer stands,
/// with whether an earlier attempt may have applied the change. `None` when nothing was
/// ever answered (the row is then `not_attempted`).
pub fn on_stop(s: &State) -> Option<Finish> {
    s.last.as_ref().map(|v| Finish {
        outcome: v.outcome,
        message: format!(
            "{}; the run stopped before a retry; {}",
            v.message,
            applied_or_not(s.unanswered)
        ),
    })
}

/// The next step for a row in state `s` after `event`.
pub fn decide(s: &mut State, event: Event, rules: &Rules, now: &Now) -> Step {
    match event {
        Event::TokenError { transient, message } => token_error(s, transient, message, rules, now),
        Event::RenewRefused => auth_lost(s),
        Event::Renewed => {
            s.renewing = false;
            Step::Send {
                wait: Duration::ZERO,
            }
        }
        Event::Answer {
            verdict,
            retry_after,
        } => {
            s.attempts = s.attempts.saturating_add(1);
            s.tries = s.tries.saturating_add(1);
            s.renewing = false;
            answer(s, verdict, retry_after, rules, now)
        }
        Event::NoAnswer { sent, message } => {
            s.tries = s.tries.saturating_add(1);
            if sent {
                s.attempts = s.attempts.saturating_add(1);
                s.unanswered = true;
            }
            let message = if sent {
                format!("sent, no answer: {message}")
            } else {
                format!("not sent: {message}")
            };
            let verdict = Verdict {
                outcome: Outcome::Failed,
                http_status: 0,
                zoom_code: None,
                message,
                rate: None,
            };
            failed(s, verdict, rules, now)
        }
    }
}

fn token_error(s: &mut State, transient: bool, message: String, rules: &Rules, now: &Now) -> Step {
    // The token endpoint unreachable or failing (5xx) is a blip, not a refusal: back off
    // and ask again, within the row's tries.
    if transient && s.failures.saturating_add(1) < rules.retry.attempts {
        s.failures += 1;
        let wait = backoff(&rules.retry, s.failures, now.jitter);
        return if s.renewing {
            Step::Renew {
                wait,
                check_worked: false,
            }
        } else {
            Step::Send { wait }
        };
    }
    let finish = if s.renewing {
        s.last.as_ref().map(|v| Finish {
            outcome: Outcome::AuthFailed,
            message: noting_unanswered(&v.message, s.unanswered),
        })
    } else {
        on_stop(s)
    };
    Step::Stop {
        reason: StopReason::AuthLost(message),
        finish,
    }
}

/// A 401 no renewal cures: the run cannot go on.
fn auth_lost(s: &State) -> Step {
    let message = s.last.as_ref().map_or("", |v| v.message.as_str());
    Step::Stop {
        reason: StopReason::AuthLost(format!("HTTP 401: {message}")),
        finish: Some(Finish {
            outcome: Outcome::AuthFailed,
            message: noting_unanswered(message, s.unanswered),
        }),
    }
}

fn answer(
    s: &mut State,
    verdict: Verdict,
    retry_after: Option<Duration>,
    rules: &Rules,
    now: &Now,
) -> Step {
    let outcome = verdict.outcome;
    let status = verdict.http_status;
    let rate = verdict.rate;
    let redirect = (300..=399).contains(&status);
    if outcome == Outcome::Failed && !redirect {
        return failed(s, verdict, rules, now);
    }
    let message = verdict.message.clone();
    s.last = Some(verdict);
    match outcome {
        Outcome::Changed if s.unanswered => finish(
            Outcome::Changed,
            "password changed (after an unanswered attempt with the same password)",
        ),
        Outcome::Changed => finish(Outcome::Changed, "password changed"),
        Outcome::SameAsOld if s.unanswered => finish(
            Outcome::Changed,
            "password changed: confirmed on retry (Zoom answers same-as-old, so an earlier unanswered attempt applied it)",
        ),
        Outcome::ChangeLimit24h if s.unanswered => {
            finish(Outcome::ChangeLimit24h, noting_unanswered(&message, true))
        }
        // A fixed token cannot be renewed. An OAuth token that worked has expired (or was
        // spent): renew it (once for everybody) and send again, however often that
        // happens — a row queued behind the others at the limiter can find every new
        // token spent by them first, and must not give up the run for it. One that never
        // worked gets a single renewal per row; a 401 on its successor ends the run (the
        // executor checks, with `check_worked`). That check is what ends a row's
        // renewals; MAX_RENEWALS only guarantees it.
        Outcome::AuthFailed if rules.renewable && s.renewals < MAX_RENEWALS => {
            let check_worked = s.renewals > 0;
            s.renewals += 1;
            s.renewing = true;
            Step::Renew {
                wait: Duration::ZERO,
                check_worked,
            }
        }
        Outcome::AuthFailed => auth_lost(s),
        Outcome::RateLimited => rate_limited(s, rate, retry_after, rules, now),
        // Only a redirect is left here (a 5xx went to `failed` above). It is not followed
        // (the password goes only where it was meant to), and says nothing about the
        // user: not final, so `--resume` tries again.
        Outcome::Failed => finish(
            Outcome::Failed,
            format!("{message}; {}", applied_or_not(s.unanswered)),
        ),
        other => finish(other, message),
    }
}

/// A 429: stop for the day, pause everyone, or (one user's concurrency) wait alone.
fn rate_limited(
    s: &mut State,
    rate: Option<RateKind>,
    retry_after: Option<Duration>,
    rules: &Rules,
    now: &Now,
) -> Step {
    let message = s
        .last
        .as_ref()
        .map_or("", |v| v.message.as_str())
        .to_string();
    if rate == Some(RateKind::Daily) || retry_after.is_some_and(|d| d > LONG_RETRY_AFTER) {
        return Step::Stop {
            reason: StopReason::DailyLimit {
                resets_at: resets_at(retry_after, now.time),
            },
            finish: Some(Finish {
                outcome: Outcome::RateLimited,
                message: noting_unanswered(&message, s.unanswered),
            }),
        };
    }
    s.throttles = s.throttles.saturating_add(1);
    if s.throttles >= rules.retry.attempts.saturating_mul(3) {
        let m = format!("{message}; still rate limited after {} tries", s.tries);
        return finish(Outcome::RateLimited, noting_unanswered(&m, s.unanswered));
    }
    // At most LONG_RETRY_AFTER here: anything longer stopped the run above.
    let wait = retry_after
        .unwrap_or_else(|| backoff(&rules.retry, s.throttles, now.jitter))
        .min(LONG_RETRY_AFTER);
    if rate == Some(RateKind::Concurrent) {
        // "Too many concurrent requests." is about this one user (another app, or an ID
        // and an email naming the same user): only this row waits, and the account's
        // budget is not the cause.
        Step::Send { wait }
    } else {
        Step::PauseAll { wait }
    }
}

/// No usable answer (a 5xx, a 2xx other than 204, or none at all): retry after a
/// backoff, within the tries.
///
/// A 2xx other than Zoom's 204 (a proxy's or a captive portal's 200, a 201, a 202) is
/// read like a gateway's 5xx: sent, answer unknown. Ending the row at once would be
/// simpler, and safe too (`--resume` resends the same password); this is built for the
/// harder case, where the answer came from something that did forward the request (a
/// proxy rewriting Zoom's 204, an asynchronous 202) and the change is applied or about to
/// be. Then nothing may read it as "not applied", and only the *same* password may follow
/// it: `unanswered` is set, so a later same-as-old confirms the change within the run
/// (no resume needed), a 24-hour-limit answer keeps "may have been applied", and the
/// retry waits at least `base_delay` so two requests for one user never overlap. What it
/// costs when nothing ever gets through (a portal answering everything) is the row's
/// tries, and `--max-failures` stops the run when every row fails the same way.
fn failed(s: &mut State, verdict: Verdict, rules: &Rules, now: &Now) -> Step {
    let status = verdict.http_status;
    s.unanswered |= status >= 500 || ((200..=299).contains(&status) && status != 204);
    s.failures = s.failures.saturating_add(1);
    let message = verdict.message.clone();
    s.last = Some(verdict);
    if s.failures >= rules.retry.attempts {
        return finish(
            Outcome::Failed,
            format!(
                "{message}; gave up after {} tries; {}",
                s.tries,
                applied_or_not(s.unanswered)
            ),
        );
    }
    let mut wait = backoff(&rules.retry, s.failures, now.jitter);
    if s.unanswered {
        // Zoom may still be working on the unanswered request: never resend at once, or
        // two requests for one user could overlap.
        wait = wait.max(rules.retry.base_delay);
    }
    Step::Send { wait }
}

#[cfg(test)]
#[path = "policy_tests.rs"]
mod unit;
