//! Every case at once: one file, a server answering like Zoom per user, one exact report.

use super::*;

#[tokio::test]
async fn a_mixed_file_gets_exactly_the_right_report() {
    let server = MockServer::start().await;
    #[rustfmt::skip]
    let answers: Vec<(&str, ResponseTemplate, u64)> = vec![
        ("changed", ResponseTemplate::new(204), 1),
        ("same", zoom_error(400, 300, SAME_AS_OLD), 1),
        ("limit", zoom_error(400, 300, LIMIT_24H), 1),
        ("generic", zoom_error(400, 300, "Validation Failed."), 1),
        ("badjson", zoom_error(400, 300, "Request Body should be a valid JSON object."), 1),
        ("admin", zoom_error(400, 1117, "Can not update Admin's password"), 1),
        ("external", zoom_error(400, 1123, "Can only update password of Zoom work email account"), 1),
        ("p1124", zoom_error(400, 1124, "Have at least 8 characters"), 1),
        ("p1125", zoom_error(400, 1125, "Have at least 1 letter"), 1),
        ("p1126", zoom_error(400, 1126, "Have at least 1 number"), 1),
        ("p1127", zoom_error(400, 1127, "Have at least 1 special character"), 1),
        ("p1128", zoom_error(400, 1128, "Include both Upper case and Lower case characters"), 1),
        ("p1129", zoom_error(400, 1129, "Users cannot reuse any of the last 5 passwords created."), 1),
        ("p1130", zoom_error(400, 1130, "Password can't use the same character."), 1),
        ("p1131", zoom_error(400, 1131, "Password can't use continuation character."), 1),
        ("p1136", zoom_error(400, 1136, "Your password is too easy to guess."), 1),
        ("gone", zoom_error(404, 1001, "User does not exist: gone@example.com."), 1),
        ("old", zoom_error(404, 1010, "User not exist or not belong to this account."), 1),
        ("denied", zoom_error(403, 200, "No permission."), 1),
        ("empty", ResponseTemplate::new(400), 1),
        ("gateway", ResponseTemplate::new(502).set_body_raw(BAD_GATEWAY_HTML, "text/html"), 2),
        ("slow", ResponseTemplate::new(204).set_delay(Duration::from_secs(2)), 2),
        ("last", ResponseTemplate::new(204), 1),
    ];
    // The per-second 429 first (once), then a 204: mount order decides.
    put_to("busy%40example.com")
        .respond_with(zoom_error(429, 429, QPS_429).insert_header("Retry-After", "1"))
        .up_to_n_times(1)
        .expect(1)
        .mount(&server)
        .await;
    put_to("busy%40example.com")
        .respond_with(ResponseTemplate::new(204))
        .expect(1)
        .mount(&server)
        .await;
    for (user, answer, times) in &answers {
        put_to(&format!("{user}%40example.com"))
            .respond_with(answer.clone())
            .expect(*times)
            .mount(&server)
            .await;
    }
    // Anything else reaching the server is a bug: 418 shows in the report.
    Mock::given(method("PUT"))
        .respond_with(ResponseTemplate::new(418))
        .expect(0)
        .mount(&server)
        .await;

    let mut csv: Vec<u8> = b"email,password\n".to_vec();
    // Lines 2..=23: every answer but the last, each user with a password of their own.
    for (n, (user, _, _)) in (10..).zip(&answers[..answers.len() - 1]) {
        csv.extend_from_slice(format!("{user}@example.com,Maple7-Quartz-R{n}\n").as_bytes());
    }
    csv.extend_from_slice(b"busy@example.com,Orbit-Lantern-19x\n"); // 24
    csv.extend_from_slice(b"missing@example.com,\n"); // 25
    csv.extend_from_slice(b"weak@example.com,short1A\n"); // 26
    csv.extend_from_slice(b"CHANGED@Example.com,Copper-Fjord-83\n"); // 27
    csv.extend_from_slice(b"few@example.com\n"); // 28
    csv.extend_from_slice(b"\x01bad@example.com,Copper-Fjord-84\n"); // 29
    csv.extend_from_slice(b"last@example.com,Violet-Harbor-42\n"); // 30

    let dir = util::tmp();
    let config = format!("{FAST_RETRY}[api]\ntimeout_secs = 0.5\n");
    let (result, report) = rotate(
        dir.path(),
        &v2(&server),
        TOKEN,
        csv,
        &config,
        "r.csv",
        &["--rate", "50", "--plan", "business"],
    )
    .await;
    let result = result.unwrap();
    server.verify().await;
    assert_eq!(result.exit_code, 1);
    assert!(result.stop.is_none());
    let may = "the change may have been applied";
    let gateway = format!("HTTP 502: 502 Bad Gateway; gave up after 2 tries; {may}");
    let slow = format!("sent, no answer: no answer in time (*); gave up after 2 tries; {may}");
    #[rustfmt::skip]
    let expected: &[Expected] = &[
        (2, "changed@example.com", "changed", Some(204), None, 1, "password changed"),
        (3, "same@example.com", "same_as_old", Some(400), Some(300), 1, SAME_AS_OLD),
        (4, "limit@example.com", "change_limit_24h", Some(400), Some(300), 1, LIMIT_24H),
        (5, "generic@example.com", "rejected", Some(400), Some(300), 1, "Validation Failed."),
        (6, "badjson@example.com", "rejected", Some(400), Some(300), 1, "Request Body should be a valid JSON object."),
        (7, "admin@example.com", "rejected", Some(400), Some(1117), 1, "Can not update Admin's password"),
        (8, "external@example.com", "rejected", Some(400), Some(1123), 1, "Can only update password of Zoom work email account: *--contain-sso signs an SSO user out)"),
        (9, "p1124@example.com", "policy_rejected", Some(400), Some(1124), 1, "Have at least 8 characters"),
        (10, "p1125@example.com", "policy_rejected", Some(400), Some(1125), 1, "Have at least 1 letter"),
        (11, "p1126@example.com", "policy_rejected", Some(400), Some(1126), 1, "Have at least 1 number"),
        (12, "p1127@example.com", "policy_rejected", Some(400), Some(1127), 1, "Have at least 1 special character"),
        (13, "p1128@example.com", "policy_rejected", Some(400), Some(1128), 1, "Include both Upper case and Lower case characters"),
        (14, "p1129@example.com", "policy_rejected", Some(400), Some(1129), 1, "Users cannot reuse any of the last 5 passwords created."),
        (15, "p1130@example.com", "policy_rejected", Some(400), Some(1130), 1, "Password can't use the same character."),
        (16, "p1131@example.com", "policy_rejected", Some(400), Some(1131), 1, "Password can't use continuation character."),
        (17, "p1136@example.com", "policy_rejected", Some(400), Some(1136), 1, "Your password is too easy to guess."),
        (18, "gone@example.com", "user_not_found", Some(404), Some(1001), 1, "User does not exist: gone@example.com."),
        (19, "old@example.com", "user_not_found", Some(404), Some(1010), 1, "User not exist or not belong to this account."),
        (20, "denied@example.com", "rejected", Some(403), Some(200), 1, "No permission."),
        (21, "empty@example.com", "rejected", Some(400), None, 1, "HTTP 400 with an empty body"),
        (22, "gateway@example.com", "failed", Some(502), None, 2, gateway.as_str()),
        (23, "slow@example.com", "failed", None, None, 2, slow.as_str()),
        (24, "busy@example.com", "changed", Some(204), None, 2, "password changed"),
        (25, "missing@example.com", "invalid_input", None, None, 0, "line 25: missing password"),
        (26, "weak@example.com", "invalid_input", None, None, 0, "line 26: the password breaks Zoom's password rules (code 1124): Have at least 8 characters"),
        (27, "CHANGED@Example.com", "invalid_input", None, None, 0, "line 27: duplicate of line 2 (user IDs and emails compare case-insensitively)"),
        (28, "few@example.com", "invalid_input", None, None, 0, "line 28: the row has 1 field, the header has 2"),
        (29, "\\u{1}bad@example.com", "invalid_input", None, None, 0, "line 29: the user ID contains a control character"),
        (30, "last@example.com", "changed", Some(204), None, 1, "password changed"),
    ];
    assert_rows(&report, expected);
}
