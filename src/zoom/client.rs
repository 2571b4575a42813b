//! Stage 4, the Zoom client: one pooled reqwest client (rustls), the exact request Zoom
//! expects, and an honest account of what came back.
//!
//! The request: `PUT {base}/users/{userId}/password`, the user ID percent-encoded as one
//! path segment, `Authorization: Bearer …`, a `User-Agent` naming zoom-rotate and its
//! version, and `{"password": "..."}` as JSON (or a multipart form with one `password`
//! field, as the Postman seed sends it). This is the one place a password is exposed.
//!
//! What came back is a [`Sent`]: an answer, or one of the two failures that need opposite
//! handling. An answer's body is [`redact`]ed of the password and the token before anyone
//! reads it: a server that echoes the request (a debugging proxy, a careless gateway)
//! must not carry a secret into a report row, a log line or an error. `NotSent`
//! (connection refused, DNS) is safe to retry; `Unknown` (timeout, reset, connection
//! dropped) may have been applied, which only re-sending the same password can settle
//! (API-NOTES, "what that means for retries").

use crate::zoom::auth::Bearer;
use crate::zoom::outcome::{self, Heard, Verdict};
use crate::zoom::redact::redact;
use crate::zoom::rules::PasswordPolicy;
use headers::rate_limit_headers;
use percent_encoding::{utf8_percent_encode, AsciiSet, NON_ALPHANUMERIC};
use reqwest::header::CONTENT_TYPE;
use secrecy::{ExposeSecret, SecretString};
use std::time::{Duration, SystemTime};

mod headers;
pub use headers::{parse_count, parse_ratelimit_type, parse_retry_after, MAX_RETRY_AFTER};

/// How the new password is encoded in the request body.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum BodyFormat {
    /// `{"password": "..."}` as application/json, the official spec's encoding.
    Json,
    /// multipart/form-data with one `password` field, as the Postman seed sends it.
    Multipart,
}

pub const USER_AGENT: &str = concat!("zoom-rotate/", env!("CARGO_PKG_VERSION"));

/// Everything but RFC 3986's unreserved characters is encoded, `+` and `@` included: a
/// server that reads `+` as a space cannot mistake `%2B`, and `/`, `?`, `#`, `%` can never
/// change the path. `.` stays, so `.` and `..` as whole IDs are refused at input instead.
const SEGMENT: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'.')
    .remove(b'_')
    .remove(b'~');

/// Reads at most this much of a response body.
const MAX_BODY: usize = 64 * 1024;

/// Reads at most this much of a listing page: 300 users of Zoom's JSON take well under
/// 1 MiB; the bound keeps a hostile server from filling memory. A page cut short does
/// not parse, and is refused as malformed.
pub const MAX_PAGE_BODY: usize = 8 << 20;

/// The token of an `Authorization: Bearer …` header, for [`redact`].
fn bearer_token(value: &reqwest::header::HeaderValue) -> &str {
    value
        .to_str()
        .ok()
        .and_then(|v| v.strip_prefix("Bearer "))
        .unwrap_or_default()
}

/// The path segment for a user ID.
pub fn encode_segment(user_id: &str) -> String {
    utf8_percent_encode(user_id, SEGMENT).to_string()
}

/// A response, read. Every header value in it is parsed defensively and clamped (see
/// `client::headers`): a server's header can never make the caller's arithmetic overflow.
#[derive(Debug, Clone, Default)]
pub struct Answer {
    pub status: u16,
    /// `X-RateLimit-Type` (`QPS`, `Daily-limit`), when sent (and not contradicted).
    pub ratelimit_type: Option<String>,
    /// `Retry-After`, as a wait from now, in any of its three forms, at most
    /// [`MAX_RETRY_AFTER`].
    pub retry_after: Option<Duration>,
    /// `X-RateLimit-Limit` and `-Remaining`, when sent (optional at Zoom: API-NOTES).
    pub ratelimit_limit: Option<u32>,
    pub ratelimit_remaining: Option<u32>,
    /// `Location`, redacted like the body: a redirect is reported, never followed.
    pub location: Option<String>,
    /// `Content-Type`, redacted like the body: an answer that is not Zoom's says what it was.
    pub content_type: Option<String>,
    pub body: bytes::Bytes,
}

impl Answer {
    /// How this answer reads ([`outcome::classify_heard`]), with every header that
    /// matters: each reader of an answer (a row, the account's rules, a listing page, a
    /// revoke) says the same thing about it, a redirect's `Location` included.
    pub fn verdict(&self) -> Verdict {
        outcome::classify_heard(&Heard {
            status: self.status,
            ratelimit_type: self.ratelimit_type.as_deref(),
            location: self.location.as_deref(),
            content_type: self.content_type.as_deref(),
            body: &self.body,
        })
    }
}

/// What became of one request.
#[derive(Debug, Clone)]
pub enum Sent {
    Answer(Answer),
    /// Nothing left this machine: safe to retry.
    NotSent(String),
    /// Sent, answer unknown: it may have been applied.
    Unknown(String),
}

/// The one HTTP client of a run.
#[derive(Clone)]
pub struct ZoomClient {
    http: reqwest::Client,
    base: String,
    /// `base` parsed once: each request clones it and sets only its path, so the host is
    /// not parsed (and IDNA-checked) again for every row.
    base_url: url::Url,
    body: BodyFormat,
}

/// The JSON body, serialized straight from the borrowed secret.
#[derive(serde::Serialize)]
struct PasswordBody<'a> {
    password: &'a str,
}

/// Builds the pooled HTTP client (also used for the token endpoint).
pub fn http_client(timeout: Duration) -> anyhow::Result<reqwest::Client> {
    Ok(reqwest::Client::builder()
        .use_rustls_tls()
        .user_agent(USER_AGENT)
        .timeout(timeout)
        .connect_timeout(timeout.min(Duration::from_secs(10)))
        .pool_idle_timeout(Duration::from_secs(50))
        .redirect(reqwest::redirect::Policy::none())
        .build()?)
}

/// One error's text and its causes, without the URL (which reqwest would add).
pub(crate) fn describe(e: &reqwest::Error) -> String {
    let mut text = e.to_string();
    let mut source = std::error::Error::source(e);
    while let Some(s) = source {
        let s_text = s.to_string();
        if !text.contains(&s_text) {
            text.push_str(": ");
            text.push_str(&s_text);
        }
        source = s.source();
    }
    outcome::clip(&text)
}

/// Reads an answer (at most [`MAX_BODY`] of its body), with `secrets` redacted from it.
async fn read(response: reqwest::Response, secrets: &[&str]) -> Sent {
    read_up_to(response, secrets, MAX_BODY).await
}

/// [`read`], keeping at most `max` bytes of the body.
async fn read_up_to(response: reqwest::Response, secrets: &[&str], max: usize) -> Sent {
    let status = response.status().as_u16();
    let limits = rate_limit_headers(response.headers(), SystemTime::now());
    // Both as text, redacted like the body (a server may echo a secret anywhere).
    let header = |name: &str| {
        response.headers().get(name).map(|v| {
            String::from_utf8_lossy(&redact(v.as_bytes().to_vec().into(), secrets, false))
                .into_owned()
        })
    };
    let (location, content_type) = (header("location"), header("content-type"));
    let mut response = response;
    let mut body = Vec::new();
    let mut cut_short = false;
    loop {
        match response.chunk().await {
            Ok(Some(chunk)) => {
                let room = max.saturating_sub(body.len());
                body.extend_from_slice(&chunk[..chunk.len().min(room)]);
                if room <= chunk.len() {
                    cut_short = room < chunk.len();
                    break;
                }
            }
            Ok(None) => break,
            // The status line arrived: the answer is known even if its body broke off.
            Err(_) => break,
        }
    }
    Sent::Answer(Answer {
        status,
        ratelimit_type: limits.kind,
        retry_after: limits.retry_after,
        ratelimit_limit: limits.limit,
        ratelimit_remaining: limits.remaining,
        location,
        content_type,
        body: redact(body.into(), secrets, cut_short),
    })
}

fn failed(e: reqwest::Error) -> Sent {
    let e = e.without_url();
    if e.is_connect() {
        Sent::NotSent(describe(&e))
    } else if e.is_timeout() {
        Sent::Unknown(format!("no answer in time ({})", describe(&e)))
    } else {
        Sent::Unknown(describe(&e))
    }
}

impl ZoomClient {
    /// `base` is the API base, e.g. `https://api.zoom.us/v2`, already checked by `config`
    /// (so it parses).
    pub fn new(http: reqwest::Client, base: &str, body: BodyFormat) -> Self {
        let base = base.trim_end_matches('/').to_string();
        let base_url = url::Url::parse(&base).expect("the base URL was checked by config");
        ZoomClient {
            http,
            base,
            base_url,
            body,
        }
    }

    /// `PUT /users/{userId}/password`.
    pub async fn put_password(
        &self,
        user_id: &str,
        password: &SecretString,
        bearer: &Bearer,
    ) -> Sent {
        let mut url = self.base_url.clone();
        url.set_path(&format!(
            "{}/users/{}/password",
            self.base_url.path().trim_end_matches('/'),
            encode_segment(user_id)
        ));
        let (name, value) = bearer.header();
        let request = self.http.put(url).header(name, value.clone());
        // The one place a password leaves its SecretString.
        let request = match self.body {
            BodyFormat::Json => request.header(CONTENT_TYPE, "application/json").body(
                serde_json::to_string(&PasswordBody {
                    password: password.expose_secret(),
                })
                .expect("a string serializes"),
            ),
            BodyFormat::Multipart => request.multipart(
                reqwest::multipart::Form::new()
                    .text("password", password.expose_secret().to_string()),
            ),
        };
        match request.send().await {
            Ok(response) => read(response, &[password.expose_secret(), bearer_token(&value)]).await,
            Err(e) => failed(e),
        }
    }

    /// The URL of `{base}/{segments…}`, each segment percent-encoded as one.
    fn url_of(&self, segments: &[&str]) -> url::Url {
        let mut url = self.base_url.clone();
        let mut path = self.base_url.path().trim_end_matches('/').to_string();
        for s in segments {
            path.push('/');
            path.push_str(&encode_segment(s));
        }
        url.set_path(&path);
        url
    }

    /// A `GET` of one listing page; the body is read up to [`MAX_PAGE_BODY`].
    async fn get_page(&self, url: url::Url, query: &[(&str, &str)], bearer: &Bearer) -> Sent {
        let (name, value) = bearer.header();
        match self
            .http
            .get(url)
            .query(query)
            .header(name, value.clone())
            .send()
            .await
        {
            Ok(r) => read_up_to(r, &[bearer_token(&value)], MAX_PAGE_BODY).await,
            Err(e) => failed(e),
        }
    }

    /// `GET /users` with `query` (`status`, `role_id`, `page_size`, `next_page_token`).
    pub async fn list_users_page(&self, query: &[(&str, &str)], bearer: &Bearer) -> Sent {
        self.get_page(self.url_of(&["users"]), query, bearer).await
    }

    /// `GET /groups/{groupId}/members` with `query` (`page_size`, `next_page_token`).
    pub async fn group_members_page(
        &self,
        group_id: &str,
        query: &[(&str, &str)],
        bearer: &Bearer,
    ) -> Sent {
        let url = self.url_of(&["groups", group_id, "members"]);
        self.get_page(url, query, bearer).await
    }

    /// `GET /report/activities` with `query` (`from`, `to`, `page_size`,
    /// `next_page_token`): the sign-in and sign-out records (Heavy label).
    pub async fn activities_page(&self, query: &[(&str, &str)], bearer: &Bearer) -> Sent {
        self.get_page(self.url_of(&["report", "activities"]), query, bearer)
            .await
    }

    /// `DELETE /users/{userId}/token`: revokes the user's SSO token, signing an SSO user
    /// out (Light label). 204 when done; 404/1001 for an unknown user. Like a password
    /// change, a revoke that got no answer may have been applied; unlike one, sending it
    /// again is always safe (a second revoke signs out nobody new).
    pub async fn revoke_sso_token(&self, user_id: &str, bearer: &Bearer) -> Sent {
        let url = self.url_of(&["users", user_id, "token"]);
        let (name, value) = bearer.header();
        match self
            .http
            .delete(url)
            .header(name, value.clone())
            .send()
            .await
        {
            Ok(r) => read(r, &[bearer_token(&value)]).await,
            Err(e) => failed(e),
        }
    }

    /// `GET /accounts/me/settings?option=security`: the account's enhanced password rules.
    pub async fn get_policy(&self, bearer: &Bearer) -> Result<PasswordPolicy, PolicyError> {
        let url = format!("{}/accounts/me/settings", self.base);
        let (name, value) = bearer.header();
        let sent = match self
            .http
            .get(url)
            .query(&[("option", "security")])
            .header(name, value.clone())
            .send()
            .await
        {
            Ok(r) => read(r, &[bearer_token(&value)]).await,
            Err(e) => failed(e),
        };
        let answer = match sent {
            Sent::Answer(a) => a,
            Sent::NotSent(m) | Sent::Unknown(m) => return Err(PolicyError::Transport(m)),
        };
        if answer.status != 200 {
            let v = answer.verdict();
            return Err(PolicyError::Refused {
                status: answer.status,
                message: v.message,
                retry_after: answer.retry_after,
            });
        }
        #[derive(serde::Deserialize)]
        struct Settings {
            security: Security,
        }
        #[derive(serde::Deserialize)]
        struct Security {
            #[serde(default)]
            password_requirement: PasswordPolicy,
        }
        serde_json::from_slice::<Settings>(&answer.body)
            .map(|s| s.security.password_requirement)
            .map_err(|e| PolicyError::Malformed(e.to_string()))
    }
}

/// Why the account's rules could not be read.
#[derive(Debug, thiserror::Error)]
pub enum PolicyError {
    #[error("HTTP {status}: {message}")]
    Refused {
        status: u16,
        message: String,
        retry_after: Option<Duration>,
    },
    #[error("{0}")]
    Transport(String),
    #[error("unexpected settings body: {0}")]
    Malformed(String),
}

#[cfg(test)]
mod unit {
    use super::*;

    #[test]
    fn segments() {
        assert_eq!(
            encode_segment("bob+ops@example.com"),
            "bob%2Bops%40example.com"
        );
        assert_eq!(encode_segment("a/b@example.com"), "a%2Fb%40example.com");
        assert_eq!(encode_segment("../x?y#z%"), "..%2Fx%3Fy%23z%25");
        assert_eq!(encode_segment("José Ü"), "Jos%C3%A9%20%C3%9C");
        assert_eq!(
            encode_segment("KdYKjnimT4KPd8FFgQt9FQ"),
            "KdYKjnimT4KPd8FFgQt9FQ"
        );
    }
}
