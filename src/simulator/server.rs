//! The simulator's HTTP side: the shared state ([`Sim`]), the routes, the bearer and
//! budget gate every API request passes, the settings, token and `/_sim/*` handlers
//! (the password change has `change.rs`), and the connection serving.
//!
//! Connections are served here rather than by `axum::serve`, whose service is
//! infallible, so every request gets a response. Each connection runs hyper's HTTP/1
//! server with a service that calls the router and turns a response marked
//! [`DropConnection`] into an error; hyper answers a service error by closing the
//! connection without writing a byte, which is what a client sees when a gateway or
//! Zoom's backend dies mid-request. HTTP/1 only: the simulator serves plain `http://`,
//! where clients speak HTTP/1.1.

use std::collections::HashSet;
use std::convert::Infallible;
use std::fmt;
use std::sync::atomic::AtomicU64;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::body::to_bytes;
use axum::extract::{Query, Request, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{delete, get, post, put};
use axum::{Json, Router};
use hyper::body::Incoming;
use hyper_util::rt::{TokioIo, TokioTimer};
use rand::rngs::StdRng;
use rand::SeedableRng;
use serde::Deserialize;
use serde_json::json;
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;
use tower::ServiceExt as _;

use super::account::Account;
use super::budget::{Admitted, Budget, LimitKind, Limited, SimClock};
use super::change;
use super::config::SimConfig;
use super::directory::Pages;
use super::listing;
use super::oauth::{self, TokenRequest, TokenStore};
use super::{LockRecover, Stats, StatsReport, UserCount};
use crate::zoom::plan::Label;

/// Response extension asking the connection layer to close the connection unanswered.
#[derive(Debug, Clone, Copy)]
pub struct DropConnection;

/// Largest request body read: a password body is tiny; anything bigger is not one.
pub(super) const BODY_LIMIT: usize = 64 * 1024;

/// The whole simulated account and its machinery, shared by every request. Each part has
/// its own mutex, none held across an `.await`, so requests only serialize on the
/// moment they touch that part.
pub struct Sim {
    pub config: SimConfig,
    pub api_url: String,
    pub clock: SimClock,
    pub account: Mutex<Account>,
    pub budget: Mutex<Budget>,
    /// The Light label's budget (the SSO token revoke), counted apart from the Medium one.
    pub light: Mutex<Budget>,
    /// The Heavy label's budget (the activity report).
    pub heavy: Mutex<Budget>,
    /// The `next_page_token`s handed out by the listings.
    pub(super) pages: Mutex<Pages>,
    tokens: Mutex<TokenStore>,
    stats: Mutex<Stats>,
    /// One seeded generator for latency jitter and faults: the same seed and the same
    /// request order reproduce the same run.
    pub(super) rng: Mutex<StdRng>,
    /// Users with a change in progress (indexes into the account): Zoom refuses a second
    /// request for the same user while the first is being processed.
    pub(super) in_flight: Mutex<HashSet<usize>>,
    pub(super) puts_in_progress: AtomicU64,
}

impl Sim {
    pub fn new(config: SimConfig, api_url: String) -> anyhow::Result<Self> {
        let clock = SimClock::default();
        let account = Account::from_config(&config, clock.now())?;
        let (light_qps, light_daily) = config.effective_light();
        let (heavy_qps, heavy_daily) = config.effective_heavy();
        Ok(Sim {
            light: Mutex::new(Budget::labelled(Label::Light, light_qps, light_daily)),
            heavy: Mutex::new(Budget::labelled(Label::Heavy, heavy_qps, heavy_daily)),
            pages: Mutex::new(Pages::default()),
            api_url,
            account: Mutex::new(account),
            budget: Mutex::new(Budget::new(
                config.effective_qps(),
                config.effective_daily_limit(),
            )),
            tokens: Mutex::new(TokenStore::default()),
            stats: Mutex::new(Stats::default()),
            rng: Mutex::new(StdRng::seed_from_u64(config.seed)),
            in_flight: Mutex::new(HashSet::new()),
            puts_in_progress: AtomicU64::new(0),
            clock,
            config,
        })
    }

    pub fn stats(&self) -> Stats {
        self.stats.locked().clone()
    }

    pub(super) fn count(&self, update: impl FnOnce(&mut Stats)) {
        update(&mut self.stats.locked());
    }

    fn authorized(&self, headers: &HeaderMap) -> bool {
        let authorization = headers
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok());
        let now = self.clock.now();
        self.tokens
            .locked()
            .authorize(&self.config, authorization, now)
    }

    /// The bearer and budget steps every budgeted endpoint starts with: the admission, or
    /// why not (see [`Sim::refusal`] for the answer).
    pub(super) fn gate(&self, headers: &HeaderMap) -> Result<Admitted, Gate> {
        self.gate_on(headers, &self.budget)
    }

    /// [`Sim::gate`] against the given label's budget.
    pub(super) fn gate_on(
        &self,
        headers: &HeaderMap,
        budget: &Mutex<Budget>,
    ) -> Result<Admitted, Gate> {
        if !self.authorized(headers) {
            self.count(|s| s.unauthorized_401 += 1);
            return Err(Gate::Unauthorized);
        }
        let verdict = budget
            .locked()
            .admit(self.clock.now(), self.clock.instant());
        verdict.map_err(|limited| {
            self.count(|s| match (limited.label, limited.kind) {
                (Label::Light, _) => s.rate_limited_light += 1,
                (Label::Heavy, _) => s.rate_limited_heavy += 1,
                (Label::Medium, LimitKind::Qps) => s.rate_limited_qps += 1,
                (Label::Medium, LimitKind::Daily) => s.rate_limited_daily += 1,
            });
            Gate::Limited(limited)
        })
    }

    /// The 401 or the 429, with Zoom's body and headers.
    pub(super) fn refusal(&self, gate: Gate) -> Response {
        match gate {
            Gate::Unauthorized => {
                zoom_error(StatusCode::UNAUTHORIZED, 124, "Invalid access token.")
            }
            Gate::Limited(limited) => {
                let headers =
                    limited.headers(self.config.retry_after, self.config.omit_daily_headers);
                let body = zoom_error(StatusCode::TOO_MANY_REQUESTS, 429, limited.message());
                (headers, body).into_response()
            }
        }
    }
}

/// Why a request did not pass the bearer and budget steps.
pub(super) enum Gate {
    Unauthorized,
    Limited(Limited),
}

pub fn router(sim: Arc<Sim>) -> Router {
    Router::new()
        .route("/v2/users/:user_id/password", put(change::put_password))
        .route("/v2/accounts/me/settings", get(get_settings))
        .route("/v2/users", get(listing::list_users))
        .route("/v2/users/:user_id/token", delete(listing::revoke_token))
        .route("/v2/groups/:group_id/members", get(listing::list_members))
        .route("/v2/report/activities", get(listing::list_activities))
        .route("/oauth/token", post(post_token))
        .route("/_sim/stats", get(get_stats))
        .route("/_sim/clock", post(post_clock))
        .fallback(|| async { zoom_error(StatusCode::NOT_FOUND, 404, "Not Found.") })
        .with_state(sim)
}

/// A Zoom error: JSON `{"code","message"}` with its status.
pub fn zoom_error(status: StatusCode, code: u32, message: &str) -> Response {
    (status, Json(json!({"code": code, "message": message}))).into_response()
}

async fn get_settings(State(sim): State<Arc<Sim>>, headers: HeaderMap) -> Response {
    sim.count(|s| {
        s.requests_total += 1;
        s.settings_gets += 1;
    });
    let admitted = match sim.gate(&headers) {
        Ok(admitted) => admitted,
        Err(gate) => return sim.refusal(gate),
    };
    let (latency, _) = change::draw(&sim);
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

async fn post_token(State(sim): State<Arc<Sim>>, request: Request) -> Response {
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

async fn get_stats(State(sim): State<Arc<Sim>>) -> Json<StatsReport> {
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
struct Advance {
    advance_secs: u64,
}

/// Moves the clock; an advance past the clock's limit is a 400 and leaves it unmoved.
async fn post_clock(State(sim): State<Arc<Sim>>, Query(advance): Query<Advance>) -> Response {
    if let Err(e) = sim
        .clock
        .try_advance(Duration::from_secs(advance.advance_secs))
    {
        return zoom_error(StatusCode::BAD_REQUEST, 300, &e.to_string());
    }
    let now = humantime::format_rfc3339_seconds(sim.clock.now()).to_string();
    Json(json!({"now": now})).into_response()
}

/// The error that makes hyper close a connection unanswered.
#[derive(Debug)]
struct Dropped;

impl fmt::Display for Dropped {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("simulated fault: connection closed without a response")
    }
}

impl std::error::Error for Dropped {}

/// Accepts connections on `listener` until `cancel` fires, then closes every open
/// connection (in-flight requests included: a stopped simulator answers nothing) and
/// returns once they are all gone.
pub async fn serve(listener: TcpListener, router: Router, cancel: CancellationToken) {
    let connections = TaskTracker::new();
    loop {
        let accepted = tokio::select! {
            () = cancel.cancelled() => break,
            accepted = listener.accept() => accepted,
        };
        let stream = match accepted {
            Ok((stream, _peer)) => stream,
            Err(error) => {
                // Out of file descriptors and the like: pause rather than spin.
                tracing::warn!(%error, "simulator: accept failed");
                tokio::time::sleep(Duration::from_millis(50)).await;
                continue;
            }
        };
        // Small request/response pairs: don't let Nagle hold them back.
        let _ = stream.set_nodelay(true);
        let router = router.clone();
        let cancel = cancel.clone();
        connections.spawn(async move {
            let service = hyper::service::service_fn(move |request: hyper::Request<Incoming>| {
                let router = router.clone();
                async move {
                    let response = router
                        .oneshot(request)
                        .await
                        .unwrap_or_else(|never: Infallible| match never {});
                    if response.extensions().get::<DropConnection>().is_some() {
                        Err(Dropped)
                    } else {
                        Ok(response)
                    }
                }
            });
            let connection = hyper::server::conn::http1::Builder::new()
                .timer(TokioTimer::new())
                .serve_connection(TokioIo::new(stream), service);
            tokio::select! {
                // An error here is a dropped fault or a client that went away: both are
                // the point of a simulator, not something to log.
                _ = connection => {}
                () = cancel.cancelled() => {}
            }
        });
    }
    connections.close();
    connections.wait().await;
}
