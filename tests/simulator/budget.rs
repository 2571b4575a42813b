//! The Medium budget: at three times the plan's rate the excess gets 429s with Zoom's
//! headers and no one-second window admits more than the limit; evenly spread at the
//! plan's rate nothing is refused; the daily limit trips and resets at 00:00 UTC of the
//! simulator clock; `Retry-After` comes as seconds, ISO-8601, HTTP-date, or not at all.

use zoom_rotate::simulator::RetryAfterFormat;

use super::*;

#[tokio::test]
async fn qps_429_at_three_times_the_rate() {
    let sim = launch(SimConfig {
        qps: Some(5),
        ..SimConfig::default()
    })
    .await;
    let start = tokio::time::Instant::now();
    let mut requests = Vec::new();
    for i in 0..30u32 {
        let at = start + Duration::from_millis(u64::from(i) * 1000 / 15);
        let url = format!("{}/accounts/me/settings?option=security", sim.base_url());
        requests.push(tokio::spawn(async move {
            tokio::time::sleep_until(at).await;
            client().get(url).bearer_auth(TOKEN).send().await.unwrap()
        }));
    }
    let (mut ok, mut limited) = (0, 0);
    for request in requests {
        let response = request.await.unwrap();
        if response.status() == StatusCode::OK {
            ok += 1;
            continue;
        }
        limited += 1;
        assert_eq!(header(&response, "x-ratelimit-category"), Some("Medium"));
        assert_eq!(header(&response, "x-ratelimit-type"), Some("QPS"));
        assert_eq!(header(&response, "x-ratelimit-limit"), Some("5"));
        assert_eq!(header(&response, "x-ratelimit-remaining"), Some("0"));
        assert_eq!(header(&response, "retry-after"), Some("1"));
        assert_error(response, 429, 429, QPS_MESSAGE).await;
    }
    assert!(ok >= 5 && limited >= 10, "{ok} admitted, {limited} limited");
    assert_eq!(sim.stats().rate_limited_qps, limited);
    assert_eq!(sim.admitted().len() as u64, ok);
    assert!(sim.max_admitted_in(Duration::from_secs(1)) <= 5);
}

#[tokio::test]
async fn the_plans_rate_evenly_spread_is_never_limited() {
    let sim = launch(SimConfig {
        qps: Some(10),
        ..SimConfig::default()
    })
    .await;
    // Each request leaves 105 ms after the previous answer: arrivals are at least
    // 1.05/R apart whatever the scheduling, so no window can hold more than R.
    for _ in 0..20 {
        let response = get_settings(&sim, TOKEN).await;
        assert_eq!(response.status(), StatusCode::OK);
        tokio::time::sleep(Duration::from_millis(105)).await;
    }
    assert_eq!(sim.stats().rate_limited_qps, 0);
    assert!(sim.max_admitted_in(Duration::from_secs(1)) <= 10);
}

#[tokio::test]
async fn free_plan_shares_two_per_second_between_endpoints() {
    let config = SimConfig {
        plan: "free".into(),
        retry_after: RetryAfterFormat::HttpDate,
        ..SimConfig::default()
    };
    let sim = launch(config).await;
    away_from_midnight(&sim);
    let first = put(&sim, "alice@example.com", "Violet-Harbor-42").await;
    assert_eq!(header(&first, "x-ratelimit-limit"), Some("2000"));
    assert_eq!(header(&first, "x-ratelimit-remaining"), Some("1999"));
    assert_eq!(get_settings(&sim, TOKEN).await.status(), StatusCode::OK);
    let before = sim.now();
    let third = put(&sim, "bob+ops@example.com", "Maple7-Quartz-Rain").await;
    assert_eq!(header(&third, "x-ratelimit-type"), Some("QPS"));
    assert_eq!(header(&third, "x-ratelimit-limit"), Some("2"));
    let retry_at = httpdate::parse_http_date(header(&third, "retry-after").unwrap()).unwrap();
    assert!(retry_at > before && retry_at <= before + Duration::from_secs(2));
    assert_error(third, 429, 429, QPS_MESSAGE).await;
    assert_eq!(sim.user("bob+ops@example.com").unwrap().change_count, 0);
}

#[tokio::test]
async fn daily_limit_trips_and_resets_at_midnight_utc() {
    let config = SimConfig {
        plan: "business".into(),
        daily_limit: Some(3),
        ..SimConfig::default()
    };
    let sim = launch(config).await;
    away_from_midnight(&sim);
    for remaining in ["2", "1", "0"] {
        let response = get_settings(&sim, TOKEN).await;
        assert_eq!(response.status(), StatusCode::OK);
        assert_eq!(header(&response, "x-ratelimit-remaining"), Some(remaining));
    }
    let before = sim.now();
    let limited = get_settings(&sim, TOKEN).await;
    let after = sim.now();
    let until = |t: SystemTime| {
        next_midnight(t)
            .duration_since(t)
            .unwrap()
            .as_secs_f64()
            .ceil() as u64
    };
    let retry_after: u64 = header(&limited, "retry-after").unwrap().parse().unwrap();
    assert!(
        (until(after)..=until(before)).contains(&retry_after),
        "{retry_after}"
    );
    assert_eq!(header(&limited, "x-ratelimit-category"), Some("Medium"));
    assert_eq!(header(&limited, "x-ratelimit-type"), Some("Daily-limit"));
    assert_eq!(header(&limited, "x-ratelimit-limit"), Some("3"));
    assert_eq!(header(&limited, "x-ratelimit-remaining"), Some("0"));
    assert_error(limited, 429, 429, DAILY_MESSAGE).await;
    assert_eq!(
        put(&sim, "u1001", "Violet-Harbor-42").await.status(),
        StatusCode::TOO_MANY_REQUESTS
    );
    assert_eq!(sim.stats().rate_limited_daily, 2);

    let now = sim.now();
    sim.advance_clock(next_midnight(now).duration_since(now).unwrap() + Duration::from_secs(1));
    let next_day = get_settings(&sim, TOKEN).await;
    assert_eq!(next_day.status(), StatusCode::OK);
    assert_eq!(header(&next_day, "x-ratelimit-remaining"), Some("2"));
}

#[tokio::test]
async fn retry_after_comes_in_every_form() {
    for (format, omit) in [
        (RetryAfterFormat::Iso8601, false),
        (RetryAfterFormat::HttpDate, false),
        (RetryAfterFormat::Absent, false),
        (RetryAfterFormat::Seconds, true),
    ] {
        let config = SimConfig {
            daily_limit: Some(1),
            retry_after: format,
            omit_daily_headers: omit,
            ..SimConfig::default()
        };
        let sim = launch(config).await;
        away_from_midnight(&sim);
        assert_eq!(get_settings(&sim, TOKEN).await.status(), StatusCode::OK);
        let midnight = next_midnight(sim.now());
        let limited = get_settings(&sim, TOKEN).await;
        let expected = match format {
            RetryAfterFormat::Iso8601 => {
                Some(humantime::format_rfc3339_seconds(midnight).to_string())
            }
            RetryAfterFormat::HttpDate => Some(httpdate::fmt_http_date(midnight)),
            _ => None,
        };
        assert_eq!(
            header(&limited, "retry-after").map(str::to_owned),
            expected,
            "{format:?}"
        );
        if let Some(iso) =
            header(&limited, "retry-after").filter(|_| format == RetryAfterFormat::Iso8601)
        {
            assert!(iso.ends_with("T00:00:00Z"), "{iso}");
        }
        let kind = (!omit).then_some("Daily-limit");
        assert_eq!(header(&limited, "x-ratelimit-type"), kind, "{format:?}");
        assert_eq!(header(&limited, "x-ratelimit-category"), Some("Medium"));
        assert_error(limited, 429, 429, DAILY_MESSAGE).await;
    }
}
