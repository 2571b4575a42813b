//! The paging loop of Zoom's listings: one page at a time through the limiter, with the
//! retries a `GET` makes safe, and a restart when a `next_page_token` has expired.
//!
//! Per request: the limiter (and any shared pause) first, then the bearer, then the
//! request. A 429 waits its `Retry-After` (at most [`MAX_429_WAIT`]; longer, or a daily
//! 429, ends the listing: a page token lives 15 minutes, so a listing never stalls
//! waiting for tomorrow) and asks for the same page again; a 5xx or a network failure
//! backs off (`[retry]`'s delays) and asks again, up to `[retry] attempts` tries; a 401
//! renews the token once. A `GET` changes nothing, so every retry is safe.
//!
//! Expired page tokens: Zoom documents the 15-minute lifetime, not the answer. This
//! code assumes the hardest case, a 400 that cannot be told from any other bad request
//! (the simulator answers 400/300), so any 4xx other than 401/403/404/429 to a request
//! that carried a `next_page_token` is taken as an expired token, and the listing
//! restarts from its first page ([`each_page`]), at most [`MAX_RESTARTS`] times; the
//! caller skips the users it already has, so a restart writes nobody twice.

use std::time::Duration;

use serde_json::Value;

use crate::pipeline::limiter::Limiter;
use crate::vocab::stop::Stop;
use crate::zoom::auth::Auth;
use crate::zoom::client::{Answer, Sent, ZoomClient};
use crate::zoom::outcome::{classify, RateKind};
use crate::zoom::retry::{backoff, RetrySettings};

/// Zoom's largest page: the fewest requests for a listing.
pub const PAGE_SIZE: &str = "300";
/// The longest 429 wait a listing sits out; a longer one is the daily limit in effect.
pub const MAX_429_WAIT: Duration = Duration::from_secs(60);
/// Per-second 429s in a row on one page before the listing gives up.
pub const MAX_429_TRIES: u32 = 20;
/// The most pages one walk follows: 30 million users at 300 a page, far past any
/// account; a server paging past it is not ending.
pub const MAX_PAGES: usize = 100_000;
/// Restarts from the first page after an expired page token.
pub const MAX_RESTARTS: u32 = 2;

/// Which listing, with its query.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Endpoint {
    Users {
        status: Option<String>,
        role_id: Option<String>,
    },
    Members {
        group: String,
    },
    Activities {
        from: String,
        to: String,
    },
}

/// Why a page could not be had. Carries no secret: Zoom's message, already redacted.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PageError {
    #[error("stopped (interrupted)")]
    Stopped,
    #[error("the access token was refused even after renewal: {0}")]
    Unauthorized(String),
    /// 403 (a missing scope) or 404 (an unknown group): asking again cannot help.
    #[error("HTTP {status}{}: {message}", code.map(|c| format!("/{c}")).unwrap_or_default())]
    Refused {
        status: u16,
        code: Option<u32>,
        message: String,
    },
    #[error("the page token was refused (expired?): HTTP {status}: {message}")]
    ExpiredToken { status: u16, message: String },
    #[error("rate limited: {0}")]
    RateLimited(String),
    #[error("{0}")]
    Failed(String),
    #[error("unexpected page body: {0}")]
    Malformed(String),
}

impl PageError {
    /// A refusal of the request itself (credentials, scope, an unknown group, a bad
    /// query): what a fix of the setup, not a later try, cures.
    pub fn is_refusal(&self) -> bool {
        matches!(
            self,
            PageError::Unauthorized(_)
                | PageError::Refused { .. }
                | PageError::ExpiredToken { .. }
                | PageError::Malformed(_)
        )
    }
}

/// What every request of a listing shares.
pub struct Pager<'a> {
    pub client: &'a ZoomClient,
    pub http: &'a reqwest::Client,
    pub auth: &'a Auth,
    pub limiter: &'a Limiter,
    pub retry: RetrySettings,
    pub stop: &'a Stop,
}

impl Pager<'_> {
    async fn send(
        &self,
        endpoint: &Endpoint,
        token: Option<&str>,
        bearer: &crate::zoom::auth::Bearer,
    ) -> Sent {
        let mut query: Vec<(&str, &str)> = vec![("page_size", PAGE_SIZE)];
        match endpoint {
            Endpoint::Users { status, role_id } => {
                if let Some(s) = status {
                    query.push(("status", s));
                }
                if let Some(r) = role_id {
                    query.push(("role_id", r));
                }
            }
            Endpoint::Members { .. } => {}
            Endpoint::Activities { from, to } => {
                query.push(("from", from));
                query.push(("to", to));
            }
        }
        if let Some(t) = token {
            query.push(("next_page_token", t));
        }
        match endpoint {
            Endpoint::Users { .. } => self.client.list_users_page(&query, bearer).await,
            Endpoint::Members { group } => {
                self.client.group_members_page(group, &query, bearer).await
            }
            Endpoint::Activities { .. } => self.client.activities_page(&query, bearer).await,
        }
    }

    /// Waits `wait` unless the stop fires first.
    async fn sleep(&self, wait: Duration) -> Result<(), PageError> {
        tokio::select! {
            () = tokio::time::sleep(wait) => Ok(()),
            () = self.stop.stopped() => Err(PageError::Stopped),
        }
    }

    /// One page of `endpoint` (the first, or the one `token` continues), as JSON.
    pub async fn page(&self, endpoint: &Endpoint, token: Option<&str>) -> Result<Value, PageError> {
        let mut tries = Tries::default();
        loop {
            if !self.limiter.acquire(self.stop.token()).await {
                return Err(PageError::Stopped);
            }
            let bearer = match self.auth.bearer(self.http).await {
                Ok(b) => b,
                Err(e) if e.is_transient() => {
                    self.no_answer(e.to_string(), &mut tries)?;
                    self.sleep(backoff(&self.retry, tries.failures)).await?;
                    continue;
                }
                Err(e) => return Err(PageError::Unauthorized(e.to_string())),
            };
            // A GET changes nothing: on a stop it is abandoned at once, not waited for.
            let sent = tokio::select! {
                sent = self.send(endpoint, token, &bearer) => sent,
                () = self.stop.stopped() => return Err(PageError::Stopped),
            };
            let next = match sent {
                Sent::Answer(a) if a.status == 200 => {
                    return serde_json::from_slice::<Value>(&a.body)
                        .ok()
                        .filter(Value::is_object)
                        .ok_or_else(|| PageError::Malformed("not a JSON object".into()));
                }
                Sent::Answer(a) => self.judge(&a, token, &mut tries)?,
                Sent::NotSent(m) | Sent::Unknown(m) => {
                    self.no_answer(m, &mut tries)?;
                    Next::Sleep(backoff(&self.retry, tries.failures))
                }
            };
            match next {
                Next::Sleep(wait) => self.sleep(wait).await?,
                Next::Pause(wait) => self.limiter.pause_for(wait),
                Next::Renew(message) => {
                    let renewable = self
                        .auth
                        .renew_after_401(self.http, bearer.generation)
                        .await
                        .map_err(|e| PageError::Unauthorized(format!("{message}; {e}")))?;
                    if !renewable {
                        return Err(PageError::Unauthorized(message));
                    }
                }
            }
        }
    }

    /// Counts a try that got no answer (or a failing token endpoint); `Err` when it was
    /// the last one allowed.
    fn no_answer(&self, message: String, tries: &mut Tries) -> Result<(), PageError> {
        tries.failures += 1;
        if tries.failures >= self.retry.attempts {
            return Err(PageError::Failed(format!(
                "{message} (after {} tries)",
                tries.failures
            )));
        }
        tracing::warn!(error = %message, tries = tries.failures, "listing: no answer; asking again");
        Ok(())
    }

    /// What to do after an answer other than 200: wait and ask again, renew, or give up.
    fn judge(
        &self,
        answer: &Answer,
        token: Option<&str>,
        tries: &mut Tries,
    ) -> Result<Next, PageError> {
        let v = classify(
            answer.status,
            answer.ratelimit_type.as_deref(),
            &answer.body,
        );
        let refused = |status| PageError::Refused {
            status,
            code: v.zoom_code,
            message: v.message.clone(),
        };
        match answer.status {
            401 if !tries.renewed => {
                tries.renewed = true;
                Ok(Next::Renew(v.message))
            }
            401 => Err(PageError::Unauthorized(v.message)),
            429 => {
                tries.limited += 1;
                let wait = answer
                    .retry_after
                    .unwrap_or_else(|| backoff(&self.retry, tries.limited));
                if v.rate == Some(RateKind::Daily) || wait > MAX_429_WAIT {
                    return Err(PageError::RateLimited(format!(
                        "{} (Zoom's daily limit: try again after 00:00 UTC)",
                        v.message
                    )));
                }
                if tries.limited > MAX_429_TRIES {
                    return Err(PageError::RateLimited(format!(
                        "{} ({} times in a row)",
                        v.message, tries.limited
                    )));
                }
                tracing::warn!(
                    wait_ms = wait.as_millis() as u64,
                    "listing: rate limited; asking for the same page again"
                );
                Ok(Next::Pause(wait))
            }
            status @ 500..=599 => {
                self.no_answer(format!("HTTP {status}: {}", v.message), tries)?;
                Ok(Next::Sleep(backoff(&self.retry, tries.failures)))
            }
            status @ (403 | 404) => Err(refused(status)),
            status if token.is_some() && (400..500).contains(&status) => {
                Err(PageError::ExpiredToken {
                    status,
                    message: v.message,
                })
            }
            status => Err(refused(status)),
        }
    }
}

/// What one page's requests have met so far.
#[derive(Debug, Default)]
struct Tries {
    renewed: bool,
    /// Tries without an answer, or with a 5xx.
    failures: u32,
    /// Per-second 429s.
    limited: u32,
}

/// The step after an answer that was not the page.
enum Next {
    /// Back off, then ask again.
    Sleep(Duration),
    /// Pause the limiter (everyone sharing it), then ask again.
    Pause(Duration),
    /// Renew the token once (the 401's message), then ask again.
    Renew(String),
}

/// The `next_page_token` of a page, when there is a next page.
pub fn next_token(page: &Value) -> Option<String> {
    page.get("next_page_token")
        .and_then(Value::as_str)
        .map(str::trim)
        .filter(|t| !t.is_empty())
        .map(str::to_owned)
}

/// Walks every page of `endpoint`, giving each to `on_page` (with the restart count).
/// An expired page token restarts the walk from the first page, at most
/// [`MAX_RESTARTS`] times: `on_page` must skip what it has seen.
pub async fn each_page<E>(
    pager: &Pager<'_>,
    endpoint: &Endpoint,
    mut on_page: impl FnMut(&Value) -> Result<(), E>,
) -> Result<(), Walk<E>> {
    let mut restarts = 0;
    let mut token: Option<String> = None;
    // A server that hands out a token it handed out before (or pages without end)
    // would keep the listing going forever: both end it.
    let mut tokens = std::collections::HashSet::new();
    loop {
        let page = match pager.page(endpoint, token.as_deref()).await {
            Ok(p) => p,
            Err(PageError::ExpiredToken { status, message }) if restarts < MAX_RESTARTS => {
                restarts += 1;
                tracing::warn!(status, %message, restarts, "listing: the page token was refused (expired after 15 minutes?); starting again from the first page, skipping users already listed");
                token = None;
                // A new walk: its tokens may be the old ones again.
                tokens.clear();
                continue;
            }
            Err(e) => return Err(Walk::Page(e)),
        };
        on_page(&page).map_err(Walk::Sink)?;
        match next_token(&page) {
            Some(_) if tokens.len() >= MAX_PAGES => {
                return Err(Walk::Page(PageError::Malformed(format!(
                    "more than {MAX_PAGES} pages: the listing would never end"
                ))))
            }
            Some(t) if !tokens.insert(t.clone()) => {
                return Err(Walk::Page(PageError::Malformed(format!(
                    "the server repeated the page token {:?}: the listing would never end",
                    crate::zoom::outcome::clip(&t)
                ))))
            }
            Some(t) => token = Some(t),
            None => return Ok(()),
        }
    }
}

/// Why a walk ended early: a page that could not be had, or the caller's own error.
#[derive(Debug)]
pub enum Walk<E> {
    Page(PageError),
    Sink(E),
}

#[cfg(test)]
mod unit {
    use super::*;

    #[test]
    fn backoff_doubles_and_is_capped_without_overflow() {
        let r = RetrySettings {
            attempts: 5,
            base_delay: Duration::from_millis(500),
            max_delay: Duration::from_secs(30),
        };
        assert_eq!(backoff(&r, 1), Duration::from_millis(500));
        assert_eq!(backoff(&r, 3), Duration::from_secs(2));
        assert_eq!(backoff(&r, 40), Duration::from_secs(30));
        assert_eq!(backoff(&r, u32::MAX), Duration::from_secs(30));
    }

    #[test]
    fn next_tokens() {
        let t = |v: Value| next_token(&v);
        assert_eq!(
            t(serde_json::json!({"next_page_token": "abc"})),
            Some("abc".into())
        );
        assert_eq!(t(serde_json::json!({"next_page_token": ""})), None);
        assert_eq!(t(serde_json::json!({"next_page_token": 5})), None);
        assert_eq!(t(serde_json::json!({})), None);
    }
}
