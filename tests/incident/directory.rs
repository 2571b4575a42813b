//! The simulator's directory endpoints, spoken to directly: pages and their tokens
//! (reusable until they expire 15 minutes later on the simulator's clock), Zoom's 1123
//! for a password change of a user without a Zoom password, the SSO token revoke on a
//! Light budget of its own, and the activity report (paged, refused 403/4700 when the
//! simulator is told the scope is missing).

use super::*;
use std::time::Duration;
use zoom_rotate::simulator::{SimConfig, SimHandle, EXPIRED_TOKEN_MESSAGE};

async fn get(sim: &SimHandle, path_and_query: &str) -> (u16, Value) {
    let r = reqwest::Client::new()
        .get(format!("{}{path_and_query}", sim.base_url()))
        .bearer_auth("sim-token")
        .send()
        .await
        .unwrap();
    let status = r.status().as_u16();
    (status, r.json().await.unwrap_or(Value::Null))
}

async fn revoke(sim: &SimHandle, user: &str) -> reqwest::Response {
    reqwest::Client::new()
        .delete(format!("{}/users/{user}/token", sim.base_url()))
        .bearer_auth("sim-token")
        .send()
        .await
        .unwrap()
}

fn emails(body: &Value, key: &str) -> Vec<String> {
    body[key]
        .as_array()
        .unwrap()
        .iter()
        .map(|u| u["email"].as_str().unwrap().to_string())
        .collect()
}

#[tokio::test]
async fn pages_have_zooms_fields_and_tokens_expire_after_15_minutes_of_the_clock() {
    let sim = util::sim(SimConfig {
        generate_users: Some(7),
        ..SimConfig::default()
    })
    .await;
    let (status, first) = get(&sim, "/users?page_size=3").await;
    assert_eq!(status, 200);
    assert_eq!(
        (
            &first["page_size"],
            &first["total_records"],
            &first["page_count"]
        ),
        (&json!(3), &json!(7), &json!(3))
    );
    assert_eq!(
        emails(&first, "users"),
        [
            "user1@example.com",
            "user2@example.com",
            "user3@example.com"
        ]
    );
    assert_eq!(first["users"][0]["login_types"], json!([100]));
    let token = first["next_page_token"].as_str().unwrap().to_string();
    let second = format!("/users?page_size=3&next_page_token={token}");
    let (_, page2) = get(&sim, &second).await;
    assert_eq!(
        emails(&page2, "users"),
        [
            "user4@example.com",
            "user5@example.com",
            "user6@example.com"
        ]
    );
    // Used again (a retry after a 429): the same page.
    sim.advance_clock(Duration::from_secs(899));
    let again = get(&sim, &second).await.1;
    assert_eq!(again["users"], page2["users"]);
    sim.advance_clock(Duration::from_secs(1));
    assert_eq!(
        get(&sim, &second).await,
        (400, json!({"code": 300, "message": EXPIRED_TOKEN_MESSAGE}))
    );
    assert_eq!(sim.stats().page_tokens_refused, 1);
    // The token the later fetch handed out is 1 s old: still good.
    let third = again["next_page_token"].as_str().unwrap();
    let (_, last) = get(&sim, &format!("/users?page_size=3&next_page_token={third}")).await;
    assert_eq!(
        (emails(&last, "users"), &last["next_page_token"]),
        (vec!["user7@example.com".to_string()], &json!(""))
    );
}

#[tokio::test]
async fn page_size_is_at_most_300_and_must_be_a_number() {
    let sim = util::sim(SimConfig {
        generate_users: Some(301),
        ..SimConfig::default()
    })
    .await;
    let (_, body) = get(&sim, "/users?page_size=1000").await;
    assert_eq!(
        (body["users"].as_array().unwrap().len(), &body["page_count"]),
        (300, &json!(2))
    );
    let (_, body) = get(&sim, "/users").await;
    assert_eq!(body["page_size"], json!(30));
    assert_eq!(get(&sim, "/users?page_size=0").await.0, 400);
    assert_eq!(get(&sim, "/users?status=gone").await.0, 400);
}

#[tokio::test]
async fn group_members_are_paged_and_an_unknown_group_is_404_4130() {
    let dir = util::tmp();
    let sim = util::sim(util::sim_users(dir.path(), ACCOUNT)).await;
    let (_, body) = get(&sim, "/groups/g-fin/members?page_size=2").await;
    assert_eq!(
        emails(&body, "members"),
        ["ann@corp.example", "sso.sam@corp.example"]
    );
    assert_eq!(body["total_records"], json!(5));
    assert_eq!(
        get(&sim, "/groups/g-none/members").await,
        (
            404,
            json!({"code": 4130, "message": "Group does not exist: g-none."})
        )
    );
}

#[tokio::test]
async fn a_password_change_of_a_user_without_a_zoom_password_is_400_1123() {
    let dir = util::tmp();
    let sim = util::sim(util::sim_users(dir.path(), ACCOUNT)).await;
    for user in ["u3", "u4"] {
        let r = reqwest::Client::new()
            .put(format!("{}/users/{user}/password", sim.base_url()))
            .bearer_auth("sim-token")
            .json(&json!({"password": "Fresh-Valid-Pw-81"}))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status().as_u16(), 400);
        assert_eq!(
            r.json::<Value>().await.unwrap(),
            json!({"code": 1123, "message": "Can only update password of Zoom work email account"})
        );
        assert_eq!(sim.user(user).unwrap().change_count, 0);
    }
}

#[tokio::test]
async fn the_token_revoke_signs_the_user_out_and_404s_an_unknown_user() {
    let dir = util::tmp();
    let sim = util::sim(util::sim_users(dir.path(), ACCOUNT)).await;
    let r = revoke(&sim, "sso.sam%40corp.example").await;
    assert_eq!(r.status().as_u16(), 204);
    assert_eq!(r.headers()["x-ratelimit-category"], "Light");
    assert_eq!(sim.user("u3").unwrap().profile.revoked_at.len(), 1);
    let r = revoke(&sim, "nobody").await;
    assert_eq!(r.status().as_u16(), 404);
    assert_eq!(
        r.json::<Value>().await.unwrap(),
        json!({"code": 1001, "message": "User does not exist: nobody."})
    );
    assert_eq!(sim.stats().token_revokes, 2);
}

#[tokio::test]
async fn token_revokes_spend_a_light_budget_of_their_own() {
    let sim = util::sim(SimConfig {
        generate_users: Some(20),
        light_qps: Some(2),
        qps: Some(1),
        ..SimConfig::default()
    })
    .await;
    let mut refused = Vec::new();
    for n in 1..=12 {
        let r = revoke(&sim, &format!("u{n}")).await;
        if r.status().as_u16() == 429 {
            assert_eq!(r.headers()["x-ratelimit-category"], "Light");
            assert_eq!(r.headers()["x-ratelimit-type"], "QPS");
            assert_eq!(r.headers()["x-ratelimit-limit"], "2");
            refused.push(r.json::<Value>().await.unwrap());
        } else {
            assert_eq!(r.status().as_u16(), 204);
        }
    }
    // Twelve revokes in a row cannot all fit in a 2/s window (they would need 6 s).
    assert!(!refused.is_empty());
    assert!(refused.iter().all(|b| b["code"] == json!(429)));
    assert!(sim.max_in_light_window() <= 2);
    let stats = sim.stats();
    assert_eq!(stats.rate_limited_light, refused.len() as u64);
    // The Medium budget (1/s here) was not touched: its first request is admitted.
    assert_eq!(stats.rate_limited_qps, 0);
    assert_eq!(get(&sim, "/users").await.0, 200);
}

trait LightWindow {
    fn max_in_light_window(&self) -> usize;
}

impl LightWindow for SimHandle {
    fn max_in_light_window(&self) -> usize {
        zoom_rotate::simulator::max_in_window(&self.admitted_light(), Duration::from_secs(1))
    }
}

#[tokio::test]
async fn the_activity_report_lists_sign_ins_and_revocations_of_the_window() {
    let dir = util::tmp();
    let sim = util::sim(util::sim_users(dir.path(), ACCOUNT)).await;
    let (status, body) = get(
        &sim,
        "/report/activities?from=2026-11-30&to=2026-11-30&page_size=2",
    )
    .await;
    assert_eq!(status, 200);
    assert_eq!(
        (&body["from"], &body["to"], &body["total_records"]),
        (&json!("2026-11-30"), &json!("2026-11-30"), &json!(3))
    );
    assert_eq!(
        body["activity_logs"][0],
        json!({"email": "sso.sam@corp.example", "time": "2026-11-30T10:00:00Z", "type": "Sign in",
               "ip_address": "192.0.2.10", "client_type": "Browser", "version": "6.2.0"})
    );
    let token = body["next_page_token"].as_str().unwrap();
    let (_, rest) = get(
        &sim,
        &format!("/report/activities?page_size=2&next_page_token={token}"),
    )
    .await;
    assert_eq!(emails(&rest, "activity_logs"), ["owner@corp.example"]);
    assert_eq!(
        get(&sim, "/report/activities?from=2026-01-01&to=2026-03-01")
            .await
            .0,
        400
    );
    assert_eq!(get(&sim, "/report/activities").await.0, 400);
}

#[tokio::test]
async fn the_activity_report_without_its_scope_is_403_4700() {
    let dir = util::tmp();
    let sim = util::sim(SimConfig {
        activities_forbidden: true,
        ..util::sim_users(dir.path(), ACCOUNT)
    })
    .await;
    assert_eq!(
        get(&sim, "/report/activities?from=2026-11-30&to=2026-11-30").await,
        (
            403,
            json!({"code": 4700, "message": "Invalid access token, does not contain scopes:[report:read:admin]."})
        )
    );
}
