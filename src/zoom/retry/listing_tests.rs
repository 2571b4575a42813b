//! The listing policy's table: every event (a token error, no answer, each kind of answer,
//! each way a renewal ends) in every state that changes its reading, with the exact step
//! and what the page keeps.

use super::*;

const BASE: Duration = Duration::from_millis(100);

fn rules(continued: bool) -> Rules {
    Rules {
        retry: RetrySettings {
            attempts: 3,
            base_delay: BASE,
            max_delay: Duration::from_secs(1),
        },
        continued,
        array: "users",
    }
}

fn answer(status: u16, rate_type: Option<&str>, body: &str, retry_after: Option<u64>) -> Event {
    Event::Answer(Answer {
        status,
        ratelimit_type: rate_type.map(str::to_owned),
        retry_after: retry_after.map(Duration::from_secs),
        body: body.to_owned().into(),
        ..Answer::default()
    })
}

fn code(status: u16, code: u32, message: &str) -> Event {
    answer(
        status,
        None,
        &format!(r#"{{"code":{code},"message":"{message}"}}"#),
        None,
    )
}

fn fresh() -> State {
    State::default()
}

fn with(f: impl FnOnce(&mut State)) -> State {
    let mut s = State::default();
    f(&mut s);
    s
}

fn backoff_ms(ms: u64, error: &str, tries: u32) -> Step {
    Step::Backoff {
        wait: Duration::from_millis(ms),
        error: error.into(),
        tries,
    }
}

fn give_up(e: PageError) -> Step {
    Step::GiveUp(e)
}

fn failed(message: &str) -> Step {
    give_up(PageError::Failed(message.into()))
}

fn unauthorized(message: &str) -> Step {
    give_up(PageError::Unauthorized(message.into()))
}

fn limited(message: &str) -> Step {
    give_up(PageError::RateLimited(message.into()))
}

type Row = (&'static str, State, bool, Event, Step);

fn check(table: Vec<Row>) {
    for (name, mut state, continued, event, expected) in table {
        let step = decide(&mut state, event, &rules(continued));
        assert_eq!(step, expected, "{name}");
    }
}

#[test]
fn failures_without_an_answer() {
    let blip = |transient| Event::TokenError {
        transient,
        message: "the token endpoint failed (HTTP 503): down".into(),
    };
    let no_answer = || Event::NoAnswer("no answer in time".into());
    #[rustfmt::skip]
    check(vec![
        ("token endpoint blip", fresh(), false, blip(true),
            backoff_ms(100, "the token endpoint failed (HTTP 503): down", 1)),
        ("token endpoint blip, second", with(|s| s.failures = 1), true, blip(true),
            backoff_ms(200, "the token endpoint failed (HTTP 503): down", 2)),
        ("token endpoint blip, last try", with(|s| s.failures = 2), false, blip(true),
            failed("the token endpoint failed (HTTP 503): down (after 3 tries)")),
        ("credentials refused", fresh(), false, blip(false),
            unauthorized("the token endpoint failed (HTTP 503): down")),
        ("no answer", fresh(), false, no_answer(), backoff_ms(100, "no answer in time", 1)),
        ("no answer, second", with(|s| s.failures = 1), true, no_answer(),
            backoff_ms(200, "no answer in time", 2)),
        ("no answer, last try", with(|s| s.failures = 2), false, no_answer(),
            failed("no answer in time (after 3 tries)")),
        ("5xx", fresh(), false, answer(503, None, "", None),
            backoff_ms(100, "HTTP 503: HTTP 503 with an empty body", 1)),
        ("5xx with Zoom's message", with(|s| s.failures = 1), true, code(500, 9, "oops"),
            backoff_ms(200, "HTTP 500: oops", 2)),
        ("5xx, last try", with(|s| s.failures = 2), false, answer(502, None, "", None),
            failed("HTTP 502: HTTP 502 with an empty body (after 3 tries)")),
        ("5xx after 429s and a renewal", with(|s| { s.limited = 5; s.renewed = true; }), false,
            answer(500, None, "", None), backoff_ms(100, "HTTP 500: HTTP 500 with an empty body", 1)),
    ]);
}

#[test]
fn answers_on_a_first_page_and_a_continued_one() {
    let page = serde_json::json!({"users": [], "next_page_token": "t"});
    #[rustfmt::skip]
    check(vec![
        ("200", fresh(), false, answer(200, None, &page.to_string(), None), Step::Page(page.clone())),
        ("200, continued, after failures", with(|s| s.failures = 2), true,
            answer(200, None, &page.to_string(), None), Step::Page(page)),
        ("200, an array", fresh(), false, answer(200, None, "[]", None),
            give_up(PageError::Malformed("not a JSON object".into()))),
        ("200, not JSON", fresh(), true, answer(200, None, "<html>", None),
            give_up(PageError::Malformed("not a JSON object".into()))),
        // A 200 must carry its array: without it, it is no page at all (issue 19).
        ("200 without the array", fresh(), false,
            answer(200, None, r#"{"message":"Service temporarily degraded"}"#, None),
            give_up(PageError::Malformed(
                r#"a 200 answer without the "users" array (it said: Service temporarily degraded)"#.into()))),
        ("200 without the array, continued", with(|s| s.failures = 1), true,
            answer(200, None, r#"{"page_count":1,"next_page_token":""}"#, None),
            give_up(PageError::Malformed(
                r#"a 200 answer without the "users" array (its keys: next_page_token, page_count)"#.into()))),
        ("200, an empty object", fresh(), false, answer(200, None, "{}", None),
            give_up(PageError::Malformed(r#"a 200 answer without the "users" array (an empty object)"#.into()))),
        ("200, another listing's array", fresh(), false, answer(200, None, r#"{"members":[]}"#, None),
            give_up(PageError::Malformed(r#"a 200 answer without the "users" array (its keys: members)"#.into()))),
        ("200, the array null", fresh(), true, answer(200, None, r#"{"users":null}"#, None),
            give_up(PageError::Malformed(r#"a 200 answer whose "users" is not an array"#.into()))),
        ("200, a message that is long and not one line", fresh(), false,
            answer(200, None, &serde_json::json!({"message": format!("down\r\n{}", "x".repeat(500))}).to_string(), None),
            give_up(PageError::Malformed(format!(
                r#"a 200 answer without the "users" array (it said: down {}…)"#, "x".repeat(115))))),
        ("403", fresh(), false, code(403, 4711, "no scope"),
            give_up(PageError::Refused { status: 403, code: Some(4711), message: "no scope".into() })),
        ("403, continued", fresh(), true, code(403, 4711, "no scope"),
            give_up(PageError::Refused { status: 403, code: Some(4711), message: "no scope".into() })),
        ("404", fresh(), false, code(404, 4130, "Group does not exist"),
            give_up(PageError::Refused { status: 404, code: Some(4130), message: "Group does not exist".into() })),
        ("404, continued", fresh(), true, answer(404, None, "", None),
            give_up(PageError::Refused { status: 404, code: None, message: "HTTP 404 with an empty body".into() })),
        ("400, first page", fresh(), false, code(400, 300, "Validation Failed."),
            give_up(PageError::Refused { status: 400, code: Some(300), message: "Validation Failed.".into() })),
        ("400, continued: an expired page token", fresh(), true, code(400, 300, "Invalid next_page_token"),
            give_up(PageError::ExpiredToken { status: 400, message: "Invalid next_page_token".into() })),
        ("418, continued", fresh(), true, answer(418, None, "", None),
            give_up(PageError::ExpiredToken { status: 418, message: "HTTP 418 with an empty body".into() })),
        ("204", fresh(), true, answer(204, None, "", None),
            give_up(PageError::Refused { status: 204, code: None, message: "HTTP 204 with an empty body".into() })),
        ("302, continued", fresh(), true, answer(302, None, "", None),
            give_up(PageError::Refused { status: 302, code: None, message: "redirected (HTTP 302, no Location), not followed".into() })),
    ]);
}

#[test]
fn rate_limits() {
    let a429 = |rate_type, retry_after| answer(429, rate_type, "", retry_after);
    let daily = "HTTP 429 with an empty body (Zoom's daily limit: try again after 00:00 UTC)";
    #[rustfmt::skip]
    check(vec![
        ("per second, Retry-After", fresh(), false, a429(Some("QPS"), Some(2)),
            Step::Pause { wait: Duration::from_secs(2) }),
        ("per second, no Retry-After", fresh(), true, a429(None, None),
            Step::Pause { wait: BASE }),
        ("per second, no Retry-After, third", with(|s| s.limited = 2), false, a429(None, None),
            Step::Pause { wait: Duration::from_millis(400) }),
        ("per second, backoff at its cap", with(|s| s.limited = 9), false, a429(None, None),
            Step::Pause { wait: Duration::from_secs(1) }),
        ("per second, a minute", fresh(), false, a429(None, Some(60)),
            Step::Pause { wait: MAX_429_WAIT }),
        ("per second, over a minute", fresh(), false, a429(Some("QPS"), Some(61)), limited(daily)),
        ("daily by header", fresh(), false, a429(Some("Daily-limit"), None), limited(daily)),
        ("daily by header, short Retry-After", fresh(), true, a429(Some("Daily-limit"), Some(1)),
            limited(daily)),
        ("daily by message", fresh(), false,
            code(429, 429, "You have reached the maximum daily rate limit for this API."),
            limited("You have reached the maximum daily rate limit for this API. (Zoom's daily limit: try again after 00:00 UTC)")),
        ("the last per-second 429 waited out", with(|s| s.limited = MAX_429_TRIES - 1), false,
            a429(None, Some(1)), Step::Pause { wait: Duration::from_secs(1) }),
        ("one per-second 429 too many", with(|s| s.limited = MAX_429_TRIES), false,
            a429(None, Some(1)), limited("HTTP 429 with an empty body (21 times in a row)")),
        ("per second after failures", with(|s| s.failures = 2), false, a429(None, Some(3)),
            Step::Pause { wait: Duration::from_secs(3) }),
    ]);
}

#[test]
fn a_401_renews_once() {
    let a401 = || code(401, 124, "Invalid access token.");
    let renewing = || {
        with(|s| {
            s.renewed = true;
            s.refused = Some("Invalid access token.".into());
        })
    };
    #[rustfmt::skip]
    check(vec![
        ("401", fresh(), false, a401(), Step::Renew),
        ("401, continued, after failures", with(|s| s.failures = 2), true, a401(), Step::Renew),
        ("401 after the renewal", with(|s| s.renewed = true), false, a401(),
            unauthorized("Invalid access token.")),
        ("renewed", renewing(), false, Event::Renewed, Step::Ask),
        ("a fixed token", renewing(), false, Event::RenewRefused, unauthorized("Invalid access token.")),
        ("the renewal failed", renewing(), true,
            Event::RenewFailed("the token endpoint could not be reached: refused".into()),
            unauthorized("Invalid access token.; the token endpoint could not be reached: refused")),
    ]);
}

#[test]
fn counts_follow_the_events() {
    let r = rules(false);
    let mut s = State::default();
    decide(&mut s, Event::NoAnswer("x".into()), &r);
    decide(&mut s, answer(429, None, "", Some(1)), &r);
    assert_eq!((s.failures, s.limited, s.renewed), (1, 1, false));
    decide(&mut s, code(401, 124, "Invalid access token."), &r);
    assert_eq!(s.refused.as_deref(), Some("Invalid access token."));
    assert!(s.renewed);
    assert_eq!(decide(&mut s, Event::Renewed, &r), Step::Ask);
    assert_eq!(s.refused, None, "the renewal is done");
    assert!(s.renewed, "and spent: a second 401 ends the page");
    decide(&mut s, answer(503, None, "", None), &r);
    assert_eq!((s.failures, s.limited), (2, 1));
}
