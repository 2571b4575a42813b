//! The free plan's 2,000 requests a day: when Zoom's answers carry
//! `X-RateLimit-Remaining` (they do on daily-limited plans), the run stops as the daily
//! 429 would stop it (exit 3, the rest `not_attempted`, `--resume` after 00:00 UTC) but
//! before sending the request that would exceed the day, instead of spending requests on
//! 429s.

use super::*;
use std::sync::atomic::{AtomicU32, Ordering};
use wiremock::matchers::method;
use wiremock::{Mock, Request, Respond, ResponseTemplate};
use zoom_rotate::vocab::stop::StopReason;
use zoom_rotate::vocab::Outcome;

/// 204 with the day's figures, counting down from `left` (as Zoom counts the day).
struct CountDown(AtomicU32);

impl Respond for CountDown {
    fn respond(&self, _: &Request) -> ResponseTemplate {
        let left = self.0.fetch_sub(1, Ordering::SeqCst).saturating_sub(1);
        ResponseTemplate::new(204)
            .insert_header("X-RateLimit-Category", "Medium")
            .insert_header("X-RateLimit-Limit", "2000")
            .insert_header("X-RateLimit-Remaining", left.to_string().as_str())
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_free_plan_stops_before_the_request_that_would_exceed_the_day() {
    let server = MockServer::start().await;
    Mock::given(method("PUT"))
        .respond_with(CountDown(AtomicU32::new(3)))
        .mount(&server)
        .await;
    let dir = util::tmp();
    let input = users_csv(dir.path(), 6);
    let report = dir.path().join("r.csv");
    let r = util::run(
        dir.path(),
        &[
            &p(&input),
            "--report",
            &p(&report),
            "--base-url",
            &v2(&server),
            "--no-fetch-policy",
            "--plan",
            "free",
            "--budget-share",
            "1",
            "--concurrency",
            "1",
        ],
        util::token(TOKEN),
    )
    .await
    .unwrap();
    // Exactly the three requests the day had left, in order, and nothing after.
    let puts: Vec<String> = server
        .received_requests()
        .await
        .unwrap()
        .iter()
        .map(|r| format!("{} {}", r.method, r.url.path()))
        .collect();
    assert_eq!(
        puts,
        [1, 2, 3].map(|i| format!("PUT /v2/users/u{i}%40example.com/password"))
    );
    assert_eq!(r.exit_code, 3);
    let Some(StopReason::DailyLimit { resets_at }) = r.stop else {
        panic!("stopped for the daily limit: {:?}", r.stop)
    };
    let midnight = zoom_rotate::vocab::stop::next_utc_midnight(std::time::SystemTime::now());
    assert!(resets_at <= midnight, "resets at the next 00:00 UTC");
    let brief = util::summary(&report);
    let expected: Vec<util::Brief> = (1..=6u64)
        .map(|i| {
            let (outcome, status, attempts) = if i <= 3 {
                (Outcome::Changed, Some(204), 1)
            } else {
                (Outcome::NotAttempted, None, 0)
            };
            (
                i + 1,
                format!("u{i}@example.com"),
                outcome.as_str().into(),
                status,
                None,
                attempts,
            )
        })
        .collect();
    assert_eq!(brief, expected);
    let rows = util::rows_by_line(&report);
    assert_eq!(
        rows[3].message,
        format!(
            "not sent: Zoom's daily rate limit was reached; it resets at {}",
            humantime::format_rfc3339_seconds(resets_at)
        )
    );
}
