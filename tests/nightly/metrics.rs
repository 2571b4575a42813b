//! `--metrics-file`: the Prometheus textfile written at every exit of `run`, each value
//! checked against what the run did; the last success carried across runs that fail; no
//! user ID and no password in it.

use super::*;
use std::time::{SystemTime, UNIX_EPOCH};
use wiremock::matchers::{method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

const FAST: &str = "[retry]\nattempts = 3\nbase_delay_ms = 1\nmax_delay_ms = 2\n";
const CSV: &str = "email,password\nann@example.com,Rotated-1-Kqx\nbob@example.com,Rotated-2-Kqx\ncat@example.com,Rotated-3-Kqx\n";
const TOKEN: &str = "metrics-test-token";

fn now() -> f64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs_f64()
}

/// ann: one 429, then 204; bob: 404 (user_not_found); cat: 204.
async fn server() -> MockServer {
    let server = MockServer::start().await;
    Mock::given(method("PUT"))
        .and(path("/v2/users/ann%40example.com/password"))
        .respond_with(ResponseTemplate::new(429).insert_header("Retry-After", "0"))
        .up_to_n_times(1)
        .mount(&server)
        .await;
    Mock::given(method("PUT"))
        .and(path("/v2/users/bob%40example.com/password"))
        .respond_with(util::zoom_error(
            404,
            1001,
            "User does not exist: bob@example.com.",
        ))
        .mount(&server)
        .await;
    Mock::given(method("PUT"))
        .respond_with(ResponseTemplate::new(204))
        .mount(&server)
        .await;
    server
}

async fn run(dir: &Path, base: &str, csv: &str, report: &str, extra: &[&str]) -> u8 {
    let metrics = at(dir, "textfile/zoom-rotate.prom");
    let mut words = vec!["--metrics-file", metrics.as_str(), "--concurrency", "1"];
    words.extend_from_slice(extra);
    let (result, _) = util::rotate(dir, base, util::token(TOKEN), csv, FAST, report, &words).await;
    match result {
        Ok(r) => r.exit_code.code(),
        Err(_) => 2,
    }
}

fn metrics(dir: &Path) -> (String, BTreeMap<String, f64>) {
    let text = read(dir.join("textfile/zoom-rotate.prom"));
    let samples = samples(&text);
    (text, samples)
}

fn assert_no_user_or_secret(text: &str) {
    for secret in ["ann", "bob", "cat", "example.com", "Rotated", "Kqx", TOKEN] {
        assert!(!text.contains(secret), "{secret:?} in the metrics:\n{text}");
    }
}

#[tokio::test]
async fn the_metrics_file_says_what_the_run_did_and_nothing_about_users() {
    let dir = util::tmp();
    let server = server().await;
    let before = now();
    assert_eq!(
        run(dir.path(), &util::v2(&server), CSV, "r1.csv", &[]).await,
        1
    );
    let after = now();
    let (text, m) = metrics(dir.path());
    assert_no_user_or_secret(&text);
    assert_eq!(m["zoom_rotate_exit_code"], 1.0);
    assert_eq!(m["zoom_rotate_rows{outcome=\"changed\"}"], 2.0);
    assert_eq!(m["zoom_rotate_rows{outcome=\"user_not_found\"}"], 1.0);
    for o in zoom_rotate::vocab::Outcome::ALL {
        assert!(m.contains_key(&format!("zoom_rotate_rows{{outcome=\"{}\"}}", o.as_str())));
    }
    let rows: f64 = m
        .iter()
        .filter(|(k, _)| k.starts_with("zoom_rotate_rows{"))
        .map(|(_, v)| v)
        .sum();
    assert_eq!(rows, 3.0);
    assert_eq!(
        m["zoom_rotate_requests"], 4.0,
        "ann twice, bob and cat once"
    );
    assert_eq!(m["zoom_rotate_throttled_responses"], 1.0);
    let (start, end) = (
        m["zoom_rotate_start_timestamp_seconds"],
        m["zoom_rotate_end_timestamp_seconds"],
    );
    assert!(
        before - 1.0 <= start && start <= end && end <= after + 1.0,
        "{start} {end}"
    );
    let duration = m["zoom_rotate_duration_seconds"];
    assert!((duration - (end - start)).abs() < 0.01, "{duration}");
    let achieved = m["zoom_rotate_achieved_rate"];
    assert!(
        duration == 0.0 || (achieved - 4.0 / duration).abs() / achieved < 0.05,
        "{achieved}"
    );
    assert!(m["zoom_rotate_configured_rate"] > 0.0);
    assert_eq!(
        m["zoom_rotate_last_success_timestamp_seconds"], 0.0,
        "no success yet"
    );
    assert_eq!(m["zoom_rotate_dry_run"], 0.0);
    assert_eq!(m["zoom_rotate_skipped_rows"], 0.0);
    let dir_entries: Vec<_> = std::fs::read_dir(dir.path().join("textfile"))
        .unwrap()
        .collect();
    assert_eq!(dir_entries.len(), 1, "no temporary left beside it");
}

#[tokio::test]
async fn the_last_success_is_kept_across_a_failure_and_a_refusal() {
    let dir = util::tmp();
    let server = server().await;
    let base = util::v2(&server);
    let good = "email,password\ncat@example.com,Rotated-3-Kqx\n";
    assert_eq!(run(dir.path(), &base, good, "ok.csv", &[]).await, 0);
    let (_, ok) = metrics(dir.path());
    let success = ok["zoom_rotate_last_success_timestamp_seconds"];
    assert_eq!(success, ok["zoom_rotate_end_timestamp_seconds"]);
    assert_eq!(ok["zoom_rotate_exit_code"], 0.0);
    assert_eq!(ok["zoom_rotate_rows{outcome=\"changed\"}"], 1.0);

    assert_eq!(run(dir.path(), &base, CSV, "failed.csv", &[]).await, 1);
    let (_, failed) = metrics(dir.path());
    assert_eq!(failed["zoom_rotate_exit_code"], 1.0);
    assert_eq!(
        failed["zoom_rotate_last_success_timestamp_seconds"],
        success
    );

    // The report exists and --resume is not given: refused, exit 2, nothing counted.
    assert_eq!(run(dir.path(), &base, CSV, "failed.csv", &[]).await, 2);
    let (text, refused) = metrics(dir.path());
    assert_no_user_or_secret(&text);
    assert_eq!(refused["zoom_rotate_exit_code"], 2.0);
    assert_eq!(refused["zoom_rotate_requests"], 0.0);
    assert_eq!(refused["zoom_rotate_rows{outcome=\"changed\"}"], 0.0);
    assert_eq!(
        refused["zoom_rotate_last_success_timestamp_seconds"],
        success
    );

    // A dry run's exit 0 rotates nothing: no success.
    assert_eq!(
        run(dir.path(), &base, good, "dry.csv", &["--dry-run"]).await,
        0
    );
    let (_, dry) = metrics(dir.path());
    assert_eq!(dry["zoom_rotate_dry_run"], 1.0);
    assert_eq!(dry["zoom_rotate_last_success_timestamp_seconds"], success);
}

#[tokio::test]
async fn the_config_key_names_the_file_and_a_blank_one_is_refused() {
    let dir = util::tmp();
    let server = server().await;
    let base = util::v2(&server);
    let prom = at(dir.path(), "from-config.prom");
    let config = format!("{FAST}[run]\nmetrics_file = {prom:?}\n");
    let (result, _) = util::rotate(
        dir.path(),
        &base,
        util::token(TOKEN),
        "email,password\ncat@example.com,Rotated-3-Kqx\n",
        &config,
        "c.csv",
        &[],
    )
    .await;
    assert_eq!(result.unwrap().exit_code, 0);
    assert_eq!(samples(&read(&prom))["zoom_rotate_exit_code"], 0.0);

    let blank = format!("{FAST}[run]\nmetrics_file = \"\"\n");
    let (result, _) = util::rotate(
        dir.path(),
        &base,
        util::token(TOKEN),
        CSV,
        &blank,
        "b.csv",
        &[],
    )
    .await;
    let e = format!("{:#}", result.unwrap_err());
    assert!(e.contains("run.metrics_file"), "{e}");
}
