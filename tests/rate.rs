//! Issue 11, sharing the account's budget: a `--rate` above the plan is refused before
//! anything is sent (`plan`); on the free plan the day's remaining budget, as Zoom's
//! `X-RateLimit-Remaining` counts it down, stops the run before the request that would
//! exceed it (`daily`); and with another app drawing on the same budget in the simulator,
//! the job backs off to what it leaves (`neighbours`, the one real-time test).

use crate::util::{self, p, v2};
use std::path::{Path, PathBuf};
use wiremock::MockServer;

/// The bearer token of wiremock runs.
const TOKEN: &str = "tok-rate-11-Qz";

/// `email,password` for users `u1@example.com`..`u{n}@example.com`.
fn users_csv(dir: &Path, n: usize) -> PathBuf {
    let mut s = String::from("email,password\n");
    for i in 1..=n {
        s.push_str(&format!("u{i}@example.com,Harbor-Violet-{i}q\n"));
    }
    util::write(dir, "users.csv", s)
}

mod daily;
mod neighbours;
mod plan;
