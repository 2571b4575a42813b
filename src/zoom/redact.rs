//! Secrets out of servers' answers: a password or token that a server echoes back (in an
//! error message, say) is removed before the answer is read, so it can never reach the
//! report, a log line or an error.
//!
//! A hostile or buggy server can echo in many encodings; [`redact`] looks for each
//! secret in every form listed by `echo_forms` (base64 among them), and cleans a JSON
//! body string by string. A secret inside a larger base64 blob (a gateway echoing the
//! whole request body encoded) is found by the cores of `base64_cores`, and the blob's
//! characters around a core, which still carry a few of the secret's bits, go with it.

use base64::engine::general_purpose::{STANDARD, STANDARD_NO_PAD, URL_SAFE, URL_SAFE_NO_PAD};
use base64::Engine as _;
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
/// case), form-encoded, HTML-escaped, and base64 (standard and URL-safe, with and without
/// padding). Longest first, so a long form is replaced whole before a shorter one inside
/// it.
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
        STANDARD.encode(secret).into_bytes(),
        STANDARD_NO_PAD.encode(secret).into_bytes(),
        URL_SAFE.encode(secret).into_bytes(),
        URL_SAFE_NO_PAD.encode(secret).into_bytes(),
    ] {
        let form = Zeroizing::new(form);
        if !form.is_empty() && !forms.iter().any(|f| **f == *form) {
            forms.push(form);
        }
    }
    forms.sort_by_key(|f| std::cmp::Reverse(f.len()));
    forms
}

/// A piece of a secret's base64 that any base64 blob holding the secret contains: the
/// secret's whole 3-byte groups, for one of the three places it can start in the blob.
struct Core {
    text: Zeroizing<Vec<u8>>,
    url_safe: bool,
}

/// The [`Core`]s of `secret`, as sent raw (a multipart field) and JSON-escaped (our JSON
/// body), in both alphabets. Every secret looked for has 8 bytes or more, so every core
/// holds at least two groups (8 characters): it cannot turn up by chance.
fn base64_cores(secret: &str) -> Vec<Core> {
    let json = Zeroizing::new(serde_json::to_string(secret).unwrap_or_default());
    let json = json
        .get(1..json.len().saturating_sub(1))
        .unwrap_or_default();
    let mut cores: Vec<Core> = Vec::new();
    for form in [secret.as_bytes(), json.as_bytes()] {
        for skip in 0..3.min(form.len()) {
            let whole = (form.len() - skip) / 3 * 3;
            let groups = &form[skip..skip + whole];
            if whole < 6 {
                continue;
            }
            for (text, url_safe) in [
                (STANDARD_NO_PAD.encode(groups), false),
                (URL_SAFE_NO_PAD.encode(groups), true),
            ] {
                let text = Zeroizing::new(text.into_bytes());
                if !cores.iter().any(|c| c.text == text) {
                    cores.push(Core { text, url_safe });
                }
            }
        }
    }
    cores
}

/// Everything looked for in an answer.
struct Needles {
    /// Replaced exactly, longest first.
    literal: Vec<Zeroizing<Vec<u8>>>,
    /// Replaced with the base64 characters around them (see [`widen`]).
    cores: Vec<Core>,
}

impl Needles {
    fn of(secrets: &[&str]) -> Needles {
        let secrets = || secrets.iter().filter(|s| s.len() >= MIN_SECRET);
        let mut literal: Vec<Zeroizing<Vec<u8>>> = secrets().flat_map(|s| echo_forms(s)).collect();
        literal.sort_by_key(|f| std::cmp::Reverse(f.len()));
        Needles {
            literal,
            cores: secrets().flat_map(|s| base64_cores(s)).collect(),
        }
    }

    fn is_empty(&self) -> bool {
        self.literal.is_empty()
    }

    /// Every needle, for the tail of a body cut short.
    fn all(&self) -> impl Iterator<Item = &[u8]> {
        let cores = self.cores.iter().map(|c| c.text.as_slice());
        self.literal.iter().map(|n| n.as_slice()).chain(cores)
    }
}

/// Whether `b` is a character of base64's standard (or URL-safe) alphabet.
fn is_base64(b: u8, url_safe: bool) -> bool {
    b.is_ascii_alphanumeric()
        || (url_safe && matches!(b, b'-' | b'_'))
        || (!url_safe && matches!(b, b'+' | b'/'))
}

/// The span a core found at `at..end` stands for: with the group before it and the one
/// after it (and any padding), whose characters mix the secret's first and last bytes
/// with their neighbours'.
fn widen(text: &[u8], at: usize, end: usize, url_safe: bool) -> (usize, usize) {
    let before = text[..at]
        .iter()
        .rev()
        .take(4)
        .take_while(|b| is_base64(**b, url_safe))
        .count();
    let after = text[end..]
        .iter()
        .take(4)
        .take_while(|b| is_base64(**b, url_safe) || **b == b'=')
        .count();
    let pad = text[end + after..]
        .iter()
        .take(2)
        .take_while(|b| **b == b'=')
        .count();
    (at - before, end + after + pad)
}

/// `text` with every occurrence of `needle` replaced by [`REDACTED`], each widened by
/// `span` (given the match's start and end); `None` when there was none. The matches are
/// found first and their spans merged, so a widened span never hides the next match.
fn replace_one(
    text: &[u8],
    needle: &[u8],
    span: impl Fn(&[u8], usize, usize) -> (usize, usize),
) -> Option<Vec<u8>> {
    let mut spans: Vec<(usize, usize)> = Vec::new();
    let mut i = 0;
    while i + needle.len() <= text.len() {
        if text[i..].starts_with(needle) {
            let (from, to) = span(text, i, i + needle.len());
            match spans.last_mut() {
                Some(last) if from <= last.1 => last.1 = last.1.max(to),
                _ => spans.push((from, to)),
            }
            i += needle.len();
        } else {
            i += 1;
        }
    }
    if spans.is_empty() {
        return None;
    }
    let mut next = Vec::with_capacity(text.len());
    let mut copied = 0;
    for (from, to) in spans {
        next.extend_from_slice(&text[copied..from]);
        next.extend_from_slice(REDACTED.as_bytes());
        copied = to;
    }
    next.extend_from_slice(&text[copied..]);
    Some(next)
}

/// `text` with every needle replaced by [`REDACTED`]; `None` when there was none.
fn scrub(text: &[u8], needles: &Needles) -> Option<Vec<u8>> {
    let mut out: Option<Vec<u8>> = None;
    let apply = |next: Option<Vec<u8>>, out: &mut Option<Vec<u8>>| {
        if let Some(next) = next {
            if let Some(old) = out.as_mut() {
                old.zeroize();
            }
            *out = Some(next);
        }
    };
    for needle in &needles.literal {
        let next = replace_one(out.as_deref().unwrap_or(text), needle, |_, a, b| (a, b));
        apply(next, &mut out);
    }
    for core in &needles.cores {
        let url_safe = core.url_safe;
        let next = replace_one(out.as_deref().unwrap_or(text), &core.text, |t, a, b| {
            widen(t, a, b, url_safe)
        });
        apply(next, &mut out);
    }
    out
}

/// Redacts every string of a JSON document, keys included; whether any changed.
fn redact_json(value: &mut serde_json::Value, needles: &Needles) -> bool {
    use serde_json::Value;
    let redact_str = |s: &mut String| match scrub(s.as_bytes(), needles) {
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

/// Removes `secrets` from a response body, in every form [`echo_forms`] lists and inside
/// any base64 blob. A JSON body is redacted string by string (so an escape a server chose
/// cannot hide an echo from the message Zoom's `message` field becomes); any other body
/// byte by byte. When the body was `cut_short` at the read limit, a tail that begins a
/// secret goes too.
pub fn redact(body: bytes::Bytes, secrets: &[&str], cut_short: bool) -> bytes::Bytes {
    // Most answers (every 204) have no body: nothing to build needles for.
    if body.is_empty() {
        return body;
    }
    let needles = Needles::of(secrets);
    if needles.is_empty() {
        return body;
    }
    if let Ok(mut value) = serde_json::from_slice::<serde_json::Value>(&body) {
        if redact_json(&mut value, &needles) {
            return serde_json::to_vec(&value).unwrap_or_default().into();
        }
        return body;
    }
    let mut out = scrub(&body, &needles).unwrap_or_else(|| body.to_vec());
    if cut_short {
        for needle in needles.all() {
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

    /// Whether no piece of `out` left around a `[redacted]`, decoded as base64 at any of
    /// its four alignments, holds two bytes in a row of `secret`.
    fn leftovers_hold_none_of(out: &str, secret: &str, url_safe: bool) -> bool {
        let engine = if url_safe {
            &URL_SAFE_NO_PAD
        } else {
            &STANDARD_NO_PAD
        };
        let pieces = out.split('"').flat_map(|p| p.split(REDACTED));
        pieces.into_iter().all(|piece| {
            let piece = piece.trim_end_matches('=');
            (0..4.min(piece.len())).all(|start| {
                let mut text = &piece[start..];
                if text.len() % 4 == 1 {
                    text = &text[..text.len() - 1];
                }
                let bytes = engine.decode(text).unwrap_or_default();
                !secret
                    .as_bytes()
                    .windows(2)
                    .any(|w| bytes.windows(2).any(|b| b == w))
            })
        })
    }

    #[test]
    fn base64_echoes_are_redacted_alone_and_inside_a_blob() {
        let pw = "Ma?le7-Qu~rtz-Rain";
        let r = |body: &str| {
            String::from_utf8(redact(body.to_string().into(), &[pw], false).to_vec()).unwrap()
        };
        // The secret alone, in each alphabet, with and without padding.
        for engine in [&STANDARD, &STANDARD_NO_PAD, &URL_SAFE, &URL_SAFE_NO_PAD] {
            let encoded = engine.encode(pw);
            assert_eq!(r(&format!("echo: {encoded} end")), "echo: [redacted] end");
            let json = serde_json::json!({ "message": format!("got {encoded}") }).to_string();
            assert_eq!(r(&json), r#"{"message":"got [redacted]"}"#);
        }
        assert_ne!(
            STANDARD.encode(pw),
            URL_SAFE.encode(pw),
            "both alphabets are tried"
        );
        // Inside a larger blob, at each of the three alignments: the request body as we
        // sent it (JSON), and a multipart field (raw), echoed by a gateway.
        let json_body = serde_json::json!({ "password": pw }).to_string();
        let multipart = format!("--b\r\nname=\"password\"\r\n\r\n{pw}\r\n--b--");
        for sent in [
            json_body.clone(),
            format!("x{json_body}"),
            format!("xy{json_body}"),
            multipart,
        ] {
            for (engine, url_safe) in [(&STANDARD, false), (&URL_SAFE_NO_PAD, true)] {
                let blob = engine.encode(&sent);
                let out = r(&format!(r#"{{"isBase64Encoded":true,"body":"{blob}"}}"#));
                assert!(out.contains("[redacted]"), "{sent:?}: {out}");
                assert!(
                    leftovers_hold_none_of(&out, pw, url_safe),
                    "{sent:?}: {out}"
                );
            }
        }
        // Unrelated base64 and text stay as they were.
        let other = STANDARD.encode("Another-Secret-99");
        assert_eq!(r(&other), other);
        assert_eq!(r("plain text"), "plain text");
    }

    #[test]
    fn widened_matches_merge_and_never_hide_the_next() {
        // 19 bytes: the core of its first 18 is not one of its whole forms.
        let pw = "Maple7-Quartz-Rain!";
        let core = STANDARD_NO_PAD.encode(&pw.as_bytes()[..18]);
        let twice = format!("{core}{core}");
        let out = redact(twice.clone().into(), &[pw], false);
        assert_eq!(
            &out[..],
            b"[redacted]",
            "one span: the first's widening reaches the second"
        );
        let spaced = format!("AAAA{core}BB==,{core}");
        let out = redact(spaced.into(), &[pw], false);
        assert_eq!(&out[..], b"[redacted],[redacted]");
    }
}
