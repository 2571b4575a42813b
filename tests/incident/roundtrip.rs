//! The runbook's first two steps through the binary, against one simulator started
//! in-process (`--simulate` would give each command a fresh one): `users --group` writes
//! a CSV, and `run` reads it unchanged. Work-email users are changed; the SSO and Google
//! users Zoom cannot give a password to end `rejected` with Zoom's 400/1123 (what
//! `--contain-sso` will turn into `sso_revoked`). No token appears in any output.

use super::*;

#[tokio::test]
async fn the_group_listing_is_read_by_run_unchanged() {
    let dir = util::tmp();
    let sim = util::sim(util::sim_users(dir.path(), ACCOUNT)).await;
    let config = util::empty_config(dir.path());
    let affected = out(dir.path(), "affected.csv");
    let mut list = util::bin();
    list.args([
        "users",
        "--group",
        "g-fin",
        "--base-url",
        &sim.base_url(),
        "--config",
        &p(&config),
    ])
    .args(["--out", &p(&affected)])
    .env("ZOOM_ACCESS_TOKEN", "sim-token");
    let listed = util::bin_output(list).await;
    let (stdout, stderr) = util::text(&listed);
    assert_eq!(listed.status.code(), Some(0), "{stderr}");
    assert_eq!(stdout, "");
    assert!(stderr.contains("listed 3 users"), "{stderr}");
    assert_eq!(
        lines(&affected),
        [
            "id,email,type,status,login_types,last_login_time,dept,group_ids,role_id",
            "u2,ann@corp.example,2,active,100,2026-11-30T09:00:00Z,Finance,g-fin,2",
            "u3,sso.sam@corp.example,2,active,101,2026-11-30T10:00:00Z,Finance,g-fin|g-it,2",
            "u4,gina@gmail.example,1,active,1,,Finance,g-fin,2",
        ]
    );

    let report = out(dir.path(), "r.csv");
    let mut run = util::bin();
    run.args([
        "run",
        &p(&affected),
        "--generate",
        "--discard-passwords",
        "--yes",
    ])
    .args([
        "--base-url",
        &sim.base_url(),
        "--config",
        &p(&config),
        "--report",
        &p(&report),
    ])
    .env("ZOOM_ACCESS_TOKEN", "sim-token");
    let ran = util::bin_output(run).await;
    let (run_out, run_err) = util::text(&ran);
    assert_eq!(ran.status.code(), Some(1), "{run_err}");
    assert_eq!(
        util::summary(&report),
        [
            (2, "u2".into(), "changed".into(), Some(204), None, 1),
            (3, "u3".into(), "rejected".into(), Some(400), Some(1123), 1),
            (4, "u4".into(), "rejected".into(), Some(400), Some(1123), 1),
        ]
    );
    let rows = util::rows(&report);
    assert!(rows.iter().filter(|r| r.zoom_code == Some(1123)).all(|r| r
        .message
        .contains("Can only update password of Zoom work email account")));
    assert_eq!(sim.user("u2").unwrap().change_count, 1);
    assert_eq!(sim.user("u3").unwrap().change_count, 0);
    for text in [
        stdout,
        stderr,
        run_out,
        run_err,
        std::fs::read_to_string(&affected).unwrap(),
    ] {
        assert!(!text.contains("sim-token"), "{text}");
    }
}

#[tokio::test]
async fn users_to_stdout_through_the_simulate_flag_and_jsonl() {
    let dir = util::tmp();
    let config = util::write(
        dir.path(),
        "c.toml",
        format!(
            "[simulator]\nusers_file = {:?}\n",
            p(&util::write(dir.path(), "acct.csv", ACCOUNT))
        ),
    );
    let mut list = util::bin();
    list.args([
        "users",
        "--simulate",
        "--login-type",
        "sso",
        "--format",
        "jsonl",
        "--config",
        &p(&config),
    ]);
    let listed = util::bin_output(list).await;
    let (stdout, stderr) = util::text(&listed);
    assert_eq!(listed.status.code(), Some(0), "{stderr}");
    assert_eq!(
        stdout
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect::<Vec<Value>>(),
        [
            json!({"id": "u3", "email": "sso.sam@corp.example", "type": "2", "status": "active",
                "login_types": [101], "last_login_time": "2026-11-30T10:00:00Z",
                "dept": "Finance", "group_ids": ["g-fin", "g-it"], "role_id": "2"})
        ]
    );
    assert!(
        !stderr.contains("sim-secret") && !stderr.contains("sim-token"),
        "{stderr}"
    );
}

#[tokio::test]
async fn a_refused_token_through_the_binary_is_exit_2_and_never_echoed() {
    let dir = util::tmp();
    let sim = util::sim(util::sim_users(dir.path(), ACCOUNT)).await;
    let mut list = util::bin();
    list.args([
        "users",
        "--base-url",
        &sim.base_url(),
        "--config",
        &p(&util::empty_config(dir.path())),
    ])
    .env("ZOOM_ACCESS_TOKEN", "wrong-Secret-Token-123");
    let listed = util::bin_output(list).await;
    let (stdout, stderr) = util::text(&listed);
    assert_eq!(listed.status.code(), Some(2), "{stderr}");
    assert_eq!(stdout, "");
    assert!(
        stderr.contains("cannot list users: the access token was refused even after renewal: Invalid access token."),
        "{stderr}"
    );
    assert!(!stderr.contains("wrong-Secret-Token-123"), "{stderr}");
}

/// Issue 19, defect 9: the runbook's dry run of a listing flags the users Zoom cannot give
/// a password (the SSO and Google users: no work-email login, 100, in `login_types`) as
/// `invalid_input`, saying what the real run would meet, instead of passing them as
/// `dry_run`; it asks the simulator exactly for a token and the account's rules, and
/// changes nobody.
#[tokio::test]
async fn a_dry_run_of_the_listing_flags_users_without_a_zoom_password() {
    let dir = util::tmp();
    let sim = util::sim(util::sim_users(dir.path(), ACCOUNT)).await;
    let config = util::empty_config(dir.path());
    let affected = out(dir.path(), "affected.csv");
    let mut list = util::bin();
    list.args(["users", "--group", "g-fin", "--base-url", &sim.base_url()])
        .args(["--config", &p(&config), "--out", &p(&affected)])
        .env("ZOOM_ACCESS_TOKEN", "sim-token");
    let listed = util::bin_output(list).await;
    assert_eq!(listed.status.code(), Some(0), "{:?}", util::text(&listed));
    let before = sim.stats();

    let report = out(dir.path(), "r.csv");
    let mut run = util::bin();
    run.args(["run", &p(&affected), "--generate", "--discard-passwords"])
        .args(["--dry-run", "--yes", "--base-url", &sim.base_url()])
        .args(["--token-url", &sim.token_url(), "--config", &p(&config)])
        .args(["--report", &p(&report)])
        .envs([
            ("ZOOM_ACCOUNT_ID", "sim-account"),
            ("ZOOM_CLIENT_ID", "sim-client"),
            ("ZOOM_CLIENT_SECRET", "sim-secret"),
        ]);
    let ran = util::bin_output(run).await;
    let (_, stderr) = util::text(&ran);
    assert_eq!(ran.status.code(), Some(1), "{stderr}");
    assert_eq!(
        util::summary(&report),
        [
            (2, "u2".into(), "dry_run".into(), None, None, 0),
            (3, "u3".into(), "invalid_input".into(), None, None, 0),
            (4, "u4".into(), "invalid_input".into(), None, None, 0),
        ]
    );
    let messages: Vec<String> = util::rows_by_line(&report)
        .into_iter()
        .map(|r| r.message)
        .collect();
    let flagged = |line: u32, types: &str| {
        format!(
            "line {line}: the listing shows this user without a work-email login (login_types \
             {types}): Zoom keeps no password for them, so the real run would send this row \
             and Zoom would answer 400/1123 (rejected); take the row out, and end the user's \
             sessions and change their credential at the identity provider"
        )
    };
    assert_eq!(messages[1], flagged(3, "101 (SSO)"));
    assert_eq!(messages[2], flagged(4, "1 (Google)"));
    let after = sim.stats();
    assert_eq!(
        (
            after.token_grants - before.token_grants,
            after.settings_gets - before.settings_gets,
            after.password_puts - before.password_puts,
            after.requests_total - before.requests_total,
        ),
        (1, 1, 0, 2),
        "exactly the token and the settings read"
    );
    assert_eq!(sim.user("u2").unwrap().change_count, 0);
    assert!(!stderr.contains("sim-secret"), "{stderr}");
}
