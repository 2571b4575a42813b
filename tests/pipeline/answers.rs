//! API-NOTES' response table, one table row per answer: the report row (outcome,
//! http_status, zoom_code, attempts, message) and the exit code, plus the answers that are
//! not Zoom's JSON (an empty 400, an HTML 502) and a timeout; then a refused connection, a
//! per-second 429 waited out, and the answers that stop the whole run.

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

/// A report row as [`brief`] gives it: outcome, http_status, zoom_code, attempts, message.
type Brief = (&'static str, Option<u16>, Option<u32>, u32, &'static str);

/// One row of the response table: what the server answers, how often it must be asked,
/// and the report row and exit code that answer must give.
struct Answer {
    /// Names the case in a failure: the contract's words for the row.
    name: &'static str,
    answer: ResponseTemplate,
    /// Requests the server must receive: 1, or 2 where the answer is retried.
    asked: u64,
    config: String,
    /// The row's outcome, http_status, zoom_code, attempts and message; the message is a
    /// [`glob`] pattern, compared exactly unless it holds a `*`.
    row: Brief,
    exit_code: u8,
}

/// A case answered once, with [`FAST_RETRY`].
fn once(name: &'static str, answer: ResponseTemplate, row: Brief, exit_code: u8) -> Answer {
    Answer {
        name,
        answer,
        asked: 1,
        config: FAST_RETRY.to_string(),
        row,
        exit_code,
    }
}

/// A 400 the password rules refused: `policy_rejected`, Zoom's code and message, exit 1.
fn policy(name: &'static str, code: u32, message: &'static str) -> Answer {
    let row = ("policy_rejected", Some(400), Some(code), 1, message);
    once(name, zoom_error(400, code, message), row, 1)
}

/// API-NOTES' response table, a row per answer, plus the answers that are not Zoom's JSON.
fn response_table() -> Vec<Answer> {
    let changed = ("changed", Some(204), None, 1, "password changed");
    let admin = "Can not update Admin's password";
    let not_work_email = "Can only update password of Zoom work email account";
    let no_user = "User does not exist: u1@example.com.";
    let not_in_account = "User not exist or not belong to this account.";
    let html = ResponseTemplate::new(502).set_body_raw(BAD_GATEWAY_HTML, "text/html");
    let slow = ResponseTemplate::new(204).set_delay(Duration::from_secs(1));
    #[rustfmt::skip]
    let table = vec![
        once("204 is changed", ResponseTemplate::new(204), changed, 0),
        once("400/300 same as old is same_as_old", zoom_error(400, 300, SAME_AS_OLD),
            ("same_as_old", Some(400), Some(300), 1, SAME_AS_OLD), 1),
        once("400/300 24-hour limit is change_limit_24h", zoom_error(400, 300, LIMIT_24H),
            ("change_limit_24h", Some(400), Some(300), 1, LIMIT_24H), 1),
        once("400/300 Validation Failed is rejected", zoom_error(400, 300, "Validation Failed."),
            ("rejected", Some(400), Some(300), 1, "Validation Failed."), 1),
        once("400/1117 the admin is rejected", zoom_error(400, 1117, admin),
            ("rejected", Some(400), Some(1117), 1, admin), 1),
        once("400/1123 not a work email is rejected", zoom_error(400, 1123, not_work_email),
            // Issue 20: Zoom's words, then what the row needs (--contain-sso).
            ("rejected", Some(400), Some(1123), 1, "Can only update password of Zoom work email account: *--contain-sso signs an SSO user out)"), 1),
        policy("400/1124 too short is policy_rejected", 1124, "Have at least 8 characters"),
        policy("400/1125 needs a letter is policy_rejected", 1125, "Have at least 1 letter (a, b, c...)"),
        policy("400/1126 needs a number is policy_rejected", 1126, "Have at least 1 number (1, 2, 3...)"),
        policy("400/1127 needs a special character is policy_rejected", 1127, "Have at least 1 special character (!, @, #...)"),
        policy("400/1128 needs both cases is policy_rejected", 1128, "Include both Upper case and Lower case characters"),
        policy("400/1129 reused is policy_rejected", 1129, "Users cannot reuse any of the last 5 passwords created."),
        policy("400/1130 the same character is policy_rejected", 1130, "Password can't use the same character."),
        policy("400/1131 consecutive characters is policy_rejected", 1131, "Password can't use continuation character.Such as 'abcdef','123456'."),
        policy("400/1136 too easy is policy_rejected", 1136, "Your password is too easy to guess. Try another one."),
        once("404/1001 is user_not_found", zoom_error(404, 1001, no_user),
            ("user_not_found", Some(404), Some(1001), 1, no_user), 1),
        once("404/1010 is user_not_found", zoom_error(404, 1010, not_in_account),
            ("user_not_found", Some(404), Some(1010), 1, not_in_account), 1),
        once("403/4700 is rejected", zoom_error(403, 4700, NO_SCOPE),
            ("rejected", Some(403), Some(4700), 1, NO_SCOPE), 1),
        once("400 with an empty body is rejected", ResponseTemplate::new(400),
            ("rejected", Some(400), None, 1, "HTTP 400 with an empty body"), 1),
        Answer {
            name: "502 in HTML is retried, then failed",
            answer: html,
            asked: 2,
            config: FAST_RETRY.to_string(),
            row: ("failed", Some(502), None, 2,
                "HTTP 502: 502 Bad Gateway; gave up after 2 tries; the change may have been applied"),
            exit_code: 1,
        },
        Answer {
            name: "a timeout is retried, then failed",
            answer: slow,
            asked: 2,
            config: format!("{FAST_RETRY}[api]\ntimeout_secs = 0.2\n"),
            row: ("failed", None, None, 2,
                "sent, no answer: no answer in time (*); gave up after 2 tries; the change may have been applied"),
            exit_code: 1,
        },
    ];
    table
}

/// Checks one [`Answer`]; every assertion names the case.
async fn check(case: Answer) {
    let Answer {
        name,
        answer,
        asked,
        config,
        row: (outcome, status, code, attempts, message),
        exit_code,
    } = case;
    let (result, row) = answered(answer, asked, &config).await;
    let actual = brief(&row);
    assert_eq!(
        (actual.0, actual.1, actual.2, actual.3),
        (outcome, status, code, attempts),
        "{name}: outcome, http_status, zoom_code, attempts"
    );
    assert!(
        glob(actual.4, message),
        "{name}: message {:?}, expected {message:?}",
        actual.4
    );
    assert_eq!(result.exit_code, exit_code, "{name}: exit code");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_answer_of_the_response_table_is_its_report_row_and_exit_code() {
    util::table(
        response_table()
            .into_iter()
            .map(|case| (case.name, check(case))),
    )
    .await;
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
