//! Issue 19, listings: what a page must be to count. A 200 page without its array is
//! not an empty page but a failed listing (the file stays `.incomplete`, the exit code
//! says so, and stderr says what was wrong); a present but empty array is a legitimately
//! empty page; a redirect names its `Location`. Requests are counted exactly.

use super::*;
use wiremock::matchers::{method, path};
use wiremock::{Mock, MockServer, Request, ResponseTemplate};

fn base(server: &MockServer) -> String {
    format!("{}/v2", server.uri())
}

/// `(path, next_page_token)` of every request received, in order; each a GET with the
/// bearer and page_size=300.
async fn asked(server: &MockServer) -> Vec<(String, Option<String>)> {
    let requests: Vec<Request> = server.received_requests().await.unwrap();
    requests
        .iter()
        .map(|r| {
            assert_eq!(r.method.as_str(), "GET");
            assert_eq!(
                r.headers.get("authorization").unwrap().to_str().unwrap(),
                "Bearer wm-token"
            );
            let q = |k: &str| {
                r.url
                    .query_pairs()
                    .find(|(key, _)| key == k)
                    .map(|(_, v)| v.into_owned())
            };
            assert_eq!(q("page_size").as_deref(), Some("300"));
            (r.url.path().to_string(), q("next_page_token"))
        })
        .collect()
}

/// Issue 19, lesser item: a listing page answered 302 said "no Location".
#[tokio::test]
async fn a_redirected_page_names_its_location_and_nothing_is_listed() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/v2/users"))
        .respond_with(
            ResponseTemplate::new(302).insert_header("Location", "https://portal.example/login"),
        )
        .expect(1)
        .mount(&server)
        .await;
    let dir = util::tmp();
    let file = out(dir.path(), "all.csv");
    let e = users(
        dir.path(),
        &["--base-url", &base(&server), "--out", &p(&file)],
        util::token("wm-token"),
    )
    .await
    .unwrap_err();
    assert_eq!(
        format!("{e:#}"),
        "cannot list users: HTTP 302: redirected to https://portal.example/login, not followed; nothing was listed"
    );
    assert!(!file.exists() && !zoom_rotate::ledger::side::incomplete(&file).exists());
    assert_eq!(asked(&server).await, [("/v2/users".to_string(), None)]);
}
