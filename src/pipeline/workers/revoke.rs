//! `--contain-sso`: what a row does once Zoom answered its password change 400/1123 (the
//! user has no Zoom password). How the user signs in decides it (the listing's
//! `login_types`, carried in the [`Job`]): an SSO user, or one the input does not say,
//! gets `DELETE /users/{userId}/token` and ends `sso_revoked`; a user who signs in only
//! at Google, Apple or Microsoft gets no request (API-NOTES documents the revoke for SSO
//! tokens only, so its 204 would prove nothing for them) and a final row saying where to
//! end their sessions. Without the flag, the row says the login type and what the flag
//! would do.
//!
//! The PUT goes first even for a user the listing shows without a work-email login: Zoom's
//! 400/1123 is the authority, and a user given a work-email login since the listing must
//! get the new password, not only a sign-out.
//!
//! The revoke has its own budget (the Light label), so its own limiter in
//! [`Containment`], paused by its own 429s; its retries follow [`next`], a pure function
//! of the same shape as `policy::decide`, table-tested below. A revoke is idempotent, so
//! an unanswered one is simply sent again. The journal records `R` before a revoke leaves
//! and `V` once Zoom answered it 204, before the report row: a crash between the two
//! makes the resume report `sso_revoked` without a second revoke.

use super::policy::{backoff, Now, Rules, LONG_RETRY_AFTER};
use super::{Pool, Progress};
use crate::ledger::journal::Kind;
use crate::pipeline::limiter::{Acquired, Limiter, Reply};
use crate::vocab::stop::{StopReason, GRACE};
use crate::vocab::{Job, Outcome, Row};
use crate::zoom::auth::Auth;
use crate::zoom::client::Sent;
use crate::zoom::contain::{self, judge_revoke, Revoke};
use crate::zoom::login::Signs;
use rand::Rng;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, SystemTime};

/// The `--contain-sso` step's budget, shared by every row's task through the pool.
pub struct Containment {
    /// The Light label's limiter (the plan's Light rate scaled like the job's Medium
    /// one): revokes are paced, and paused by their 429s, apart from the password
    /// changes, which spend another budget.
    pub light: Arc<Limiter>,
    /// Zoom said the Light label's day is spent: set by the row that got the daily 429,
    /// read by every row before its revoke. Relaxed: a row that misses it spends one more
    /// refused request, no more.
    day_spent: AtomicBool,
}

impl Containment {
    pub fn new(light: Arc<Limiter>) -> Containment {
        Containment {
            light,
            day_spent: AtomicBool::new(false),
        }
    }
}

/// What one row's revoke has been through.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Tries {
    pub failures: u32,
    pub throttles: u32,
    pub renewals: u32,
}

/// The next step of a row's revoke.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Next {
    /// Send (again) after `wait`.
    Send { wait: Duration },
    /// A per-second 429: pause the Light limiter for `wait`, then send again.
    PauseLight { wait: Duration },
    /// A 401: renew the token, then send again.
    Renew,
    /// The Light label's daily limit: no more revokes today.
    DaySpent { message: String },
    /// The row ends.
    Done { outcome: Outcome, message: String },
}

fn done(outcome: Outcome, message: String) -> Next {
    Next::Done { outcome, message }
}

/// The step after a revoke's answer `r`.
pub fn next(t: &mut Tries, r: Revoke, rules: &Rules, now: &Now) -> Next {
    match r {
        Revoke::Revoked => done(Outcome::SsoRevoked, String::new()),
        Revoke::UserNotFound { message } => done(Outcome::UserNotFound, message),
        Revoke::Unauthorized { .. } if rules.renewable && t.renewals == 0 => {
            t.renewals += 1;
            Next::Renew
        }
        Revoke::Unauthorized { message } => done(
            Outcome::AuthFailed,
            format!(
                "the SSO token revoke was refused (401): {message}; the user is not signed out"
            ),
        ),
        Revoke::DailyLimit { message } => Next::DaySpent { message },
        Revoke::RateLimited { wait, message } => {
            t.throttles += 1;
            if t.throttles >= rules.retry.attempts.saturating_mul(3) {
                return done(
                    Outcome::RateLimited,
                    format!("the SSO token revoke is still rate limited after {} tries: {message}; the user is not signed out", t.throttles),
                );
            }
            let wait = wait.unwrap_or_else(|| backoff(&rules.retry, t.throttles, now.jitter));
            Next::PauseLight {
                wait: wait.min(LONG_RETRY_AFTER),
            }
        }
        Revoke::Retry { message, .. } => {
            t.failures += 1;
            if t.failures >= rules.retry.attempts {
                return done(
                    Outcome::Failed,
                    format!("the SSO token revoke got no usable answer: {message}; gave up after {} tries; the user may not be signed out (--resume sends the revoke again, which is safe)", t.failures),
                );
            }
            let wait = backoff(&rules.retry, t.failures, now.jitter).max(rules.retry.base_delay);
            Next::Send { wait }
        }
        Revoke::Refused {
            status,
            code,
            message,
        } => {
            let code = code.map(|c| format!("/{c}")).unwrap_or_default();
            let scope = if status == 403 {
                " (the app needs scope user:write:admin)"
            } else {
                ""
            };
            done(
                Outcome::Rejected,
                format!("the SSO token revoke was refused: HTTP {status}{code}: {message}{scope}; the user is not signed out"),
            )
        }
    }
}

impl Pool {
    /// The row of a user Zoom says has no password (`put`, its 400/1123 row): contained
    /// as the module comment says.
    pub(super) async fn no_password(&self, job: &Job, put: Row, progress: &Progress) -> Row {
        let signs = Signs::of(job.login_types.as_deref());
        let c = match (&signs, &self.contain) {
            (Signs::Elsewhere(types), _) => {
                let message = contain::elsewhere(&put.message, types);
                return Row { message, ..put };
            }
            (_, None) => {
                let message = contain::without_flag(&put.message, &signs);
                return Row { message, ..put };
            }
            (_, Some(c)) => c,
        };
        let ending = |outcome, message: String, status| Row {
            outcome,
            message,
            http_status: status,
            zoom_code: None,
            attempts: progress.attempts.load(Ordering::Relaxed),
            finished_at: SystemTime::now(),
            ..put.clone()
        };
        if c.day_spent.load(Ordering::Relaxed) {
            return ending(Outcome::RateLimited, day_spent(""), None);
        }
        if let Some(journal) = &self.journal {
            if let Err(e) = journal.record(Kind::Revoking, job.line, &job.user_id).await {
                self.stop
                    .stop(StopReason::Local(format!("cannot write the journal: {e}")));
                return ending(Outcome::NotAttempted, not_sent(), None);
            }
        }
        let (status, outcome, message) = self.revoke_loop(job, c, progress).await;
        if outcome == Outcome::SsoRevoked {
            if let Some(journal) = &self.journal {
                // Only a resume's shortcut rests on this record: without it, a crash
                // before the report row sends the revoke again, which is safe.
                if let Err(e) = journal.record(Kind::Revoked, job.line, &job.user_id).await {
                    tracing::warn!(error = %e, "cannot journal an answered revoke");
                }
            }
            return ending(outcome, contain::revoked(&signs), status);
        }
        ending(outcome, message, status)
    }

    /// Sends the revoke until [`next`] says the row is done: the last status, the
    /// outcome and its message.
    async fn revoke_loop(
        &self,
        job: &Job,
        c: &Containment,
        progress: &Progress,
    ) -> (Option<u16>, Outcome, String) {
        let rules = Rules {
            retry: self.retry,
            renewable: !matches!(*self.auth, Auth::Static(_)),
        };
        let (mut t, mut step, mut generation) = (
            Tries::default(),
            Next::Send {
                wait: Duration::ZERO,
            },
            0,
        );
        let mut status = None;
        let mut sent_any = false;
        loop {
            let answer = match step {
                Next::Send { wait } => {
                    let sent = if self.sleep(wait).await {
                        self.revoke_once(job, c, &mut generation, progress).await
                    } else {
                        None
                    };
                    match sent {
                        Some((s, r, left)) => {
                            status = s.or(status);
                            sent_any |= left;
                            r
                        }
                        None if sent_any => return (status, Outcome::Failed, format!("the run stopped while the SSO token revoke was unanswered: the user may not be signed out; {}", "--resume sends the revoke again (safe)")),
                        None => return (status, Outcome::NotAttempted, not_sent()),
                    }
                }
                Next::PauseLight { wait } => {
                    tracing::info!(
                        wait_ms = wait.as_millis() as u64,
                        "Light-label rate limit: pausing the SSO token revokes"
                    );
                    c.light.pause_for(wait);
                    step = Next::Send {
                        wait: Duration::ZERO,
                    };
                    continue;
                }
                Next::Renew => match self.renew(generation, false).await {
                    super::policy::Event::Renewed => {
                        step = Next::Send {
                            wait: Duration::ZERO,
                        };
                        continue;
                    }
                    _ => Revoke::Unauthorized {
                        message: "no new token could be had".into(),
                    },
                },
                Next::DaySpent { message } => {
                    c.day_spent.store(true, Ordering::Relaxed);
                    return (status, Outcome::RateLimited, day_spent(&message));
                }
                Next::Done { outcome, message } => return (status, outcome, message),
            };
            let now = Now {
                time: SystemTime::now(),
                jitter: rand::thread_rng().gen_range(0.0..=1.0),
            };
            step = next(&mut t, answer, &rules, &now);
        }
    }

    /// One revoke: the token, the Light limiter, the request. The status, the verdict and
    /// whether the request left; `None` when the run stopped before it did.
    async fn revoke_once(
        &self,
        job: &Job,
        c: &Containment,
        generation: &mut u64,
        progress: &Progress,
    ) -> Option<(Option<u16>, Revoke, bool)> {
        let bearer = match self.auth.bearer(&self.http).await {
            Ok(b) => b,
            Err(e) => {
                let message = format!("no access token: {e}");
                return Some((
                    None,
                    Revoke::Retry {
                        status: None,
                        message,
                    },
                    false,
                ));
            }
        };
        let turn = match c.light.acquire_turn(self.stop.token()).await {
            Acquired::Go(turn) => turn,
            Acquired::Stopped => return None,
            Acquired::DaySpent => {
                return Some((
                    None,
                    Revoke::DailyLimit {
                        message: String::new(),
                    },
                    false,
                ))
            }
        };
        let bearer = self.auth.newer(bearer.generation).unwrap_or(bearer);
        *generation = bearer.generation;
        progress.sent.store(true, Ordering::Relaxed);
        let on_wire = self.generations.sending(bearer.generation);
        let sent = tokio::select! {
            sent = self.client.revoke_sso_token(&job.user_id, &bearer) => sent,
            _ = self.stop.aborted() => Sent::Unknown(format!(
                "no answer within {} s of the run stopping; the request was abandoned",
                GRACE.as_secs()
            )),
        };
        let left = !matches!(sent, Sent::NotSent(_));
        if left {
            progress.attempts.fetch_add(1, Ordering::Relaxed);
        }
        let status = match &sent {
            Sent::Answer(a) => Some(a.status),
            _ => None,
        };
        let verdict = judge_revoke(&sent);
        on_wire.answered(status.is_some_and(|s| s == 204 || (400..500).contains(&s) && s != 401));
        if let Sent::Answer(a) = &sent {
            let reply = Reply {
                throttled: matches!(verdict, Revoke::RateLimited { .. }),
                kind: a.ratelimit_type.as_deref(),
                limit: a.ratelimit_limit,
                remaining: a.ratelimit_remaining,
            };
            c.light.answered(turn, reply);
        }
        tracing::debug!(line = job.line, user = %job.user_id, status, "SSO token revoke answered");
        Some((status, verdict, left))
    }
}

/// A row whose revoke was never sent: not final, so `--resume` sends it.
fn not_sent() -> String {
    "Zoom answered 400/1123 (no Zoom password); the run stopped before the SSO token revoke: the user is not signed out; --resume sends it".into()
}

/// A row held back by the Light label's daily limit.
fn day_spent(message: &str) -> String {
    let said = if message.is_empty() {
        String::new()
    } else {
        format!(": {message}")
    };
    format!("the Light label's daily limit is spent{said}; the SSO token revoke was not sent: the user is not signed out; --resume after 00:00 UTC sends it")
}

#[cfg(test)]
mod unit {
    use super::*;
    use crate::zoom::retry::RetrySettings;

    fn rules() -> Rules {
        Rules {
            retry: RetrySettings {
                attempts: 2,
                base_delay: Duration::from_millis(100),
                max_delay: Duration::from_secs(1),
            },
            renewable: true,
        }
    }

    #[test]
    fn a_204_revokes_and_a_429_pauses_the_light_limiter() {
        let now = Now {
            time: SystemTime::UNIX_EPOCH,
            jitter: 1.0,
        };
        let m = |s: &str| s.to_string();
        let mut t = Tries::default();
        assert!(matches!(
            next(&mut t, Revoke::Revoked, &rules(), &now),
            Next::Done {
                outcome: Outcome::SsoRevoked,
                ..
            }
        ));
        let limited = Revoke::RateLimited {
            wait: Some(Duration::from_secs(2)),
            message: m("slow"),
        };
        assert_eq!(
            next(&mut t, limited.clone(), &rules(), &now),
            Next::PauseLight {
                wait: Duration::from_secs(2)
            }
        );
        let huge = Revoke::RateLimited {
            wait: Some(Duration::from_secs(9999)),
            message: m("x"),
        };
        assert_eq!(
            next(&mut t, huge, &rules(), &now),
            Next::PauseLight {
                wait: LONG_RETRY_AFTER
            }
        );
        for _ in 0..3 {
            next(&mut t, limited.clone(), &rules(), &now);
        }
        assert!(matches!(
            next(&mut t, limited, &rules(), &now),
            Next::Done {
                outcome: Outcome::RateLimited,
                ..
            }
        ));
    }

    #[test]
    fn a_401_renews_once_a_failure_retries_and_refusals_end_the_row() {
        let now = Now {
            time: SystemTime::UNIX_EPOCH,
            jitter: 1.0,
        };
        let m = |s: &str| s.to_string();
        let unauthorized = || Revoke::Unauthorized {
            message: m("expired"),
        };
        let mut t = Tries::default();
        assert_eq!(next(&mut t, unauthorized(), &rules(), &now), Next::Renew);
        assert!(matches!(
            next(&mut t, unauthorized(), &rules(), &now),
            Next::Done {
                outcome: Outcome::AuthFailed,
                ..
            }
        ));
        let retry = || Revoke::Retry {
            status: Some(502),
            message: m("bad gateway"),
        };
        let mut t = Tries::default();
        assert_eq!(
            next(&mut t, retry(), &rules(), &now),
            Next::Send {
                wait: Duration::from_millis(100)
            }
        );
        assert!(matches!(
            next(&mut t, retry(), &rules(), &now),
            Next::Done {
                outcome: Outcome::Failed,
                ..
            }
        ));
        assert_eq!(
            next(
                &mut t,
                Revoke::DailyLimit { message: m("day") },
                &rules(),
                &now
            ),
            Next::DaySpent { message: m("day") }
        );
        let refused = Revoke::Refused {
            status: 403,
            code: Some(4700),
            message: m("no scope"),
        };
        let Next::Done { outcome, message } = next(&mut t, refused, &rules(), &now) else {
            panic!()
        };
        assert_eq!(outcome, Outcome::Rejected);
        assert!(
            message.contains("HTTP 403/4700: no scope (the app needs scope user:write:admin)"),
            "{message}"
        );
        let gone = Revoke::UserNotFound {
            message: m("User does not exist: x."),
        };
        assert_eq!(
            next(&mut t, gone, &rules(), &now),
            done(Outcome::UserNotFound, m("User does not exist: x."))
        );
    }
}
