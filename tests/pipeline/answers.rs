//! API-NOTES' response table, one test per row: the report row (outcome, http_status,
//! zoom_code, attempts, message) and the exit code, plus the answers that are not Zoom's
//! JSON (an empty 400, an HTML 502), a timeout and a refused connection.

use super::*;

/// Rotates `u1@example.com` against a server answering `answer`, which must be asked
/// exactly `times`, and checks every attempt sent the same password; returns the run and
/// its one report row.
async fn answered(answer: ResponseTemplate, times: u64, config: &str) -> (RunResult, Row) {
    let server = MockServer::start().await;
    put_to(U1_SEGMENT)
        .respond_with(answer)
        .expect(times)
        .mount(&server)
        .await;
    let dir = util::tmp();
    let (result, report) = rotate(
        dir.path(),
        &v2(&server),
        TOKEN,
        ONE_ROW,
        config,
        "r.csv",
        &[],
    )
    .await;
    let result = result.expect("the run finishes");
    server.verify().await;
    let received = server.received_requests().await.unwrap();
    for r in &received {
        assert_eq!(
            String::from_utf8_lossy(&r.body),
            format!(r#"{{"password":"{NEW_PW}"}}"#),
            "every attempt sends the same password"
        );
    }
    let mut rows = util::rows(&report);
    assert_eq!(rows.len(), 1, "one row per input row");
    assert_eq!(
        (rows[0].line, rows[0].user_id.as_str()),
        (2, "u1@example.com")
    );
    (result, rows.remove(0))
}

#[tokio::test]
async fn answer_204_is_changed() {
    let (result, row) = answered(ResponseTemplate::new(204), 1, FAST_RETRY).await;
    assert_eq!(
        brief(&row),
        ("changed", Some(204), None, 1, "password changed")
    );
    assert_eq!(result.exit_code, 0);
}

#[tokio::test]
async fn answer_400_300_same_as_old() {
    let (result, row) = answered(zoom_error(400, 300, SAME_AS_OLD), 1, FAST_RETRY).await;
    assert_eq!(
        brief(&row),
        ("same_as_old", Some(400), Some(300), 1, SAME_AS_OLD)
    );
    assert_eq!(result.exit_code, 1);
}

#[tokio::test]
async fn answer_400_300_24_hour_limit() {
    let (result, row) = answered(zoom_error(400, 300, LIMIT_24H), 1, FAST_RETRY).await;
    assert_eq!(
        brief(&row),
        ("change_limit_24h", Some(400), Some(300), 1, LIMIT_24H)
    );
    assert_eq!(result.exit_code, 1);
}

#[tokio::test]
async fn answer_400_300_validation_failed_is_rejected() {
    let (result, row) = answered(zoom_error(400, 300, "Validation Failed."), 1, FAST_RETRY).await;
    assert_eq!(
        brief(&row),
        ("rejected", Some(400), Some(300), 1, "Validation Failed.")
    );
    assert_eq!(result.exit_code, 1);
}

#[tokio::test]
async fn answer_400_1117_admin_is_rejected() {
    let msg = "Can not update Admin's password";
    let (result, row) = answered(zoom_error(400, 1117, msg), 1, FAST_RETRY).await;
    assert_eq!(brief(&row), ("rejected", Some(400), Some(1117), 1, msg));
    assert_eq!(result.exit_code, 1);
}

#[tokio::test]
async fn answer_400_1123_not_work_email_is_rejected() {
    let msg = "Can only update password of Zoom work email account";
    let (result, row) = answered(zoom_error(400, 1123, msg), 1, FAST_RETRY).await;
    assert_eq!(brief(&row), ("rejected", Some(400), Some(1123), 1, msg));
    assert_eq!(result.exit_code, 1);
}

macro_rules! policy_rejected {
    ($($name:ident: $code:expr, $msg:expr;)*) => {$(
        #[tokio::test]
        async fn $name() {
            let (result, row) = answered(zoom_error(400, $code, $msg), 1, FAST_RETRY).await;
            assert_eq!(
                brief(&row),
                ("policy_rejected", Some(400), Some($code), 1, $msg)
            );
            assert_eq!(result.exit_code, 1);
        }
    )*};
}

policy_rejected! {
    answer_400_1124_too_short: 1124, "Have at least 8 characters";
    answer_400_1125_needs_a_letter: 1125, "Have at least 1 letter (a, b, c...)";
    answer_400_1126_needs_a_number: 1126, "Have at least 1 number (1, 2, 3...)";
    answer_400_1127_needs_a_special_character: 1127, "Have at least 1 special character (!, @, #...)";
    answer_400_1128_needs_both_cases: 1128, "Include both Upper case and Lower case characters";
    answer_400_1129_reused: 1129, "Users cannot reuse any of the last 5 passwords created.";
    answer_400_1130_same_character: 1130, "Password can't use the same character.";
    answer_400_1131_consecutive: 1131, "Password can't use continuation character.Such as 'abcdef','123456'.";
    answer_400_1136_too_easy: 1136, "Your password is too easy to guess. Try another one.";
}

#[tokio::test]
async fn answer_404_1001_is_user_not_found() {
    let msg = "User does not exist: u1@example.com.";
    let (result, row) = answered(zoom_error(404, 1001, msg), 1, FAST_RETRY).await;
    assert_eq!(
        brief(&row),
        ("user_not_found", Some(404), Some(1001), 1, msg)
    );
    assert_eq!(result.exit_code, 1);
}

#[tokio::test]
async fn answer_404_1010_is_user_not_found() {
    let msg = "User not exist or not belong to this account.";
    let (result, row) = answered(zoom_error(404, 1010, msg), 1, FAST_RETRY).await;
    assert_eq!(
        brief(&row),
        ("user_not_found", Some(404), Some(1010), 1, msg)
    );
    assert_eq!(result.exit_code, 1);
}

#[tokio::test]
async fn answer_403_is_rejected() {
    let (result, row) = answered(zoom_error(403, 4700, NO_SCOPE), 1, FAST_RETRY).await;
    assert_eq!(
        brief(&row),
        ("rejected", Some(403), Some(4700), 1, NO_SCOPE)
    );
    assert_eq!(result.exit_code, 1);
}

#[tokio::test]
async fn answer_400_with_an_empty_body_is_rejected() {
    let (result, row) = answered(ResponseTemplate::new(400), 1, FAST_RETRY).await;
    assert_eq!(
        brief(&row),
        (
            "rejected",
            Some(400),
            None,
            1,
            "HTTP 400 with an empty body"
        )
    );
    assert_eq!(result.exit_code, 1);
}

#[tokio::test]
async fn answer_502_html_is_retried_then_failed() {
    let html = ResponseTemplate::new(502).set_body_raw(BAD_GATEWAY_HTML, "text/html");
    let (result, row) = answered(html, 2, FAST_RETRY).await;
    assert_eq!(
        brief(&row),
        (
            "failed",
            Some(502),
            None,
            2,
            "HTTP 502: 502 Bad Gateway; gave up after 2 tries; the change may have been applied"
        )
    );
    assert_eq!(result.exit_code, 1);
}

#[tokio::test]
async fn a_timeout_is_retried_then_failed() {
    let slow = ResponseTemplate::new(204).set_delay(Duration::from_secs(1));
    let config = format!("{FAST_RETRY}[api]\ntimeout_secs = 0.2\n");
    let (result, row) = answered(slow, 2, &config).await;
    let (outcome, status, code, attempts, message) = brief(&row);
    assert_eq!((outcome, status, code, attempts), ("failed", None, None, 2));
    assert!(
        glob(
            message,
            "sent, no answer: no answer in time (*); gave up after 2 tries; the change may have been applied"
        ),
        "{message}"
    );
    assert_eq!(result.exit_code, 1);
}

#[tokio::test]
async fn a_refused_connection_is_failed_and_not_applied() {
    let port = {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        listener.local_addr().unwrap().port()
    };
    let dir = util::tmp();
    let base = format!("http://127.0.0.1:{port}/v2");
    let (result, report) =
        rotate(dir.path(), &base, TOKEN, ONE_ROW, FAST_RETRY, "r.csv", &[]).await;
    assert_eq!(result.unwrap().exit_code, 1);
    let rows = util::rows(&report);
    assert_eq!(rows.len(), 1);
    let (outcome, status, code, attempts, message) = brief(&rows[0]);
    assert_eq!((outcome, status, code, attempts), ("failed", None, None, 0));
    assert!(
        glob(
            message,
            "not sent: *; gave up after 2 tries; the change was not applied"
        ) && message.contains("Connection refused"),
        "{message}"
    );
}

#[tokio::test]
async fn answer_429_per_second_waits_retry_after_and_retries() {
    let server = MockServer::start().await;
    put_to(U1_SEGMENT)
        .respond_with(
            zoom_error(429, 429, QPS_429)
                .insert_header("Retry-After", "1")
                .insert_header("X-RateLimit-Category", "Medium")
                .insert_header("X-RateLimit-Type", "QPS"),
        )
        .up_to_n_times(1)
        .expect(1)
        .mount(&server)
        .await;
    put_to(U1_SEGMENT)
        .respond_with(ResponseTemplate::new(204))
        .expect(1)
        .mount(&server)
        .await;
    let dir = util::tmp();
    let (result, report) = rotate(
        dir.path(),
        &v2(&server),
        TOKEN,
        ONE_ROW,
        FAST_RETRY,
        "r.csv",
        &[],
    )
    .await;
    let result = result.unwrap();
    server.verify().await;
    assert_eq!(result.exit_code, 0);
    assert!(
        result.elapsed >= Duration::from_secs(1),
        "Retry-After: 1 was waited out ({:?})",
        result.elapsed
    );
    let rows = util::rows(&report);
    assert_eq!(rows.len(), 1);
    assert_eq!(
        brief(&rows[0]),
        ("changed", Some(204), None, 2, "password changed")
    );
}

const THREE_ROWS: &str = "email,password\n\
    u1@example.com,Maple7-Quartz-Rain\n\
    u2@example.com,Orbit-Lantern-19x\n\
    u3@example.com,Copper-Fjord-83\n";

/// u1 answers `answer`; u2 and u3 would be changed, but must never be asked. One request
/// in flight at a time, so the stop is seen before the next row is sent.
async fn stops_the_run(answer: ResponseTemplate) -> (RunResult, PathBuf, tempfile::TempDir) {
    let server = MockServer::start().await;
    put_to(U1_SEGMENT)
        .respond_with(answer)
        .expect(1)
        .mount(&server)
        .await;
    for other in ["u2%40example.com", "u3%40example.com"] {
        put_to(other)
            .respond_with(ResponseTemplate::new(204))
            .expect(0)
            .mount(&server)
            .await;
    }
    let dir = util::tmp();
    let (result, report) = rotate(
        dir.path(),
        &v2(&server),
        TOKEN,
        THREE_ROWS,
        FAST_RETRY,
        "r.csv",
        &["--concurrency", "1"],
    )
    .await;
    server.verify().await;
    assert_eq!(server.received_requests().await.unwrap().len(), 1);
    (result.expect("the run finishes"), report, dir)
}

#[tokio::test]
async fn answer_401_124_with_a_fixed_token_stops_the_run() {
    let (result, report, _dir) = stops_the_run(zoom_error(401, 124, "Invalid access token.")).await;
    assert_eq!(result.exit_code, 3);
    assert!(
        matches!(result.stop, Some(StopReason::AuthLost(_))),
        "{:?}",
        result.stop
    );
    let gone = "not sent: authentication failed for good".to_string();
    #[rustfmt::skip]
    let expected: &[Expected] = &[
        (2, "u1@example.com", "auth_failed", Some(401), Some(124), 1, "Invalid access token."),
        (3, "u2@example.com", "not_attempted", None, None, 0, gone.as_str()),
        (4, "u3@example.com", "not_attempted", None, None, 0, gone.as_str()),
    ];
    assert_rows(&report, expected);
}

#[tokio::test]
async fn answer_429_daily_stops_the_run_until_retry_after() {
    // A day after the next midnight: within the 48 h a Retry-After is believed for
    // (client::MAX_RETRY_AFTER), and never in the past, even across midnight.
    let at = next_midnight(SystemTime::now()) + Duration::from_secs(24 * 3600);
    let at = humantime::format_rfc3339_seconds(at).to_string();
    let daily = zoom_error(429, 429, DAILY_429)
        .insert_header("X-RateLimit-Category", "Medium")
        .insert_header("X-RateLimit-Type", "Daily-limit")
        .insert_header("X-RateLimit-Limit", "2000")
        .insert_header("X-RateLimit-Remaining", "0")
        .insert_header("Retry-After", at.as_str());
    let (result, report, _dir) = stops_the_run(daily).await;
    assert_eq!(result.exit_code, 3);
    let resets_at = humantime::parse_rfc3339(&at).unwrap();
    match result.stop {
        Some(StopReason::DailyLimit { resets_at: at }) => assert!(
            at >= resets_at && at < resets_at + Duration::from_secs(1),
            "{at:?}"
        ),
        other => panic!("stopped for {other:?}"),
    }
    let gone = format!("not sent: Zoom's daily rate limit was reached; it resets at {at}");
    #[rustfmt::skip]
    let expected: &[Expected] = &[
        (2, "u1@example.com", "rate_limited", Some(429), Some(429), 1, DAILY_429),
        (3, "u2@example.com", "not_attempted", None, None, 0, gone.as_str()),
        (4, "u3@example.com", "not_attempted", None, None, 0, gone.as_str()),
    ];
    assert_rows(&report, expected);
}

#[tokio::test]
async fn answer_429_daily_without_headers_stops_until_midnight_utc() {
    let (result, report, _dir) = stops_the_run(zoom_error(429, 429, DAILY_429)).await;
    assert_eq!(result.exit_code, 3);
    let midnight = humantime::format_rfc3339_seconds(next_midnight(SystemTime::now())).to_string();
    let gone = format!("not sent: Zoom's daily rate limit was reached; it resets at {midnight}");
    #[rustfmt::skip]
    let expected: &[Expected] = &[
        (2, "u1@example.com", "rate_limited", Some(429), Some(429), 1, DAILY_429),
        (3, "u2@example.com", "not_attempted", None, None, 0, gone.as_str()),
        (4, "u3@example.com", "not_attempted", None, None, 0, gone.as_str()),
    ];
    assert_rows(&report, expected);
}
