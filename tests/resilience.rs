//! Issue 4, resilience: safe retries, Server-to-Server OAuth, crash-safe resume, clean
//! shutdown, one run per report. End to end, in-process through `run()` or through the
//! binary, against the simulator's faults (and wiremock where a sequence must be exact).
//!
//! This file holds the shared helpers (the generated users and their input, the report's
//! state, the binary run in the background); the tests are grouped by topic: `retries`
//! (faults, sent-unknown, not-sent, other 4xx, Retry-After forms), `oauth` (S2S, 401
//! renewal, refused credentials), `resume` (the daily limit, 24 hours, kill -9, an edited
//! input, unanswered attempts) and `signals` (SIGTERM, a second signal, the grace, the lock).

use crate::util::{self, next_midnight, p};
use std::collections::{BTreeSet, HashMap};
use std::path::{Path, PathBuf};
use std::process::{Child, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant, SystemTime};
use wiremock::matchers::{method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};
use zoom_rotate::ledger::journal;
use zoom_rotate::ledger::report;
use zoom_rotate::simulator::{RetryAfterFormat, SimConfig, SimHandle};
use zoom_rotate::vocab::stop::{Stop, StopReason};
use zoom_rotate::vocab::Outcome;
use zoom_rotate::vocab::Row;
use zoom_rotate::vocab::MAY_HAVE_APPLIED;
use zoom_rotate::zoom::auth::Credentials;

/// Fast retries: the default half-second base would make these tests slow.
/// A short request timeout for the runs a test kills with requests on the wire: their
/// resume waits it out before sending those users again (issue 10, defect 21).
const SHORT_TIMEOUT: &str = "[api]\ntimeout_secs = 2\n";
const FAST_RETRY: &str = "[retry]\nattempts = 8\nbase_delay_ms = 20\nmax_delay_ms = 200\n";
const CONFIRMED: &str = "password changed: confirmed on retry (Zoom answers same-as-old, so an earlier unanswered attempt applied it)";
const AFTER_UNANSWERED: &str =
    "password changed (after an unanswered attempt with the same password)";
const SAME_AS_OLD_BODY: &str =
    r#"{"code":300,"message":"Your new password can not match the old password."}"#;
const DAILY_BODY: &str = r#"{"code":429,"message":"You have reached the maximum daily rate limit for this API. Refer to the response header for details on when you can make another request."}"#;

fn email(n: usize) -> String {
    format!("user{n}@example.com")
}

fn password(n: usize) -> String {
    format!("Rotated-{n}-Kqx")
}

/// The input for generated users 1..=n: `user{n}@example.com` and a distinct password.
fn input_csv(n: usize) -> String {
    let mut s = String::from("email,password\n");
    for i in 1..=n {
        s.push_str(&format!("{},{}\n", email(i), password(i)));
    }
    s
}

/// A simulator of `n` generated users (`user{n}@example.com`), configured by `f`.
async fn gen_sim(n: u32, f: impl FnOnce(&mut SimConfig)) -> SimHandle {
    let mut c = SimConfig {
        generate_users: Some(n),
        ..SimConfig::default()
    };
    f(&mut c);
    util::sim(c).await
}

fn s2s() -> Credentials {
    Credentials::simulator("sim-account", "sim-client", "sim-secret")
}

/// A run of users 1..=n with [`FAST_RETRY`], reporting to `dir/r.csv`, plus `extra` words.
async fn fast_run(
    dir: &Path,
    n: usize,
    extra: &[&str],
    creds: Credentials,
) -> anyhow::Result<zoom_rotate::commands::run::RunResult> {
    let input = util::write(dir, "in.csv", input_csv(n));
    let config = util::write(dir, "c.toml", FAST_RETRY);
    let mut words = vec![
        p(&input),
        "--report".into(),
        p(&dir.join("r.csv")),
        "--config".into(),
        p(&config),
    ];
    words.extend(extra.iter().map(|s| s.to_string()));
    let words: Vec<&str> = words.iter().map(String::as_str).collect();
    util::run(dir, &words, creds).await
}

/// Each user's latest row (the state `--resume` reads), by user.
fn latest(report: &Path) -> HashMap<String, Row> {
    let mut m = HashMap::new();
    for r in util::rows(report) {
        m.insert(r.user_id.clone(), r);
    }
    m
}

/// Every user of 1..=n changed exactly once, to the input's password, and their latest
/// report row is `changed`.
fn assert_all_changed_once(sim: &SimHandle, report: &Path, n: usize) {
    let latest = latest(report);
    assert_eq!(latest.len(), n, "a row for every user");
    for i in 1..=n {
        let u = sim.user(&email(i)).unwrap();
        assert_eq!(
            (u.change_count, u.current_password.as_str()),
            (1, password(i).as_str()),
            "{}",
            email(i)
        );
        let row = &latest[&email(i)];
        assert_eq!(row.outcome, Outcome::Changed, "{row:?}");
        assert_eq!(row.line, i as u64 + 1);
    }
}

/// The sum of `attempts` over `rows`.
fn attempts(rows: &[Row]) -> u64 {
    rows.iter().map(|r| r.attempts as u64).sum()
}

fn count(rows: &[Row], o: Outcome) -> usize {
    rows.iter().filter(|r| r.outcome == o).count()
}

/// Moves the simulator past the next 00:00 UTC.
fn past_midnight(sim: &SimHandle) {
    let now = sim.now();
    sim.advance_clock(next_midnight(now).duration_since(now).unwrap() + Duration::from_secs(5));
}

// ---------------------------------------------------------------- the binary in the background

/// A binary run in the background; its stderr goes to a file (a pipe read only at the
/// end could fill up and stall it).
struct Bin {
    child: Child,
    stderr: PathBuf,
}

impl Bin {
    fn id(&self) -> u32 {
        self.child.id()
    }

    /// kill -9, and reap it.
    fn kill_9(&mut self) {
        self.child.kill().unwrap();
        self.child.wait().unwrap();
    }
}

fn bin_run(dir: &Path, sim: &SimHandle, input: &Path, report: &Path, extra: &[&str]) -> Bin {
    static RUNS: AtomicUsize = AtomicUsize::new(0);
    let stderr = dir.join(format!(
        "stderr-{}.log",
        RUNS.fetch_add(1, Ordering::Relaxed)
    ));
    let mut c = util::bin();
    c.current_dir(dir)
        .arg("run")
        .arg(input)
        .arg("--report")
        .arg(report)
        .arg("--base-url")
        .arg(sim.base_url())
        .args(extra)
        .env("ZOOM_ACCESS_TOKEN", "sim-token")
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(&stderr).unwrap());
    // A test that sets the request timeout (which a resume after a crash waits out)
    // brings its own config.
    if !extra.contains(&"--config") {
        c.arg("--config").arg(util::empty_config(dir));
    }
    Bin {
        child: c.spawn().expect("binary starts"),
        stderr,
    }
}

/// Waits for the run to exit (at most `limit`); its exit code and stderr.
async fn wait_exit(mut run: Bin, limit: Duration) -> (i32, String) {
    let started = Instant::now();
    loop {
        if let Some(status) = run.child.try_wait().unwrap() {
            let err = std::fs::read_to_string(&run.stderr).unwrap();
            return (status.code().unwrap_or(-1), err);
        }
        if started.elapsed() > limit {
            run.kill_9();
            panic!("the binary did not exit within {limit:?}");
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// Data rows in the report (0 while it does not exist).
fn report_rows(report: &Path) -> usize {
    report::read(report).map(|r| r.len()).unwrap_or(0)
}

async fn wait_for_rows(report: &Path, n: usize) {
    let started = Instant::now();
    while report_rows(report) < n {
        assert!(started.elapsed() < Duration::from_secs(20), "no progress");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

/// Lines the journal left by a killed run says were in flight.
fn in_flight(report: &Path) -> BTreeSet<u64> {
    let Some(prev) = journal::read(&zoom_rotate::ledger::side::journal(report)).unwrap() else {
        return BTreeSet::new();
    };
    let reported: BTreeSet<u64> = report::read_after(report, prev.epoch_offset)
        .unwrap()
        .iter()
        .map(|r| r.line)
        .collect();
    prev.sent
        .iter()
        .map(|r| r.line)
        .filter(|l| !reported.contains(l))
        .collect()
}

mod oauth;
mod resume;
mod retries;
mod signals;
