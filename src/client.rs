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
//! must not carry a secret into a report row, a log line or an error. `NotSent` (connection refused, DNS) is safe to retry; `Unknown` (timeout,
//! reset, connection dropped) may have been applied, which only re-sending the same
//! password can settle (API-NOTES, "what that means for retries").

use crate::auth::Bearer;
use crate::cli::BodyFormat;
use crate::rules::PasswordPolicy;
use percent_encoding::{utf8_percent_encode, AsciiSet, NON_ALPHANUMERIC};
use reqwest::header::{HeaderMap, CONTENT_TYPE};
use secrecy::zeroize::{Zeroize, Zeroizing};
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

/// What a secret found in a server's answer is replaced with.
pub const REDACTED: &str = "[redacted]";

/// Shorter secrets are not looked for: every password Zoom accepts (8 characters or
/// more) and every real token is longer, and a short needle would cut holes in Zoom's
/// own messages.
const MIN_SECRET: usize = 8;

/// The forms in which a server might echo `secret`: as sent, JSON-escaped (with or
/// without `\/`, non-ASCII as is or as `\uXXXX` in either case), percent-encoded (either
/// case), form-encoded, and HTML-escaped. Longest first, so a long form is replaced
/// whole before a shorter one inside it.
fn echo_forms(secret: &str) -> Vec<Zeroizing<Vec<u8>>> {
    let json = Zeroizing::new(serde_json::to_string(secret).unwrap_or_default());
    let json = json
        .get(1..json.len().saturating_sub(1))
        .unwrap_or_default();
    let (mut lower, mut upper) = (Zeroizing::new(String::new()), Zeroizing::new(String::new()));
    for c in json.chars() {
        if c.is_ascii() {
            lower.push(c);
            upper.push(c);
        } else {
            let mut units = [0u16; 2];
            for u in c.encode_utf16(&mut units) {
                lower.push_str(&format!("\\u{u:04x}"));
                upper.push_str(&format!("\\u{u:04X}"));
            }
        }
    }
    let percent = Zeroizing::new(utf8_percent_encode(secret, NON_ALPHANUMERIC).to_string());
    // The same with lower-case hex digits (only those: the letters around them stay).
    let mut percent_lower = Zeroizing::new(percent.as_bytes().to_vec());
    for i in 0..percent_lower.len() {
        if percent_lower[i] == b'%' {
            for d in percent_lower.iter_mut().skip(i + 1).take(2) {
                d.make_ascii_lowercase();
            }
        }
    }
    let form = url::form_urlencoded::byte_serialize(secret.as_bytes()).collect::<String>();
    let html = secret
        .replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
        .replace('\'', "&#39;");
    let mut forms: Vec<Zeroizing<Vec<u8>>> = Vec::new();
    for form in [
        secret.as_bytes().to_vec(),
        json.as_bytes().to_vec(),
        json.replace('/', "\\/").into_bytes(),
        lower.as_bytes().to_vec(),
        lower.replace('/', "\\/").into_bytes(),
        upper.as_bytes().to_vec(),
        upper.replace('/', "\\/").into_bytes(),
        percent.as_bytes().to_vec(),
        percent_lower.to_vec(),
        form.into_bytes(),
        html.into_bytes(),
    ] {
        let form = Zeroizing::new(form);
        if !form.is_empty() && !forms.iter().any(|f| **f == *form) {
            forms.push(form);
        }
    }
    forms.sort_by_key(|f| std::cmp::Reverse(f.len()));
    forms
}

/// `text` with every occurrence of each needle replaced by [`REDACTED`]; `None` when
/// there was none.
fn replace_all(text: &[u8], needles: &[Zeroizing<Vec<u8>>]) -> Option<Vec<u8>> {
    let mut out: Option<Vec<u8>> = None;
    for needle in needles {
        let current = out.as_deref().unwrap_or(text);
        if current.len() < needle.len()
            || !current
                .windows(needle.len())
                .any(|w| w == needle.as_slice())
        {
            continue;
        }
        let mut next = Vec::with_capacity(current.len());
        let mut i = 0;
        while i < current.len() {
            if current[i..].starts_with(needle) {
                next.extend_from_slice(REDACTED.as_bytes());
                i += needle.len();
            } else {
                next.push(current[i]);
                i += 1;
            }
        }
        if let Some(old) = out.as_mut() {
            old.zeroize();
        }
        out = Some(next);
    }
    out
}

/// Redacts every string of a JSON document, keys included; whether any changed.
fn redact_json(value: &mut serde_json::Value, needles: &[Zeroizing<Vec<u8>>]) -> bool {
    use serde_json::Value;
    let redact_str = |s: &mut String| match replace_all(s.as_bytes(), needles) {
        Some(bytes) => {
            *s = String::from_utf8_lossy(&bytes).into_owned();
            true
        }
        None => false,
    };
    match value {
        Value::String(s) => redact_str(s),
        Value::Array(items) => items
            .iter_mut()
            .fold(false, |changed, v| redact_json(v, needles) | changed),
        Value::Object(map) => {
            let mut changed = false;
            let entries = std::mem::take(map);
            for (mut k, mut v) in entries {
                changed |= redact_str(&mut k);
                changed |= redact_json(&mut v, needles);
                map.insert(k, v);
            }
            changed
        }
        _ => false,
    }
}

/// Removes `secrets` from a response body, in every form [`echo_forms`] lists. A JSON
/// body is redacted string by string (so an escape a server chose cannot hide an echo
/// from the message Zoom's `message` field becomes); any other body byte by byte. When
/// the body was `cut_short` at the read limit, a tail that begins a secret goes too.
pub fn redact(body: bytes::Bytes, secrets: &[&str], cut_short: bool) -> bytes::Bytes {
    let needles: Vec<Zeroizing<Vec<u8>>> = secrets
        .iter()
        .filter(|s| s.len() >= MIN_SECRET)
        .flat_map(|s| echo_forms(s))
        .collect();
    if needles.is_empty() || body.is_empty() {
        return body;
    }
    if let Ok(mut value) = serde_json::from_slice::<serde_json::Value>(&body) {
        if redact_json(&mut value, &needles) {
            return serde_json::to_vec(&value).unwrap_or_default().into();
        }
        return body;
    }
    let mut out = replace_all(&body, &needles).unwrap_or_else(|| body.to_vec());
    if cut_short {
        for needle in &needles {
            if let Some(k) = (1..needle.len())
                .rev()
                .find(|k| out.ends_with(&needle[..*k]))
            {
                out.truncate(out.len() - k);
            }
        }
    }
    out.into()
}

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
        body: redact(body.into(), secrets, cut_short),
    })
}

fn failed(e: reqwest::Error, timeout: bool) -> Sent {
    let e = e.without_url();
    if e.is_connect() {
        Sent::NotSent(describe(&e))
    } else if timeout || e.is_timeout() {
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

    pub fn base(&self) -> &str {
        &self.base
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
            Err(e) => failed(e, false),
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
            Err(e) => failed(e, false),
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
    fn echoed_secrets_are_redacted_in_every_form() {
        let pw = "Pässw/rd\"1<x>&Y";
        let tok = "tok-CANARY-123456";
        let r = |body: &str| {
            String::from_utf8(redact(body.to_string().into(), &[pw, tok], false).to_vec()).unwrap()
        };
        let message = format!("bad body {{\"password\":\"{pw}\"}} Bearer {tok}");
        let out = r(&serde_json::json!({"code": 300, "message": message}).to_string());
        let v: serde_json::Value = serde_json::from_str(&out).unwrap();
        assert_eq!(
            v["message"],
            "bad body {\"password\":\"[redacted]\"} Bearer [redacted]"
        );
        assert_eq!(v["code"], 300);
        // Escapes a server chose: \/ and \u00e4 (either case), inside a JSON string.
        let escaped = r#"{"message":"got P\u00e4ssw\/rd\"1<x>&Y"}"#;
        assert_eq!(r(escaped), r#"{"message":"got [redacted]"}"#);
        // Not JSON: raw, JSON-escaped, percent-encoded (either case of hex), form-encoded,
        // HTML-escaped.
        assert_eq!(r(&format!("<p>{pw}</p>")), "<p>[redacted]</p>");
        assert_eq!(r(r#"x P\u00E4ssw\/rd\"1<x>&Y"#), "x [redacted]");
        let percent = utf8_percent_encode(pw, NON_ALPHANUMERIC).to_string();
        assert_eq!(r(&percent), "[redacted]");
        assert_eq!(percent, "P%C3%A4ssw%2Frd%221%3Cx%3E%26Y");
        assert_eq!(r("P%c3%a4ssw%2frd%221%3cx%3e%26Y"), "[redacted]");
        let other = percent.to_lowercase();
        assert_eq!(r(&other), other, "lower-case letters make another password");
        let form: String = url::form_urlencoded::byte_serialize(pw.as_bytes()).collect();
        assert_eq!(r(&format!("a={form}")), "a=[redacted]");
        assert_eq!(r("P\u{e4}ssw/rd&quot;1&lt;x&gt;&amp;Y"), "[redacted]");
        assert_eq!(r("x P&auml;"), "x P&auml;", "unrelated text is left alone");
        // A body cut at the read limit in the middle of a secret loses that tail.
        let cut = redact(format!("echo: {}", &tok[..9]).into(), &[tok], true);
        assert_eq!(&cut[..], b"echo: ");
        // Short secrets are not looked for; untouched bodies come back as they were.
        let body = r#"{"code":124,"message":"Invalid access token."}"#;
        assert_eq!(
            &redact(body.to_string().into(), &["tok"], false)[..],
            body.as_bytes()
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
