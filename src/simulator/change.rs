//! The password change, `PUT /v2/users/{userId}/password`, step by step as Zoom runs it:
//! bearer, Medium budget, body (JSON or multipart), user look-up, then, in a task of its
//! own (a client that hangs up does not stop Zoom's processing, so it does not stop
//! this), the same-user in-flight marker, latency, the seeded fault draw, and the
//! account's checks.
//!
//! Faults: a 502 with an HTML body and a connection closed before the change leave the
//! user untouched; a connection closed after it and a slow answer apply it. Closing is
//! asked for with the [`DropConnection`] response mark (of `state`) that `server` turns
//! into a socket closed without a byte of answer.

use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;

use axum::body::{to_bytes, Body};
use axum::extract::{FromRequest, Multipart, Request, State};
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use percent_encoding::percent_decode_str;
use serde_json::json;

use super::account::Refusal;
use super::lock::LockRecover;
use super::state::{zoom_error, DropConnection, Fault, Sim, BODY_LIMIT};

/// What became of a password change, for the handler to answer.
enum Outcome {
    Concurrent,
    BadGateway,
    Dropped,
    Done {
        result: Result<(), Refusal>,
        slow: bool,
    },
}

/// Marks a user busy for as long as it lives; a second request finds the mark and gets
/// the concurrent-request 429.
struct InFlight {
    /// The simulator whose in-flight set the mark is in: the guard removes it on drop,
    /// from whichever task the request ends on.
    sim: Arc<Sim>,
    idx: usize,
}

impl InFlight {
    fn take(sim: &Arc<Sim>, idx: usize) -> Option<Self> {
        let fresh = sim.in_flight.locked().insert(idx);
        fresh.then(|| InFlight {
            sim: sim.clone(),
            idx,
        })
    }
}

impl Drop for InFlight {
    fn drop(&mut self) {
        self.sim.in_flight.locked().remove(&self.idx);
    }
}

/// Counts admitted password changes being processed, to report the peak.
struct Progress(Arc<Sim>);

impl Progress {
    fn start(sim: &Arc<Sim>) -> Self {
        let now = sim.puts_in_progress.fetch_add(1, Ordering::SeqCst) + 1;
        sim.count(|s| s.max_concurrent_puts = s.max_concurrent_puts.max(now));
        Progress(sim.clone())
    }
}

impl Drop for Progress {
    fn drop(&mut self) {
        self.0.puts_in_progress.fetch_sub(1, Ordering::SeqCst);
    }
}

fn refusal_response(refusal: &Refusal) -> Response {
    let status = StatusCode::from_u16(refusal.status).unwrap_or(StatusCode::BAD_REQUEST);
    let mut body = json!({"code": refusal.code, "message": refusal.message});
    if let Some(error) = &refusal.field_error {
        body["errors"] = json!([{"field": "password", "message": error}]);
    }
    (status, Json(body)).into_response()
}

fn dropped() -> Response {
    let mut response = Response::new(Body::empty());
    response.extensions_mut().insert(DropConnection);
    response
}

/// The user ID or e-mail of `/v2/users/{segment}/password`, percent-decoded exactly once
/// from the raw path: an encoded `/`, `?`, `#` or `%` stays part of the ID.
fn user_segment(path: &str) -> Option<String> {
    let segment = path.strip_prefix("/v2/users/")?.strip_suffix("/password")?;
    (!segment.contains('/')).then(|| percent_decode_str(segment).decode_utf8_lossy().into_owned())
}

fn not_json() -> Refusal {
    Refusal {
        status: 400,
        code: 300,
        message: "Request Body should be a valid JSON object.".into(),
        field_error: None,
    }
}

fn invalid_field() -> Refusal {
    Refusal {
        status: 400,
        code: 300,
        message: "Validation Failed.".into(),
        field_error: Some("Invalid field.".into()),
    }
}

/// The `password` of a JSON body, or of a `multipart/form-data` body as Zoom's Users API
/// also accepts.
async fn read_password(request: Request) -> Result<String, Refusal> {
    let content_type = request
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_ascii_lowercase();
    if content_type.starts_with("multipart/form-data") {
        let mut form = Multipart::from_request(request, &())
            .await
            .map_err(|_| not_json())?;
        while let Some(field) = form.next_field().await.map_err(|_| not_json())? {
            if field.name() == Some("password") {
                return field.text().await.map_err(|_| not_json());
            }
        }
        return Err(invalid_field());
    }
    let bytes = to_bytes(request.into_body(), BODY_LIMIT)
        .await
        .map_err(|_| not_json())?;
    match serde_json::from_slice::<serde_json::Value>(&bytes) {
        Ok(serde_json::Value::Object(map)) => match map.get("password") {
            Some(serde_json::Value::String(password)) => Ok(password.clone()),
            _ => Err(invalid_field()),
        },
        _ => Err(not_json()),
    }
}

pub(super) async fn put_password(State(sim): State<Arc<Sim>>, request: Request) -> Response {
    sim.count(|s| {
        s.requests_total += 1;
        s.password_puts += 1;
    });
    let Some(user_id) = user_segment(request.uri().path()) else {
        return zoom_error(StatusCode::NOT_FOUND, 404, "Not Found.");
    };
    let admitted = match sim.gate(request.headers()) {
        Ok(admitted) => admitted,
        Err(gate) => return sim.refusal(gate),
    };
    let headers = admitted.headers();
    let password = match read_password(request).await {
        Ok(password) => password,
        Err(refusal) => {
            sim.count(|s| s.rejected_400 += 1);
            return (headers, refusal_response(&refusal)).into_response();
        }
    };
    let found = sim.account.locked().find(&user_id);
    let Some(idx) = found else {
        sim.count(|s| s.not_found_404 += 1);
        let message = format!("User does not exist: {user_id}.");
        return (headers, zoom_error(StatusCode::NOT_FOUND, 1001, &message)).into_response();
    };
    tracing::debug!(user = %user_id, "password change admitted");
    let task = tokio::spawn(process(sim.clone(), idx, password));
    let Ok(outcome) = task.await else {
        return zoom_error(
            StatusCode::INTERNAL_SERVER_ERROR,
            500,
            "Internal simulator error.",
        );
    };
    match outcome {
        Outcome::Concurrent => {
            sim.count(|s| s.rate_limited_concurrent += 1);
            zoom_error(
                StatusCode::TOO_MANY_REQUESTS,
                429,
                "Too many concurrent requests.",
            )
        }
        Outcome::BadGateway => {
            let html = "<html><body><h1>502 Bad Gateway</h1></body></html>";
            (
                StatusCode::BAD_GATEWAY,
                [(header::CONTENT_TYPE, "text/html")],
                html,
            )
                .into_response()
        }
        Outcome::Dropped => dropped(),
        Outcome::Done { result, slow } => {
            if slow {
                // The change is applied; only the answer is late, later than any client
                // waits. If the client hangs up, this future is dropped with it.
                tokio::time::sleep(Duration::from_millis(sim.config.slow_ms)).await;
            }
            match result {
                Ok(()) => {
                    sim.count(|s| s.responses_204 += 1);
                    (StatusCode::NO_CONTENT, headers).into_response()
                }
                Err(refusal) => {
                    sim.count(|s| s.rejected_400 += 1);
                    (headers, refusal_response(&refusal)).into_response()
                }
            }
        }
    }
}

/// The part of a change Zoom carries out whether or not the client still listens.
async fn process(sim: Arc<Sim>, idx: usize, password: String) -> Outcome {
    sim.account.locked().record_received(idx, &password);
    let Some(_busy) = InFlight::take(&sim, idx) else {
        return Outcome::Concurrent;
    };
    let _progress = Progress::start(&sim);
    let (latency, fault) = sim.draw();
    if !latency.is_zero() {
        tokio::time::sleep(latency).await;
    }
    match fault {
        Fault::BadGateway => {
            sim.count(|s| s.faults_5xx += 1);
            return Outcome::BadGateway;
        }
        Fault::DropBefore => {
            sim.count(|s| s.drops_before += 1);
            return Outcome::Dropped;
        }
        _ => {}
    }
    let now = sim.clock.now();
    let result = sim.account.locked().change_password(idx, &password, now);
    if result.is_ok() {
        sim.count(|s| s.changes_applied += 1);
    }
    match fault {
        Fault::DropAfter => {
            sim.count(|s| s.drops_after += 1);
            Outcome::Dropped
        }
        Fault::Slow => {
            sim.count(|s| s.slow += 1);
            Outcome::Done { result, slow: true }
        }
        _ => Outcome::Done {
            result,
            slow: false,
        },
    }
}

#[cfg(test)]
mod unit {
    use super::user_segment;

    #[test]
    fn user_segment_is_decoded_once() {
        let seg = |p: &str| user_segment(p);
        assert_eq!(
            seg("/v2/users/a%2Fb%40example.com/password").as_deref(),
            Some("a/b@example.com")
        );
        assert_eq!(
            seg("/v2/users/..%2F..%2Faccounts/password").as_deref(),
            Some("../../accounts")
        );
        assert_eq!(seg("/v2/users/x%2541/password").as_deref(), Some("x%41"));
        assert_eq!(
            seg("/v2/users/bob+ops@example.com/password").as_deref(),
            Some("bob+ops@example.com")
        );
        assert_eq!(seg("/v2/users/a/b/password"), None);
    }
}
