//! The property test of issue 10: the real workers (an in-process run, not `--dry-run`)
//! against a loopback server that answers each user with an arbitrary script of statuses
//! (1xx to 9xx, redirects, every 429 flavour), headers (absurd `Retry-After` and
//! `X-RateLimit-*` values, odd `Location`s) and bodies (non-JSON, huge, empty, not
//! UTF-8). Whatever the answers: no panic, exactly one row per input row, every request
//! the server received counted, `changed` only on Zoom's 204 (or a same-as-old that
//! confirms an unanswered attempt), and an exit code that agrees with the rows.
//!
//! The server is a few lines over a raw `TcpListener`, not wiremock: it must be able to
//! send what no well-behaved HTTP library would (an informational status as the last
//! thing on a connection, a header that is not UTF-8).

use crate::util;
use proptest::prelude::*;
use proptest::test_runner::{Config, RngAlgorithm, TestRng, TestRunner};
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use zoom_rotate::vocab::Outcome;

/// One answer the server gives.
#[derive(Debug, Clone)]
struct Reply {
    status: u16,
    headers: Vec<(&'static str, Vec<u8>)>,
    body: Vec<u8>,
}

fn one_of(values: &[&'static str]) -> impl Strategy<Value = Vec<u8>> {
    let values: Vec<Vec<u8>> = values.iter().map(|v| v.as_bytes().to_vec()).collect();
    proptest::sample::select(values)
}

fn status() -> impl Strategy<Value = u16> {
    prop_oneof![
        3 => Just(204u16),
        1 => Just(200u16),
        1 => 100u16..=103,
        2 => 300u16..=308,
        1 => Just(400u16),
        1 => Just(401u16),
        1 => Just(403u16),
        1 => Just(404u16),
        1 => Just(418u16),
        5 => Just(429u16),
        2 => 500u16..=504,
        1 => Just(599u16),
        1 => Just(999u16),
    ]
}

/// `Retry-After` values that are either absurd or mean "at once": a believable 1–60 s
/// would only make the test slow. The two that overflow naive time arithmetic (issue 10,
/// defect 1) come up most often.
fn retry_after() -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![
        3 => one_of(&["18446744073709551615", "Fri, 31 Dec 9999 23:59:59 GMT"]),
        4 => one_of(&[
            "0",
            "18446744073709551616",
            "-1",
            "-18446744073709551615",
            "61",
            "4294967296",
            "Thu, 01 Jan 1970 00:00:00 GMT",
            "9999-12-31T23:59:59Z",
            "1970-01-01T00:00:00Z",
            "garbage",
            "",
            "1e309",
        ]),
        1 => Just(b"caf\xe9".to_vec()),
    ]
}

fn limit() -> impl Strategy<Value = Vec<u8>> {
    one_of(&[
        "18446744073709551616",
        "-5",
        "abc",
        "0",
        "4294967296",
        "1e309",
        "",
    ])
}

fn location() -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![
        one_of(&[
            "https://elsewhere.example/v2",
            "",
            "/relative",
            "javascript:alert(1)"
        ]),
        Just(format!("https://x.example/{}", "a".repeat(3000)).into_bytes()),
        Just(b"caf\xe9".to_vec()),
    ]
}

fn body() -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![
        3 => Just(Vec::new()),
        4 => one_of(&[
            r#"{"code":300,"message":"Your new password can not match the old password."}"#,
            r#"{"code":300,"message":"You have changed the password the maximum number of times in the past 24 hours."}"#,
            r#"{"code":1001,"message":"User does not exist."}"#,
            r#"{"code":1124,"message":"Password too weak."}"#,
            r#"{"code":124,"message":"Invalid access token."}"#,
            r#"{"code":429,"message":"You have reached the maximum daily rate limit for this API."}"#,
            r#"{"code":429,"message":"Too many concurrent requests."}"#,
            r#"{"code":18446744073709551616,"message":5}"#,
            r#"{"code":"300","message":null}"#,
            "<html><body><h1>502 Bad Gateway</h1></body></html>",
            "not json at all",
        ]),
        1 => Just(vec![0xff, 0xfe, 0x00, b'<', 0x80]),
        1 => Just(vec![b'x'; 200_000]),
    ]
}

fn reply() -> impl Strategy<Value = Reply> {
    (
        status(),
        proptest::option::of(one_of(&["QPS", "Daily-limit", "concurrent", "garbage"])),
        proptest::option::weighted(0.8, retry_after()),
        proptest::option::of(limit()),
        proptest::option::of(limit()),
        proptest::option::of(location()),
        body(),
    )
        .prop_map(|(status, kind, after, lim, rem, loc, body)| {
            let mut headers = Vec::new();
            let named = [
                ("X-RateLimit-Type", kind),
                ("Retry-After", after),
                ("X-RateLimit-Limit", lim),
                ("X-RateLimit-Remaining", rem),
                ("Location", loc),
            ];
            for (name, value) in named {
                if let Some(v) = value {
                    headers.push((name, v));
                }
            }
            Reply {
                status,
                headers,
                body,
            }
        })
}

/// Per user, the answers in order (the last one repeats).
fn scripts() -> impl Strategy<Value = Vec<Vec<Reply>>> {
    proptest::collection::vec(proptest::collection::vec(reply(), 1..=3), 1..=4)
}

fn encode(r: &Reply) -> Vec<u8> {
    let mut out = format!("HTTP/1.1 {} Whatever\r\n", r.status).into_bytes();
    if r.status < 200 {
        // An informational answer and then nothing: the connection closes.
        out.extend_from_slice(b"\r\n");
        return out;
    }
    for (name, value) in &r.headers {
        out.extend_from_slice(name.as_bytes());
        out.extend_from_slice(b": ");
        out.extend_from_slice(value);
        out.extend_from_slice(b"\r\n");
    }
    let no_body = matches!(r.status, 204 | 304);
    if !no_body {
        out.extend_from_slice(format!("Content-Length: {}\r\n", r.body.len()).as_bytes());
    }
    out.extend_from_slice(b"Connection: close\r\n\r\n");
    if !no_body {
        out.extend_from_slice(&r.body);
    }
    out
}

/// The loopback server: answers user `n` (the `n`th input row) from `scripts[n]`, and
/// counts the requests each user got.
struct Server {
    scripts: HashMap<String, Vec<Reply>>,
    seen: Mutex<HashMap<String, usize>>,
}

impl Server {
    fn next(&self, user: &str) -> Option<Reply> {
        let script = self.scripts.get(user)?;
        let mut seen = self.seen.lock().unwrap();
        let n = seen.entry(user.to_string()).or_default();
        let reply = script[(*n).min(script.len() - 1)].clone();
        *n += 1;
        Some(reply)
    }
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}

async fn handle(mut sock: TcpStream, server: Arc<Server>) {
    let mut buf = Vec::new();
    let mut chunk = [0u8; 8192];
    let head_end = loop {
        match sock.read(&mut chunk).await {
            Ok(0) | Err(_) => return,
            Ok(n) => buf.extend_from_slice(&chunk[..n]),
        }
        if let Some(i) = find(&buf, b"\r\n\r\n") {
            break i + 4;
        }
    };
    let head = String::from_utf8_lossy(&buf[..head_end]).to_string();
    let length: usize = head
        .lines()
        .filter_map(|l| l.split_once(':'))
        .find(|(k, _)| k.trim().eq_ignore_ascii_case("content-length"))
        .and_then(|(_, v)| v.trim().parse().ok())
        .unwrap_or(0);
    while buf.len() < head_end + length {
        match sock.read(&mut chunk).await {
            Ok(0) | Err(_) => return,
            Ok(n) => buf.extend_from_slice(&chunk[..n]),
        }
    }
    let path = head.split_whitespace().nth(1).unwrap_or_default();
    let user = path
        .split("/users/")
        .nth(1)
        .and_then(|rest| rest.strip_suffix("/password"))
        .unwrap_or_default()
        .replace("%40", "@");
    let reply = server.next(&user).unwrap_or(Reply {
        status: 404,
        headers: Vec::new(),
        body: Vec::new(),
    });
    let _ = sock.write_all(&encode(&reply)).await;
    let _ = sock.shutdown().await;
}

async fn serve(scripts: &[Vec<Reply>]) -> (String, Arc<Server>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}/v2", listener.local_addr().unwrap());
    let server = Arc::new(Server {
        scripts: scripts
            .iter()
            .enumerate()
            .map(|(i, s)| (format!("u{i}@example.com"), s.clone()))
            .collect(),
        seen: Mutex::default(),
    });
    let s = server.clone();
    tokio::spawn(async move {
        while let Ok((sock, _)) = listener.accept().await {
            tokio::spawn(handle(sock, s.clone()));
        }
    });
    (base, server)
}

/// One case: a run of one row per script, and the properties.
async fn case(scripts: Vec<Vec<Reply>>) -> Result<(), TestCaseError> {
    let dir = util::tmp();
    let (base, server) = serve(&scripts).await;
    let mut csv = String::from("email,password\n");
    for i in 0..scripts.len() {
        csv.push_str(&format!("u{i}@example.com,Rotated-{i}-Kqx\n"));
    }
    let input = util::write(dir.path(), "in.csv", csv).display().to_string();
    let config =
        "[retry]\nattempts = 2\nbase_delay_ms = 1\nmax_delay_ms = 2\n[api]\ntimeout_secs = 5\n";
    let config = util::write(dir.path(), "c.toml", config)
        .display()
        .to_string();
    let report = dir.path().join("r.csv");
    let report_arg = report.display().to_string();
    let words = [
        input.as_str(),
        "--report",
        &report_arg,
        "--base-url",
        &base,
        "--config",
        &config,
        "--rate",
        "1000",
        "--rate-above-plan",
        "--no-fetch-policy",
        "--yes",
    ];
    let run = util::run(dir.path(), &words, util::token("tok-fuzz-9Zr"));
    let result = tokio::time::timeout(Duration::from_secs(20), run)
        .await
        .map_err(|_| TestCaseError::fail("the run hung"))?
        .map_err(|e| TestCaseError::fail(format!("the run did not start: {e}")))?;
    let rows = util::rows_by_line(&report);
    let lines: Vec<(u64, String)> = rows.iter().map(|r| (r.line, r.user_id.clone())).collect();
    let expected: Vec<(u64, String)> = (0..scripts.len())
        .map(|i| (i as u64 + 2, format!("u{i}@example.com")))
        .collect();
    prop_assert_eq!(lines, expected, "exactly one row per input row");
    for r in &rows {
        prop_assert!(
            !r.message.contains("panicked"),
            "a worker panicked: {:?}",
            r
        );
        prop_assert!(
            !r.message.contains("Rotated-"),
            "a password in the report: {:?}",
            r
        );
        // Only Zoom's 204, or its same-as-old confirming an unanswered attempt (issue 19).
        prop_assert!(
            r.outcome != Outcome::Changed || matches!(r.http_status, Some(204) | Some(400)),
            "changed on another answer: {:?}",
            r
        );
    }
    let seen = server.seen.lock().unwrap().clone();
    for (i, r) in rows.iter().enumerate() {
        let got = seen.get(&format!("u{i}@example.com")).copied().unwrap_or(0);
        prop_assert_eq!(r.attempts as usize, got, "attempts counted: {:?}", r);
    }
    let all_changed = rows.iter().all(|r| r.outcome == Outcome::Changed);
    let code = match (&result.stop, all_changed) {
        (Some(_), _) => 3,
        (None, true) => 0,
        (None, false) => 1,
    };
    prop_assert_eq!(
        result.exit_code,
        code,
        "exit code agrees with the rows: {:?}",
        rows
    );
    Ok(())
}

#[test]
fn arbitrary_answers_never_panic_lose_a_row_or_lie_in_the_exit_code() {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    // A fixed seed: the same cases on every run, so a failure is reproducible and a pass
    // means the same thing each time.
    let config = Config {
        cases: 64,
        max_shrink_iters: 16,
        failure_persistence: None,
        ..Config::default()
    };
    let rng = TestRng::deterministic_rng(RngAlgorithm::ChaCha);
    let mut runner = TestRunner::new_with_rng(config, rng);
    let outcome = runner.run(&scripts(), |scripts| rt.block_on(case(scripts)));
    if let Err(e) = outcome {
        panic!("{e}");
    }
}
