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

use crate::auth::Bearer;
use crate::cli::BodyFormat;
use crate::redact::redact;
use crate::rules::PasswordPolicy;
use percent_encoding::{utf8_percent_encode, AsciiSet, NON_ALPHANUMERIC};
use reqwest::header::{HeaderMap, CONTENT_TYPE};
use secrecy::{ExposeSecret, SecretString};
use std::time::{Duration, SystemTime};

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

/// A response, read.
#[derive(Debug, Clone)]
pub struct Answer {
    pub status: u16,
    /// `X-RateLimit-Type` (`QPS`, `Daily-limit`), when sent.
    pub ratelimit_type: Option<String>,
    /// `Retry-After`, as a wait from now, in any of its three forms.
    pub retry_after: Option<Duration>,
    /// `Location`, redacted like the body: a redirect is reported, never followed.
    pub location: Option<String>,
    pub body: bytes::Bytes,
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

/// `Retry-After` in seconds, as an HTTP-date, or as an ISO-8601 timestamp (Zoom has sent
/// all three); a time in the past means "now".
pub fn parse_retry_after(value: &str, now: SystemTime) -> Option<Duration> {
    let v = value.trim();
    if let Ok(secs) = v.parse::<u64>() {
        return Some(Duration::from_secs(secs));
    }
    let at = httpdate::parse_http_date(v)
        .ok()
        .or_else(|| humantime::parse_rfc3339_weak(v.trim_end_matches('Z')).ok())?;
    Some(at.duration_since(now).unwrap_or(Duration::ZERO))
}

/// One error's text and its causes, without the URL (which reqwest would add).
fn describe(e: &reqwest::Error) -> String {
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
    crate::outcome::clip(&text)
}

/// Reads an answer (at most [`MAX_BODY`] of its body), with `secrets` redacted from it.
async fn read(response: reqwest::Response, secrets: &[&str]) -> Sent {
    let status = response.status().as_u16();
    let headers: &HeaderMap = response.headers();
    let header = |name: &str| {
        headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(str::to_string)
    };
    let ratelimit_type = header("x-ratelimit-type");
    let retry_after = header("retry-after").and_then(|v| parse_retry_after(&v, SystemTime::now()));
    let location = header("location").map(|l| {
        String::from_utf8_lossy(&redact(l.into_bytes().into(), secrets, false)).into_owned()
    });
    let mut response = response;
    let mut body = Vec::new();
    let mut cut_short = false;
    loop {
        match response.chunk().await {
            Ok(Some(chunk)) => {
                let room = MAX_BODY.saturating_sub(body.len());
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
        ratelimit_type,
        retry_after,
        location,
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
            let v = crate::outcome::classify(
                answer.status,
                answer.ratelimit_type.as_deref(),
                &answer.body,
            );
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

    #[test]
    fn retry_after_forms() {
        let now = httpdate::parse_http_date("Sun, 29 Nov 2026 23:59:30 GMT").unwrap();
        assert_eq!(parse_retry_after("7", now), Some(Duration::from_secs(7)));
        assert_eq!(
            parse_retry_after("Mon, 30 Nov 2026 00:00:00 GMT", now),
            Some(Duration::from_secs(30))
        );
        assert_eq!(
            parse_retry_after("2026-11-30T00:00:00Z", now),
            Some(Duration::from_secs(30))
        );
        assert_eq!(
            parse_retry_after("2020-05-31T00:00:00Z", now),
            Some(Duration::ZERO)
        );
        assert_eq!(parse_retry_after("soon", now), None);
    }
}
