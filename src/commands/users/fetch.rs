//! The paging loop of Zoom's listings: one page at a time through the limiter, with the
//! retries a `GET` makes safe, and a restart when a `next_page_token` has expired.
//!
//! Per request: the limiter (and any shared pause) first, then the bearer, then the
//! request. What each answer means (wait out a 429, back off after a 5xx or no answer,
//! renew the token once after a 401, give up) is the pure policy
//! `zoom::retry::listing`; [`Pager::page`] carries its steps out. An expired page token
//! ends the page with [`PageError::ExpiredToken`], and [`each_page`] restarts the listing
//! from its first page, at most [`MAX_RESTARTS`] times; the caller skips the users it
//! already has, so a restart writes nobody twice.

use std::time::Duration;

use serde_json::Value;

use crate::pipeline::limiter::Limiter;
use crate::vocab::stop::Stop;
use crate::zoom::auth::{Auth, Bearer};
use crate::zoom::client::{Sent, ZoomClient};
use crate::zoom::retry::listing::{decide, Event, Rules, State, Step};
use crate::zoom::retry::RetrySettings;

pub use crate::zoom::retry::listing::{PageError, MAX_429_TRIES, MAX_429_WAIT};

/// Zoom's largest page: the fewest requests for a listing.
pub const PAGE_SIZE: &str = "300";
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

impl Endpoint {
    /// The array each page of this listing carries: a page without it is refused.
    pub fn array(&self) -> &'static str {
        match self {
            Endpoint::Users { .. } => "users",
            Endpoint::Members { .. } => "members",
            Endpoint::Activities { .. } => "activity_logs",
        }
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
    async fn send(&self, endpoint: &Endpoint, token: Option<&str>, bearer: &Bearer) -> Sent {
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
        let rules = Rules {
            retry: self.retry,
            continued: token.is_some(),
            array: endpoint.array(),
        };
        let mut state = State::default();
        // The generation of the token last sent: a 401's renewal is asked for that one,
        // so one expired token shared by many callers is renewed once.
        let mut generation = 0;
        let mut step = Step::Ask;
        loop {
            let event = match step {
                Step::Page(page) => return Ok(page),
                Step::GiveUp(e) => return Err(e),
                Step::Ask => self.ask(endpoint, token, &mut generation).await?,
                Step::Backoff { wait, error, tries } => {
                    tracing::warn!(error = %error, tries, "listing: no answer; asking again");
                    self.sleep(wait).await?;
                    self.ask(endpoint, token, &mut generation).await?
                }
                Step::Pause { wait } => {
                    tracing::warn!(
                        wait_ms = wait.as_millis() as u64,
                        "listing: rate limited; asking for the same page again"
                    );
                    self.limiter.pause_for(wait);
                    self.ask(endpoint, token, &mut generation).await?
                }
                Step::Renew => match self.auth.renew_after_401(self.http, generation).await {
                    Ok(true) => Event::Renewed,
                    Ok(false) => Event::RenewRefused,
                    Err(e) => Event::RenewFailed(e.to_string()),
                },
            };
            step = decide(&mut state, event, &rules);
        }
    }

    /// One request for the page: the limiter, the bearer (its generation kept in
    /// `generation`), the request. `Err` only when the stop fires.
    async fn ask(
        &self,
        endpoint: &Endpoint,
        token: Option<&str>,
        generation: &mut u64,
    ) -> Result<Event, PageError> {
        if !self.limiter.acquire(self.stop.token()).await {
            return Err(PageError::Stopped);
        }
        let bearer = match self.auth.bearer(self.http).await {
            Ok(b) => b,
            Err(e) => {
                return Ok(Event::TokenError {
                    transient: e.is_transient(),
                    message: e.to_string(),
                })
            }
        };
        *generation = bearer.generation;
        // A GET changes nothing: on a stop it is abandoned at once, not waited for.
        let sent = tokio::select! {
            sent = self.send(endpoint, token, &bearer) => sent,
            () = self.stop.stopped() => return Err(PageError::Stopped),
        };
        Ok(match sent {
            Sent::Answer(a) => Event::Answer(a),
            Sent::NotSent(m) | Sent::Unknown(m) => Event::NoAnswer(m),
        })
    }
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
