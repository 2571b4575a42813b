//! What the `--contain-sso` wiring will call: `ZoomClient::revoke_sso_token` sends exactly
//! `DELETE /v2/users/{userId}/token` (the ID one encoded segment, the bearer, no body);
//! paced by a limiter below the Light rate (a margin for a busy machine) it stays within
//! the simulator's separate Light budget and leaves the Medium budget untouched; and
//! `users::lookup` finds the listing rows of a run's targets for the evidence folder.

use super::*;
use std::time::Duration;
use wiremock::matchers::{method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};
use zoom_rotate::pipeline::limiter::Limiter;
use zoom_rotate::simulator::SimConfig;
use zoom_rotate::zoom::auth::Auth;
use zoom_rotate::zoom::client::{http_client, ZoomClient};
use zoom_rotate::zoom::contain::{judge_revoke, Revoke};

async fn client_and_bearer(base: &str) -> (ZoomClient, zoom_rotate::zoom::auth::Bearer) {
    let http = http_client(Duration::from_secs(10)).unwrap();
    let auth = Auth::new(
        util::token("wm-token"),
        url::Url::parse("http://127.0.0.1:9/t").unwrap(),
    )
    .unwrap();
    let bearer = auth.bearer(&http).await.unwrap();
    (
        ZoomClient::new(http, base, zoom_rotate::zoom::client::BodyFormat::Json),
        bearer,
    )
}

#[tokio::test]
async fn the_revoke_request_is_exactly_zooms() {
    let server = MockServer::start().await;
    Mock::given(method("DELETE"))
        .and(path("/v2/users/sam%2Bsso%40corp.example/token"))
        .respond_with(ResponseTemplate::new(204))
        .expect(1)
        .mount(&server)
        .await;
    let (client, bearer) = client_and_bearer(&util::v2(&server)).await;
    let sent = client
        .revoke_sso_token("sam+sso@corp.example", &bearer)
        .await;
    assert_eq!(judge_revoke(&sent), Revoke::Revoked);
    let requests = server.received_requests().await.unwrap();
    assert_eq!(requests.len(), 1);
    assert_eq!(requests[0].headers["authorization"], "Bearer wm-token");
    assert!(requests[0].body.is_empty());
}

#[tokio::test]
async fn revokes_paced_at_the_light_rate_get_no_429_and_leave_medium_untouched() {
    let sim = util::sim(SimConfig {
        generate_users: Some(12),
        light_qps: Some(6),
        qps: Some(1),
        ..SimConfig::default()
    })
    .await;
    let (client, _) = client_and_bearer(&sim.base_url()).await;
    let http = http_client(Duration::from_secs(10)).unwrap();
    let auth = Auth::new(
        util::token("sim-token"),
        url::Url::parse(&sim.token_url()).unwrap(),
    )
    .unwrap();
    let bearer = auth.bearer(&http).await.unwrap();
    let light = Limiter::new(
        zoom_rotate::zoom::plan::light_rate(zoom_rotate::zoom::plan::Plan::Pro, 20.0) / 7.5,
    );
    let stop = Stop::new();
    for n in 1..=12 {
        assert!(light.acquire(stop.token()).await);
        let sent = client.revoke_sso_token(&format!("u{n}"), &bearer).await;
        assert_eq!(judge_revoke(&sent), Revoke::Revoked, "u{n}");
    }
    let stats = sim.stats();
    assert_eq!((stats.token_revokes, stats.rate_limited_light), (12, 0));
    assert_eq!(sim.admitted().len(), 0, "no Medium request was counted");
    assert!(
        zoom_rotate::simulator::max_in_window(&sim.admitted_light(), Duration::from_secs(1)) <= 6
    );
}

#[tokio::test]
async fn lookup_finds_the_targets_listing_rows_by_id_or_email_in_any_status() {
    let dir = util::tmp();
    let sim = util::sim(util::sim_users(dir.path(), ACCOUNT)).await;
    let http = http_client(Duration::from_secs(10)).unwrap();
    let client = ZoomClient::new(
        http.clone(),
        &sim.base_url(),
        zoom_rotate::zoom::client::BodyFormat::Json,
    );
    let auth = Auth::new(
        util::token("sim-token"),
        url::Url::parse(&sim.token_url()).unwrap(),
    )
    .unwrap();
    let (limiter, stop) = (Limiter::new(20.0), Stop::new());
    let retry = zoom_rotate::zoom::retry::RetrySettings {
        attempts: 3,
        base_delay: Duration::from_millis(10),
        max_delay: Duration::from_millis(50),
    };
    let pager = zoom_rotate::commands::users::fetch::Pager {
        client: &client,
        http: &http,
        auth: &auth,
        limiter: &limiter,
        retry,
        stop: &stop,
    };
    let wanted = [
        "u3",
        "ANN@corp.example",
        "pending@corp.example",
        "u5",
        "nobody@corp.example",
    ]
    .map(String::from)
    .into();
    let rows = zoom_rotate::commands::users::lookup(&pager, &wanted)
        .await
        .unwrap();
    let found: Vec<(&str, &str, &[u32])> = rows
        .iter()
        .map(|r| (r.id.as_str(), r.status.as_str(), r.login_types.as_slice()))
        .collect();
    assert_eq!(
        found,
        [
            ("u2", "active", &[100][..]),
            ("u3", "active", &[101][..]),
            ("u5", "inactive", &[100, 101][..]),
            ("u7", "pending", &[100][..])
        ]
    );
}
