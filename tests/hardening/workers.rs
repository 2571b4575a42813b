//! Issue 10, workers: see `hardening.rs`. One test per defect of the workers, the
//! limiter, the outcome reading and the circuit breaker (1, 4, 5, 6, 20), each against a
//! loopback stub, in-process; the property test that drives the real workers with
//! arbitrary answers is in `fuzz`.

use crate::util;
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};
use wiremock::matchers::{header, method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};
use zoom_rotate::commands::run::RunResult;
use zoom_rotate::pipeline::limiter::Limiter;
use zoom_rotate::vocab::stop::{next_utc_midnight, StopReason};
use zoom_rotate::zoom::auth::Credentials;

mod fuzz;

/// The bearer token of wiremock runs.
const TOKEN: &str = "tok-workers-7Hq";
/// Two tries per row, 1–2 ms apart.
const FAST: &str = "[retry]\nattempts = 2\nbase_delay_ms = 1\nmax_delay_ms = 2\n";

/// One report row as the assertions compare it:
/// line, user_id, outcome, http_status, attempts, message, may_have_applied.
type Exact = (u64, String, String, Option<u16>, u32, String, bool);

fn exact(report: &Path) -> Vec<Exact> {
    util::rows_by_line(report)
        .into_iter()
        .map(|r| {
            (
                r.line,
                r.user_id,
                r.outcome.as_str().to_string(),
                r.http_status,
                r.attempts,
                r.message,
                r.may_have_applied,
            )
        })
        .collect()
}

fn row(
    line: u64,
    user: &str,
    outcome: &str,
    status: Option<u16>,
    attempts: u32,
    message: &str,
) -> Exact {
    (
        line,
        user.into(),
        outcome.into(),
        status,
        attempts,
        message.into(),
        false,
    )
}

/// [`util::rotate`] with the report at `dir/report.csv`. A run that does not end in 20 s is
/// a hang.
async fn rotate(
    dir: &Path,
    base: &str,
    csv: &str,
    config: &str,
    extra: &[&str],
    creds: Credentials,
) -> (RunResult, PathBuf) {
    let run = util::rotate(dir, base, creds, csv, config, "report.csv", extra);
    let (result, report) = tokio::time::timeout(Duration::from_secs(20), run)
        .await
        .expect("the run ends (no hang)");
    (result.expect("the run starts"), report)
}

async fn puts(server: &MockServer) -> Vec<String> {
    server
        .received_requests()
        .await
        .unwrap()
        .iter()
        .filter(|r| r.method.as_str() == "PUT")
        .map(|r| r.url.path().to_string())
        .collect()
}

/// Defect 1: a 429 whose `Retry-After` is `u64::MAX` seconds panicked the worker
/// (`SystemTime::now() + d`), lost the row and let the run exit 0. It is a daily limit
/// in all but name: the run stops (exit 3) with a reset it can print (the next UTC
/// midnight here), and every row is reported.
#[tokio::test]
async fn a_retry_after_of_u64_max_stops_for_the_day_and_loses_no_row() {
    let dir = util::tmp();
    let server = MockServer::start().await;
    Mock::given(method("PUT"))
        .and(path("/v2/users/bob%40example.com/password"))
        .respond_with(
            ResponseTemplate::new(429).insert_header("Retry-After", "18446744073709551615"),
        )
        .mount(&server)
        .await;
    Mock::given(method("PUT"))
        .respond_with(ResponseTemplate::new(204))
        .mount(&server)
        .await;
    let csv = "email,password\nann@example.com,Rotated-1-Kqx\nbob@example.com,Rotated-2-Kqx\ncat@example.com,Rotated-3-Kqx\n";
    let before = SystemTime::now();
    let (result, report) = rotate(
        dir.path(),
        &util::v2(&server),
        csv,
        FAST,
        &["--concurrency", "1"],
        util::token(TOKEN),
    )
    .await;
    let after = SystemTime::now();
    assert_eq!(result.exit_code, 3);
    // Not believed (the client may also clamp it when parsing): the reset is Zoom's next
    // UTC midnight, or at most a month ahead; what matters is that it is a date.
    let resets_at = match result.stop {
        Some(StopReason::DailyLimit { resets_at }) => resets_at,
        other => panic!("stopped for the day, not {other:?}"),
    };
    let month = Duration::from_secs(31 * 86_400);
    assert!(
        resets_at == next_utc_midnight(before)
            || resets_at == next_utc_midnight(after)
            || (resets_at >= before && resets_at <= after + month),
        "{resets_at:?}"
    );
    let resets = humantime::format_rfc3339_seconds(resets_at).to_string();
    assert_eq!(
        exact(&report),
        vec![
            row(
                2,
                "ann@example.com",
                "changed",
                Some(204),
                1,
                "password changed"
            ),
            row(
                3,
                "bob@example.com",
                "rate_limited",
                Some(429),
                1,
                "HTTP 429 with an empty body"
            ),
            row(
                4,
                "cat@example.com",
                "not_attempted",
                None,
                0,
                &format!("not sent: Zoom's daily rate limit was reached; it resets at {resets}")
            ),
        ]
    );
    assert_eq!(
        puts(&server).await,
        vec![
            "/v2/users/ann%40example.com/password",
            "/v2/users/bob%40example.com/password"
        ]
    );
}

/// Defect 4: rows that were never sent (a closed port) did not count for the circuit
/// breaker: all 30 were retried and the run exited 1. Five in a row now stop it, with
/// exit 3 and the breaker's hint about `--base-url`.
#[tokio::test]
async fn a_closed_port_trips_the_circuit_breaker() {
    let dir = util::tmp();
    let port = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    }; // dropped: nothing listens there now
    let mut csv = String::from("email,password\n");
    for i in 1..=30 {
        csv.push_str(&format!("user{i}@example.com,Rotated-{i}-Kqx\n"));
    }
    // Backoffs of 20–40 ms: rows take long enough that the breaker, which trips in the
    // report's task, stops the run well before the 30th.
    let config = "[retry]\nattempts = 2\nbase_delay_ms = 20\nmax_delay_ms = 40\n";
    let (result, report) = rotate(
        dir.path(),
        &format!("http://127.0.0.1:{port}/v2"),
        &csv,
        config,
        &["--max-failures", "5", "--concurrency", "1"],
        util::token(TOKEN),
    )
    .await;
    assert_eq!(result.exit_code, 3);
    let Some(StopReason::CircuitBreaker(why)) = &result.stop else {
        panic!("the circuit breaker stops the run, not {:?}", result.stop);
    };
    assert!(
        why.starts_with("5 rows in a row ended failed (no answer): \"not sent: "),
        "{why}"
    );
    assert!(
        why.ends_with("; check the network path to the API and --base-url"),
        "{why}"
    );
    let rows = util::rows_by_line(&report);
    assert_eq!(
        rows.iter().map(|r| r.line).collect::<Vec<_>>(),
        (2..=31).collect::<Vec<u64>>()
    );
    for r in &rows[..5] {
        assert_eq!(
            (r.outcome.as_str(), r.attempts, r.http_status),
            ("failed", 0, None)
        );
        assert!(r.message.starts_with("not sent: "), "{}", r.message);
        assert!(
            r.message
                .ends_with("; gave up after 2 tries; the change was not applied"),
            "{}",
            r.message
        );
    }
    let not_attempted = rows
        .iter()
        .filter(|r| r.outcome.as_str() == "not_attempted");
    assert!(not_attempted.count() >= 20, "the run stopped early");
    assert!(rows
        .iter()
        .all(|r| matches!(r.outcome.as_str(), "failed" | "not_attempted")));
}

/// Defect 5: a 401 (the token expired at Zoom) while the token endpoint had a blip (503)
/// ended the run as "authentication lost". The renewal is asked again after a backoff,
/// within the row's tries, and the row is changed.
#[tokio::test]
async fn a_401_during_a_token_endpoint_blip_renews_after_a_backoff() {
    let dir = util::tmp();
    let server = MockServer::start().await;
    let token = |t: &str| {
        ResponseTemplate::new(200).set_body_json(serde_json::json!({
            "access_token": t, "token_type": "bearer", "expires_in": 3600
        }))
    };
    Mock::given(method("POST"))
        .and(path("/oauth/token"))
        .respond_with(token("tok-first-1aB"))
        .up_to_n_times(1)
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(method("POST"))
        .and(path("/oauth/token"))
        .respond_with(ResponseTemplate::new(503))
        .up_to_n_times(1)
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(method("POST"))
        .and(path("/oauth/token"))
        .respond_with(token("tok-second-2cD"))
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(method("PUT"))
        .and(header("authorization", "Bearer tok-first-1aB"))
        .respond_with(
            ResponseTemplate::new(401).set_body_json(
                serde_json::json!({"code": 124, "message": "Access token is expired."}),
            ),
        )
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(method("PUT"))
        .and(header("authorization", "Bearer tok-second-2cD"))
        .respond_with(ResponseTemplate::new(204))
        .expect(1)
        .mount(&server)
        .await;
    let token_url = format!("{}/oauth/token", server.uri());
    let (result, report) = rotate(
        dir.path(),
        &util::v2(&server),
        "email,password\nann@example.com,Rotated-1-Kqx\n",
        "[retry]\nattempts = 3\nbase_delay_ms = 1\nmax_delay_ms = 2\n",
        &["--token-url", &token_url],
        Credentials::simulator("acct-1", "client-1", "secret-1-XyZ"),
    )
    .await;
    assert_eq!((result.exit_code.code(), result.stop), (0, None));
    assert_eq!(
        exact(&report),
        vec![row(
            2,
            "ann@example.com",
            "changed",
            Some(204),
            2,
            "password changed"
        )]
    );
    server.verify().await;
}

/// Defect 6: the shared pause was checked before the FIFO gate, so workers already queued
/// at the gate when a pause began were released into it. Four are queued behind a slow
/// pace when the pause begins; none is released before it ends.
#[tokio::test]
async fn workers_queued_when_a_pause_begins_wait_it_out() {
    use tokio::time::Instant;
    let limiter = std::sync::Arc::new(Limiter::new(20.0)); // one release every 50.5 ms
    let stop = tokio_util::sync::CancellationToken::new();
    assert!(limiter.acquire(&stop).await); // spends the burst: the next waits a period
    let mut queued = Vec::new();
    for _ in 0..4 {
        let (limiter, stop) = (limiter.clone(), stop.clone());
        queued.push(tokio::spawn(async move {
            assert!(limiter.acquire(&stop).await);
            Instant::now()
        }));
    }
    // Let all four reach the gate (they find no pause there) before the 429 arrives.
    tokio::time::sleep(Duration::from_millis(10)).await;
    let pause = Duration::from_millis(300);
    let paused_at = Instant::now();
    limiter.pause_for(pause);
    let mut released = Vec::new();
    for q in queued {
        released.push(q.await.unwrap());
    }
    // Only "no earlier than" is asserted: a loaded machine can only make it later.
    for t in &released {
        assert!(
            *t >= paused_at + pause,
            "released {:?} into a {pause:?} pause",
            t.duration_since(paused_at)
        );
    }
}

/// Defect 20: a 3xx answer was `rejected`, which is final, so `--resume` never tried the
/// user again. It is `failed` (not final), says where it was redirected, is not followed,
/// and a resume sends the password again.
#[tokio::test]
async fn a_redirect_is_failed_not_followed_and_resume_tries_again() {
    let dir = util::tmp();
    let server = MockServer::start().await;
    let elsewhere = format!(
        "{}/elsewhere/v2/users/ann%40example.com/password",
        server.uri()
    );
    Mock::given(method("PUT"))
        .and(path("/v2/users/ann%40example.com/password"))
        .respond_with(ResponseTemplate::new(307).insert_header("Location", elsewhere.as_str()))
        .up_to_n_times(1)
        .mount(&server)
        .await;
    Mock::given(method("PUT"))
        .and(path("/v2/users/ann%40example.com/password"))
        .respond_with(ResponseTemplate::new(204))
        .mount(&server)
        .await;
    let base = util::v2(&server);
    let csv = "email,password\nann@example.com,Rotated-1-Kqx\n";
    let (first, report) = rotate(dir.path(), &base, csv, FAST, &[], util::token(TOKEN)).await;
    assert_eq!((first.exit_code.code(), first.stop), (1, None));
    let message = format!("redirected to {elsewhere}, not followed; the change was not applied");
    assert_eq!(
        exact(&report),
        vec![row(2, "ann@example.com", "failed", Some(307), 1, &message)]
    );
    let (second, _) = rotate(
        dir.path(),
        &base,
        csv,
        FAST,
        &["--resume"],
        util::token(TOKEN),
    )
    .await;
    assert_eq!(second.exit_code, 0);
    let rows = exact(&report);
    assert_eq!(
        rows.last(),
        Some(&row(
            2,
            "ann@example.com",
            "changed",
            Some(204),
            1,
            "password changed"
        ))
    );
    // Two requests, both to the user's own path: the redirect was never followed.
    assert_eq!(
        puts(&server).await,
        vec!["/v2/users/ann%40example.com/password"; 2]
    );
}
