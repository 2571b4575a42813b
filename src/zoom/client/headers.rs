//! The rate-limit headers of an answer, read as a hostile server might send them:
//! `Retry-After` in any of its three forms, `X-RateLimit-Limit`/`-Remaining` and
//! `X-RateLimit-Type`, each parsed defensively and clamped, so a header can never make the
//! caller's arithmetic overflow; repeats that disagree (a gateway adding its own) say
//! nothing; bytes that are not text are skipped, never a panic.

use reqwest::header::HeaderMap;
use std::time::{Duration, SystemTime};

/// The longest wait a `Retry-After` is believed for: 48 h. Zoom's longest wait, the
/// daily limit, ends at the next 00:00 UTC, never more than 24 h away; the bound leaves
/// as much again for a server's skewed clock. A larger value (up to `u64::MAX` seconds,
/// or a date in the year 9999) is clamped to it, so no `Instant` or `SystemTime` sum on
/// it can overflow.
pub const MAX_RETRY_AFTER: Duration = Duration::from_secs(48 * 3600);

/// `Retry-After` in seconds (a fraction allowed), as an HTTP-date, or as an ISO-8601
/// timestamp (Zoom has sent all three); a time in the past means "now", and the wait is
/// clamped to [`MAX_RETRY_AFTER`]. A negative number, a sign, or anything else is
/// ignored (`None`): the caller's own backoff applies.
pub fn parse_retry_after(value: &str, now: SystemTime) -> Option<Duration> {
    let v = value.trim();
    let numeric = !v.is_empty()
        && v.bytes().all(|b| b.is_ascii_digit() || b == b'.')
        && v.bytes().filter(|b| *b == b'.').count() <= 1
        && v.bytes().any(|b| b.is_ascii_digit());
    if numeric {
        // Digits and at most one dot: never NaN or negative; a huge value parses as a
        // huge (or infinite) float and is clamped.
        let secs = v.parse::<f64>().ok()?;
        return Some(Duration::from_secs_f64(
            secs.min(MAX_RETRY_AFTER.as_secs_f64()),
        ));
    }
    let at = httpdate::parse_http_date(v)
        .ok()
        .or_else(|| humantime::parse_rfc3339_weak(v.trim_end_matches('Z')).ok())?;
    Some(
        at.duration_since(now)
            .unwrap_or(Duration::ZERO)
            .min(MAX_RETRY_AFTER),
    )
}

/// `X-RateLimit-Limit` / `-Remaining`: a count of requests. Digits only; a count past
/// `u32::MAX` is clamped to it; negative, fractional or other values are ignored.
pub fn parse_count(value: &str) -> Option<u32> {
    let v = value.trim();
    if v.is_empty() || !v.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    // All digits: parsing fails only on overflow.
    Some(
        v.parse::<u64>()
            .map_or(u32::MAX, |n| n.min(u64::from(u32::MAX)) as u32),
    )
}

/// `X-RateLimit-Type` (`QPS`, `Daily-limit`): a short name of letters, digits, `-` and
/// `_` (at most 32), else ignored.
pub fn parse_ratelimit_type(value: &str) -> Option<String> {
    let v = value.trim();
    let name = (1..=32).contains(&v.len())
        && v.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
    name.then(|| v.to_string())
}

/// The values of header `name` that are text (non-UTF-8 or control bytes are skipped).
fn texts<'h>(headers: &'h HeaderMap, name: &str) -> impl Iterator<Item = &'h str> {
    headers.get_all(name).iter().filter_map(|v| v.to_str().ok())
}

/// The one value of header `name` that `parse` accepts. Repeats that agree count once;
/// repeats that disagree (a gateway adding its own) say nothing reliable: `None`.
fn agreed<T: PartialEq>(
    headers: &HeaderMap,
    name: &str,
    parse: impl Fn(&str) -> Option<T>,
) -> Option<T> {
    let mut values = texts(headers, name).filter_map(parse);
    let first = values.next()?;
    values.all(|v| v == first).then_some(first)
}

/// The rate-limit headers of an answer, each parsed defensively (see the parsers).
/// Repeated `Retry-After`s give the longest valid wait: waiting too long costs time,
/// too short another 429.
pub(super) fn rate_limit_headers(headers: &HeaderMap, now: SystemTime) -> RateLimitHeaders {
    RateLimitHeaders {
        // Compared without case (`QPS` and `qps` agree), reported as first sent.
        kind: agreed(headers, "x-ratelimit-type", |v| {
            parse_ratelimit_type(v).map(|t| t.to_ascii_lowercase())
        })
        .and_then(|_| texts(headers, "x-ratelimit-type").find_map(parse_ratelimit_type)),
        limit: agreed(headers, "x-ratelimit-limit", parse_count),
        remaining: agreed(headers, "x-ratelimit-remaining", parse_count),
        retry_after: texts(headers, "retry-after")
            .filter_map(|v| parse_retry_after(v, now))
            .max(),
    }
}

pub(super) struct RateLimitHeaders {
    pub(super) kind: Option<String>,
    pub(super) limit: Option<u32>,
    pub(super) remaining: Option<u32>,
    pub(super) retry_after: Option<Duration>,
}

#[cfg(test)]
mod unit {
    use super::*;

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

    #[test]
    fn retry_after_is_clamped_or_ignored_never_a_panic() {
        let now = httpdate::parse_http_date("Sun, 29 Nov 2026 23:59:30 GMT").unwrap();
        let p = |v: &str| parse_retry_after(v, now);
        // Huge: clamped to 48 h, whatever its form.
        assert_eq!(p("18446744073709551615"), Some(MAX_RETRY_AFTER));
        assert_eq!(p(&"9".repeat(400)), Some(MAX_RETRY_AFTER));
        assert_eq!(p("172801"), Some(MAX_RETRY_AFTER));
        assert_eq!(p("172800"), Some(MAX_RETRY_AFTER));
        assert_eq!(p("172799"), Some(Duration::from_secs(172_799)));
        assert_eq!(p("Fri, 31 Dec 9999 23:59:59 GMT"), Some(MAX_RETRY_AFTER));
        assert_eq!(p("9999-12-31T23:59:59Z"), Some(MAX_RETRY_AFTER));
        // Fractional: taken as given.
        assert_eq!(p("1.5"), Some(Duration::from_millis(1500)));
        assert_eq!(p(" 2. "), Some(Duration::from_secs(2)));
        assert_eq!(p(".5"), Some(Duration::from_millis(500)));
        assert_eq!(p("0"), Some(Duration::ZERO));
        // Negative, signed, garbage, empty: ignored.
        for bad in [
            "-5", "-0.5", "+5", "1e3", "inf", "NaN", "1.2.3", ".", "", "  ", "5 s", "5, 10",
            "0x10", "٣",
        ] {
            assert_eq!(p(bad), None, "{bad:?}");
        }
        // A date in the past is now.
        assert_eq!(p("Thu, 01 Jan 1970 00:00:00 GMT"), Some(Duration::ZERO));
    }

    #[test]
    fn rate_limit_counts_and_type_are_clamped_or_ignored() {
        assert_eq!(parse_count("60"), Some(60));
        assert_eq!(parse_count(" 0 "), Some(0));
        assert_eq!(parse_count("4294967296"), Some(u32::MAX));
        assert_eq!(parse_count(&"9".repeat(100)), Some(u32::MAX));
        assert_eq!(parse_count("000000000000000007"), Some(7));
        for bad in ["-1", "1.5", "1e3", "", "ten", "+3", "0x10"] {
            assert_eq!(parse_count(bad), None, "{bad:?}");
        }
        assert_eq!(parse_ratelimit_type(" QPS "), Some("QPS".into()));
        assert_eq!(
            parse_ratelimit_type("Daily-limit"),
            Some("Daily-limit".into())
        );
        for bad in ["", "a b", &"x".repeat(33), "qps;drop", "ünï"] {
            assert_eq!(parse_ratelimit_type(bad), None, "{bad:?}");
        }
    }

    fn headers(pairs: &[(&str, &[u8])]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (name, value) in pairs {
            let name = reqwest::header::HeaderName::from_bytes(name.as_bytes()).unwrap();
            h.append(
                name,
                reqwest::header::HeaderValue::from_bytes(value).unwrap(),
            );
        }
        h
    }

    #[test]
    fn repeated_and_non_utf8_headers_are_read_safely() {
        let now = SystemTime::UNIX_EPOCH;
        let all = |pairs: &[(&str, &[u8])]| {
            let r = rate_limit_headers(&headers(pairs), now);
            (r.kind, r.limit, r.remaining, r.retry_after)
        };
        // Repeats that agree count once; the longest valid Retry-After wins.
        assert_eq!(
            all(&[
                ("x-ratelimit-type", b"QPS"),
                ("x-ratelimit-type", b"qps"),
                ("x-ratelimit-limit", b"20"),
                ("x-ratelimit-limit", b"20"),
                ("x-ratelimit-remaining", b"0"),
                ("retry-after", b"3"),
                ("retry-after", b"garbage"),
                ("retry-after", b"7"),
            ]),
            (
                Some("QPS".into()),
                Some(20),
                Some(0),
                Some(Duration::from_secs(7))
            )
        );
        // Repeats that disagree say nothing; a garbage repeat beside a valid one is skipped.
        assert_eq!(
            all(&[
                ("x-ratelimit-type", b"QPS"),
                ("x-ratelimit-type", b"Daily-limit"),
                ("x-ratelimit-limit", b"20"),
                ("x-ratelimit-limit", b"6000"),
                ("x-ratelimit-remaining", b"-3"),
                ("x-ratelimit-remaining", b"5"),
            ]),
            (None, None, Some(5), None)
        );
        // Non-UTF-8 (obs-text) bytes: ignored, never a panic.
        assert_eq!(
            all(&[
                ("x-ratelimit-type", b"Daily-limit\xff"),
                ("x-ratelimit-limit", b"\xe2\x82\xac"),
                ("x-ratelimit-remaining", b"1\x80"),
                ("retry-after", b"\xff5"),
            ]),
            (None, None, None, None)
        );
        assert_eq!(
            all(&[("retry-after", b"18446744073709551615")]).3,
            Some(MAX_RETRY_AFTER)
        );
        assert_eq!(all(&[]), (None, None, None, None));
    }
}
