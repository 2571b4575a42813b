//! The small endpoints: the account settings read (`GET /v2/accounts/me/settings`, the
//! enhanced password rules, Medium label), the Server-to-Server token grant
//! (`POST /oauth/token`), and the simulator's own controls, `GET /_sim/stats` and
//! `POST /_sim/clock?advance_secs=N`, which tests and the demo use to read counters and
//! move time. The password change and the directory endpoints have files of their own
//! (`change`, `listing`); all of them work on the shared [`Sim`] of `state`.

use std::sync::Arc;
use std::time::Duration;

use axum::body::to_bytes;
use axum::extract::{Query, Request, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::Deserialize;
use serde_json::json;

use super::lock::LockRecover;
use super::oauth::{self, TokenRequest};
use super::state::{zoom_error, Sim, BODY_LIMIT};
use super::stats::{StatsReport, UserCount};

/// `GET /v2/accounts/me/settings`: the account's enhanced password rules, or the 403 of
/// a token without `account:read:admin` when the simulator is told so.
pub(super) async fn get_settings(State(sim): State<Arc<Sim>>, headers: HeaderMap) -> Response {
    sim.count(|s| {
        s.requests_total += 1;
        s.settings_gets += 1;
    });
    let admitted = match sim.gate(&headers) {
        Ok(admitted) => admitted,
        Err(gate) => return sim.refusal(gate),
    };
    // Drawn like a password change's, so the seeded sequence counts every budgeted
    // request; only the latency applies here, faults are for password changes.
    let (latency, _) = sim.draw();
    if !latency.is_zero() {
        tokio::time::sleep(latency).await;
    }
    if sim.config.settings_forbidden {
        sim.count(|s| s.forbidden_403 += 1);
        let message = "Invalid access token, does not contain scopes:[account:read:admin].";
        return zoom_error(StatusCode::FORBIDDEN, 4700, message);
    }
    let body = json!({"security": {"password_requirement": sim.config.password_requirement}});
    (admitted.headers(), Json(body)).into_response()
}

/// `POST /oauth/token`: grants a token for the configured S2S credentials, which may come
/// in the query string or a form body, as Zoom accepts both.
pub(super) async fn post_token(State(sim): State<Arc<Sim>>, request: Request) -> Response {
    sim.count(|s| s.requests_total += 1);
    let (parts, body) = request.into_parts();
    let Ok(body) = to_bytes(body, BODY_LIMIT).await else {
        return (StatusCode::PAYLOAD_TOO_LARGE, "").into_response();
    };
    let is_form = parts
        .headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_none_or(|v| {
            v.to_ascii_lowercase()
                .starts_with("application/x-www-form-urlencoded")
        });
    let request = TokenRequest {
        authorization: parts
            .headers
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok()),
        query: parts.uri.query(),
        form: is_form.then_some(&body[..]),
    };
    let now = sim.clock.now();
    let answer = oauth::grant(
        &sim.config,
        &mut sim.tokens.locked(),
        now,
        &sim.api_url,
        &request,
    );
    match answer {
        Ok(body) => {
            sim.count(|s| s.token_grants += 1);
            Json(body).into_response()
        }
        Err((status, body)) => {
            sim.count(|s| s.token_errors += 1);
            (status, Json(body)).into_response()
        }
    }
}

/// `GET /_sim/stats`: the counters and each user's change count.
pub(super) async fn get_stats(State(sim): State<Arc<Sim>>) -> Json<StatsReport> {
    let users = sim.account.locked().change_counts();
    Json(StatsReport {
        stats: sim.stats(),
        users: users
            .into_iter()
            .map(|(id, email, change_count)| UserCount {
                id,
                email,
                change_count,
            })
            .collect(),
    })
}

#[derive(Deserialize)]
pub(super) struct Advance {
    advance_secs: u64,
}

/// `POST /_sim/clock`: moves the clock; an advance past the clock's limit is a 400 and
/// leaves it unmoved.
pub(super) async fn post_clock(
    State(sim): State<Arc<Sim>>,
    Query(advance): Query<Advance>,
) -> Response {
    if let Err(e) = sim
        .clock
        .try_advance(Duration::from_secs(advance.advance_secs))
    {
        return zoom_error(StatusCode::BAD_REQUEST, 300, &e.to_string());
    }
    let now = humantime::format_rfc3339_seconds(sim.clock.now()).to_string();
    Json(json!({"now": now})).into_response()
}
