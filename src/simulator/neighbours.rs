//! Other apps on the simulated account, as the simulator serves them: background
//! consumers of the same Medium budget as the job (Zoom counts it per account, across
//! every app), so tests and the benchmark can see whether the job leaves them their share.
//!
//! The apps themselves are HTTP clients of the simulator on loopback (`other_app`), with
//! latency and jitter before each request; this file is their endpoint,
//! `POST /_sim/other-app`, which counts each request against the Medium budget at
//! arrival, exactly like the job's, and answers 204 or Zoom's 429.
//!
//! What counts, in [`Stats`](super::Stats): `other_app_requests`, `other_app_rate_limited`
//! (every refusal, per second or per day), and `other_app_rate_limited_by_job`: refusals
//! the job caused. Precisely: the others are entitled to their average draw,
//! q = `other_app_qps` + `other_app_burst` / `other_app_burst_every_secs`, so the job's
//! available share is a = B − q of the per-second budget B. A per-second refusal of an
//! other app's request at t saw a full window: o of the others' requests and j of the
//! job's admitted in (t − 1 s, t], o + j = B. It was caused by the job when it would have
//! been admitted had the job kept to its share in that window: o + min(j, a) < B. A job
//! within its share (j ≤ a) therefore never causes one, and a burst larger than what is
//! left (or than the whole budget) is refused on its own account, not the job's. With
//! jittered arrivals the others can also crowd themselves out (five of a 5/s app's
//! requests landing in a window the job filled to its share): those are refusals too,
//! counted in `other_app_rate_limited`, which is the figure a neighbour sees.

use std::sync::Arc;
use std::time::Duration;

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};

use super::budget::{LimitKind, Limited};
use super::config::SimConfig;
use super::lock::LockRecover;
use super::state::Sim;

const WINDOW: Duration = Duration::from_secs(1);

/// Whether the configuration has any other app.
pub fn configured(c: &SimConfig) -> bool {
    c.other_app_qps > 0.0 || c.other_app_burst > 0
}

/// The others' average draw, requests per second: their entitlement.
fn entitled(c: &SimConfig) -> f64 {
    c.other_app_qps + f64::from(c.other_app_burst) / c.other_app_burst_every_secs
}

/// `POST /_sim/other-app`: one other-app request, admitted or refused at arrival,
/// counted. No bearer: it is the simulator's own neighbour, not a client under test.
pub(super) async fn post_other_app(State(sim): State<Arc<Sim>>) -> Response {
    match request(&sim) {
        Ok(()) => StatusCode::NO_CONTENT.into_response(),
        Err(limited) => sim.refusal(super::state::Gate::Limited(limited)),
    }
}

fn request(sim: &Sim) -> Result<(), Limited> {
    let instant = sim.clock.instant();
    let mut budget = sim.budget.locked();
    let verdict = budget.admit(sim.clock.now(), instant);
    let mut others = sim.others.locked();
    while others
        .admitted
        .front()
        .is_some_and(|t| instant.saturating_duration_since(*t) >= WINDOW)
    {
        others.admitted.pop_front();
    }
    let caused = match &verdict {
        Ok(_) => {
            others.admitted.push_back(instant);
            None
        }
        Err(limited) if limited.kind == LimitKind::Qps => {
            let b = f64::from(budget.qps());
            let o = others.admitted.len() as f64;
            let j = budget.in_window() as f64 - o;
            let share = (b - entitled(&sim.config)).max(0.0);
            Some(o + j.min(share) < b)
        }
        Err(_) => Some(false),
    };
    drop(others);
    drop(budget);
    sim.count(|s| {
        s.other_app_requests += 1;
        if let Some(caused) = caused {
            s.other_app_rate_limited += 1;
            s.other_app_rate_limited_by_job += u64::from(caused);
        }
    });
    verdict.map(|_| ())
}
