//! Server-to-Server OAuth and 401s: the token response's api_url as the base, one cached
//! token, a 401 renewing it once and retrying the row, a token spent by other workers
//! renewed again rather than taken for lost auth, renewal ahead of expiry (60 s before,
//! or a quarter of a short life), and refused credentials or a refused static token
//! ending the run before (or right after) anything is sent.

use super::*;

// ---------------------------------------------------------------- S2S OAuth and 401s

/// A run of users 1..=n against `sim` with S2S credentials, no `--base-url` unless given.
async fn s2s_run(
    dir: &Path,
    sim: &SimHandle,
    n: usize,
    extra: &[&str],
    creds: Credentials,
) -> anyhow::Result<zoom_rotate::commands::run::RunResult> {
    let token_url = sim.token_url();
    let mut words = vec!["--token-url", &token_url, "--no-fetch-policy"];
    words.extend(extra);
    fast_run(dir, n, &words, creds).await
}

#[tokio::test]
async fn s2s_uses_the_token_responses_api_url_as_the_base() {
    let dir = util::tmp();
    let sim = gen_sim(3, |_| {}).await;
    let r = s2s_run(dir.path(), &sim, 3, &[], s2s()).await.unwrap();
    assert_eq!(r.exit_code, 0);
    assert_all_changed_once(&sim, &dir.path().join("r.csv"), 3);
    assert_eq!(sim.stats().token_grants, 1, "one token, cached");
}

#[tokio::test]
async fn a_401_renews_the_token_once_and_retries_the_row() {
    // Each token is good for 3 requests; one worker, so the order is fixed.
    const N: usize = 10;
    let dir = util::tmp();
    let sim = gen_sim(N as u32, |c| c.token_max_uses = Some(3)).await;
    let r = s2s_run(dir.path(), &sim, N, &["--concurrency", "1"], s2s())
        .await
        .unwrap();
    assert_eq!(r.exit_code, 0);
    let report = dir.path().join("r.csv");
    let expected: Vec<util::Brief> = (1..=N)
        .map(|i| {
            let retried = i % 3 == 1 && i > 1; // users 4, 7, 10 meet a spent token
            (
                i as u64 + 1,
                email(i),
                "changed".into(),
                Some(204),
                None,
                if retried { 2 } else { 1 },
            )
        })
        .collect();
    assert_eq!(util::summary(&report), expected);
    let stats = sim.stats();
    assert_eq!((stats.token_grants, stats.unauthorized_401), (4, 3));
    assert_all_changed_once(&sim, &report, N);
}

#[tokio::test]
async fn a_token_spent_by_other_workers_is_renewed_again_not_taken_for_lost_auth() {
    // Tokens that die after 3 uses, 4 workers: a worker's renewed token is often spent
    // by the others before its retry goes out. That token worked: it expired, it was not
    // refused, so the run must renew again and go on.
    const N: usize = 40;
    let dir = util::tmp();
    let sim = gen_sim(N as u32, |c| c.token_max_uses = Some(3)).await;
    let r = s2s_run(
        dir.path(),
        &sim,
        N,
        &["--concurrency", "4", "--rate", "40", "--plan", "business"],
        s2s(),
    )
    .await
    .unwrap();
    let report = dir.path().join("r.csv");
    let odd: Vec<Row> = util::rows(&report)
        .into_iter()
        .filter(|r| r.outcome != Outcome::Changed)
        .collect();
    assert_eq!(
        (r.exit_code.code(), &r.stop),
        (0, &None),
        "{odd:?} {:?}",
        sim.stats()
    );
    assert_all_changed_once(&sim, &report, N);
    let stats = sim.stats();
    // One renewal per spent token, not one per worker that saw the 401.
    assert!(stats.token_grants >= (N as u64).div_ceil(3), "{stats:?}");
    assert!(
        stats.token_grants <= (N as u64).div_ceil(3) + 4,
        "{stats:?}"
    );
}

#[tokio::test]
async fn a_token_is_renewed_for_everybody_ahead_of_its_expiry_not_per_request() {
    let dir = util::tmp();
    // 120 s: never within 60 s of expiry during the run, so one token serves all.
    let sim = gen_sim(4, |c| c.token_lifetime_secs = 120).await;
    let r = s2s_run(dir.path(), &sim, 4, &[], s2s()).await.unwrap();
    assert_eq!((r.exit_code.code(), sim.stats().token_grants), (0, 1));
    // 60 s: renewed when a quarter (15 s) is left, not at once, so it too serves all
    // (issue 10, defect 2: it used to cost a token request per row).
    let dir = util::tmp();
    let sim = gen_sim(4, |c| c.token_lifetime_secs = 60).await;
    let r = s2s_run(dir.path(), &sim, 4, &["--concurrency", "1"], s2s())
        .await
        .unwrap();
    let stats = sim.stats();
    assert_eq!(r.exit_code, 0);
    assert_eq!(
        (
            stats.token_grants,
            stats.password_puts,
            stats.unauthorized_401
        ),
        (1, 4, 0)
    );
}

#[tokio::test]
async fn refused_credentials_end_the_run_before_anything_is_sent() {
    let dir = util::tmp();
    let sim = gen_sim(3, |_| {}).await;
    let wrong = Credentials::simulator("sim-account", "sim-client", "not-the-secret");
    let err = s2s_run(dir.path(), &sim, 3, &[], wrong).await.unwrap_err();
    let text = format!("{err:#}");
    assert!(
        text.contains("refused the credentials (HTTP 401)"),
        "{text}"
    );
    assert!(!text.contains("not-the-secret"), "{text}");
    let stats = sim.stats();
    assert_eq!((stats.token_errors, stats.password_puts), (1, 0));
    assert!(
        !dir.path().join("r.csv").exists(),
        "no report for a run never started"
    );
}

#[tokio::test]
async fn a_refused_static_token_stops_the_run_after_one_request_per_slot() {
    const N: usize = 12;
    let dir = util::tmp();
    let sim = gen_sim(N as u32, |_| {}).await;
    let input = util::write(dir.path(), "in.csv", input_csv(N));
    let report = dir.path().join("r.csv");
    let r = util::run(
        dir.path(),
        &[
            &p(&input),
            "--report",
            &p(&report),
            "--base-url",
            &sim.base_url(),
            "--concurrency",
            "2",
            "--no-fetch-policy",
        ],
        util::token("revoked-token"),
    )
    .await
    .unwrap();
    assert_eq!(r.exit_code, 3);
    assert!(
        matches!(r.stop, Some(StopReason::AuthLost(_))),
        "{:?}",
        r.stop
    );
    let rows = util::rows_by_line(&report);
    assert_eq!(rows.len(), N);
    let failed: Vec<&Row> = rows.iter().filter(|r| r.attempts > 0).collect();
    assert!((1..=2).contains(&failed.len()), "{rows:?}");
    for r in &failed {
        assert_eq!(
            (r.outcome, r.http_status, r.zoom_code, r.attempts),
            (Outcome::AuthFailed, Some(401), Some(124), 1)
        );
    }
    for r in rows.iter().filter(|r| r.attempts == 0) {
        assert_eq!(
            (r.outcome, r.message.as_str()),
            (
                Outcome::NotAttempted,
                "not sent: authentication failed for good"
            )
        );
    }
    let stats = sim.stats();
    assert_eq!(stats.unauthorized_401, failed.len() as u64);
    assert_eq!(stats.password_puts, failed.len() as u64);
}

/// A token endpoint that fails (503) when a renewal is due is a blip: the row backs off,
/// asks again and goes through; the run does not end as "authentication lost".
#[tokio::test]
async fn a_failing_token_endpoint_is_asked_again_not_taken_for_lost_auth() {
    let server = MockServer::start().await;
    let grant = |token: &str, expires_in: f64| {
        ResponseTemplate::new(200).set_body_json(serde_json::json!({
            "access_token": token, "token_type": "bearer", "expires_in": expires_in,
            "scope": "user:write:admin",
        }))
    };
    // The first token is due for renewal at once (a 1 ms life: renewed with a quarter
    // of it left, long before the first row is sent); the renewal fails once with a
    // 503, then succeeds.
    Mock::given(method("POST"))
        .and(path("/oauth/token"))
        .respond_with(grant("first", 0.001))
        .up_to_n_times(1)
        .mount(&server)
        .await;
    Mock::given(method("POST"))
        .and(path("/oauth/token"))
        .respond_with(ResponseTemplate::new(503))
        .up_to_n_times(1)
        .mount(&server)
        .await;
    Mock::given(method("POST"))
        .and(path("/oauth/token"))
        .respond_with(grant("second", 3600.0))
        .mount(&server)
        .await;
    Mock::given(method("PUT"))
        .and(path(
            "/v2/users/user1@example.com/password".replace('@', "%40"),
        ))
        .respond_with(ResponseTemplate::new(204))
        .expect(1)
        .mount(&server)
        .await;
    let dir = util::tmp();
    let report = dir.path().join("r.csv");
    let r = fast_run(
        dir.path(),
        1,
        &[
            "--base-url",
            &util::v2(&server),
            "--token-url",
            &format!("{}/oauth/token", server.uri()),
            "--no-fetch-policy",
        ],
        s2s(),
    )
    .await
    .unwrap();
    assert_eq!((r.exit_code.code(), &r.stop), (0, &None));
    assert_eq!(
        util::summary(&report),
        vec![(2, email(1), "changed".into(), Some(204), None, 1)]
    );
    let puts: Vec<_> = server
        .received_requests()
        .await
        .unwrap()
        .into_iter()
        .filter(|r| r.method.as_str() == "PUT")
        .collect();
    assert_eq!(puts.len(), 1);
    assert_eq!(puts[0].headers["authorization"], "Bearer second");
}
