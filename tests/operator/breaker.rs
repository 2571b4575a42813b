//! The circuit breaker: `--max-failures N` identical failures in a row stop the run
//! (exit 3, the rest `not_attempted`); mixed failures, per-user outcomes and 0 do not.
//!
//! The breaker sits in the monitor, a channel away from the workers, so a row or so may
//! leave after the Nth failure: the bounds are N + concurrency. The rate (100/s) gives the
//! monitor 10 ms a row to keep up even on a loaded machine.

use super::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn circuit_breaker_trips_on_n_identical_failures() {
    let server = MockServer::start().await;
    Mock::given(method("PUT"))
        .respond_with(forbidden())
        .mount(&server)
        .await;
    let dir = util::tmp();
    let input = users_csv(dir.path(), "in.csv", "u", 30);
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
            "100",
            "--rate-above-plan",
        ])
        .args(["--max-failures", "5", "--concurrency", "1"]);
    let out = util::bin_output(cmd).await;
    let (stdout, stderr) = util::text(&out);
    assert_eq!(out.status.code(), Some(3), "{stdout}\n{stderr}");

    let sent = puts(&server).await;
    assert!(
        (5..=5 + 1).contains(&sent.len()),
        "5 failures, plus at most the one in flight: {sent:?}"
    );
    let rows = util::rows_by_line(&report);
    assert_eq!(rows.len(), 30);
    for (i, r) in rows.iter().enumerate() {
        assert_eq!(r.line, i as u64 + 2);
        if i < sent.len() {
            // One request each: a 403 is final, never retried.
            assert_eq!(
                (
                    r.outcome,
                    r.http_status,
                    r.zoom_code,
                    r.attempts,
                    r.message.as_str()
                ),
                (Outcome::Rejected, Some(403), Some(4700), 1, SCOPE_MESSAGE),
                "row {i}"
            );
        } else {
            assert_eq!(
                (r.outcome, r.http_status, r.attempts, r.message.as_str()),
                (Outcome::NotAttempted, None, 0, BREAKER_ROW_MESSAGE),
                "row {i}"
            );
        }
    }
    // What went wrong and what to check, on stdout and in the log.
    assert!(
        stdout.contains(
            "stopped early: circuit breaker: 5 rows in a row ended rejected (HTTP 403, code 4700)"
        ),
        "{stdout}"
    );
    assert!(
        stdout.contains("user:write:admin"),
        "names the scope: {stdout}"
    );
    assert!(stderr.contains("circuit breaker"), "{stderr}");
    let remaining = 30 - sent.len();
    assert!(
        stdout.contains(&format!(
            // What remains and the command that continues are the ledger's (the same
            // that `status` prints): every flag that changes what is sent, paths
            // absolute; the stop's own flags (--max-failures, --concurrency) are not.
            "{remaining} users remain; to continue:\n  {} run {} --config {} --base-url {} --plan pro --rate 100 --rate-above-plan --no-fetch-policy --resume --report {}\n",
            env!("CARGO_BIN_EXE_zoom-rotate"),
            p(&input),
            p(&util::empty_config(dir.path())),
            v2(&server),
            p(&report)
        )),
        "{stdout}"
    );
}

/// 30 rows alternating between two different rejections: never 5 alike in a row.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn circuit_breaker_ignores_n_mixed_failures() {
    let server = MockServer::start().await;
    Mock::given(method("PUT"))
        .and(path_regex(r"^/v2/users/odd\d+/password$"))
        .respond_with(forbidden())
        .mount(&server)
        .await;
    Mock::given(method("PUT"))
        .and(path_regex(r"^/v2/users/even\d+/password$"))
        .respond_with(util::zoom_error(400, 1123, WORK_EMAIL_MESSAGE))
        .mount(&server)
        .await;
    let dir = util::tmp();
    let mut csv = String::from("user_id,password\n");
    for i in 1..=30 {
        let kind = if i % 2 == 1 { "odd" } else { "even" };
        csv.push_str(&format!("{kind}{i:02},Harbor-Violet-{i}q\n"));
    }
    util::write(dir.path(), "in.csv", csv);
    let result = util::run(
        dir.path(),
        &[
            &p(&dir.path().join("in.csv")),
            "--report",
            &p(&dir.path().join("r.csv")),
            "--base-url",
            &v2(&server),
            "--no-fetch-policy",
            "--rate",
            "100",
            "--rate-above-plan",
            "--max-failures",
            "5",
            "--concurrency",
            "1",
        ],
        util::token(TOKEN),
    )
    .await
    .expect("the run starts");
    assert_eq!((result.exit_code.code(), result.stop), (1, None));
    assert_eq!(puts(&server).await.len(), 30, "every row was sent");
    let rows = util::rows_by_line(&dir.path().join("r.csv"));
    assert_eq!(rows.len(), 30);
    for (i, r) in rows.iter().enumerate() {
        let expected = if i % 2 == 0 {
            (Outcome::Rejected, Some(403), Some(4700), 1)
        } else {
            (Outcome::Rejected, Some(400), Some(1123), 1)
        };
        assert_eq!(
            (r.outcome, r.http_status, r.zoom_code, r.attempts),
            expected,
            "row {i}"
        );
    }
}

/// Rows that speak of one user (not found) neither count nor break a streak.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn circuit_breaker_streak_spans_user_not_found_rows() {
    let server = MockServer::start().await;
    Mock::given(method("PUT"))
        .and(path_regex(r"^/v2/users/gone\d+/password$"))
        .respond_with(util::zoom_error(404, 1001, "User does not exist: gone."))
        .mount(&server)
        .await;
    Mock::given(method("PUT"))
        .and(path_regex(r"^/v2/users/deny\d+/password$"))
        .respond_with(forbidden())
        .mount(&server)
        .await;
    let dir = util::tmp();
    let mut csv = String::from("user_id,password\n");
    for i in 1..=20 {
        let kind = if i % 2 == 1 { "deny" } else { "gone" };
        csv.push_str(&format!("{kind}{i:02},Harbor-Violet-{i}q\n"));
    }
    util::write(dir.path(), "in.csv", csv);
    let result = util::run(
        dir.path(),
        &[
            &p(&dir.path().join("in.csv")),
            "--report",
            &p(&dir.path().join("r.csv")),
            "--base-url",
            &v2(&server),
            "--no-fetch-policy",
            "--rate",
            "100",
            "--rate-above-plan",
            "--max-failures",
            "3",
            "--concurrency",
            "1",
        ],
        util::token(TOKEN),
    )
    .await
    .expect("the run starts");
    assert_eq!(result.exit_code, 3);
    assert!(
        matches!(&result.stop, Some(StopReason::CircuitBreaker(m)) if m.starts_with("3 rows in a row ended rejected (HTTP 403, code 4700)")),
        "{:?}",
        result.stop
    );
    // deny01, gone02, deny03, gone04, deny05 trips it; one more may have been in flight.
    let sent = puts(&server).await;
    assert!((5..=6).contains(&sent.len()), "{sent:?}");
    assert_eq!(
        result.tally.get(Outcome::NotAttempted),
        20 - sent.len() as u64
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn circuit_breaker_off_with_zero_and_at_20_by_default() {
    let server = MockServer::start().await;
    Mock::given(method("PUT"))
        .respond_with(forbidden())
        .mount(&server)
        .await;
    let dir = util::tmp();
    let input = users_csv(dir.path(), "in.csv", "u", 30);
    let words = |report: &str, max: Option<&'static str>| {
        let mut w = vec![
            p(&input),
            "--report".into(),
            p(&dir.path().join(report)),
            "--base-url".into(),
            v2(&server),
            "--no-fetch-policy".into(),
            "--rate".into(),
            "100".into(),
            "--rate-above-plan".into(),
            "--concurrency".into(),
            "1".into(),
        ];
        if let Some(m) = max {
            w.extend(["--max-failures".to_string(), m.to_string()]);
        }
        w
    };

    let off = words("off.csv", Some("0"));
    let off: Vec<&str> = off.iter().map(String::as_str).collect();
    let result = util::run(dir.path(), &off, util::token(TOKEN))
        .await
        .unwrap();
    assert_eq!((result.exit_code.code(), result.stop), (1, None));
    assert_eq!(result.tally.get(Outcome::Rejected), 30);
    assert_eq!(puts(&server).await.len(), 30);

    server.reset().await;
    Mock::given(method("PUT"))
        .respond_with(forbidden())
        .mount(&server)
        .await;
    let default = words("default.csv", None);
    let default: Vec<&str> = default.iter().map(String::as_str).collect();
    let result = util::run(dir.path(), &default, util::token(TOKEN))
        .await
        .unwrap();
    assert_eq!(result.exit_code, 3);
    assert!(matches!(result.stop, Some(StopReason::CircuitBreaker(_))));
    let sent = puts(&server).await.len();
    assert!((20..=21).contains(&sent), "{sent}");
    assert_eq!(result.tally.get(Outcome::Rejected), sent as u64);
    assert_eq!(result.tally.get(Outcome::NotAttempted), 30 - sent as u64);
}
