//! The rotation pipeline end to end (issue 2): the exact request Zoom receives, each row of
//! API-NOTES' response table as a report row and an exit code, rows refused before they
//! cost a request, the limiter's pace and one request per user at a time, the report's
//! format and privacy, and one mixed run of every case.
//!
//! Request shapes and answers come from wiremock servers (asserted on
//! `received_requests`, never inside a responder); pacing is measured by the simulator.
//! Everything listens on loopback, port 0. Retries are configured fast (10–20 ms) so no
//! test waits on the defaults.
//!
//! This file holds the shared helpers; the tests are grouped by stage: `request` (the
//! exact PUT), `answers` (the response table, timeouts, refused connections), `refused`
//! (rows never sent), `pace` (the limiter and the pool), `report` (format, privacy,
//! secrecy) and `mixed` (every case in one run).

use crate::util::{self, next_midnight, v2, zoom_error};
use percent_encoding::percent_decode_str;
use serde_json::{json, Value};
use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};
use wiremock::matchers::{method, path};
use wiremock::{Mock, MockBuilder, MockServer, Request, ResponseTemplate};
use zoom_rotate::commands::run::RunResult;
use zoom_rotate::ledger::report::CSV_HEADER;
use zoom_rotate::simulator::SimConfig;
use zoom_rotate::vocab::stop::StopReason;
use zoom_rotate::vocab::Row;

const TOKEN: &str = "tok-7Hq2xR";
const NEW_PW: &str = "Maple7-Quartz-Rain";
/// Two attempts per row, 10–20 ms apart.
const FAST_RETRY: &str = "[retry]\nattempts = 2\nbase_delay_ms = 10\nmax_delay_ms = 20\n";

/// The one-row input most answer tests use, and its user's path segment.
const ONE_ROW: &str = "email,password\nu1@example.com,Maple7-Quartz-Rain\n";
const U1_SEGMENT: &str = "u1%40example.com";

const SAME_AS_OLD: &str = "Your new password can not match the old password.";
const LIMIT_24H: &str = "This password cannot be changed because it has already been changed the maximum number of times over the past 24 hours.";
const QPS_429: &str =
    "You have reached the maximum per-second rate limit for this API. Try again later.";
const DAILY_429: &str = "You have reached the maximum daily rate limit for this API. Refer to the response header for details on when you can make another request.";
const BAD_GATEWAY_HTML: &str = "<html><body><h1>502 Bad Gateway</h1></body></html>";
const NO_SCOPE: &str =
    "Invalid access token, does not contain scopes:[user:write:admin, user:update:password:admin].";

/// `PUT /v2/users/{segment}/password`, the segment as the server receives it.
fn put_to(segment: &str) -> MockBuilder {
    Mock::given(method("PUT")).and(path(format!("/v2/users/{segment}/password")))
}

/// [`util::rotate`] with a fixed `token`; the report is `dir/<report>`.
async fn rotate(
    dir: &Path,
    base: &str,
    token: &str,
    csv: impl AsRef<[u8]>,
    config: &str,
    report: &str,
    extra: &[&str],
) -> (anyhow::Result<RunResult>, PathBuf) {
    util::rotate(dir, base, util::token(token), csv, config, report, extra).await
}

/// What a table test compares of a row: outcome, http_status, zoom_code, attempts, message.
fn brief(row: &Row) -> (&str, Option<u16>, Option<u32>, u32, &str) {
    (
        row.outcome.as_str(),
        row.http_status,
        row.zoom_code,
        row.attempts,
        row.message.as_str(),
    )
}

/// `pattern` with at most one `*` standing for any text.
fn glob(actual: &str, pattern: &str) -> bool {
    match pattern.split_once('*') {
        None => actual == pattern,
        Some((head, tail)) => {
            actual.len() >= head.len() + tail.len()
                && actual.starts_with(head)
                && actual.ends_with(tail)
        }
    }
}

/// An expected report row: line, user_id, outcome, http_status, zoom_code, attempts, and
/// the message as a [`glob`] pattern.
type Expected<'a> = (
    u64,
    &'a str,
    &'a str,
    Option<u16>,
    Option<u32>,
    u32,
    &'a str,
);

/// Asserts the report holds exactly `expected`, one row per line, compared in line order.
fn assert_rows(report: &Path, expected: &[Expected]) {
    let rows = util::rows_by_line(report);
    let show = |rows: &[Row]| {
        rows.iter()
            .map(|r| {
                format!(
                    "  ({}, {:?}, {}, {:?}, {:?}, {}, {:?})",
                    r.line, r.user_id, r.outcome, r.http_status, r.zoom_code, r.attempts, r.message
                )
            })
            .collect::<Vec<_>>()
            .join("\n")
    };
    let same = rows.len() == expected.len()
        && rows.iter().zip(expected).all(|(r, e)| {
            (r.line, r.user_id.as_str(), r.outcome.as_str()) == (e.0, e.1, e.2)
                && (r.http_status, r.zoom_code, r.attempts) == (e.3, e.4, e.5)
                && glob(&r.message, e.6)
        });
    assert!(
        same,
        "report rows differ\nexpected:\n{}\nactual:\n{}",
        expected
            .iter()
            .map(|e| format!("  {e:?}"))
            .collect::<Vec<_>>()
            .join("\n"),
        show(&rows)
    );
}

fn header<'a>(request: &'a Request, name: &str) -> Option<&'a str> {
    request.headers.get(name).map(|v| v.to_str().unwrap())
}

mod answers;
mod mixed;
mod pace;
mod refused;
mod report;
mod request;
mod wire;
