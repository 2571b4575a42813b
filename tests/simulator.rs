//! The simulator against API-NOTES, row by row: every answer Zoom gives for a password
//! change, the rate budget and its 429 headers, Server-to-Server tokens, the settings
//! read, encoded user IDs, and the faults (502, connections closed before or after the
//! change, slow answers). Real HTTP on loopback through reqwest, ports from the OS.

use std::io::Write as _;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use percent_encoding::{utf8_percent_encode, NON_ALPHANUMERIC};
use reqwest::{Client, Response, StatusCode};
use serde_json::{json, Value};
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
use zoom_rotate::rules::PasswordPolicy;
use zoom_rotate::simulator::{
    self, RetryAfterFormat, SimConfig, SimHandle, GENERATED_PASSWORD, SCOPES,
};

const TOKEN: &str = "sim-token";
const SAME_AS_OLD: &str = "Your new password can not match the old password.";
const LIMIT_24H: &str = "This password cannot be changed because it has already been changed the maximum number of times over the past 24 hours.";
const QPS_MESSAGE: &str =
    "You have reached the maximum per-second rate limit for this API. Try again later.";
const DAILY_MESSAGE: &str = "You have reached the maximum daily rate limit for this API. Refer to the response header for details on when you can make another request.";

async fn launch(config: SimConfig) -> SimHandle {
    simulator::start(config, "127.0.0.1:0".parse().unwrap())
        .await
        .unwrap()
}

fn client() -> Client {
    Client::builder()
        .timeout(Duration::from_secs(5))
        .build()
        .unwrap()
}

/// `PUT {base}/users/{segment}/password` with a JSON body; `segment` is sent as is.
async fn put_raw(sim: &SimHandle, segment: &str, password: &str) -> Response {
    let url = format!("{}/users/{segment}/password", sim.base_url());
    let request = client()
        .put(url)
        .bearer_auth(TOKEN)
        .json(&json!({ "password": password }));
    request.send().await.unwrap()
}

/// The same, with the user ID or e-mail percent-encoded as one segment.
async fn put(sim: &SimHandle, user: &str, password: &str) -> Response {
    put_raw(
        sim,
        &utf8_percent_encode(user, NON_ALPHANUMERIC).to_string(),
        password,
    )
    .await
}

async fn get_settings(sim: &SimHandle, token: &str) -> Response {
    let url = format!("{}/accounts/me/settings?option=security", sim.base_url());
    client().get(url).bearer_auth(token).send().await.unwrap()
}

fn header<'a>(response: &'a Response, name: &str) -> Option<&'a str> {
    response.headers().get(name).map(|v| v.to_str().unwrap())
}

/// Asserts a Zoom JSON error exactly: status, content type, and the whole body.
async fn assert_error(response: Response, status: u16, code: u32, message: &str) {
    assert_eq!(response.status().as_u16(), status);
    assert_eq!(header(&response, "content-type"), Some("application/json"));
    let body: Value = response.json().await.unwrap();
    assert_eq!(body, json!({"code": code, "message": message}));
}

async fn assert_changed(sim: &SimHandle, response: Response, user: &str, password: &str) {
    assert_eq!(response.status(), StatusCode::NO_CONTENT);
    assert_eq!(header(&response, "content-type"), None);
    assert!(response.bytes().await.unwrap().is_empty());
    assert_eq!(sim.user(user).unwrap().current_password, password);
}

fn next_midnight(now: SystemTime) -> SystemTime {
    let secs = now.duration_since(UNIX_EPOCH).unwrap().as_secs();
    UNIX_EPOCH + Duration::from_secs((secs / 86_400 + 1) * 86_400)
}

/// Moves the clock off the last minute before midnight, so a day boundary cannot fall
/// inside a test that reads the daily count.
fn away_from_midnight(sim: &SimHandle) {
    let now = sim.now();
    if next_midnight(now).duration_since(now).unwrap() < Duration::from_secs(60) {
        sim.advance_clock(Duration::from_secs(120));
    }
}

#[tokio::test]
async fn change_answers_204_and_applies() {
    let sim = launch(SimConfig::default()).await;
    let response = put(&sim, "alice@example.com", "Violet-Harbor-42").await;
    assert_eq!(header(&response, "x-ratelimit-category"), Some("Medium"));
    assert_changed(&sim, response, "u1001", "Violet-Harbor-42").await;
    let alice = sim.user("ALICE@example.com").unwrap();
    assert_eq!((alice.change_count, alice.received_passwords.len()), (1, 1));
    assert_eq!(alice.recent_passwords[0], "Alice-Current-27");
    let stats = sim.stats();
    assert_eq!(
        (
            stats.responses_204,
            stats.changes_applied,
            stats.password_puts
        ),
        (1, 1, 1)
    );
}

#[tokio::test]
async fn same_as_old_and_24_hour_limit_are_400_300() {
    let sim = launch(SimConfig::default()).await;
    assert_error(
        put(&sim, "erin@example.com", "Tidal-Ember-57").await,
        400,
        300,
        SAME_AS_OLD,
    )
    .await;
    assert_error(
        put(&sim, "dave@example.com", "Copper-Fjord-83").await,
        400,
        300,
        LIMIT_24H,
    )
    .await;
    sim.advance_clock(Duration::from_secs(24 * 3600));
    assert_changed(
        &sim,
        put(&sim, "dave@example.com", "Copper-Fjord-83").await,
        "u1004",
        "Copper-Fjord-83",
    )
    .await;
    // A user's third change in a day passes, the fourth does not.
    for (i, password) in ["Mossy-Stone-31", "Quiet-River-62", "Amber-Cloud-93"]
        .iter()
        .enumerate()
    {
        let response = put(&sim, "u1003", password).await;
        assert_eq!(
            response.status(),
            StatusCode::NO_CONTENT,
            "change {}",
            i + 1
        );
    }
    assert_error(
        put(&sim, "u1003", "Fourth-Try-44").await,
        400,
        300,
        LIMIT_24H,
    )
    .await;
}

#[tokio::test]
async fn owner_is_1117_and_unknown_user_is_404_1001() {
    let sim = launch(SimConfig::default()).await;
    let owner = put(&sim, "owner@example.com", "Granite-Pebble-90").await;
    assert_error(owner, 400, 1117, "Can not update Admin's password").await;
    let message = "User does not exist: nobody@example.com.";
    assert_error(
        put(&sim, "nobody@example.com", "Harbor-Thistle-12").await,
        404,
        1001,
        message,
    )
    .await;
    assert_eq!(
        sim.user("owner@example.com").unwrap().current_password,
        "Granite-Willow-95"
    );
}

#[tokio::test]
async fn enhanced_rules_answer_their_codes() {
    let policy = PasswordPolicy {
        minimum_password_length: 12,
        have_special_character: true,
        consecutive_characters_length: 4,
        weak_enhance_detection: true,
    };
    let sim = launch(SimConfig {
        password_requirement: policy,
        ..SimConfig::default()
    })
    .await;
    // 1130 (one repeated character) cannot be reached: such a password already lacks a
    // letter (1125) or a number (1126), which Zoom checks first.
    let cases = [
        ("Tr0ub4dor&x", 1124, "Have at least 12 characters"),
        ("1357924680&!", 1125, "Have at least 1 letter (a, b, c…)"),
        ("Trouba&dorXyz", 1126, "Have at least 1 number (1, 2, 3…)"),
        (
            "Tr0ub4dorXyzq",
            1127,
            "Have at least 1 special character (!, @, #…)",
        ),
        (
            "tr0ub4dor&xq2z",
            1128,
            "Include both Upper case and Lower case characters",
        ),
        (
            "Tr0ub4dor&wxyz",
            1131,
            "Password can't use continuation character.Such as 'abcdef','123456'.",
        ),
        (
            "MyZoomPass9!x",
            1136,
            "Your password is too easy to guess. Try another one.",
        ),
    ];
    for (password, code, message) in cases {
        assert_error(
            put(&sim, "judy@example.com", password).await,
            400,
            code,
            message,
        )
        .await;
    }
    let too_long = put(
        &sim,
        "judy@example.com",
        "Tr0ub4dor&xq2z-Tr0ub4dor&xq2z-Tr0u",
    )
    .await;
    assert_eq!(too_long.status(), StatusCode::BAD_REQUEST);
    let body: Value = too_long.json().await.unwrap();
    let errors =
        json!([{"field": "password", "message": "Password must be at most 32 characters"}]);
    assert_eq!(
        body,
        json!({"code": 300, "message": "Validation Failed.", "errors": errors})
    );
    assert_changed(
        &sim,
        put(&sim, "judy@example.com", "Tr0ub4dor&xq2z").await,
        "u1010",
        "Tr0ub4dor&xq2z",
    )
    .await;
    let settings: Value = get_settings(&sim, TOKEN).await.json().await.unwrap();
    let requirement = json!({"minimum_password_length": 12, "have_special_character": true,
        "consecutive_characters_length": 4, "weak_enhance_detection": true});
    assert_eq!(
        settings,
        json!({"security": {"password_requirement": requirement}})
    );
}

#[tokio::test]
async fn history_refuses_the_last_n_passwords_with_1129() {
    let sim = launch(SimConfig::default()).await;
    let reuse = "Users cannot reuse any of the last 3 passwords created.";
    assert_error(
        put(&sim, "frank@example.com", "Amber-Falcon-26").await,
        400,
        1129,
        reuse,
    )
    .await;
    assert_changed(
        &sim,
        put(&sim, "frank@example.com", "Fresh-Start-71").await,
        "u1006",
        "Fresh-Start-71",
    )
    .await;
    // Now the history is Frank-Current-36, Amber-Falcon-26, Frank-Older-74.
    assert_error(
        put(&sim, "frank@example.com", "Frank-Current-36").await,
        400,
        1129,
        reuse,
    )
    .await;
    assert_error(
        put(&sim, "frank@example.com", "Frank-Older-74").await,
        400,
        1129,
        reuse,
    )
    .await;

    let short = launch(SimConfig {
        password_history: 1,
        ..SimConfig::default()
    })
    .await;
    let reuse_one = "Users cannot reuse any of the last 1 passwords created.";
    assert_changed(
        &short,
        put(&short, "u1006", "Frank-Older-74").await,
        "u1006",
        "Frank-Older-74",
    )
    .await;
    assert_error(
        put(&short, "u1006", "Frank-Current-36").await,
        400,
        1129,
        reuse_one,
    )
    .await;
}

#[tokio::test]
async fn bad_tokens_are_401_124() {
    let sim = launch(SimConfig::default()).await;
    let url = format!("{}/users/u1001/password", sim.base_url());
    let body = json!({"password": "Violet-Harbor-42"});
    let wrong = client()
        .put(&url)
        .bearer_auth("nope")
        .json(&body)
        .send()
        .await
        .unwrap();
    assert_error(wrong, 401, 124, "Invalid access token.").await;
    let missing = client().put(&url).json(&body).send().await.unwrap();
    assert_error(missing, 401, 124, "Invalid access token.").await;
    assert_error(
        get_settings(&sim, "nope").await,
        401,
        124,
        "Invalid access token.",
    )
    .await;
    assert_eq!(sim.stats().unauthorized_401, 3);
    assert_eq!(sim.user("u1001").unwrap().change_count, 0);
}

#[tokio::test]
async fn multipart_bodies_are_accepted_and_malformed_ones_refused() {
    let sim = launch(SimConfig::default()).await;
    let url = format!("{}/users/bob%2Bops%40example.com/password", sim.base_url());
    let form = reqwest::multipart::Form::new().text("password", "Maple7-Quartz-Rain");
    let response = client()
        .put(&url)
        .bearer_auth(TOKEN)
        .multipart(form)
        .send()
        .await
        .unwrap();
    assert_changed(&sim, response, "bob+ops@example.com", "Maple7-Quartz-Rain").await;

    let not_json = "Request Body should be a valid JSON object.";
    for body in ["not json", "[1]", ""] {
        let request = client()
            .put(&url)
            .bearer_auth(TOKEN)
            .header("content-type", "application/json");
        assert_error(request.body(body).send().await.unwrap(), 400, 300, not_json).await;
    }
    let invalid = json!({"code": 300, "message": "Validation Failed.",
        "errors": [{"field": "password", "message": "Invalid field."}]});
    for body in [json!({}), json!({"password": 5})] {
        let response = client()
            .put(&url)
            .bearer_auth(TOKEN)
            .json(&body)
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), StatusCode::BAD_REQUEST);
        assert_eq!(response.json::<Value>().await.unwrap(), invalid);
    }
    let form = reqwest::multipart::Form::new().text("pass", "Maple7-Quartz-Rain");
    let response = client()
        .put(&url)
        .bearer_auth(TOKEN)
        .multipart(form)
        .send()
        .await
        .unwrap();
    assert_eq!(response.json::<Value>().await.unwrap(), invalid);
}

#[tokio::test]
async fn encoded_user_ids_are_decoded_exactly_once() {
    let mut csv = tempfile::NamedTempFile::new().unwrap();
    let rows = "id,email,password,role,changes_24h,recent_passwords\n\
        x1,a/b@example.com,Slash-Current-11,member,0,\n\
        x2,b@example.com,Bee-Current-22,member,0,\n\
        x3,q?x#y%z@example.com,Odd-Current-33,member,0,\n\
        x4,xa@example.com,Xa-Current-44,member,0,\n";
    csv.write_all(rows.as_bytes()).unwrap();
    let sim = launch(SimConfig {
        users_file: Some(csv.path().into()),
        ..SimConfig::default()
    })
    .await;
    assert_changed(
        &sim,
        put_raw(&sim, "a%2Fb%40example.com", "New-Slash-Pw-71").await,
        "x1",
        "New-Slash-Pw-71",
    )
    .await;
    assert_eq!(sim.user("x2").unwrap().change_count, 0);
    let odd = put_raw(&sim, "q%3Fx%23y%25z%40example.com", "New-Odd-Pw-72").await;
    assert_changed(&sim, odd, "x3", "New-Odd-Pw-72").await;
    let escape = put_raw(&sim, "..%2F..%2Faccounts", "New-Odd-Pw-73").await;
    assert_error(escape, 404, 1001, "User does not exist: ../../accounts.").await;
    // Decoding twice would turn %2540 into @ and find xa@example.com.
    let twice = put_raw(&sim, "xa%2540example.com", "New-Odd-Pw-74").await;
    assert_error(twice, 404, 1001, "User does not exist: xa%40example.com.").await;
    assert_eq!(sim.user("x4").unwrap().change_count, 0);
}

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
    assert_eq!(sim.max_admitted_in(Duration::from_secs(1)), 10);
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

#[tokio::test]
async fn a_second_request_for_a_user_in_flight_is_429() {
    let sim = launch(SimConfig {
        latency_ms: 300,
        ..SimConfig::default()
    })
    .await;
    let url = format!("{}/users/alice%40example.com/password", sim.base_url());
    let first = tokio::spawn(async move {
        let body = json!({"password": "Violet-Harbor-42"});
        client()
            .put(url)
            .bearer_auth(TOKEN)
            .json(&body)
            .send()
            .await
            .unwrap()
    });
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
    let error = client()
        .put(url)
        .bearer_auth(TOKEN)
        .json(&json!({"password": "Violet-Harbor-42"}));
    let error = error.send().await.unwrap_err();
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
    let error = client()
        .put(url)
        .bearer_auth(TOKEN)
        .json(&json!({"password": "Violet-Harbor-42"}));
    let error = error.send().await.unwrap_err();
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
    let started = Instant::now();
    sim.shutdown().await;
    assert!(started.elapsed() < Duration::from_secs(1));

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
        let outcome = if zoom_rotate::rules::check(password, &PasswordPolicy::default()).is_err() {
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
