//! JSON logs on stderr, and the summary on stdout (JSON or text) with its counts, rate,
//! report path and resume command.

use super::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn json_logs_every_stderr_line_and_the_summary_matches_the_report() {
    let dir = util::tmp();
    let report = dir.path().join("report.csv");
    let config = util::empty_config(dir.path());
    let mut cmd = bin();
    cmd.args([
        "run",
        "fixtures/users.csv",
        "--simulate",
        "--log-format",
        "json",
    ])
    .args(["--report", &p(&report), "--config", &p(&config)]);
    let out = util::bin_output(cmd).await;
    let (stdout, stderr) = util::text(&out);
    assert_eq!(
        out.status.code(),
        Some(1),
        "stdout:\n{stdout}\nstderr:\n{stderr}"
    );

    let lines: Vec<&str> = stderr.lines().collect();
    assert!(!lines.is_empty(), "JSON mode still logs");
    for line in &lines {
        let v: Value = serde_json::from_str(line)
            .unwrap_or_else(|e| panic!("stderr line is not JSON ({e}): {line}"));
        for key in ["timestamp", "level", "message", "target"] {
            assert!(v[key].is_string(), "no string {key:?} in {line}");
        }
        assert!(v["fields"].is_object(), "no fields object in {line}");
        assert!(
            humantime::parse_rfc3339(v["timestamp"].as_str().unwrap()).is_ok(),
            "{line}"
        );
    }
    let plan: Vec<Value> = lines
        .iter()
        .map(|l| serde_json::from_str::<Value>(l).unwrap())
        .filter(|v| v["message"] == "plan: 13 users at 16/s: about 1 s; 80% of the pro plan's Medium budget of 20/s, leaving 4/s to other apps (less if they need more)")
        .collect();
    assert_eq!(plan.len(), 1, "the plan is one event: {stderr}");
    assert_eq!(plan[0]["level"], "INFO");
    assert_eq!(plan[0]["fields"]["rows"], 13, "{}", plan[0]);
    assert_eq!(plan[0]["fields"]["report"], p(&report), "{}", plan[0]);

    assert_eq!(
        stdout.trim_end().lines().count(),
        1,
        "one summary object: {stdout}"
    );
    let summary: Value = serde_json::from_str(stdout.trim()).expect("summary is JSON");
    let rows = util::rows(&report);
    assert_eq!(rows.len(), 13);
    assert_eq!(summary["rows"], 13);
    for o in Outcome::ALL {
        let n = rows.iter().filter(|r| r.outcome == o).count();
        assert_eq!(summary["counts"][o.as_str()], n, "count of {o}: {summary}");
    }
    let requests: u32 = rows.iter().map(|r| r.attempts).sum();
    assert_eq!(summary["requests"], requests);
    assert_eq!(summary["report"], p(&report));
    assert_eq!(summary["exit_code"], 1);
    assert_eq!(summary["simulated"], true);
    assert!(summary["elapsed_secs"].as_f64().is_some_and(|s| s > 0.0));
    assert!(summary["achieved_rate"].as_f64().is_some_and(|r| r > 0.0));
    // What remains is the ledger's one count, the same `status` shows (the structure
    // issue, item 4): the demo leaves one user at Zoom's 24-hour limit and two rows
    // refused before sending; a resume would try all three again.
    let remaining = rows.iter().filter(|r| !r.outcome.is_final()).count();
    assert_eq!(remaining, 3);
    assert_eq!(summary["remaining"], 3);
    let mut status = bin();
    status.args(["status", &p(&report), "--format", "json"]);
    let out = util::bin_output(status).await;
    let status: Value = serde_json::from_slice(&out.stdout).expect("status is JSON");
    assert_eq!(status["remaining"], summary["remaining"]);
    // The command that continues: every flag that changes what is sent, absolute paths,
    // and the same in the summary and in `status`.
    let input = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/users.csv");
    assert_eq!(
        summary["resume_command"],
        format!(
            "{} run {} --config {} --simulate --plan pro --budget-share 0.8 --resume --report {}",
            env!("CARGO_BIN_EXE_zoom-rotate"),
            p(&input),
            p(&config),
            p(&report)
        )
    );
    assert_eq!(status["resume_command"], summary["resume_command"]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn text_summary_when_every_row_changed_has_no_resume_command() {
    let server = MockServer::start().await;
    Mock::given(method("PUT"))
        .respond_with(ResponseTemplate::new(204))
        .expect(4)
        .mount(&server)
        .await;
    let dir = util::tmp();
    let input = users_csv(dir.path(), "in.csv", "u", 4);
    let report = dir.path().join("r.csv");
    let mut cmd = bin();
    cmd.env("ZOOM_ACCESS_TOKEN", TOKEN)
        .args(["run", &p(&input), "--report", &p(&report)])
        .args(["--config", &p(&util::empty_config(dir.path()))])
        .args([
            "--base-url",
            &v2(&server),
            "--no-fetch-policy",
            "--rate",
            "1000",
            "--rate-above-plan",
        ]);
    let out = util::bin_output(cmd).await;
    let (stdout, stderr) = util::text(&out);
    assert_eq!(out.status.code(), Some(0), "{stdout}\n{stderr}");
    let lines: Vec<&str> = stdout.lines().collect();
    assert_eq!(lines[0], "zoom-rotate: 4 rows");
    assert_eq!(lines[1], "  changed           4");
    assert!(
        lines[2].starts_with("elapsed ") && lines[2].contains(" s, 4 requests, achieved rate "),
        "{stdout}"
    );
    assert_eq!(lines[3], format!("report: {}", p(&report)));
    assert_eq!(
        lines.len(),
        4,
        "nothing remains, so no resume command: {stdout}"
    );
    assert!(!stdout.contains("--resume"));
}
