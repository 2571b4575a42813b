//! Issue 10, auth: token lifetimes a server states (short, absurd, zero, absent) never
//! panic and never cost a token request per row (defect 2); a fixed token or a fresh
//! S2S token refused by the startup settings read stops the run before any PUT (defect
//! 12); the token endpoint's answer is read to a bound, its blips are retried at startup
//! and its `api_url` is followed only to Zoom's own hosts (defect 17).

use crate::util;
use std::path::{Path, PathBuf};
use std::time::Duration;
use wiremock::matchers::{method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};
use zoom_rotate::auth::Credentials;

/// Fast retries, and a short timeout so a hung token endpoint costs half a second a try.
const FAST: &str =
    "[retry]\nattempts = 3\nbase_delay_ms = 20\nmax_delay_ms = 100\n[api]\ntimeout_secs = 0.5\n";
const SECRET: &str = "client-secret-CANARY-77";

fn s2s() -> Credentials {
    Credentials::simulator("acct-1", "client-1", SECRET)
}

fn email(n: usize) -> String {
    format!("user{n}@example.com")
}

fn input_csv(n: usize) -> String {
    let mut s = String::from("email,password\n");
    for i in 1..=n {
        s.push_str(&format!("{},Rotated-{i}-Kqx\n", email(i)));
    }
    s
}

fn grant(token: &str, expires_in: serde_json::Value) -> ResponseTemplate {
    ResponseTemplate::new(200).set_body_json(serde_json::json!({
        "access_token": token, "token_type": "bearer", "expires_in": expires_in,
        "scope": "user:write:admin account:read:admin",
    }))
}

/// A wiremock Zoom: every PUT answers 204; the token endpoint and settings are the test's.
async fn zoom() -> MockServer {
    let server = MockServer::start().await;
    Mock::given(method("PUT"))
        .respond_with(ResponseTemplate::new(204))
        .mount(&server)
        .await;
    server
}

/// Users 1..=n in-process against `server`, with [`FAST`], plus `extra` words.
async fn run(
    dir: &Path,
    server: &MockServer,
    n: usize,
    extra: &[&str],
    creds: Credentials,
) -> (anyhow::Result<zoom_rotate::RunResult>, PathBuf) {
    let input = util::write(dir, "in.csv", input_csv(n));
    let config = util::write(dir, "c.toml", FAST);
    let report = dir.join("r.csv");
    let base = format!("{}/v2", server.uri());
    let token = format!("{}/oauth/token", server.uri());
    let (input, config, report_s) = (
        input.display().to_string(),
        config.display().to_string(),
        report.display().to_string(),
    );
    let mut words = vec![
        input.as_str(),
        "--report",
        &report_s,
        "--config",
        &config,
        "--base-url",
        &base,
    ];
    if !extra.contains(&"--token-url") {
        words.extend(["--token-url", &token]);
    }
    words.extend(extra);
    (util::run(dir, &words, creds).await, report)
}

/// `(method, path, authorization)` of each request the server received, in order.
async fn requests(server: &MockServer) -> Vec<(String, String, String)> {
    let mut all: Vec<(String, String, String)> = server
        .received_requests()
        .await
        .unwrap()
        .into_iter()
        .map(|r| {
            let auth = r
                .headers
                .get("authorization")
                .map(|v| v.to_str().unwrap().to_string())
                .unwrap_or_default();
            (r.method.to_string(), r.url.path().to_string(), auth)
        })
        .collect();
    // PUTs from several workers arrive in any order; token requests are compared as is.
    all.sort_by_key(|(m, _, _)| m == "PUT");
    all
}

fn count(reqs: &[(String, String, String)], m: &str, p: &str) -> usize {
    reqs.iter().filter(|(rm, rp, _)| rm == m && rp == p).count()
}

fn all_changed(n: usize) -> Vec<util::Brief> {
    (1..=n)
        .map(|i| (i as u64 + 1, email(i), "changed".into(), Some(204), None, 1))
        .collect()
}

// ---------------------------------------------------------------- defect 2

#[tokio::test]
async fn short_absurd_zero_and_absent_token_lifetimes_cost_one_token_request() {
    const N: usize = 6;
    let cases = [
        serde_json::json!(30),
        serde_json::json!(u64::MAX),
        serde_json::json!(0),
        serde_json::json!(-5),
        serde_json::json!(1e300),
        serde_json::Value::Null,
    ];
    for expires_in in cases {
        let server = zoom().await;
        Mock::given(method("POST"))
            .and(path("/oauth/token"))
            .respond_with(grant("tok-1", expires_in.clone()))
            .mount(&server)
            .await;
        let dir = util::tmp();
        let (r, report) = run(
            dir.path(),
            &server,
            N,
            &["--no-fetch-policy", "--concurrency", "2"],
            s2s(),
        )
        .await;
        let r = r.unwrap_or_else(|e| panic!("expires_in {expires_in}: {e:#}"));
        assert_eq!(
            (r.exit_code, &r.stop),
            (0, &None),
            "expires_in {expires_in}"
        );
        assert_eq!(util::summary(&report), all_changed(N), "{expires_in}");
        let reqs = requests(&server).await;
        assert_eq!(count(&reqs, "POST", "/oauth/token"), 1, "{expires_in}");
        assert_eq!(reqs.len(), N + 1, "{expires_in}: {reqs:?}");
        assert!(
            reqs.iter()
                .filter(|(m, _, _)| m == "PUT")
                .all(|(_, _, a)| a == "Bearer tok-1"),
            "{reqs:?}"
        );
    }
}

// ---------------------------------------------------------------- defect 12

const INVALID_TOKEN: &str = r#"{"code":124,"message":"Invalid access token."}"#;

async fn settings_answer(server: &MockServer, status: u16, body: &str) {
    Mock::given(method("GET"))
        .and(path("/v2/accounts/me/settings"))
        .respond_with(ResponseTemplate::new(status).set_body_raw(body, "application/json"))
        .mount(server)
        .await;
}

#[tokio::test]
async fn a_refused_fixed_token_stops_before_any_put_with_exit_2() {
    let server = zoom().await;
    settings_answer(&server, 401, INVALID_TOKEN).await;
    let dir = util::tmp();
    let (r, report) = run(dir.path(), &server, 3, &[], util::token("bad-token-1234")).await;
    let text = format!("{:#}", r.unwrap_err());
    assert_eq!(
        text,
        "the access token was refused (HTTP 401: Invalid access token.) when reading the \
         account's settings, before any password was sent: check ZOOM_ACCESS_TOKEN"
    );
    let reqs = requests(&server).await;
    let get = (
        "GET".to_string(),
        "/v2/accounts/me/settings".to_string(),
        "Bearer bad-token-1234".to_string(),
    );
    assert_eq!(reqs, vec![get]);
    assert!(!report.exists(), "no report for a run that never started");

    // Through the binary: exit 2, and the token is nowhere in what it prints.
    let dir = util::tmp();
    let input = util::write(dir.path(), "in.csv", input_csv(2));
    let mut cmd = util::bin();
    cmd.env("ZOOM_ACCESS_TOKEN", "bad-token-1234")
        .arg("run")
        .arg(&input)
        .args(["--report", &dir.path().join("r.csv").display().to_string()])
        .args([
            "--config",
            &util::empty_config(dir.path()).display().to_string(),
        ])
        .args(["--base-url", &format!("{}/v2", server.uri())]);
    let out = util::bin_output(cmd).await;
    let (stdout, stderr) = util::text(&out);
    assert_eq!(out.status.code(), Some(2), "{stdout}{stderr}");
    assert!(stderr.contains("the access token was refused"), "{stderr}");
    assert!(!format!("{stdout}{stderr}").contains("bad-token-1234"));
    assert!(requests(&server).await.iter().all(|(m, _, _)| m == "GET"));
}

#[tokio::test]
async fn a_fresh_s2s_token_refused_by_the_settings_read_is_renewed_once_then_refused() {
    let server = zoom().await;
    settings_answer(&server, 401, INVALID_TOKEN).await;
    for token in ["tok-1", "tok-2"] {
        Mock::given(method("POST"))
            .and(path("/oauth/token"))
            .respond_with(grant(token, serde_json::json!(3600)))
            .up_to_n_times(1)
            .mount(&server)
            .await;
    }
    let dir = util::tmp();
    let (r, _) = run(dir.path(), &server, 3, &[], s2s()).await;
    let text = format!("{:#}", r.unwrap_err());
    assert_eq!(
        text,
        "the access token was refused (HTTP 401: Invalid access token.) when reading the \
         account's settings, even just after it was fetched, before any password was sent: \
         check the Server-to-Server app's scopes and that it is activated"
    );
    let s = |m: &str, p: &str, a: &str| (m.to_string(), p.to_string(), a.to_string());
    let settings = "/v2/accounts/me/settings";
    let basic = reqwest_basic("client-1", SECRET);
    assert_eq!(
        requests(&server).await,
        vec![
            s("POST", "/oauth/token", &basic),
            s("GET", settings, "Bearer tok-1"),
            s("POST", "/oauth/token", &basic),
            s("GET", settings, "Bearer tok-2"),
        ]
    );
    assert!(!text.contains(SECRET));
}

#[tokio::test]
async fn a_settings_read_without_the_scope_still_falls_back_to_the_basic_rules() {
    let server = zoom().await;
    settings_answer(
        &server,
        403,
        r#"{"code":4700,"message":"Invalid access token, does not contain scopes:[account:read:admin]."}"#,
    )
    .await;
    let dir = util::tmp();
    let (r, report) = run(dir.path(), &server, 2, &[], util::token("good-token-1234")).await;
    assert_eq!(r.unwrap().exit_code, 0);
    assert_eq!(util::summary(&report), all_changed(2));
    let reqs = requests(&server).await;
    assert_eq!(count(&reqs, "GET", "/v2/accounts/me/settings"), 1);
    assert_eq!(reqs.len(), 3);
}

fn reqwest_basic(id: &str, secret: &str) -> String {
    use base64::Engine as _;
    let b = base64::engine::general_purpose::STANDARD.encode(format!("{id}:{secret}"));
    format!("Basic {b}")
}

// ---------------------------------------------------------------- defect 17

/// A token endpoint that answers `first` `times` times, then whatever `then` is.
async fn token_endpoint(server: &MockServer, first: ResponseTemplate, times: u64) {
    Mock::given(method("POST"))
        .and(path("/oauth/token"))
        .respond_with(first)
        .up_to_n_times(times)
        .mount(server)
        .await;
}

#[tokio::test]
async fn an_oversized_token_answer_is_refused_without_reading_it_all() {
    let server = zoom().await;
    // 8 MiB, sent as one declared length and as a stream of chunks.
    let huge = format!("{{\"access_token\":\"{}\"}}", "a".repeat(8 << 20));
    token_endpoint(&server, ResponseTemplate::new(200).set_body_string(huge), 1).await;
    let dir = util::tmp();
    let (r, _) = run(dir.path(), &server, 2, &["--no-fetch-policy"], s2s()).await;
    assert_eq!(
        format!("{:#}", r.unwrap_err()),
        "the token endpoint refused the credentials (HTTP 200): its answer is larger than \
         64 KiB, so it was not read"
    );
    assert_eq!(requests(&server).await.len(), 1, "a refusal is not retried");

    // A body without a length that never ends: read to the bound and refused, not read
    // until the timeout (which would say "could not be reached").
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let token_url = format!("http://{}/oauth/token", listener.local_addr().unwrap());
    let endless = tokio::spawn(async move {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        let (mut conn, _) = listener.accept().await.unwrap();
        let mut buf = [0u8; 4096];
        let _ = conn.read(&mut buf).await;
        let head = "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ntransfer-encoding: chunked\r\n\r\n";
        conn.write_all(head.as_bytes()).await.unwrap();
        let chunk = format!("{:x}\r\n{}\r\n", 8192, "a".repeat(8192));
        let mut sent = 0usize;
        while conn.write_all(chunk.as_bytes()).await.is_ok() {
            sent += 8192;
        }
        sent
    });
    let dir = util::tmp();
    let (r, _) = run(
        dir.path(),
        &server,
        2,
        &["--no-fetch-policy", "--token-url", &token_url],
        s2s(),
    )
    .await;
    assert_eq!(
        format!("{:#}", r.unwrap_err()),
        "the token endpoint refused the credentials (HTTP 200): its answer is larger than \
         64 KiB, so it was not read"
    );
    let sent = endless.await.unwrap();
    assert!(
        sent < 16 << 20,
        "the client stopped reading: {sent} bytes sent"
    );
}

#[tokio::test]
async fn a_failing_token_endpoint_at_startup_is_retried_then_given_up_on() {
    // Always 500: four tries, then exit 2 saying it failed (not that it refused).
    let server = zoom().await;
    token_endpoint(
        &server,
        ResponseTemplate::new(500).set_body_string("oops"),
        99,
    )
    .await;
    let dir = util::tmp();
    let (r, _) = run(dir.path(), &server, 2, &["--no-fetch-policy"], s2s()).await;
    assert_eq!(
        format!("{:#}", r.unwrap_err()),
        "the token endpoint failed (HTTP 500): oops; gave up after 4 tries at startup, \
         nothing was sent"
    );
    assert_eq!(count(&requests(&server).await, "POST", "/oauth/token"), 4);

    // Two 500s, then a token: the run goes on.
    let server = zoom().await;
    token_endpoint(&server, ResponseTemplate::new(500), 2).await;
    token_endpoint(&server, grant("tok-1", serde_json::json!(3600)), 9).await;
    let dir = util::tmp();
    let (r, report) = run(dir.path(), &server, 2, &["--no-fetch-policy"], s2s()).await;
    assert_eq!(r.unwrap().exit_code, 0);
    assert_eq!(util::summary(&report), all_changed(2));
    assert_eq!(count(&requests(&server).await, "POST", "/oauth/token"), 3);

    // A hang: each try times out on its own; four tries, then exit 2.
    let server = zoom().await;
    let slow = grant("tok-1", serde_json::json!(3600)).set_delay(Duration::from_secs(30));
    token_endpoint(&server, slow, 99).await;
    let dir = util::tmp();
    let (r, _) = run(dir.path(), &server, 2, &["--no-fetch-policy"], s2s()).await;
    let text = format!("{:#}", r.unwrap_err());
    assert!(
        text.starts_with("the token endpoint could not be reached: no answer within 0.5 s")
            && text.ends_with("; gave up after 4 tries at startup, nothing was sent"),
        "{text}"
    );
    assert_eq!(count(&requests(&server).await, "POST", "/oauth/token"), 4);

    // A 4xx is a refusal: one try, exit 2 at once.
    let server = zoom().await;
    let refused = ResponseTemplate::new(401).set_body_string(
        r#"{"reason":"Invalid client_id or client_secret","error":"invalid_client"}"#,
    );
    token_endpoint(&server, refused, 99).await;
    let dir = util::tmp();
    let (r, _) = run(dir.path(), &server, 2, &["--no-fetch-policy"], s2s()).await;
    let text = format!("{:#}", r.unwrap_err());
    assert!(
        text.starts_with("the token endpoint refused the credentials (HTTP 401)"),
        "{text}"
    );
    assert_eq!(requests(&server).await.len(), 1);
}

/// A binary run whose rows are all refused locally (nothing is sent), against a token
/// endpoint that answers with `api_url`; returns stderr.
async fn api_url_run(api_url: &str) -> String {
    let server = MockServer::start().await;
    let answer = ResponseTemplate::new(200).set_body_json(serde_json::json!({
        "access_token": "tok-1", "expires_in": 3600, "api_url": api_url,
    }));
    token_endpoint(&server, answer, 9).await;
    let dir = util::tmp();
    let input = util::write(
        dir.path(),
        "in.csv",
        "email,password\nuser1@example.com,x\n",
    );
    let mut cmd = util::bin();
    cmd.env("ZOOM_ACCOUNT_ID", "acct-1")
        .env("ZOOM_CLIENT_ID", "client-1")
        .env("ZOOM_CLIENT_SECRET", SECRET)
        .arg("run")
        .arg(&input)
        .args(["--report", &dir.path().join("r.csv").display().to_string()])
        .args([
            "--config",
            &util::empty_config(dir.path()).display().to_string(),
        ])
        .args(["--token-url", &format!("{}/oauth/token", server.uri())])
        .arg("--no-fetch-policy");
    let out = util::bin_output(cmd).await;
    let (_, stderr) = util::text(&out);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert_eq!(requests(&server).await.len(), 1, "only the token request");
    stderr
}

#[tokio::test]
async fn an_api_url_off_zoom_is_not_followed() {
    for (evil, why, shown) in [
        (
            "https://evil.example.com",
            "is not one of Zoom's API hosts",
            "https://evil.example.com",
        ),
        (
            "https://api.zoom.us.evil.example.com",
            "is not one of Zoom's API hosts",
            "https://api.zoom.us.evil.example.com",
        ),
        (
            "https://evilzoom.us",
            "is not one of Zoom's API hosts",
            "https://evilzoom.us",
        ),
        ("http://api.zoom.us", "not https", "http://api.zoom.us"),
        (
            "https://user:pw@api.zoom.us",
            "carries credentials",
            "https://api.zoom.us/",
        ),
        ("not a url", "not a URL", "not a url"),
    ] {
        let stderr = api_url_run(evil).await;
        let warning = format!(
            "the token's api_url {shown:?} {why}: not followed, keeping https://api.zoom.us/v2"
        );
        assert!(stderr.contains(&warning), "{evil}: {stderr}");
        assert!(!stderr.contains("user:pw"), "{stderr}");
    }
    for (zoom, base) in [
        ("https://api-eu.zoom.us", "https://api-eu.zoom.us/v2"),
        ("https://api.zoomgov.com/", "https://api.zoomgov.com/v2"),
    ] {
        let stderr = api_url_run(zoom).await;
        assert!(
            stderr.contains(&format!("the account's API base: {base}")),
            "{zoom}: {stderr}"
        );
    }
}
