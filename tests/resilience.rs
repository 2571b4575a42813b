//! Issue 4, resilience: safe retries, Server-to-Server OAuth, crash-safe resume, clean
//! shutdown, one run per report. End to end, in-process through `run()` or through the
//! binary, against the simulator's faults (and wiremock where a sequence must be exact).

use crate::util;
use std::collections::{BTreeSet, HashMap};
use std::path::{Path, PathBuf};
use std::process::{Child, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};
use wiremock::matchers::{method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};
use zoom_rotate::auth::Credentials;
use zoom_rotate::journal;
use zoom_rotate::outcome::Outcome;
use zoom_rotate::report::{self, Row};
use zoom_rotate::shutdown::{Stop, StopReason};
use zoom_rotate::simulator::{RetryAfterFormat, SimConfig, SimHandle};
use zoom_rotate::workers::MAY_HAVE_APPLIED;

/// Fast retries: the default half-second base would make these tests slow.
const FAST_RETRY: &str = "[retry]\nattempts = 8\nbase_delay_ms = 20\nmax_delay_ms = 200\n";
const CONFIRMED: &str = "password changed: confirmed on retry (Zoom answers same-as-old, so an earlier unanswered attempt applied it)";
const AFTER_UNANSWERED: &str =
    "password changed (after an unanswered attempt with the same password)";
const SAME_AS_OLD_BODY: &str =
    r#"{"code":300,"message":"Your new password can not match the old password."}"#;
const DAILY_BODY: &str = r#"{"code":429,"message":"You have reached the maximum daily rate limit for this API. Refer to the response header for details on when you can make another request."}"#;

fn email(n: usize) -> String {
    format!("user{n}@example.com")
}

fn password(n: usize) -> String {
    format!("Rotated-{n}-Kqx")
}

/// The input for generated users 1..=n: `user{n}@example.com` and a distinct password.
fn input_csv(n: usize) -> String {
    let mut s = String::from("email,password\n");
    for i in 1..=n {
        s.push_str(&format!("{},{}\n", email(i), password(i)));
    }
    s
}

/// A simulator of `n` generated users (`user{n}@example.com`), configured by `f`.
async fn gen_sim(n: u32, f: impl FnOnce(&mut SimConfig)) -> SimHandle {
    let mut c = SimConfig {
        generate_users: Some(n),
        ..SimConfig::default()
    };
    f(&mut c);
    util::sim(c).await
}

fn s2s() -> Credentials {
    Credentials::simulator("sim-account", "sim-client", "sim-secret")
}

fn p(path: &Path) -> String {
    path.display().to_string()
}

/// Each user's latest row (the state `--resume` reads), by user.
fn latest(report: &Path) -> HashMap<String, Row> {
    let mut m = HashMap::new();
    for r in util::rows(report) {
        m.insert(r.user_id.clone(), r);
    }
    m
}

/// Every user of 1..=n changed exactly once, to the input's password, and their latest
/// report row is `changed`.
fn assert_all_changed_once(sim: &SimHandle, report: &Path, n: usize) {
    let latest = latest(report);
    assert_eq!(latest.len(), n, "a row for every user");
    for i in 1..=n {
        let u = sim.user(&email(i)).unwrap();
        assert_eq!(
            (u.change_count, u.current_password.as_str()),
            (1, password(i).as_str()),
            "{}",
            email(i)
        );
        let row = &latest[&email(i)];
        assert_eq!(row.outcome, Outcome::Changed, "{row:?}");
        assert_eq!(row.line, i as u64 + 1);
    }
}

/// The sum of `attempts` over `rows`.
fn attempts(rows: &[Row]) -> u64 {
    rows.iter().map(|r| r.attempts as u64).sum()
}

fn count(rows: &[Row], o: Outcome) -> usize {
    rows.iter().filter(|r| r.outcome == o).count()
}

fn next_midnight(t: SystemTime) -> SystemTime {
    let secs = t.duration_since(UNIX_EPOCH).unwrap().as_secs();
    UNIX_EPOCH + Duration::from_secs((secs / 86_400 + 1) * 86_400)
}

/// Moves the simulator past the next 00:00 UTC.
fn past_midnight(sim: &SimHandle) {
    let now = sim.now();
    sim.advance_clock(next_midnight(now).duration_since(now).unwrap() + Duration::from_secs(5));
}

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
        // A budget below the job's rate (40 < 56): per-second 429s, AIMD, shared pauses.
        c.qps = Some(40);
        c.seed = 7;
    })
    .await;
    let input = util::write(dir.path(), "in.csv", input_csv(N));
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
            "--token-url",
            &sim.token_url(),
            "--rate",
            "56",
        ],
        s2s(),
    )
    .await
    .unwrap();
    let rows = util::rows(&report);
    let stats = sim.stats();
    assert_eq!(
        (r.exit_code, rows.len(), count(&rows, Outcome::Changed)),
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
    assert!(!journal::path_for(&report).exists(), "journal removed");
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
        vec![(2, email(1), "failed".into(), None, None, 3)]
    );
    let row = &util::rows(&report)[0];
    assert!(row.message.starts_with("not sent: "), "{row:?}");
    assert!(
        row.message
            .ends_with("; gave up after 3 attempts; the change was not applied"),
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
    let input = util::write(dir.path(), "in.csv", input_csv(N));
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
    assert!(!journal::path_for(&report).exists());
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
    let base = format!("{}/v2", server.uri());
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
        (r.exit_code, rows[1].outcome, rows[1].message.as_str()),
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

// ---------------------------------------------------------------- S2S OAuth and 401s

/// A run of users 1..=n against `sim` with S2S credentials, no `--base-url` unless given.
async fn s2s_run(
    dir: &Path,
    sim: &SimHandle,
    n: usize,
    extra: &[&str],
    creds: Credentials,
) -> anyhow::Result<zoom_rotate::RunResult> {
    let input = util::write(dir, "in.csv", input_csv(n));
    let config = util::write(dir, "c.toml", FAST_RETRY);
    let report = dir.join("r.csv");
    let mut words = vec![
        p(&input),
        "--report".into(),
        p(&report),
        "--config".into(),
        p(&config),
        "--token-url".into(),
        sim.token_url(),
        "--no-fetch-policy".into(),
    ];
    words.extend(extra.iter().map(|s| s.to_string()));
    let words: Vec<&str> = words.iter().map(String::as_str).collect();
    util::run(dir, &words, creds).await
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
        &["--concurrency", "4", "--rate", "40"],
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
        (r.exit_code, &r.stop),
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
async fn a_token_is_renewed_for_everybody_when_60s_or_less_remain() {
    let dir = util::tmp();
    // 120 s: never within 60 s of expiry during the run, so one token serves all.
    let sim = gen_sim(4, |c| c.token_lifetime_secs = 120).await;
    let r = s2s_run(dir.path(), &sim, 4, &[], s2s()).await.unwrap();
    assert_eq!((r.exit_code, sim.stats().token_grants), (0, 1));
    // 60 s: stale as soon as granted, so each request asks for a fresh one first.
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
        (5, 4, 0)
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
    let mut w = report::Writer::open(&report, false).unwrap();
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

// ---------------------------------------------------------------- stopping

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn after_a_stop_in_flight_requests_get_a_bounded_grace() {
    // Every change is applied but its answer is held back for a minute; the client would
    // wait up to its timeout (two minutes). After a stop, the grace bounds the wait.
    const N: usize = 4;
    let dir = util::tmp();
    let sim = gen_sim(N as u32, |c| {
        c.fault_slow = 1.0;
        c.slow_ms = 60_000;
    })
    .await;
    let input = util::write(dir.path(), "in.csv", input_csv(N));
    let config = util::write(dir.path(), "c.toml", "[api]\ntimeout_secs = 120\n");
    let report = dir.path().join("r.csv");
    let args = util::run_args(
        dir.path(),
        &[
            &p(&input),
            "--report",
            &p(&report),
            "--config",
            &p(&config),
            "--base-url",
            &sim.base_url(),
            "--concurrency",
            "2",
            "--no-fetch-policy",
        ],
    );
    let stop = Stop::new();
    let run = tokio::spawn({
        let stop = stop.clone();
        async move { zoom_rotate::run(&args, util::token("sim-token"), stop, &[]).await }
    });
    let started = Instant::now();
    while sim.stats().changes_applied < 2 {
        assert!(started.elapsed() < Duration::from_secs(10));
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let stopped = Instant::now();
    stop.stop(StopReason::Interrupted);
    let r = tokio::time::timeout(Duration::from_secs(30), run)
        .await
        .expect("the grace bounds the wait")
        .unwrap()
        .unwrap();
    assert!(stopped.elapsed() < Duration::from_secs(20));
    assert_eq!(r.exit_code, 3);
    let rows = util::rows_by_line(&report);
    assert_eq!(rows.len(), N);
    for r in &rows[..2] {
        assert_eq!((r.outcome, r.attempts), (Outcome::Failed, 1), "{r:?}");
        assert!(r.message.contains(MAY_HAVE_APPLIED), "{r:?}");
    }
    for r in &rows[2..] {
        assert_eq!(
            (r.outcome, r.attempts, r.message.as_str()),
            (
                Outcome::NotAttempted,
                0,
                "not sent: the run was interrupted"
            )
        );
    }
}

/// A binary run in the background; its stderr goes to a file (a pipe read only at the
/// end could fill up and stall it).
struct Bin {
    child: Child,
    stderr: PathBuf,
}

impl Bin {
    fn id(&self) -> u32 {
        self.child.id()
    }

    /// kill -9, and reap it.
    fn kill_9(&mut self) {
        self.child.kill().unwrap();
        self.child.wait().unwrap();
    }
}

fn bin_run(dir: &Path, sim: &SimHandle, input: &Path, report: &Path, extra: &[&str]) -> Bin {
    static RUNS: AtomicUsize = AtomicUsize::new(0);
    let stderr = dir.join(format!(
        "stderr-{}.log",
        RUNS.fetch_add(1, Ordering::Relaxed)
    ));
    let mut c = util::bin();
    c.current_dir(dir)
        .arg("run")
        .arg(input)
        .arg("--report")
        .arg(report)
        .arg("--config")
        .arg(util::empty_config(dir))
        .arg("--base-url")
        .arg(sim.base_url())
        .args(extra)
        .env("ZOOM_ACCESS_TOKEN", "sim-token")
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(&stderr).unwrap());
    Bin {
        child: c.spawn().expect("binary starts"),
        stderr,
    }
}

/// Waits for the run to exit (at most `limit`); its exit code and stderr.
async fn wait_exit(mut run: Bin, limit: Duration) -> (i32, String) {
    let started = Instant::now();
    loop {
        if let Some(status) = run.child.try_wait().unwrap() {
            let err = std::fs::read_to_string(&run.stderr).unwrap();
            return (status.code().unwrap_or(-1), err);
        }
        if started.elapsed() > limit {
            run.kill_9();
            panic!("the binary did not exit within {limit:?}");
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// Data rows in the report (0 while it does not exist).
fn report_rows(report: &Path) -> usize {
    report::read(report).map(|r| r.len()).unwrap_or(0)
}

async fn wait_for_rows(report: &Path, n: usize) {
    let started = Instant::now();
    while report_rows(report) < n {
        assert!(started.elapsed() < Duration::from_secs(20), "no progress");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

/// Lines the journal left by a killed run says were in flight.
fn in_flight(report: &Path) -> BTreeSet<u64> {
    let Some(prev) = journal::read(&journal::path_for(report)).unwrap() else {
        return BTreeSet::new();
    };
    let reported: BTreeSet<u64> = report::read_after(report, prev.epoch_offset)
        .unwrap()
        .iter()
        .map(|r| r.line)
        .collect();
    prev.sent
        .iter()
        .map(|r| r.line)
        .filter(|l| !reported.contains(l))
        .collect()
}

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
    // Kill the first run, then two resumes, each once the report has grown this far.
    for (i, at) in [6usize, 22, 38].into_iter().enumerate() {
        let extra: &[&str] = if i == 0 {
            &["--rate", "20"]
        } else {
            &["--rate", "20", "--resume"]
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
        &["--rate", "20", "--resume"],
    );
    let (code, err) = wait_exit(child, Duration::from_secs(30)).await;
    assert_eq!(code, 0, "{err}");
    assert_all_changed_once(&sim, &report, N);
    assert!(!journal::path_for(&report).exists());
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
async fn sigterm_stops_cleanly_and_resume_completes() {
    const N: usize = 30;
    let dir = util::tmp();
    let sim = gen_sim(N as u32, |c| c.latency_ms = 150).await;
    let input = util::write(dir.path(), "in.csv", input_csv(N));
    let report = dir.path().join("r.csv");
    let child = bin_run(dir.path(), &sim, &input, &report, &["--rate", "10"]);
    wait_for_rows(&report, 3).await;
    assert_eq!(unsafe { libc::kill(child.id() as i32, libc::SIGTERM) }, 0);
    let (code, err) = wait_exit(child, Duration::from_secs(8)).await;
    assert_eq!(code, 3, "{err}");
    let rows = util::rows_by_line(&report);
    assert_eq!(
        rows.iter().map(|r| r.line).collect::<Vec<_>>(),
        (2..=N as u64 + 1).collect::<Vec<_>>(),
        "every input row is in the report"
    );
    assert!(rows
        .iter()
        .any(|r| r.outcome == Outcome::NotAttempted
            && r.message == "not sent: the run was interrupted"));
    // Nothing was left unanswered: the in-flight requests were let finish.
    assert!(rows
        .iter()
        .all(|r| matches!(r.outcome, Outcome::Changed | Outcome::NotAttempted)));
    assert!(!journal::path_for(&report).exists());
    let child = bin_run(
        dir.path(),
        &sim,
        &input,
        &report,
        &["--rate", "20", "--resume"],
    );
    let (code, err) = wait_exit(child, Duration::from_secs(20)).await;
    assert_eq!(code, 0, "{err}");
    assert_all_changed_once(&sim, &report, N);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_second_signal_exits_at_once_and_the_journal_keeps_the_run_resumable() {
    const N: usize = 4;
    let dir = util::tmp();
    // Every change is applied, but answered only after 3 s: the first signal would let
    // the two in flight finish; the second must not wait for them.
    let sim = gen_sim(N as u32, |c| {
        c.fault_slow = 1.0;
        c.slow_ms = 3_000;
    })
    .await;
    let input = util::write(dir.path(), "in.csv", input_csv(N));
    let report = dir.path().join("r.csv");
    let child = bin_run(
        dir.path(),
        &sim,
        &input,
        &report,
        &["--concurrency", "2", "--no-fetch-policy"],
    );
    let started = Instant::now();
    while sim.stats().changes_applied < 2 {
        assert!(started.elapsed() < Duration::from_secs(10));
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let pid = child.id() as i32;
    assert_eq!(unsafe { libc::kill(pid, libc::SIGTERM) }, 0);
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(unsafe { libc::kill(pid, libc::SIGINT) }, 0);
    let (code, err) = wait_exit(child, Duration::from_secs(2)).await;
    assert_eq!(code, 3, "{err}");
    // Quit before the answers: no row for the two in flight, and the journal knows them.
    assert_eq!(in_flight(&report), BTreeSet::from([2, 3]));
    assert!(util::rows(&report).iter().all(|r| r.line > 3));

    // The resume confirms both by Zoom's same-as-old, and changes the other two.
    let child = bin_run(
        dir.path(),
        &sim,
        &input,
        &report,
        &["--resume", "--concurrency", "4", "--no-fetch-policy"],
    );
    let (code, err) = wait_exit(child, Duration::from_secs(20)).await;
    assert_eq!(code, 0, "{err}");
    assert_all_changed_once(&sim, &report, N);
    let latest = latest(&report);
    for i in 1..=2 {
        assert_eq!(latest[&email(i)].message, CONFIRMED);
    }
    for i in 3..=N {
        assert_eq!(latest[&email(i)].message, "password changed");
    }
    assert!(!journal::path_for(&report).exists());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_second_run_on_a_locked_report_is_refused_naming_the_first() {
    const N: usize = 3;
    let dir = util::tmp();
    let sim = gen_sim(N as u32, |c| c.latency_ms = 2_000).await;
    let input = util::write(dir.path(), "in.csv", input_csv(N));
    let report = dir.path().join("r.csv");
    let first = bin_run(
        dir.path(),
        &sim,
        &input,
        &report,
        &["--concurrency", "1", "--no-fetch-policy"],
    );
    let started = Instant::now();
    while sim.stats().password_puts == 0 {
        assert!(started.elapsed() < Duration::from_secs(10));
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let second = bin_run(dir.path(), &sim, &input, &report, &["--resume"]);
    let (code, err) = wait_exit(second, Duration::from_secs(10)).await;
    assert_eq!(code, 2, "{err}");
    assert!(
        err.contains(&format!(
            "another run holds {} (pid {})",
            report.display(),
            first.id()
        )),
        "{err}"
    );
    assert_eq!(sim.stats().password_puts, 1, "the second run sent nothing");
    assert_eq!(unsafe { libc::kill(first.id() as i32, libc::SIGTERM) }, 0);
    let (code, _) = wait_exit(first, Duration::from_secs(10)).await;
    assert_eq!(code, 3);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_user_in_flight_at_a_crash_is_known_even_if_the_input_was_edited() {
    // The operator removes or reorders rows before resuming: line numbers shift, but the
    // user whose request was on the wire must still be retried as unanswered.
    let dir = util::tmp();
    let sim = gen_sim(2, |c| c.latency_ms = 600).await;
    let input = util::write(dir.path(), "in.csv", input_csv(2));
    let report = dir.path().join("r.csv");
    let mut child = bin_run(
        dir.path(),
        &sim,
        &input,
        &report,
        &["--concurrency", "1", "--no-fetch-policy"],
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
        &["--resume", "--concurrency", "1", "--no-fetch-policy"],
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
