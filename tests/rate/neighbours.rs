//! The one real-time test of issue 11: another app on the simulated account draws 10 of
//! the budget's 20 requests a second, and the job, allowed all 20 (`--budget-share 1`),
//! must back off to what is left instead of holding its rate and drawing 429s. Only
//! bounds that a loaded machine cannot break are asserted: a slow machine makes the job
//! slower, never faster, and never makes it draw more 429s.

use super::*;
use zoom_rotate::simulator::SimConfig;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_job_backs_off_to_what_a_steady_other_app_leaves() {
    const ROWS: u64 = 100;
    let sim = util::sim(SimConfig {
        generate_users: Some(ROWS as u32),
        user_pattern: "u{n}@example.com".into(),
        change_limit_24h: 0,
        password_history: 0,
        other_app_qps: 10.0,
        ..SimConfig::default()
    })
    .await;
    let dir = util::tmp();
    let input = users_csv(dir.path(), ROWS as usize);
    let report = dir.path().join("r.csv");
    // Let the other app's draw fill its second before the job starts.
    tokio::time::sleep(std::time::Duration::from_millis(1_100)).await;
    let started = std::time::Instant::now();
    let r = util::run(
        dir.path(),
        &[
            &p(&input),
            "--report",
            &p(&report),
            "--base-url",
            &sim.base_url(),
            "--no-fetch-policy",
            "--budget-share",
            "1",
        ],
        util::token("sim-token"),
    )
    .await
    .unwrap();
    let elapsed = started.elapsed().as_secs_f64();
    let stats = sim.stats();
    assert_eq!(r.exit_code, 0, "{:?}", r.tally);
    assert_eq!(r.tally.get(zoom_rotate::vocab::Outcome::Changed), ROWS);
    // Held at 20/s against the 10 left, the job would finish in 5 s with about half its
    // requests refused. Backed off to under 10/s, it takes more than 10 s.
    let rate = ROWS as f64 / elapsed;
    assert!(
        rate < 10.5,
        "{rate:.2}/s: the job did not back off ({stats:?})"
    );
    let own_429s = stats.rate_limited_qps;
    assert!(
        own_429s * 10 <= stats.password_puts,
        "{own_429s} of {} requests refused: the job kept knocking",
        stats.password_puts
    );
    assert!(stats.other_app_requests > 0, "{stats:?}");
}
