//! Zoom's filters (status, role, group) and the local ones (domain, department, login
//! type) against the simulator's account of every login type, and a long listing that
//! renews its Server-to-Server token on the way.

use super::*;
use zoom_rotate::simulator::SimConfig;

/// The ids `users <words>` lists from a simulator of [`ACCOUNT`], or its error.
async fn listed(words: &[&str]) -> Result<Vec<String>, String> {
    let dir = util::tmp();
    let sim = util::sim(util::sim_users(dir.path(), ACCOUNT)).await;
    let file = out(dir.path(), "l.csv");
    let (base, file_s) = (sim.base_url(), p(&file));
    let mut all = vec!["--base-url", &base, "--out", &file_s];
    all.extend_from_slice(words);
    match users(dir.path(), &all, util::token("sim-token")).await {
        Ok(r) => {
            assert_eq!(r.exit_code, 0);
            Ok(ids(&file))
        }
        Err(e) => Err(format!("{e:#}")),
    }
}

#[tokio::test]
async fn zoom_lists_active_users_unless_a_status_is_asked_for() {
    assert_eq!(listed(&[]).await.unwrap(), ["u1", "u2", "u3", "u4", "u6"]);
    assert_eq!(listed(&["--status", "inactive"]).await.unwrap(), ["u5"]);
    assert_eq!(listed(&["--status", "pending"]).await.unwrap(), ["u7"]);
    assert_eq!(listed(&["--role-id", "0"]).await.unwrap(), ["u1"]);
}

#[tokio::test]
async fn local_filters_on_domain_department_and_login_type() {
    assert_eq!(listed(&["--login-type", "sso"]).await.unwrap(), ["u3"]);
    assert_eq!(
        listed(&["--login-type", "101", "--login-type", "google"])
            .await
            .unwrap(),
        ["u3", "u4"]
    );
    assert_eq!(
        listed(&["--domain", "@Corp.Example", "--department", "finance"])
            .await
            .unwrap(),
        ["u2", "u3"]
    );
    assert_eq!(listed(&["--department", "SALES"]).await.unwrap(), ["u6"]);
    assert_eq!(
        listed(&["--status", "inactive", "--login-type", "work-email"])
            .await
            .unwrap(),
        ["u5"]
    );
}

#[tokio::test]
async fn a_group_lists_its_members_with_their_login_types() {
    assert_eq!(
        listed(&["--group", "g-fin"]).await.unwrap(),
        ["u2", "u3", "u4"]
    );
    assert_eq!(
        listed(&["--group", "g-fin", "--status", "inactive"])
            .await
            .unwrap(),
        ["u5"]
    );
    assert_eq!(
        listed(&["--group", "g-it", "--login-type", "sso"])
            .await
            .unwrap(),
        ["u3"]
    );
    assert_eq!(
        listed(&["--group", "nope"]).await.unwrap_err(),
        "cannot list the members of group \"nope\": HTTP 404/4130: Group does not exist: nope.; nothing was listed"
    );
}

#[tokio::test]
async fn bad_filters_are_exit_2_naming_the_flag() {
    let dir = util::tmp();
    let argv = ["zoom-rotate", "users", "--login-type", "okta"];
    util::hermetic();
    let e = Cli::try_parse_from(argv).unwrap_err().to_string();
    assert!(
        e.contains("--login-type") && e.contains("got \"okta\""),
        "{e}"
    );
    let e = users(
        dir.path(),
        &["--domain", "a b", "--base-url", "http://127.0.0.1:9/v2"],
        util::token("t"),
    )
    .await
    .unwrap_err();
    assert_eq!(
        format!("{e:#}"),
        "invalid --domain \"a b\": expected a domain such as example.com"
    );
    let e = users(
        dir.path(),
        &["--rate", "0", "--base-url", "http://127.0.0.1:9/v2"],
        util::token("t"),
    )
    .await
    .unwrap_err();
    assert!(
        format!("{e:#}").starts_with("invalid --rate = 0.0"),
        "{e:#}"
    );
    let e = users(
        dir.path(),
        &["--base-url", "http://127.0.0.1:9/v2"],
        Credentials::default(),
    )
    .await
    .unwrap_err();
    assert!(format!("{e:#}").starts_with("no credentials"), "{e:#}");
}

#[tokio::test]
async fn a_long_listing_renews_its_oauth_token_and_writes_every_user_once() {
    let dir = util::tmp();
    let sim = util::sim(SimConfig {
        generate_users: Some(700),
        token_max_uses: Some(2),
        ..SimConfig::default()
    })
    .await;
    let file = out(dir.path(), "all.csv");
    let words = [
        "--base-url",
        &sim.base_url(),
        "--token-url",
        &sim.token_url(),
        "--out",
        &p(&file),
    ];
    let creds = Credentials::simulator("sim-account", "sim-client", "sim-secret");
    let r = users(dir.path(), &words, creds).await.unwrap();
    assert_eq!((r.exit_code.code(), r.written), (0, 700));
    let listed = ids(&file);
    let expected: Vec<String> = (1..=700).map(|n| format!("u{n}")).collect();
    assert_eq!(listed, expected);
    let stats = sim.stats();
    // Three pages of 300; each token serves two requests, so the third page is a 401
    // that one renewal cures.
    assert_eq!(stats.users_list_gets, 4);
    assert_eq!((stats.token_grants, stats.unauthorized_401), (2, 1));
}
