//! Canary secrets: a token, passwords and a client secret that no output may contain.
//! Every run here is the binary at `RUST_LOG=trace` (every crate's debug output on), and
//! each checks stdout, stderr and the report: through success, every kind of failure,
//! local refusals, a dry run, Server-to-Server OAuth with a forced renewal, and servers
//! that echo the request, body and Authorization header, back in their answers.

use super::*;
use base64::Engine as _;
use wiremock::matchers::path;
use wiremock::{Request, Respond};

const CANARY_TOKEN: &str = "CANARY-TOKEN-q8Zr2";
const CANARY_SECRET: &str = "CANARY-SECRET-w3Lx";

/// A canary password, valid under Zoom's basic rules.
fn pw(i: u32) -> String {
    format!("Canary-Pw-{i:02}xQ")
}

/// Asserts that `text` holds no canary in any form a leak could take: as is, in any
/// case (so JSON-, percent- and HTML-escaped forms of these ASCII values too), and the
/// Basic credentials of the client secret in base64.
fn assert_clean(what: &str, text: &str) {
    let basic =
        base64::engine::general_purpose::STANDARD.encode(format!("sim-client:{CANARY_SECRET}"));
    for needle in ["canary", &basic.to_lowercase()] {
        if let Some(line) = text.lines().find(|l| l.to_lowercase().contains(needle)) {
            panic!("{what} leaks a canary ({needle}) in this line:\n{line}");
        }
    }
}

/// Asserts that a binary run and its report hold no canary.
fn assert_run_clean(output: &Output, report: &Path) {
    let (out, err) = util::text(output);
    assert_clean("stdout", &out);
    assert_clean("stderr", &err);
    if report.exists() {
        assert_clean("the report", &std::fs::read_to_string(report).unwrap());
    }
    // RUST_LOG=trace took effect (by default no debug line shows): the assertions above
    // had the most verbose output to look at.
    assert!(
        err.contains("DEBUG") || err.contains("\"level\":\"DEBUG\""),
        "no debug output:\n{err}"
    );
}

/// The binary's `run` with `words` after the input and the report.
fn run_cmd(dir: &Path, input: &Path, report: &Path, words: &[&str]) -> Command {
    let mut c = traced();
    c.arg("run")
        .arg(input)
        .arg("--report")
        .arg(report)
        .arg("--yes")
        .args(words);
    if !words.contains(&"--config") {
        c.arg("--config").arg(util::empty_config(dir));
    }
    c
}

/// Users of the simulator run: one per outcome the account can produce.
const SIM_USERS: &str = "id,email,password,role,changes_24h,recent_passwords\n\
    u1,alice@example.com,Old-Pass-01x,member,0,\n\
    u2,bob@example.com,Canary-Pw-02xQ,member,0,\n\
    u3,carol@example.com,Old-Pass-03x,member,0,Canary-Pw-03xQ\n\
    u4,dave@example.com,Old-Pass-04x,member,3,\n\
    u5,owner@example.com,Old-Pass-05x,owner,0,\n";

/// One row per outcome: changed, same_as_old, policy_rejected (history), change limit,
/// rejected (owner), user_not_found, and local refusals that name the password's fault.
fn sim_input() -> String {
    format!(
        "email,password\n\
         alice@example.com,{}\n\
         bob@example.com,{}\n\
         carol@example.com,{}\n\
         dave@example.com,{}\n\
         owner@example.com,{}\n\
         nobody@example.com,{}\n\
         ALICE@example.com,{}\n\
         eve@example.com,canary-pw-08xq\n\
         frank@example.com,\"Canary-Pw-\u{1}09xQ\"\n\
         grace@example.com,CanaryPw10xQz\n\
         heidi@example.com,Canary-Pw-11xQ-and-far-too-long-to-be-one\n",
        pw(1),
        pw(2),
        pw(3),
        pw(4),
        pw(5),
        pw(6),
        pw(7)
    )
}

#[tokio::test]
async fn canaries_stay_secret_through_every_answer_of_the_simulator() {
    let dir = util::tmp();
    let sim = sim_with(
        dir.path(),
        SIM_USERS,
        SimConfig {
            access_token: CANARY_TOKEN.into(),
            password_requirement: zoom_rotate::zoom::rules::PasswordPolicy {
                have_special_character: true,
                ..Default::default()
            },
            ..SimConfig::default()
        },
    )
    .await;
    let input = util::write(dir.path(), "input.csv", sim_input());
    let report = dir.path().join("report.csv");
    let mut cmd = run_cmd(
        dir.path(),
        &input,
        &report,
        &["--base-url", &sim.base_url()],
    );
    cmd.env("ZOOM_ACCESS_TOKEN", CANARY_TOKEN);
    let output = util::bin_output(cmd).await;
    assert_eq!(output.status.code(), Some(1), "{}", both(&output));
    let outcomes: Vec<(u64, String)> = util::summary(&report)
        .into_iter()
        .map(|r| (r.0, r.2))
        .collect();
    let expected = [
        "changed",
        "same_as_old",
        "policy_rejected",
        "change_limit_24h",
        "rejected",
        "user_not_found",
        "invalid_input",
        "invalid_input",
        "invalid_input",
        "invalid_input",
        "invalid_input",
    ];
    let expected: Vec<(u64, String)> = expected
        .iter()
        .enumerate()
        .map(|(i, o)| (i as u64 + 2, o.to_string()))
        .collect();
    assert_eq!(outcomes, expected);
    assert_eq!(sim.stats().settings_gets, 1);
    assert_run_clean(&output, &report);

    // The same input, dry run: every row's password checked, no password sent, nothing
    // said. It asks the simulator, with the canary token, what the real run asked (issue
    // 19): the account's rules, once more; no PUT.
    let report = dir.path().join("dry.csv");
    let puts = sim.stats().password_puts;
    let mut cmd = run_cmd(
        dir.path(),
        &input,
        &report,
        &["--dry-run", "--base-url", &sim.base_url()],
    );
    cmd.env("ZOOM_ACCESS_TOKEN", CANARY_TOKEN);
    let output = util::bin_output(cmd).await;
    assert_eq!(output.status.code(), Some(1), "{}", both(&output));
    assert_eq!(
        (sim.stats().settings_gets, sim.stats().password_puts),
        (2, puts)
    );
    assert_run_clean(&output, &report);
}

#[tokio::test]
async fn the_client_secret_stays_secret_through_token_renewals() {
    let dir = util::tmp();
    let mut users = "id,email,password,role,changes_24h,recent_passwords\n".to_string();
    let mut input = "email,password\n".to_string();
    for i in 1..=6 {
        users.push_str(&format!(
            "u{i},user{i}@example.com,Old-Pass-{i:02}x,member,0,\n"
        ));
        input.push_str(&format!("user{i}@example.com,{}\n", pw(i)));
    }
    let sim = sim_with(
        dir.path(),
        &users,
        SimConfig {
            client_secret: CANARY_SECRET.into(),
            // Every second request finds its token worn out: a 401, a renewal, a retry.
            token_max_uses: Some(2),
            ..SimConfig::default()
        },
    )
    .await;
    let input = util::write(dir.path(), "input.csv", input);
    let report = dir.path().join("report.csv");
    let mut cmd = run_cmd(
        dir.path(),
        &input,
        &report,
        &[
            "--token-url",
            &sim.token_url(),
            "--log-format",
            "json",
            "--concurrency",
            "1",
        ],
    );
    cmd.env("ZOOM_ACCOUNT_ID", "sim-account")
        .env("ZOOM_CLIENT_ID", "sim-client")
        .env("ZOOM_CLIENT_SECRET", CANARY_SECRET);
    let output = util::bin_output(cmd).await;
    assert_eq!(output.status.code(), Some(0), "{}", both(&output));
    let stats = sim.stats();
    assert!(stats.token_grants >= 3, "{stats:?}");
    assert!(stats.unauthorized_401 >= 1, "{stats:?}");
    assert_run_clean(&output, &report);
}

/// A server that answers every request with an error quoting what it received: the body
/// and the Authorization header, each in the escaping the user's segment asks for.
struct Echo;

/// JSON string escaping of the most suspicious kind: `\/` and every non-ASCII character
/// as an upper-case `\uXXXX`.
fn escape_everything(s: &str) -> String {
    let mut out = String::new();
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '/' => out.push_str("\\/"),
            c if c.is_ascii() && !c.is_ascii_control() => out.push(c),
            c => {
                let mut units = [0u16; 2];
                for u in c.encode_utf16(&mut units) {
                    out.push_str(&format!("\\u{u:04X}"));
                }
            }
        }
    }
    out
}

impl Respond for Echo {
    fn respond(&self, request: &Request) -> ResponseTemplate {
        let body = String::from_utf8_lossy(&request.body).into_owned();
        let auth = request
            .headers
            .get("authorization")
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default();
        let echo = format!("you sent {body} with {auth}");
        let percent =
            percent_encoding::utf8_percent_encode(&echo, percent_encoding::NON_ALPHANUMERIC)
                .to_string();
        let html = echo
            .replace('&', "&amp;")
            .replace('"', "&quot;")
            .replace('<', "&lt;");
        let user = if request.url.path().ends_with("/settings") {
            "settings"
        } else {
            request.url.path().split('/').nth(3).unwrap_or_default()
        };
        let html_page = |status: u16, text: &str| {
            ResponseTemplate::new(status)
                .insert_header("content-type", "text/html")
                .set_body_string(format!(
                    "<html><body><h1>{status}</h1><p>{text}</p></body></html>"
                ))
        };
        match user {
            "settings" => zoom_error(403, 4700, &format!("no scope for {auth}")),
            "e400" => zoom_error(
                400,
                300,
                &format!("Request Body should be a valid JSON object: {echo}"),
            ),
            "e1124" => zoom_error(400, 1124, &format!("Minimum of 6 characters, not {echo}")),
            "e1129" => ResponseTemplate::new(400).set_body_raw(
                format!(
                    r#"{{"code":1129,"message":"{}"}}"#,
                    escape_everything(&echo)
                ),
                "application/json",
            ),
            "e404" => zoom_error(404, 1001, &format!("User does not exist: {echo}")),
            "e403" => html_page(403, &percent),
            "e500" => ResponseTemplate::new(500).set_body_string(echo),
            "e502" => html_page(502, &html),
            "e429" => zoom_error(429, 429, &format!("per-second rate limit, {echo}"))
                .insert_header("retry-after", "0"),
            "e401" => zoom_error(401, 124, &format!("Invalid access token: {auth}")),
            _ => ResponseTemplate::new(204),
        }
    }
}

/// One run against the echoing server with `--body <body>`; returns the report.
async fn echo_run(body: &str) -> (tempfile::TempDir, PathBuf) {
    let server = MockServer::start().await;
    Mock::given(method("PUT"))
        .respond_with(Echo)
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path("/v2/accounts/me/settings"))
        .respond_with(Echo)
        .mount(&server)
        .await;
    let dir = util::tmp();
    // One row per kind of echoing failure, in order (--concurrency 1); the 401 is last,
    // since a refused fixed token stops the run.
    let users = [
        "ok", "e400", "e1124", "e1129", "e404", "e403", "e500", "e502", "e429", "e401",
    ];
    let mut input = "user_id,password\n".to_string();
    for (i, u) in users.iter().enumerate() {
        // The e1129 row's password has a `/` and non-ASCII, for the escapes it gets.
        let p = if *u == "e1129" {
            "Canary/Pw-é9xQ".to_string()
        } else {
            pw(i as u32)
        };
        input.push_str(&format!("{u},{p}\n"));
    }
    let input = util::write(dir.path(), "input.csv", input);
    let config = util::write(dir.path(), "config.toml", FAST_RETRY);
    let report = dir.path().join("report.csv");
    let cmd_words = [
        "--base-url",
        &v2(&server),
        "--concurrency",
        "1",
        "--config",
        config.to_str().unwrap(),
        "--body",
        body,
    ];
    let mut cmd = run_cmd(dir.path(), &input, &report, &cmd_words);
    cmd.env("ZOOM_ACCESS_TOKEN", CANARY_TOKEN);
    let output = util::bin_output(cmd).await;
    assert_eq!(output.status.code(), Some(3), "{}", both(&output));
    let got: Vec<(String, String, Option<u16>)> = util::rows_by_line(&report)
        .into_iter()
        .map(|r| (r.user_id, r.outcome.as_str().to_string(), r.http_status))
        .collect();
    let row = |u: &str, o: &str, s: u16| (u.to_string(), o.to_string(), Some(s));
    assert_eq!(
        got,
        [
            row("ok", "changed", 204),
            row("e400", "rejected", 400),
            row("e1124", "policy_rejected", 400),
            row("e1129", "policy_rejected", 400),
            row("e404", "user_not_found", 404),
            row("e403", "rejected", 403),
            row("e500", "failed", 500),
            row("e502", "failed", 502),
            row("e429", "rate_limited", 429),
            row("e401", "auth_failed", 401),
        ]
    );
    // The echoes did carry the canaries: there was something to leak.
    let requests = server.received_requests().await.unwrap();
    assert!(requests
        .iter()
        .any(|r| String::from_utf8_lossy(&r.body).contains("Canary/Pw-é9xQ")));
    assert!(requests.iter().all(|r| r.headers["authorization"]
        .to_str()
        .unwrap()
        .contains(CANARY_TOKEN)));
    assert_run_clean(&output, &report);
    (dir, report)
}

#[tokio::test]
async fn servers_that_echo_the_json_request_cannot_make_it_leak() {
    let (_dir, report) = echo_run("json").await;
    // The messages still say what the server said, with the secrets cut out.
    let e404 = util::rows(&report)
        .into_iter()
        .find(|r| r.user_id == "e404")
        .unwrap();
    assert_eq!(
        e404.message,
        "User does not exist: you sent {\"password\":\"[redacted]\"} with Bearer [redacted]"
    );
}

#[tokio::test]
async fn servers_that_echo_the_multipart_request_cannot_make_it_leak() {
    echo_run("multipart").await;
}

#[tokio::test]
async fn a_token_endpoint_that_echoes_the_credentials_cannot_make_them_leak() {
    struct TokenEcho;
    impl Respond for TokenEcho {
        fn respond(&self, request: &Request) -> ResponseTemplate {
            let auth = request
                .headers
                .get("authorization")
                .and_then(|v| v.to_str().ok())
                .unwrap_or_default()
                .to_string();
            let decoded = auth
                .strip_prefix("Basic ")
                .and_then(|b| base64::engine::general_purpose::STANDARD.decode(b).ok())
                .map(|b| String::from_utf8_lossy(&b).into_owned())
                .unwrap_or_default();
            ResponseTemplate::new(401).set_body_json(json!({
                "reason": format!("Invalid client_id or client_secret: {decoded} ({auth})"),
                "error": "invalid_client"
            }))
        }
    }
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/oauth/token"))
        .respond_with(TokenEcho)
        .expect(1)
        .mount(&server)
        .await;
    let dir = util::tmp();
    let input = util::write(
        dir.path(),
        "input.csv",
        format!("email,password\na@x.com,{}\n", pw(1)),
    );
    let report = dir.path().join("report.csv");
    let token_url = format!("{}/oauth/token", server.uri());
    let mut cmd = run_cmd(
        dir.path(),
        &input,
        &report,
        &["--token-url", &token_url, "--base-url", &v2(&server)],
    );
    cmd.env("ZOOM_ACCOUNT_ID", "sim-account")
        .env("ZOOM_CLIENT_ID", "sim-client")
        .env("ZOOM_CLIENT_SECRET", CANARY_SECRET);
    let output = util::bin_output(cmd).await;
    assert_eq!(output.status.code(), Some(2), "{}", both(&output));
    let (_, err) = util::text(&output);
    assert!(
        err.contains("the token endpoint refused the credentials (HTTP 401)"),
        "{err}"
    );
    assert!(sent(&server).await.is_empty());
    assert_run_clean(&output, &report);
}
