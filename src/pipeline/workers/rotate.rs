//! One row, seen through: the loop that carries out the steps the retry policy
//! (`policy`) decides — sending, waiting, pausing everyone, renewing the token, stopping
//! the run — and the report row at the end.
//!
//! Every path out of [`Pool::rotate`] returns exactly one row; a row whose earlier
//! attempt went unanswered keeps saying so (`MAY_HAVE_APPLIED`, `Row::may_have_applied`)
//! whatever ends it, so a later `--resume` still knows that a same-as-old answer confirms
//! the change.

use super::policy::{self, noting_unanswered, Event, Finish, Now, Rules, State, Step};
use super::{Pool, Progress};
use crate::pipeline::limiter::{Acquired, Reply};
use crate::vocab::stop::{next_utc_midnight, Stop, StopReason, GRACE};
use crate::vocab::Job;
use crate::vocab::Outcome;
use crate::vocab::Row;
use crate::zoom::auth::Auth;
use crate::zoom::client::Sent;
use crate::zoom::contain::has_no_zoom_password;
use crate::zoom::outcome::RateKind;
use rand::Rng;
use std::collections::HashMap;
use std::sync::atomic::Ordering;
use std::sync::Mutex;
use std::time::{Duration, Instant, SystemTime};
use tokio::sync::Notify;

/// What the run has learnt about each token generation: how many requests carrying it
/// are still unanswered, and whether Zoom ever accepted it. A 401 on a token that worked
/// means it expired (or was spent): renew it and go on, however often that happens. A 401
/// on a token that never worked, judged once every request carrying it has come back (an
/// acceptance may still be on its way), is a refusal: the credentials are not good.
#[derive(Default)]
pub(super) struct Generations {
    /// generation → (requests on the wire, accepted at least once). Every row's task
    /// counts its request in before it leaves and out when it is answered (or dropped);
    /// a std `Mutex`, since it is held for a map update only, never across an await.
    state: Mutex<HashMap<u64, (usize, bool)>>,
    /// Wakes the rows waiting in [`Generations::worked`] each time a request comes back.
    /// `notify_waiters`: every such row must look again, whichever generation it waits on.
    answered: Notify,
}

/// One request carrying a token generation, on the wire. Dropped unanswered (a panic, a
/// cancelled row), it still counts as answered and not accepted, so no 401 elsewhere
/// waits for it forever.
pub(super) struct OnWire<'a> {
    generations: &'a Generations,
    generation: u64,
    accepted: Option<bool>,
}

impl OnWire<'_> {
    pub(super) fn answered(mut self, accepted: bool) {
        self.accepted = Some(accepted);
    }
}

impl Drop for OnWire<'_> {
    fn drop(&mut self) {
        let accepted = self.accepted.unwrap_or(false);
        self.generations.answered(self.generation, accepted);
    }
}

impl Generations {
    pub(super) fn sending(&self, generation: u64) -> OnWire<'_> {
        self.state
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .entry(generation)
            .or_default()
            .0 += 1;
        OnWire {
            generations: self,
            generation,
            accepted: None,
        }
    }

    fn answered(&self, generation: u64, accepted: bool) {
        {
            let mut state = self.state.lock().unwrap_or_else(|p| p.into_inner());
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
                .unwrap_or_else(|p| p.into_inner())
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

impl Pool {
    /// Sleeps `wait` unless the run stops first; `false` if it did.
    pub(super) async fn sleep(&self, wait: Duration) -> bool {
        if wait.is_zero() {
            return !self.stop.is_stopped();
        }
        tokio::select! {
            _ = tokio::time::sleep(wait) => true,
            _ = self.stop.stopped() => false,
        }
    }

    /// Sees one row through and returns its report row: the password change, then, when
    /// Zoom says the user has no password (400/1123), their containment (`revoke`).
    /// `progress` tells the dispatcher, should this panic, what had been sent.
    #[tracing::instrument(name = "row", level = "trace", skip_all, fields(line = job.line, user = %job.user_id))]
    pub async fn rotate(&self, job: Job, unanswered: bool, progress: &Progress) -> Row {
        let row = self.change(&job, unanswered, progress).await;
        if row.outcome == Outcome::Rejected
            && has_no_zoom_password(row.http_status.unwrap_or(0), row.zoom_code)
        {
            return self.no_password(&job, row, progress).await;
        }
        row
    }

    /// The password change: carries out the policy's steps and returns the row.
    async fn change(&self, job: &Job, unanswered: bool, progress: &Progress) -> Row {
        let rules = Rules {
            retry: self.retry,
            renewable: !matches!(*self.auth, Auth::Static(_)),
        };
        let mut s = State {
            unanswered,
            ..State::default()
        };
        if let Some(row) = self.prepare(job, unanswered).await {
            return row;
        }
        let mut step = Step::Send {
            wait: Duration::ZERO,
        };
        // The generation of the token the last request carried: what a 401 refused.
        let mut generation = 0;
        loop {
            let event = match step {
                Step::Send { wait } => {
                    if !self.sleep(wait).await {
                        return self.stopped(job, &s);
                    }
                    match self.send(job, &mut generation, progress).await {
                        Some(event) => event,
                        None => return self.stopped(job, &s),
                    }
                }
                Step::PauseAll { wait } => {
                    // The rate was already cut when the 429 came in (`send`).
                    tracing::info!(
                        wait_ms = wait.as_millis() as u64,
                        rate = format!("{:.2}", self.limiter.effective_rate()),
                        "per-second rate limit: pausing every worker"
                    );
                    self.limiter.pause_for(wait);
                    step = Step::Send {
                        wait: Duration::ZERO,
                    };
                    continue;
                }
                Step::Renew { wait, check_worked } => {
                    if !self.sleep(wait).await {
                        return self.stopped(job, &s);
                    }
                    self.renew(generation, check_worked).await
                }
                Step::Stop { reason, finish } => {
                    self.stop.stop(reason);
                    return match finish {
                        Some(f) => row(job, &s, f),
                        None => not_attempted(&self.stop, job, s.unanswered),
                    };
                }
                Step::Finish(f) => return row(job, &s, f),
            };
            let now = Now {
                time: SystemTime::now(),
                jitter: rand::thread_rng().gen_range(0.0..=1.0),
            };
            step = policy::decide(&mut s, event, &rules, &now);
        }
    }

    /// Saves a generated password and writes the journal record before the first
    /// attempt; a row when either fails (the run then stops: going on would be unsafe).
    async fn prepare(&self, job: &Job, unanswered: bool) -> Option<Row> {
        if let Some(saved) = &self.saved {
            if let Err(e) = saved.save(&job.user_id, &job.password).await {
                self.stop.stop(StopReason::Local(format!(
                    "cannot save generated passwords: {e}"
                )));
                return Some(not_attempted(&self.stop, job, unanswered));
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
                return Some(not_attempted(&self.stop, job, unanswered));
            }
        }
        None
    }

    /// One attempt: the token, the limiter, the request, and what came of it. `None`
    /// when the run stopped before the request left.
    async fn send(&self, job: &Job, generation: &mut u64, progress: &Progress) -> Option<Event> {
        let bearer = match self.auth.bearer(&self.http).await {
            Ok(b) => b,
            Err(e) => {
                tracing::warn!(error = %e, "no access token");
                return Some(Event::TokenError {
                    transient: e.is_transient(),
                    message: e.to_string(),
                });
            }
        };
        let turn = match self.limiter.acquire_turn(self.stop.token()).await {
            Acquired::Go(turn) => turn,
            Acquired::Stopped => return None,
            Acquired::DaySpent => {
                // What a daily 429 would have said, without spending a request on it.
                self.stop.stop(StopReason::DailyLimit {
                    resets_at: next_utc_midnight(SystemTime::now()),
                });
                return None;
            }
        };
        let bearer = self.auth.newer(bearer.generation).unwrap_or(bearer);
        *generation = bearer.generation;
        progress.sent.store(true, Ordering::Relaxed);
        let started = Instant::now();
        let on_wire = self.generations.sending(bearer.generation);
        // After a stop, an answer is waited for only for the grace: a hung server must
        // not hold the run (and the operator) for the client's whole timeout.
        let sent = tokio::select! {
            sent = self.client.put_password(&job.user_id, &job.password, &bearer) => sent,
            _ = self.stop.aborted() => Sent::Unknown(format!(
                "no answer within {} s of the run stopping; the request was abandoned",
                GRACE.as_secs()
            )),
        };
        // Only an answer Zoom gives proves the token was accepted: a 2xx other than 204 may
        // come from a proxy or a portal that never saw Zoom.
        let zooms = |s: u16| s == 204 || !(200..=299).contains(&s);
        on_wire.answered(
            matches!(&sent, Sent::Answer(a) if a.status != 401 && a.status < 500 && zooms(a.status)),
        );
        self.observe(started.elapsed());
        let event = match sent {
            Sent::Answer(a) => {
                let verdict = a.verdict();
                if a.status == 429 {
                    self.limiter.count_429();
                }
                self.limiter.answered(
                    turn,
                    Reply {
                        throttled: verdict.rate == Some(RateKind::PerSecond),
                        kind: a.ratelimit_type.as_deref(),
                        limit: a.ratelimit_limit,
                        remaining: a.ratelimit_remaining,
                    },
                );
                Event::Answer {
                    verdict,
                    retry_after: a.retry_after,
                }
            }
            Sent::NotSent(message) => Event::NoAnswer {
                sent: false,
                message,
            },
            Sent::Unknown(message) => Event::NoAnswer {
                sent: true,
                message,
            },
        };
        if !matches!(event, Event::NoAnswer { sent: false, .. }) {
            progress.attempts.fetch_add(1, Ordering::Relaxed);
        }
        tracing::debug!(line = job.line, user = %job.user_id, event = ?Brief(&event), "answer");
        Some(event)
    }

    /// After a 401 on `generation`: a new token, or why there is none.
    pub(super) async fn renew(&self, generation: u64, check_worked: bool) -> Event {
        if check_worked && !self.generations.worked(generation, &self.stop).await {
            return Event::RenewRefused;
        }
        match self.auth.renew_after_401(&self.http, generation).await {
            Ok(true) => Event::Renewed,
            Ok(false) => Event::RenewRefused,
            Err(e) => {
                tracing::warn!(error = %e, "renewing the access token failed");
                Event::TokenError {
                    transient: e.is_transient(),
                    message: e.to_string(),
                }
            }
        }
    }

    /// The row of a run that stopped before the next attempt.
    fn stopped(&self, job: &Job, s: &State) -> Row {
        match policy::on_stop(s) {
            Some(f) => row(job, s, f),
            None => not_attempted(&self.stop, job, s.unanswered),
        }
    }
}

/// An event for the debug log: the status and outcome, never a body.
struct Brief<'a>(&'a Event);

impl std::fmt::Debug for Brief<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.0 {
            Event::Answer { verdict, .. } => {
                write!(f, "HTTP {} ({})", verdict.http_status, verdict.outcome)
            }
            Event::NoAnswer { sent, .. } => write!(f, "no answer (sent: {sent})"),
            other => write!(f, "{other:?}"),
        }
    }
}

/// The report row for `job` ending as `f`, with the last answer's status and code.
fn row(job: &Job, s: &State, f: Finish) -> Row {
    let last = s.last.as_ref();
    Row {
        line: job.line,
        user_id: job.user_id.clone(),
        outcome: f.outcome,
        http_status: last.map(|v| v.http_status).filter(|s| *s != 0),
        zoom_code: last.and_then(|v| v.zoom_code),
        attempts: s.attempts,
        finished_at: SystemTime::now(),
        message: f.message,
        may_have_applied: s.unanswered && f.outcome != Outcome::Changed,
    }
}
