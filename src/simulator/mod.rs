//! A Zoom API simulator: the endpoints zoom-rotate calls, with Zoom's answers, limits and
//! failures, on loopback, so the tool can be tested and demonstrated without an account.
//!
//! It serves `PUT /v2/users/{userId}/password`, `GET /v2/accounts/me/settings`,
//! `GET /v2/users`, `GET /v2/groups/{groupId}/members`, `DELETE /v2/users/{userId}/token`,
//! `GET /v2/report/activities`, `POST /oauth/token`, and control endpoints
//! `GET /_sim/stats` and `POST /_sim/clock?advance_secs=N`. Behaviour follows
//! `API-NOTES.md`.
//!
//! Layout:
//! - `config`: [`SimConfig`], the `[simulator]` section of config.toml.
//! - `account`: users, look-up, and the password change with Zoom's checks.
//! - `directory`: what Zoom knows of each user (login types, status, groups, last
//!   sign-in) and the expiring page tokens of the listings.
//! - `listing`: the user and group listings, the activity report and the token revoke.
//! - `budget`: the rate budgets, one per label (per second and per day), their 429
//!   headers, and the simulator clock that tests move forward.
//! - `oauth`: Server-to-Server token grants and bearer checks.
//! - `stats`: the counters, and the body of `GET /_sim/stats`.
//! - `lock`: locking that survives a poisoned mutex.
//! - `state`: `Sim`, the shared state every request works on, with what the
//!   handlers share: the bearer and budget gate, Zoom's error body, the seeded draw of
//!   latency and faults.
//! - `change`: the password change, with latency, the same-user 429 and seeded faults.
//! - `endpoints`: the settings read, the token grant and the `/_sim/*` controls.
//! - `server`: the routes to those handlers, and connection serving that can close a
//!   connection without answering.
//! - `neighbours`: the other apps' endpoint: their requests counted against the same
//!   budget at arrival, and the 429s the job causes them.
//! - `other_app`: the other apps themselves, HTTP clients of the simulator on loopback
//!   with latency and jitter (they use only `config` and `lock`, and the network).
//!
//! Imports run one way: the handlers use `state` (and the files below it: `account`,
//! `budget`, `directory`, `oauth`, `config`), `server` uses the handlers, and only this
//! file uses `server`. Plans and their per-label budgets are Zoom's facts, read from
//! [`crate::zoom::plan`], never restated here.
//!
//! In-process use: [`start`] returns a [`SimHandle`] that reads counters and users and
//! moves the clock; the `simulate` command uses [`serve_forever`].

mod account;
mod budget;
mod change;
mod config;
mod directory;
mod endpoints;
mod listing;
mod lock;
mod neighbours;
mod oauth;
mod other_app;
mod server;
mod state;
mod stats;

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

use anyhow::{anyhow, Context};
use tokio::net::TcpListener;
use tokio::task::JoinHandle;
use tokio_util::sync::{CancellationToken, DropGuard};

pub use account::{Role, UserView, GENERATED_PASSWORD};
pub use budget::{max_in_window, MAX_AHEAD};
pub use config::{RetryAfterFormat, SimConfig, DEFAULT_USERS_FILE};
pub use directory::{Profile, Status, EXPIRED_TOKEN_MESSAGE, MAX_PAGE_SIZE, SSO, WORK_EMAIL};
pub use oauth::SCOPES;
pub use stats::{Stats, StatsReport, UserCount};

use lock::LockRecover;
use state::Sim;

/// A running simulator. Dropping it stops the server (its listener and open connections
/// close at the next scheduling point); [`SimHandle::shutdown`] also waits for that.
pub struct SimHandle {
    /// The state the server's connections serve, shared with them: the handle reads its
    /// counters and moves its clock while they run.
    sim: Arc<Sim>,
    addr: SocketAddr,
    /// The accept loop, awaited by `shutdown` so that the port is free when it returns.
    task: JoinHandle<()>,
    _stop_on_drop: DropGuard,
}

/// Starts a simulator on `listen` (port 0 picks a free port) and returns once it accepts
/// connections. The config is validated first; its errors name the field.
pub async fn start(config: SimConfig, listen: SocketAddr) -> anyhow::Result<SimHandle> {
    config.validate().map_err(|e| anyhow!("[simulator] {e}"))?;
    let listener = TcpListener::bind(listen)
        .await
        .with_context(|| format!("simulator: cannot listen on {listen}"))?;
    let addr = listener.local_addr()?;
    let sim = Arc::new(Sim::new(config, format!("http://{addr}"))?);
    let cancel = CancellationToken::new();
    let task = tokio::spawn(server::serve(
        listener,
        server::router(sim.clone()),
        cancel.clone(),
    ));
    if neighbours::configured(&sim.config) {
        let (config, api_url) = (sim.config.clone(), sim.api_url.clone());
        tokio::spawn(other_app::run(config, api_url, cancel.clone()));
    }
    Ok(SimHandle {
        sim,
        addr,
        task,
        _stop_on_drop: cancel.drop_guard(),
    })
}

impl SimHandle {
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// The API base the client is given: `http://{addr}/v2`.
    pub fn base_url(&self) -> String {
        format!("http://{}/v2", self.addr)
    }

    /// What the token response calls `api_url`: `http://{addr}`, no `/v2`, like Zoom's.
    pub fn api_url(&self) -> String {
        self.sim.api_url.clone()
    }

    pub fn token_url(&self) -> String {
        format!("http://{}/oauth/token", self.addr)
    }

    pub fn config(&self) -> &SimConfig {
        &self.sim.config
    }

    pub fn stats(&self) -> Stats {
        self.sim.stats()
    }

    /// The user named by ID or e-mail (any case), with its current password.
    pub fn user(&self, id_or_email: &str) -> Option<UserView> {
        let account = self.sim.account.locked();
        let idx = account.find(id_or_email)?;
        Some(account.view(idx, self.sim.clock.now()))
    }

    pub fn user_count(&self) -> usize {
        self.sim.account.locked().len()
    }

    /// Every user, in the order they were loaded.
    pub fn users(&self) -> Vec<UserView> {
        self.sim.account.locked().views(self.sim.clock.now())
    }

    /// Moves the simulator clock forward: token lifetimes, the 24-hour change window, the
    /// daily reset at 00:00 UTC and the per-second window all follow it. The clock runs
    /// at most [`MAX_AHEAD`] ahead; a move past that stops there, with a warning.
    pub fn advance_clock(&self, by: Duration) {
        if let Err(e) = self.sim.clock.try_advance(by) {
            tracing::warn!("simulator clock: {e}; moved to the limit instead");
            self.sim.clock.advance_to_limit();
        }
    }

    /// The simulator clock's time.
    pub fn now(&self) -> SystemTime {
        self.sim.clock.now()
    }

    /// When (simulator clock) each request the budget admitted arrived, oldest first.
    pub fn admitted(&self) -> Vec<Instant> {
        self.sim.budget.locked().admitted()
    }

    /// When (simulator clock) each request the Light budget (token revokes) admitted
    /// arrived, oldest first.
    pub fn admitted_light(&self) -> Vec<Instant> {
        self.sim.light.locked().admitted()
    }

    /// The most requests admitted within any span of `window`: with a window of one
    /// second, a client within its rate never exceeds the plan's per-second limit.
    pub fn max_admitted_in(&self, window: Duration) -> usize {
        max_in_window(&self.admitted(), window)
    }

    /// Stops accepting, closes every connection, and waits until the server is gone.
    pub async fn shutdown(self) {
        let SimHandle {
            task,
            _stop_on_drop,
            ..
        } = self;
        drop(_stop_on_drop);
        let _ = task.await;
    }
}

/// Serves a simulator on `listen` until `shutdown` completes (the `simulate` command
/// passes Ctrl-C). Prints to stdout where it listens and which credentials it accepts,
/// and on the way out the counters.
pub async fn serve_forever(
    config: SimConfig,
    listen: SocketAddr,
    shutdown: impl Future<Output = ()>,
) -> anyhow::Result<()> {
    if !listen.ip().is_loopback() {
        tracing::warn!(%listen, "the simulator accepts fixed credentials; it is reachable beyond this machine");
    }
    let handle = start(config, listen).await?;
    let c = handle.config();
    let daily = match c.effective_daily_limit() {
        Some(n) => format!("{n} requests/day"),
        None => "no daily limit".into(),
    };
    let mut banner = format!("Zoom simulator listening on {}\n", handle.api_url());
    banner += &format!("  API base:     {}\n", handle.base_url());
    banner += &format!("  token URL:    {}\n", handle.token_url());
    banner += &format!("  bearer token: {}\n", c.access_token);
    banner += &format!(
        "  S2S OAuth:    account_id {}, client_id {}, client_secret {}\n",
        c.account_id, c.client_id, c.client_secret
    );
    banner += &format!(
        "  account:      {} users, plan {}: {} requests/s, {daily}\n",
        handle.user_count(),
        c.plan,
        c.effective_qps()
    );
    banner += "  control:      GET /_sim/stats, POST /_sim/clock?advance_secs=N\n";
    say(&banner);
    shutdown.await;
    let stats = handle.stats();
    handle.shutdown().await;
    say(&format!(
        "Zoom simulator stopped: {} requests, {} changes applied\n",
        stats.requests_total, stats.changes_applied
    ));
    Ok(())
}

/// Writes to stdout; a closed or full stdout is logged, not a panic: the simulator goes on
/// serving whoever reads its output.
fn say(text: &str) {
    use std::io::Write;
    let mut out = std::io::stdout().lock();
    if let Err(e) = out.write_all(text.as_bytes()).and_then(|()| out.flush()) {
        tracing::warn!("simulator: cannot write to standard output: {e}");
    }
}
