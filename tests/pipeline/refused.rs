//! Rows refused before sending: never sent, reported with their line and reason, and the
//! rows after them still go through.

use super::*;

#[tokio::test]
async fn invalid_rows_are_never_sent_and_later_rows_go_through() {
    let server = MockServer::start().await;
    for ok in [
        "ok1%40example.com",
        "ok2%40example.com",
        "ok3%40example.com",
    ] {
        put_to(ok)
            .respond_with(ResponseTemplate::new(204))
            .expect(1)
            .mount(&server)
            .await;
    }
    let dir = util::tmp();
    let mut csv: Vec<u8> = Vec::new();
    csv.extend_from_slice(b"email,password\n"); // 1
    csv.extend_from_slice(b"ok1@example.com,Maple7-Quartz-Rain\n"); // 2
    csv.extend_from_slice(b"missing@example.com,\n"); // 3
    csv.extend_from_slice(b"weak@example.com,short1A\n"); // 4
    csv.extend_from_slice(b"OK1@Example.COM,Orbit-Lantern-19x\n"); // 5
    csv.extend_from_slice(b"few@example.com\n"); // 6
    csv.extend_from_slice(b"\x01\x02@example.com,Copper-Fjord-83\n"); // 7
    csv.extend_from_slice(b"\"multi\nline@example.com\",Copper-Fjord-84\n"); // 8-9
    csv.extend_from_slice(b"ok2@example.com,Violet-Harbor-42\n"); // 10
    csv.extend_from_slice(b"badpw@example.com,Zoo\x01m1357x\n"); // 11
    csv.extend_from_slice(b"ok3@example.com,Copper-Fjord-83\n"); // 12
    let (result, report) = rotate(dir.path(), &v2(&server), TOKEN, csv, "", "r.csv", &[]).await;
    assert_eq!(result.unwrap().exit_code, 1);
    server.verify().await;
    let sent: BTreeSet<String> = server
        .received_requests()
        .await
        .unwrap()
        .iter()
        .map(|r| r.url.path().to_string())
        .collect();
    assert_eq!(
        sent,
        BTreeSet::from([
            "/v2/users/ok1%40example.com/password".to_string(),
            "/v2/users/ok2%40example.com/password".to_string(),
            "/v2/users/ok3%40example.com/password".to_string(),
        ])
    );
    #[rustfmt::skip]
    let expected: &[Expected] = &[
        (2, "ok1@example.com", "changed", Some(204), None, 1, "password changed"),
        (3, "missing@example.com", "invalid_input", None, None, 0, "line 3: missing password"),
        (4, "weak@example.com", "invalid_input", None, None, 0, "line 4: the password breaks Zoom's password rules (code 1124): Have at least 8 characters"),
        (5, "OK1@Example.COM", "invalid_input", None, None, 0, "line 5: duplicate of line 2 (user IDs and emails compare case-insensitively)"),
        (6, "few@example.com", "invalid_input", None, None, 0, "line 6: the row has 1 field, the header has 2"),
        (7, "\\u{1}\\u{2}@example.com", "invalid_input", None, None, 0, "line 7: the user ID contains a control character"),
        (8, "multi\\nline@example.com", "invalid_input", None, None, 0, "line 8: the user ID contains a control character"),
        (10, "ok2@example.com", "changed", Some(204), None, 1, "password changed"),
        (11, "badpw@example.com", "invalid_input", None, None, 0, "line 11: the password contains a control character"),
        (12, "ok3@example.com", "changed", Some(204), None, 1, "password changed"),
    ];
    assert_rows(&report, expected);
}
