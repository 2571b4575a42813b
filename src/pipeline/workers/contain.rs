//! Containment: whatever happens inside one row's task, that row still gets its report
//! row, its slot is freed, and the other rows go on.
//!
//! A panic in a row (a bug: nothing a server sends should cause one, but the next bug
//! must not cost a row) is caught around the row's future, the way a thread boundary
//! would catch it, and turns into a `failed` row for the same line and user. Whether its
//! change may have been applied is read from [`Progress`], which the row updates before
//! each request leaves: the conservative answer ("may have") whenever anything was sent,
//! so `--resume` sends the same password again and reads same-as-old as confirmation.
//! The slot is a guard ([`super::Slot`]) owned by the task: unwinding or cancellation
//! drops it, so a lost row can never leak the pool's capacity and hang the dispatcher.

use crate::vocab::Outcome;
use crate::vocab::{Row, MAY_HAVE_APPLIED};
use std::any::Any;
use std::future::Future;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};
use std::task::{Context, Poll};

/// What one row has done so far, kept outside its future so that it survives a panic.
///
/// Only the row's own task touches it: the row's future while it runs, then, should it
/// panic, [`panicked`]. The fields are atomics rather than `Cell`s only because the
/// future borrows this across its awaits and must be `Send` to be spawned; `Relaxed` is
/// enough, as no other task reads them.
#[derive(Debug, Default)]
pub struct Progress {
    /// A request for this row was handed to the client (it may have left).
    pub sent: AtomicBool,
    /// Requests that left (the report's `attempts`).
    pub attempts: AtomicU32,
}

/// A future whose panic is caught and returned as its payload.
pub struct CatchUnwind<F>(Pin<Box<F>>);

/// Wraps `future` so that a panic while polling it becomes `Err(payload)`.
pub fn catch_panic<F: Future>(future: F) -> CatchUnwind<F> {
    CatchUnwind(Box::pin(future))
}

impl<F: Future> Future for CatchUnwind<F> {
    type Output = Result<F::Output, Box<dyn Any + Send>>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        // Unwind safety: after a panic the inner future is never polled again (the
        // caller gets `Err` and drops it); what it shared is either atomics (Progress,
        // the pool's counters) or poison-tolerant mutexes.
        let inner = self.0.as_mut();
        match catch_unwind(AssertUnwindSafe(move || inner.poll(cx))) {
            Ok(Poll::Pending) => Poll::Pending,
            Ok(Poll::Ready(v)) => Poll::Ready(Ok(v)),
            Err(payload) => Poll::Ready(Err(payload)),
        }
    }
}

/// The row of a task that panicked: `failed` (not final), saying whether the change may
/// have been applied. The panic's own text is not copied into the report (it went to
/// stderr through the panic hook), so nothing it happened to hold can reach the file.
pub fn panicked(line: u64, user_id: String, progress: &Progress, unanswered: bool) -> Row {
    let sent = progress.sent.load(Ordering::Relaxed);
    let may_have_applied = sent || unanswered;
    let message = if sent {
        format!("internal error: the worker for this row panicked (a bug; see stderr) after a request was sent: {MAY_HAVE_APPLIED}")
    } else if unanswered {
        format!("internal error: the worker for this row panicked (a bug; see stderr) before sending; an earlier attempt was unanswered: {MAY_HAVE_APPLIED}")
    } else {
        "internal error: the worker for this row panicked (a bug; see stderr) before sending: the change was not applied".to_string()
    };
    tracing::error!(line, user = %user_id, "a worker panicked; its row is reported failed and the run goes on");
    Row {
        attempts: progress.attempts.load(Ordering::Relaxed),
        may_have_applied,
        ..Row::local(line, user_id, Outcome::Failed, message)
    }
}

#[cfg(test)]
mod unit {
    use super::*;

    #[tokio::test]
    async fn a_panic_becomes_a_row_for_the_same_user() {
        let progress = Progress::default();
        let caught = catch_panic(async {
            tokio::task::yield_now().await;
            progress.sent.store(true, Ordering::Relaxed);
            progress.attempts.store(1, Ordering::Relaxed);
            let d = std::time::Duration::from_secs(u64::MAX);
            let _ = std::time::SystemTime::now() + d; // the panic of issue 10, defect 1
            Row::local(7, "never".into(), Outcome::Changed, String::new())
        })
        .await;
        assert!(caught.is_err());
        let row = panicked(7, "ann@example.com".into(), &progress, false);
        assert_eq!(
            (
                row.line,
                row.user_id.as_str(),
                row.outcome,
                row.attempts,
                row.may_have_applied
            ),
            (7, "ann@example.com", Outcome::Failed, 1, true)
        );
        assert_eq!(row.message, "internal error: the worker for this row panicked (a bug; see stderr) after a request was sent: the change may have been applied");
        let row = panicked(8, "bob".into(), &Progress::default(), false);
        assert!(!row.may_have_applied);
        assert!(row
            .message
            .ends_with("before sending: the change was not applied"));
        assert!(panicked(9, "c".into(), &Progress::default(), true).may_have_applied);
    }

    #[tokio::test]
    async fn no_panic_passes_the_value_through() {
        assert_eq!(catch_panic(async { 5 }).await.ok(), Some(5));
    }
}
