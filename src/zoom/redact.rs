//! Secrets out of servers' answers: a password or token that a server echoes back (in an
//! error message, say) is removed before the answer is read, so it can never reach the
//! report, a log line or an error.
//!
//! A hostile or buggy server can echo in many encodings; [`redact`] looks for each
//! secret in every form listed by `echo_forms`, and cleans a JSON body string by string.

use percent_encoding::{utf8_percent_encode, NON_ALPHANUMERIC};
use secrecy::zeroize::{Zeroize, Zeroizing};

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
    // Most answers (every 204) have no body: nothing to build needles for.
    if body.is_empty() {
        return body;
    }
    let needles: Vec<Zeroizing<Vec<u8>>> = secrets
        .iter()
        .filter(|s| s.len() >= MIN_SECRET)
        .flat_map(|s| echo_forms(s))
        .collect();
    if needles.is_empty() {
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

#[cfg(test)]
mod unit {
    use super::*;

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
}
