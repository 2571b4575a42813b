//! The account's password rules: read once before the run (through the limiter), and
//! enforced locally, so a row Zoom would refuse is `invalid_input` and costs no request.
//! A token without the scope falls back to the basic rules with a warning;
//! `--no-fetch-policy` and `--dry-run --offline` send no GET at all, and a `--dry-run`
//! reads the rules as the real run does (issue 19) and sends no PUT.

use super::*;
use zoom_rotate::zoom::rules::PasswordPolicy;

const USERS: &str = "id,email,password,role,changes_24h,recent_passwords\n\
    u1,a@x.com,Old-Pass-01x,member,0,\n\
    u2,b@x.com,Old-Pass-02x,member,0,\n\
    u3,c@x.com,Old-Pass-03x,member,0,\n\
    u4,d@x.com,Old-Pass-04x,member,0,\n";

/// One row that meets the account's rules and three that break one each.
const INPUT: &str = "email,password\n\
    a@x.com,Long-Enough-12x\n\
    b@x.com,Short-Pw-9x\n\
    c@x.com,NoSpecialChar12x\n\
    d@x.com,Runs-abcd-Pass9\n";

fn strict() -> SimConfig {
    SimConfig {
        password_requirement: PasswordPolicy {
            minimum_password_length: 12,
            have_special_character: true,
            consecutive_characters_length: 4,
            weak_enhance_detection: false,
        },
        ..SimConfig::default()
    }
}

/// Runs `INPUT` against `sim` in-process, with the account's rules read unless `extra`
/// says otherwise.
async fn run_against(
    dir: &Path,
    sim: &zoom_rotate::simulator::SimHandle,
    extra: &[&str],
) -> (RunResult, PathBuf) {
    let input = util::write(dir, "input.csv", INPUT).display().to_string();
    let report = dir.join("report.csv");
    let base = sim.base_url();
    let mut words = vec![
        &input as &str,
        "--report",
        report.to_str().unwrap(),
        "--base-url",
        &base,
        "--yes",
    ];
    words.extend_from_slice(extra);
    (
        util::run(dir, &words, util::token("sim-token"))
            .await
            .unwrap(),
        report,
    )
}

#[tokio::test]
async fn the_accounts_rules_are_read_once_and_enforced_locally() {
    let dir = util::tmp();
    let sim = sim_with(dir.path(), USERS, strict()).await;
    let (result, report) = run_against(dir.path(), &sim, &[]).await;
    assert_eq!(result.exit_code, 1);
    let rules = "the password breaks Zoom's password rules";
    assert_rows(
        &report,
        &[
            (2, "a@x.com", "changed", 1, "password changed"),
            (3, "b@x.com", "invalid_input", 0, &format!("line 3: {rules} (code 1124): Have at least 12 characters")),
            (4, "c@x.com", "invalid_input", 0, &format!("line 4: {rules} (code 1127): Have at least 1 special character (!, @, #…)")),
            (5, "d@x.com", "invalid_input", 0, &format!("line 5: {rules} (code 1131): Password can't use continuation character.Such as 'abcdef','123456'.")),
        ],
    );
    let stats = sim.stats();
    assert_eq!((stats.settings_gets, stats.password_puts), (1, 1));
    for u in ["u2", "u3", "u4"] {
        assert!(
            sim.user(u).unwrap().received_passwords.is_empty(),
            "{u} was sent"
        );
    }
    assert_eq!(sim.user("u1").unwrap().current_password, "Long-Enough-12x");
}

#[tokio::test]
async fn without_the_scope_the_basic_rules_apply_with_a_warning() {
    let dir = util::tmp();
    let sim = sim_with(
        dir.path(),
        USERS,
        SimConfig {
            settings_forbidden: true,
            ..strict()
        },
    )
    .await;
    let input = util::write(dir.path(), "input.csv", INPUT);
    let mut cmd = util::bin();
    cmd.args(["run", "--yes", "--base-url", &sim.base_url()])
        .arg("--config")
        .arg(util::empty_config(dir.path()))
        .arg("--report")
        .arg(dir.path().join("report.csv"))
        .arg(&input)
        .env("ZOOM_ACCESS_TOKEN", "sim-token");
    let output = util::bin_output(cmd).await;
    assert_eq!(output.status.code(), Some(1), "{}", both(&output));
    let (_, err) = util::text(&output);
    assert!(
        err.contains("could not read the account's password rules (needs scope account:read:admin); only Zoom's basic rules are checked locally"),
        "{err}"
    );
    assert!(err.contains("HTTP 403"), "{err}");
    // Every row went to Zoom, which refused what its rules refuse.
    let got: Vec<(String, String, Option<u32>)> = util::summary(&dir.path().join("report.csv"))
        .into_iter()
        .map(|r| (r.1, r.2, r.4))
        .collect();
    let row = |u: &str, o: &str, c: Option<u32>| (u.to_string(), o.to_string(), c);
    assert_eq!(
        got,
        [
            row("a@x.com", "changed", None),
            row("b@x.com", "policy_rejected", Some(1124)),
            row("c@x.com", "policy_rejected", Some(1127)),
            row("d@x.com", "policy_rejected", Some(1131)),
        ]
    );
    let stats = sim.stats();
    assert_eq!(
        (
            stats.settings_gets,
            stats.forbidden_403,
            stats.password_puts
        ),
        (1, 1, 4)
    );
}

#[tokio::test]
async fn no_fetch_policy_and_an_offline_dry_run_send_no_get_and_a_dry_run_no_put() {
    let dir = util::tmp();
    let sim = sim_with(dir.path(), USERS, strict()).await;
    let (result, report) = run_against(dir.path(), &sim, &["--no-fetch-policy"]).await;
    assert_eq!(result.exit_code, 1);
    assert_eq!(
        util::summary(&report)
            .iter()
            .map(|r| r.2.as_str())
            .collect::<Vec<_>>(),
        [
            "changed",
            "policy_rejected",
            "policy_rejected",
            "policy_rejected"
        ]
    );
    let stats = sim.stats();
    assert_eq!((stats.settings_gets, stats.password_puts), (0, 4));

    // Issue 19: a dry run asks what the real run asks, the rules once, and refuses what
    // they refuse; it used to read nothing and pass every row (exit 0).
    let dir = util::tmp();
    let (result, report) = run_against(dir.path(), &sim, &["--dry-run"]).await;
    assert_eq!(result.exit_code, 1);
    let got: Vec<(String, String)> = util::summary(&report)
        .into_iter()
        .map(|r| (r.1, r.2))
        .collect();
    let row = |u: &str, o: &str| (u.to_string(), o.to_string());
    assert_eq!(
        got,
        [
            row("a@x.com", "dry_run"),
            row("b@x.com", "invalid_input"),
            row("c@x.com", "invalid_input"),
            row("d@x.com", "invalid_input"),
        ]
    );
    let stats = sim.stats();
    assert_eq!((stats.settings_gets, stats.password_puts), (1, 4));

    // --offline keeps the old check of the file alone: nothing asked, every row passes.
    let dir = util::tmp();
    let (result, report) = run_against(dir.path(), &sim, &["--dry-run", "--offline"]).await;
    assert_eq!(result.exit_code, 0);
    assert!(util::summary(&report).iter().all(|r| r.2 == "dry_run"));
    let stats = sim.stats();
    assert_eq!((stats.settings_gets, stats.password_puts), (1, 4));
}
