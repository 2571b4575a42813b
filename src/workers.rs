//! Stage 3, the workers: a bounded pool that takes checked rows from the reader and sees
//! each one through to a final answer, retrying only where Zoom's semantics make it safe.
//!
//! Per row the order is STYLE 6's: a slot in the pool → the journal record → (per
//! attempt) the token → the shared pause → the rate limiter → the request → the verdict.
//! How many slots: `--concurrency`, or by default enough to keep the rate full at the
//! latency actually observed (rate × latency × 1.5 + 2, capped), re-read before every
//! dispatch so a slow server gets more requests in flight and a fast one fewer. Never two requests for one user at
//! once: the reader refuses a second row for a user, so each user has one task.
//!
//! Retries (API-NOTES, "what that means for retries"): nothing sent → back off and send
//! again; sent but unanswered (timeout, reset, 5xx) → send the *same* password again, and
//! read a same-as-old answer as proof the earlier attempt was applied; per-second 429 →
//! pause everyone for `Retry-After` (or a jittered backoff) and cut the rate; daily 429 →
//! stop the run; 401 → renew the token once for everybody and send again, but give up the
//! run when a fresh token that never worked is refused too; any other 4xx is final and
//! never retried. After a stop, requests on the wire get [`GRACE`] to answer; then they
//! are abandoned as unanswered (their change may have been applied).

use crate::auth::Auth;
use crate::client::ZoomClient;
use crate::config::{Concurrency, RetrySettings};
use crate::generate::SavedPasswords;
use crate::input::Item;
use crate::journal::Journal;
use crate::limiter::Limiter;
use crate::outcome::Outcome;
use crate::report::Row;
use crate::resume::{Decision, Resume};
use crate::shutdown::Stop;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::{mpsc, Notify};
use tokio_util::task::TaskTracker;

mod rotate;
use rotate::{not_attempted, Generations};

pub use crate::report::MAY_HAVE_APPLIED;

/// Everything a worker needs, shared by all of them.
pub struct Pool {
    pub client: ZoomClient,
    pub http: reqwest::Client,
    pub auth: Arc<Auth>,
    pub limiter: Arc<Limiter>,
    pub retry: RetrySettings,
    pub stop: Stop,
    pub journal: Option<Journal>,
    pub saved: Option<SavedPasswords>,
    pub concurrency: Concurrency,
    /// Smoothed request latency in microseconds (0: none observed yet); sizes the pool.
    latency_us: AtomicU64,
    /// Rows being worked on; the dispatcher waits on `slot_freed` when it is full.
    in_flight: AtomicUsize,
    slot_freed: Notify,
    /// What each token generation has proved, so a 401 can be read (see [`Generations`]).
    generations: Generations,
}

impl Pool {
    #[allow(clippy::too_many_arguments)]
    pub fn new(
        client: ZoomClient,
        http: reqwest::Client,
        auth: Arc<Auth>,
        limiter: Arc<Limiter>,
        retry: RetrySettings,
        stop: Stop,
        journal: Option<Journal>,
        saved: Option<SavedPasswords>,
        concurrency: Concurrency,
    ) -> Pool {
        Pool {
            client,
            http,
            auth,
            limiter,
            retry,
            stop,
            journal,
            saved,
            concurrency,
            latency_us: AtomicU64::new(0),
            in_flight: AtomicUsize::new(0),
            slot_freed: Notify::new(),
            generations: Generations::default(),
        }
    }

    fn observe(&self, latency: Duration) {
        let sample = latency.as_micros().min(u64::MAX as u128) as u64;
        let old = self.latency_us.load(Ordering::Relaxed);
        let new = if old == 0 {
            sample
        } else {
            old - old / 8 + sample / 8
        };
        self.latency_us.store(new.max(1), Ordering::Relaxed);
    }

    /// How many rows may be in flight now.
    pub fn target(&self) -> usize {
        match self.concurrency {
            Concurrency::Fixed(n) => n as usize,
            Concurrency::Auto { max } => {
                let us = self.latency_us.load(Ordering::Relaxed);
                // Before the first answer, assume half a second: generous, and corrected
                // by the first few answers.
                let latency = if us == 0 { 0.5 } else { us as f64 / 1e6 };
                let want = (self.limiter.effective_rate() * latency * 1.5).ceil() as usize + 2;
                want.clamp(2, max as usize)
            }
        }
    }

    pub fn in_flight(&self) -> usize {
        self.in_flight.load(Ordering::Relaxed)
    }

    /// Waits for a free slot; `false` if the run stopped first.
    async fn slot(&self) -> bool {
        loop {
            let freed = self.slot_freed.notified();
            tokio::pin!(freed);
            freed.as_mut().enable();
            if self.stop.is_stopped() {
                return false;
            }
            if self.in_flight() < self.target() {
                self.in_flight.fetch_add(1, Ordering::Relaxed);
                return true;
            }
            tokio::select! {
                _ = freed => {}
                _ = self.stop.stopped() => return false,
            }
        }
    }

    fn release(&self) {
        self.in_flight.fetch_sub(1, Ordering::Relaxed);
        self.slot_freed.notify_one();
    }
}

/// Users `--resume` skipped because their latest row is final.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Skipped {
    pub total: u64,
    /// Final, but not `changed` (same_as_old, user_not_found, rejected, waiting out the
    /// 24-hour limit, ...): these keep the exit code from being 0.
    pub not_changed: u64,
}

/// Takes items from the reader until it is done, and reports every row. Returns the
/// users skipped because `--resume` found them final.
pub async fn dispatch(
    pool: Arc<Pool>,
    mut items: mpsc::Receiver<Item>,
    report: mpsc::Sender<Row>,
    resume: Resume,
    dry_run: bool,
) -> Skipped {
    let tracker = TaskTracker::new();
    let mut skipped = Skipped::default();
    while let Some(item) = items.recv().await {
        let job = match item {
            Item::Refused(r) => {
                let _ = report
                    .send(Row::local(
                        r.line,
                        r.user_id,
                        Outcome::InvalidInput,
                        r.reason,
                    ))
                    .await;
                continue;
            }
            Item::Send(job) => job,
        };
        let unanswered = match resume.decide(job.line, &job.user_id) {
            Decision::Skip { changed } => {
                skipped.total += 1;
                skipped.not_changed += u64::from(!changed);
                continue;
            }
            Decision::Send { unanswered } => unanswered,
        };
        if dry_run {
            let row = Row::local(
                job.line,
                job.user_id,
                Outcome::DryRun,
                "passed every check; nothing sent".into(),
            );
            let _ = report.send(row).await;
            continue;
        }
        if !pool.slot().await {
            let row = not_attempted(&pool.stop, &job, unanswered);
            let _ = report.send(row).await;
            continue;
        }
        let (pool, report) = (pool.clone(), report.clone());
        tracker.spawn(async move {
            let row = pool.rotate(job, unanswered).await;
            pool.release();
            let _ = report.send(row).await;
        });
    }
    tracker.close();
    tracker.wait().await;
    skipped
}
