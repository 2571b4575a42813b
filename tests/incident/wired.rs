//! Issue 20, the incident end to end: `run --contain-sso --evidence`. The flow
//! through the binary on the demo account (users → run → review → `sha256sum -c`), the
//! exact revoke Zoom gets (and none for a Google user), the revokes' pace and their 429s
//! measured at the simulator's Light budget, and a kill -9 between a revoke and its
//! report row, after which `--resume` revokes no one twice.

use super::*;
use std::process::Stdio;
use std::time::{Duration, Instant};
use wiremock::matchers::{header, method};
use wiremock::{Mock, MockServer, ResponseTemplate};
use zoom_rotate::simulator::{SimConfig, SimHandle};
use zoom_rotate::vocab::Outcome;

/// The binary against the simulator `sim`, in `dir`, with the fixed token.
fn against(sim: &SimHandle, dir: &Path, words: &[&str]) -> std::process::Command {
    let mut c = util::bin();
    c.current_dir(dir)
        .args(words)
        .arg("--base-url")
        .arg(sim.base_url())
        .arg("--config")
        .arg(util::write(dir, "config.toml", FAST_RETRY))
        .env("ZOOM_ACCESS_TOKEN", "sim-token");
    c
}

/// The latest row per user of a report.
fn latest(report: &Path) -> std::collections::HashMap<String, zoom_rotate::vocab::Row> {
    util::rows(report)
        .into_iter()
        .map(|r| (r.user_id.clone(), r))
        .collect()
}

fn sha256sum_c(folder: &Path) -> bool {
    util::scrub(&mut std::process::Command::new("sha256sum"))
        .args(["-c", "SHA256SUMS"])
        .current_dir(folder)
        .output()
        .expect("sha256sum (coreutils) is installed")
        .status
        .success()
}

/// Every file of `folder`, read whole.
fn files(folder: &Path) -> Vec<(PathBuf, Vec<u8>)> {
    std::fs::read_dir(folder)
        .unwrap()
        .map(|e| e.unwrap().path())
        .map(|p| (p.clone(), std::fs::read(&p).unwrap()))
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_incident_flow_users_run_contain_review_evidence() {
    let dir = util::tmp();
    let d = dir.path();
    let sim = util::sim(SimConfig::default()).await; // the demo account
    let listed = util::bin_output(against(&sim, d, &["users", "--group", "g-finance"])).await;
    assert!(listed.status.success(), "{}", util::text(&listed).1);
    std::fs::write(d.join("affected.csv"), &listed.stdout).unwrap();
    let mut run = against(&sim, d, &["run", "affected.csv", "--generate"]);
    run.args([
        "--discard-passwords",
        "--contain-sso",
        "--evidence",
        "incident/",
    ])
    .args(["--report", "incident-report.csv", "--yes"]);
    let ran = util::bin_output(run).await;
    let (_, err) = util::text(&ran);
    let rows = latest(&d.join("incident-report.csv"));
    let outcome = |u: &str| rows[u].outcome;
    for u in ["u1001", "u1003", "u1005"] {
        assert_eq!(outcome(u), Outcome::Changed, "{u}: {err}");
    }
    assert_eq!(outcome("u1012"), Outcome::SsoRevoked, "sam.sso");
    let gina = &rows["u1013"];
    assert_eq!(gina.outcome, Outcome::Rejected);
    assert!(
        gina.message.contains("signs in with 1 (Google)"),
        "{}",
        gina.message
    );
    assert!(
        gina.message.contains("end their sessions"),
        "{}",
        gina.message
    );
    // Every listed user has a final row.
    let listed_users = String::from_utf8_lossy(&listed.stdout).lines().count() - 1;
    assert_eq!(rows.len(), listed_users);
    assert!(rows.values().all(|r| r.outcome.is_final()), "{rows:?}");
    assert_eq!(sim.stats().token_revokes, 1, "only sam.sso is revoked");
    // The review lists who is not done, the Google user included; a resume would send nothing.
    let mut review = util::bin();
    review
        .current_dir(d)
        .args(["status", "incident-report.csv", "--only", "not-done"]);
    let review = util::text(&util::bin_output(review).await).0;
    assert!(
        review.contains("u1013") && review.contains("Google"),
        "{review}"
    );
    assert!(
        !review.contains("u1012") && !review.contains("u1001"),
        "{review}"
    );
    // The evidence verifies with coreutils and with the tool, and holds no secret.
    let folder = d.join("incident");
    assert!(sha256sum_c(&folder));
    let mut verify = util::bin();
    verify.args(["evidence", "verify"]).arg(&folder);
    assert!(util::bin_output(verify).await.status.success());
    let secrets: Vec<String> = ["sim-token".to_string()]
        .into_iter()
        .chain(["u1001", "u1003", "u1005"].map(|u| sim.user(u).unwrap().current_password))
        .collect();
    for (file, bytes) in files(&folder) {
        let text = String::from_utf8_lossy(&bytes);
        for s in &secrets {
            assert!(
                !text.contains(s.as_str()),
                "{} holds a secret",
                file.display()
            );
        }
        let mode = std::os::unix::fs::PermissionsExt::mode(
            &std::fs::metadata(&file).unwrap().permissions(),
        );
        assert_eq!(mode & 0o777, 0o600, "{}", file.display());
    }
    assert!(files(&folder)
        .iter()
        .any(|(f, _)| f.ends_with("report.csv.meta")));
    // One byte changed in any file, and neither check passes.
    for (file, bytes) in files(&folder) {
        let mut touched = bytes.clone();
        touched[0] ^= 1;
        std::fs::write(&file, &touched).unwrap();
        assert!(!sha256sum_c(&folder), "{}", file.display());
        assert!(zoom_rotate::commands::evidence::verify(&folder).is_err());
        std::fs::write(&file, &bytes).unwrap();
    }
    assert!(sha256sum_c(&folder));
}

/// A wiremock Zoom where every PUT answers 400/1123 and every revoke 204.
async fn no_passwords() -> MockServer {
    let server = MockServer::start().await;
    Mock::given(method("PUT"))
        .respond_with(util::zoom_error(
            400,
            1123,
            "Can only update password of Zoom work email account.",
        ))
        .mount(&server)
        .await;
    Mock::given(method("DELETE"))
        .and(header("authorization", "Bearer wm-token"))
        .respond_with(ResponseTemplate::new(204))
        .mount(&server)
        .await;
    server
}

#[tokio::test]
async fn the_revoke_is_zooms_exact_request_and_only_for_sso() {
    let server = no_passwords().await;
    let dir = util::tmp();
    let input = "email,password,login_types\nsam+sso@x.example,Maple7-Quartz-Rain,101\ngina@x.example,Maple7-Quartz-Rain,1\n";
    let input_path = util::p(&util::write(dir.path(), "in.csv", input));
    let words = [
        input_path.as_str(),
        "--base-url",
        &util::v2(&server),
        "--contain-sso",
        "--no-fetch-policy",
    ];
    let r = util::run(dir.path(), &words, util::token("wm-token"))
        .await
        .unwrap();
    let deletes: Vec<_> = server
        .received_requests()
        .await
        .unwrap()
        .into_iter()
        .filter(|r| r.method.as_str() == "DELETE")
        .collect();
    assert_eq!(deletes.len(), 1, "no revoke for the Google user");
    assert_eq!(
        deletes[0].url.path(),
        "/v2/users/sam%2Bsso%40x.example/token"
    );
    assert_eq!(deletes[0].headers["authorization"], "Bearer wm-token");
    assert!(deletes[0].body.is_empty());
    let rows = latest(&r.report);
    let sam = &rows["sam+sso@x.example"];
    assert_eq!(
        (sam.outcome, sam.http_status, sam.attempts),
        (Outcome::SsoRevoked, Some(204), 2)
    );
    assert_eq!(rows["gina@x.example"].outcome, Outcome::Rejected);
    assert_eq!(r.exit_code, 1, "the Google user is not done");
    // Without the flag: no revoke, and the row says what the flag does.
    let dir = util::tmp();
    let input_path = util::p(&util::write(dir.path(), "in.csv", input));
    let words = [
        input_path.as_str(),
        "--base-url",
        &util::v2(&server),
        "--no-fetch-policy",
    ];
    let r = util::run(dir.path(), &words, util::token("wm-token"))
        .await
        .unwrap();
    let sam = &latest(&r.report)["sam+sso@x.example"];
    assert_eq!(sam.outcome, Outcome::Rejected);
    assert!(
        sam.message.contains("101 (SSO)") && sam.message.contains("--contain-sso signs them out"),
        "{}",
        sam.message
    );
}

/// An account of `n` SSO users, and an input naming them.
fn sso_account(dir: &Path, n: usize, config: SimConfig) -> SimConfig {
    let mut users = "id,email,password,role,changes_24h,recent_passwords,login_types\n".to_string();
    let mut input = "email\n".to_string();
    for i in 1..=n {
        users += &format!("s{i},sso{i}@x.example,Unused-Pw-{i}1,member,0,,101\n");
        input += &format!("sso{i}@x.example\n");
    }
    util::write(dir, "in.csv", input);
    SimConfig {
        users_file: Some(util::write(dir, "sim-users.csv", users)),
        ..config
    }
}

async fn contain_all(
    dir: &Path,
    sim: &SimHandle,
    rate: &str,
) -> zoom_rotate::commands::run::RunResult {
    let config = util::p(&util::write(dir, "config.toml", FAST_RETRY));
    let input = util::p(&dir.join("in.csv"));
    let words = [
        input.as_str(),
        "--base-url",
        &sim.base_url(),
        "--generate",
        "--discard-passwords",
        "--contain-sso",
        "--plan",
        "pro",
        "--rate",
        rate,
        "--config",
        &config,
    ];
    util::run(dir, &words, util::token("sim-token"))
        .await
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn revokes_keep_the_light_rate_at_the_simulator() {
    let dir = util::tmp();
    // --rate 10 of pro's 20: the Light rate is half of pro's 30, 15/s.
    let config = SimConfig {
        light_qps: Some(16),
        qps: Some(40),
        ..SimConfig::default()
    };
    let sim = util::sim(sso_account(dir.path(), 24, config)).await;
    let r = contain_all(dir.path(), &sim, "10").await;
    assert_eq!(r.tally.get(Outcome::SsoRevoked), 24);
    assert_eq!(r.exit_code, 0);
    let stats = sim.stats();
    assert_eq!((stats.token_revokes, stats.rate_limited_light), (24, 0));
    let admitted = sim.admitted_light();
    let span = admitted.last().unwrap().duration_since(admitted[0]);
    let burst = zoom_rotate::pipeline::limiter::burst_for(15.0) as f64;
    let floor = (24.0 - burst) / 15.0 * 0.9;
    assert!(
        span.as_secs_f64() >= floor,
        "24 revokes in {span:?}: faster than 15/s"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_429_on_the_light_budget_is_waited_out() {
    let dir = util::tmp();
    // The job's Light rate (pro, all of it: 30/s) far above the account's 2/s.
    let config = SimConfig {
        light_qps: Some(2),
        qps: Some(40),
        ..SimConfig::default()
    };
    let sim = util::sim(sso_account(dir.path(), 8, config)).await;
    let r = contain_all(dir.path(), &sim, "20").await;
    let stats = sim.stats();
    assert!(stats.rate_limited_light > 0, "{stats:?}");
    assert_eq!(
        stats.rate_limited_qps, 0,
        "the Medium budget is not the one refused"
    );
    assert_eq!(
        r.tally.get(Outcome::SsoRevoked),
        8,
        "{:?}",
        util::summary(&r.report)
    );
    assert_eq!(stats.token_revokes, 8 + stats.rate_limited_light);
}

/// The pid of `parent`'s only child (strace's tracee).
fn child_of(parent: u32) -> u32 {
    let path = format!("/proc/{parent}/task/{parent}/children");
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let text = std::fs::read_to_string(&path).unwrap_or_default();
        if let Some(pid) = text.split_whitespace().next() {
            return pid.parse().unwrap();
        }
        assert!(Instant::now() < deadline, "no tracee");
        std::thread::sleep(Duration::from_millis(10));
    }
}

/// One try at killing the run between a revoke's answer (journaled) and its report row;
/// `None` when the kill missed that window (the run had already ended: on a loaded
/// machine the delayed write can still land first), so the caller tries again.
async fn kill_between_revoke_and_row() -> Option<(tempfile::TempDir, SimHandle)> {
    let dir = util::tmp();
    let d = dir.path();
    let sim = util::sim(sso_account(d, 1, SimConfig::default())).await;
    let report = d.join("r.csv");
    // Every write to the report takes 3 s (strace delays it): the revoke's answer and its
    // journal record are in, its report row is not, when the kill comes.
    let mut traced = util::scrub(&mut std::process::Command::new("strace"))
        .args(["-f", "-qq", "-o", "/dev/null", "-P"])
        .arg(&report)
        .args([
            "-e",
            "trace=write,writev",
            "-e",
            "inject=write,writev:delay_enter=3000000",
            "--",
        ])
        .arg(env!("CARGO_BIN_EXE_zoom-rotate"))
        .args([
            "run",
            "in.csv",
            "--generate",
            "--discard-passwords",
            "--contain-sso",
            "--report",
        ])
        .arg(&report)
        .args(["--base-url", &sim.base_url(), "--config"])
        .arg(util::write(d, "config.toml", FAST_RETRY))
        .current_dir(d)
        .env("ZOOM_ACCESS_TOKEN", "sim-token")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("strace runs");
    let tracee = child_of(traced.id());
    let journal = d.join("r.csv.journal");
    let deadline = Instant::now() + Duration::from_secs(30);
    while !std::fs::read_to_string(&journal)
        .unwrap_or_default()
        .contains("\nV ")
    {
        assert!(Instant::now() < deadline, "no answered revoke journaled");
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    let killed = std::process::Command::new("kill")
        .args(["-9", &tracee.to_string()])
        .output()
        .unwrap();
    if !killed.status.success() {
        traced.wait().unwrap();
        return None;
    }
    traced.wait().unwrap();
    assert_eq!(sim.stats().token_revokes, 1);
    if !util::rows(&report).is_empty() {
        return None;
    }
    Some((dir, sim))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kill_9_between_a_revoke_and_its_report_row_then_resume_revokes_no_one_twice() {
    let mut caught = None;
    for _ in 0..3 {
        caught = kill_between_revoke_and_row().await;
        if caught.is_some() {
            break;
        }
    }
    let (dir, sim) = caught.expect("a kill caught the run between a revoke and its row");
    let d = dir.path();
    let report = d.join("r.csv");
    let mut resume = against(
        &sim,
        d,
        &["run", "in.csv", "--generate", "--discard-passwords"],
    );
    resume.args(["--contain-sso", "--resume", "--report", "r.csv"]);
    let resumed = util::bin_output(resume).await;
    assert_eq!(resumed.status.code(), Some(0), "{}", util::text(&resumed).1);
    let stats = sim.stats();
    assert_eq!(
        (stats.token_revokes, stats.password_puts),
        (1, 1),
        "nothing sent again"
    );
    let row = &latest(&report)["sso1@x.example"];
    assert_eq!((row.outcome, row.attempts), (Outcome::SsoRevoked, 0));
    assert!(row.message.contains("journal"), "{}", row.message);
}
