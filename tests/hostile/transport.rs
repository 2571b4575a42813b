//! Transport: plain http only to loopback, never credentials in a URL. Each refusal is
//! exit 2 before anything is sent, says why, and never repeats the credentials.
//!
//! The servers listen on 127.0.0.1, and the refused URLs reach them by another name
//! (`0.0.0.0` connects to the local host on Linux but is not loopback): were a refused
//! URL used, the server would see the request.

use super::*;
use wiremock::matchers::path;

/// A server that would answer the token endpoint and every password change.
async fn target() -> MockServer {
    let server = ok_server().await;
    Mock::given(method("POST"))
        .and(path("/oauth/token"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "access_token": "granted-token-1", "token_type": "bearer", "expires_in": 3600
        })))
        .mount(&server)
        .await;
    server
}

fn port(server: &MockServer) -> u16 {
    server.address().port()
}

async fn assert_refused(words: &[&str], creds: zoom_rotate::zoom::auth::Credentials, why: &str) {
    let dir = util::tmp();
    let input = util::write(
        dir.path(),
        "input.csv",
        "email,password\na@x.com,Zoom1357Ra\n",
    );
    let report = dir.path().join("report.csv");
    let mut all = vec![
        input.to_str().unwrap(),
        "--report",
        report.to_str().unwrap(),
        "--yes",
    ];
    all.extend_from_slice(words);
    let error = format!(
        "{:#}",
        util::run(dir.path(), &all, creds).await.unwrap_err()
    );
    assert!(error.contains(why), "{words:?}: {error}");
    assert!(!error.contains("hunter2"), "{error}");
    assert!(!report.exists());
}

fn s2s() -> zoom_rotate::zoom::auth::Credentials {
    zoom_rotate::zoom::auth::Credentials::simulator("acct", "client", "client-secret-1")
}

#[tokio::test]
async fn plain_http_is_refused_unless_the_host_is_loopback() {
    let server = target().await;
    let p = port(&server);
    let why =
        "an https:// URL (plain http is allowed only to loopback: 127.0.0.0/8, ::1, localhost)";
    for base in [
        format!("http://0.0.0.0:{p}/v2"),
        format!("http://[::ffff:127.0.0.1]:{p}/v2"),
        format!("http://localhost.localdomain:{p}/v2"),
    ] {
        assert_refused(&["--base-url", &base], util::token(TOKEN), why).await;
    }
    let token_url = format!("http://0.0.0.0:{p}/oauth/token");
    let base = v2(&server);
    assert_refused(
        &["--token-url", &token_url, "--base-url", &base],
        s2s(),
        why,
    )
    .await;
    assert_refused(
        &["--base-url", &format!("ftp://127.0.0.1:{p}/v2")],
        util::token(TOKEN),
        "expected an https:// URL",
    )
    .await;
    assert!(server.received_requests().await.unwrap().is_empty());
}

#[tokio::test]
async fn loopback_http_is_allowed_by_every_name() {
    let server = target().await;
    let p = port(&server);
    for (i, base) in [
        format!("http://127.0.0.1:{p}/v2"),
        format!("http://LocalHost:{p}/v2"),
    ]
    .iter()
    .enumerate()
    {
        let dir = util::tmp();
        let (result, _) = rotate(
            dir.path(),
            base,
            TOKEN,
            format!("email,password\nu{i}@x.com,Zoom1357Ra\n"),
            "",
            &[],
        )
        .await;
        assert_eq!(result.unwrap().exit_code, 0, "{base}");
    }
    assert_eq!(sent(&server).await.len(), 2);
}

#[tokio::test]
async fn urls_with_credentials_are_refused_without_repeating_them() {
    let server = target().await;
    let p = port(&server);
    let why = "a URL without user:password@ (credentials go in the environment)";
    for base in [
        format!("http://admin:hunter2@127.0.0.1:{p}/v2"),
        format!("http://admin@127.0.0.1:{p}/v2"),
        format!("http://:hunter2@127.0.0.1:{p}/v2"),
    ] {
        assert_refused(&["--base-url", &base], util::token(TOKEN), why).await;
    }
    let token_url = format!("http://client:hunter2@127.0.0.1:{p}/oauth/token");
    let base = v2(&server);
    assert_refused(
        &["--token-url", &token_url, "--base-url", &base],
        s2s(),
        why,
    )
    .await;
    // Too broken to parse, credentials and all: still not repeated.
    assert_refused(
        &["--base-url", "https://admin:hunter2@bad host/v2"],
        util::token(TOKEN),
        "invalid base_url = https://(credentials not shown)@bad host/v2",
    )
    .await;
    assert!(server.received_requests().await.unwrap().is_empty());
}

/// Not followed (issue 10, defect 17: only Zoom's hosts or the token endpoint's own);
/// the run keeps the default base. The row is refused locally, so nothing is sent
/// anywhere; `hardening::auth` checks the warning.
#[tokio::test]
async fn a_token_response_pointing_at_plain_http_elsewhere_is_not_followed() {
    let server = MockServer::start().await;
    let p = port(&server);
    Mock::given(method("POST"))
        .and(path("/oauth/token"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "access_token": "granted-token-1", "token_type": "bearer", "expires_in": 3600,
            "api_url": format!("http://0.0.0.0:{p}")
        })))
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(method("PUT"))
        .respond_with(ResponseTemplate::new(204))
        .expect(0)
        .mount(&server)
        .await;
    let dir = util::tmp();
    let input = util::write(
        dir.path(),
        "input.csv",
        "email,password
a@x.com,x
",
    );
    let report = dir.path().join("report.csv");
    let token_url = format!("{}/oauth/token", server.uri());
    let r = util::run(
        dir.path(),
        &[
            input.to_str().unwrap(),
            "--report",
            report.to_str().unwrap(),
            "--yes",
            "--no-fetch-policy",
            "--token-url",
            &token_url,
        ],
        s2s(),
    )
    .await
    .unwrap();
    assert_eq!(r.exit_code, 1);
    assert_eq!(r.tally.requests, 0);
}

#[tokio::test]
async fn the_binary_says_why_and_exits_2() {
    let dir = util::tmp();
    let input = util::write(
        dir.path(),
        "input.csv",
        "email,password\na@x.com,Zoom1357Ra\n",
    );
    let mut cmd = traced();
    cmd.args([
        "run",
        "--yes",
        "--base-url",
        "https://admin:hunter2@api.zoom.us/v2",
    ])
    .arg("--config")
    .arg(util::empty_config(dir.path()))
    .arg("--report")
    .arg(dir.path().join("r.csv"))
    .arg(&input)
    .env("ZOOM_ACCESS_TOKEN", TOKEN);
    let output = util::bin_output(cmd).await;
    assert_eq!(output.status.code(), Some(2));
    let all = both(&output);
    assert!(all.contains("invalid base_url = (a URL with credentials, not shown): expected a URL without user:password@"), "{all}");
    assert!(!all.contains("hunter2"), "{all}");

    let mut cmd = util::bin();
    cmd.args(["run", "--yes", "--base-url", "http://api.zoom.us/v2"])
        .arg("--config")
        .arg(util::empty_config(dir.path()))
        .arg("--report")
        .arg(dir.path().join("r2.csv"))
        .arg(&input)
        .env("ZOOM_ACCESS_TOKEN", TOKEN);
    let output = util::bin_output(cmd).await;
    assert_eq!(output.status.code(), Some(2));
    let all = both(&output);
    assert!(all.contains("invalid base_url = http://api.zoom.us/v2: expected an https:// URL (plain http is allowed only to loopback"), "{all}");
}
