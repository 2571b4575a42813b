//! After a crash, the users the dead run had on the wire wait before they are sent
//! again: that run's request may still be at Zoom, and two concurrent changes of one
//! user can interleave (the resend answered "changed" while the older one lands later,
//! or the older one read as same-as-old). A request cannot outlive the dead run's
//! request timeout, counted from its last journal record (see `journal`): until then
//! those users are held back, and every other row goes first.
//!
//! [`hold_back`] sits between the input reader and the dispatcher: it passes every item
//! through in order, except the in-flight users, which it keeps until the deadline (or
//! until the input ends and the deadline then passes, or the run stops: a stopped run
//! reports them `not_attempted` at once). Memory is bounded by the number of users the
//! journal names.

use crate::ledger::resume::InFlight;
use crate::pipeline::input::Feed;
use crate::vocab::stop::Stop;
use crate::vocab::{Item, Job};
use std::sync::Arc;
use std::time::{Duration, SystemTime};
use tokio::sync::mpsc;

/// How long from `now` the held users must wait: until `over_at`, and never longer than
/// `longest` (a clock stepped back, or a record from the future, cannot hold them longer
/// than one timeout). `None`: no need to wait.
pub fn wait_for(
    over_at: Option<SystemTime>,
    now: SystemTime,
    longest: Duration,
) -> Option<Duration> {
    let wait = match over_at {
        Some(t) => t.duration_since(now).ok()?,
        // The dead run's time is unknown: one full timeout from now is the safe bound.
        None => longest,
    };
    (!wait.is_zero()).then(|| wait.min(longest))
}

/// Passes `items` to `out`, holding the in-flight users back for `wait`.
// At `trace`, as the workers' spans are (see `workers::dispatch`): a span at `debug`
// would draw a spinner of its own under the run's bar at `-v`.
#[tracing::instrument(level = "trace", skip_all, fields(wait_ms = wait.as_millis() as u64))]
pub async fn hold_back(
    mut items: Feed,
    out: mpsc::Sender<Item>,
    in_flight: Arc<InFlight>,
    wait: Duration,
    stop: Stop,
) {
    let deadline = tokio::time::Instant::now()
        .checked_add(wait)
        .unwrap_or_else(tokio::time::Instant::now);
    let sleep = tokio::time::sleep_until(deadline);
    tokio::pin!(sleep);
    let mut held: Vec<Job> = Vec::new();
    let mut released = false;
    loop {
        tokio::select! {
            item = items.recv() => match item {
                None => break,
                Some(Item::Send(job)) if !released && in_flight.contains(job.line, &job.user_id) => {
                    held.push(job);
                }
                Some(item) => {
                    if out.send(item).await.is_err() {
                        return;
                    }
                }
            },
            _ = &mut sleep, if !released => {
                released = true;
                if !release(&mut held, &out).await {
                    return;
                }
            }
            _ = stop.stopped(), if !released => {
                released = true;
                if !release(&mut held, &out).await {
                    return;
                }
            }
        }
    }
    if !released && !held.is_empty() {
        let left = deadline.saturating_duration_since(tokio::time::Instant::now());
        tracing::info!(
            users = held.len(),
            wait_secs = left.as_secs_f64(),
            "the other rows are done; waiting for the previous run's requests for the users it had in flight to time out before sending those again"
        );
        tokio::select! {
            _ = &mut sleep => {}
            _ = stop.stopped() => {}
        }
    }
    release(&mut held, &out).await;
}

/// Sends the held jobs on; `false` when the dispatcher has gone.
async fn release(held: &mut Vec<Job>, out: &mpsc::Sender<Item>) -> bool {
    for job in held.drain(..) {
        if out.send(Item::Send(job)).await.is_err() {
            return false;
        }
    }
    true
}

#[cfg(test)]
mod unit {
    use super::*;
    use crate::vocab::stop::StopReason;

    fn job(line: u64, user: &str) -> Item {
        Item::Send(Job {
            line,
            user_id: user.into(),
            password: secrecy::SecretString::from("Maple7-Quartz-Rain".to_string()),
            login_types: None,
        })
    }

    fn user(item: Item) -> String {
        match item {
            Item::Send(j) => j.user_id,
            Item::Refused(r) => r.user_id,
        }
    }

    /// Held for an hour, the in-flight user comes after the others, and a stop
    /// releases it at once (for the dispatcher to report `not_attempted`).
    #[tokio::test]
    async fn in_flight_users_go_last_and_a_stop_releases_them() {
        let in_flight = Arc::new(InFlight {
            users: [crate::vocab::user_key("A@x.com")].into(),
            lines: [9].into(),
            revoked: Default::default(),
        });
        let (tx, rx) = mpsc::channel(8);
        let (out_tx, mut out) = mpsc::channel(8);
        for item in [
            job(2, "a@x.com"),
            job(3, "b"),
            job(9, "renamed"),
            job(4, "c"),
        ] {
            tx.send(item).await.unwrap();
        }
        drop(tx);
        let stop = Stop::new();
        let task = tokio::spawn(hold_back(
            rx.into(),
            out_tx,
            in_flight,
            Duration::from_secs(3600),
            stop.clone(),
        ));
        assert_eq!(user(out.recv().await.unwrap()), "b");
        assert_eq!(user(out.recv().await.unwrap()), "c");
        stop.stop(StopReason::Interrupted);
        assert_eq!(user(out.recv().await.unwrap()), "a@x.com");
        assert_eq!(user(out.recv().await.unwrap()), "renamed");
        assert!(out.recv().await.is_none());
        task.await.unwrap();
    }

    #[test]
    fn the_wait_is_until_the_deadline_and_at_most_one_timeout() {
        let now = SystemTime::now();
        let t = Duration::from_secs(30);
        assert_eq!(
            wait_for(Some(now + Duration::from_secs(5)), now, t),
            Some(Duration::from_secs(5))
        );
        assert_eq!(wait_for(Some(now - Duration::from_secs(5)), now, t), None);
        assert_eq!(wait_for(Some(now), now, t), None);
        assert_eq!(
            wait_for(Some(now + Duration::from_secs(3600)), now, t),
            Some(t)
        );
        assert_eq!(wait_for(None, now, t), Some(t));
    }
}
