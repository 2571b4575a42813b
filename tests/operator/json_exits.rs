//! JSON mode for monitoring (issue 12, item 5): with `--log-format json`, every exit of
//! `run` prints exactly one JSON summary object on stdout, exit 2 included (a command line
//! clap refuses, a bad config, missing credentials, a held lock, an existing report, an
//! unusable input), with `stopped_code` beside the `stopped` words and the version, the
//! start time, the plan, the rate and the report.

use super::*;

/// Runs `zoom-rotate run <words> --log-format json` in `dir` with `env`; (exit code, the
/// one summary object).
async fn summary_of(dir: &Path, env: &[(&str, &str)], words: &[String]) -> (Option<i32>, Value) {
    let mut cmd = bin();
    cmd.current_dir(dir)
        .arg("run")
        .args(words)
        .args(["--log-format", "json"]);
    for (k, v) in env {
        cmd.env(k, v);
    }
    let out = util::bin_output(cmd).await;
    let (stdout, stderr) = util::text(&out);
    assert_eq!(
        stdout.lines().count(),
        1,
        "one object: {stdout}\nstderr: {stderr}"
    );
    let v: Value = serde_json::from_str(&stdout).expect("the summary is JSON");
    assert_eq!(v["summary"], true);
    assert_eq!(v["version"], env!("CARGO_PKG_VERSION"));
    assert!(
        humantime::parse_rfc3339(v["started_at"].as_str().unwrap()).is_ok(),
        "{v}"
    );
    assert_eq!(
        v["exit_code"].as_i64().map(|c| c as i32),
        out.status.code(),
        "{v}"
    );
    (out.status.code(), v)
}

async fn answering(status: u16, body: Value) -> MockServer {
    let server = MockServer::start().await;
    Mock::given(method("PUT"))
        .and(path_regex("^/v2/users/[^/]+/password$"))
        .respond_with(ResponseTemplate::new(status).set_body_json(body))
        .mount(&server)
        .await;
    server
}

#[tokio::test]
async fn every_exit_code_prints_one_json_summary_with_its_stopped_code() {
    let dir = util::tmp();
    let d = dir.path();
    util::write(d, "one.csv", "email,password\na@x.com,Harbor-Violet-1q\n");
    users_csv(d, "three.csv", "u", 3);
    let config = p(&util::empty_config(d));
    let token = [("ZOOM_ACCESS_TOKEN", TOKEN)];
    let send = |server: &MockServer, input: &str, report: &str, extra: &[&str]| -> Vec<String> {
        let mut w: Vec<String> = [input, "--report", report, "--no-fetch-policy"]
            .iter()
            .map(|s| s.to_string())
            .collect();
        w.extend(["--config".to_string(), config.clone()]);
        w.extend(["--base-url".to_string(), v2(server)]);
        w.extend(extra.iter().map(|s| s.to_string()));
        w
    };

    // 0: every row changed.
    let server = answering(204, json!({})).await;
    let (code, v) = summary_of(d, &token, &send(&server, "one.csv", "r0.csv", &[])).await;
    assert_eq!(code, Some(0));
    assert_eq!(
        (
            &v["stopped"],
            &v["stopped_code"],
            &v["plan"],
            &v["rate"],
            &v["report"],
            &v["rows"]
        ),
        (
            &Value::Null,
            &Value::Null,
            &json!("pro"),
            &json!(16.0),
            &json!("r0.csv"),
            &json!(1)
        )
    );
    assert_eq!(v["config"], config);

    // 1: finished, a row did not change.
    let server = answering(
        404,
        json!({"code": 1001, "message": "User does not exist: a@x.com."}),
    )
    .await;
    let (code, v) = summary_of(
        d,
        &token,
        &send(&server, "one.csv", "r1.csv", &["--rate", "5"]),
    )
    .await;
    assert_eq!(code, Some(1));
    assert_eq!(
        (
            &v["stopped_code"],
            &v["rate"],
            &v["counts"]["user_not_found"]
        ),
        (&Value::Null, &json!(5.0), &json!(1))
    );

    // 3: the circuit breaker stopped the run.
    let server = answering(403, json!({"code": 4700, "message": SCOPE_MESSAGE})).await;
    let words = send(
        &server,
        "three.csv",
        "r3.csv",
        &["--max-failures", "2", "--concurrency", "1"],
    );
    let (code, v) = summary_of(d, &token, &words).await;
    assert_eq!(code, Some(3));
    assert_eq!(v["stopped_code"], "circuit_breaker");
    assert!(
        v["stopped"]
            .as_str()
            .unwrap()
            .starts_with("circuit breaker: "),
        "{v}"
    );
    // The command that continues names the report by its absolute path (item 4 of the
    // structure issue: it works from any directory).
    assert!(
        v["resume_command"]
            .as_str()
            .unwrap()
            .ends_with(&format!("--resume --report {}", p(&d.join("r3.csv")))),
        "{v}"
    );

    // 2: nothing attempted, for each reason, each with its code.
    let server = answering(204, json!({})).await;
    let ok = |extra: &[&str]| send(&server, "one.csv", "r2.csv", extra);
    let bad_config = util::write(d, "bad.toml", "[rate]\nrat = 1\n");
    let _held = zoom_rotate::ledger::files::ReportLock::acquire(&d.join("held.csv")).unwrap();
    // (the words, the environment, stopped_code, how stopped starts)
    type Case<'a> = (Vec<String>, &'a [(&'a str, &'a str)], &'a str, &'a str);
    let cases: Vec<Case> = vec![
        (
            ok(&["--bogus"]),
            &token,
            "usage",
            "unexpected argument '--bogus' found",
        ),
        (
            ok(&["--rate", "0"]),
            &token,
            "config",
            "invalid --rate = 0.0: expected 0.01 to 100000 requests per second",
        ),
        (
            ["one.csv", "--report", "r2.csv", "--config", &p(&bad_config)]
                .map(String::from)
                .to_vec(),
            &token,
            "config",
            "invalid config",
        ),
        (
            ok(&[]),
            &[],
            "credentials",
            "no credentials: set ZOOM_ACCESS_TOKEN",
        ),
        (
            ok(&["--user-column", "login"]),
            &token,
            "input",
            "one.csv: the header has no user column \"login\"",
        ),
        (
            send(&server, "one.csv", "held.csv", &[]),
            &token,
            "report_locked",
            "another run holds held.csv",
        ),
        (
            send(&server, "one.csv", "r0.csv", &[]),
            &token,
            "report_exists",
            "report r0.csv already exists",
        ),
    ];
    for (words, env, want_code, words_start) in cases {
        let (code, v) = summary_of(d, env, &words).await;
        assert_eq!(code, Some(2), "{words:?}");
        assert_eq!(v["stopped_code"], want_code, "{words:?}: {v}");
        let stopped = v["stopped"].as_str().unwrap();
        assert!(stopped.starts_with(words_start), "{words:?}: {stopped}");
        assert_eq!(
            (&v["rows"], &v["requests"], &v["remaining"]),
            (&json!(0), &json!(0), &json!(0))
        );
    }
    assert!(
        server.received_requests().await.unwrap().is_empty(),
        "nothing sent on exit 2"
    );
}
