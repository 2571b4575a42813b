//! Issue 19, the wire: what a run makes of answers that are not Zoom's. A redirect names
//! its `Location` wherever it is read (a row, the account's rules), redacted; only 204 is
//! `changed`, and any other 2xx is `failed` with `may_have_applied`, retried with the
//! same password, and settled by a `--resume` that sends that password again.
//!
//! Each test counts the exact requests at the server (method, path, body) and checks the
//! exact report rows and exit codes.

use super::*;
use base64::Engine as _;
use wiremock::matchers::query_param;

/// Where the wiremock portal sends everybody.
const PORTAL: &str = "https://portal.example/login";

/// `(method, path, body)` of every request the server received, in order.
async fn requests(server: &MockServer) -> Vec<(String, String, String)> {
    server
        .received_requests()
        .await
        .unwrap()
        .iter()
        .map(|r| {
            (
                r.method.to_string(),
                r.url.path().to_string(),
                String::from_utf8_lossy(&r.body).into_owned(),
            )
        })
        .collect()
}

/// The one PUT every test sends for `u1@example.com`: its path and its exact body.
fn the_put() -> (String, String, String) {
    (
        "PUT".into(),
        format!("/v2/users/{U1_SEGMENT}/password"),
        format!(r#"{{"password":"{NEW_PW}"}}"#),
    )
}

/// `(outcome, http_status, zoom_code, attempts, message, may_have_applied)` of a row.
type Exact = (String, Option<u16>, Option<u32>, u32, String, bool);

/// The [`Exact`] of each row (all of `u1@example.com`, line 2), in file order.
fn exact(report: &Path) -> Vec<Exact> {
    util::rows(report)
        .into_iter()
        .map(|r| {
            assert_eq!((r.line, r.user_id.as_str()), (2, "u1@example.com"));
            (
                r.outcome.as_str().to_string(),
                r.http_status,
                r.zoom_code,
                r.attempts,
                r.message,
                r.may_have_applied,
            )
        })
        .collect()
}

/// Issue 19, lesser item: a 302 with a `Location` was reported as "no Location". The
/// row's reading was right; the account's rules (read first, without
/// `--no-fetch-policy`), listing pages and revokes read the answer without its headers.
/// Every reader now says where it was sent, with any secret in the `Location` redacted,
/// and nothing follows it.
#[tokio::test]
async fn a_302_names_its_location_in_the_row_and_in_the_rules_warning() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/v2/accounts/me/settings"))
        .and(query_param("option", "security"))
        .respond_with(
            ResponseTemplate::new(302).insert_header("Location", format!("{PORTAL}?from=settings")),
        )
        .expect(1)
        .mount(&server)
        .await;
    // The portal echoes the password in its Location, raw and base64url-encoded.
    let echo = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(NEW_PW);
    put_to(U1_SEGMENT)
        .respond_with(
            ResponseTemplate::new(302)
                .insert_header("Location", format!("{PORTAL}?next={echo}&pw={NEW_PW}")),
        )
        .expect(1)
        .mount(&server)
        .await;
    let dir = util::tmp();
    util::write(dir.path(), "in.csv", ONE_ROW);
    let config = util::empty_config(dir.path());
    let mut cmd = util::bin();
    cmd.current_dir(dir.path())
        .env("ZOOM_ACCESS_TOKEN", TOKEN)
        .args(["run", "in.csv", "--report", "r.csv", "--yes"])
        .args(["--base-url", &v2(&server), "--config"])
        .arg(&config);
    let out = util::bin_output(cmd).await;
    let (_, stderr) = util::text(&out);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains(&format!(
            "HTTP 302: redirected to {PORTAL}?from=settings, not followed"
        )),
        "{stderr}"
    );
    assert!(!stderr.contains("no Location"), "{stderr}");
    assert_eq!(
        exact(&dir.path().join("r.csv")),
        [(
            "failed".to_string(),
            Some(302),
            None,
            1,
            format!(
                "redirected to {PORTAL}?next=[redacted]&pw=[redacted], not followed; the change was not applied"
            ),
            false
        )]
    );
    let settings = (
        "GET".to_string(),
        "/v2/accounts/me/settings".to_string(),
        String::new(),
    );
    assert_eq!(requests(&server).await, [settings, the_put()]);
    let everything = format!("{stderr}{}", util::text(&out).0);
    assert!(!everything.contains(NEW_PW) && !everything.contains(&echo));
}

/// A captive portal's login page, as it answers any request.
const PORTAL_PAGE: &str =
    "<html><head><title>Guest Wi-Fi</title></head><body><p>Please log in</p></body></html>";

/// Issue 19, defect 8: a PUT answered 200 (a proxy, a captive portal) was `changed`,
/// exit 0. Zoom answers 204. Any other 2xx is `failed` with `may_have_applied`, says
/// what answered, and is retried with the same password within the row's tries (like a
/// 5xx: the request may have reached Zoom). `--resume` sends that password again, and
/// Zoom's same-as-old then confirms the change.
#[tokio::test]
async fn a_200_to_a_put_is_failed_may_have_applied_and_resume_confirms_with_the_same_password() {
    let server = MockServer::start().await;
    put_to(U1_SEGMENT)
        .respond_with(ResponseTemplate::new(200).set_body_raw(PORTAL_PAGE, "text/html"))
        .expect(2)
        .mount(&server)
        .await;
    let dir = util::tmp();
    let run = |extra: &'static [&'static str]| {
        let (dir, base) = (dir.path().to_path_buf(), v2(&server));
        async move { rotate(&dir, &base, TOKEN, ONE_ROW, FAST_RETRY, "r.csv", extra).await }
    };
    let (first, report) = run(&[]).await;
    let first = first.expect("the run finishes");
    assert_eq!((first.exit_code.code(), first.stop), (1, None));
    let failed = (
        "failed".to_string(),
        Some(200),
        None,
        2,
        "unexpected HTTP 200 (text/html): Guest Wi-Fi Please log in; gave up after 2 tries; the change may have been applied".to_string(),
        true,
    );
    assert_eq!(exact(&report), std::slice::from_ref(&failed));
    assert_eq!(requests(&server).await, [the_put(), the_put()]);
    server.verify().await;

    // Zoom, reached at last, holds the password already.
    server.reset().await;
    put_to(U1_SEGMENT)
        .respond_with(util::zoom_error(400, 300, SAME_AS_OLD))
        .expect(1)
        .mount(&server)
        .await;
    let (second, _) = run(&["--resume"]).await;
    assert_eq!(second.expect("the resume finishes").exit_code, 0);
    let confirmed = (
        "changed".to_string(),
        Some(400),
        Some(300),
        1,
        "password changed: confirmed on retry (Zoom answers same-as-old, so an earlier unanswered attempt applied it)".to_string(),
        false,
    );
    assert_eq!(exact(&report), [failed, confirmed]);
    assert_eq!(requests(&server).await, [the_put()], "the same password");
}

/// Every 2xx but 204, whatever its body (a Zoom-shaped same-as-old included): `failed`,
/// `may_have_applied`, two tries with the same password, exit 1.
#[tokio::test]
async fn no_2xx_but_204_is_changed() {
    let cases = [
        (
            ResponseTemplate::new(201).set_body_json(json!({"id": "x"})),
            201,
            None,
            r#"unexpected HTTP 201 (application/json): {"id":"x"}"#,
        ),
        (
            ResponseTemplate::new(202),
            202,
            None,
            "unexpected HTTP 202 with an empty body",
        ),
        (
            util::zoom_error(200, 300, SAME_AS_OLD),
            200,
            Some(300),
            "unexpected HTTP 200 (application/json): Your new password can not match the old password.",
        ),
    ];
    for (answer, status, code, said) in cases {
        let server = MockServer::start().await;
        put_to(U1_SEGMENT)
            .respond_with(answer)
            .expect(2)
            .mount(&server)
            .await;
        let dir = util::tmp();
        let (result, report) = rotate(
            dir.path(),
            &v2(&server),
            TOKEN,
            ONE_ROW,
            FAST_RETRY,
            "r.csv",
            &[],
        )
        .await;
        assert_eq!(result.expect("the run finishes").exit_code, 1, "{status}");
        let message = format!("{said}; gave up after 2 tries; the change may have been applied");
        assert_eq!(
            exact(&report),
            [("failed".to_string(), Some(status), code, 2, message, true)]
        );
        assert_eq!(requests(&server).await, [the_put(), the_put()], "{status}");
    }
}

/// With `--generate`, the resume after a 200 sends the password the file saved for the
/// user, not a new one: only the same password is safe after an answer that proves
/// nothing.
#[tokio::test]
async fn a_generated_password_answered_200_is_sent_again_on_resume() {
    let server = MockServer::start().await;
    put_to(U1_SEGMENT)
        .respond_with(ResponseTemplate::new(200))
        .expect(2)
        .mount(&server)
        .await;
    let dir = util::tmp();
    let saved = dir.path().join("passwords.csv");
    let saved_arg = saved.display().to_string();
    let flags = ["--generate", "--generated-out", &saved_arg];
    let resume = [flags[0], flags[1], flags[2], "--resume"];
    let csv = "email\nu1@example.com\n";
    let base = v2(&server);
    let (first, report) = rotate(dir.path(), &base, TOKEN, csv, FAST_RETRY, "r.csv", &flags).await;
    assert_eq!(first.unwrap().exit_code, 1);
    let bodies = |requests: Vec<(String, String, String)>| -> Vec<String> {
        requests.into_iter().map(|r| r.2).collect()
    };
    let sent = bodies(requests(&server).await);
    let body = sent[0].clone();
    assert_eq!(sent, [body.clone(), body.clone()], "one password, twice");
    let password = serde_json::from_str::<Value>(&body).unwrap()["password"]
        .as_str()
        .unwrap()
        .to_string();
    assert!(std::fs::read_to_string(&saved)
        .unwrap()
        .contains(&password[1..]));
    assert!(exact(&report)[0].5, "may_have_applied");

    server.reset().await;
    put_to(U1_SEGMENT)
        .respond_with(util::zoom_error(400, 300, SAME_AS_OLD))
        .expect(1)
        .mount(&server)
        .await;
    let (second, _) = rotate(dir.path(), &base, TOKEN, csv, FAST_RETRY, "r.csv", &resume).await;
    assert_eq!(second.unwrap().exit_code, 0);
    assert_eq!(bodies(requests(&server).await), [body]);
    assert_eq!(
        exact(&report)
            .iter()
            .map(|r| r.0.as_str())
            .collect::<Vec<_>>(),
        ["failed", "changed"]
    );
    assert!(!std::fs::read_to_string(&report)
        .unwrap()
        .contains(&password));
}
