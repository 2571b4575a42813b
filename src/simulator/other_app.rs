//! The other apps on the simulated account, as clients: real HTTP clients of the
//! simulator on loopback, the way a calendar sync or a provisioning job shares the
//! account with the job. Their requests go to `POST /_sim/other-app` (see `neighbours`),
//! which counts each one against the Medium budget when it arrives, like the job's.
//!
//! Two consumers, each optional (`[simulator]`): a steady one scheduling `other_app_qps`
//! requests per second, evenly spaced, and a bursty one scheduling `other_app_burst` at
//! once every `other_app_burst_every_secs`. Each request waits `other_app_latency_ms`
//! plus a seeded uniform 0..=`other_app_jitter_ms` after its slot before it is sent (the
//! transit to Zoom), on a task of its own so a slow one never holds back the next: the
//! arrivals are as jittered as a real neighbour's, which is what makes a window counted
//! at arrival hard to share. They do not retry a refusal; the simulator counts them all.
//!
//! Running in the simulator's process, their own cost is the simulator's, never the
//! client's the benchmark measures.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use tokio::time::{Instant, MissedTickBehavior};
use tokio_util::sync::CancellationToken;

use super::config::SimConfig;
use super::lock::LockRecover;

/// Mixed into the simulator's seed so the others' jitter is drawn apart from the job's
/// latency and faults: adding a neighbour does not change the job's seeded sequence.
const SEED_SALT: u64 = 0x0_7a_e1_6b_0a_25;

/// What one request needs: the client, where to send, and the seeded delay draw.
struct Sender {
    client: reqwest::Client,
    url: String,
    rng: Mutex<StdRng>,
    latency_ms: u64,
    jitter_ms: u64,
    cancel: CancellationToken,
}

impl Sender {
    fn delay(&self) -> Duration {
        let jitter = match self.jitter_ms {
            0 => 0,
            j => self.rng.locked().gen_range(0..=j),
        };
        Duration::from_millis(self.latency_ms + jitter)
    }

    /// Sends one request after its transit delay, on its own task. The answer is read
    /// and dropped: the simulator has already counted it.
    fn spawn(self: &Arc<Self>) {
        let delay = self.delay();
        let me = Arc::clone(self);
        tokio::spawn(async move {
            let send = async {
                tokio::time::sleep(delay).await;
                if let Ok(response) = me.client.post(&me.url).send().await {
                    let _ = response.bytes().await;
                }
            };
            tokio::select! {
                () = me.cancel.cancelled() => {}
                () = send => {}
            }
        });
    }
}

/// Runs the configured consumers against the simulator at `api_url` (`http://addr`)
/// until `cancel` fires.
pub async fn run(config: SimConfig, api_url: String, cancel: CancellationToken) {
    let client = match reqwest::Client::builder()
        .no_proxy()
        .timeout(Duration::from_secs(30))
        .build()
    {
        Ok(client) => client,
        Err(error) => {
            tracing::warn!(%error, "simulator: the other apps cannot start");
            return;
        }
    };
    let sender = Arc::new(Sender {
        client,
        url: format!("{api_url}/_sim/other-app"),
        rng: Mutex::new(StdRng::seed_from_u64(config.seed ^ SEED_SALT)),
        latency_ms: config.other_app_latency_ms,
        jitter_ms: config.other_app_jitter_ms,
        cancel: cancel.clone(),
    });
    let steady = (config.other_app_qps > 0.0)
        .then(|| Duration::try_from_secs_f64(1.0 / config.other_app_qps).ok())
        .flatten()
        .filter(|p| !p.is_zero());
    let mut steady_tick = tokio::time::interval(steady.unwrap_or(Duration::from_secs(3600)));
    steady_tick.set_missed_tick_behavior(MissedTickBehavior::Skip);
    let every = Duration::from_secs_f64(config.other_app_burst_every_secs);
    let mut burst_tick = tokio::time::interval_at(Instant::now() + every, every);
    burst_tick.set_missed_tick_behavior(MissedTickBehavior::Skip);
    loop {
        tokio::select! {
            () = cancel.cancelled() => return,
            _ = steady_tick.tick(), if steady.is_some() => sender.spawn(),
            _ = burst_tick.tick(), if config.other_app_burst > 0 => {
                for _ in 0..config.other_app_burst {
                    sender.spawn();
                }
            }
        }
    }
}
