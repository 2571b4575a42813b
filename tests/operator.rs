//! Operating the tool from cron and incident runbooks (issue 7): JSON logs and the JSON
//! summary, the printed resume command, the circuit breaker, the plan and the
//! confirmation prompt, and the self-documentation (`--help`, completions, the man page,
//! `--version`).
//!
//! Most tests drive the built binary, since what they check is what an operator sees on
//! stdout and stderr. Every binary run gets an explicit `--config`, so the repository's
//! own config.toml never leaks in. The terminal tests give the binary a pty through
//! util-linux `script`. The tests are grouped by what an operator relies on: `summary`,
//! `breaker`, `prompt` (the plan and the confirmation), `runbook`, `docs`.

use crate::util;
use serde_json::{json, Value};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use wiremock::matchers::{method, path_regex};
use wiremock::{Mock, MockServer, ResponseTemplate};
use zoom_rotate::vocab::stop::StopReason;
use zoom_rotate::vocab::Outcome;

const TOKEN: &str = "operator-test-token";
const SCOPE_MESSAGE: &str =
    "Invalid access token, does not contain scopes:[user:write:admin, user:update:password:admin].";
const WORK_EMAIL_MESSAGE: &str = "Can only update password of Zoom work email account";
const BREAKER_ROW_MESSAGE: &str = "not sent: the circuit breaker stopped the run";

/// `user_id,password` with users `{prefix}01`.. and distinct passwords that pass Zoom's
/// basic rules.
fn users_csv(dir: &Path, name: &str, prefix: &str, n: usize) -> PathBuf {
    let mut s = String::from("user_id,password\n");
    for i in 1..=n {
        s.push_str(&format!("{prefix}{i:02},Harbor-Violet-{i}q\n"));
    }
    util::write(dir, name, s)
}

/// `user_id` only, for `--generate`.
fn ids_csv(dir: &Path, name: &str, n: usize) -> PathBuf {
    let mut s = String::from("user_id\n");
    for i in 1..=n {
        s.push_str(&format!("u{i:02}\n"));
    }
    util::write(dir, name, s)
}

/// Every variable the program reads settings or credentials from.
const ENV: &[&str] = &[
    "ZOOM_ACCESS_TOKEN",
    "ZOOM_ACCOUNT_ID",
    "ZOOM_CLIENT_ID",
    "ZOOM_CLIENT_SECRET",
    "ZOOM_BASE_URL",
    "ZOOM_TOKEN_URL",
    "ZOOM_ROTATE_PLAN",
    "ZOOM_ROTATE_RATE",
    "ZOOM_ROTATE_CONCURRENCY",
    "ZOOM_ROTATE_REPORT",
    "RUST_LOG",
];

/// `program` from the repository root (where the demo fixtures are), with none of `ENV`.
fn scrubbed(program: &str) -> Command {
    let mut c = Command::new(program);
    for var in ENV {
        c.env_remove(var);
    }
    c.current_dir(env!("CARGO_MANIFEST_DIR"))
        .stdin(Stdio::null());
    c
}

/// The binary, scrubbed.
fn bin() -> Command {
    scrubbed(env!("CARGO_BIN_EXE_zoom-rotate"))
}

fn base(server: &MockServer) -> String {
    format!("{}/v2", server.uri())
}

/// Paths of the PUTs the server received, in order.
async fn puts(server: &MockServer) -> Vec<String> {
    server
        .received_requests()
        .await
        .expect("request recording is on")
        .into_iter()
        .filter(|r| r.method.as_str() == "PUT")
        .map(|r| r.url.path().to_string())
        .collect()
}

fn forbidden() -> ResponseTemplate {
    ResponseTemplate::new(403).set_body_json(json!({"code": 4700, "message": SCOPE_MESSAGE}))
}

fn p(path: &Path) -> String {
    path.display().to_string()
}

mod breaker;
mod completions;
mod config_search;
mod docs;
mod dry_run;
mod excel;
mod help;
mod json_exits;
mod papercuts;
mod preview;
mod prompt;
mod runbook;
mod status;
mod summary;
