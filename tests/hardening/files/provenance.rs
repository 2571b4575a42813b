//! Issue 19, defects 2 and 3: a report counts as done only for the campaign that wrote
//! it. Its sidecar records whether it was simulated, the API host, the account, the first
//! run's start and the version; a `--resume` refuses, with exit 2 and before anything is
//! sent (not even a token request), a simulation's report by a real run and the other
//! way round, a report of another host or account (`report_mismatch`), and a report whose
//! first run began longer ago than `--max-report-age` (`report_too_old`), on the sidecar's
//! word and on the real clock (moved by `faketime`). An older version's report is
//! accepted and gets provenance recorded.

use super::*;
use serde_json::Value;
use std::time::{Duration, SystemTime};
use zoom_rotate::output::context::refusal_code;
use zoom_rotate::vocab::RefusalCode;
use zoom_rotate::zoom::auth::Credentials;

const DAY: Duration = Duration::from_secs(86_400);

/// The sidecar `<report>.meta`, as JSON.
fn meta(report: &Path) -> Value {
    let bytes = std::fs::read(zoom_rotate::ledger::side::meta(report)).unwrap();
    serde_json::from_slice(&bytes).unwrap()
}

fn set_meta(report: &Path, v: &Value) {
    std::fs::write(zoom_rotate::ledger::side::meta(report), v.to_string()).unwrap();
}

/// A config whose simulator holds `u1..=un` (each with a password unlike [`password`]).
fn sim_config(dir: &Path, n: u32) -> PathBuf {
    util::write(
        dir,
        "sim.toml",
        format!("[simulator]\ngenerate_users = {n}\n"),
    )
}

/// Every request the server received, of any method.
async fn requests(server: &MockServer) -> usize {
    server.received_requests().await.unwrap().len()
}

/// The binary, `run` with `words` and JSON logs: (exit code, the summary, stderr).
async fn bin_run(words: &[String], env: &[(&str, &str)]) -> (Option<i32>, Value, String) {
    let mut cmd = util::bin();
    cmd.arg("run").args(words).args(["--log-format", "json"]);
    for (k, v) in env {
        cmd.env(k, v);
    }
    let out = util::bin_output(cmd).await;
    let (stdout, stderr) = util::text(&out);
    let v: Value = serde_json::from_str(stdout.trim())
        .unwrap_or_else(|e| panic!("one JSON summary ({e}): {stdout}\n{stderr}"));
    (out.status.code(), v, stderr)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_simulations_report_is_refused_by_a_real_run_and_nothing_is_sent() {
    let server = ok_server().await;
    let dir = util::tmp();
    let input = input(dir.path(), "in.csv", 3);
    let report = dir.path().join("incident.csv");
    let config = p(&sim_config(dir.path(), 3));
    let rehearsal: Vec<String> = [&p(&input), "--simulate", "--report", &p(&report)]
        .iter()
        .map(|s| s.to_string())
        .chain(["--config".into(), config.clone(), "--yes".into()])
        .collect();
    let (code, v, _) = bin_run(&rehearsal, &[]).await;
    assert_eq!(
        (code, &v["counts"]["changed"]),
        (Some(0), &Value::from(3)),
        "{v}"
    );
    let recorded = meta(&report)["provenance"].clone();
    assert_eq!(recorded["simulated"], true, "{recorded}");
    assert_eq!(recorded["api_host"], "127.0.0.1", "{recorded}");
    assert_eq!(recorded["account"], "sim-account", "{recorded}");
    assert_eq!(recorded["version"], env!("CARGO_PKG_VERSION"));
    let started = humantime::parse_rfc3339(recorded["first_started_at"].as_str().unwrap());
    assert!(SystemTime::now().duration_since(started.unwrap()).unwrap() < DAY);
    let evidence = std::fs::read(&report).unwrap();

    // The real run, with real-looking credentials, pointed at a server that counts.
    let mut real = words(&server, &input, &report, &["--resume", "--config", &config]);
    real.extend([
        "--token-url".into(),
        format!("{}/oauth/token", server.uri()),
    ]);
    let s2s = [
        ("ZOOM_ACCOUNT_ID", "acct-1"),
        ("ZOOM_CLIENT_ID", "client"),
        ("ZOOM_CLIENT_SECRET", "secret-never-sent"),
    ];
    let (code, v, stderr) = bin_run(&real, &s2s).await;
    assert_eq!(code, Some(2), "{v}\n{stderr}");
    assert_eq!(v["stopped_code"], "report_mismatch", "{v}");
    let stopped = v["stopped"].as_str().unwrap();
    assert!(
        stopped.starts_with(&format!(
            "--resume: the report {} was written by a simulation (--simulate), and this run sends to 127.0.0.1 (account acct-1): its rows say nothing about this run's users; continue it with --simulate, or start a new report for this run (e.g. --report {}",
            report.display(),
            dir.path().join("incident-").display()
        )),
        "{stopped}"
    );
    assert_eq!(requests(&server).await, 0, "not even a token request");
    assert_eq!(std::fs::read(&report).unwrap(), evidence);
    assert_eq!(meta(&report)["provenance"], recorded);
    let sidecar = std::fs::read_to_string(zoom_rotate::ledger::side::meta(&report)).unwrap();
    for said in [&stderr, &v.to_string(), &sidecar] {
        assert!(!said.contains("secret-never-sent"), "{said}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_real_runs_report_is_refused_by_a_simulation() {
    let server = ok_server().await;
    let dir = util::tmp();
    let input = input(dir.path(), "in.csv", 2);
    let report = dir.path().join("r.csv");
    let config = p(&sim_config(dir.path(), 2));
    let first = run(dir.path(), &server, &input, &report, &["--config", &config]).await;
    assert_eq!(first.unwrap().exit_code, 0);
    assert_eq!(puts(&server).await, vec![put(1), put(2)]);
    let recorded = meta(&report)["provenance"].clone();
    assert_eq!(
        (&recorded["simulated"], &recorded["api_host"]),
        (&Value::from(false), &Value::from("127.0.0.1"))
    );
    assert!(
        recorded.get("account").is_none(),
        "a fixed token names none"
    );
    let evidence = std::fs::read(&report).unwrap();
    let e = run(
        dir.path(),
        &server,
        &input,
        &report,
        &["--config", &config, "--resume", "--simulate"],
    )
    .await
    .expect_err("exit 2");
    assert_eq!(refusal_code(&e), RefusalCode::ReportMismatch);
    assert!(
        format!("{e:#}").starts_with(&format!(
            "--resume: the report {} was written by a real run against 127.0.0.1, and this is a simulation (--simulate): its rows say nothing about this run's users; continue it without --simulate, or start a new report",
            report.display()
        )),
        "{e:#}"
    );
    assert_eq!(requests(&server).await, 2, "nothing more");
    assert_eq!(std::fs::read(&report).unwrap(), evidence);
}

/// A "real" run against a stand-in (the simulator, served apart, with Server-to-Server
/// credentials): continuing its report with another account, or against Zoom itself, is
/// refused before the token is asked for.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_report_of_another_account_or_host_is_refused_before_the_token() {
    let dir = util::tmp();
    let sim = util::sim(zoom_rotate::simulator::SimConfig {
        generate_users: Some(2),
        ..Default::default()
    })
    .await;
    let input = input(dir.path(), "in.csv", 2);
    std::fs::write(
        &input,
        format!("user_id,password\nu1,{}\nu2,short\n", password(1)),
    )
    .unwrap();
    let report = dir.path().join("r.csv");
    let token_url = sim.token_url();
    let base = sim.base_url();
    let go = |creds: Credentials, base: &str, extra: &[&str]| {
        let mut w = vec![p(&input), "--report".into(), p(&report), "--yes".into()];
        w.extend(
            [
                "--base-url",
                base,
                "--token-url",
                &token_url,
                "--no-fetch-policy",
            ]
            .map(String::from),
        );
        w.extend(extra.iter().map(|s| s.to_string()));
        let dir = dir.path().to_path_buf();
        async move {
            let w: Vec<&str> = w.iter().map(String::as_str).collect();
            util::run(&dir, &w, creds).await
        }
    };
    let ours = || Credentials::simulator("sim-account", "sim-client", "sim-secret");
    let first = go(ours(), &base, &[]).await.unwrap();
    assert_eq!(
        first.exit_code, 1,
        "u2 is refused before sending: it remains"
    );
    assert_eq!(meta(&report)["provenance"]["account"], "sim-account");
    let before = (sim.stats().token_grants, sim.stats().password_puts);
    assert_eq!(before, (1, 1));
    let other = Credentials::simulator("acct-2", "sim-client", "sim-secret");
    let e = go(other, &base, &["--resume"]).await.expect_err("exit 2");
    assert_eq!(refusal_code(&e), RefusalCode::ReportMismatch);
    assert!(
        format!("{e:#}").contains("was written by a real run against 127.0.0.1 (account sim-account), and this run sends to 127.0.0.1 (account acct-2): its rows say nothing about this run's users; continue it with account sim-account's credentials, or start a new report"),
        "{e:#}"
    );
    let e = go(ours(), "https://api.zoom.us/v2", &["--resume"])
        .await
        .expect_err("exit 2");
    assert_eq!(refusal_code(&e), RefusalCode::ReportMismatch);
    assert!(
        format!("{e:#}").contains("and this run sends to api.zoom.us (account sim-account): its rows say nothing about this run's users; continue it against 127.0.0.1 (the --base-url or --token-url that run had)"),
        "{e:#}"
    );
    assert_eq!(
        (sim.stats().token_grants, sim.stats().password_puts),
        before
    );
    // The same account at the same host continues it.
    let again = go(ours(), &base, &["--resume"]).await.unwrap();
    assert_eq!((again.exit_code.code(), again.skipped), (1, 1));
}

/// u1 done, u2 refused before sending (its password too short): a report with work left.
async fn half_done(dir: &Path, server: &MockServer) -> (PathBuf, PathBuf) {
    let input = input(dir, "in.csv", 2);
    std::fs::write(
        &input,
        format!("user_id,password\nu1,{}\nu2,short\n", password(1)),
    )
    .unwrap();
    let report = dir.join("r.csv");
    let first = run(dir, server, &input, &report, &[]).await.unwrap();
    assert_eq!(first.exit_code, 1);
    assert_eq!(puts(server).await, vec![put(1)]);
    // The input fixed for the resume: u2's password.
    std::fs::write(
        &input,
        format!("user_id,password\nu1,{}\nu2,{}\n", password(1), password(2)),
    )
    .unwrap();
    (input, report)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_old_report_is_refused_naming_its_age_and_the_override_accepts_it() {
    let server = ok_server().await;
    let dir = util::tmp();
    let (input, report) = half_done(dir.path(), &server).await;
    // The campaign began 40 days and an hour ago, as its sidecar says.
    let mut m = meta(&report);
    let then = SystemTime::now() - 40 * DAY - Duration::from_secs(3600);
    let then_text = humantime::format_rfc3339_seconds(then).to_string();
    m["provenance"]["first_started_at"] = Value::from(then_text.clone());
    set_meta(&report, &m);
    let evidence = std::fs::read(&report).unwrap();
    let e = run(dir.path(), &server, &input, &report, &["--resume"])
        .await
        .expect_err("exit 2");
    assert_eq!(refusal_code(&e), RefusalCode::ReportTooOld);
    let said = format!("{e:#}");
    assert!(
        said.starts_with(&format!(
            "--resume: the report {} was started 40 days ago ({then_text}), longer ago than the 30 days a report may be continued (--max-report-age, [report] max_age_days)",
            report.display()
        )),
        "{said}"
    );
    assert!(
        said.ends_with("or, if it is the same campaign, pass --max-report-age 41"),
        "{said}"
    );
    assert_eq!(requests(&server).await, 1, "nothing sent");
    assert_eq!(std::fs::read(&report).unwrap(), evidence);
    // Too small an override is refused the same way; config.toml's setting too.
    let e = run(
        dir.path(),
        &server,
        &input,
        &report,
        &["--resume", "--max-report-age", "40"],
    );
    assert_eq!(
        refusal_code(&e.await.unwrap_err()),
        RefusalCode::ReportTooOld
    );
    let config = p(&util::write(
        dir.path(),
        "old.toml",
        "[report]\nmax_age_days = 0\n",
    ));
    let e = run(
        dir.path(),
        &server,
        &input,
        &report,
        &["--resume", "--config", &config],
    )
    .await;
    assert_eq!(
        format!("{:#}", e.unwrap_err()),
        "invalid report.max_age_days = 0: expected 1 to 3650 days"
    );
    // The override: only u2 is sent, and the campaign keeps its first start.
    let ok = run(
        dir.path(),
        &server,
        &input,
        &report,
        &["--resume", "--max-report-age", "41"],
    )
    .await
    .unwrap();
    assert_eq!((ok.exit_code.code(), ok.skipped), (0, 1));
    assert_eq!(puts(&server).await, vec![put(1), put(2)]);
    let kept = meta(&report);
    assert_eq!(
        kept["provenance"]["first_started_at"],
        Value::from(then_text)
    );
    let words: Vec<&str> = kept["command"]
        .as_array()
        .unwrap()
        .iter()
        .map(|w| w.as_str().unwrap())
        .collect();
    assert!(
        words.windows(2).any(|w| w == ["--max-report-age", "41"]),
        "{words:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_older_versions_report_is_accepted_and_gets_provenance() {
    let server = ok_server().await;
    let dir = util::tmp();
    let (input, report) = half_done(dir.path(), &server).await;
    let mut m = meta(&report);
    m.as_object_mut().unwrap().remove("provenance");
    set_meta(&report, &m);
    let before = SystemTime::now();
    let ok = run(dir.path(), &server, &input, &report, &["--resume"])
        .await
        .unwrap();
    assert_eq!((ok.exit_code.code(), ok.skipped), (0, 1));
    assert_eq!(puts(&server).await, vec![put(1), put(2)]);
    let recorded = meta(&report)["provenance"].clone();
    assert_eq!(recorded["recorded_late"], true, "{recorded}");
    assert_eq!(recorded["simulated"], false, "{recorded}");
    assert_eq!(recorded["api_host"], "127.0.0.1", "{recorded}");
    let started = humantime::parse_rfc3339(recorded["first_started_at"].as_str().unwrap()).unwrap();
    assert!(started + Duration::from_secs(1) >= before, "{recorded}");
}

/// The real clock, moved 40 days on by `faketime` (the Debian package; CI installs it):
/// the resume is refused (exit 2, `report_too_old`) with nothing sent, and accepted with
/// `--max-report-age 60`, whose log says how old the rows it skips are.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_old_report_is_refused_on_the_real_clock() {
    let faketime = std::process::Command::new("faketime")
        .arg("--version")
        .output();
    assert!(
        faketime.is_ok(),
        "this test needs the faketime command: apt-get install faketime"
    );
    let server = ok_server().await;
    let dir = util::tmp();
    let (input, report) = half_done(dir.path(), &server).await;
    let later = |extra: &[&str]| {
        let mut cmd = std::process::Command::new("faketime");
        cmd.env_remove("ZOOM_ACCESS_TOKEN").env_remove("RUST_LOG");
        cmd.args(["-f", "+40d", env!("CARGO_BIN_EXE_zoom-rotate"), "run"])
            .args(words(&server, &input, &report, &["--resume"]))
            .args([
                "--config",
                &p(&util::empty_config(dir.path())),
                "--log-format",
                "json",
            ])
            .args(extra)
            .env("ZOOM_ACCESS_TOKEN", TOKEN)
            .stdin(std::process::Stdio::null());
        util::bin_output(cmd)
    };
    let out = later(&[]).await;
    let (stdout, stderr) = util::text(&out);
    assert_eq!(out.status.code(), Some(2), "{stdout}\n{stderr}");
    let v: Value = serde_json::from_str(stdout.trim()).unwrap();
    assert_eq!(v["stopped_code"], "report_too_old", "{v}");
    let stopped = v["stopped"].as_str().unwrap();
    assert!(stopped.contains(" was started 40 days ago ("), "{stopped}");
    assert!(stopped.ends_with("pass --max-report-age 41"), "{stopped}");
    assert_eq!(requests(&server).await, 1, "nothing sent");

    let out = later(&["--max-report-age", "60"]).await;
    let (stdout, stderr) = util::text(&out);
    assert_eq!(out.status.code(), Some(0), "{stdout}\n{stderr}");
    assert_eq!(puts(&server).await, vec![put(1), put(2)]);
    let resuming = stderr
        .lines()
        .filter_map(|l| serde_json::from_str::<Value>(l).ok())
        .find(|l| l["message"] == "resuming")
        .unwrap_or_else(|| panic!("no resuming line: {stderr}"));
    assert_eq!(
        resuming["fields"]["skipped_rows_age"], "40 days to 40 days old",
        "{resuming}"
    );
    assert_eq!(
        resuming["fields"]["first_run_started"], "40 days ago",
        "{resuming}"
    );
}
