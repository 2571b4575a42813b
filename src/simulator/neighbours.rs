//! Other apps on the simulated account: background consumers of the same Medium budget
//! as the job (Zoom counts it per account, across every app), so tests and the benchmark
//! can see whether the job leaves them their share.
//!
//! Two consumers, each optional (`[simulator]`): a steady one sending `other_app_qps`
//! requests per second, evenly spaced (calendar sync), and a bursty one sending
//! `other_app_burst` at once every `other_app_burst_every_secs` (a sync job). Their
//! requests go straight to the budget (no HTTP: their own cost must not load the
//! machine the job is measured on), and they do not retry a refusal.
//!
//! What counts, in [`Stats`](super::Stats): `other_app_requests`, `other_app_rate_limited`
//! (refused, per second or per day), and `other_app_rate_limited_by_job`: refusals the
//! job caused. Precisely: the others are entitled to their average draw,
//! q = `other_app_qps` + `other_app_burst` / `other_app_burst_every_secs`, so the job's
//! available share is a = B − q of the per-second budget B. A per-second refusal of an
//! other app's request at t saw a full window: o of the others' requests and j of the
//! job's admitted in (t − 1 s, t], o + j = B. It was caused by the job when it would have
//! been admitted had the job kept to its share in that window: o + min(j, a) < B. A job
//! within its share (j ≤ a) therefore never causes one, and a burst larger than what is
//! left (or than the whole budget) is refused on its own account, not the job's.

use std::collections::VecDeque;
use std::sync::Arc;
use std::time::Duration;

use tokio::time::{Instant, MissedTickBehavior};
use tokio_util::sync::CancellationToken;

use super::budget::LimitKind;
use super::config::SimConfig;
use super::lock::LockRecover;
use super::state::Sim;

const WINDOW: Duration = Duration::from_secs(1);

/// The others' admissions of the last second (simulator clock), for the count of j.
#[derive(Debug, Default)]
pub struct Others {
    window: VecDeque<std::time::Instant>,
}

/// Whether the configuration has any other app.
pub fn configured(c: &SimConfig) -> bool {
    c.other_app_qps > 0.0 || c.other_app_burst > 0
}

/// The others' average draw, requests per second: their entitlement.
fn entitled(c: &SimConfig) -> f64 {
    c.other_app_qps + f64::from(c.other_app_burst) / c.other_app_burst_every_secs
}

/// One other-app request: admitted or refused, counted.
fn request(sim: &Sim, others: &std::sync::Mutex<Others>) {
    let instant = sim.clock.instant();
    let mut budget = sim.budget.locked();
    let verdict = budget.admit(sim.clock.now(), instant);
    let mut others = others.locked();
    while others
        .window
        .front()
        .is_some_and(|t| instant.saturating_duration_since(*t) >= WINDOW)
    {
        others.window.pop_front();
    }
    let caused = match verdict {
        Ok(_) => {
            others.window.push_back(instant);
            None
        }
        Err(limited) if limited.kind == LimitKind::Qps => {
            let b = f64::from(budget.qps());
            let o = others.window.len() as f64;
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
}

/// Runs the configured consumers until `cancel` fires.
pub async fn run(sim: Arc<Sim>, cancel: CancellationToken) {
    let others = std::sync::Mutex::new(Others::default());
    let c = &sim.config;
    let steady = (c.other_app_qps > 0.0)
        .then(|| Duration::try_from_secs_f64(1.0 / c.other_app_qps).ok())
        .flatten()
        .filter(|p| !p.is_zero());
    let mut steady_tick = tokio::time::interval(steady.unwrap_or(Duration::from_secs(3600)));
    steady_tick.set_missed_tick_behavior(MissedTickBehavior::Skip);
    let every = Duration::from_secs_f64(c.other_app_burst_every_secs);
    let mut burst_tick = tokio::time::interval_at(Instant::now() + every, every);
    burst_tick.set_missed_tick_behavior(MissedTickBehavior::Skip);
    loop {
        tokio::select! {
            () = cancel.cancelled() => return,
            _ = steady_tick.tick(), if steady.is_some() => request(&sim, &others),
            _ = burst_tick.tick(), if c.other_app_burst > 0 => {
                for _ in 0..c.other_app_burst {
                    request(&sim, &others);
                }
            }
        }
    }
}
