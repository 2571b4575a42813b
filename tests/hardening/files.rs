//! Issue 10, files (see `hardening.rs`): the report, its lock, journal and sidecar.
//!
//! `torn` — a report cut inside a quoted field is set aside, never read into the next
//! row (defect 15); `guard` — what `--resume` refuses: a missing report without
//! `--resume-or-start`, a report of another input, symlinks, special files, the input
//! itself (11, 16); `locks` — no lock file is left behind, a symlinked lock is refused,
//! two runs on one input (13, 16, 22); `durable` — the sync order at the end of a run,
//! and an in-flight user of a dead run waits out its request timeout (7, 21).
//!
//! Issue 19: `provenance` — a simulation's report, another host's or account's, or an
//! old campaign's is refused by `--resume` (defects 2, 3); `campaign` — an existing
//! report suggests a dated path, and default names never collide.
//!
//! Users are plain ids (`u1`, `u2`…), so a request's path is `/v2/users/<id>/password`
//! and its body `{"password":"…"}` exactly.

use crate::util::{self, ok_server, p, v2};
use std::path::{Path, PathBuf};
use wiremock::matchers::method;
use wiremock::{Mock, MockServer, ResponseTemplate};
use zoom_rotate::commands::run::RunResult;
use zoom_rotate::ledger::files::Disk;
use zoom_rotate::ledger::report::CSV_HEADER;

mod campaign;
mod durable;
mod guard;
mod locks;
mod provenance;
mod state;
mod torn;

const TOKEN: &str = "files-token";

/// The passwords of `u1..u9`.
fn password(n: usize) -> String {
    format!("Maple{n}-Quartz-Rain")
}

/// An input of users `u1..=un`, each with [`password`].
fn input(dir: &Path, name: &str, n: usize) -> PathBuf {
    let mut s = String::from("user_id,password\n");
    for i in 1..=n {
        s.push_str(&format!("u{i},{}\n", password(i)));
    }
    util::write(dir, name, s)
}

/// The words of a run on `input` into `report` against `server`, one request at a time,
/// then `extra`.
fn words(server: &MockServer, input: &Path, report: &Path, extra: &[&str]) -> Vec<String> {
    let mut w = vec![
        p(input),
        "--report".into(),
        p(report),
        "--base-url".into(),
        v2(server),
        "--no-fetch-policy".into(),
        "--concurrency".into(),
        "1".into(),
        "--yes".into(),
    ];
    w.extend(extra.iter().map(|s| s.to_string()));
    w
}

/// Runs in-process; `Err` is exit 2.
async fn run(
    dir: &Path,
    server: &MockServer,
    input: &Path,
    report: &Path,
    extra: &[&str],
) -> anyhow::Result<RunResult> {
    run_with_disk(dir, server, input, report, extra, Disk::default()).await
}

/// [`run`], making the run's files durable through `disk`.
async fn run_with_disk(
    dir: &Path,
    server: &MockServer,
    input: &Path,
    report: &Path,
    extra: &[&str],
    disk: Disk,
) -> anyhow::Result<RunResult> {
    let w = words(server, input, report, extra);
    let w: Vec<&str> = w.iter().map(String::as_str).collect();
    util::run_with_disk(dir, &w, util::token(TOKEN), disk).await
}

/// The error of a run refused with exit 2, as `main` prints it.
async fn refused(
    dir: &Path,
    server: &MockServer,
    input: &Path,
    report: &Path,
    extra: &[&str],
) -> String {
    match run(dir, server, input, report, extra).await {
        Err(e) => format!("{e:#}"),
        Ok(r) => panic!("expected exit 2, the run ended {r:?}"),
    }
}

/// `(path, body)` of every PUT the server received, in order.
async fn puts(server: &MockServer) -> Vec<(String, String)> {
    server
        .received_requests()
        .await
        .expect("request recording is on")
        .into_iter()
        .filter(|r| r.method.as_str() == "PUT")
        .map(|r| {
            (
                r.url.path().to_string(),
                String::from_utf8_lossy(&r.body).into_owned(),
            )
        })
        .collect()
}

/// The request that changes `u<n>`'s password to [`password`]`(n)`.
fn put(n: usize) -> (String, String) {
    (
        format!("/v2/users/u{n}/password"),
        format!("{{\"password\":\"{}\"}}", password(n)),
    )
}

/// The names in `dir`, sorted.
fn names(dir: &Path) -> Vec<String> {
    let mut n: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    n.sort();
    n
}
