//! The report: exact CSV, the JSON Lines variant, never over an existing file, mode 0600,
//! and no password or token in it or in the program's output.

use super::*;

const REPORT_CSV: &str = "email,password\n\
    nopw@example.com,\n\
    alice@example.com,Violet-Harbor-42\n\
    bob+ops@example.com,Maple7-Quartz-Rain\n";

/// A server where alice is changed and bob is refused for a missing scope.
async fn report_server() -> MockServer {
    let server = MockServer::start().await;
    put_to("alice%40example.com")
        .respond_with(ResponseTemplate::new(204))
        .expect(1)
        .mount(&server)
        .await;
    put_to("bob%2Bops%40example.com")
        .respond_with(zoom_error(403, 4700, NO_SCOPE))
        .expect(1)
        .mount(&server)
        .await;
    server
}

/// Replaces each RFC 3339 UTC timestamp at second precision with `<T>`; returns the text
/// and the timestamps.
fn mask_times(text: &str) -> (String, Vec<String>) {
    let is_stamp = |s: &[u8]| {
        s.len() == 20
            && s.iter().enumerate().all(|(i, c)| match i {
                4 | 7 => *c == b'-',
                10 => *c == b'T',
                13 | 16 => *c == b':',
                19 => *c == b'Z',
                _ => c.is_ascii_digit(),
            })
    };
    let bytes = text.as_bytes();
    let (mut out, mut stamps, mut i) = (String::new(), Vec::new(), 0);
    while i < bytes.len() {
        if i + 20 <= bytes.len() && is_stamp(&bytes[i..i + 20]) {
            out.push_str("<T>");
            stamps.push(text[i..i + 20].to_string());
            i += 20;
        } else {
            let c = text[i..].chars().next().unwrap();
            out.push(c);
            i += c.len_utf8();
        }
    }
    (out, stamps)
}

/// Asserts a file was created private: mode 0600.
fn assert_private(path: &Path) {
    use std::os::unix::fs::PermissionsExt;
    let mode = std::fs::metadata(path).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o600, "{} has mode {mode:o}", path.display());
}

/// Runs [`REPORT_CSV`] against [`report_server`] into `dir/<name>`, which must end exit 1,
/// every expected request made, and the report private; returns the report, the times
/// every `finished_at` must fall between, and the directory.
async fn report_run(name: &str) -> (PathBuf, SystemTime, SystemTime, tempfile::TempDir) {
    let server = report_server().await;
    let dir = util::tmp();
    let before = SystemTime::now() - Duration::from_secs(1);
    let (result, report) = rotate(dir.path(), &v2(&server), TOKEN, REPORT_CSV, "", name, &[]).await;
    let after = SystemTime::now() + Duration::from_secs(1);
    assert_eq!(result.unwrap().exit_code, 1);
    server.verify().await;
    assert_private(&report);
    (report, before, after, dir)
}

#[tokio::test]
async fn csv_report_is_exact_and_private() {
    let (report, before, after, _dir) = report_run("r.csv").await;

    let (text, stamps) = mask_times(&std::fs::read_to_string(&report).unwrap());
    let mut lines: Vec<&str> = text.lines().collect();
    assert_eq!(
        lines.first().copied(),
        Some("line,user_id,outcome,http_status,zoom_code,attempts,finished_at,message,may_have_applied")
    );
    assert_eq!(lines[0], CSV_HEADER);
    assert!(text.ends_with('\n'));
    // Rows are written as they finish; compare them in line order.
    lines[1..].sort_by_key(|l| l.split(',').next().unwrap().parse::<u64>().unwrap());
    assert_eq!(
        lines.join("\n"),
        "line,user_id,outcome,http_status,zoom_code,attempts,finished_at,message,may_have_applied\n\
         2,nopw@example.com,invalid_input,,,0,<T>,line 2: missing password,false\n\
         3,alice@example.com,changed,204,,1,<T>,password changed,false\n\
         4,bob+ops@example.com,rejected,403,4700,1,<T>,\"Invalid access token, does not contain scopes:[user:write:admin, user:update:password:admin].\",false"
    );
    assert_eq!(stamps.len(), 3);
    for s in stamps {
        let t = humantime::parse_rfc3339(&s).unwrap();
        assert!(
            before <= t && t <= after,
            "finished_at {s} is during the run"
        );
    }
}

#[tokio::test]
async fn jsonl_report_has_the_same_fields() {
    let (report, before, after, _dir) = report_run("r.jsonl").await;

    let text = std::fs::read_to_string(&report).unwrap();
    assert!(text.ends_with('\n'));
    let keys: BTreeSet<&str> = [
        "line",
        "user_id",
        "outcome",
        "http_status",
        "zoom_code",
        "attempts",
        "finished_at",
        "message",
        "may_have_applied",
    ]
    .into();
    let mut rows: Vec<Value> = Vec::new();
    for line in text.lines() {
        let mut v: Value = serde_json::from_str(line).expect("each line is one JSON value");
        let object = v.as_object_mut().expect("each line is an object");
        assert_eq!(
            object.keys().map(String::as_str).collect::<BTreeSet<_>>(),
            keys
        );
        let at = object["finished_at"]
            .as_str()
            .expect("finished_at is a string");
        let t = humantime::parse_rfc3339(at).unwrap();
        assert!(
            before <= t && t <= after,
            "finished_at {at} is during the run"
        );
        object.remove("finished_at");
        rows.push(v);
    }
    rows.sort_by_key(|v| v["line"].as_u64());
    assert_eq!(
        rows,
        vec![
            json!({"line": 2, "user_id": "nopw@example.com", "outcome": "invalid_input",
                   "http_status": null, "zoom_code": null, "attempts": 0,
                   "message": "line 2: missing password", "may_have_applied": false}),
            json!({"line": 3, "user_id": "alice@example.com", "outcome": "changed",
                   "http_status": 204, "zoom_code": null, "attempts": 1,
                   "message": "password changed", "may_have_applied": false}),
            json!({"line": 4, "user_id": "bob+ops@example.com", "outcome": "rejected",
                   "http_status": 403, "zoom_code": 4700, "attempts": 1,
                   "message": NO_SCOPE, "may_have_applied": false}),
        ]
    );
}

#[tokio::test]
async fn an_existing_report_is_refused_and_nothing_is_sent() {
    let server = MockServer::start().await;
    Mock::given(method("PUT"))
        .respond_with(ResponseTemplate::new(204))
        .expect(0)
        .mount(&server)
        .await;
    let dir = util::tmp();
    let evidence = "line,user_id,outcome,http_status,zoom_code,attempts,finished_at,message\n\
                    2,u1@example.com,changed,204,,1,2026-01-01T00:00:00Z,password changed\n";
    util::write(dir.path(), "r.csv", evidence);
    let (result, report) = rotate(dir.path(), &v2(&server), TOKEN, ONE_ROW, "", "r.csv", &[]).await;
    let error = format!("{:#}", result.expect_err("exit 2"));
    assert!(error.contains("already exists"), "{error}");
    assert!(server.received_requests().await.unwrap().is_empty());
    assert_eq!(std::fs::read_to_string(&report).unwrap(), evidence);
}

#[tokio::test]
async fn no_password_or_token_in_the_report_or_the_output_even_at_trace() {
    const PASS: &str = "Canary-Pass-9x7Q";
    const SECRET_TOKEN: &str = "canary-token-5150";
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/v2/accounts/me/settings"))
        .respond_with(ResponseTemplate::new(200).set_body_json(
            json!({"security": {"password_requirement": {"minimum_password_length": 0}}}),
        ))
        .mount(&server)
        .await;
    put_to("c1%40example.com")
        .respond_with(ResponseTemplate::new(204))
        .expect(1)
        .mount(&server)
        .await;
    put_to("c2%40example.com")
        .respond_with(zoom_error(400, 300, SAME_AS_OLD))
        .expect(1)
        .mount(&server)
        .await;
    put_to("c3%40example.com")
        .respond_with(ResponseTemplate::new(502).set_body_raw(BAD_GATEWAY_HTML, "text/html"))
        .expect(2)
        .mount(&server)
        .await;
    let dir = util::tmp();
    let input = util::write(
        dir.path(),
        "input.csv",
        format!(
            "email,password\nc1@example.com,{PASS}\nc2@example.com,{PASS}\nc3@example.com,{PASS}\n\
             c4@example.com,{}\nC1@example.com,{PASS}\nc5@example.com,{PASS} {PASS} {PASS}\n",
            PASS.to_lowercase()
        ),
    );
    let config = util::write(dir.path(), "config.toml", FAST_RETRY);
    let report = dir.path().join("r.csv");
    let mut cmd = util::bin();
    cmd.current_dir(dir.path())
        .arg("run")
        .arg(&input)
        .arg("--report")
        .arg(&report)
        .arg("--base-url")
        .arg(v2(&server))
        .arg("--config")
        .arg(&config)
        .arg("--yes")
        .env("ZOOM_ACCESS_TOKEN", SECRET_TOKEN)
        .env("RUST_LOG", "trace");
    let output = util::bin_output(cmd).await;
    let (stdout, stderr) = util::text(&output);
    assert_eq!(output.status.code(), Some(1), "{stderr}");
    server.verify().await;

    // The canaries did travel, and tracing was on: the test could have seen a leak.
    let received = server.received_requests().await.unwrap();
    assert!(received
        .iter()
        .any(|r| String::from_utf8_lossy(&r.body).contains(PASS)));
    assert!(received
        .iter()
        .all(|r| header(r, "authorization") == Some(&*format!("Bearer {SECRET_TOKEN}"))));
    assert!(stderr.contains("TRACE"), "trace logging is on");

    let report_text = std::fs::read_to_string(&report).unwrap();
    assert_eq!(util::rows(&report).len(), 6);
    for (name, text) in [
        ("report", &report_text),
        ("stdout", &stdout),
        ("stderr", &stderr),
    ] {
        let lower = text.to_lowercase();
        for canary in [PASS, SECRET_TOKEN, "9x7q"] {
            assert!(
                !lower.contains(&canary.to_lowercase()),
                "{name} shows {canary:?}:\n{text}"
            );
        }
    }
}

// ---------------------------------------------------------------------------------------
