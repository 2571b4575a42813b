//! Credentials and the bearer token: a fixed `ZOOM_ACCESS_TOKEN`, or Server-to-Server
//! OAuth that fetches, caches and renews tokens for every worker at once.
//!
//! Credentials come from the environment only, captured once by [`Credentials::from_env`]
//! (tests build them directly, so they never touch the process environment). Every token
//! carries a generation number: a worker that saw a 401 asks for a renewal *of the
//! generation it used*, so a hundred workers hitting one expired token cause one renewal,
//! not a hundred (Zoom's sources conflict on whether a new token revokes the old one, so
//! fewer grants is the safe side). A token is renewed ahead of time when [`renew_margin`]
//! of its life remains: 60 s, as Zoom's own SDK does, or a quarter of a shorter life, so
//! a 30 s token still serves for 22 s instead of being renewed before every request. The
//! token endpoint itself (bounded reads, clamped lifetimes, `api_url`) is [`endpoint`];
//! when its first request is asked again is `zoom::retry::token_start`.

pub mod endpoint;

pub use endpoint::api_base;

use crate::zoom::retry::{token_start, RetrySettings};
use reqwest::header::{HeaderValue, AUTHORIZATION};
use secrecy::{ExposeSecret, SecretString};
use std::time::{Duration, Instant};
use tokio::sync::Mutex;
use url::Url;

/// Renew a token when this little of its life remains (less for short lives:
/// [`renew_margin`]).
pub const RENEW_BEFORE: Duration = Duration::from_secs(60);

/// Tries of the first token request before the run gives up (exit 2): one blip of the
/// token endpoint must not cost a nightly run.
pub const START_TRIES: u32 = 4;

/// How long before the end of a token's `lifetime` it is renewed: [`RENEW_BEFORE`], or a
/// quarter of the lifetime when that is shorter, so every token serves for at least three
/// quarters of its life.
pub fn renew_margin(lifetime: Duration) -> Duration {
    RENEW_BEFORE.min(lifetime / 4)
}

/// What the environment provided.
#[derive(Clone, Default)]
pub struct Credentials {
    pub access_token: Option<SecretString>,
    pub account_id: Option<String>,
    pub client_id: Option<String>,
    pub client_secret: Option<SecretString>,
}

impl std::fmt::Debug for Credentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Credentials")
            .field(
                "access_token",
                &self.access_token.as_ref().map(|_| "[redacted]"),
            )
            .field("account_id", &self.account_id)
            .field("client_id", &self.client_id)
            .field(
                "client_secret",
                &self.client_secret.as_ref().map(|_| "[redacted]"),
            )
            .finish()
    }
}

impl AuthError {
    /// A failure worth asking again for: the endpoint unreachable, or failing on its side.
    pub fn is_transient(&self) -> bool {
        matches!(self, AuthError::Unreachable(_) | AuthError::Failed { .. })
    }
}

impl Credentials {
    /// Reads `ZOOM_ACCESS_TOKEN`, or `ZOOM_ACCOUNT_ID` + `ZOOM_CLIENT_ID` +
    /// `ZOOM_CLIENT_SECRET`. Empty values count as absent.
    pub fn from_env() -> Credentials {
        let get = |k: &str| std::env::var(k).ok().filter(|v| !v.trim().is_empty());
        Credentials {
            access_token: get("ZOOM_ACCESS_TOKEN").map(SecretString::from),
            account_id: get("ZOOM_ACCOUNT_ID"),
            client_id: get("ZOOM_CLIENT_ID"),
            client_secret: get("ZOOM_CLIENT_SECRET").map(SecretString::from),
        }
    }

    /// The simulator's Server-to-Server triple (CONTRACT.md).
    pub fn simulator(account_id: &str, client_id: &str, client_secret: &str) -> Credentials {
        Credentials {
            access_token: None,
            account_id: Some(account_id.to_string()),
            client_id: Some(client_id.to_string()),
            client_secret: Some(SecretString::from(client_secret.to_string())),
        }
    }
}

/// Why no token could be had. Never carries a secret.
#[derive(Debug, thiserror::Error)]
pub enum AuthError {
    #[error("no credentials: set ZOOM_ACCESS_TOKEN, or ZOOM_ACCOUNT_ID, ZOOM_CLIENT_ID and ZOOM_CLIENT_SECRET for Server-to-Server OAuth")]
    Missing,
    #[error("incomplete Server-to-Server credentials: {0} is not set")]
    Incomplete(&'static str),
    #[error("the token endpoint refused the credentials (HTTP {status}): {message}")]
    Refused { status: u16, message: String },
    /// A 5xx or 429: the endpoint failing on its side, worth asking again.
    #[error("the token endpoint failed (HTTP {status}): {message}")]
    Failed { status: u16, message: String },
    #[error("the token endpoint could not be reached: {0}")]
    Unreachable(String),
    /// The first token could not be had in [`START_TRIES`] tries of a transient failure.
    #[error("{last}; gave up after {tries} tries at startup, nothing was sent")]
    GaveUp { tries: u32, last: Box<AuthError> },
}

struct Cached {
    token: SecretString,
    /// When to renew it: its lifetime (clamped) less [`renew_margin`], counted from
    /// before the request was sent, so the server's clock is never overtaken.
    renew_at: Instant,
    generation: u64,
}

impl Cached {
    fn fresh(&self) -> bool {
        Instant::now() < self.renew_at
    }
}

/// Server-to-Server OAuth state: the credentials and the one cached token.
pub struct OAuth {
    token_url: Url,
    account_id: String,
    client_id: String,
    client_secret: SecretString,
    /// Each token request's own limit: [`endpoint::TOKEN_TIMEOUT`], or less.
    timeout: Duration,
    /// The one token every worker uses, and its generation: behind one lock so that a
    /// renewal happens once for all of them (a new token may invalidate the old one).
    cache: Mutex<Option<Cached>>,
}

/// A bearer token and the generation it belongs to.
pub struct Bearer {
    header: HeaderValue,
    pub generation: u64,
}

impl Bearer {
    /// The `Authorization` header: the one place a token is exposed. Marked sensitive so
    /// HTTP/2 never indexes it and debug output of the header map hides it.
    pub fn header(&self) -> (reqwest::header::HeaderName, HeaderValue) {
        (AUTHORIZATION, self.header.clone())
    }
}

fn bearer_header(token: &SecretString) -> HeaderValue {
    let mut v = HeaderValue::from_str(&format!("Bearer {}", token.expose_secret()))
        .unwrap_or_else(|_| HeaderValue::from_static("Bearer invalid-token-characters"));
    v.set_sensitive(true);
    v
}

/// The run's source of bearer tokens.
pub enum Auth {
    Static(SecretString),
    OAuth(Box<OAuth>),
}

impl Auth {
    /// Chooses the credentials: S2S when its variables are set, else the fixed token.
    pub fn new(creds: Credentials, token_url: Url) -> Result<Auth, AuthError> {
        let any_s2s = creds.account_id.is_some()
            || creds.client_id.is_some()
            || creds.client_secret.is_some();
        if any_s2s {
            let account_id = creds
                .account_id
                .ok_or(AuthError::Incomplete("ZOOM_ACCOUNT_ID"))?;
            let client_id = creds
                .client_id
                .ok_or(AuthError::Incomplete("ZOOM_CLIENT_ID"))?;
            let client_secret = creds
                .client_secret
                .ok_or(AuthError::Incomplete("ZOOM_CLIENT_SECRET"))?;
            return Ok(Auth::OAuth(Box::new(OAuth {
                token_url,
                account_id,
                client_id,
                client_secret,
                timeout: endpoint::TOKEN_TIMEOUT,
                cache: Mutex::new(None),
            })));
        }
        match creds.access_token {
            Some(t) => Ok(Auth::Static(t)),
            None => Err(AuthError::Missing),
        }
    }

    /// Limits each token request to `timeout` (the run's), or [`endpoint::TOKEN_TIMEOUT`]
    /// when that is shorter.
    pub fn token_timeout(mut self, timeout: Duration) -> Auth {
        if let Auth::OAuth(o) = &mut self {
            o.timeout = timeout.min(endpoint::TOKEN_TIMEOUT);
        }
        self
    }

    /// Fetches the first token (S2S), so refused credentials stop the run before anything
    /// is sent. Returns the token response's `api_url`, if any. A transient failure is
    /// tried again, [`START_TRIES`] tries in all, 0.5 s apart and doubling.
    pub async fn start(&self, http: &reqwest::Client) -> Result<Option<String>, AuthError> {
        self.start_with_backoff(http, Duration::from_millis(500), Duration::from_secs(8))
            .await
    }

    /// [`Auth::start`] with its own backoff: `base` after the first failure, doubling up
    /// to `max`. A refusal (4xx) is never tried again (the rules: [`token_start`]).
    pub async fn start_with_backoff(
        &self,
        http: &reqwest::Client,
        base: Duration,
        max: Duration,
    ) -> Result<Option<String>, AuthError> {
        let Auth::OAuth(o) = self else {
            return Ok(None);
        };
        let pace = RetrySettings {
            attempts: START_TRIES,
            base_delay: base,
            max_delay: max,
        };
        let mut cache = o.cache.lock().await;
        let mut state = token_start::State::default();
        loop {
            let e = match o.fetch(http, 1).await {
                Ok((cached, api_url)) => {
                    *cache = Some(cached);
                    return Ok(api_url);
                }
                Err(e) => e,
            };
            let event = if e.is_transient() {
                token_start::Event::Unavailable
            } else {
                token_start::Event::Refused
            };
            match token_start::decide(&mut state, event, &pace) {
                token_start::Step::AskAgain { wait, tries } => {
                    tracing::warn!(error = %e, tries, "the token endpoint failed; asking again");
                    tokio::time::sleep(wait).await;
                }
                token_start::Step::GiveUp { tries } => {
                    return Err(AuthError::GaveUp {
                        tries,
                        last: Box::new(e),
                    })
                }
                token_start::Step::Final => return Err(e),
            }
        }
    }

    /// A valid token, renewed first when [`renew_margin`] or less of its life remains.
    pub async fn bearer(&self, http: &reqwest::Client) -> Result<Bearer, AuthError> {
        match self {
            Auth::Static(t) => Ok(Bearer {
                header: bearer_header(t),
                generation: 0,
            }),
            Auth::OAuth(o) => {
                let mut cache = o.cache.lock().await;
                let stale = !cache.as_ref().is_some_and(Cached::fresh);
                if stale {
                    let next = cache.as_ref().map_or(1, |c| c.generation + 1);
                    tracing::info!(
                        generation = next,
                        "renewing the access token before it expires"
                    );
                    *cache = Some(o.fetch(http, next).await?.0);
                }
                let c = cache.as_ref().expect("filled above");
                Ok(Bearer {
                    header: bearer_header(&c.token),
                    generation: c.generation,
                })
            }
        }
    }

    /// The cached token when it is newer than `generation` and needs no renewal, without
    /// waiting for the lock or fetching anything. For the moment between the limiter and
    /// the send (any delay there would shift the spacing Zoom sees): a row that waited in
    /// the limiter with a token others have since replaced sends the replacement.
    pub fn newer(&self, generation: u64) -> Option<Bearer> {
        let Auth::OAuth(o) = self else { return None };
        let cache = o.cache.try_lock().ok()?;
        let c = cache.as_ref()?;
        (c.generation > generation && c.fresh()).then(|| Bearer {
            header: bearer_header(&c.token),
            generation: c.generation,
        })
    }

    /// After a 401 with the token of `generation`: renew once for everybody. Returns
    /// `false` when no renewal is possible (a fixed token).
    pub async fn renew_after_401(
        &self,
        http: &reqwest::Client,
        generation: u64,
    ) -> Result<bool, AuthError> {
        match self {
            Auth::Static(_) => Ok(false),
            Auth::OAuth(o) => {
                let mut cache = o.cache.lock().await;
                if cache.as_ref().is_some_and(|c| c.generation > generation) {
                    return Ok(true); // another worker renewed it already
                }
                tracing::warn!(
                    generation = generation + 1,
                    "token refused (401): renewing it once"
                );
                *cache = Some(o.fetch(http, generation + 1).await?.0);
                Ok(true)
            }
        }
    }
}

impl OAuth {
    async fn fetch(
        &self,
        http: &reqwest::Client,
        generation: u64,
    ) -> Result<(Cached, Option<String>), AuthError> {
        let asked = Instant::now();
        let grant = endpoint::Client {
            url: &self.token_url,
            account_id: &self.account_id,
            client_id: &self.client_id,
            client_secret: &self.client_secret,
            timeout: self.timeout,
        }
        .request(http)
        .await?;
        // The lifetime is clamped (endpoint::MAX_LIFETIME), so this cannot overflow; if
        // it somehow did, renewing at once is the safe side.
        let serves = grant.lifetime.saturating_sub(renew_margin(grant.lifetime));
        let renew_at = asked.checked_add(serves).unwrap_or(asked);
        Ok((
            Cached {
                token: grant.token,
                renew_at,
                generation,
            },
            grant.api_url,
        ))
    }
}

#[cfg(test)]
mod unit {
    use super::*;

    #[test]
    fn short_lives_are_renewed_at_a_quarter_left() {
        let s = Duration::from_secs;
        assert_eq!(renew_margin(s(3600)), s(60));
        assert_eq!(renew_margin(s(240)), s(60));
        assert_eq!(renew_margin(s(60)), s(15));
        assert_eq!(renew_margin(s(30)), Duration::from_millis(7500));
        assert_eq!(renew_margin(Duration::ZERO), Duration::ZERO);
        assert_eq!(renew_margin(endpoint::MAX_LIFETIME), s(60));
    }

    #[test]
    fn only_failures_on_the_endpoints_side_are_transient() {
        let failed = AuthError::Failed {
            status: 503,
            message: String::new(),
        };
        let refused = AuthError::Refused {
            status: 401,
            message: String::new(),
        };
        assert!(failed.is_transient());
        assert!(AuthError::Unreachable(String::new()).is_transient());
        assert!(!refused.is_transient());
        assert!(!AuthError::Missing.is_transient());
        let gave_up = AuthError::GaveUp {
            tries: START_TRIES,
            last: Box::new(failed),
        };
        assert!(!gave_up.is_transient(), "already asked again");
        assert_eq!(
            gave_up.to_string(),
            "the token endpoint failed (HTTP 503): ; gave up after 4 tries at startup, nothing was sent"
        );
    }
}
