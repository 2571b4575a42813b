//! Server-to-Server OAuth as Zoom runs it: `POST /oauth/token` trades the account's
//! client credentials for a bearer token, and [`TokenStore::authorize`] decides whether
//! an API request's bearer is still good.
//!
//! Granted tokens expire on the simulator clock (so tests advance the clock instead of
//! waiting an hour) or after a set number of uses (so tests can force a 401 mid-run). A
//! new token does not revoke older ones: the sources conflict on what Zoom does, and a
//! client that refreshes once for all its workers must not depend on either answer.

use std::collections::HashMap;
use std::time::{Duration, SystemTime};

use axum::http::StatusCode;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use base64::Engine as _;
use rand::RngCore;
use serde_json::{json, Value};

use super::config::SimConfig;

/// The scopes a granted token carries: what a password-rotation app needs.
pub const SCOPES: &str = "user:write:admin user:update:password:admin account:read:admin";

#[derive(Debug)]
struct Grant {
    expires_at: SystemTime,
    uses: u64,
}

/// Tokens granted so far. Tokens are secrets even here: nothing logs them.
#[derive(Debug, Default)]
pub struct TokenStore {
    grants: HashMap<String, Grant>,
}

impl TokenStore {
    /// Mints a token valid for `lifetime` from `now` (a lifetime past the end of
    /// `SystemTime` never expires rather than overflowing). Tokens come from the
    /// OS-seeded thread RNG, not the simulator's seeded one, so granting tokens does not
    /// shift the fault sequence a seed reproduces.
    pub fn issue(&mut self, now: SystemTime, lifetime: Duration) -> String {
        let expires_at = now.checked_add(lifetime).unwrap_or_else(far_future);
        loop {
            let mut bytes = [0u8; 24];
            rand::thread_rng().fill_bytes(&mut bytes);
            let token = format!("simtok_{}", URL_SAFE_NO_PAD.encode(bytes));
            if !self.grants.contains_key(&token) {
                let grant = Grant {
                    expires_at,
                    uses: 0,
                };
                self.grants.insert(token.clone(), grant);
                return token;
            }
        }
    }

    /// Whether `authorization` (the request's header) carries a usable bearer: the static
    /// token, or a granted one that has neither expired nor run out of uses. Each
    /// accepted request uses the granted token once.
    pub fn authorize(
        &mut self,
        config: &SimConfig,
        authorization: Option<&str>,
        now: SystemTime,
    ) -> bool {
        let Some(token) = authorization.and_then(bearer) else {
            return false;
        };
        if token == config.access_token {
            return true;
        }
        let Some(grant) = self.grants.get_mut(token) else {
            return false;
        };
        let spent = config.token_max_uses.is_some_and(|max| grant.uses >= max);
        if now >= grant.expires_at || spent {
            return false;
        }
        grant.uses += 1;
        true
    }
}

/// A time no clock reaches: about 292 billion years from the epoch, the largest
/// `SystemTime` every platform holds.
fn far_future() -> SystemTime {
    SystemTime::UNIX_EPOCH
        .checked_add(Duration::from_secs(i64::MAX as u64 / 2))
        .unwrap_or(SystemTime::UNIX_EPOCH + Duration::from_secs(u32::MAX as u64))
}

/// The token of an `Authorization: Bearer …` header (scheme case-insensitive).
fn bearer(header: &str) -> Option<&str> {
    let (scheme, token) = header.trim().split_once(' ')?;
    scheme.eq_ignore_ascii_case("bearer").then(|| token.trim())
}

/// `(client_id, client_secret)` of an `Authorization: Basic …` header.
fn basic(header: &str) -> Option<(String, String)> {
    let (scheme, encoded) = header.trim().split_once(' ')?;
    if !scheme.eq_ignore_ascii_case("basic") {
        return None;
    }
    let decoded = String::from_utf8(STANDARD.decode(encoded.trim()).ok()?).ok()?;
    let (id, secret) = decoded.split_once(':')?;
    Some((id.to_owned(), secret.to_owned()))
}

/// What the token endpoint received.
#[derive(Debug, Default)]
pub struct TokenRequest<'a> {
    pub authorization: Option<&'a str>,
    pub query: Option<&'a str>,
    /// The body when it is a form (`application/x-www-form-urlencoded`).
    pub form: Option<&'a [u8]>,
}

/// Zoom's token endpoint: the JSON to answer with, or an error status and body.
/// Parameters may come in the query string or the form body, as Zoom accepts both.
pub fn grant(
    config: &SimConfig,
    store: &mut TokenStore,
    now: SystemTime,
    api_url: &str,
    request: &TokenRequest<'_>,
) -> Result<Value, (StatusCode, Value)> {
    let mut params: HashMap<String, String> = HashMap::new();
    let sources = [request.query.map(str::as_bytes), request.form];
    for source in sources.into_iter().flatten() {
        params.extend(url::form_urlencoded::parse(source).into_owned());
    }
    let credentials = request.authorization.and_then(basic);
    let expected = (config.client_id.clone(), config.client_secret.clone());
    if credentials.as_ref() != Some(&expected) {
        return Err((
            StatusCode::UNAUTHORIZED,
            json!({"reason": "Invalid client_id or client_secret", "error": "invalid_client"}),
        ));
    }
    if params.get("grant_type").map(String::as_str) != Some("account_credentials") {
        return Err((
            StatusCode::BAD_REQUEST,
            json!({"reason": "Unsupported grant type", "error": "unsupported_grant_type"}),
        ));
    }
    if params.get("account_id") != Some(&config.account_id) {
        return Err((
            StatusCode::BAD_REQUEST,
            json!({"reason": "Invalid request : Account ID is invalid.", "error": "invalid_request"}),
        ));
    }
    let lifetime = Duration::from_secs(config.token_lifetime_secs);
    let token = store.issue(now, lifetime);
    Ok(json!({
        "access_token": token,
        "token_type": "bearer",
        "expires_in": config.token_lifetime_secs,
        "scope": SCOPES,
        "api_url": api_url,
    }))
}

#[cfg(test)]
mod unit {
    use super::*;

    fn basic_header(id: &str, secret: &str) -> String {
        format!("Basic {}", STANDARD.encode(format!("{id}:{secret}")))
    }

    #[test]
    fn grants_and_expires() {
        let config = SimConfig {
            token_max_uses: Some(2),
            ..SimConfig::default()
        };
        let mut store = TokenStore::default();
        let now = SystemTime::now();
        let auth = basic_header("sim-client", "sim-secret");
        let request = TokenRequest {
            authorization: Some(&auth),
            query: Some("grant_type=account_credentials&account_id=sim-account"),
            form: None,
        };
        let answer = grant(&config, &mut store, now, "http://x", &request).unwrap();
        let header = format!("bearer {}", answer["access_token"].as_str().unwrap());
        assert!(store.authorize(&config, Some(&header), now));
        assert!(store.authorize(&config, Some(&header), now));
        assert!(!store.authorize(&config, Some(&header), now), "third use");
        assert!(store.authorize(
            &config,
            Some("Bearer sim-token"),
            now + Duration::from_secs(1 << 30)
        ));
        assert!(!store.authorize(&config, None, now));
    }

    #[test]
    fn a_lifetime_past_the_end_of_time_never_expires_and_never_panics() {
        let config = SimConfig {
            token_lifetime_secs: u64::MAX,
            ..SimConfig::default()
        };
        let mut store = TokenStore::default();
        let now = SystemTime::now();
        let auth = basic_header("sim-client", "sim-secret");
        let request = TokenRequest {
            authorization: Some(&auth),
            query: Some("grant_type=account_credentials&account_id=sim-account"),
            form: None,
        };
        let answer = grant(&config, &mut store, now, "http://x", &request).unwrap();
        assert_eq!(answer["expires_in"], u64::MAX);
        let header = format!("Bearer {}", answer["access_token"].as_str().unwrap());
        let later = now + Duration::from_secs(1 << 40);
        assert!(store.authorize(&config, Some(&header), later));
    }

    #[test]
    fn refuses_wrong_credentials_and_account() {
        let config = SimConfig::default();
        let mut store = TokenStore::default();
        let now = SystemTime::now();
        let wrong = basic_header("sim-client", "nope");
        let request = TokenRequest {
            authorization: Some(&wrong),
            form: Some(b"grant_type=account_credentials&account_id=sim-account"),
            ..TokenRequest::default()
        };
        let (status, _) = grant(&config, &mut store, now, "", &request).unwrap_err();
        assert_eq!(status, StatusCode::UNAUTHORIZED);
        let right = basic_header("sim-client", "sim-secret");
        let request = TokenRequest {
            authorization: Some(&right),
            form: Some(b"grant_type=account_credentials&account_id=other"),
            ..TokenRequest::default()
        };
        let (status, body) = grant(&config, &mut store, now, "", &request).unwrap_err();
        assert_eq!(
            (status, body["error"].as_str()),
            (StatusCode::BAD_REQUEST, Some("invalid_request"))
        );
    }
}
