//! The simulator's HTTP plumbing: the routes, which hand each request to its handler
//! (`change`, `listing`, `endpoints`), and the connection serving. It holds no state of
//! its own: the handlers work on the shared [`Sim`] of `state`, and nothing imports
//! this file but the simulator's front door (`mod.rs`).
//!
//! Connections are served here rather than by `axum::serve`, whose service is
//! infallible, so every request gets a response. Each connection runs hyper's HTTP/1
//! server with a service that calls the router and turns a response marked
//! [`DropConnection`] into an error; hyper answers a service error by closing the
//! connection without writing a byte, which is what a client sees when a gateway or
//! Zoom's backend dies mid-request. HTTP/1 only: the simulator serves plain `http://`,
//! where clients speak HTTP/1.1.

use std::convert::Infallible;
use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use axum::http::StatusCode;
use axum::routing::{delete, get, post, put};
use axum::Router;
use hyper::body::Incoming;
use hyper_util::rt::{TokioIo, TokioTimer};
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;
use tower::ServiceExt as _;

use super::state::{zoom_error, DropConnection, Sim};
use super::{change, endpoints, listing, neighbours};

pub fn router(sim: Arc<Sim>) -> Router {
    Router::new()
        .route("/v2/users/:user_id/password", put(change::put_password))
        .route("/v2/accounts/me/settings", get(endpoints::get_settings))
        .route("/v2/users", get(listing::list_users))
        .route("/v2/users/:user_id/token", delete(listing::revoke_token))
        .route("/v2/groups/:group_id/members", get(listing::list_members))
        .route("/v2/report/activities", get(listing::list_activities))
        .route("/oauth/token", post(endpoints::post_token))
        .route("/_sim/stats", get(endpoints::get_stats))
        .route("/_sim/clock", post(endpoints::post_clock))
        .route("/_sim/other-app", post(neighbours::post_other_app))
        .fallback(|| async { zoom_error(StatusCode::NOT_FOUND, 404, "Not Found.") })
        .with_state(sim)
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
