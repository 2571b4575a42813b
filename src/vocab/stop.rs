//! Why and when a run stops early: Ctrl-C / SIGTERM, Zoom's daily limit, authentication
//! lost for good, or the circuit breaker.
//!
//! A [`Stop`] is passed into every stage (STYLE 7): the reader, the dispatcher and the
//! workers `select!` on its token, stop sending at once, and let what is already on the
//! wire finish. The first reason given wins; it decides the exit code (3) and what the
//! summary tells the operator to do next.

use std::sync::{Arc, Mutex};
use std::time::SystemTime;
use tokio_util::sync::CancellationToken;

/// Why the run stopped before its end.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StopReason {
    /// SIGINT or SIGTERM.
    Interrupted,
    /// Zoom's daily Medium limit; resumes at `resets_at`.
    DailyLimit { resets_at: SystemTime },
    /// A 401 that a fresh token did not cure, or a token endpoint that stopped answering.
    AuthLost(String),
    /// `--max-failures` identical failures in a row.
    CircuitBreaker(String),
    /// A local failure that makes going on unsafe (the journal or password file).
    Local(String),
}

impl StopReason {
    /// The message given to every row left `not_attempted`.
    pub fn row_message(&self) -> String {
        match self {
            StopReason::Interrupted => "not sent: the run was interrupted".into(),
            StopReason::DailyLimit { resets_at } => format!(
                "not sent: Zoom's daily rate limit was reached; it resets at {}",
                humantime::format_rfc3339_seconds(*resets_at)
            ),
            StopReason::AuthLost(_) => "not sent: authentication failed for good".into(),
            StopReason::CircuitBreaker(_) => "not sent: the circuit breaker stopped the run".into(),
            StopReason::Local(_) => "not sent: the run stopped on a local error".into(),
        }
    }

    /// What went wrong and what to do, for stderr and the summary.
    pub fn explain(&self) -> String {
        match self {
            StopReason::Interrupted => "interrupted: in-flight requests were let finish".into(),
            StopReason::DailyLimit { resets_at } => format!(
                "Zoom's daily rate limit for Medium APIs was reached; it resets at {} — run again with --resume then",
                humantime::format_rfc3339_seconds(*resets_at)
            ),
            StopReason::AuthLost(m) => format!(
                "authentication failed even with a fresh token ({m}); check the app's credentials, scopes (user:write:admin or user:update:password:admin) and that it is activated"
            ),
            StopReason::CircuitBreaker(m) => format!("circuit breaker: {m}"),
            StopReason::Local(m) => m.clone(),
        }
    }
}

/// How long requests already on the wire may take to answer after a stop, before they
/// are abandoned (and reported as unanswered: the change may have been applied).
pub const GRACE: std::time::Duration = std::time::Duration::from_secs(5);

/// The stop signal and its reason, shared by every stage. Its lock tolerates poisoning:
/// a row that panicked (and was contained) must not make every later stop panic too.
#[derive(Clone, Default)]
pub struct Stop {
    /// Cancelled at the first stop: every stage `select!`s on it (the reader, the
    /// dispatcher, the workers at the limiter), so nothing new starts after a stop.
    token: CancellationToken,
    /// Fires [`GRACE`] after `token`: in-flight requests stop waiting for their answer.
    abort: CancellationToken,
    /// The first reason given, shared by every clone (each stage holds one): it decides
    /// the exit code and the summary's `stopped`, so later reasons must not replace it.
    reason: Arc<Mutex<Option<StopReason>>>,
    /// The command that continues the run, once the run has recorded it in the ledger:
    /// shared with the signal task, which prints it when a second signal quits at once.
    continue_command: Arc<std::sync::OnceLock<String>>,
}

impl Stop {
    pub fn new() -> Stop {
        Stop::default()
    }

    /// Stops the run for `reason`, unless it was already stopped for another.
    pub fn stop(&self, reason: StopReason) {
        let mut r = self.reason.lock().unwrap_or_else(|p| p.into_inner());
        if r.is_none() {
            tracing::warn!(reason = %reason.explain(), "stopping the run");
            *r = Some(reason);
            let abort = self.abort.clone();
            if let Ok(rt) = tokio::runtime::Handle::try_current() {
                rt.spawn(async move {
                    tokio::time::sleep(GRACE).await;
                    abort.cancel();
                });
            }
        }
        self.token.cancel();
    }

    /// Completes [`GRACE`] after the stop.
    pub async fn aborted(&self) {
        self.abort.cancelled().await
    }

    pub fn is_stopped(&self) -> bool {
        self.token.is_cancelled()
    }

    pub fn reason(&self) -> Option<StopReason> {
        self.reason
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }

    pub fn token(&self) -> &CancellationToken {
        &self.token
    }

    pub async fn stopped(&self) {
        self.token.cancelled().await
    }

    /// Records the command that continues the run (the ledger's, computed once), for the
    /// message of a second signal. The first one given stays.
    pub fn set_continue_command(&self, command: String) {
        let _ = self.continue_command.set(command);
    }

    /// What a second signal says before the process quits at once.
    pub fn quitting_message(&self) -> String {
        match self.continue_command.get() {
            Some(cmd) => format!(
                "quitting at once; the journal keeps the run resumable; to continue:\n  {cmd}"
            ),
            None => "quitting at once; no password was sent yet".to_string(),
        }
    }
}

/// Turns the first SIGINT/SIGTERM into a graceful stop; a second one exits at once (the
/// journal keeps the run resumable).
pub fn on_signals(stop: Stop) {
    use tokio::signal::unix::{signal, SignalKind};
    tokio::spawn(async move {
        let (Ok(mut int), Ok(mut term)) = (
            signal(SignalKind::interrupt()),
            signal(SignalKind::terminate()),
        ) else {
            return;
        };
        let first =
            tokio::select! { _ = int.recv() => Signal::Int, _ = term.recv() => Signal::Term };
        tracing::warn!("{}", first.stopping());
        stop.stop(StopReason::Interrupted);
        tokio::select! { _ = int.recv() => {}, _ = term.recv() => {} }
        tracing::error!("{}", stop.quitting_message());
        std::process::exit(3);
    });
}

/// The signal that stopped the run: its message names what a second one does in the
/// words of whoever sent it (SIGTERM comes from systemd or `kill`, with no Ctrl-C key in
/// sight).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Signal {
    Int,
    Term,
}

impl Signal {
    fn stopping(self) -> &'static str {
        match self {
            Signal::Int => "Ctrl-C: stopping, letting the requests in flight finish (Ctrl-C again quits at once; the journal keeps the run resumable)",
            Signal::Term => "SIGTERM: stopping, letting the requests in flight finish (a second SIGTERM or SIGINT quits at once; the journal keeps the run resumable)",
        }
    }
}

/// The next 00:00 UTC after `now`: when Zoom's daily limits reset.
pub fn next_utc_midnight(now: SystemTime) -> SystemTime {
    let secs = now
        .duration_since(SystemTime::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0);
    let midnight = std::time::Duration::from_secs((secs / 86_400 + 1).saturating_mul(86_400));
    SystemTime::UNIX_EPOCH
        .checked_add(midnight)
        .unwrap_or(SystemTime::UNIX_EPOCH)
}

#[cfg(test)]
mod unit {
    use super::*;

    #[test]
    fn each_signal_is_answered_in_its_own_words() {
        assert!(Signal::Int
            .stopping()
            .contains("Ctrl-C again quits at once"));
        let term = Signal::Term.stopping();
        assert!(
            term.contains("a second SIGTERM or SIGINT quits at once"),
            "{term}"
        );
        assert!(!term.contains("Ctrl-C"), "{term}");
    }
}
