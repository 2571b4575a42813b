//! Issue 19, defect 9: a dry run asks Zoom what the real run would. With a wrong token and
//! an account that requires 14-character passwords, `--dry-run` reported every row
//! `dry_run`, exit 0, and the real run then refused them. Now it fetches the token (exit 2
//! when refused), reads and applies the account's rules, and sends no password; the
//! server sees exactly the token and settings requests, never a PUT. `--offline` keeps
//! the old check of the file alone (no request at all); without credentials, and without
//! `--offline` or `--simulate`, a dry run is refused like a real run.

use super::*;
use wiremock::matchers::path;

/// Three rows that meet a 14-character minimum and two (13 and 12 characters) that meet
/// only Zoom's basic rules.
const INPUT: &str = "email,password\n\
    a@x.com,Long-Enough-Pass-1\n\
    b@x.com,Short-Pass-12\n\
    c@x.com,Another-Long-Pw-22\n\
    d@x.com,Tiny-Pass-9x\n\
    e@x.com,Third-Long-Pass-3\n";

/// The settings answer of an account that requires 14 characters.
fn strict_settings() -> ResponseTemplate {
    ResponseTemplate::new(200).set_body_json(json!({"security": {"password_requirement": {
        "minimum_password_length": 14, "have_special_character": false,
        "consecutive_characters_length": 0, "weak_enhance_detection": false}}}))
}

/// A Zoom stand-in: the token endpoint answers `token` (for Server-to-Server
/// credentials), the settings read `settings`, and any PUT 204 (so one would show).
async fn zoom(token: ResponseTemplate, settings: ResponseTemplate) -> MockServer {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/oauth/token"))
        .respond_with(token)
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path("/v2/accounts/me/settings"))
        .respond_with(settings)
        .mount(&server)
        .await;
    Mock::given(method("PUT"))
        .respond_with(ResponseTemplate::new(204))
        .mount(&server)
        .await;
    server
}

fn token_granted() -> ResponseTemplate {
    ResponseTemplate::new(200).set_body_json(json!({"access_token": "granted-token",
        "token_type": "bearer", "expires_in": 3600, "scope": "user:write:admin"}))
}

/// Every request the server received, as (method, path), in order.
async fn requests(server: &MockServer) -> Vec<(String, String)> {
    server
        .received_requests()
        .await
        .unwrap()
        .into_iter()
        .map(|r| (r.method.to_string(), r.url.path().to_string()))
        .collect()
}

fn request(m: &str, p: &str) -> (String, String) {
    (m.to_string(), p.to_string())
}

const S2S: &[(&str, &str)] = &[
    ("ZOOM_ACCOUNT_ID", "acct-1"),
    ("ZOOM_CLIENT_ID", "client-1"),
    ("ZOOM_CLIENT_SECRET", "secret-canary-1"),
];

/// `run in.csv --dry-run --log-format json <extra>` in `dir` against `server` with `env`:
/// the exit code, the JSON summary, stderr.
async fn dry_run(
    dir: &Path,
    server: &MockServer,
    env: &[(&str, &str)],
    extra: &[&str],
) -> (Option<i32>, Value, String) {
    util::write(dir, "in.csv", INPUT);
    let config = util::empty_config(dir);
    let mut cmd = bin();
    cmd.current_dir(dir)
        .envs(env.iter().copied())
        .args(["run", "in.csv", "--report", "r.csv", "--dry-run", "--yes"])
        .args(["--base-url", &util::v2(server), "--config", &p(&config)])
        .args(["--token-url", &format!("{}/oauth/token", server.uri())])
        .args(["--log-format", "json"])
        .args(extra);
    let out = util::bin_output(cmd).await;
    let (stdout, stderr) = util::text(&out);
    let summary = serde_json::from_str(stdout.trim())
        .unwrap_or_else(|e| panic!("{e}: one JSON summary expected:\n{stdout}\n{stderr}"));
    (out.status.code(), summary, stderr)
}

/// (line, user, outcome, attempts, message) of each report row, by line.
fn report(dir: &Path) -> Vec<(u64, String, String, u32, String)> {
    util::rows_by_line(&dir.join("r.csv"))
        .into_iter()
        .map(|r| {
            let o = r.outcome.as_str().to_string();
            (r.line, r.user_id, o, r.attempts, r.message)
        })
        .collect()
}

#[tokio::test]
async fn a_dry_run_with_a_wrong_token_is_exit_2_and_puts_nothing() {
    let refused_token = ResponseTemplate::new(401).set_body_json(
        json!({"reason": "Invalid client_id or client_secret", "error": "invalid_client"}),
    );
    let refused_read = ResponseTemplate::new(401)
        .set_body_json(json!({"code": 124, "message": "Invalid access token."}));
    // A fixed token: the settings read answers 401, and a fixed token cannot be renewed.
    let dir = util::tmp();
    let server = zoom(token_granted(), refused_read).await;
    let env = [("ZOOM_ACCESS_TOKEN", "wrong-token-canary")];
    let (code, summary, stderr) = dry_run(dir.path(), &server, &env, &[]).await;
    assert_eq!(code, Some(2), "{summary}\n{stderr}");
    assert_eq!(summary["stopped_code"], "credentials", "{summary}");
    assert!(
        summary["stopped"]
            .as_str()
            .unwrap()
            .contains("Invalid access token."),
        "{summary}"
    );
    assert_eq!(
        requests(&server).await,
        [request("GET", "/v2/accounts/me/settings")]
    );
    assert!(!dir.path().join("r.csv").exists(), "no report on exit 2");
    assert!(!stderr.contains("wrong-token-canary") && !summary.to_string().contains("canary"));

    // Server-to-Server credentials: the token endpoint refuses them, nothing else is asked.
    let dir = util::tmp();
    let server = zoom(refused_token, strict_settings()).await;
    let (code, summary, stderr) = dry_run(dir.path(), &server, S2S, &[]).await;
    assert_eq!(code, Some(2), "{summary}\n{stderr}");
    assert_eq!(summary["stopped_code"], "credentials", "{summary}");
    assert_eq!(requests(&server).await, [request("POST", "/oauth/token")]);
    assert!(!dir.path().join("r.csv").exists(), "no report on exit 2");
    assert!(!stderr.contains("secret-canary") && !summary.to_string().contains("canary"));
}

#[tokio::test]
async fn a_dry_run_applies_the_account_rules_as_the_real_run_would() {
    let dir = util::tmp();
    let server = zoom(token_granted(), strict_settings()).await;
    let (code, summary, stderr) = dry_run(dir.path(), &server, S2S, &[]).await;
    assert_eq!(code, Some(1), "{summary}\n{stderr}");
    let short = |line: u64, user: &str| {
        let why = format!(
            "line {line}: the password breaks Zoom's password rules (code 1124): Have at least \
             14 characters"
        );
        (line, user.to_string(), "invalid_input".to_string(), 0, why)
    };
    let passed = |line: u64, user: &str| {
        let why = "passed every check; nothing sent".to_string();
        (line, user.to_string(), "dry_run".to_string(), 0, why)
    };
    assert_eq!(
        report(dir.path()),
        [
            passed(2, "a@x.com"),
            short(3, "b@x.com"),
            passed(4, "c@x.com"),
            short(5, "d@x.com"),
            passed(6, "e@x.com"),
        ]
    );
    assert_eq!(
        (
            &summary["counts"]["dry_run"],
            &summary["counts"]["invalid_input"]
        ),
        (&json!(3), &json!(2)),
        "{summary}"
    );
    // Exactly the token and the settings read: no PUT.
    assert_eq!(
        requests(&server).await,
        [
            request("POST", "/oauth/token"),
            request("GET", "/v2/accounts/me/settings")
        ]
    );
    assert!(
        stderr.contains("(dry run: no password is sent)"),
        "{stderr}"
    );
}

#[tokio::test]
async fn offline_asks_zoom_nothing_and_checks_the_basic_rules_only() {
    // Today's check, kept: a wrong token and a strict account go unseen, by design.
    let dir = util::tmp();
    let refused_read = ResponseTemplate::new(401)
        .set_body_json(json!({"code": 124, "message": "Invalid access token."}));
    let server = zoom(token_granted(), refused_read).await;
    let env = [("ZOOM_ACCESS_TOKEN", "wrong-token")];
    let (code, summary, stderr) = dry_run(dir.path(), &server, &env, &["--offline"]).await;
    assert_eq!(code, Some(0), "{summary}\n{stderr}");
    assert!(report(dir.path())
        .iter()
        .all(|r| r.2 == "dry_run" && r.3 == 0));
    assert_eq!(summary["counts"]["dry_run"], 5, "{summary}");
    assert!(
        stderr.contains("(offline dry run: nothing is sent, Zoom is not asked"),
        "{stderr}"
    );
    // Without credentials too.
    let dir = util::tmp();
    let (code, summary, _) = dry_run(dir.path(), &server, &[], &["--offline"]).await;
    assert_eq!(code, Some(0), "{summary}");
    assert!(requests(&server).await.is_empty(), "no request at all");

    // Without credentials and without --offline, a dry run is refused as a real run is,
    // saying which flag checks the file alone.
    let dir = util::tmp();
    let (code, summary, _) = dry_run(dir.path(), &server, &[], &[]).await;
    assert_eq!(code, Some(2), "{summary}");
    assert_eq!(summary["stopped_code"], "credentials", "{summary}");
    let stopped = summary["stopped"].as_str().unwrap();
    assert!(
        stopped.starts_with("a dry run asks Zoom what the real run would")
            && stopped.contains("--offline checks the file alone")
            && stopped.contains("no credentials: set ZOOM_ACCESS_TOKEN"),
        "{stopped}"
    );
    assert!(requests(&server).await.is_empty());
    assert!(!dir.path().join("r.csv").exists());

    // --offline means nothing without --dry-run: a usage error, not a real run.
    let mut cmd = bin();
    cmd.args(["run", "in.csv", "--offline"]);
    let out = util::bin_output(cmd).await;
    assert_eq!(out.status.code(), Some(2));
    assert!(
        util::text(&out).1.contains("--dry-run"),
        "{:?}",
        util::text(&out)
    );
}

#[tokio::test]
async fn a_dry_run_with_simulate_starts_the_simulator_and_reads_its_rules() {
    let dir = util::tmp();
    util::write(dir.path(), "in.csv", INPUT);
    let config = util::write(
        dir.path(),
        "c.toml",
        "[simulator.password_requirement]\nminimum_password_length = 14\n",
    );
    let mut cmd = bin();
    cmd.current_dir(dir.path())
        .args(["run", "in.csv", "--report", "r.csv", "--dry-run", "--yes"])
        .args(["--simulate", "--config", &p(&config)]);
    let out = util::bin_output(cmd).await;
    let (stdout, stderr) = util::text(&out);
    assert_eq!(out.status.code(), Some(1), "{stdout}\n{stderr}");
    assert!(stderr.contains("SIMULATION"), "{stderr}");
    let outcomes: Vec<String> = report(dir.path()).into_iter().map(|r| r.2).collect();
    assert_eq!(
        outcomes,
        [
            "dry_run",
            "invalid_input",
            "dry_run",
            "invalid_input",
            "dry_run"
        ]
    );
}

/// The preview of a resume (`--resume --dry-run`) is a dry run too: it asks Zoom the same
/// (a wrong token is exit 2) and applies the account's rules, and still writes nothing.
#[tokio::test]
async fn a_preview_of_a_resume_asks_zoom_too() {
    let dir = util::tmp();
    let nobody = zoom(token_granted(), strict_settings()).await;
    let (code, _, stderr) = dry_run(dir.path(), &nobody, &[], &["--offline"]).await;
    assert_eq!(code, Some(0), "{stderr}");
    let before = std::fs::read(dir.path().join("r.csv")).unwrap();

    let refused_read = ResponseTemplate::new(401)
        .set_body_json(json!({"code": 124, "message": "Invalid access token."}));
    let server = zoom(token_granted(), refused_read).await;
    let env = [("ZOOM_ACCESS_TOKEN", "wrong-token")];
    let (code, summary, _) = dry_run(dir.path(), &server, &env, &["--resume"]).await;
    assert_eq!(code, Some(2), "{summary}");
    assert_eq!(summary["stopped_code"], "credentials", "{summary}");
    assert_eq!(
        requests(&server).await,
        [request("GET", "/v2/accounts/me/settings")]
    );

    let server = zoom(token_granted(), strict_settings()).await;
    let (code, summary, stderr) = dry_run(dir.path(), &server, S2S, &["--resume"]).await;
    assert_eq!(code, Some(1), "{summary}\n{stderr}");
    assert!(
        stderr.contains("preview of --resume: it would send 3 rows")
            && stderr.contains("; 2 rows would be refused;"),
        "{stderr}"
    );
    assert_eq!(
        requests(&server).await,
        [
            request("POST", "/oauth/token"),
            request("GET", "/v2/accounts/me/settings")
        ]
    );
    assert_eq!(std::fs::read(dir.path().join("r.csv")).unwrap(), before);
    assert!(requests(&nobody).await.is_empty());
}
