//! Concurrency and faults: a second request for a user in flight gets 429; a 502 is HTML
//! and not applied; a connection closed before the change leaves it unapplied, one
//! closed after applies it, and the client sees a connection error either way, never a
//! response; a slow answer outlasts the client but applies; a seed reproduces faults.

use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};

use super::*;

#[tokio::test]
async fn a_second_request_for_a_user_in_flight_is_429() {
    let sim = launch(SimConfig {
        latency_ms: 300,
        ..SimConfig::default()
    })
    .await;
    let url = format!("{}/users/alice%40example.com/password", sim.base_url());
    let first = tokio::spawn(async move { send_put(url, "Violet-Harbor-42").await.unwrap() });
    tokio::time::sleep(Duration::from_millis(100)).await;
    // The same user by another name is still the same user; another user is fine.
    let (second, other) = tokio::join!(
        put(&sim, "U1001", "Violet-Harbor-43"),
        put(&sim, "u1003", "Orbit-Lantern-19x")
    );
    assert_error(second, 429, 429, "Too many concurrent requests.").await;
    assert_eq!(other.status(), StatusCode::NO_CONTENT);
    assert_changed(&sim, first.await.unwrap(), "u1001", "Violet-Harbor-42").await;
    let stats = sim.stats();
    assert_eq!(
        (stats.rate_limited_concurrent, stats.max_concurrent_puts),
        (1, 2)
    );
    assert_eq!(
        sim.user("u1001").unwrap().received_passwords,
        ["Violet-Harbor-42", "Violet-Harbor-43"]
    );
}

#[tokio::test]
async fn fault_502_is_html_and_not_applied() {
    let sim = launch(SimConfig {
        fault_5xx: 1.0,
        ..SimConfig::default()
    })
    .await;
    let response = put(&sim, "alice@example.com", "Violet-Harbor-42").await;
    assert_eq!(response.status(), StatusCode::BAD_GATEWAY);
    assert_eq!(header(&response, "content-type"), Some("text/html"));
    assert_eq!(
        response.text().await.unwrap(),
        "<html><body><h1>502 Bad Gateway</h1></body></html>"
    );
    assert_eq!(
        sim.user("alice@example.com").unwrap().current_password,
        "Alice-Current-27"
    );
    assert_eq!(sim.stats().faults_5xx, 1);
}

/// Sends a password change over a bare TCP connection and returns every byte answered.
async fn raw_exchange(sim: &SimHandle, password: &str) -> Vec<u8> {
    let mut stream = tokio::net::TcpStream::connect(sim.addr()).await.unwrap();
    let body = json!({ "password": password }).to_string();
    let request = format!(
        "PUT /v2/users/alice%40example.com/password HTTP/1.1\r\nHost: sim\r\n\
         Authorization: Bearer {TOKEN}\r\nContent-Type: application/json\r\n\
         Content-Length: {}\r\n\r\n{body}",
        body.len()
    );
    stream.write_all(request.as_bytes()).await.unwrap();
    let mut answer = Vec::new();
    // A reset instead of a clean close is fine: either way nothing was answered.
    let _ = tokio::time::timeout(Duration::from_secs(5), stream.read_to_end(&mut answer))
        .await
        .unwrap();
    answer
}

#[tokio::test]
async fn drop_before_closes_the_connection_unapplied() {
    let sim = launch(SimConfig {
        fault_drop_before: 1.0,
        ..SimConfig::default()
    })
    .await;
    let url = format!("{}/users/alice%40example.com/password", sim.base_url());
    let error = send_put(url, "Violet-Harbor-42").await.unwrap_err();
    assert!(error.status().is_none() && !error.is_timeout(), "{error:?}");
    assert!(raw_exchange(&sim, "Violet-Harbor-42").await.is_empty());
    let alice = sim.user("alice@example.com").unwrap();
    assert_eq!(
        (alice.current_password.as_str(), alice.change_count),
        ("Alice-Current-27", 0)
    );
    assert_eq!(alice.received_passwords.len(), 2);
    assert_eq!(sim.stats().drops_before, 2);
}

#[tokio::test]
async fn drop_after_closes_the_connection_but_applies() {
    let sim = launch(SimConfig {
        fault_drop_after: 1.0,
        ..SimConfig::default()
    })
    .await;
    let url = format!("{}/users/alice%40example.com/password", sim.base_url());
    let error = send_put(url, "Violet-Harbor-42").await.unwrap_err();
    assert!(error.status().is_none() && !error.is_timeout(), "{error:?}");
    assert_eq!(
        sim.user("alice@example.com").unwrap().current_password,
        "Violet-Harbor-42"
    );
    assert!(raw_exchange(&sim, "Violet-Harbor-44").await.is_empty());
    let alice = sim.user("alice@example.com").unwrap();
    assert_eq!(
        (alice.current_password.as_str(), alice.change_count),
        ("Violet-Harbor-44", 2)
    );
    let stats = sim.stats();
    assert_eq!(
        (
            stats.drops_after,
            stats.changes_applied,
            stats.responses_204
        ),
        (2, 2, 0)
    );
}

#[tokio::test]
async fn slow_answers_outlast_the_client_but_apply() {
    let sim = launch(SimConfig {
        fault_slow: 1.0,
        slow_ms: 5_000,
        ..SimConfig::default()
    })
    .await;
    let url = format!("{}/users/alice%40example.com/password", sim.base_url());
    let impatient = Client::builder()
        .timeout(Duration::from_millis(300))
        .build()
        .unwrap();
    let request = impatient
        .put(url)
        .bearer_auth(TOKEN)
        .json(&json!({"password": "Violet-Harbor-42"}));
    assert!(request.send().await.unwrap_err().is_timeout());
    assert_eq!(
        sim.user("alice@example.com").unwrap().current_password,
        "Violet-Harbor-42"
    );
    assert_eq!(sim.stats().slow, 1);
}

/// What each of `n` alternating password changes for alice came to, as a short label.
async fn fault_sequence(seed: u64, n: usize) -> Vec<String> {
    let config = SimConfig {
        seed,
        fault_5xx: 0.3,
        fault_drop_before: 0.3,
        change_limit_24h: 0,
        password_history: 0,
        ..SimConfig::default()
    };
    let sim = launch(config).await;
    let url = format!("{}/users/alice%40example.com/password", sim.base_url());
    let mut labels = Vec::new();
    for i in 0..n {
        let password = format!("Seeded-Pw-{}x", 10 + i);
        let request = client()
            .put(&url)
            .bearer_auth(TOKEN)
            .json(&json!({ "password": password }));
        labels.push(match request.send().await {
            Ok(response) => response.status().as_u16().to_string(),
            Err(_) => "drop".into(),
        });
    }
    labels
}

#[tokio::test]
async fn faults_are_reproducible_from_the_seed() {
    let first = fault_sequence(42, 16).await;
    assert_eq!(first, fault_sequence(42, 16).await);
    for label in ["204", "502", "drop"] {
        assert!(first.iter().any(|l| l == label), "{first:?}");
    }
    assert_ne!(first, fault_sequence(43, 16).await);
}
