//! Stage 3, the workers: a bounded pool that takes checked rows from the reader and sees
//! each one through to a final answer, retrying only where Zoom's semantics make it safe.
//!
//! Per row the order is STYLE 6's: a slot in the pool → the journal record → (per
//! attempt) the token → the limiter (its FIFO turn, then the shared pause, then the
//! pace) → the request → the verdict. How many slots: `--concurrency`, or by default
//! enough to keep the rate full at the latency actually observed (rate × latency × 1.5 +
//! 2, capped), re-read before every dispatch so a slow server gets more requests in
//! flight and a fast one fewer. Never two requests for one user at once: the reader
//! refuses a second row for a user, so each user has one task.
//!
//! Retries follow a pure policy (`policy`: state + answer → next step, table-tested);
//! `rotate` is the loop that carries its steps out. After a stop, requests on the wire
//! get `GRACE` to answer; then they are abandoned as unanswered (their change may have
//! been applied).
//!
//! No row is ever lost: each row's slot is a guard its task owns ([`Slot`]), so a row
//! that panics or is cancelled still frees it; a panic is contained per row (`contain`)
//! and reported as a `failed` row for the same line and user; and [`dispatch`] says how
//! many items it received, so the run can tell rows read from rows reported.

use crate::ledger::journal::Journal;
use crate::ledger::passwords::SavedPasswords;
use crate::ledger::resume::{Decision, Resume};
use crate::pipeline::input::Feed;
use crate::pipeline::limiter::Limiter;
use crate::vocab::stop::Stop;
use crate::vocab::Outcome;
use crate::vocab::{Exit, Item};
use crate::vocab::{Row, Tally};
use crate::zoom::auth::Auth;
use crate::zoom::client::ZoomClient;
use crate::zoom::retry::RetrySettings;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::{mpsc, Notify};
use tokio_util::task::TaskTracker;

mod contain;
mod policy;
mod revoke;
mod rotate;
pub use contain::Progress;
pub use revoke::Containment;
use rotate::{not_attempted, Generations};

pub use crate::vocab::MAY_HAVE_APPLIED;

/// How many requests may be in flight.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Concurrency {
    /// `--concurrency N`.
    Fixed(u32),
    /// Rate × observed latency, with headroom, never above `max`.
    Auto { max: u32 },
}

/// Everything a worker needs, shared by all of them: the dispatcher holds it in an `Arc`,
/// and each row's task holds a clone through its [`Slot`].
pub struct Pool {
    pub client: ZoomClient,
    pub http: reqwest::Client,
    /// One token cache for every worker and for the run that fetched the first token with
    /// it: a token renewed after a 401 is renewed once, and every worker sends the new one.
    pub auth: Arc<Auth>,
    /// One pace and one shared pause for every request of the run. The monitor holds the
    /// same limiter to show the rate, and the run reads the day's budget from it at the end.
    pub limiter: Arc<Limiter>,
    pub retry: RetrySettings,
    /// The run's stop, a clone of the one every stage holds: a row that learns something
    /// about the whole run (the day's budget spent, authentication lost) stops the others
    /// with it, and every wait here selects on it.
    pub stop: Stop,
    /// Handles to the journal's writer thread and the generated-passwords file's, shared
    /// by every row: the threads group what the rows queue into one fsync per batch.
    pub journal: Option<Journal>,
    pub saved: Option<SavedPasswords>,
    pub concurrency: Concurrency,
    /// `--contain-sso`: the revokes' own budget (`None`: rows without a Zoom password
    /// are reported, not contained).
    pub contain: Option<Containment>,
    /// Smoothed request latency in microseconds (0: none observed yet); sizes the pool.
    /// Every row's task writes it after an answer and the dispatcher reads it before each
    /// dispatch; relaxed, as it is an estimate: a stale read sizes the pool a row off for
    /// a moment, no more.
    latency_us: AtomicU64,
    /// Rows being worked on: added to by the dispatcher alone (`slot`), so its check and
    /// its add cannot race each other past the target, and taken from by each [`Slot`]'s
    /// drop, in whichever task the row ends.
    in_flight: AtomicUsize,
    /// Wakes the dispatcher, waiting for a slot when the pool is full, as a row gives its
    /// slot back. `notify_one`: the dispatcher is the only waiter, and a wake-up sent
    /// while it is not waiting is kept for its next wait rather than lost.
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
            contain: None,
            latency_us: AtomicU64::new(0),
            in_flight: AtomicUsize::new(0),
            slot_freed: Notify::new(),
            generations: Generations::default(),
        }
    }

    /// With `--contain-sso`: contain the users without a Zoom password (see `revoke`).
    pub fn containing(mut self, contain: Option<Containment>) -> Pool {
        self.contain = contain;
        self
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

    /// Waits for a free slot; `None` if the run stopped first.
    async fn slot(self: &Arc<Self>) -> Option<Slot> {
        loop {
            let freed = self.slot_freed.notified();
            tokio::pin!(freed);
            freed.as_mut().enable();
            if self.stop.is_stopped() {
                return None;
            }
            if self.in_flight() < self.target() {
                self.in_flight.fetch_add(1, Ordering::Relaxed);
                return Some(Slot(self.clone()));
            }
            tokio::select! {
                _ = freed => {}
                _ = self.stop.stopped() => return None,
            }
        }
    }
}

/// One row's place in the pool, freed when dropped: at the row's end, and equally when
/// its task unwinds from a panic or is cancelled.
pub struct Slot(
    /// The pool whose count the slot gives back, held by `Arc`: the slot lives in the row's
    /// task, which the dispatcher spawns and does not wait for.
    Arc<Pool>,
);

impl Drop for Slot {
    fn drop(&mut self) {
        self.0.in_flight.fetch_sub(1, Ordering::Relaxed);
        self.0.slot_freed.notify_one();
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

/// What the dispatcher did with the items it received.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Dispatched {
    /// Items received from the reader: every one must end as a report row or a skip.
    pub received: u64,
    pub skipped: Skipped,
}

impl Dispatched {
    /// Rows received but neither reported in `tally` nor skipped (0 when all is well; a
    /// mismatch either way counts).
    pub fn unreported(&self, tally: &Tally) -> u64 {
        self.received
            .abs_diff(tally.rows().saturating_add(self.skipped.total))
    }

    /// The run's exit code (CONTRACT, "Exit codes"): 3 when it stopped early, and equally
    /// when any row read has no report row (the run did not finish); else 0 only when
    /// every row ended `changed` (`dry_run` in a dry run) and no skipped one ended
    /// otherwise; else 1.
    pub fn exit(&self, tally: &Tally, stopped: bool, dry_run: bool) -> Exit {
        if stopped || self.unreported(tally) != 0 {
            return Exit::Stopped;
        }
        let wanted = if dry_run {
            Outcome::DryRun
        } else {
            Outcome::Changed
        };
        // `sso_revoked` only ever comes from `--contain-sso`: done, as `changed` is.
        let done = tally.get(wanted) + tally.get(Outcome::SsoRevoked);
        if self.skipped.not_changed == 0 && tally.rows() == done {
            Exit::Done
        } else {
            Exit::Unfinished
        }
    }
}

/// Takes items from the reader until it is done (or its reading is cut), and reports
/// every row it took. Returns how many
/// items it received and the users skipped because `--resume` found them final.
///
/// The spans here and in the rows are at `trace`: tracing-indicatif draws a bar for every
/// span it sees, so a span per row at `debug` would put a spinner per row under the run's
/// bar at `-v`; and the rows' events carry their line and user as fields anyway.
#[tracing::instrument(level = "trace", skip_all, fields(dry_run = dry_run))]
pub async fn dispatch(
    pool: Arc<Pool>,
    mut items: Feed,
    report: mpsc::Sender<Row>,
    resume: Resume,
    dry_run: bool,
) -> Dispatched {
    let tracker = TaskTracker::new();
    let mut done = Dispatched::default();
    while let Some(item) = items.recv().await {
        done.received += 1;
        let job = match item {
            Item::Refused(r) => {
                let row = Row::local(r.line, r.user_id, Outcome::InvalidInput, r.reason);
                let _ = report.send(row).await;
                continue;
            }
            Item::Send(job) => job,
        };
        let unanswered = match resume.decide(job.line, &job.user_id) {
            Decision::Skip { changed } => {
                done.skipped.total += 1;
                done.skipped.not_changed += u64::from(!changed);
                continue;
            }
            Decision::Send { unanswered } => unanswered,
            Decision::Revoked => {
                let _ = report.send(revoked_at_crash(job.line, job.user_id)).await;
                continue;
            }
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
        let Some(slot) = pool.slot().await else {
            let row = not_attempted(&pool.stop, &job, unanswered);
            let _ = report.send(row).await;
            continue;
        };
        let (pool, report) = (pool.clone(), report.clone());
        tracker.spawn(async move {
            let (line, user_id) = (job.line, job.user_id.clone());
            let progress = Progress::default();
            let row = match contain::catch_panic(pool.rotate(job, unanswered, &progress)).await {
                Ok(row) => row,
                Err(_) => contain::panicked(line, user_id, &progress, unanswered),
            };
            drop(slot);
            let _ = report.send(row).await;
        });
    }
    tracker.close();
    tracker.wait().await;
    done
}

/// The row of a user whose revoke the crashed run's journal saw answered 204, with no
/// report row after it: `sso_revoked`, and no second revoke.
fn revoked_at_crash(line: u64, user_id: String) -> Row {
    let message = "signed out: SSO token revoked (DELETE /users/{userId}/token answered 204) by the run that crashed before reporting it; its journal recorded the answer, so nothing was sent again".into();
    Row {
        http_status: Some(204),
        ..Row::local(line, user_id, Outcome::SsoRevoked, message)
    }
}

#[cfg(test)]
mod unit {
    use super::*;

    fn tally(outcomes: &[Outcome]) -> Tally {
        let mut t = Tally::default();
        for o in outcomes {
            t.add(&Row::local(2, "u".into(), *o, String::new()));
        }
        t
    }

    fn dispatched(received: u64, skipped: u64, not_changed: u64) -> Dispatched {
        Dispatched {
            received,
            skipped: Skipped {
                total: skipped,
                not_changed,
            },
        }
    }

    fn test_pool() -> Pool {
        Pool::new(
            ZoomClient::new(
                reqwest::Client::new(),
                "http://127.0.0.1:9/v2",
                crate::zoom::client::BodyFormat::Json,
            ),
            reqwest::Client::new(),
            Arc::new(Auth::Static(secrecy::SecretString::from("t".to_string()))),
            Arc::new(Limiter::new(10.0)),
            RetrySettings {
                attempts: 1,
                base_delay: Duration::from_millis(1),
                max_delay: Duration::from_millis(1),
            },
            Stop::new(),
            None,
            None,
            Concurrency::Fixed(1),
        )
    }

    /// Issue 10, defect 1: a row's task that panicked never gave its slot back, and once
    /// every slot had leaked the dispatcher waited forever. The slot is a guard now.
    #[tokio::test]
    async fn a_panicking_row_frees_its_slot() {
        let pool = Arc::new(test_pool());
        let slot = pool.slot().await.expect("a free slot");
        assert_eq!(pool.in_flight(), 1);
        let joined = tokio::spawn(async move {
            let _slot = slot;
            panic!("a bug in a row");
        })
        .await;
        assert!(joined.unwrap_err().is_panic());
        assert_eq!(pool.in_flight(), 0);
        let again = tokio::time::timeout(Duration::from_secs(5), pool.slot()).await;
        assert!(again.expect("no hang").is_some());
    }

    #[test]
    fn exit_code_counts_rows_read_not_only_the_tally() {
        use Outcome::*;
        let all_changed = tally(&[Changed, Changed]);
        #[rustfmt::skip]
        let table = [
            ("every row changed", dispatched(2, 0, 0), &all_changed, false, false, 0),
            ("a row lost: never 0", dispatched(3, 0, 0), &all_changed, false, false, 3),
            ("more rows than read", dispatched(1, 0, 0), &all_changed, false, false, 3),
            ("skipped changed users count as read", dispatched(3, 1, 0), &all_changed, false, false, 0),
            ("a skipped user not changed", dispatched(3, 1, 1), &all_changed, false, false, 1),
            ("a row failed", dispatched(2, 0, 0), &tally(&[Changed, Failed]), false, false, 1),
            ("stopped", dispatched(2, 0, 0), &all_changed, true, false, 3),
            ("dry run", dispatched(1, 0, 0), &tally(&[DryRun]), false, true, 0),
            ("nothing read", dispatched(0, 0, 0), &Tally::default(), false, false, 0),
        ];
        for (name, d, t, stopped, dry, code) in table {
            assert_eq!(d.exit(t, stopped, dry), code, "{name}");
        }
        assert_eq!(dispatched(3, 0, 0).unreported(&all_changed), 1);
    }
}
