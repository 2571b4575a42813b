//! The limiter and the pool, measured by the simulator: no one-second window over the job's
//! rate, and never two requests for one user at once.

use super::*;

#[tokio::test]
async fn the_rate_holds_in_every_one_second_window_and_users_are_never_sent_twice_at_once() {
    const RATE: usize = 10;
    const USERS: u32 = 25;
    // The simulator allows more than the job's rate, so only the job's own pacing keeps
    // a window at or under RATE; its latency makes requests overlap.
    let sim = util::sim(SimConfig {
        generate_users: Some(USERS),
        plan: "business".into(),
        latency_ms: 300,
        ..SimConfig::default()
    })
    .await;
    let mut csv = String::from("email,password\n");
    for n in 1..=USERS {
        csv.push_str(&format!("user{n}@example.com,Rotate-{n}-Qz8x\n"));
    }
    let dir = util::tmp();
    let (result, report) = rotate(
        dir.path(),
        &sim.base_url(),
        "sim-token",
        csv,
        "",
        "r.csv",
        &["--rate", "10"],
    )
    .await;
    assert_eq!(result.unwrap().exit_code, 0);
    let stats = sim.stats();
    assert_eq!(stats.password_puts, USERS as u64);
    assert_eq!(sim.admitted().len(), USERS as usize);
    let busiest = sim.max_admitted_in(Duration::from_secs(1));
    assert!(
        busiest <= RATE,
        "{busiest} requests in one second at --rate {RATE}"
    );
    assert_eq!(
        (stats.rate_limited_qps, stats.rate_limited_concurrent),
        (0, 0)
    );
    assert!(
        stats.max_concurrent_puts >= 2,
        "requests overlapped ({} at most), so the pool was tested",
        stats.max_concurrent_puts
    );
    for n in 1..=USERS {
        let user = sim.user(&format!("user{n}@example.com")).unwrap();
        assert_eq!(user.current_password, format!("Rotate-{n}-Qz8x"));
        assert_eq!(user.received_passwords.len(), 1, "user{n} asked once");
    }
    assert!(util::rows(&report)
        .iter()
        .all(|r| (r.outcome.as_str(), r.attempts) == ("changed", 1)));
}

// ---------------------------------------------------------------------------------------
