//! The retry policy's table: every kind of answer (and every failure standing for one) in
//! every state that changes its reading, with the exact step and what the row keeps.

use super::*;
use crate::zoom::outcome::classify_answer;

const BASE: Duration = Duration::from_millis(100);
const JITTER: f64 = 0.5;

fn rules(renewable: bool) -> Rules {
    Rules {
        retry: RetrySettings {
            attempts: 3,
            base_delay: BASE,
            max_delay: Duration::from_secs(1),
        },
        renewable,
    }
}

fn now() -> Now {
    Now {
        // Mon, 30 Nov 2026 23:59:30 GMT: half a minute before a UTC midnight.
        time: SystemTime::UNIX_EPOCH + Duration::from_secs(1_796_083_170),
        jitter: JITTER,
    }
}

fn midnight() -> SystemTime {
    SystemTime::UNIX_EPOCH + Duration::from_secs(1_796_083_200)
}

fn answer(status: u16, rate_type: Option<&str>, body: &str, retry_after: Option<u64>) -> Event {
    Event::Answer {
        verdict: classify_answer(
            status,
            rate_type,
            Some("https://elsewhere.example/v2"),
            body.as_bytes(),
        ),
        retry_after: retry_after.map(Duration::from_secs),
    }
}

fn ok() -> Event {
    answer(204, None, "", None)
}

fn code(status: u16, code: u32, message: &str) -> Event {
    answer(
        status,
        None,
        &format!(r#"{{"code":{code},"message":"{message}"}}"#),
        None,
    )
}

fn same_as_old() -> Event {
    code(
        400,
        300,
        "Your new password can not match the old password.",
    )
}

fn fin(outcome: Outcome, message: &str) -> Step {
    Step::Finish(Finish {
        outcome,
        message: message.into(),
    })
}

fn send(ms: u64) -> Step {
    Step::Send {
        wait: Duration::from_millis(ms),
    }
}

fn fresh() -> State {
    State::default()
}

fn unanswered() -> State {
    State {
        unanswered: true,
        ..State::default()
    }
}

fn with(f: impl FnOnce(&mut State)) -> State {
    let mut s = State::default();
    f(&mut s);
    s
}

fn auth_failed(message: &str) -> Step {
    Step::Stop {
        reason: StopReason::AuthLost(format!("HTTP 401: {message}")),
        finish: Some(Finish {
            outcome: Outcome::AuthFailed,
            message: message.into(),
        }),
    }
}

fn daily(resets_at: SystemTime, message: &str) -> Step {
    Step::Stop {
        reason: StopReason::DailyLimit { resets_at },
        finish: Some(Finish {
            outcome: Outcome::RateLimited,
            message: message.into(),
        }),
    }
}

#[test]
fn every_answer_in_every_state() {
    let a401 = || code(401, 124, "Invalid access token.");
    let t = now().time;
    #[rustfmt::skip]
    let table: Vec<TableRow> = vec![
        ("204", fresh(), true, ok(), fin(Outcome::Changed, "password changed")),
        ("204 after unanswered", unanswered(), true, ok(),
            fin(Outcome::Changed, "password changed (after an unanswered attempt with the same password)")),
        ("same as old", fresh(), true, same_as_old(),
            fin(Outcome::SameAsOld, "Your new password can not match the old password.")),
        ("same as old after unanswered", unanswered(), true, same_as_old(),
            fin(Outcome::Changed, "password changed: confirmed on retry (Zoom answers same-as-old, so an earlier unanswered attempt applied it)")),
        ("24 h", fresh(), true, code(400, 300, "changed the maximum number of times"),
            fin(Outcome::ChangeLimit24h, "changed the maximum number of times")),
        ("24 h after unanswered", unanswered(), true, code(400, 300, "changed the maximum number of times"),
            fin(Outcome::ChangeLimit24h, "changed the maximum number of times; an earlier attempt was unanswered: the change may have been applied")),
        ("404", fresh(), true, code(404, 1001, "User does not exist."),
            fin(Outcome::UserNotFound, "User does not exist.")),
        ("404 without Zoom's code", fresh(), true, answer(404, None, "nope", None),
            fin(Outcome::Rejected, "HTTP 404: nope")),
        ("policy", fresh(), true, code(400, 1124, "too weak"), fin(Outcome::PolicyRejected, "too weak")),
        ("403", fresh(), true, code(403, 4711, "no scope"), fin(Outcome::Rejected, "no scope")),
        ("other 4xx", fresh(), true, answer(418, None, "", None),
            fin(Outcome::Rejected, "HTTP 418 with an empty body")),
        ("1xx", fresh(), true, answer(103, None, "", None),
            fin(Outcome::Rejected, "HTTP 103 with an empty body")),
        ("302", fresh(), true, answer(302, None, "<a>moved</a>", None),
            fin(Outcome::Failed, "redirected to https://elsewhere.example/v2, not followed; the change was not applied")),
        ("302 after unanswered", unanswered(), true, answer(307, None, "", None),
            fin(Outcome::Failed, "redirected to https://elsewhere.example/v2, not followed; the change may have been applied")),
        ("401, first", fresh(), true, a401(), Step::Renew { wait: Duration::ZERO, check_worked: false }),
        ("401, again", with(|s| s.renewals = 1), true, a401(),
            Step::Renew { wait: Duration::ZERO, check_worked: true }),
        ("401, more renewals than attempts", with(|s| s.renewals = 7), true, a401(),
            Step::Renew { wait: Duration::ZERO, check_worked: true }),
        ("401, renewals spent", with(|s| s.renewals = MAX_RENEWALS), true, a401(), auth_failed("Invalid access token.")),
        ("401, fixed token", fresh(), false, a401(), auth_failed("Invalid access token.")),
        ("401 after unanswered, fixed token", unanswered(), false, a401(), Step::Stop {
            reason: StopReason::AuthLost("HTTP 401: Invalid access token.".into()),
            finish: Some(Finish { outcome: Outcome::AuthFailed,
                message: "Invalid access token.; an earlier attempt was unanswered: the change may have been applied".into() }),
        }),
        ("daily by header", fresh(), true, answer(429, Some("Daily-limit"), "", None),
            daily(midnight(), "HTTP 429 with an empty body")),
        ("daily, believable Retry-After", fresh(), true, answer(429, Some("Daily-limit"), "", Some(3600)),
            daily(t + Duration::from_secs(3600), "HTTP 429 with an empty body")),
        ("per second, Retry-After over a minute", fresh(), true, answer(429, Some("QPS"), "", Some(61)),
            daily(t + Duration::from_secs(61), "HTTP 429 with an empty body")),
        ("per second, Retry-After u64::MAX", fresh(), true, answer(429, None, "", Some(u64::MAX)),
            daily(midnight(), "HTTP 429 with an empty body")),
        ("per second, Retry-After of three days", fresh(), true, answer(429, None, "", Some(3 * 86_400)),
            daily(t + Duration::from_secs(3 * 86_400), "HTTP 429 with an empty body")),
        ("per second, Retry-After of 32 days", fresh(), true, answer(429, None, "", Some(32 * 86_400)),
            daily(midnight(), "HTTP 429 with an empty body")),
        ("per second, Retry-After", fresh(), true, answer(429, Some("QPS"), "", Some(2)),
            Step::PauseAll { wait: Duration::from_secs(2) }),
        ("per second, no Retry-After", fresh(), true, answer(429, None, "", None),
            Step::PauseAll { wait: Duration::from_millis(50) }),
        ("concurrent", fresh(), true, code(429, 429, "Too many concurrent requests."), send(50)),
        ("throttled to the end", with(|s| { s.throttles = 8; s.tries = 8; }), true, answer(429, None, "", None),
            fin(Outcome::RateLimited, "HTTP 429 with an empty body; still rate limited after 9 tries")),
    ];
    check(table);
}

type TableRow = (&'static str, State, bool, Event, Step);

fn check(table: Vec<TableRow>) {
    for (name, mut state, renewable, event, expected) in table {
        let step = decide(&mut state, event, &rules(renewable), &now());
        assert_eq!(step, expected, "{name}");
    }
}

/// No usable answer (a 5xx, another 2xx, none at all, no token): a retry, or the end.
#[test]
fn every_failure_in_every_state() {
    #[rustfmt::skip]
    let table: Vec<TableRow> = vec![
        // Only 204 is changed: any other 2xx is sent-but-unknown, like a 5xx (`failed`).
        ("200 from a proxy", fresh(), true, answer(200, None, "<p>Log in</p>", None), send(100)),
        ("202", fresh(), true, answer(202, None, "", None), send(100)),
        ("200, last try", with(|s| { s.failures = 2; s.tries = 2; }), true, answer(200, None, "<p>Log in</p>", None),
            fin(Outcome::Failed, "unexpected HTTP 200: Log in; gave up after 3 tries; the change may have been applied")),
        ("201 after unanswered, last try", with(|s| { s.failures = 2; s.tries = 2; s.unanswered = true; }), true,
            answer(201, None, "", None),
            fin(Outcome::Failed, "unexpected HTTP 201 with an empty body; gave up after 3 tries; the change may have been applied")),
        ("5xx", fresh(), true, answer(503, None, "", None), send(100)),
        ("5xx, last try", with(|s| { s.failures = 2; s.tries = 2; }), true, answer(500, None, "", None),
            fin(Outcome::Failed, "HTTP 500 with an empty body; gave up after 3 tries; the change may have been applied")),
        ("not sent", fresh(), true, Event::NoAnswer { sent: false, message: "refused".into() }, send(50)),
        ("not sent, last try", with(|s| { s.failures = 2; s.tries = 2; }), true,
            Event::NoAnswer { sent: false, message: "refused".into() },
            fin(Outcome::Failed, "not sent: refused; gave up after 3 tries; the change was not applied")),
        ("unanswered", fresh(), true, Event::NoAnswer { sent: true, message: "timeout".into() }, send(100)),
        ("token endpoint blip", fresh(), true, Event::TokenError { transient: true, message: "503".into() }, send(50)),
        ("token endpoint blip while renewing", with(|s| s.renewing = true), true,
            Event::TokenError { transient: true, message: "503".into() },
            Step::Renew { wait: Duration::from_millis(50), check_worked: false }),
        ("token endpoint down for good", with(|s| s.failures = 2), true,
            Event::TokenError { transient: true, message: "503".into() },
            Step::Stop { reason: StopReason::AuthLost("503".into()), finish: None }),
        ("credentials refused", fresh(), true, Event::TokenError { transient: false, message: "bad".into() },
            Step::Stop { reason: StopReason::AuthLost("bad".into()), finish: None }),
        ("renewal refused", with(|s| { s.renewing = true; s.last = Some(classify_answer(401, None, None, b"")); }), true,
            Event::TokenError { transient: false, message: "bad".into() },
            Step::Stop { reason: StopReason::AuthLost("bad".into()),
                finish: Some(Finish { outcome: Outcome::AuthFailed, message: "HTTP 401 with an empty body".into() }) }),
        ("renewed", with(|s| s.renewing = true), true, Event::Renewed, send(0)),
        ("renewal cannot help", with(|s| s.last = Some(classify_answer(401, None, None, b""))), true,
            Event::RenewRefused, auth_failed("HTTP 401 with an empty body")),
    ];
    check(table);
}

#[test]
fn counts_and_flags_follow_the_events() {
    let r = rules(true);
    let mut s = State::default();
    decide(
        &mut s,
        Event::NoAnswer {
            sent: false,
            message: "x".into(),
        },
        &r,
        &now(),
    );
    assert_eq!(
        (s.attempts, s.tries, s.failures, s.unanswered),
        (0, 1, 1, false)
    );
    decide(
        &mut s,
        Event::NoAnswer {
            sent: true,
            message: "x".into(),
        },
        &r,
        &now(),
    );
    assert_eq!(
        (s.attempts, s.tries, s.failures, s.unanswered),
        (1, 2, 2, true)
    );
    let mut s = State::default();
    decide(&mut s, answer(401, None, "", None), &r, &now());
    assert_eq!((s.attempts, s.renewals, s.renewing), (1, 1, true));
    decide(
        &mut s,
        Event::TokenError {
            transient: true,
            message: "x".into(),
        },
        &r,
        &now(),
    );
    assert_eq!((s.failures, s.renewals, s.renewing), (1, 1, true));
    decide(&mut s, Event::Renewed, &r, &now());
    assert!(!s.renewing);
    decide(&mut s, answer(503, None, "", None), &r, &now());
    assert!(s.unanswered, "a 5xx may have been applied");
    assert_eq!(s.last.as_ref().map(|v| v.http_status), Some(503));
}

/// A 2xx other than 204 may have been applied: the retry sends the same password, and
/// what Zoom then answers is read as after any unanswered attempt.
#[test]
fn another_2xx_is_unanswered_and_a_retry_settles_it() {
    let r = rules(true);
    let settle = |second: Event| {
        let mut s = State::default();
        let first = decide(&mut s, answer(200, None, "{}", None), &r, &now());
        assert_eq!(
            first,
            send(100),
            "retried like a 5xx, after at least base_delay"
        );
        assert_eq!(
            (
                s.attempts,
                s.failures,
                s.unanswered,
                s.last.as_ref().map(|v| v.http_status)
            ),
            (1, 1, true, Some(200))
        );
        let step = decide(&mut s, second, &r, &now());
        (step, s.attempts)
    };
    assert_eq!(
        settle(same_as_old()),
        (
            fin(Outcome::Changed, "password changed: confirmed on retry (Zoom answers same-as-old, so an earlier unanswered attempt applied it)"),
            2
        )
    );
    assert_eq!(
        settle(ok()),
        (
            fin(
                Outcome::Changed,
                "password changed (after an unanswered attempt with the same password)"
            ),
            2
        )
    );
    assert_eq!(
        settle(code(400, 300, "changed the maximum number of times")).0,
        fin(Outcome::ChangeLimit24h, "changed the maximum number of times; an earlier attempt was unanswered: the change may have been applied")
    );
    // A stop before the retry keeps the doubt.
    let mut s = State::default();
    decide(&mut s, answer(202, None, "", None), &r, &now());
    assert_eq!(
        on_stop(&s),
        Some(Finish {
            outcome: Outcome::Failed,
            message: "unexpected HTTP 202 with an empty body; the run stopped before a retry; the change may have been applied".into()
        })
    );
}

#[test]
fn a_stop_keeps_the_last_answer() {
    assert_eq!(on_stop(&State::default()), None);
    let mut s = unanswered();
    s.last = Some(classify_answer(503, None, None, b""));
    assert_eq!(
        on_stop(&s),
        Some(Finish {
            outcome: Outcome::Failed,
            message: "HTTP 503 with an empty body; the run stopped before a retry; the change may have been applied".into()
        })
    );
}

#[test]
fn backoff_is_capped_and_jitter_clamped() {
    let r = rules(true).retry;
    assert_eq!(backoff(&r, 1, 1.0), BASE);
    assert_eq!(backoff(&r, 3, 1.0), Duration::from_millis(400));
    assert_eq!(backoff(&r, 40, 1.0), Duration::from_secs(1));
    assert_eq!(backoff(&r, 1, 0.0), Duration::ZERO);
    assert_eq!(backoff(&r, 1, 7.0), BASE);
    assert_eq!(backoff(&r, 1, f64::NAN), BASE);
    assert_eq!(backoff(&r, u32::MAX, -1.0), Duration::ZERO);
}

#[test]
fn resets_at_never_overflows() {
    let t = now().time;
    assert_eq!(resets_at(None, t), midnight());
    assert_eq!(resets_at(Some(Duration::MAX), t), midnight());
    assert_eq!(
        resets_at(Some(Duration::from_secs(u64::MAX)), t),
        midnight()
    );
    assert_eq!(resets_at(Some(LATEST_RESET), t), t + LATEST_RESET);
    assert_eq!(
        resets_at(Some(LATEST_RESET + Duration::from_secs(1)), t),
        midnight()
    );
}
