//! API URLs from flags, the environment and config.toml: https, or plain http to
//! loopback only (the simulator and tests), and never with credentials in them, which
//! belong in the environment and must not reach a log line or an error message.

use crate::vocab::{bad, ConfigError};
use url::Url;

/// Zoom's API base, unless the token's `api_url` or a setting says otherwise.
pub const DEFAULT_BASE_URL: &str = "https://api.zoom.us/v2";
/// Zoom's Server-to-Server OAuth token endpoint.
pub const DEFAULT_TOKEN_URL: &str = "https://zoom.us/oauth/token";

/// Checks an API URL: https, or http only to a loopback host; never with credentials.
pub fn check_url(field: &str, raw: &str) -> Result<Url, ConfigError> {
    let url = Url::parse(raw.trim())
        .map_err(|e| bad(field, without_userinfo(raw), &format!("a URL ({e})")))?;
    if !url.username().is_empty() || url.password().is_some() {
        return Err(bad(
            field,
            "(a URL with credentials, not shown)",
            "a URL without user:password@ (credentials go in the environment)",
        ));
    }
    match url.scheme() {
        "https" => {}
        "http" if is_loopback(&url) => {}
        "http" => return Err(bad(
            field,
            raw,
            "an https:// URL (plain http is allowed only to loopback: 127.0.0.0/8, ::1, localhost)",
        )),
        _ => return Err(bad(field, raw, "an https:// URL")),
    }
    if url.host().is_none() {
        return Err(bad(field, raw, "a URL with a host"));
    }
    Ok(url)
}

/// `raw` fit for an error message: a `user:password@` part that a URL too broken to
/// parse may still hold is cut out.
fn without_userinfo(raw: &str) -> String {
    let (scheme, rest) = match raw.find("://") {
        Some(i) => (&raw[..i + 3], &raw[i + 3..]),
        None if raw.contains('@') => return "(not shown: it may hold credentials)".into(),
        None => return raw.to_string(),
    };
    let authority_end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    match rest[..authority_end].rfind('@') {
        Some(at) => format!("{scheme}(credentials not shown){}", &rest[at..]),
        None => raw.to_string(),
    }
}

/// Zoom's own hosts: `zoom.us`, `zoomgov.com`, or a name under either (`api.zoom.us`,
/// `api-eu.zoom.us`, `api.zoomgov.com`). `host` as the url crate gives it (lower case).
pub fn is_zoom_host(host: &str) -> bool {
    ["zoom.us", "zoomgov.com"]
        .iter()
        .any(|d| host == *d || host.strip_suffix(d).is_some_and(|h| h.ends_with('.')))
}

/// A loopback host: 127.0.0.0/8, ::1 or `localhost`.
pub fn is_loopback(url: &Url) -> bool {
    match url.host() {
        Some(url::Host::Domain(d)) => d.eq_ignore_ascii_case("localhost"),
        Some(url::Host::Ipv4(ip)) => ip.is_loopback(),
        Some(url::Host::Ipv6(ip)) => ip.is_loopback(),
        None => false,
    }
}

#[cfg(test)]
mod unit {
    use super::*;

    #[test]
    fn urls() {
        for ok in [
            "https://api.zoom.us/v2",
            "http://127.0.0.1:8080/v2",
            "http://127.8.9.10/v2",
            "http://[::1]:9/v2",
            "http://LOCALHOST:1/v2",
        ] {
            assert!(check_url("base_url", ok).is_ok(), "{ok}");
        }
        for (bad_url, why) in [
            (
                "http://api.zoom.us/v2",
                "plain http is allowed only to loopback",
            ),
            ("http://localhost.example.com/v2", "plain http"),
            ("http://[::2]/v2", "plain http"),
            ("ftp://127.0.0.1/", "an https:// URL"),
            ("https://me:pw@api.zoom.us/v2", "without user:password@"),
            ("https://me@api.zoom.us/v2", "without user:password@"),
            ("http://me:pw@127.0.0.1/v2", "without user:password@"),
        ] {
            let e = check_url("base_url", bad_url).unwrap_err().to_string();
            assert!(e.contains(why), "{bad_url}: {e}");
            assert!(!e.contains(":pw@"), "{e}");
        }
        let e = check_url("base_url", "https://me:s3cret@exa mple.com/")
            .unwrap_err()
            .to_string();
        assert!(!e.contains("s3cret"), "{e}");
        assert!(
            e.contains("https://(credentials not shown)@exa mple.com/"),
            "{e}"
        );
    }
}
