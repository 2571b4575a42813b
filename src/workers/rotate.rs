//! One row, seen through: the retry policy of `workers` (see its module comment), the
//! reading of each answer into a next step, and the report row at the end.
//!
//! Every path out of [`Pool::rotate`] returns exactly one row; a row whose earlier
//! attempt went unanswered keeps saying so ([`MAY_HAVE_APPLIED`]) whatever ends it, so a
//! later `--resume` still knows that a same-as-old answer confirms the change.

use super::Pool;
use crate::auth::Auth;
use crate::client::Sent;
use crate::config::RetrySettings;
use crate::input::Job;
use crate::outcome::{classify, Outcome, RateKind, Verdict};
use crate::report::Row;
use crate::report::MAY_HAVE_APPLIED;
use crate::shutdown::{next_utc_midnight, Stop, StopReason, GRACE};
use rand::Rng;
use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant, SystemTime};
use tokio::sync::Notify;

/// The longest `Retry-After` a per-second 429 is waited out for; see `rotate`.
const LONG_RETRY_AFTER: Duration = Duration::from_secs(60);

/// What the run has learnt about each token generation: how many requests carrying it
/// are still unanswered, and whether Zoom ever accepted it. A 401 on a token that worked
/// means it expired (or was spent): renew it and go on, however often that happens. A 401
/// on a token that never worked, judged once every request carrying it has come back (an
/// acceptance may still be on its way), is a refusal: the credentials are not good.
#[derive(Default)]
pub(super) struct Generations {
    /// generation → (requests on the wire, accepted at least once)
    state: Mutex<HashMap<u64, (usize, bool)>>,
    answered: Notify,
}

impl Generations {
    pub(super) fn sending(&self, generation: u64) {
        self.state.lock().unwrap().entry(generation).or_default().0 += 1;
    }

    pub(super) fn answered(&self, generation: u64, accepted: bool) {
        {
            let mut state = self.state.lock().unwrap();
            let entry = state.entry(generation).or_default();
            entry.0 = entry.0.saturating_sub(1);
            entry.1 |= accepted;
        }
        self.answered.notify_waiters();
    }

    /// Whether Zoom accepted `generation` at least once, waiting for the requests still
    /// carrying it (bounded: each has the client's timeout, and the grace after a stop).
    pub(super) async fn worked(&self, generation: u64, stop: &Stop) -> bool {
        loop {
            let answered = self.answered.notified();
            tokio::pin!(answered);
            answered.as_mut().enable();
            let (on_wire, accepted) = self
                .state
                .lock()
                .unwrap()
                .get(&generation)
                .copied()
                .unwrap_or_default();
            if accepted || on_wire == 0 {
                return accepted;
            }
            tokio::select! {
                _ = answered => {}
                _ = stop.aborted() => return false,
            }
        }
    }
}

pub(super) fn not_attempted(stop: &Stop, job: &Job, unanswered: bool) -> Row {
    let message = stop
        .reason()
        .map(|r| r.row_message())
        .unwrap_or_else(|| "not sent".into());
    Row {
        may_have_applied: unanswered,
        ..Row::local(
            job.line,
            job.user_id.clone(),
            Outcome::NotAttempted,
            noting_unanswered(&message, unanswered),
        )
    }
}

/// How a row that ends without a final answer says whether its change may have applied.
fn applied_or_not(unanswered: bool) -> &'static str {
    if unanswered {
        MAY_HAVE_APPLIED
    } else {
        "the change was not applied"
    }
}

/// `message`, and when an earlier attempt went unanswered, that it may have applied the
/// change: `--resume` reads that to send the same password again as a confirmation.
fn noting_unanswered(message: &str, unanswered: bool) -> String {
    if unanswered {
        format!("{message}; an earlier attempt was unanswered: {MAY_HAVE_APPLIED}")
    } else {
        message.to_string()
    }
}

/// Full-jitter exponential backoff for the `n`th retry (1-based).
fn backoff(retry: &RetrySettings, n: u32) -> Duration {
    let cap = retry
        .base_delay
        .saturating_mul(1u32 << n.saturating_sub(1).min(16))
        .min(retry.max_delay);
    cap.mul_f64(rand::thread_rng().gen_range(0.0..=1.0))
}

impl Pool {
    /// Sleeps `wait` unless the run stops first; `false` if it did.
    async fn sleep(&self, wait: Duration) -> bool {
        tokio::select! {
            _ = tokio::time::sleep(wait) => true,
            _ = self.stop.stopped() => false,
        }
    }

    /// Sees one row through: sends, retries where safe, and returns its report row.
    pub async fn rotate(&self, job: Job, mut unanswered: bool) -> Row {
        let max = self.retry.attempts;
        // `attempts` counts requests that left (the report's column); `tries` counts every
        // try, a refused connection included, for the messages.
        let (mut attempts, mut tries, mut failures, mut throttles) = (0u32, 0u32, 0u32, 0u32);
        let mut renewals = 0u32;
        let mut last: Option<Verdict> = None;
        let row = |outcome: Outcome,
                   last: Option<&Verdict>,
                   attempts: u32,
                   message: String,
                   unanswered: bool| Row {
            line: job.line,
            user_id: job.user_id.clone(),
            outcome,
            http_status: last.map(|v| v.http_status).filter(|s| *s != 0),
            zoom_code: last.and_then(|v| v.zoom_code),
            attempts,
            finished_at: SystemTime::now(),
            message,
            may_have_applied: unanswered && outcome != Outcome::Changed,
        };
        // The run stopped before the next attempt: the last answer stands, with its count
        // of requests and whether an earlier one may have applied the change.
        let stopped = |last: &Option<Verdict>, attempts: u32, unanswered: bool| match last {
            None => not_attempted(&self.stop, &job, unanswered),
            Some(v) => {
                let msg = format!(
                    "{}; the run stopped before a retry; {}",
                    v.message,
                    applied_or_not(unanswered)
                );
                row(v.outcome, Some(v), attempts, msg, unanswered)
            }
        };
        if let Some(saved) = &self.saved {
            if let Err(e) = saved.save(&job.user_id, &job.password).await {
                self.stop.stop(StopReason::Local(format!(
                    "cannot save generated passwords: {e}"
                )));
                return not_attempted(&self.stop, &job, unanswered);
            }
        }
        // The journal record goes before the first attempt, not between the limiter and
        // the send: an fsync there would add its jitter to the spacing Zoom sees. A record
        // for a request never sent only makes a resume treat the row as unanswered, which
        // is safe (the same password is sent again).
        if let Some(journal) = &self.journal {
            if let Err(e) = journal.sending(job.line, &job.user_id).await {
                self.stop
                    .stop(StopReason::Local(format!("cannot write the journal: {e}")));
                return not_attempted(&self.stop, &job, unanswered);
            }
        }
        loop {
            let bearer = match self.auth.bearer(&self.http).await {
                Ok(b) => b,
                // The token endpoint unreachable or failing (5xx) is a blip, not a refusal:
                // back off and ask again, within the row's tries.
                Err(e) if e.is_transient() && failures + 1 < max => {
                    failures += 1;
                    tracing::warn!(error = %e, "the token endpoint failed; asking again");
                    if !self.sleep(backoff(&self.retry, failures)).await {
                        return stopped(&last, attempts, unanswered);
                    }
                    continue;
                }
                Err(e) => {
                    self.stop.stop(StopReason::AuthLost(e.to_string()));
                    return stopped(&last, attempts, unanswered);
                }
            };
            if !self.limiter.acquire(self.stop.token()).await {
                return stopped(&last, attempts, unanswered);
            }
            let bearer = self.auth.newer(bearer.generation).unwrap_or(bearer);
            attempts += 1;
            tries += 1;
            let started = Instant::now();
            self.generations.sending(bearer.generation);
            // After a stop, an answer is waited for only for the grace: a hung server must
            // not hold the run (and the operator) for the client's whole timeout.
            let sent = tokio::select! {
                sent = self.client.put_password(&job.user_id, &job.password, &bearer) => sent,
                _ = self.stop.aborted() => Sent::Unknown(format!(
                    "no answer within {} s of the run stopping; the request was abandoned",
                    GRACE.as_secs()
                )),
            };
            self.generations.answered(
                bearer.generation,
                matches!(&sent, Sent::Answer(a) if a.status != 401 && a.status < 500),
            );
            self.observe(started.elapsed());
            let sent_kind_unknown = matches!(sent, Sent::Unknown(_));
            if matches!(sent, Sent::NotSent(_)) {
                attempts -= 1; // nothing left this machine
            }
            let (verdict, retry_after) = match sent {
                Sent::Answer(a) => (
                    classify(a.status, a.ratelimit_type.as_deref(), &a.body),
                    a.retry_after,
                ),
                Sent::NotSent(m) | Sent::Unknown(m) => {
                    let was_sent = sent_kind_unknown;
                    unanswered |= was_sent;
                    tracing::debug!(line = job.line, user = %job.user_id, attempt = attempts, error = %m, "no answer");
                    (
                        Verdict {
                            outcome: Outcome::Failed,
                            http_status: 0,
                            zoom_code: None,
                            message: if was_sent {
                                format!("sent, no answer: {m}")
                            } else {
                                format!("not sent: {m}")
                            },
                            rate: None,
                        },
                        None,
                    )
                }
            };
            tracing::debug!(line = job.line, user = %job.user_id, attempt = attempts, status = verdict.http_status, outcome = %verdict.outcome, "answer");
            match verdict.outcome {
                Outcome::Changed => {
                    self.limiter.succeeded();
                    let msg = if unanswered {
                        "password changed (after an unanswered attempt with the same password)"
                    } else {
                        "password changed"
                    };
                    return row(
                        Outcome::Changed,
                        Some(&verdict),
                        attempts,
                        msg.into(),
                        unanswered,
                    );
                }
                Outcome::SameAsOld if unanswered => {
                    let msg = "password changed: confirmed on retry (Zoom answers same-as-old, so an earlier unanswered attempt applied it)";
                    return row(
                        Outcome::Changed,
                        Some(&verdict),
                        attempts,
                        msg.into(),
                        unanswered,
                    );
                }
                Outcome::ChangeLimit24h if unanswered => {
                    let msg = noting_unanswered(&verdict.message, true);
                    return row(
                        Outcome::ChangeLimit24h,
                        Some(&verdict),
                        attempts,
                        msg,
                        unanswered,
                    );
                }
                Outcome::AuthFailed => {
                    // A fixed token cannot be renewed. An OAuth token that worked has
                    // expired: renew it (once for everybody) and send again. One that never
                    // worked gets a single renewal per row; a 401 on its successor ends
                    // the run. Renewals per row are bounded by the attempts all the same.
                    let renewable = !matches!(*self.auth, Auth::Static(_)) && renewals < max;
                    if renewable
                        && (renewals == 0
                            || self.generations.worked(bearer.generation, &self.stop).await)
                    {
                        renewals += 1;
                        if let Ok(true) = self
                            .auth
                            .renew_after_401(&self.http, bearer.generation)
                            .await
                        {
                            last = Some(verdict);
                            continue;
                        }
                    }
                    self.stop.stop(StopReason::AuthLost(format!(
                        "HTTP 401: {}",
                        verdict.message
                    )));
                    let msg = noting_unanswered(&verdict.message, unanswered);
                    return row(
                        Outcome::AuthFailed,
                        Some(&verdict),
                        attempts,
                        msg,
                        unanswered,
                    );
                }
                // A "per-second" 429 that asks for more than a minute is a daily limit in
                // all but name (a gateway's own wording): stop rather than hold the run,
                // and its lock, for hours.
                Outcome::RateLimited
                    if verdict.rate == Some(RateKind::Daily)
                        || retry_after.is_some_and(|d| d > LONG_RETRY_AFTER) =>
                {
                    let resets_at = retry_after
                        .map(|d| SystemTime::now() + d)
                        .unwrap_or_else(|| next_utc_midnight(SystemTime::now()));
                    self.stop.stop(StopReason::DailyLimit { resets_at });
                    let msg = noting_unanswered(&verdict.message, unanswered);
                    return row(
                        Outcome::RateLimited,
                        Some(&verdict),
                        attempts,
                        msg,
                        unanswered,
                    );
                }
                Outcome::RateLimited => {
                    throttles += 1;
                    if throttles >= max.saturating_mul(3) {
                        let msg = format!(
                            "{}; still rate limited after {tries} tries",
                            verdict.message
                        );
                        let msg = noting_unanswered(&msg, unanswered);
                        return row(
                            Outcome::RateLimited,
                            Some(&verdict),
                            attempts,
                            msg,
                            unanswered,
                        );
                    }
                    let wait = retry_after.unwrap_or_else(|| backoff(&self.retry, throttles));
                    if verdict.rate == Some(RateKind::Concurrent) {
                        // "Too many concurrent requests." is about this one user (another
                        // app, or an ID and an email naming the same user): only this row
                        // waits, and the account's budget is not the cause.
                        tracing::info!(
                            line = job.line,
                            wait_ms = wait.as_millis() as u64,
                            "concurrent request for this user: waiting"
                        );
                        last = Some(verdict);
                        if !self.sleep(wait).await {
                            continue;
                        }
                    } else {
                        self.limiter.throttled();
                        tracing::info!(
                            wait_ms = wait.as_millis() as u64,
                            rate = format!("{:.2}", self.limiter.effective_rate()),
                            "per-second rate limit: pausing every worker"
                        );
                        self.limiter.pause_for(wait);
                        last = Some(verdict);
                    }
                }
                Outcome::Failed => {
                    unanswered |= verdict.http_status >= 500;
                    failures += 1;
                    if failures >= max {
                        let msg = format!(
                            "{}; gave up after {tries} tries; {}",
                            verdict.message,
                            applied_or_not(unanswered)
                        );
                        return row(Outcome::Failed, Some(&verdict), attempts, msg, unanswered);
                    }
                    let mut wait = backoff(&self.retry, failures);
                    if unanswered {
                        // Zoom may still be working on the unanswered request: never
                        // resend at once, or two requests for one user could overlap.
                        wait = wait.max(self.retry.base_delay);
                    }
                    last = Some(verdict);
                    if !self.sleep(wait).await {
                        continue; // acquire() sees the stop and reports the row
                    }
                }
                _ => {
                    return row(
                        verdict.outcome,
                        Some(&verdict),
                        attempts,
                        verdict.message.clone(),
                        unanswered,
                    )
                }
            }
        }
    }
}
