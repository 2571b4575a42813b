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
