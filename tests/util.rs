//! Shared helpers for the integration tests: building a `run` from command-line words,
//! running it in-process or through the binary, starting simulators, reading reports.
//!
//! Every in-process run gets `--config` pointing at an empty file unless the test gives
//! one, so the repository's own config.toml never leaks into a test.
//!
//! The environment is hermetic: an operator's exported `ZOOM_*` variables (credentials,
//! `ZOOM_BASE_URL`, every `ZOOM_ROTATE_*` setting, and any added later) never reach a test.
//! [`hermetic`] removes them from this process once, before the first command line is
//! parsed (clap reads them through `env = ...`); [`scrub`] removes them from every child
//! process the tests start, and points `XDG_CONFIG_HOME` at an empty directory so no
//! user's config.toml is found. A test that wants a variable sets it on its command after.

#![allow(dead_code)]

use clap::Parser;
use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::process::Output;
use std::sync::{Once, OnceLock};
use std::time::{Duration, SystemTime, UNIX_EPOCH};
use wiremock::matchers::method;
use wiremock::{Mock, MockServer, ResponseTemplate};
use zoom_rotate::cli::{Cli, Command, RunArgs};
use zoom_rotate::commands::run::RunResult;
use zoom_rotate::ledger::files::Disk;
use zoom_rotate::ledger::report;
use zoom_rotate::simulator::{self, SimConfig, SimHandle};
use zoom_rotate::vocab::stop::Stop;
use zoom_rotate::vocab::Row;
use zoom_rotate::zoom::auth::Credentials;

/// Whether `name` is one of the program's variables: `ZOOM_*`, which holds `ZOOM_ROTATE_*`.
fn is_ours(name: &OsString) -> bool {
    name.as_encoded_bytes().starts_with(b"ZOOM_")
}

/// The `ZOOM_*` variables [`hermetic`] found in the test process, removed.
static REMOVED: OnceLock<Vec<OsString>> = OnceLock::new();

/// Removes every `ZOOM_*` variable from this test process, once, and points
/// `XDG_CONFIG_HOME` at an empty directory. Called by every helper that parses a command
/// line or starts a run or a binary, so no test sees the environment it was started in;
/// a test that parses a command line itself calls it first.
pub fn hermetic() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        let ours: Vec<OsString> = std::env::vars_os()
            .map(|(name, _)| name)
            .filter(is_ours)
            .collect();
        for name in &ours {
            std::env::remove_var(name);
        }
        std::env::set_var("XDG_CONFIG_HOME", no_config_home());
        REMOVED.set(ours).expect("set once");
    });
}

/// An empty directory standing for `XDG_CONFIG_HOME`: it holds no zoom-rotate/config.toml.
fn no_config_home() -> &'static Path {
    static DIR: OnceLock<PathBuf> = OnceLock::new();
    DIR.get_or_init(|| {
        let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join("no-config-home");
        std::fs::create_dir_all(&dir).expect("create the empty config home");
        dir
    })
}

/// Clears `cmd`'s environment of every `ZOOM_*` variable (those the test process was
/// started with and any there now) and of `RUST_LOG`, and gives it the empty
/// `XDG_CONFIG_HOME`. Variables the test sets on `cmd` afterwards are kept.
pub fn scrub(cmd: &mut std::process::Command) -> &mut std::process::Command {
    hermetic();
    let now = std::env::vars_os().map(|(name, _)| name).filter(is_ours);
    for name in REMOVED
        .get()
        .expect("hermetic ran")
        .iter()
        .cloned()
        .chain(now)
    {
        cmd.env_remove(name);
    }
    cmd.env_remove("RUST_LOG")
        .env("XDG_CONFIG_HOME", no_config_home())
}

/// A fresh temporary directory, removed when dropped.
pub fn tmp() -> tempfile::TempDir {
    tempfile::tempdir().expect("tempdir")
}

/// Writes `content` to `dir/name` and returns the path.
pub fn write(dir: &Path, name: &str, content: impl AsRef<[u8]>) -> PathBuf {
    let p = dir.join(name);
    std::fs::write(&p, content).expect("write file");
    p
}

/// An empty config file in `dir`, so runs use built-in defaults.
pub fn empty_config(dir: &Path) -> PathBuf {
    let p = dir.join("empty-config.toml");
    if !p.exists() {
        std::fs::write(&p, "").expect("write config");
    }
    p
}

/// Parses `zoom-rotate run <words>`; adds `--config <empty>` when none is given.
pub fn run_args(dir: &Path, words: &[&str]) -> RunArgs {
    hermetic();
    let mut argv: Vec<String> = vec!["zoom-rotate".into(), "run".into()];
    argv.extend(words.iter().map(|w| w.to_string()));
    if !words.iter().any(|w| *w == "--config" || *w == "-c") {
        argv.push("--config".into());
        argv.push(empty_config(dir).display().to_string());
    }
    match Cli::try_parse_from(&argv)
        .expect("valid command line")
        .command
    {
        Command::Run(args) => *args,
        other => panic!("not a run command: {other:?}"),
    }
}

/// A fixed bearer token, as `ZOOM_ACCESS_TOKEN` would give it.
pub fn token(t: &str) -> Credentials {
    Credentials {
        access_token: Some(secrecy::SecretString::from(t.to_string())),
        ..Credentials::default()
    }
}

/// Runs in-process with `creds`; `Err` is what `main` reports as exit 2.
pub async fn run(dir: &Path, words: &[&str], creds: Credentials) -> anyhow::Result<RunResult> {
    run_with_disk(dir, words, creds, Disk::default()).await
}

/// [`run`], making the run's files durable through `disk` (a [`Disk::traced`] to read
/// back the order of its syncs).
pub async fn run_with_disk(
    dir: &Path,
    words: &[&str],
    creds: Credentials,
    disk: Disk,
) -> anyhow::Result<RunResult> {
    let args = run_args(dir, words);
    let argv: Vec<String> = ["zoom-rotate", "run"]
        .iter()
        .chain(words)
        .map(|w| w.to_string())
        .collect();
    zoom_rotate::commands::run::run_with_disk(&args, creds, Stop::new(), &argv, disk).await
}

/// Runs `csv` (written to `dir/input.csv`) in-process against `base` with `creds`, `config`
/// (written to `dir/config.toml`) as the config file, `--no-fetch-policy`, `--yes`, then
/// `extra`; returns the run and the report's path, `dir/<report>`.
pub async fn rotate(
    dir: &Path,
    base: &str,
    creds: Credentials,
    csv: impl AsRef<[u8]>,
    config: &str,
    report: &str,
    extra: &[&str],
) -> (anyhow::Result<RunResult>, PathBuf) {
    let input = p(&write(dir, "input.csv", csv));
    let config = p(&write(dir, "config.toml", config));
    let report = dir.join(report);
    let report_arg = p(&report);
    let mut words: Vec<&str> = vec![
        &input,
        "--report",
        &report_arg,
        "--base-url",
        base,
        "--config",
        &config,
        "--no-fetch-policy",
        "--yes",
    ];
    words.extend_from_slice(extra);
    (run(dir, &words, creds).await, report)
}

/// Runs the cases of a table, each `(name, check)`, side by side in tasks of their own,
/// and fails naming every case that failed, with its failure. A table test runs on a
/// multi-threaded runtime so its cases run as separate tests would.
pub async fn table<F>(cases: impl IntoIterator<Item = (&'static str, F)>)
where
    F: std::future::Future<Output = ()> + Send + 'static,
{
    let running: Vec<_> = cases
        .into_iter()
        .map(|(name, check)| (name, tokio::spawn(check)))
        .collect();
    let mut failed = Vec::new();
    for (name, case) in running {
        if let Err(e) = case.await {
            let why = e.try_into_panic().map_or_else(
                |e| e.to_string(),
                |panic| {
                    panic
                        .downcast_ref::<String>()
                        .cloned()
                        .or_else(|| panic.downcast_ref::<&str>().map(|s| s.to_string()))
                        .unwrap_or_default()
                },
            );
            failed.push(format!("{name}: {why}"));
        }
    }
    assert!(
        failed.is_empty(),
        "{} case(s) failed:\n{}",
        failed.len(),
        failed.join("\n")
    );
}

/// Starts a simulator on an OS-chosen loopback port.
pub async fn sim(config: SimConfig) -> SimHandle {
    simulator::start(config, ([127, 0, 0, 1], 0).into())
        .await
        .expect("simulator starts")
}

/// A simulator config holding only the users of `csv` (written to `dir`).
pub fn sim_users(dir: &Path, csv: &str) -> SimConfig {
    SimConfig {
        users_file: Some(write(dir, "sim-users.csv", csv)),
        ..SimConfig::default()
    }
}

/// The rows of a report, in file order.
pub fn rows(path: &Path) -> Vec<Row> {
    report::read(path).expect("report reads back")
}

/// The rows of a report sorted by input line.
pub fn rows_by_line(path: &Path) -> Vec<Row> {
    let mut r = rows(path);
    r.sort_by_key(|r| r.line);
    r
}

/// `(line, user_id, outcome, http_status, zoom_code, attempts)`: what most assertions
/// compare of a row.
pub type Brief = (u64, String, String, Option<u16>, Option<u32>, u32);

/// The [`Brief`] of each row, by line.
pub fn summary(path: &Path) -> Vec<Brief> {
    rows_by_line(path)
        .into_iter()
        .map(|r| {
            (
                r.line,
                r.user_id,
                r.outcome.as_str().to_string(),
                r.http_status,
                r.zoom_code,
                r.attempts,
            )
        })
        .collect()
}

/// The built binary, [`scrub`]bed, with stdin closed.
pub fn bin() -> std::process::Command {
    let mut c = std::process::Command::new(env!("CARGO_BIN_EXE_zoom-rotate"));
    scrub(&mut c).stdin(std::process::Stdio::null());
    c
}

/// Runs the binary to completion (off the async runtime's threads).
pub async fn bin_output(mut cmd: std::process::Command) -> Output {
    tokio::task::spawn_blocking(move || cmd.output().expect("binary runs"))
        .await
        .expect("join")
}

/// stdout + stderr as text.
pub fn text(o: &Output) -> (String, String) {
    (
        String::from_utf8_lossy(&o.stdout).into_owned(),
        String::from_utf8_lossy(&o.stderr).into_owned(),
    )
}

/// A path as a command-line word.
pub fn p(path: &Path) -> String {
    path.display().to_string()
}

/// The API base (`…/v2`) of a wiremock server.
pub fn v2(server: &MockServer) -> String {
    format!("{}/v2", server.uri())
}

/// A wiremock Zoom that answers 204 to every password change (every PUT).
pub async fn ok_server() -> MockServer {
    let server = MockServer::start().await;
    Mock::given(method("PUT"))
        .respond_with(ResponseTemplate::new(204))
        .mount(&server)
        .await;
    server
}

/// Zoom's error answer: `status` with `{"code": N, "message": "..."}` as application/json.
pub fn zoom_error(status: u16, code: u32, message: &str) -> ResponseTemplate {
    ResponseTemplate::new(status)
        .set_body_json(serde_json::json!({ "code": code, "message": message }))
}

/// The first 00:00 UTC after `t`.
pub fn next_midnight(t: SystemTime) -> SystemTime {
    let secs = t.duration_since(UNIX_EPOCH).unwrap().as_secs();
    UNIX_EPOCH + Duration::from_secs((secs / 86_400 + 1) * 86_400)
}
