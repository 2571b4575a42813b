//! Issue 19, listings: what a page must be to count. A 200 page without its array is
//! not an empty page but a failed listing (the file stays `.incomplete`, the exit code
//! says so, and stderr says what was wrong); a present but empty array is a legitimately
//! empty page; a redirect names its `Location`. Requests are counted exactly.

use super::*;
use wiremock::matchers::{method, path, query_param, query_param_is_missing};
use wiremock::{Mock, MockServer, ResponseTemplate};

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
        &["--base-url", &v2(&server), "--out", &p(&file)],
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

const DEGRADED: &str = r#"{"message":"Service temporarily degraded"}"#;

/// `zoom-rotate users <words>` through the binary, as the operator runs it, with the
/// fast retries; (exit code, stderr).
async fn users_bin(dir: &Path, words: &[&str]) -> (Option<i32>, String) {
    let config = util::write(dir, "c.toml", FAST_RETRY);
    let mut cmd = util::bin();
    cmd.current_dir(dir)
        .env("ZOOM_ACCESS_TOKEN", "wm-token")
        .arg("users")
        .args(words)
        .arg("--config")
        .arg(&config);
    let out = util::bin_output(cmd).await;
    (out.status.code(), util::text(&out).1)
}

/// Issue 19, defect 7: a 200 first page without a `users` array was a complete, empty
/// listing: exit 0, "listed 0 users", the file named. It lists nothing: exit 2, no file
/// under either name, and stderr says what the page held.
#[tokio::test]
async fn a_first_page_without_its_array_lists_nothing_and_says_why() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/v2/users"))
        .respond_with(ResponseTemplate::new(200).set_body_raw(DEGRADED, "application/json"))
        .expect(1)
        .mount(&server)
        .await;
    let dir = util::tmp();
    let file = out(dir.path(), "all.csv");
    let (code, stderr) = users_bin(
        dir.path(),
        &["--base-url", &v2(&server), "--out", &p(&file)],
    )
    .await;
    assert_eq!(code, Some(2), "{stderr}");
    assert!(
        stderr.contains(r#"cannot list users: unexpected page body: a 200 answer without the "users" array (it said: Service temporarily degraded); nothing was listed"#),
        "{stderr}"
    );
    assert!(!stderr.contains("listed 0 users"), "{stderr}");
    assert!(!file.exists() && !zoom_rotate::ledger::side::incomplete(&file).exists());
    assert_eq!(asked(&server).await, [("/v2/users".to_string(), None)]);
}

/// The same page partway through a listing: exit 3, the users written so far stay in
/// `FILE.incomplete`, the file never gets its name, and stderr says why it stopped.
#[tokio::test]
async fn a_later_page_without_its_array_leaves_the_listing_incomplete() {
    let server = MockServer::start().await;
    let first = page(
        &[
            zuser("a", "a@x.example", &[100]),
            zuser("b", "b@x.example", &[100]),
        ],
        "t2",
    );
    Mock::given(method("GET"))
        .and(path("/v2/users"))
        .and(query_param_is_missing("next_page_token"))
        .respond_with(ResponseTemplate::new(200).set_body_json(first))
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path("/v2/users"))
        .and(query_param("next_page_token", "t2"))
        .respond_with(ResponseTemplate::new(200).set_body_raw(DEGRADED, "application/json"))
        .expect(1)
        .mount(&server)
        .await;
    let dir = util::tmp();
    let file = out(dir.path(), "all.csv");
    let (code, stderr) = users_bin(
        dir.path(),
        &["--base-url", &v2(&server), "--out", &p(&file)],
    )
    .await;
    assert_eq!(code, Some(3), "{stderr}");
    assert!(
        stderr.contains(r#"INCOMPLETE listing: stopped partway (unexpected page body: a 200 answer without the "users" array (it said: Service temporarily degraded)); 2 users were written to "#),
        "{stderr}"
    );
    assert!(!stderr.contains("listed 2 users"), "{stderr}");
    let partial = zoom_rotate::ledger::side::incomplete(&file);
    assert!(!file.exists());
    assert_eq!(ids(&partial), ["a", "b"]);
    assert_eq!(
        asked(&server).await,
        [
            ("/v2/users".to_string(), None),
            ("/v2/users".to_string(), Some("t2".to_string()))
        ]
    );
}

/// `--group`: a members page must carry `members`. An empty one is an empty group (a
/// complete listing of nobody, exit 0); a page without it lists nothing (exit 2), and
/// `/users` is never asked.
#[tokio::test]
async fn a_members_page_must_carry_members_and_an_empty_one_is_an_empty_group() {
    for (body, ok) in [
        (r#"{"members":[],"next_page_token":""}"#, true),
        (DEGRADED, false),
    ] {
        let server = MockServer::start().await;
        Mock::given(method("GET"))
            .and(path("/v2/groups/g1/members"))
            .respond_with(ResponseTemplate::new(200).set_body_raw(body, "application/json"))
            .expect(1)
            .mount(&server)
            .await;
        Mock::given(method("GET"))
            .and(path("/v2/users"))
            .respond_with(
                ResponseTemplate::new(200)
                    .set_body_json(page(&[zuser("a", "a@x.example", &[100])], "")),
            )
            .mount(&server)
            .await;
        let dir = util::tmp();
        let file = out(dir.path(), "group.csv");
        let words = [
            "--base-url",
            &v2(&server),
            "--group",
            "g1",
            "--out",
            &p(&file),
        ];
        let r = users(dir.path(), &words, util::token("wm-token")).await;
        let members = ("/v2/groups/g1/members".to_string(), None);
        if ok {
            let r = r.unwrap();
            assert_eq!((r.exit_code.code(), r.written), (0, 0));
            assert_eq!(ids(&file), Vec::<String>::new());
            let users = ("/v2/users".to_string(), None);
            assert_eq!(asked(&server).await, [members, users]);
        } else {
            assert_eq!(
                format!("{:#}", r.unwrap_err()),
                r#"cannot list the members of group "g1": unexpected page body: a 200 answer without the "members" array (it said: Service temporarily degraded); nothing was listed"#
            );
            assert!(!file.exists() && !zoom_rotate::ledger::side::incomplete(&file).exists());
            assert_eq!(asked(&server).await, [members]);
        }
    }
}
