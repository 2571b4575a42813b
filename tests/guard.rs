//! Issue 19: what the run trusts from outside its own code. A config file anyone else
//! could write is refused before anything is sent, and a config that moves the API off
//! Zoom's hosts is named on stderr (`config`); one SIGTERM ends a run whose input stalls,
//! and a closed stdout is reported, not silently lost (`streams`). Through the
//! binary, against a wiremock stand-in that counts what it received.
//!
//! This file holds the shared helpers: the binary in a directory of its own (HOME there
//! too, so no user config is found), the wiremock stand-in that counts every request,
//! and the root check: the config tests hand files to another user, which only root can.

use crate::util;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};
use wiremock::matchers::{method, path, path_regex};
use wiremock::{Mock, MockServer, ResponseTemplate};

/// Server-to-Server credentials: the token request would carry the client secret.
const S2S: [(&str, &str); 3] = [
    ("ZOOM_ACCOUNT_ID", "acct-guard"),
    ("ZOOM_CLIENT_ID", "client-guard"),
    ("ZOOM_CLIENT_SECRET", "secret-guard-Qz7"),
];

/// The uid of `nobody`, the other user a planted file belongs to.
const NOBODY: u32 = 65534;

fn p(path: &Path) -> String {
    path.display().to_string()
}

/// Whether this process may give files away (root); the tests that must are skipped,
/// saying so, when it may not. Tests run as root here and in CI.
fn root() -> bool {
    // SAFETY: geteuid has no preconditions.
    let root = unsafe { libc::geteuid() } == 0;
    if !root {
        eprintln!("skipped: needs root to chown a file to another user");
    }
    root
}

/// `zoom-rotate <words>` in `dir`, HOME and XDG_CONFIG_HOME pointing there too.
fn bin_in(dir: &Path, words: &[&str]) -> Command {
    let mut cmd = util::bin();
    cmd.current_dir(dir)
        .env("HOME", dir)
        .env("XDG_CONFIG_HOME", dir.join("xdg"))
        .args(words);
    cmd
}

/// A stand-in that would take anything: a token for any POST, 204 for any PUT, an empty
/// page for any GET. The tests count what it received.
async fn catch_all() -> MockServer {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/oauth/token"))
        .respond_with(ResponseTemplate::new(200).set_body_json(serde_json::json!({
            "access_token": "tok-guard-8Hq", "token_type": "bearer", "expires_in": 3600
        })))
        .mount(&server)
        .await;
    Mock::given(method("PUT"))
        .and(path_regex("^/v2/users/[^/]+/password$"))
        .respond_with(ResponseTemplate::new(204))
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .respond_with(
            ResponseTemplate::new(200)
                .set_body_json(serde_json::json!({"users": [], "next_page_token": ""})),
        )
        .mount(&server)
        .await;
    server
}

/// A config that sends everything to `server`.
fn redirecting(server: &MockServer) -> String {
    format!(
        "[api]\nbase_url = \"{0}/v2\"\ntoken_url = \"{0}/oauth/token\"\n",
        server.uri()
    )
}

/// Writes `content` to `dir/name` with `mode`, owned by `uid` (`None`: as created).
fn file_as(dir: &Path, name: &str, content: &str, mode: u32, uid: Option<u32>) -> PathBuf {
    use std::os::unix::fs::PermissionsExt;
    let f = util::write(dir, name, content);
    std::fs::set_permissions(&f, std::fs::Permissions::from_mode(mode)).unwrap();
    if let Some(uid) = uid {
        std::os::unix::fs::chown(&f, Some(uid), Some(uid)).unwrap();
    }
    f
}

/// Waits for `child` at most `limit`: its exit code, or `None` (killed) when it ran on.
fn wait_at_most(child: &mut Child, limit: Duration) -> Option<i32> {
    let started = Instant::now();
    loop {
        if let Some(status) = child.try_wait().unwrap() {
            return Some(status.code().unwrap_or(-1));
        }
        if started.elapsed() > limit {
            let _ = child.kill();
            let _ = child.wait();
            return None;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

fn text(out: &Output) -> (String, String) {
    util::text(out)
}

mod config;

mod streams;
