//! Each answer of API-NOTES' response table for a password change: 204 (and the
//! password really changed), same-as-old and the 24-hour limit (400/300), the owner
//! (1117), every password rule code, history (1129), unknown users (404/1001), bad tokens
//! (401/124), JSON and multipart bodies, malformed bodies, and user IDs that hold
//! encoded `/`, `?`, `#` or `%`.

use std::io::Write as _;

use zoom_rotate::zoom::rules::PasswordPolicy;

use super::*;

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
