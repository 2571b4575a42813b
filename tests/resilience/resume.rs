//! Crash-safe resume: the daily limit stops the run and `--resume` finishes after 00:00
//! UTC (with or without the 429's headers); a row left unanswered before a stop is
//! confirmed on resume by Zoom's same-as-old; a 24-hour change limit is tried again only
//! after 24 hours; kill -9 at several points, then resume, changes everyone once; and a
//! user in flight at a crash is known even if the input was edited before resuming.

use super::*;
use zoom_rotate::ledger::files::Disk;

// ---------------------------------------------------------------- the daily limit

async fn daily_run(dir: &Path, sim: &SimHandle, input: &Path, report: &Path, resume: bool) -> u8 {
    let mut words = vec![
        p(input),
        "--report".into(),
        p(report),
        "--base-url".into(),
        sim.base_url(),
        "--concurrency".into(),
        "1".into(),
        "--no-fetch-policy".into(),
    ];
    if resume {
        words.push("--resume".into());
    }
    let words: Vec<&str> = words.iter().map(String::as_str).collect();
    util::run(dir, &words, util::token("sim-token"))
        .await
        .unwrap()
        .exit_code
        .code()
}

/// Daily limit 7, 12 users: 7 changed, the 8th told "daily", the rest not attempted;
/// after 00:00 UTC `--resume` changes the other 5.
async fn daily_limit_then_resume(omit_headers: bool) -> Vec<Row> {
    const N: usize = 12;
    let dir = util::tmp();
    let sim = gen_sim(N as u32, |c| {
        c.daily_limit = Some(7);
        c.omit_daily_headers = omit_headers;
    })
    .await;
    let input = util::write(dir.path(), "in.csv", input_csv(N));
    let report = dir.path().join("r.csv");
    assert_eq!(daily_run(dir.path(), &sim, &input, &report, false).await, 3);
    let first = util::rows_by_line(&report);
    let outcomes: Vec<(u64, Outcome, u32)> = first
        .iter()
        .map(|r| (r.line, r.outcome, r.attempts))
        .collect();
    let mut expected: Vec<(u64, Outcome, u32)> =
        (2..=8).map(|l| (l, Outcome::Changed, 1)).collect();
    expected.push((9, Outcome::RateLimited, 1));
    expected.extend((10..=13).map(|l| (l, Outcome::NotAttempted, 0)));
    assert_eq!(outcomes, expected);
    assert!(first[7].message.contains("maximum daily rate limit"));
    for r in &first[8..] {
        assert!(
            r.message
                .starts_with("not sent: Zoom's daily rate limit was reached; it resets at "),
            "{r:?}"
        );
    }
    assert_eq!(sim.stats().rate_limited_daily, 1);
    assert_eq!(sim.stats().password_puts, 8);

    past_midnight(&sim);
    assert_eq!(daily_run(dir.path(), &sim, &input, &report, true).await, 0);
    assert_all_changed_once(&sim, &report, N);
    let all = util::rows(&report);
    assert_eq!(all.len(), N + 5, "only the 5 remaining were sent again");
    assert!(!zoom_rotate::ledger::side::journal(&report).exists());
    first
}

#[tokio::test]
async fn the_daily_limit_stops_the_run_and_resume_finishes_after_midnight() {
    daily_limit_then_resume(false).await;
}

#[tokio::test]
async fn a_daily_429_without_its_headers_is_known_by_its_message() {
    let first = daily_limit_then_resume(true).await;
    // Without Retry-After the reset is the next 00:00 UTC.
    let resets = humantime::format_rfc3339_seconds(next_midnight(SystemTime::now()));
    assert_eq!(
        first[11].message,
        format!("not sent: Zoom's daily rate limit was reached; it resets at {resets}")
    );
}

// ---------------------------------------------------------------- unanswered, then a stop

/// One user: the first request is never answered in time (timeout), the second gets
/// `second`; the run stops. `--resume` must then treat Zoom's same-as-old as proof.
async fn unanswered_then(second: ResponseTemplate, expect: &str, exit: u8) {
    let server = MockServer::start().await;
    let url_path = "/v2/users/ann%40example.com/password";
    Mock::given(method("PUT"))
        .and(path(url_path))
        .respond_with(ResponseTemplate::new(204).set_delay(Duration::from_secs(2)))
        .up_to_n_times(1)
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(method("PUT"))
        .and(path(url_path))
        .respond_with(second)
        .expect(1)
        .mount(&server)
        .await;
    let dir = util::tmp();
    let input = util::write(
        dir.path(),
        "in.csv",
        "email,password\nann@example.com,Rotated-1-Kqx\n",
    );
    let config = util::write(
        dir.path(),
        "c.toml",
        "[api]\ntimeout_secs = 0.3\n[retry]\nattempts = 3\nbase_delay_ms = 10\nmax_delay_ms = 20\n",
    );
    let report = dir.path().join("r.csv");
    let base = util::v2(&server);
    let words = |resume: bool| {
        let mut w = vec![
            p(&input),
            "--report".into(),
            p(&report),
            "--config".into(),
            p(&config),
            "--base-url".into(),
            base.clone(),
            "--no-fetch-policy".into(),
        ];
        if resume {
            w.push("--resume".into());
        }
        w
    };
    let w = words(false);
    let w: Vec<&str> = w.iter().map(String::as_str).collect();
    let r = util::run(dir.path(), &w, util::token("tok")).await.unwrap();
    assert_eq!(r.exit_code, exit);
    let rows = util::rows(&report);
    assert_eq!(rows.len(), 1);
    assert_eq!((rows[0].outcome.as_str(), rows[0].attempts), (expect, 2));
    assert!(
        rows[0].message.contains(MAY_HAVE_APPLIED),
        "the row must say the first attempt may have applied the change: {:?}",
        rows[0]
    );
    server.verify().await;

    // The first attempt had in fact been applied: Zoom now says same-as-old.
    server.reset().await;
    Mock::given(method("PUT"))
        .and(path(url_path))
        .respond_with(ResponseTemplate::new(400).set_body_string(SAME_AS_OLD_BODY))
        .expect(1)
        .mount(&server)
        .await;
    let w = words(true);
    let w: Vec<&str> = w.iter().map(String::as_str).collect();
    let r = util::run(dir.path(), &w, util::token("tok")).await.unwrap();
    let rows = util::rows(&report);
    assert_eq!(
        (
            r.exit_code.code(),
            rows[1].outcome,
            rows[1].message.as_str()
        ),
        (0, Outcome::Changed, CONFIRMED)
    );
    let body: serde_json::Value =
        serde_json::from_slice(&server.received_requests().await.unwrap()[0].body).unwrap();
    assert_eq!(body, serde_json::json!({"password": "Rotated-1-Kqx"}));
}

#[tokio::test]
async fn unanswered_then_daily_limit_resumes_as_a_confirmation() {
    let daily = ResponseTemplate::new(429)
        .insert_header("x-ratelimit-type", "Daily-limit")
        .insert_header("retry-after", "3600")
        .set_body_string(DAILY_BODY);
    unanswered_then(daily, "rate_limited", 3).await;
}

#[tokio::test]
async fn unanswered_then_auth_lost_resumes_as_a_confirmation() {
    let refused = ResponseTemplate::new(401)
        .set_body_string(r#"{"code":124,"message":"Invalid access token."}"#);
    unanswered_then(refused, "auth_failed", 3).await;
}

// ---------------------------------------------------------------- resume rules

/// A sim of two users, `a` already at its 24-hour change limit.
async fn limit_sim(dir: &Path) -> SimHandle {
    util::sim(SimConfig {
        change_limit_24h: 1,
        ..util::sim_users(
            dir,
            "id,email,password,role,changes_24h\n\
             ua,a@example.com,Old-Pass-11x,member,1\n\
             ub,b@example.com,Old-Pass-22x,member,0\n",
        )
    })
    .await
}

async fn limit_run(dir: &Path, sim: &SimHandle, resume: bool) -> u8 {
    let input = dir.join("in.csv");
    if !input.exists() {
        util::write(
            dir,
            "in.csv",
            "email,password\na@example.com,New-Pass-11y\nb@example.com,New-Pass-22y\n",
        );
    }
    let report = dir.join("r.csv");
    let mut words = vec![
        p(&input),
        "--report".into(),
        p(&report),
        "--base-url".into(),
        sim.base_url(),
        "--no-fetch-policy".into(),
    ];
    if resume {
        words.push("--resume".into());
    }
    let words: Vec<&str> = words.iter().map(String::as_str).collect();
    util::run(dir, &words, util::token("sim-token"))
        .await
        .unwrap()
        .exit_code
        .code()
}

#[tokio::test]
async fn change_limit_24h_is_tried_again_only_after_24_hours() {
    let dir = util::tmp();
    let sim = limit_sim(dir.path()).await;
    let report = dir.path().join("r.csv");
    assert_eq!(limit_run(dir.path(), &sim, false).await, 1);
    let s = util::summary(&report);
    assert_eq!(
        s,
        vec![
            (
                2,
                "a@example.com".into(),
                "change_limit_24h".into(),
                Some(400),
                Some(300),
                1
            ),
            (
                3,
                "b@example.com".into(),
                "changed".into(),
                Some(204),
                None,
                1
            ),
        ]
    );
    // At once: a waits for its 24 hours, b is final; nothing is sent.
    limit_run(dir.path(), &sim, true).await;
    assert_eq!(sim.stats().password_puts, 2);
    assert_eq!(util::rows(&report).len(), 2);

    // A day later (the report's clock and Zoom's): a is tried again, b still skipped.
    let mut rows = util::rows(&report);
    for r in &mut rows {
        r.finished_at -= Duration::from_secs(25 * 3600);
    }
    std::fs::remove_file(&report).unwrap();
    let mut w = report::Writer::open(&report, false, &Disk::default()).unwrap();
    for r in &rows {
        w.write(r).unwrap();
    }
    w.flush().unwrap();
    sim.advance_clock(Duration::from_secs(25 * 3600));
    assert_eq!(limit_run(dir.path(), &sim, true).await, 0);
    let rows = util::rows(&report);
    assert_eq!(rows.len(), 3);
    assert_eq!(
        (rows[2].user_id.as_str(), rows[2].outcome),
        ("a@example.com", Outcome::Changed)
    );
    assert_eq!(sim.user("a@example.com").unwrap().change_count, 1);
    assert_eq!(sim.user("b@example.com").unwrap().change_count, 1);
}

#[tokio::test]
async fn a_resume_that_skips_a_user_still_waiting_24h_does_not_exit_0() {
    // Exit 0 means "every input row ends changed" (CONTRACT); a is still waiting.
    let dir = util::tmp();
    let sim = limit_sim(dir.path()).await;
    assert_eq!(limit_run(dir.path(), &sim, false).await, 1);
    assert_eq!(limit_run(dir.path(), &sim, true).await, 1);
}

// ---------------------------------------------------------------- crashes

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kill_9_at_several_points_then_resume_changes_everyone_once() {
    const N: usize = 60;
    let dir = util::tmp();
    let sim = gen_sim(N as u32, |c| c.latency_ms = 100).await;
    let input = util::write(dir.path(), "in.csv", input_csv(N));
    let report = dir.path().join("r.csv");
    // line → (report rows when first caught in flight, whether the simulator had received
    // the request by the last time it was caught). A line caught twice (carried over by a
    // resume that was killed too) is resolved by the run after the last catch.
    let mut killed_in_flight: HashMap<u64, (usize, bool)> = HashMap::new();
    let config = util::write(dir.path(), "short.toml", SHORT_TIMEOUT);
    let config = p(&config);
    // Kill the first run, then two resumes, each once the report has grown this far.
    for (i, at) in [6usize, 22, 38].into_iter().enumerate() {
        let extra: &[&str] = if i == 0 {
            &["--rate", "20", "--config", &config]
        } else {
            &["--rate", "20", "--resume", "--config", &config]
        };
        let mut child = bin_run(dir.path(), &sim, &input, &report, extra);
        wait_for_rows(&report, at).await;
        child.kill_9();
        // Let the simulator read whatever had reached its socket.
        tokio::time::sleep(Duration::from_millis(300)).await;
        for line in in_flight(&report) {
            let user = email(line as usize - 1);
            let received = !sim.user(&user).unwrap().received_passwords.is_empty();
            let rows_now = report_rows(&report);
            killed_in_flight
                .entry(line)
                .and_modify(|e| e.1 = received)
                .or_insert((rows_now, received));
        }
    }
    assert!(
        !killed_in_flight.is_empty(),
        "a kill caught requests in flight"
    );
    let child = bin_run(
        dir.path(),
        &sim,
        &input,
        &report,
        &["--rate", "20", "--resume", "--config", &config],
    );
    let (code, err) = wait_exit(child, Duration::from_secs(30)).await;
    assert_eq!(code, 0, "{err}");
    assert_all_changed_once(&sim, &report, N);
    assert!(!zoom_rotate::ledger::side::journal(&report).exists());
    // Each row caught in flight was resolved by the next run as an unanswered attempt:
    // confirmed by same-as-old when the simulator had it, else changed by the retry.
    let rows = util::rows(&report);
    for (line, (rows_at_kill, received)) in killed_in_flight {
        let next = rows[rows_at_kill..]
            .iter()
            .find(|r| r.line == line)
            .expect("a later row for the line");
        assert_eq!(next.outcome, Outcome::Changed, "{next:?}");
        let expected = if received {
            CONFIRMED
        } else {
            AFTER_UNANSWERED
        };
        assert_eq!(next.message, expected, "line {line}");
    }
    // No user was ever sent a second, different password.
    for i in 1..=N {
        let u = sim.user(&email(i)).unwrap();
        assert!(u.received_passwords.iter().all(|p| *p == password(i)));
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_user_in_flight_at_a_crash_is_known_even_if_the_input_was_edited() {
    // The operator removes or reorders rows before resuming: line numbers shift, but the
    // user whose request was on the wire must still be retried as unanswered.
    let dir = util::tmp();
    let sim = gen_sim(2, |c| c.latency_ms = 600).await;
    let input = util::write(dir.path(), "in.csv", input_csv(2));
    let report = dir.path().join("r.csv");
    let config = p(&util::write(dir.path(), "short.toml", SHORT_TIMEOUT));
    let mut child = bin_run(
        dir.path(),
        &sim,
        &input,
        &report,
        &[
            "--concurrency",
            "1",
            "--no-fetch-policy",
            "--config",
            &config,
        ],
    );
    let started = Instant::now();
    while sim.user(&email(1)).unwrap().received_passwords.is_empty() {
        assert!(started.elapsed() < Duration::from_secs(10));
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    child.kill_9();
    // The simulator applies the change all the same.
    while sim.user(&email(1)).unwrap().change_count == 0 {
        assert!(started.elapsed() < Duration::from_secs(10));
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert_eq!(util::rows(&report), vec![]);
    let edited = format!(
        "email,password\n{},{}\n{},{}\n",
        email(2),
        password(2),
        email(1),
        password(1)
    );
    util::write(dir.path(), "in.csv", edited);
    let child = bin_run(
        dir.path(),
        &sim,
        &input,
        &report,
        &[
            "--resume",
            "--concurrency",
            "1",
            "--no-fetch-policy",
            "--config",
            &config,
        ],
    );
    let (code, err) = wait_exit(child, Duration::from_secs(20)).await;
    assert_eq!(code, 0, "{err}");
    let rows = util::rows_by_line(&report);
    let got: Vec<(u64, &str, Outcome, &str)> = rows
        .iter()
        .map(|r| (r.line, r.user_id.as_str(), r.outcome, r.message.as_str()))
        .collect();
    let (u1, u2) = (email(1), email(2));
    assert_eq!(
        got,
        vec![
            (2, u2.as_str(), Outcome::Changed, "password changed"),
            (3, u1.as_str(), Outcome::Changed, CONFIRMED),
        ]
    );
    for i in 1..=2 {
        assert_eq!(sim.user(&email(i)).unwrap().change_count, 1);
    }
}
