//! Server-to-Server OAuth (grants by query string or form body, expiry by lifetime and
//! by use count, wrong credentials) and the security settings read with its 403 variant.

use zoom_rotate::simulator::SCOPES;

use super::*;

async fn grant(sim: &SimHandle, secret: &str, account: &str, in_query: bool) -> Response {
    let params = [
        ("grant_type", "account_credentials"),
        ("account_id", account),
    ];
    let request = client()
        .post(sim.token_url())
        .basic_auth("sim-client", Some(secret));
    let request = if in_query {
        request.query(&params)
    } else {
        request.form(&params)
    };
    request.send().await.unwrap()
}

async fn token(sim: &SimHandle) -> String {
    let body: Value = grant(sim, "sim-secret", "sim-account", false)
        .await
        .json()
        .await
        .unwrap();
    body["access_token"].as_str().unwrap().to_owned()
}

#[tokio::test]
async fn tokens_are_granted_by_query_or_form() {
    let sim = launch(SimConfig::default()).await;
    let mut tokens = Vec::new();
    for in_query in [true, false] {
        let response = grant(&sim, "sim-secret", "sim-account", in_query).await;
        assert_eq!(response.status(), StatusCode::OK);
        let body: Value = response.json().await.unwrap();
        assert_eq!(body["token_type"], "bearer");
        assert_eq!(body["expires_in"], 3600);
        assert_eq!(body["scope"], SCOPES);
        assert_eq!(body["api_url"], sim.api_url());
        tokens.push(body["access_token"].as_str().unwrap().to_owned());
    }
    assert_ne!(tokens[0], tokens[1]);
    assert_eq!(format!("{}/v2", sim.api_url()), sim.base_url());
    for token in &tokens {
        assert_eq!(get_settings(&sim, token).await.status(), StatusCode::OK);
    }
    assert_eq!(sim.stats().token_grants, 2);
}

#[tokio::test]
async fn wrong_oauth_credentials_are_refused() {
    let sim = launch(SimConfig::default()).await;
    let wrong_secret = grant(&sim, "nope", "sim-account", false).await;
    assert_eq!(wrong_secret.status(), StatusCode::UNAUTHORIZED);
    let body: Value = wrong_secret.json().await.unwrap();
    assert_eq!(
        body,
        json!({"reason": "Invalid client_id or client_secret", "error": "invalid_client"})
    );
    let wrong_account = grant(&sim, "sim-secret", "other", true).await;
    assert_eq!(wrong_account.status(), StatusCode::BAD_REQUEST);
    let body: Value = wrong_account.json().await.unwrap();
    assert_eq!(
        body,
        json!({"reason": "Invalid request : Account ID is invalid.", "error": "invalid_request"})
    );
    assert_eq!(sim.stats().token_errors, 2);
}

#[tokio::test]
async fn tokens_expire_by_lifetime_and_by_uses() {
    let sim = launch(SimConfig {
        token_lifetime_secs: 60,
        ..SimConfig::default()
    })
    .await;
    let granted = token(&sim).await;
    sim.advance_clock(Duration::from_secs(59));
    assert_eq!(get_settings(&sim, &granted).await.status(), StatusCode::OK);
    sim.advance_clock(Duration::from_secs(2));
    assert_error(
        get_settings(&sim, &granted).await,
        401,
        124,
        "Invalid access token.",
    )
    .await;
    sim.advance_clock(Duration::from_secs(30 * 86_400));
    assert_eq!(
        get_settings(&sim, TOKEN).await.status(),
        StatusCode::OK,
        "the static token never expires"
    );

    let sim = simulator::start(
        SimConfig {
            token_max_uses: Some(2),
            ..SimConfig::default()
        },
        "127.0.0.1:0".parse().unwrap(),
    )
    .await
    .unwrap();
    let granted = token(&sim).await;
    for _ in 0..2 {
        assert_eq!(get_settings(&sim, &granted).await.status(), StatusCode::OK);
    }
    assert_error(
        get_settings(&sim, &granted).await,
        401,
        124,
        "Invalid access token.",
    )
    .await;
    assert_eq!(
        get_settings(&sim, &token(&sim).await).await.status(),
        StatusCode::OK
    );
}

#[tokio::test]
async fn settings_can_be_forbidden() {
    let sim = launch(SimConfig {
        settings_forbidden: true,
        ..SimConfig::default()
    })
    .await;
    let message = "Invalid access token, does not contain scopes:[account:read:admin].";
    assert_error(get_settings(&sim, TOKEN).await, 403, 4700, message).await;
    let open = launch(SimConfig::default()).await;
    let body: Value = get_settings(&open, TOKEN).await.json().await.unwrap();
    let off = json!({"minimum_password_length": 0, "have_special_character": false,
        "consecutive_characters_length": 0, "weak_enhance_detection": false});
    assert_eq!(body, json!({"security": {"password_requirement": off}}));
}
