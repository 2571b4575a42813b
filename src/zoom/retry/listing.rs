//! The retry policy of one listing page (`GET /users`, `/groups/{id}/members`, the
//! activity report) as a pure function: what the page's requests have met so far
//! ([`State`]) and what just happened ([`Event`]) decide the next [`Step`]. The paging
//! loop (`commands::users::fetch`) only carries the steps out.
//!
//! The rules: a 200 is a page only when it carries the listing's array (`users`,
//! `members`, `activity_logs`; empty is fine); without it the listing fails rather than
//! end early. A `GET` changes nothing, so every retry is safe. A 429 waits its
//! `Retry-After` (or a backoff) by pausing the limiter, at most [`MAX_429_WAIT`], and asks
//! for the same page again, at most [`MAX_429_TRIES`] times in a row; a longer wait, or a
//! daily 429, ends the listing (a page token lives 15 minutes, so a listing never stalls
//! waiting for tomorrow). A 5xx, no answer, or a token endpoint failing on its side backs
//! off (`[retry]`'s delays) and asks again, up to `[retry] attempts` tries. A 401 renews
//! the token once; a second one, or one no renewal can cure, ends the listing. 403 and 404
//! are final. Any other 4xx to a request that carried a `next_page_token` is read as an
//! expired token (Zoom documents the 15-minute lifetime, not the answer, and the simulator
//! answers 400/300, which cannot be told from any other bad request): the walk restarts
//! from the first page on [`PageError::ExpiredToken`].

use std::time::Duration;

use serde_json::Value;

use super::{backoff, RetrySettings};
use crate::zoom::client::Answer;
use crate::zoom::outcome::{sanitize_header, RateKind};

/// The longest 429 wait a listing sits out; a longer one is the daily limit in effect.
pub const MAX_429_WAIT: Duration = Duration::from_secs(60);
/// Per-second 429s in a row on one page before the listing gives up.
pub const MAX_429_TRIES: u32 = 20;

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

/// What one page's requests have met so far.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct State {
    /// A 401 was met: the one renewal is spent (or under way).
    pub renewed: bool,
    /// The 401's message while its renewal is under way, for the error if it fails.
    pub refused: Option<String>,
    /// Tries without an answer, or with a 5xx, or without a token.
    pub failures: u32,
    /// Per-second 429s.
    pub limited: u32,
}

/// What the policy knows about the page.
#[derive(Debug, Clone, Copy)]
pub struct Rules {
    pub retry: RetrySettings,
    /// The request carries a `next_page_token` (it continues a walk), so a bad request
    /// may be that token expired.
    pub continued: bool,
    /// The array every page of this listing carries (`users`, `members`,
    /// `activity_logs`), empty or not.
    pub array: &'static str,
}

/// What just happened to the page's request.
#[derive(Debug, Clone)]
pub enum Event {
    /// No bearer token could be had; `transient` when the token endpoint failed on its
    /// side (unreachable, 5xx, 429), which is worth asking again.
    TokenError { transient: bool, message: String },
    /// The request was answered (200 or not).
    Answer(Answer),
    /// The request got no answer (not sent, or sent and unanswered: a `GET` is safe
    /// either way).
    NoAnswer(String),
    /// After a 401, a new token is there.
    Renewed,
    /// After a 401, no renewal is possible (a fixed token).
    RenewRefused,
    /// After a 401, the renewal failed (the token endpoint's error).
    RenewFailed(String),
}

/// What to do next.
#[derive(Debug, Clone, PartialEq)]
pub enum Step {
    /// Ask for the page (again, at once).
    Ask,
    /// The page, read.
    Page(Value),
    /// Failed without an answer: log `error` with `tries` so far, wait `wait`, ask again.
    Backoff {
        wait: Duration,
        error: String,
        tries: u32,
    },
    /// A per-second 429: pause the limiter (everyone sharing it) for `wait`, ask again.
    Pause { wait: Duration },
    /// A 401: renew the token of the generation used, and report how that went.
    Renew,
    /// The page cannot be had.
    GiveUp(PageError),
}

/// The next step for a page in state `s` after `event`.
pub fn decide(s: &mut State, event: Event, rules: &Rules) -> Step {
    match event {
        Event::TokenError {
            transient: true,
            message,
        }
        | Event::NoAnswer(message) => no_answer(s, message, rules),
        Event::TokenError {
            transient: false,
            message,
        } => Step::GiveUp(PageError::Unauthorized(message)),
        Event::Answer(a) if a.status == 200 => read(&a.body, rules.array),
        Event::Answer(a) => judge(s, &a, rules),
        Event::Renewed => {
            s.refused = None;
            Step::Ask
        }
        Event::RenewRefused => Step::GiveUp(PageError::Unauthorized(
            s.refused.take().unwrap_or_default(),
        )),
        Event::RenewFailed(error) => {
            let message = s.refused.take().unwrap_or_default();
            Step::GiveUp(PageError::Unauthorized(format!("{message}; {error}")))
        }
    }
}

/// A 200's body as the page: a JSON object carrying its `array` (an empty one is an
/// empty page), or nothing usable. A 200 without it (a degraded service's
/// `{"message": "..."}`, a portal's page) is not an empty page: taking it for one would
/// end the walk as if the account had no more users.
fn read(body: &[u8], array: &str) -> Step {
    let page = match serde_json::from_slice::<Value>(body) {
        Ok(page) if page.is_object() => page,
        _ => return Step::GiveUp(PageError::Malformed("not a JSON object".into())),
    };
    match page.get(array) {
        Some(Value::Array(_)) => Step::Page(page),
        Some(_) => Step::GiveUp(PageError::Malformed(format!(
            "a 200 answer whose {array:?} is not an array"
        ))),
        None => Step::GiveUp(PageError::Malformed(format!(
            "a 200 answer without the {array:?} array ({})",
            what_it_said(&page)
        ))),
    }
}

/// What a page without its array held instead: its `message`, or its keys.
fn what_it_said(page: &Value) -> String {
    if let Some(message) = page.get("message").and_then(Value::as_str) {
        return format!("it said: {}", sanitize_header(message, MAX_SAID));
    }
    let keys: Vec<&str> = page
        .as_object()
        .map(|o| o.keys().map(String::as_str).collect())
        .unwrap_or_default();
    if keys.is_empty() {
        return "an empty object".into();
    }
    format!("its keys: {}", sanitize_header(&keys.join(", "), MAX_SAID))
}

/// The most of a page's message (or its keys) kept for the error.
const MAX_SAID: usize = 120;

/// A try that got no usable answer (or no token): back off, or give up when it was the
/// last one allowed.
fn no_answer(s: &mut State, message: String, rules: &Rules) -> Step {
    s.failures += 1;
    if s.failures >= rules.retry.attempts {
        return Step::GiveUp(PageError::Failed(format!(
            "{message} (after {} tries)",
            s.failures
        )));
    }
    Step::Backoff {
        wait: backoff(&rules.retry, s.failures),
        error: message,
        tries: s.failures,
    }
}

/// An answer other than 200: wait and ask again, renew, or give up.
fn judge(s: &mut State, answer: &Answer, rules: &Rules) -> Step {
    let v = answer.verdict();
    let refused = |status| {
        Step::GiveUp(PageError::Refused {
            status,
            code: v.zoom_code,
            message: v.message.clone(),
        })
    };
    match answer.status {
        401 if !s.renewed => {
            s.renewed = true;
            s.refused = Some(v.message);
            Step::Renew
        }
        401 => Step::GiveUp(PageError::Unauthorized(v.message)),
        429 => rate_limited(s, v.rate, v.message, answer.retry_after, rules),
        status @ 500..=599 => no_answer(s, format!("HTTP {status}: {}", v.message), rules),
        status @ (403 | 404) => refused(status),
        status if rules.continued && (400..500).contains(&status) => {
            Step::GiveUp(PageError::ExpiredToken {
                status,
                message: v.message,
            })
        }
        status => refused(status),
    }
}

/// A 429: the daily limit (or a wait as long) ends the listing; a per-second one pauses.
fn rate_limited(
    s: &mut State,
    rate: Option<RateKind>,
    message: String,
    retry_after: Option<Duration>,
    rules: &Rules,
) -> Step {
    s.limited += 1;
    let wait = retry_after.unwrap_or_else(|| backoff(&rules.retry, s.limited));
    if rate == Some(RateKind::Daily) || wait > MAX_429_WAIT {
        return Step::GiveUp(PageError::RateLimited(format!(
            "{message} (Zoom's daily limit: try again after 00:00 UTC)"
        )));
    }
    if s.limited > MAX_429_TRIES {
        return Step::GiveUp(PageError::RateLimited(format!(
            "{message} ({} times in a row)",
            s.limited
        )));
    }
    Step::Pause { wait }
}

#[cfg(test)]
#[path = "listing_tests.rs"]
mod unit;
