//! Issue 10, defect 17: the token endpoint's answer is read to a bound (an 8 MiB
//! answer, with or without a length, is refused unread); its blips (5xx, a hang, an
//! unreachable port) are tried again at startup, four tries in all, before exit 2 says
//! it failed, while a 4xx is refused at once; its `api_url` is followed only to Zoom's
//! hosts or the token endpoint's own, else a warning and the default base.

use super::*;

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
    let server = ok_server().await;
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
async fn a_token_that_cannot_be_a_header_is_refused_not_sent_mangled() {
    let server = ok_server().await;
    token_endpoint(&server, grant("tok\nX-Evil: 1", serde_json::json!(3600)), 9).await;
    let dir = util::tmp();
    let (r, _) = run(dir.path(), &server, 2, &["--no-fetch-policy"], s2s()).await;
    assert_eq!(
        format!("{:#}", r.unwrap_err()),
        "the token endpoint refused the credentials (HTTP 200): the token response's \
         access_token cannot be sent in a header"
    );
    assert_eq!(requests(&server).await.len(), 1);
}

#[tokio::test]
async fn a_failing_token_endpoint_at_startup_is_retried_then_given_up_on() {
    // Always 500: four tries, then exit 2 saying it failed (not that it refused).
    let server = ok_server().await;
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
    let server = ok_server().await;
    token_endpoint(&server, ResponseTemplate::new(500), 2).await;
    token_endpoint(&server, grant("tok-1", serde_json::json!(3600)), 9).await;
    let dir = util::tmp();
    let (r, report) = run(dir.path(), &server, 2, &["--no-fetch-policy"], s2s()).await;
    assert_eq!(r.unwrap().exit_code, 0);
    assert_eq!(util::summary(&report), all_changed(2));
    assert_eq!(count(&requests(&server).await, "POST", "/oauth/token"), 3);

    // A hang: each try times out on its own; four tries, then exit 2.
    let server = ok_server().await;
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

    // Unreachable (a closed port): four tries, then exit 2.
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let token_url = format!("http://{}/oauth/token", closed.local_addr().unwrap());
    drop(closed);
    let dir = util::tmp();
    let (r, _) = run(
        dir.path(),
        &server,
        2,
        &["--no-fetch-policy", "--token-url", &token_url],
        s2s(),
    )
    .await;
    let text = format!("{:#}", r.unwrap_err());
    assert!(
        text.starts_with("the token endpoint could not be reached: ")
            && text.ends_with("; gave up after 4 tries at startup, nothing was sent"),
        "{text}"
    );

    // A 4xx is a refusal: one try, exit 2 at once.
    let server = ok_server().await;
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
