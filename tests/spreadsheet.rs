//! Issue 19, the files people and spreadsheets touch between runs (defects 1, 6 and 10):
//! a report re-saved by Excel is read as meant and a resume sends nothing again; rows
//! that cannot be read refuse the resume (exit 2, naming their lines) before anything is
//! sent, and make `status` exit 2; cells a spreadsheet would run are written neutralised
//! in every CSV the tool writes and read back to the original value; and `status
//! --handout` hands out the passwords that were set, and only those.
//!
//! Every test drives the built binary against a simulator started in the test process
//! on loopback, so the requests are counted at the server (`SimHandle::stats`) and the
//! passwords compared with what it received. Each module is one of those promises:
//! `resave`, `formula`, `handout`.

use crate::util;
use std::path::{Path, PathBuf};
use zoom_rotate::simulator::{SimConfig, SimHandle};

mod formula;
mod handout;
mod resave;

fn p(path: &Path) -> String {
    path.display().to_string()
}

/// A business-plan simulator that admits 1000 requests a second: the users of
/// `users_csv` (the simulator's users-file columns) and `generated` generated members
/// (`u{n}`, `user{n}@example.com`).
async fn sim(dir: &Path, users_csv: Option<&str>, generated: u32) -> SimHandle {
    util::sim(SimConfig {
        users_file: users_csv.map(|c| util::write(dir, "sim-users.csv", c)),
        generate_users: (generated > 0).then_some(generated),
        plan: "business".into(),
        qps: Some(1000),
        ..SimConfig::default()
    })
    .await
}

/// What the binary did: exit code, stdout, stderr.
struct Ran {
    code: Option<i32>,
    stdout: String,
    stderr: String,
}

/// `zoom-rotate <words>` in `dir`, with the simulator's token in the environment.
async fn zr(dir: &Path, words: &[&str]) -> Ran {
    let mut cmd = util::bin();
    cmd.current_dir(dir)
        .env("ZOOM_ACCESS_TOKEN", "sim-token")
        .args(words);
    let out = util::bin_output(cmd).await;
    let (stdout, stderr) = util::text(&out);
    Ran {
        code: out.status.code(),
        stdout,
        stderr,
    }
}

/// `zoom-rotate run INPUT --report REPORT <extra>` against `sim`, fast and unprompted.
async fn rotate(dir: &Path, sim: &SimHandle, input: &Path, report: &Path, extra: &[&str]) -> Ran {
    let config = util::empty_config(dir);
    let base = sim.base_url();
    let mut words = vec!["run", input.to_str().unwrap(), "--report"];
    words.extend([report.to_str().unwrap(), "--base-url", &base]);
    words.extend(["--config", config.to_str().unwrap(), "--no-fetch-policy"]);
    words.extend(["--rate", "500", "--rate-above-plan", "--yes"]);
    words.extend(extra);
    zr(dir, &words).await
}

/// `zoom-rotate status <words>` in `dir`.
async fn status(dir: &Path, words: &[&str]) -> Ran {
    let mut all = vec!["status"];
    all.extend(words);
    zr(dir, &all).await
}

/// Every cell of a CSV file, as the csv crate reads it (no restoring).
fn cells(path: &Path) -> Vec<Vec<String>> {
    let mut r = csv::ReaderBuilder::new()
        .has_headers(false)
        .flexible(true)
        .from_path(path)
        .unwrap();
    r.records()
        .map(|rec| rec.unwrap().iter().map(str::to_owned).collect())
        .collect()
}

/// No cell of `path` starts with what makes a spreadsheet evaluate it.
fn assert_no_formula_cell(path: &Path) {
    for row in cells(path) {
        for cell in row {
            assert!(
                !cell.starts_with(['=', '+', '-', '@', '\t', '\r']),
                "{}: a cell a spreadsheet would run: {cell:?}",
                path.display()
            );
        }
    }
}

/// The file's path in `dir`.
fn at(dir: &Path, name: &str) -> PathBuf {
    dir.join(name)
}
