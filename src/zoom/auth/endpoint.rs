//! The token endpoint's side of Server-to-Server OAuth: one request, its answer read to a
//! bound, and every value in it taken with suspicion.
//!
//! The answer comes from a server we do not control (a proxy, a misconfigured
//! `--token-url`, an attacker on a bad network), so nothing in it may panic, hang or
//! redirect the run: the body is read chunk by chunk up to [`MAX_TOKEN_BODY`] and refused
//! beyond it; the request has its own timeout; `expires_in` is clamped to
//! [`MAX_LIFETIME`] whatever shape it has; and `api_url` is adopted only when it names one
//! of Zoom's API hosts ([`api_base`]).

use super::AuthError;
use secrecy::{ExposeSecret, SecretString};
use serde::Deserialize;
use std::time::Duration;
use url::Url;

/// The most of a token answer that is read. Zoom's answers are well under 2 KiB (a JWT of
/// about 1 KiB and a few fields); anything past this is not a token answer.
pub const MAX_TOKEN_BODY: usize = 64 * 1024;

/// The longest lifetime a token answer is believed for. Zoom grants 3600 s; a day bounds
/// a larger claim, so `Instant` arithmetic can never overflow, and a token that in fact
/// dies sooner is renewed by the 401 path.
pub const MAX_LIFETIME: Duration = Duration::from_secs(24 * 3600);

/// The lifetime assumed when `expires_in` is absent, zero, negative or not a number:
/// Zoom's documented 3600 s. A zero is taken as "not stated" rather than "already dead",
/// since a token renewed before every request would be one grant per row (and each new
/// S2S grant may revoke the one the other workers hold).
pub const DEFAULT_LIFETIME: Duration = Duration::from_secs(3600);

/// The longest a token request may take, connection to last byte, whatever the run's
/// `timeout_secs` (which is sized for the API): a hung token endpoint must not hold the
/// start of a run for long, and it is tried again anyway.
pub const TOKEN_TIMEOUT: Duration = Duration::from_secs(15);

/// Who asks, and where.
pub(super) struct Client<'a> {
    pub url: &'a Url,
    pub account_id: &'a str,
    pub client_id: &'a str,
    pub client_secret: &'a SecretString,
    pub timeout: Duration,
}

/// A token answer, read and checked.
pub(super) struct Grant {
    pub token: SecretString,
    pub lifetime: Duration,
    pub api_url: Option<String>,
}

#[derive(Deserialize)]
struct TokenResponse {
    access_token: String,
    // Values, not typed fields: a lifetime of -5 or 1e300, or an api_url that is a
    // number, must not make a good token unusable.
    expires_in: Option<serde_json::Value>,
    api_url: Option<serde_json::Value>,
}

/// How long a token is good for, from its `expires_in`: clamped to [`MAX_LIFETIME`],
/// [`DEFAULT_LIFETIME`] when it states nothing usable. Accepts an integer, a fraction or
/// a string of either, as servers have sent all three.
pub fn lifetime(expires_in: Option<&serde_json::Value>) -> Duration {
    let secs = match expires_in {
        Some(serde_json::Value::Number(n)) => n.as_f64(),
        Some(serde_json::Value::String(s)) => s.trim().parse::<f64>().ok(),
        _ => None,
    };
    match secs {
        Some(s) if s.is_finite() && s > 0.0 => {
            Duration::from_secs_f64(s.min(MAX_LIFETIME.as_secs_f64()))
        }
        _ => DEFAULT_LIFETIME,
    }
}

/// `api_url` from a token answer as the API base (`…/v2`), when its host is one of
/// Zoom's (`zoom.us` or `zoomgov.com` or a name under either: `api.zoom.us`,
/// `api-eu.zoom.us`, `api.zoomgov.com`, over https on the default port) or the token
/// endpoint's own host (the one the operator configured and already trusts with the
/// client secret: the simulator, a test stub, a proxy that stands in for both; https, or
/// plain http to loopback as for any configured URL). Never with credentials, a path, a
/// query or a fragment. Anything else is refused with the reason: the base receives
/// every password and the bearer token. (An explicitly configured `--base-url` is never
/// replaced at all.)
pub fn api_base(api_url: &str, token_url: &Url) -> Result<Url, &'static str> {
    let mut url = Url::parse(api_url.trim()).map_err(|_| "not a URL")?;
    if !url.username().is_empty() || url.password().is_some() {
        return Err("carries credentials");
    }
    if !matches!(url.path(), "" | "/") {
        return Err("has a path");
    }
    if url.query().is_some() || url.fragment().is_some() {
        return Err("has a query or a fragment");
    }
    let same_host = url.host().is_some() && url.host_str() == token_url.host_str();
    if same_host {
        crate::zoom::url::check_url("api_url", url.as_str())
            .map_err(|_| "not https (plain http only to loopback)")?;
    } else {
        if url.scheme() != "https" {
            return Err("not https");
        }
        if url.port().is_some() {
            return Err("has a port");
        }
        let Some(url::Host::Domain(host)) = url.host() else {
            return Err("is not one of Zoom's API hosts");
        };
        if !crate::zoom::url::is_zoom_host(host) {
            return Err("is not one of Zoom's API hosts");
        }
    }
    url.set_path("/v2");
    Ok(url)
}

/// `api_url` as a log line may show it: clipped, and without any `user:password@`.
pub fn shown(api_url: &str) -> String {
    match Url::parse(api_url.trim()) {
        Ok(mut url) if !url.username().is_empty() || url.password().is_some() => {
            let _ = url.set_username("");
            let _ = url.set_password(None);
            crate::zoom::outcome::clip(url.as_str())
        }
        _ => crate::zoom::outcome::clip(api_url),
    }
}

/// Reads at most `limit` bytes of `response`: `Ok((body, false))` when it ended within
/// the limit, `Ok((first limit bytes, true))` when it went on (the rest is never read).
async fn read_bounded(
    mut response: reqwest::Response,
    limit: usize,
) -> Result<(Vec<u8>, bool), reqwest::Error> {
    if response.content_length().is_some_and(|n| n > limit as u64) {
        return Ok((Vec::new(), true));
    }
    let mut body = Vec::new();
    while let Some(chunk) = response.chunk().await? {
        let room = limit - body.len();
        if chunk.len() > room {
            body.extend_from_slice(&chunk[..room]);
            return Ok((body, true));
        }
        body.extend_from_slice(&chunk);
    }
    Ok((body, false))
}

/// Why a request failed, for a person: a timeout says how long was waited.
fn unreachable(e: reqwest::Error, timeout: Duration) -> AuthError {
    let e = e.without_url();
    AuthError::Unreachable(if e.is_timeout() {
        format!("no answer within {} s", timeout.as_secs_f64())
    } else {
        crate::zoom::client::describe(&e)
    })
}

impl Client<'_> {
    /// One token request. 5xx and 429 are [`AuthError::Failed`] (worth asking again);
    /// any other non-200, or a 200 that is not a token answer, is [`AuthError::Refused`].
    pub async fn request(&self, http: &reqwest::Client) -> Result<Grant, AuthError> {
        let secret = self.client_secret.expose_secret();
        let response = http
            .post(self.url.clone())
            .query(&[
                ("grant_type", "account_credentials"),
                ("account_id", self.account_id),
            ])
            .basic_auth(self.client_id, Some(secret))
            .timeout(self.timeout)
            .send()
            .await
            .map_err(|e| unreachable(e, self.timeout))?;
        let status = response.status().as_u16();
        let (body, too_large) = read_bounded(response, MAX_TOKEN_BODY)
            .await
            .map_err(|e| unreachable(e, self.timeout))?;
        // A token endpoint that echoes the request must not carry the secret into an error.
        let basic = base64::Engine::encode(
            &base64::engine::general_purpose::STANDARD,
            format!("{}:{secret}", self.client_id),
        );
        let body = crate::zoom::redact::redact(body.into(), &[secret, &basic], too_large);
        if status != 200 {
            // Zoom's refusal bodies name the problem ("Invalid client_id or client_secret");
            // they carry no secret, but are clipped all the same.
            let message = crate::zoom::outcome::clip(&crate::zoom::outcome::summarize_body(&body));
            return Err(if status >= 500 || status == 429 {
                AuthError::Failed { status, message }
            } else {
                AuthError::Refused { status, message }
            });
        }
        let refused = |message: &str| AuthError::Refused {
            status,
            message: message.to_string(),
        };
        if too_large {
            return Err(refused(&format!(
                "its answer is larger than {} KiB, so it was not read",
                MAX_TOKEN_BODY / 1024
            )));
        }
        let parsed: TokenResponse = serde_json::from_slice(&body)
            .map_err(|_| refused("the token response is not the JSON Zoom sends"))?;
        if parsed.access_token.trim().is_empty() {
            return Err(refused("the token response holds no access_token"));
        }
        // A token with a line break or a control byte would otherwise be sent as some
        // other header (or a placeholder): refuse it here, once, with the reason.
        if reqwest::header::HeaderValue::from_str(&parsed.access_token).is_err() {
            return Err(refused(
                "the token response's access_token cannot be sent in a header",
            ));
        }
        Ok(Grant {
            token: SecretString::from(parsed.access_token),
            lifetime: lifetime(parsed.expires_in.as_ref()),
            api_url: parsed
                .api_url
                .as_ref()
                .and_then(|v| v.as_str())
                .map(str::to_string),
        })
    }
}

#[cfg(test)]
mod unit {
    use super::*;
    use serde_json::json;

    #[test]
    fn lifetimes_are_clamped_and_defaulted() {
        let l = |v: serde_json::Value| lifetime(Some(&v));
        assert_eq!(l(json!(30)), Duration::from_secs(30));
        assert_eq!(l(json!(3599)), Duration::from_secs(3599));
        assert_eq!(l(json!(u64::MAX)), MAX_LIFETIME);
        assert_eq!(l(json!(1e300)), MAX_LIFETIME);
        assert_eq!(l(json!(2.5)), Duration::from_millis(2500));
        assert_eq!(l(json!("120")), Duration::from_secs(120));
        for none in [
            json!(0),
            json!(-5),
            json!(-1e300),
            json!("soon"),
            json!(null),
        ] {
            assert_eq!(l(none.clone()), DEFAULT_LIFETIME, "{none}");
        }
        assert_eq!(l(json!("inf")), DEFAULT_LIFETIME);
        assert_eq!(l(json!("NaN")), DEFAULT_LIFETIME);
        assert_eq!(l(json!([1])), DEFAULT_LIFETIME);
        assert_eq!(lifetime(None), DEFAULT_LIFETIME);
    }

    #[test]
    fn only_zoom_hosts_become_the_base() {
        let zoom_token = Url::parse("https://zoom.us/oauth/token").unwrap();
        for (ok, base) in [
            ("https://api.zoom.us", "https://api.zoom.us/v2"),
            ("https://api-eu.zoom.us/", "https://api-eu.zoom.us/v2"),
            ("https://API.Zoom.US", "https://api.zoom.us/v2"),
            ("https://api.zoomgov.com", "https://api.zoomgov.com/v2"),
            ("https://zoom.us:443", "https://zoom.us/v2"),
        ] {
            let got = api_base(ok, &zoom_token).map(|u| u.to_string());
            assert_eq!(got, Ok(base.to_string()));
        }
        for (bad, why) in [
            ("https://evil.example.com", "is not one of Zoom's API hosts"),
            (
                "https://api.zoom.us.evil.com",
                "is not one of Zoom's API hosts",
            ),
            ("https://evilzoom.us", "is not one of Zoom's API hosts"),
            ("https://zoom.us.", "is not one of Zoom's API hosts"),
            ("https://127.0.0.1", "is not one of Zoom's API hosts"),
            ("http://api.zoom.us", "not https"),
            ("https://u:p@api.zoom.us", "carries credentials"),
            ("https://api.zoom.us:8443", "has a port"),
            ("https://api.zoom.us/v2", "has a path"),
            ("https://api.zoom.us?x=1", "has a query or a fragment"),
            ("not a url", "not a URL"),
        ] {
            assert_eq!(api_base(bad, &zoom_token), Err(why), "{bad}");
        }
        // The token endpoint's own host: the simulator's loopback, any port.
        let local = Url::parse("http://127.0.0.1:8787/oauth/token").unwrap();
        let got = api_base("http://127.0.0.1:9000", &local).map(|u| u.to_string());
        assert_eq!(got, Ok("http://127.0.0.1:9000/v2".to_string()));
        assert_eq!(
            api_base("http://0.0.0.0:8787", &local),
            Err("not https"),
            "another host"
        );
        let proxy = Url::parse("http://proxy.corp/oauth/token").unwrap();
        assert_eq!(
            api_base("http://proxy.corp", &proxy),
            Err("not https (plain http only to loopback)")
        );
        assert_eq!(shown("https://u:p@api.zoom.us"), "https://api.zoom.us/");
        assert_eq!(shown("not a url"), "not a url");
    }
}
