//! Issue 10, inputs: what the operator's files and flags and the account's settings hand
//! the program. The account's password rules are checked before they are trusted (an
//! impossible policy stops the run before any PUT, and the generator's draws are
//! bounded); the rate has a floor; passwords are sent as the file holds them or refused,
//! never trimmed unseen; a closed stdout is no panic; generated passwords are saved off
//! the runtime's threads; and the simulator's clock refuses an absurd advance.

use crate::util;
use secrecy::{ExposeSecret, SecretString};
use serde_json::{json, Value};
use std::os::fd::{FromRawFd, OwnedFd};
use std::path::Path;
use std::process::Stdio;
use std::sync::Arc;
use wiremock::matchers::{method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};
use zoom_rotate::ledger::passwords::SavedPasswords;
use zoom_rotate::pipeline::generate::Generator;
use zoom_rotate::simulator::SimConfig;
use zoom_rotate::vocab::cell::neutralise;
use zoom_rotate::zoom::rules::PasswordPolicy;

const TOKEN: &str = "tok-inputs-9Qz";

/// A `PUT .../password` mock answering 204, expected `n` times.
async fn puts_answer_204(server: &MockServer, n: u64) {
    Mock::given(method("PUT"))
        .respond_with(ResponseTemplate::new(204))
        .expect(n)
        .mount(server)
        .await;
}

/// The settings endpoint serving `requirement` as the account's password rules.
async fn settings_serve(server: &MockServer, requirement: Value) {
    Mock::given(method("GET"))
        .and(path("/v2/accounts/me/settings"))
        .respond_with(
            ResponseTemplate::new(200)
                .set_body_json(json!({"security": {"password_requirement": requirement}})),
        )
        .expect(1)
        .mount(server)
        .await;
}

// Defect 3: a policy no password can satisfy stops the run (exit 2) before any PUT.
#[tokio::test]
async fn an_impossible_account_policy_stops_the_run_before_any_put() {
    let server = MockServer::start().await;
    settings_serve(
        &server,
        json!({
            "minimum_password_length": 0,
            "have_special_character": false,
            "consecutive_characters_length": 1,
            "weak_enhance_detection": false
        }),
    )
    .await;
    puts_answer_204(&server, 0).await;
    let dir = util::tmp();
    let input = util::write(dir.path(), "in.csv", "email,name\na@x.com,A\nb@x.com,B\n");
    let report = dir.path().join("r.csv");
    let base = util::v2(&server);
    let words = [
        input.to_str().unwrap(),
        "--report",
        report.to_str().unwrap(),
        "--base-url",
        &base,
        "--generate",
        "--discard-passwords",
        "--yes",
    ];
    // A hang guard only (the old code looped forever here), not a timing assertion.
    let run = util::run(dir.path(), &words, util::token(TOKEN));
    let result = tokio::time::timeout(std::time::Duration::from_secs(120), run)
        .await
        .expect("the run ends");
    let err = result.expect_err("an impossible policy is exit 2");
    assert_eq!(
        format!("{err:#}"),
        "the account's password rules (GET /accounts/me/settings?option=security) cannot be \
         used: security.password_requirement.consecutive_characters_length = 1: expected 0 \
         (off) or 4 to 8; no password was sent (fix the account's security settings, or \
         pass --no-fetch-policy to check only Zoom's basic rules)"
    );
    assert!(!report.exists(), "no report for a run that sent nothing");
    let received = server.received_requests().await.unwrap();
    let methods: Vec<&str> = received.iter().map(|r| r.method.as_str()).collect();
    assert_eq!(methods, ["GET"], "the settings read only, no PUT");
}

// Defect 3, the generator's side: even handed an impossible policy directly, it gives up
// after a bounded number of draws instead of looping forever.
#[test]
fn the_generator_gives_up_on_an_impossible_policy() {
    let impossible = PasswordPolicy {
        consecutive_characters_length: 1,
        ..PasswordPolicy::default()
    };
    let err = Generator::new(20)
        .next(&impossible)
        .expect_err("no password");
    assert_eq!(
        err.to_string(),
        "no generated password met the account's password rules in 1000 draws: the rules \
         cannot be met (PasswordPolicy { minimum_password_length: 0, have_special_character: \
         false, consecutive_characters_length: 1, weak_enhance_detection: false })"
    );
    assert_eq!(zoom_rotate::pipeline::generate::MAX_DRAWS, 1000);
}

// Defect 8: saves run off the runtime's threads; many at once all land, each line whole,
// and each `save` returns only once its line is on disk (read back right after).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn many_concurrent_saves_all_land_durably_with_their_content() {
    let dir = util::tmp();
    let path = dir.path().join("generated.csv");
    let saved = Arc::new(SavedPasswords::create(&path).unwrap());
    let mut generator = Generator::new(20);
    let policy = PasswordPolicy::default();
    let pairs: Vec<(String, SecretString)> = (0..300)
        .map(|i| {
            let user = format!("user{i}@x.com");
            let password = generator.password_for(&user, &policy).unwrap();
            (user, password)
        })
        .collect();
    let mut tasks = tokio::task::JoinSet::new();
    for (user, password) in pairs.clone() {
        let (saved, path) = (saved.clone(), path.clone());
        tasks.spawn(async move {
            saved.save(&user, &password).await.unwrap();
            // Written before `save` returned: the line is already in the file.
            let text = std::fs::read_to_string(&path).unwrap();
            // Neutralised where a spreadsheet would run it (issue 19).
            let line = format!("{user},{}\n", neutralise(password.expose_secret()));
            assert!(text.contains(&line), "{user}'s line is in the file");
        });
    }
    while let Some(joined) = tasks.join_next().await {
        joined.unwrap();
    }
    drop(saved);
    let text = std::fs::read_to_string(&path).unwrap();
    let mut lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines.remove(0), "user_id,password");
    let mut expected: Vec<String> = pairs
        .iter()
        .map(|(u, p)| format!("{u},{}", neutralise(p.expose_secret())))
        .collect();
    lines.sort();
    expected.sort();
    // Compared without printing: a failure must not show the passwords.
    assert!(
        lines == expected,
        "the file holds exactly the 300 lines saved"
    );
    let (_again, map) = SavedPasswords::open_for_resume(&path).unwrap();
    assert_eq!(map.len(), 300);
    for (user, password) in &pairs {
        let same = map[user].expose_secret() == password.expose_secret();
        assert!(same, "{user} reads back its own password");
    }
}

/// Runs the binary with `args`, stdin empty, and returns (exit code, stderr).
async fn bin_run(args: &[&str]) -> (Option<i32>, String) {
    let mut cmd = util::bin();
    cmd.args(args);
    let out = util::bin_output(cmd).await;
    (out.status.code(), util::text(&out).1)
}

// Defect 10: a rate under the floor (or not a number) is exit 2 naming the field.
#[tokio::test]
async fn a_rate_outside_its_range_is_exit_2_naming_the_field() {
    let dir = util::tmp();
    let input = util::write(dir.path(), "in.csv", "email,password\na@x.com,Zoom1357Rx\n");
    let input = input.to_str().unwrap();
    let empty = util::empty_config(dir.path());
    let empty = empty.to_str().unwrap();
    let expected = "expected 0.01 to 100000 requests per second";
    for (flag, shown) in [
        ("1e-30", "1e-30"),
        ("NaN", "NaN"),
        ("inf", "inf"),
        ("0.005", "0.005"),
    ] {
        let report = dir.path().join(format!("r-{flag}.csv"));
        let (code, stderr) = bin_run(&[
            "run",
            input,
            "--config",
            empty,
            "--report",
            report.to_str().unwrap(),
            "--rate",
            flag,
            "--dry-run",
        ])
        .await;
        assert_eq!(code, Some(2), "--rate {flag}: {stderr}");
        let message = format!("invalid --rate = {shown}: {expected}");
        assert!(stderr.contains(&message), "--rate {flag}: {stderr}");
        assert!(!report.exists());
    }
    for (value, shown) in [("-1.0", "-1.0"), ("1e9", "1000000000.0")] {
        let config = util::write(dir.path(), "rate.toml", format!("[rate]\nrate = {value}\n"));
        let (code, stderr) = bin_run(&[
            "run",
            input,
            "--config",
            config.to_str().unwrap(),
            "--report",
            dir.path().join("r-config.csv").to_str().unwrap(),
            "--dry-run",
        ])
        .await;
        assert_eq!(code, Some(2), "rate = {value}: {stderr}");
        let message = format!("invalid rate.rate (config.toml) = {shown}: {expected}");
        assert!(stderr.contains(&message), "rate = {value}: {stderr}");
    }
    // The floor itself is a rate.
    let report = dir.path().join("r-floor.csv");
    let (code, stderr) = bin_run(&[
        "run",
        input,
        "--config",
        empty,
        "--report",
        report.to_str().unwrap(),
        "--rate",
        "0.01",
        "--dry-run",
        // The rate's floor is what is checked, not Zoom (issue 19: a dry run asks Zoom).
        "--offline",
    ])
    .await;
    assert_eq!(code, Some(0), "{stderr}");
    assert_eq!(
        util::summary(&report),
        [(2, "a@x.com".into(), "dry_run".into(), None, None, 0)]
    );
}

// Defect 19: blanks at a password's ends are refused, never trimmed; inner ones are sent.
#[tokio::test]
async fn a_password_with_blanks_at_its_ends_is_refused_never_trimmed() {
    let server = MockServer::start().await;
    puts_answer_204(&server, 2).await;
    let dir = util::tmp();
    let csv = "email,password\n\
        a@x.com, Maple7-Quartz-Rain\n\
        b@x.com,Maple7-Quartz-Rain\t\n\
        c@x.com,\"Maple7-Quartz-Rain \"\n\
        d@x.com,Maple 7 Quartz Rain\n\
        e@x.com,Orbit-Lantern-19x\n";
    let input = util::write(dir.path(), "in.csv", csv);
    let report = dir.path().join("r.csv");
    let base = util::v2(&server);
    let words = [
        input.to_str().unwrap(),
        "--report",
        report.to_str().unwrap(),
        "--base-url",
        &base,
        "--no-fetch-policy",
        "--yes",
    ];
    let result = util::run(dir.path(), &words, util::token(TOKEN))
        .await
        .unwrap();
    assert_eq!(result.exit_code, 1);
    let refused = |line: u64| {
        format!(
            "line {line}: the password begins or ends with a blank (space, tab or other \
             whitespace); it was not sent, and is never trimmed: fix the cell so it holds \
             exactly the password"
        )
    };
    let rows: Vec<(u64, String, String, u32, String)> = util::rows_by_line(&report)
        .into_iter()
        .map(|r| {
            let message = if r.outcome.as_str() == "changed" {
                String::new()
            } else {
                r.message
            };
            (
                r.line,
                r.user_id,
                r.outcome.as_str().into(),
                r.attempts,
                message,
            )
        })
        .collect();
    let row = |line, user: &str, outcome: &str, attempts, message: String| {
        (
            line,
            user.to_string(),
            outcome.to_string(),
            attempts,
            message,
        )
    };
    assert_eq!(
        rows,
        [
            row(2, "a@x.com", "invalid_input", 0, refused(2)),
            row(3, "b@x.com", "invalid_input", 0, refused(3)),
            row(4, "c@x.com", "invalid_input", 0, refused(4)),
            row(5, "d@x.com", "changed", 1, String::new()),
            row(6, "e@x.com", "changed", 1, String::new()),
        ]
    );
    let mut received: Vec<(String, String, String)> = server
        .received_requests()
        .await
        .unwrap()
        .into_iter()
        .map(|r| {
            (
                r.method.to_string(),
                r.url.path().to_string(),
                String::from_utf8(r.body).unwrap(),
            )
        })
        .collect();
    received.sort();
    let put = |user: &str, body: &str| {
        (
            "PUT".to_string(),
            format!("/v2/users/{user}%40x.com/password"),
            body.to_string(),
        )
    };
    assert_eq!(
        received,
        [
            put("d", r#"{"password":"Maple 7 Quartz Rain"}"#),
            put("e", r#"{"password":"Orbit-Lantern-19x"}"#),
        ]
    );
}

// Defect 14: an absurd clock advance is a 400, and the simulator answers afterwards.
#[tokio::test]
async fn an_absurd_clock_advance_is_a_400_and_the_simulator_lives_on() {
    let sim = util::sim(SimConfig::default()).await;
    let http = reqwest::Client::new();
    let base = format!("http://{}", sim.addr());
    let advance = |secs: String| {
        http.post(format!("{base}/_sim/clock?advance_secs={secs}"))
            .send()
    };
    let refused = advance(u64::MAX.to_string()).await.expect("an answer");
    assert_eq!(refused.status().as_u16(), 400);
    let body: Value = refused.json().await.unwrap();
    assert_eq!(
        body,
        json!({
            "code": 300,
            "message": "advance_secs = 18446744073709551615: expected at most 3155760000 \
                        seconds (the simulator clock runs at most 100 years ahead; it is 0 s \
                        ahead now)"
        })
    );
    let before = sim.now();
    let moved = advance("60".into()).await.expect("still answering");
    assert_eq!(moved.status().as_u16(), 200);
    let ahead = sim.now().duration_since(before).unwrap().as_secs();
    assert!((60..120).contains(&ahead), "moved {ahead} s");
    let stats = http.get(format!("{base}/_sim/stats")).send().await.unwrap();
    assert_eq!(stats.status().as_u16(), 200);
    let put = http
        .put(format!("{base}/v2/users/u1/password"))
        .bearer_auth("sim-token")
        .json(&json!({"password": "Fresh-Pass-71x"}))
        .send()
        .await
        .unwrap();
    assert_ne!(put.status().as_u16(), 500);
}

/// A pipe whose read end is already closed: whatever is written to the other end fails
/// with EPIPE (Rust programs ignore SIGPIPE).
fn closed_pipe() -> Stdio {
    let mut fds = [0; 2];
    // SAFETY: pipe fills two fresh descriptors; the read end is closed at once and the
    // write end is owned by the returned Stdio alone.
    unsafe {
        assert_eq!(libc::pipe(fds.as_mut_ptr()), 0);
        libc::close(fds[0]);
        Stdio::from(OwnedFd::from_raw_fd(fds[1]))
    }
}

fn users_config(dir: &Path) -> std::path::PathBuf {
    let users = util::write(
        dir,
        "sim-users.csv",
        "id,email,password,role,changes_24h,recent_passwords\n\
         u1,a@x.com,Old-Pass-01x,member,0,\n\
         u2,b@x.com,Old-Pass-02x,member,0,\n",
    );
    util::write(
        dir,
        "sim.toml",
        format!(
            "[simulator]\nusers_file = {:?}\n",
            users.display().to_string()
        ),
    )
}

// Defect 18: a closed stdout after the work is done is no panic; the exit code is the
// run's and the report is complete. `completions` and `man` neither panic.
#[tokio::test]
async fn a_closed_stdout_is_no_panic_and_the_exit_code_stays_the_runs() {
    let dir = util::tmp();
    let input = util::write(
        dir.path(),
        "in.csv",
        "email,password\na@x.com,Maple7-Quartz-Rain\nb@x.com,Orbit-Lantern-19x\n",
    );
    let report = dir.path().join("r.csv");
    let config = users_config(dir.path());
    let mut cmd = util::bin();
    cmd.args(["run", input.to_str().unwrap(), "--simulate", "--yes"])
        .args(["--config", config.to_str().unwrap()])
        .args(["--report", report.to_str().unwrap()])
        .stdout(closed_pipe());
    let out = util::bin_output(cmd).await;
    let stderr = util::text(&out).1;
    assert_eq!(out.status.code(), Some(0), "{stderr}");
    assert!(
        stderr.contains("the summary could not be written to standard output (Broken pipe"),
        "{stderr}"
    );
    assert_eq!(
        util::summary(&report),
        [
            (2, "a@x.com".into(), "changed".into(), Some(204), None, 1),
            (3, "b@x.com".into(), "changed".into(), Some(204), None, 1),
        ]
    );
    for words in [&["completions", "bash"][..], &["man"]] {
        let mut cmd = util::bin();
        cmd.args(words).stdout(closed_pipe());
        let out = util::bin_output(cmd).await;
        assert_eq!(
            out.status.code(),
            Some(0),
            "{words:?}: {}",
            util::text(&out).1
        );
    }
}
