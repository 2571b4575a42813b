//! Hostile input and secrets (issue 5): whatever the CSV, the user IDs, the server's
//! answers or the file system throw at a run, each row gets the right treatment, nothing
//! is sent that should not be, and no secret appears anywhere but in the request.
//!
//! This file holds the shared helpers; the tests are grouped by threat: `csv` (every
//! malformed-input case, row by row), `csv_header` (the header row and empty files),
//! `paths` (user IDs that try to leave their path segment), `secrets` (canary token,
//! passwords and client secret through every outcome, the binary at RUST_LOG=trace),
//! `transport` (plain http and credentials in URLs), `files` (modes whatever the umask,
//! never overwritten, the input-permission warning), `policy` (the account's password
//! rules), `generate` (`--generate`, a kill -9 between saving and sending, `--resume`) and
//! `fuzz` (proptest over the reader and the checks).

use crate::util::{self, ok_server, v2, zoom_error};
use serde_json::{json, Value};
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use wiremock::matchers::method;
use wiremock::{Mock, MockServer, ResponseTemplate};
use zoom_rotate::commands::run::RunResult;
use zoom_rotate::simulator::SimConfig;
use zoom_rotate::vocab::Row;

/// The bearer token of wiremock runs (8+ characters: the client looks for echoes of it).
const TOKEN: &str = "tok-hostile-5Kq";
/// Two attempts per row, 10–20 ms apart.
const FAST_RETRY: &str = "[retry]\nattempts = 2\nbase_delay_ms = 10\nmax_delay_ms = 20\n";

/// [`util::rotate`] with a fixed `token`; the report is `dir/report.csv`.
async fn rotate(
    dir: &Path,
    base: &str,
    token: &str,
    csv: impl AsRef<[u8]>,
    config: &str,
    extra: &[&str],
) -> (anyhow::Result<RunResult>, PathBuf) {
    util::rotate(
        dir,
        base,
        util::token(token),
        csv,
        config,
        "report.csv",
        extra,
    )
    .await
}

/// Every password change the server received: the raw path and the JSON body, in
/// arrival order.
async fn sent(server: &MockServer) -> Vec<(String, Value)> {
    server
        .received_requests()
        .await
        .unwrap()
        .iter()
        .filter(|r| r.method.as_str() == "PUT")
        .map(|r| {
            (
                r.url.path().to_string(),
                serde_json::from_slice(&r.body).unwrap_or(Value::Null),
            )
        })
        .collect()
}

/// `(path, body)` of a JSON password change, as [`sent`] lists it.
fn put(segment: &str, password: &str) -> (String, Value) {
    (
        format!("/v2/users/{segment}/password"),
        json!({ "password": password }),
    )
}

/// An expected report row: line, user_id, outcome, attempts, message (exact).
type Expected<'a> = (u64, &'a str, &'a str, u32, &'a str);

/// Asserts the report holds exactly `expected`, compared in line order.
fn assert_rows(report: &Path, expected: &[Expected]) {
    let rows = util::rows_by_line(report);
    let actual: Vec<(u64, &str, &str, u32, &str)> = rows
        .iter()
        .map(|r: &Row| {
            (
                r.line,
                r.user_id.as_str(),
                r.outcome.as_str(),
                r.attempts,
                r.message.as_str(),
            )
        })
        .collect();
    assert_eq!(actual, expected, "report rows");
}

/// A simulator whose account holds exactly the users of `users` (the sim's CSV format:
/// `id,email,password,role,changes_24h,recent_passwords`).
async fn sim_with(dir: &Path, users: &str, config: SimConfig) -> zoom_rotate::simulator::SimHandle {
    let users_file = util::write(dir, "sim-users.csv", users);
    util::sim(SimConfig {
        users_file: Some(users_file),
        ..config
    })
    .await
}

/// The binary with `RUST_LOG=trace` and the debug output of every crate.
fn traced() -> Command {
    let mut c = util::bin();
    c.env("RUST_LOG", "trace");
    c
}

/// stdout and stderr of a binary run, and the file mode bits of `path`.
fn both(o: &Output) -> String {
    let (out, err) = util::text(o);
    format!("{out}\n{err}")
}

fn mode(path: &Path) -> u32 {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(path)
        .unwrap_or_else(|e| panic!("{}: {e}", path.display()))
        .permissions()
        .mode()
        & 0o777
}

mod csv;
mod csv_header;
mod files;
mod fuzz;
mod generate;
mod paths;
mod policy;
mod secrets;
mod transport;
