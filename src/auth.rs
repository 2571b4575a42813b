//! Credentials and the bearer token: a fixed `ZOOM_ACCESS_TOKEN`, or Server-to-Server
//! OAuth that fetches, caches and renews tokens for every worker at once.
//!
//! Credentials come from the environment only, captured once by [`Credentials::from_env`]
//! (tests build them directly, so they never touch the process environment). Every token
//! carries a generation number: a worker that saw a 401 asks for a renewal *of the
//! generation it used*, so a hundred workers hitting one expired token cause one renewal,
//! not a hundred (Zoom's sources conflict on whether a new token revokes the old one, so
//! fewer grants is the safe side). A token is renewed ahead of time when 60 s or less
//! remain, as Zoom's own SDK does.

use base64::Engine as _;
use reqwest::header::{HeaderValue, AUTHORIZATION};
use secrecy::{ExposeSecret, SecretString};
use serde::Deserialize;
use std::time::{Duration, Instant};
use tokio::sync::Mutex;
use url::Url;

/// Renew a token when this little of its life remains.
pub const RENEW_BEFORE: Duration = Duration::from_secs(60);

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
        match self {
            AuthError::Unreachable(_) => true,
            AuthError::Refused { status, .. } => *status >= 500,
            _ => false,
        }
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
    #[error("the token endpoint could not be reached: {0}")]
    Unreachable(String),
}

struct Cached {
    token: SecretString,
    expires: Instant,
    generation: u64,
}

/// Server-to-Server OAuth state: the credentials and the one cached token.
pub struct OAuth {
    token_url: Url,
    account_id: String,
    client_id: String,
    client_secret: SecretString,
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

#[derive(Deserialize)]
struct TokenResponse {
    access_token: String,
    expires_in: Option<u64>,
    api_url: Option<String>,
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
                cache: Mutex::new(None),
            })));
        }
        match creds.access_token {
            Some(t) => Ok(Auth::Static(t)),
            None => Err(AuthError::Missing),
        }
    }

    /// Fetches the first token (S2S), so refused credentials stop the run before anything
    /// is sent. Returns the token response's `api_url`, if any.
    pub async fn start(&self, http: &reqwest::Client) -> Result<Option<String>, AuthError> {
        match self {
            Auth::Static(_) => Ok(None),
            Auth::OAuth(o) => {
                let mut cache = o.cache.lock().await;
                let (cached, api_url) = o.fetch(http, 1).await?;
                *cache = Some(cached);
                Ok(api_url)
            }
        }
    }

    /// A valid token, renewed first when 60 s or less remain.
    pub async fn bearer(&self, http: &reqwest::Client) -> Result<Bearer, AuthError> {
        match self {
            Auth::Static(t) => Ok(Bearer {
                header: bearer_header(t),
                generation: 0,
            }),
            Auth::OAuth(o) => {
                let mut cache = o.cache.lock().await;
                let stale = match &*cache {
                    Some(c) => c.expires.saturating_duration_since(Instant::now()) <= RENEW_BEFORE,
                    None => true,
                };
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
        let fresh = c.expires.saturating_duration_since(Instant::now()) > RENEW_BEFORE;
        (c.generation > generation && fresh).then(|| Bearer {
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
        let response = http
            .post(self.token_url.clone())
            .query(&[
                ("grant_type", "account_credentials"),
                ("account_id", &self.account_id),
            ])
            .basic_auth(&self.client_id, Some(self.client_secret.expose_secret()))
            .send()
            .await
            .map_err(|e| AuthError::Unreachable(e.without_url().to_string()))?;
        let status = response.status().as_u16();
        let body = response.bytes().await.unwrap_or_default();
        // A token endpoint that echoes the request must not carry the secret into an error.
        let basic = base64::engine::general_purpose::STANDARD.encode(format!(
            "{}:{}",
            self.client_id,
            self.client_secret.expose_secret()
        ));
        let body =
            crate::redact::redact(body, &[self.client_secret.expose_secret(), &basic], false);
        if status != 200 {
            // Zoom's refusal bodies name the problem ("Invalid client_id or client_secret");
            // they carry no secret, but are clipped all the same.
            return Err(AuthError::Refused {
                status,
                message: crate::outcome::clip(&crate::outcome::summarize_body(&body)),
            });
        }
        let parsed: TokenResponse =
            serde_json::from_slice(&body).map_err(|_| AuthError::Refused {
                status,
                message: "the token response is not the JSON Zoom sends".to_string(),
            })?;
        let lifetime = Duration::from_secs(parsed.expires_in.unwrap_or(3600));
        Ok((
            Cached {
                token: SecretString::from(parsed.access_token),
                expires: Instant::now() + lifetime,
                generation,
            },
            parsed.api_url,
        ))
    }
}
