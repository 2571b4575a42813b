//! The one task that owns the output (STYLE 5): it takes every finished row from the
//! workers, appends it to the report, keeps the tally, shows progress, and trips the
//! circuit breaker.
//!
//! Progress is an indicatif bar on a terminal (through tracing-indicatif, so log lines and
//! the bar share stderr without tearing), and a log event every few seconds otherwise —
//! a plain line in text mode, a JSON object with `--log-format json`.
//!
//! The circuit breaker: `--max-failures N` rows in a row that failed the same way (same
//! outcome, HTTP status and Zoom code — every row 403 for a missing scope, say) stop the
//! run. Rows that failed before any request left (a closed port, DNS) count like the
//! rest. Rows that say something about one user rather than the run (not found, refused
//! password, the 24-hour limit), or nothing at all (refused input, not attempted), neither
//! count nor break a streak; a success breaks it.

use crate::ledger::report::Writer;
use crate::pipeline::limiter::Limiter;
use crate::vocab::stop::{Stop, StopReason};
use crate::vocab::Outcome;
use crate::vocab::{Row, Tally};
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::sync::mpsc;
use tracing::Instrument;
use tracing_indicatif::span_ext::IndicatifSpanExt;

/// How often a progress line is logged when there is no bar.
pub const PROGRESS_EVERY: Duration = Duration::from_secs(5);

/// What the monitor needs to know.
pub struct Monitor {
    pub writer: Writer,
    /// The run's stop, shared with every stage: the monitor stops the run when the
    /// report cannot be written or the breaker trips, and the workers then send no more.
    pub stop: Stop,
    /// The workers' limiter, shared only to show the effective rate (on the bar, in
    /// the progress lines); the monitor never paces anything.
    pub limiter: Option<Arc<Limiter>>,
    pub max_failures: u32,
    /// Report rows expected (on `--resume`, only the rows it sends or refuses, not those
    /// it skips), when the input could be counted.
    pub total: Option<u64>,
    pub bar: bool,
}

struct Breaker {
    limit: u32,
    key: Option<(Outcome, Option<u16>, Option<u32>)>,
    streak: u32,
}

impl Breaker {
    /// Feeds one row; returns a description when the breaker trips.
    fn feed(&mut self, row: &Row) -> Option<String> {
        if self.limit == 0 {
            return None;
        }
        // A row that failed without a request leaving (connection refused, DNS) counts
        // like any other failure: a closed port is exactly what the breaker is for.
        let counts = matches!(
            row.outcome,
            Outcome::Rejected | Outcome::AuthFailed | Outcome::Failed | Outcome::RateLimited
        );
        // Rows that were never tried (refused input, not attempted, a dry run) say
        // nothing about the server, and neither do those about one user.
        let neutral = matches!(
            row.outcome,
            Outcome::UserNotFound
                | Outcome::PolicyRejected
                | Outcome::ChangeLimit24h
                | Outcome::SameAsOld
                | Outcome::InvalidInput
                | Outcome::NotAttempted
                | Outcome::DryRun
        );
        if neutral {
            return None;
        }
        if !counts {
            self.key = None;
            self.streak = 0;
            return None;
        }
        let key = (row.outcome, row.http_status, row.zoom_code);
        if self.key == Some(key) {
            self.streak += 1;
        } else {
            self.key = Some(key);
            self.streak = 1;
        }
        (self.streak >= self.limit).then(|| {
            let status = row.http_status.map_or("no answer".to_string(), |s| format!("HTTP {s}"));
            let hint = match row.http_status {
                Some(401) => "check the credentials",
                Some(403) => "check that the app has the user:write:admin (or user:update:password:admin) scope and that its user is an owner or admin",
                Some(s) if s >= 500 => "Zoom (or the network to it) is failing; try again later",
                Some(300..=399) => "the API redirects elsewhere: check --base-url",
                None => "check the network path to the API and --base-url",
                _ => "check the last rows of the report",
            };
            format!(
                "{} rows in a row ended {} ({status}{}): \"{}\"; {hint}",
                self.streak,
                row.outcome,
                row.zoom_code.map(|c| format!(", code {c}")).unwrap_or_default(),
                row.message
            )
        })
    }
}

impl Monitor {
    /// Writes rows until every sender is gone; returns the tally.
    ///
    /// Inside the run's span, `rotate`, which carries the progress bar. The span is made
    /// here rather than by `#[instrument]` so that the bar has its style and length
    /// before the span is first entered, which is when tracing-indicatif draws it.
    pub async fn run(self, rows: mpsc::Receiver<Row>) -> anyhow::Result<Tally> {
        // `indicatif.pb_show` (empty: never printed) keeps this span's bar should the
        // indicatif layer be told to draw only the spans that ask for one.
        let span = tracing::info_span!("rotate", indicatif.pb_show = tracing::field::Empty);
        if self.bar {
            span.pb_set_style(
                &indicatif::ProgressStyle::with_template(
                    "{spinner} [{elapsed_precise}] {wide_bar} {pos}/{len} rows  {per_sec}  ETA {eta}  {msg}",
                )
                .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar()),
            );
            span.pb_set_length(self.total.unwrap_or(0));
        }
        self.write_rows(rows, span.clone()).instrument(span).await
    }

    /// [`Monitor::run`]'s loop, `span` being the bar it moves.
    async fn write_rows(
        mut self,
        mut rows: mpsc::Receiver<Row>,
        span: tracing::Span,
    ) -> anyhow::Result<Tally> {
        let mut tally = Tally::default();
        let mut breaker = Breaker {
            limit: self.max_failures,
            key: None,
            streak: 0,
        };
        let started = Instant::now();
        let mut last_log = Instant::now();
        let mut ticker = tokio::time::interval(PROGRESS_EVERY);
        ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        ticker.tick().await;
        loop {
            let row = tokio::select! {
                row = rows.recv() => row,
                _ = ticker.tick() => {
                    if !self.bar && last_log.elapsed() >= PROGRESS_EVERY {
                        self.log_progress(&tally, started);
                        last_log = Instant::now();
                    }
                    continue;
                }
            };
            let Some(row) = row else { break };
            self.take(&row, &mut tally, &mut breaker)?;
            // Drain what has queued, then flush once: a burst costs one write.
            while let Ok(row) = rows.try_recv() {
                self.take(&row, &mut tally, &mut breaker)?;
            }
            self.flush();
            if self.bar {
                // The length is counted before the run (on --resume, the rows it sends);
                // a row the account's rules refuse after all can take it past that.
                if self.total.is_some_and(|t| tally.rows() > t) {
                    span.pb_set_length(tally.rows());
                }
                span.pb_set_position(tally.rows());
                if let Some(l) = &self.limiter {
                    span.pb_set_message(&format!("rate {:.1}/s", l.effective_rate()));
                }
            }
        }
        // The end of the run: the report is synced to disk (not only flushed) before
        // `run` removes the journal; if it cannot be, the run stops as a local failure
        // and the journal stays.
        if let Err(e) = self.writer.sync() {
            self.stop.stop(StopReason::Local(format!(
                "cannot write the report: {e}; the journal keeps the run resumable"
            )));
        }
        Ok(tally)
    }

    fn flush(&mut self) {
        if let Err(e) = self.writer.flush() {
            self.stop.stop(StopReason::Local(format!(
                "cannot write the report: {e}; the journal keeps the run resumable"
            )));
        }
    }

    fn take(&mut self, row: &Row, tally: &mut Tally, breaker: &mut Breaker) -> anyhow::Result<()> {
        if let Err(e) = self.writer.write(row) {
            // Never go on changing passwords that cannot be recorded: stop sending; the
            // rows still coming are counted, and the journal keeps them resumable.
            self.stop.stop(StopReason::Local(format!(
                "cannot write the report: {e}; the journal keeps the run resumable"
            )));
        }
        tally.add(row);
        if row.attempts > 0 || row.outcome == Outcome::InvalidInput {
            tracing::debug!(line = row.line, user = %row.user_id, outcome = %row.outcome, attempts = row.attempts, "row done");
        }
        if let Some(why) = breaker.feed(row) {
            self.stop.stop(StopReason::CircuitBreaker(why));
        }
        Ok(())
    }

    fn log_progress(&self, tally: &Tally, started: Instant) {
        let secs = started.elapsed().as_secs_f64().max(1e-3);
        tracing::info!(
            done = tally.rows(),
            total = self.total,
            changed = tally.get(Outcome::Changed),
            requests = tally.requests,
            rate = tenths(tally.requests as f64 / secs),
            effective_rate = self.limiter.as_ref().map(|l| tenths(l.effective_rate())),
            "progress"
        );
    }
}

/// A rate to one decimal, kept a number (for the JSON log).
fn tenths(x: f64) -> f64 {
    (x * 10.0).round() / 10.0
}

#[cfg(test)]
mod unit {
    use super::*;

    fn row(outcome: Outcome, status: Option<u16>) -> Row {
        let mut r = Row::local(2, "u".into(), outcome, "m".into());
        r.attempts = 1;
        r.http_status = status;
        r
    }

    #[test]
    fn breaker_trips_on_identical_failures_only() {
        let mut b = Breaker {
            limit: 3,
            key: None,
            streak: 0,
        };
        assert!(b.feed(&row(Outcome::Rejected, Some(403))).is_none());
        assert!(b.feed(&row(Outcome::UserNotFound, Some(404))).is_none());
        assert!(b.feed(&row(Outcome::Rejected, Some(403))).is_none());
        assert!(b
            .feed(&row(Outcome::Rejected, Some(403)))
            .unwrap()
            .contains("3 rows in a row ended rejected (HTTP 403)"));
        let mut b = Breaker {
            limit: 3,
            key: None,
            streak: 0,
        };
        for (o, s) in [
            (Outcome::Rejected, Some(403)),
            (Outcome::Failed, Some(502)),
            (Outcome::Rejected, Some(400)),
            (Outcome::Failed, None),
        ] {
            assert!(b.feed(&row(o, s)).is_none());
        }
    }

    /// Issue 10, defect 4: rows that failed before a request left count; rows never
    /// tried neither count nor break the streak.
    #[test]
    fn breaker_counts_rows_never_sent() {
        let mut b = Breaker {
            limit: 3,
            key: None,
            streak: 0,
        };
        let unsent = || Row::local(2, "u".into(), Outcome::Failed, "not sent: refused".into());
        assert!(b.feed(&unsent()).is_none());
        assert!(b.feed(&unsent()).is_none());
        for o in [
            Outcome::InvalidInput,
            Outcome::NotAttempted,
            Outcome::DryRun,
        ] {
            assert!(b
                .feed(&Row::local(3, "v".into(), o, String::new()))
                .is_none());
        }
        let why = b.feed(&unsent()).expect("trips");
        assert_eq!(
            why,
            "3 rows in a row ended failed (no answer): \"not sent: refused\"; check the network path to the API and --base-url"
        );
    }
}
