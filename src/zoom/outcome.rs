//! What became of one row, and how a Zoom answer maps onto it.
//!
//! The outcome names, and which of them are final on `--resume`, are the contract's
//! (CONTRACT.md, "Outcomes"). [`classify`] turns one HTTP answer into a [`Verdict`]: the
//! outcome it would be if nothing else happened, plus whether the worker may send again
//! (a per-second 429, a 5xx) or must stop the whole run (a daily 429). The retry policy
//! itself lives in `workers`; this module only reads answers, and never trusts a body to
//! be JSON, short, or present.

use crate::vocab::Outcome;
use serde::Deserialize;

/// Zoom's two 400/300 messages that are not generic validation errors.
pub const SAME_AS_OLD_MSG: &str = "can not match the old password";
pub const CHANGE_LIMIT_MSG: &str = "maximum number of times";

/// The longest piece of a server's message kept for the report: enough for any of Zoom's
/// messages, too little for an HTML error page to flood a CSV cell.
pub const MAX_MESSAGE: usize = 300;

/// Which 429 it was: the two need opposite reactions (wait a moment, or stop for the day).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RateKind {
    PerSecond,
    Daily,
    /// "Too many concurrent requests." for one resource: wait and send again.
    Concurrent,
}

/// How one answer reads, before retries are considered.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Verdict {
    pub outcome: Outcome,
    pub http_status: u16,
    pub zoom_code: Option<u32>,
    pub message: String,
    pub rate: Option<RateKind>,
}

#[derive(Deserialize)]
struct ZoomError {
    code: Option<serde_json::Value>,
    message: Option<String>,
}

/// Parses Zoom's `{"code": N, "message": "..."}`; `None` for anything else.
fn parse_body(body: &[u8]) -> (Option<u32>, Option<String>) {
    match serde_json::from_slice::<ZoomError>(body) {
        Ok(e) => {
            let code = match e.code {
                Some(serde_json::Value::Number(n)) => n.as_u64().map(|n| n as u32),
                Some(serde_json::Value::String(s)) => s.trim().parse().ok(),
                _ => None,
            };
            (code, e.message)
        }
        Err(_) => (None, None),
    }
}

/// A body that is not Zoom's JSON, made fit for one report cell: HTML tags dropped,
/// whitespace collapsed (only its first 8 KiB are read).
pub fn summarize_body(body: &[u8]) -> String {
    let text = String::from_utf8_lossy(&body[..body.len().min(8 * 1024)]);
    let mut out = String::new();
    let mut in_tag = false;
    for c in text.chars() {
        match c {
            '<' => in_tag = true,
            '>' if in_tag => {
                in_tag = false;
                out.push(' ');
            }
            _ if in_tag => {}
            c if c.is_whitespace() || c.is_control() => out.push(' '),
            c => out.push(c),
        }
    }
    out.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// Cuts a message to [`MAX_MESSAGE`] characters on a character boundary.
pub fn clip(s: &str) -> String {
    match s.char_indices().nth(MAX_MESSAGE) {
        Some((i, _)) => format!("{}…", &s[..i]),
        None => s.to_string(),
    }
}

/// The longest piece of a `Location` kept for a redirect's message.
pub const MAX_LOCATION: usize = 200;

/// The longest piece of a `Content-Type` kept for a message.
pub const MAX_CONTENT_TYPE: usize = 60;

/// The longest summary of a body that is not Zoom's answer (another 2xx): enough to tell
/// a portal's login page from a proxy's own JSON, short enough for one report cell.
pub const MAX_SUMMARY: usize = 120;

/// A header's value made fit for a report cell: control characters and runs of
/// whitespace become one space, and it is clipped to `max` characters.
pub fn sanitize_header(value: &str, max: usize) -> String {
    let flat: String = value
        .chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect();
    let flat = flat.split_whitespace().collect::<Vec<_>>().join(" ");
    match flat.char_indices().nth(max) {
        Some((i, _)) => format!("{}…", &flat[..i]),
        None => flat,
    }
}

/// A redirect's `Location` made fit for a report cell ([`sanitize_header`], clipped to
/// [`MAX_LOCATION`] characters).
pub fn sanitize_location(location: &str) -> String {
    sanitize_header(location, MAX_LOCATION)
}

/// What a verdict reads of one HTTP answer: its status, the headers that matter (already
/// redacted by the client), and its body (as much as the client read, redacted).
#[derive(Debug, Clone, Copy, Default)]
pub struct Heard<'a> {
    pub status: u16,
    /// `X-RateLimit-Type`, when sent.
    pub ratelimit_type: Option<&'a str>,
    /// `Location`, for a redirect's message.
    pub location: Option<&'a str>,
    /// `Content-Type`, for the message of an answer that is not Zoom's.
    pub content_type: Option<&'a str>,
    pub body: &'a [u8],
}

/// Reads one HTTP answer to `PUT /users/{id}/password` from its status, its
/// `X-RateLimit-Type` (when present) and its body alone. The client's answers read
/// themselves with every header that matters (`client::Answer::verdict`).
pub fn classify(status: u16, ratelimit_type: Option<&str>, body: &[u8]) -> Verdict {
    classify_heard(&Heard {
        status,
        ratelimit_type,
        body,
        ..Heard::default()
    })
}

/// [`classify`], with the `Location` header for a redirect's message.
pub fn classify_answer(
    status: u16,
    ratelimit_type: Option<&str>,
    location: Option<&str>,
    body: &[u8],
) -> Verdict {
    classify_heard(&Heard {
        status,
        ratelimit_type,
        location,
        body,
        ..Heard::default()
    })
}

/// The report's message for an answer: Zoom's own when the body carries one, else what
/// was answered, in words. A 3xx is never followed (the client's policy): the password
/// was sent where it was meant to go and nowhere else. A 2xx other than Zoom's 204 (a
/// proxy's or a captive portal's 200, a 201, a 202) says what answered instead.
fn message_of(h: &Heard, zoom_message: Option<&str>) -> String {
    let status = h.status;
    match zoom_message {
        _ if (300..=399).contains(&status) => match h.location.map(sanitize_location) {
            Some(l) if !l.is_empty() => format!("redirected to {l}, not followed"),
            _ => format!("redirected (HTTP {status}, no Location), not followed"),
        },
        _ if (200..=299).contains(&status) && status != 204 => not_zooms_204(h, zoom_message),
        Some(m) => clip(m.trim()),
        None if h.body.iter().all(u8::is_ascii_whitespace) => {
            format!("HTTP {status} with an empty body")
        }
        None => clip(&format!("HTTP {status}: {}", summarize_body(h.body))),
    }
}

/// The message of a 2xx that is not Zoom's answer (Zoom answers a password change or a
/// revoke with 204, a listing with 200, and neither reaches here): the status, the
/// content type, and a short summary of the body (its `message` when it has one).
fn not_zooms_204(h: &Heard, zoom_message: Option<&str>) -> String {
    let kind = h
        .content_type
        .map(|t| sanitize_header(t, MAX_CONTENT_TYPE))
        .filter(|t| !t.is_empty())
        .map(|t| format!(" ({t})"))
        .unwrap_or_default();
    let said = match zoom_message {
        Some(m) => summarize_body(m.as_bytes()),
        None => summarize_body(h.body),
    };
    let said = match said.char_indices().nth(MAX_SUMMARY) {
        Some((i, _)) => format!("{}…", &said[..i]),
        None => said,
    };
    if said.is_empty() {
        format!("unexpected HTTP {}{kind} with an empty body", h.status)
    } else {
        format!("unexpected HTTP {}{kind}: {said}", h.status)
    }
}

/// Reads one HTTP answer into a [`Verdict`]. Only 204 is `changed` (CONTRACT.md): any
/// other 2xx did not come from Zoom's endpoint as documented, so it proves nothing about
/// the change, and is `failed` like a gateway's 5xx (the retry policy reads both as "sent,
/// answer unknown"). A 3xx is `failed`, not final, so `--resume` tries again once the
/// base URL is put right.
pub fn classify_heard(h: &Heard) -> Verdict {
    let status = h.status;
    let (zoom_code, zoom_message) = parse_body(h.body);
    let message = message_of(h, zoom_message.as_deref());
    let lower = message.to_ascii_lowercase();
    let mut rate = None;
    let outcome = match status {
        204 => Outcome::Changed,
        400 => match zoom_code {
            Some(300) if lower.contains(SAME_AS_OLD_MSG) => Outcome::SameAsOld,
            Some(300) if lower.contains(CHANGE_LIMIT_MSG) => Outcome::ChangeLimit24h,
            Some(1124..=1136) => Outcome::PolicyRejected,
            _ => Outcome::Rejected,
        },
        401 => Outcome::AuthFailed,
        404 if matches!(zoom_code, Some(1001) | Some(1010)) => Outcome::UserNotFound,
        429 => {
            let kind = h.ratelimit_type.map(|t| t.trim().to_ascii_lowercase());
            // The header, when Zoom sends it, is the more specific signal; without it,
            // the message decides (some daily 429s carried no header at all).
            rate = Some(match kind.as_deref() {
                Some("daily-limit") => RateKind::Daily,
                Some("qps") => RateKind::PerSecond,
                _ if lower.contains("daily") => RateKind::Daily,
                _ if lower.contains("concurrent") => RateKind::Concurrent,
                _ => RateKind::PerSecond,
            });
            Outcome::RateLimited
        }
        200..=299 | 300..=399 | 500..=599 => Outcome::Failed,
        _ => Outcome::Rejected,
    };
    Verdict {
        outcome,
        http_status: status,
        zoom_code,
        message,
        rate,
    }
}

#[cfg(test)]
mod unit {
    use super::*;

    #[test]
    fn names_round_trip() {
        for o in Outcome::ALL {
            assert_eq!(o.as_str().parse::<Outcome>().unwrap(), o);
        }
    }

    #[test]
    fn html_is_summarised_and_clipped() {
        let v = classify(
            502,
            None,
            b"<html><body><h1>502 Bad Gateway</h1></body></html>",
        );
        assert_eq!(v.outcome, Outcome::Failed);
        assert_eq!(v.message, "HTTP 502: 502 Bad Gateway");
        let long = vec![b'x'; 5000];
        assert_eq!(
            classify(500, None, &long).message.chars().count(),
            MAX_MESSAGE + 1
        );
    }

    #[test]
    fn daily_by_header_or_message() {
        let v = classify(429, Some("Daily-limit"), b"");
        assert_eq!(v.rate, Some(RateKind::Daily));
        let v = classify(429, None, br#"{"code":429,"message":"You have reached the maximum daily rate limit for this API."}"#);
        assert_eq!(v.rate, Some(RateKind::Daily));
        let v = classify(429, Some("QPS"), b"");
        assert_eq!(v.rate, Some(RateKind::PerSecond));
        let v = classify(
            429,
            Some("QPS"),
            br#"{"code":429,"message":"daily quota of another kind"}"#,
        );
        assert_eq!(v.rate, Some(RateKind::PerSecond));
    }

    #[test]
    fn only_204_is_changed() {
        assert_eq!(classify(204, None, b"").outcome, Outcome::Changed);
        let portal = Heard {
            status: 200,
            content_type: Some("text/html; charset=utf-8"),
            body: b"<html><head><title>Guest Wi-Fi</title></head><body>Please log in</body></html>",
            ..Heard::default()
        };
        let v = classify_heard(&portal);
        assert_eq!(v.outcome, Outcome::Failed);
        assert!(!v.outcome.is_final());
        assert_eq!(
            v.message,
            "unexpected HTTP 200 (text/html; charset=utf-8): Guest Wi-Fi Please log in"
        );
        // A body in Zoom's shape gives its message; a same-as-old in a 200 is not Zoom's.
        let v = classify_heard(&Heard {
            status: 200,
            content_type: Some("application/json"),
            body: br#"{"code":300,"message":"Your new password can not match the old password."}"#,
            ..Heard::default()
        });
        assert_eq!(
            (v.outcome, v.zoom_code, v.message.as_str()),
            (
                Outcome::Failed,
                Some(300),
                "unexpected HTTP 200 (application/json): Your new password can not match the old password."
            )
        );
        for status in [200, 201, 202, 203, 205, 206, 226, 299] {
            let v = classify(status, None, b"");
            assert_eq!(v.outcome, Outcome::Failed, "{status}");
            assert_eq!(
                v.message,
                format!("unexpected HTTP {status} with an empty body")
            );
        }
        // The summary and the content type are short, and one line.
        let v = classify_heard(&Heard {
            status: 202,
            content_type: Some(&format!("text/plain;\r\nX: {}", "y".repeat(500))),
            body: &[b'z'; 5000],
            ..Heard::default()
        });
        let expected = format!(
            "unexpected HTTP 202 (text/plain; X: {}…): {}…",
            "y".repeat(MAX_CONTENT_TYPE - 15),
            "z".repeat(MAX_SUMMARY)
        );
        assert_eq!(v.message, expected);
    }

    #[test]
    fn redirects_are_failed_not_final() {
        let v = classify_answer(
            301,
            None,
            Some("https://evil.example/\r\nSet-Cookie: x\t y"),
            b"<html>moved</html>",
        );
        assert_eq!(v.outcome, Outcome::Failed);
        assert!(!v.outcome.is_final());
        assert_eq!(
            v.message,
            "redirected to https://evil.example/ Set-Cookie: x y, not followed"
        );
        let v = classify_answer(308, None, None, b"");
        assert_eq!(
            v.message,
            "redirected (HTTP 308, no Location), not followed"
        );
        let long = format!("https://x.example/{}", "a".repeat(5000));
        let v = classify_answer(302, None, Some(&long), b"");
        assert_eq!(
            v.message.chars().count(),
            "redirected to , not followed".chars().count() + MAX_LOCATION + 1
        );
        assert_eq!(classify(302, None, b"").outcome, Outcome::Failed);
    }
}
