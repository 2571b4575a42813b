//! The simulator's state: [`Sim`], the whole simulated account and its machinery shared
//! by every request, and what the handlers share on top of it: the bearer and budget gate
//! every API request passes, Zoom's error body, the seeded latency and fault draw, and the
//! [`DropConnection`] mark that asks the connection layer to hang up unanswered.
//!
//! It knows nothing of routes or sockets: the handlers (`change`, `listing`, `endpoints`)
//! read and change it, and `server` wires them to HTTP. Keeping the two apart is what lets
//! the handlers import this file while `server` imports the handlers, never the reverse.

use std::collections::HashSet;
use std::sync::atomic::AtomicU64;
use std::sync::Mutex;
use std::time::Duration;

use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use serde_json::json;

use super::account::Account;
use super::budget::{Admitted, Budget, LimitKind, Limited, Others, SimClock};
use super::config::SimConfig;
use super::directory::Pages;
use super::lock::LockRecover;
use super::oauth::TokenStore;
use super::stats::Stats;
use crate::zoom::plan::Label;

/// Response extension asking the connection layer to close the connection unanswered.
#[derive(Debug, Clone, Copy)]
pub struct DropConnection;

/// Largest request body read: a password body is tiny; anything bigger is not one.
pub(super) const BODY_LIMIT: usize = 64 * 1024;

/// A Zoom error: JSON `{"code","message"}` with its status.
pub fn zoom_error(status: StatusCode, code: u32, message: &str) -> Response {
    (status, Json(json!({"code": code, "message": message}))).into_response()
}

/// The whole simulated account and its machinery, shared by every request. Each part has
/// its own mutex, none held across an `.await`, so requests only serialize on the
/// moment they touch that part.
pub struct Sim {
    pub config: SimConfig,
    pub api_url: String,
    pub clock: SimClock,
    /// The users and their passwords, history and change counts: every PUT reads and
    /// changes them, one request at a time per step.
    pub account: Mutex<Account>,
    /// The Medium label's budget: the per-second window and the daily count every
    /// Medium request (the job's and the other apps') is counted against at arrival.
    pub budget: Mutex<Budget>,
    /// The other apps' admissions of the last second, for `neighbours`' attribution.
    pub(super) others: Mutex<Others>,
    /// The Light label's budget (the SSO token revoke), counted apart from the Medium one.
    pub light: Mutex<Budget>,
    /// The Heavy label's budget (the activity report).
    pub heavy: Mutex<Budget>,
    /// The `next_page_token`s handed out by the listings.
    pub(super) pages: Mutex<Pages>,
    /// The tokens the OAuth endpoint granted, which the gate checks bearers against.
    pub(super) tokens: Mutex<TokenStore>,
    /// The counters tests and the benchmark read while requests are being served.
    stats: Mutex<Stats>,
    /// One seeded generator for latency jitter and faults: the same seed and the same
    /// request order reproduce the same run.
    rng: Mutex<StdRng>,
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
            others: Mutex::new(Others::default()),
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

    /// Processing time and fault for one request, drawn together under one lock so the
    /// sequence depends only on the seed and the request order.
    pub(super) fn draw(&self) -> (Duration, Fault) {
        let c = &self.config;
        let mut rng = self.rng.locked();
        let jitter = if c.jitter_ms > 0 {
            rng.gen_range(0..=c.jitter_ms)
        } else {
            0
        };
        let r: f64 = rng.gen();
        let fault = [
            (c.fault_5xx, Fault::BadGateway),
            (c.fault_drop_before, Fault::DropBefore),
            (c.fault_drop_after, Fault::DropAfter),
            (c.fault_slow, Fault::Slow),
        ]
        .into_iter()
        .scan(0.0, |edge, (p, fault)| {
            *edge += p;
            Some((*edge, fault))
        })
        .find(|&(edge, _)| r < edge)
        .map_or(Fault::None, |(_, fault)| fault);
        (Duration::from_millis(c.latency_ms + jitter), fault)
    }
}

/// Why a request did not pass the bearer and budget steps.
pub(super) enum Gate {
    Unauthorized,
    Limited(Limited),
}

/// The fault [`Sim::draw`] picked for a request (`change` says what each one does).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Fault {
    None,
    BadGateway,
    DropBefore,
    DropAfter,
    Slow,
}
