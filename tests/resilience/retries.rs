//! Safe retries, end to end: every fault at once (5xx, drops before and after the change,
//! spent tokens, per-second 429s) still changes each user exactly once; an unanswered
//! request is retried with the same password until Zoom confirms it; a request never sent
//! is reported as not applied; other 4xx are never retried; and per-second 429s are waited
//! out whatever form their Retry-After takes (seconds, HTTP date, ISO 8601, absent).

use super::*;

// ---------------------------------------------------------------- faults, end to end

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn under_every_fault_each_user_is_changed_exactly_once() {
    const N: usize = 150;
    let dir = util::tmp();
    let sim = gen_sim(N as u32, |c| {
        c.fault_5xx = 0.05;
        c.fault_drop_before = 0.02;
        c.fault_drop_after = 0.03;
        c.token_max_uses = Some(40);
        // A budget below the job's rate (40 < 56): per-second 429s, the rate controller, shared pauses.
        c.qps = Some(40);
        c.seed = 7;
    })
    .await;
    let report = dir.path().join("r.csv");
    let r = fast_run(
        dir.path(),
        N,
        &[
            "--base-url",
            &sim.base_url(),
            "--token-url",
            &sim.token_url(),
            "--rate",
            "56",
            "--plan",
            "business",
        ],
        s2s(),
    )
    .await
    .unwrap();
    let rows = util::rows(&report);
    let stats = sim.stats();
    assert_eq!(
        (
            r.exit_code.code(),
            rows.len(),
            count(&rows, Outcome::Changed)
        ),
        (0, N, N),
        "{:?}",
        rows.iter()
            .filter(|r| r.outcome != Outcome::Changed)
            .collect::<Vec<_>>()
    );
    assert_all_changed_once(&sim, &report, N);
    assert!(stats.token_grants > 1, "tokens were renewed: {stats:?}");
    assert!(
        stats.unauthorized_401 > 0,
        "a spent token got 401: {stats:?}"
    );
    assert!(stats.rate_limited_qps > 0, "the budget was below the rate");
    assert!(stats.faults_5xx + stats.drops_before + stats.drops_after > 0);
    // `attempts` counts every request the server saw for the row.
    assert_eq!(attempts(&rows), stats.password_puts);
    // A change applied but unanswered is confirmed by the retry's same-as-old.
    let confirmed = rows.iter().filter(|r| r.message == CONFIRMED).count() as u64;
    assert!(confirmed <= stats.drops_after, "{confirmed} {stats:?}");
    assert_eq!(confirmed > 0, stats.drops_after > 0, "{stats:?}");
    // Every retry carried the row's one password: never a second, different one.
    for i in 1..=N {
        let u = sim.user(&email(i)).unwrap();
        assert!(u.received_passwords.iter().all(|p| *p == password(i)));
    }
    assert!(
        !zoom_rotate::ledger::side::journal(&report).exists(),
        "journal removed"
    );
}

#[tokio::test]
async fn sent_unknown_is_retried_with_the_same_password_until_confirmed() {
    // Every answer is lost after the change is applied, until the retries run out.
    let dir = util::tmp();
    let sim = gen_sim(1, |c| c.fault_drop_after = 1.0).await;
    let input = util::write(dir.path(), "in.csv", input_csv(1));
    let config = util::write(
        dir.path(),
        "c.toml",
        "[retry]\nattempts = 3\nbase_delay_ms = 10\nmax_delay_ms = 20\n",
    );
    let report = dir.path().join("r.csv");
    let words = [
        p(&input),
        "--report".into(),
        p(&report),
        "--config".into(),
        p(&config),
        "--base-url".into(),
        sim.base_url(),
        "--no-fetch-policy".into(),
    ];
    let words: Vec<&str> = words.iter().map(String::as_str).collect();
    let r = util::run(dir.path(), &words, util::token("sim-token"))
        .await
        .unwrap();
    assert_eq!(r.exit_code, 1);
    let rows = util::rows(&report);
    assert_eq!(
        util::summary(&report),
        vec![(2, email(1), "failed".into(), None, None, 3)]
    );
    assert!(rows[0].message.contains(MAY_HAVE_APPLIED), "{:?}", rows[0]);
    let u = sim.user(&email(1)).unwrap();
    assert_eq!(u.change_count, 1);
    assert_eq!(u.received_passwords, vec![password(1); 3], "same password");
}

#[tokio::test]
async fn nothing_sent_is_retried_and_reported_as_not_applied() {
    // A port nobody listens on: every connection is refused, nothing leaves.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let dir = util::tmp();
    let input = util::write(dir.path(), "in.csv", input_csv(1));
    let config = util::write(
        dir.path(),
        "c.toml",
        "[retry]\nattempts = 3\nbase_delay_ms = 10\nmax_delay_ms = 20\n",
    );
    let report = dir.path().join("r.csv");
    let r = util::run(
        dir.path(),
        &[
            &p(&input),
            "--report",
            &p(&report),
            "--config",
            &p(&config),
            "--base-url",
            &format!("http://127.0.0.1:{port}/v2"),
            "--no-fetch-policy",
        ],
        util::token("tok"),
    )
    .await
    .unwrap();
    assert_eq!(r.exit_code, 1);
    assert_eq!(
        util::summary(&report),
        // attempts counts requests sent: none left this machine (CONTRACT).
        vec![(2, email(1), "failed".into(), None, None, 0)]
    );
    let row = &util::rows(&report)[0];
    assert!(row.message.starts_with("not sent: "), "{row:?}");
    assert!(
        row.message
            .ends_with("; gave up after 3 tries; the change was not applied"),
        "{row:?}"
    );
}

#[tokio::test]
async fn other_4xx_are_never_retried() {
    let dir = util::tmp();
    let sim = gen_sim(1, |_| {}).await;
    let input = util::write(
        dir.path(),
        "in.csv",
        format!("email,password\nnobody@example.com,{}\n", password(1)),
    );
    let config = util::write(dir.path(), "c.toml", FAST_RETRY);
    let report = dir.path().join("r.csv");
    let r = util::run(
        dir.path(),
        &[
            &p(&input),
            "--report",
            &p(&report),
            "--config",
            &p(&config),
            "--base-url",
            &sim.base_url(),
            "--no-fetch-policy",
        ],
        util::token("sim-token"),
    )
    .await
    .unwrap();
    assert_eq!(r.exit_code, 1);
    assert_eq!(
        util::summary(&report),
        vec![(
            2,
            "nobody@example.com".into(),
            "user_not_found".into(),
            Some(404),
            Some(1001),
            1
        )]
    );
    assert_eq!(sim.stats().password_puts, 1);
}

// ---------------------------------------------------------------- Retry-After

/// qps 2 against a job at 6/s: per-second 429s happen and are waited out.
async fn per_second_429s_are_waited_out(format: RetryAfterFormat) {
    const N: usize = 6;
    let dir = util::tmp();
    let sim = gen_sim(N as u32, |c| {
        c.qps = Some(2);
        c.retry_after = format;
    })
    .await;
    let report = dir.path().join("r.csv");
    let r = fast_run(
        dir.path(),
        N,
        &[
            "--base-url",
            &sim.base_url(),
            "--rate",
            "6",
            "--no-fetch-policy",
        ],
        util::token("sim-token"),
    )
    .await
    .unwrap();
    let rows = util::rows(&report);
    let stats = sim.stats();
    assert_eq!(r.exit_code, 0, "{format:?}: {rows:?}");
    assert!(stats.rate_limited_qps > 0, "{format:?}: {stats:?}");
    assert_all_changed_once(&sim, &report, N);
    assert_eq!(attempts(&rows), stats.password_puts);
    assert!(rows.iter().any(|r| r.attempts > 1));
    assert!(rows.iter().all(|r| r.message == "password changed"));
}

#[tokio::test]
async fn retry_after_in_seconds() {
    per_second_429s_are_waited_out(RetryAfterFormat::Seconds).await;
}

#[tokio::test]
async fn retry_after_as_http_date() {
    per_second_429s_are_waited_out(RetryAfterFormat::HttpDate).await;
}

#[tokio::test]
async fn retry_after_as_iso8601() {
    per_second_429s_are_waited_out(RetryAfterFormat::Iso8601).await;
}

#[tokio::test]
async fn retry_after_absent() {
    per_second_429s_are_waited_out(RetryAfterFormat::Absent).await;
}
