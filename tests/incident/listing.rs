//! The paging loop against wiremock, whose requests are compared exactly: page_size=300
//! on every page, the `next_page_token` of the page before, the bearer; a 429 between
//! pages asks for the same page again; an expired page token restarts the listing from
//! the first page without writing anybody twice, and gives up (exit 3, the file left
//! `.incomplete`) when it keeps expiring.

use super::*;
use wiremock::matchers::{method, path, query_param, query_param_is_missing};
use wiremock::{Mock, MockBuilder, MockServer, ResponseTemplate};

const EXPIRED: &str = r#"{"code":300,"message":"The next page token is invalid or expired."}"#;

/// `(page_size, next_page_token)` of each `GET /v2/users` received, in order (every
/// request is one: [`asked`] checks the method, the bearer and page_size=300).
async fn queries(server: &MockServer) -> Vec<(String, Option<String>)> {
    asked(server)
        .await
        .into_iter()
        .map(|(path, token)| {
            assert_eq!(path, "/v2/users");
            ("300".to_string(), token)
        })
        .collect()
}

fn first_page() -> MockBuilder {
    Mock::given(method("GET"))
        .and(path("/v2/users"))
        .and(query_param("page_size", "300"))
        .and(query_param_is_missing("next_page_token"))
}

fn page_after(token: &str) -> MockBuilder {
    Mock::given(method("GET"))
        .and(path("/v2/users"))
        .and(query_param("page_size", "300"))
        .and(query_param("next_page_token", token))
}

fn ok(body: Value) -> ResponseTemplate {
    ResponseTemplate::new(200).set_body_json(body)
}

/// `users --base-url <server> --out <dir>/<name>` in-process with the bearer `wm-token`:
/// the result, the listing's path and its (temporary) directory.
async fn list_all(
    server: &MockServer,
    name: &str,
) -> (anyhow::Result<UsersResult>, PathBuf, tempfile::TempDir) {
    let dir = util::tmp();
    let file = out(dir.path(), name);
    let words = ["--base-url", &v2(server), "--out", &p(&file)];
    let r = users(dir.path(), &words, util::token("wm-token")).await;
    (r, file, dir)
}

const HEADER: &str = "id,email,type,status,login_types,last_login_time,dept,group_ids,role_id";

#[tokio::test]
async fn several_pages_are_walked_with_page_size_300_and_each_next_page_token() {
    let server = MockServer::start().await;
    first_page()
        .respond_with(ok(page(
            &[
                zuser("a", "a@x.example", &[100]),
                zuser("b", "b@x.example", &[101]),
            ],
            "t2",
        )))
        .expect(1)
        .mount(&server)
        .await;
    page_after("t2")
        .respond_with(ok(page(&[zuser("c", "c@x.example", &[100, 101])], "t3")))
        .expect(1)
        .mount(&server)
        .await;
    page_after("t3")
        .respond_with(ok(page(&[zuser("d", "d@x.example", &[1])], "")))
        .expect(1)
        .mount(&server)
        .await;
    let (r, file, _dir) = list_all(&server, "all.csv").await;
    let r = r.unwrap();
    assert_eq!(
        r,
        UsersResult {
            exit_code: zoom_rotate::vocab::Exit::Done,
            written: 4,
            out: Some(file.clone())
        }
    );
    assert_eq!(
        lines(&file),
        [
            HEADER,
            "a,a@x.example,2,active,100,2026-11-30T10:00:00Z,Ops,,2",
            "b,b@x.example,2,active,101,2026-11-30T10:00:00Z,Ops,,2",
            "c,c@x.example,2,active,100|101,2026-11-30T10:00:00Z,Ops,,2",
            "d,d@x.example,2,active,1,2026-11-30T10:00:00Z,Ops,,2",
        ]
    );
    assert_eq!(
        queries(&server).await,
        [
            ("300".into(), None),
            ("300".into(), Some("t2".into())),
            ("300".into(), Some("t3".into()))
        ]
    );
    assert!(!zoom_rotate::ledger::side::incomplete(&file).exists());
    use std::os::unix::fs::PermissionsExt;
    assert_eq!(
        std::fs::metadata(&file).unwrap().permissions().mode() & 0o777,
        0o600
    );
}

#[tokio::test]
async fn a_429_between_pages_waits_and_asks_for_the_same_page_again() {
    let server = MockServer::start().await;
    first_page()
        .respond_with(ok(page(&[zuser("a", "a@x.example", &[100])], "t2")))
        .mount(&server)
        .await;
    let per_second = r#"{"code":429,"message":"You have reached the maximum per-second rate limit for this API. Try again later."}"#;
    page_after("t2")
        .respond_with(
            ResponseTemplate::new(429)
                .insert_header("Retry-After", "1")
                .insert_header("X-RateLimit-Type", "QPS")
                .set_body_string(per_second),
        )
        .up_to_n_times(1)
        .with_priority(1)
        .mount(&server)
        .await;
    page_after("t2")
        .respond_with(ok(page(&[zuser("b", "b@x.example", &[100])], "")))
        .mount(&server)
        .await;
    let (r, file, _dir) = list_all(&server, "all.csv").await;
    let r = r.unwrap();
    assert_eq!((r.exit_code.code(), r.written), (0, 2));
    assert_eq!(ids(&file), ["a", "b"]);
    assert_eq!(
        queries(&server).await,
        [
            ("300".into(), None),
            ("300".into(), Some("t2".into())),
            ("300".into(), Some("t2".into()))
        ]
    );
}

#[tokio::test]
async fn an_expired_page_token_restarts_from_the_first_page_and_writes_nobody_twice() {
    let server = MockServer::start().await;
    // The first walk: a, b, then the token has expired.
    first_page()
        .respond_with(ok(page(
            &[
                zuser("a", "a@x.example", &[100]),
                zuser("b", "b@x.example", &[100]),
            ],
            "t2",
        )))
        .up_to_n_times(1)
        .with_priority(1)
        .mount(&server)
        .await;
    page_after("t2")
        .respond_with(ResponseTemplate::new(400).set_body_string(EXPIRED))
        .mount(&server)
        .await;
    // The restart: Zoom's order need not be the same, and a user was added meanwhile.
    first_page()
        .respond_with(ok(page(
            &[
                zuser("b", "b@x.example", &[100]),
                zuser("a", "a@x.example", &[100]),
            ],
            "t3",
        )))
        .mount(&server)
        .await;
    page_after("t3")
        .respond_with(ok(page(
            &[
                zuser("c", "c@x.example", &[101]),
                zuser("a", "a@x.example", &[100]),
            ],
            "",
        )))
        .mount(&server)
        .await;
    let (r, file, _dir) = list_all(&server, "all.csv").await;
    let r = r.unwrap();
    assert_eq!((r.exit_code.code(), r.written), (0, 3));
    assert_eq!(ids(&file), ["a", "b", "c"]);
    assert_eq!(
        queries(&server).await,
        [
            ("300".into(), None),
            ("300".into(), Some("t2".into())),
            ("300".into(), None),
            ("300".into(), Some("t3".into())),
        ]
    );
}

#[tokio::test]
async fn a_token_that_keeps_expiring_stops_the_listing_exit_3_marked_incomplete() {
    let server = MockServer::start().await;
    first_page()
        .respond_with(ok(page(&[zuser("a", "a@x.example", &[100])], "t2")))
        .mount(&server)
        .await;
    page_after("t2")
        .respond_with(ResponseTemplate::new(400).set_body_string(EXPIRED))
        .mount(&server)
        .await;
    let (r, file, _dir) = list_all(&server, "all.csv").await;
    let r = r.unwrap();
    let partial = zoom_rotate::ledger::side::incomplete(&file);
    assert_eq!(
        r,
        UsersResult {
            exit_code: zoom_rotate::vocab::Exit::Stopped,
            written: 1,
            out: Some(partial.clone())
        }
    );
    assert!(
        !file.exists(),
        "a stopped listing never gets the name a run would read"
    );
    assert_eq!(ids(&partial), ["a"]);
    // The first walk and two restarts, each a first page and the refused token.
    assert_eq!(queries(&server).await.len(), 6);
}

#[tokio::test]
async fn a_daily_429_mid_listing_stops_exit_3_with_the_count_and_never_waits_for_tomorrow() {
    let server = MockServer::start().await;
    first_page()
        .respond_with(ok(page(
            &[
                zuser("a", "a@x.example", &[100]),
                zuser("b", "b@x.example", &[100]),
            ],
            "t2",
        )))
        .mount(&server)
        .await;
    let daily = r#"{"code":429,"message":"You have reached the maximum daily rate limit for this API. Refer to the response header for details on when you can make another request."}"#;
    page_after("t2")
        .respond_with(
            ResponseTemplate::new(429)
                .insert_header("Retry-After", "50000")
                .insert_header("X-RateLimit-Type", "Daily-limit")
                .set_body_string(daily),
        )
        .mount(&server)
        .await;
    let (r, _file, _dir) = list_all(&server, "all.csv").await;
    let r = r.unwrap();
    assert_eq!((r.exit_code.code(), r.written), (3, 2));
    assert_eq!(
        queries(&server).await.len(),
        2,
        "the daily limit is not asked again"
    );
}

#[tokio::test]
async fn server_errors_are_retried_then_the_page_is_served() {
    let server = MockServer::start().await;
    first_page()
        .respond_with(ResponseTemplate::new(502).set_body_string("<html>bad gateway</html>"))
        .up_to_n_times(2)
        .with_priority(1)
        .mount(&server)
        .await;
    first_page()
        .respond_with(ok(page(&[zuser("a", "a@x.example", &[100])], "")))
        .mount(&server)
        .await;
    let (r, file, _dir) = list_all(&server, "all.jsonl").await;
    let r = r.unwrap();
    assert_eq!((r.exit_code.code(), r.written), (0, 1));
    assert_eq!(
        serde_json::from_str::<Value>(&lines(&file)[0]).unwrap(),
        json!({"id": "a", "email": "a@x.example", "type": "2", "status": "active",
               "login_types": [100], "last_login_time": "2026-11-30T10:00:00Z", "dept": "Ops",
               "group_ids": [], "role_id": "2"})
    );
    assert_eq!(queries(&server).await.len(), 3);
}

#[tokio::test]
async fn zooms_filters_are_sent_as_query_parameters() {
    let server = MockServer::start().await;
    first_page()
        .and(query_param("status", "inactive"))
        .and(query_param("role_id", "2"))
        .respond_with(ok(page(&[], "")))
        .expect(1)
        .mount(&server)
        .await;
    let dir = util::tmp();
    let file = out(dir.path(), "none.csv");
    let words = [
        "--base-url",
        &v2(&server),
        "--status",
        "inactive",
        "--role-id",
        "2",
        "--out",
        &p(&file),
    ];
    let r = users(dir.path(), &words, util::token("wm-token"))
        .await
        .unwrap();
    assert_eq!((r.exit_code.code(), r.written), (0, 0));
    assert_eq!(lines(&file), [HEADER]);
}

#[tokio::test]
async fn a_refused_token_or_missing_scope_is_exit_2_and_leaves_no_file() {
    let server = MockServer::start().await;
    first_page()
        .respond_with(ResponseTemplate::new(403).set_body_string(
            r#"{"code":4700,"message":"Invalid access token, does not contain scopes:[user:read:admin]."}"#,
        ))
        .mount(&server)
        .await;
    let (r, file, _dir) = list_all(&server, "all.csv").await;
    let e = r.unwrap_err();
    assert_eq!(
        format!("{e:#}"),
        "cannot list users: HTTP 403/4700: Invalid access token, does not contain scopes:[user:read:admin].; nothing was listed (the app needs scope user:read:admin, and group:read:admin for --group)"
    );
    assert!(!file.exists() && !zoom_rotate::ledger::side::incomplete(&file).exists());
}

#[tokio::test]
async fn an_existing_out_file_is_never_overwritten() {
    let dir = util::tmp();
    let file = util::write(dir.path(), "all.csv", "keep me");
    let e = users(
        dir.path(),
        &["--base-url", "http://127.0.0.1:9/v2", "--out", &p(&file)],
        util::token("wm-token"),
    )
    .await
    .unwrap_err();
    assert!(
        format!("{e:#}").contains("already exists and is never overwritten"),
        "{e:#}"
    );
    assert_eq!(std::fs::read_to_string(&file).unwrap(), "keep me");
}

#[tokio::test]
async fn a_stop_mid_listing_is_exit_3_with_the_users_written_so_far() {
    let server = MockServer::start().await;
    first_page()
        .respond_with(ok(page(&[zuser("a", "a@x.example", &[100])], "t2")))
        .mount(&server)
        .await;
    // The second page never comes in time: the stop must not wait for it.
    page_after("t2")
        .respond_with(ok(page(&[], "")).set_delay(std::time::Duration::from_secs(120)))
        .mount(&server)
        .await;
    let dir = util::tmp();
    let file = out(dir.path(), "all.csv");
    let args = users_args(
        dir.path(),
        &["--base-url", &v2(&server), "--out", &p(&file)],
    );
    let stop = Stop::new();
    let run = tokio::spawn({
        let stop = stop.clone();
        async move { zoom_rotate::commands::users::run(&args, util::token("wm-token"), stop).await }
    });
    for _ in 0..1000 {
        if server.received_requests().await.unwrap().len() == 2 {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
    }
    stop.stop(zoom_rotate::vocab::stop::StopReason::Interrupted);
    let r = run.await.unwrap().unwrap();
    let partial = zoom_rotate::ledger::side::incomplete(&file);
    assert_eq!(
        r,
        UsersResult {
            exit_code: zoom_rotate::vocab::Exit::Stopped,
            written: 1,
            out: Some(partial.clone())
        }
    );
    assert_eq!(ids(&partial), ["a"]);
    assert!(!file.exists());
}

#[tokio::test]
async fn a_server_that_repeats_a_page_token_cannot_keep_the_listing_going_forever() {
    let server = MockServer::start().await;
    first_page()
        .respond_with(ok(page(&[zuser("a", "a@x.example", &[100])], "t2")))
        .mount(&server)
        .await;
    page_after("t2")
        .respond_with(ok(page(&[zuser("b", "b@x.example", &[100])], "t2")))
        .mount(&server)
        .await;
    let (r, _file, _dir) = list_all(&server, "all.csv").await;
    let r = r.unwrap();
    assert_eq!((r.exit_code.code(), r.written), (3, 2));
    assert_eq!(queries(&server).await.len(), 2);
}

#[tokio::test]
async fn an_unreachable_zoom_is_tried_again_then_exit_3_with_nothing_written() {
    // A port nothing listens on: bound, then closed.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let dir = util::tmp();
    let file = out(dir.path(), "all.csv");
    let words = [
        "--base-url",
        &format!("http://127.0.0.1:{port}/v2"),
        "--out",
        &p(&file),
    ];
    let r = users(dir.path(), &words, util::token("wm-token"))
        .await
        .unwrap();
    assert_eq!(
        r,
        UsersResult {
            exit_code: zoom_rotate::vocab::Exit::Stopped,
            written: 0,
            out: None
        }
    );
    assert!(!file.exists() && !zoom_rotate::ledger::side::incomplete(&file).exists());
}
