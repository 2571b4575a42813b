//! The demo fixtures, the control endpoints, generated users and config errors.

use std::time::Instant;

use zoom_rotate::simulator::GENERATED_PASSWORD;
use zoom_rotate::zoom::rules::PasswordPolicy;

use super::*;

#[tokio::test]
async fn control_endpoints_show_counts_and_move_the_clock() {
    let sim = launch(SimConfig::default()).await;
    put(&sim, "alice@example.com", "Violet-Harbor-42").await;
    let text = client()
        .get(format!("{}/_sim/stats", sim.api_url()))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        !text.contains("Violet-Harbor-42") && !text.contains("Current"),
        "no passwords: {text}"
    );
    let stats: Value = serde_json::from_str(&text).unwrap();
    assert_eq!(
        (
            stats["requests_total"].as_u64(),
            stats["responses_204"].as_u64()
        ),
        (Some(1), Some(1))
    );
    assert!(stats["users"]
        .as_array()
        .unwrap()
        .contains(&json!({"id": "u1001", "email": "alice@example.com", "change_count": 1})));

    let before = sim.now();
    let moved = client()
        .post(format!("{}/_sim/clock?advance_secs=90000", sim.api_url()))
        .send()
        .await
        .unwrap();
    assert_eq!(moved.status(), StatusCode::OK);
    assert!(sim.now().duration_since(before).unwrap() >= Duration::from_secs(90_000));
    assert_eq!(
        put(&sim, "dave@example.com", "Copper-Fjord-83")
            .await
            .status(),
        StatusCode::NO_CONTENT
    );
}

#[tokio::test]
async fn generated_users_and_config_errors() {
    let config = SimConfig {
        generate_users: Some(50),
        user_pattern: "bench{n}@example.org".into(),
        ..SimConfig::default()
    };
    let sim = launch(config).await;
    assert_eq!(sim.user_count(), 50);
    let user = sim.user("BENCH7@example.org").unwrap();
    assert_eq!(
        (user.id.as_str(), user.current_password.as_str()),
        ("u7", GENERATED_PASSWORD)
    );
    assert!(
        sim.user("alice@example.com").is_none(),
        "generated users replace the demo"
    );

    let bad = SimConfig {
        fault_drop_after: 2.0,
        ..SimConfig::default()
    };
    let error = simulator::start(bad, "127.0.0.1:0".parse().unwrap())
        .await
        .err()
        .unwrap();
    assert!(error.to_string().contains("fault_drop_after"), "{error}");
}

/// The demo input against the demo account: every row reaches the outcome the fixtures
/// promise, and the rows meant to be invalid are exactly those the basic rules refuse.
#[tokio::test]
async fn demo_fixtures_show_every_outcome() {
    let sim = launch(SimConfig::default()).await;
    let expected = [
        ("alice@example.com", "changed"),
        ("bob+ops@example.com", "changed"),
        ("Carol@Example.COM", "changed"),
        ("dave@example.com", "change_limit_24h"),
        ("erin@example.com", "same_as_old"),
        ("frank@example.com", "policy_rejected"),
        ("grace@example.com", "changed"),
        ("heidi@example.com", "invalid_input"),
        ("ivan@example.com", "invalid_input"),
        ("judy@example.com", "changed"),
        ("li.wei@example.com", "changed"),
        ("owner@example.com", "rejected"),
        ("nobody@example.com", "user_not_found"),
    ];
    let mut input = csv::Reader::from_path("fixtures/users.csv").unwrap();
    let mut seen = Vec::new();
    for row in input.records() {
        let row = row.unwrap();
        let (email, password) = (&row[0], &row[1]);
        let outcome =
            if zoom_rotate::zoom::rules::check(password, &PasswordPolicy::default()).is_err() {
                "invalid_input"
            } else {
                let response = put(&sim, email, password).await;
                let status = response.status().as_u16();
                let body: Value = if status == 204 {
                    Value::Null
                } else {
                    response.json().await.unwrap()
                };
                match (status, body["code"].as_u64(), body["message"].as_str()) {
                    (204, _, _) => "changed",
                    (400, Some(300), Some(SAME_AS_OLD)) => "same_as_old",
                    (400, Some(300), Some(LIMIT_24H)) => "change_limit_24h",
                    (404, Some(1001), _) => "user_not_found",
                    (400, Some(1124..=1136), _) => "policy_rejected",
                    _ => "rejected",
                }
            };
        if outcome == "changed" {
            assert_eq!(sim.user(email).unwrap().current_password, password);
        }
        seen.push((email.to_owned(), outcome));
    }
    let expected: Vec<_> = expected.iter().map(|&(e, o)| (e.to_owned(), o)).collect();
    assert_eq!(seen, expected);
}

#[tokio::test]
async fn shutdown_closes_connections_and_serve_forever_returns() {
    let sim = launch(SimConfig {
        fault_slow: 1.0,
        ..SimConfig::default()
    })
    .await;
    let url = format!("{}/users/u1001/password", sim.base_url());
    let hanging = tokio::spawn(send_put(url, "Violet-Harbor-42"));
    tokio::time::sleep(Duration::from_millis(200)).await;
    let addr = sim.addr();
    let started = Instant::now();
    sim.shutdown().await;
    assert!(
        hanging.await.unwrap().is_err(),
        "the slow answer is cut off"
    );
    assert!(started.elapsed() < Duration::from_secs(2));
    assert!(tokio::net::TcpStream::connect(addr).await.is_err());

    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let listen = "127.0.0.1:0".parse().unwrap();
    let server = tokio::spawn(simulator::serve_forever(
        SimConfig::default(),
        listen,
        async {
            let _ = stopped.await;
        },
    ));
    tokio::time::sleep(Duration::from_millis(100)).await;
    stop.send(()).unwrap();
    server.await.unwrap().unwrap();
}
