//! Issue 10, auth: token lifetimes a server states (short, absurd, zero, absent) never
//! panic and never cost a token request per row (defect 2); a fixed token or a fresh
//! S2S token refused by the startup settings read stops the run before any PUT (defect
//! 12); the token endpoint's answer is read to a bound, its blips are retried at startup
//! and its `api_url` is followed only to Zoom's own hosts (defect 17, in `endpoint`).

use crate::util::{self, ok_server};
use std::path::{Path, PathBuf};
use std::time::Duration;
use wiremock::matchers::{method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};
use zoom_rotate::zoom::auth::Credentials;

mod endpoint;

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

/// Users 1..=n in-process against `server`, with [`FAST`], plus `extra` words.
async fn run(
    dir: &Path,
    server: &MockServer,
    n: usize,
    extra: &[&str],
    creds: Credentials,
) -> (
    anyhow::Result<zoom_rotate::commands::run::RunResult>,
    PathBuf,
) {
    let input = util::write(dir, "in.csv", input_csv(n));
    let config = util::write(dir, "c.toml", FAST);
    let report = dir.join("r.csv");
    let base = util::v2(server);
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
        let server = ok_server().await;
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
            (r.exit_code.code(), &r.stop),
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
    let server = ok_server().await;
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
        .args(["--base-url", &util::v2(&server)]);
    let out = util::bin_output(cmd).await;
    let (stdout, stderr) = util::text(&out);
    assert_eq!(out.status.code(), Some(2), "{stdout}{stderr}");
    assert!(stderr.contains("the access token was refused"), "{stderr}");
    assert!(!format!("{stdout}{stderr}").contains("bad-token-1234"));
    assert!(requests(&server).await.iter().all(|(m, _, _)| m == "GET"));
}

#[tokio::test]
async fn a_fresh_s2s_token_refused_by_the_settings_read_is_renewed_once_then_refused() {
    let server = ok_server().await;
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
    let server = ok_server().await;
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
