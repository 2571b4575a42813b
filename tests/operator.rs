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

use crate::util::{self, p, v2};
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

/// `program` from the repository root (where the demo fixtures are), with no `ZOOM_*`
/// variable of the test's environment ([`util::scrub`]).
fn scrubbed(program: &str) -> Command {
    let mut c = Command::new(program);
    util::scrub(&mut c)
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .stdin(Stdio::null());
    c
}

/// The binary, scrubbed.
fn bin() -> Command {
    scrubbed(env!("CARGO_BIN_EXE_zoom-rotate"))
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
    util::zoom_error(403, 4700, SCOPE_MESSAGE)
}

mod breaker;
mod completions;
mod config_search;
mod docs;
mod dry_run;
mod excel;
mod help;
mod house;
mod json_exits;
mod papercuts;
mod preview;
mod prompt;
mod runbook;
mod status;
mod summary;
