//! `--metrics-file PATH` (config: `[run] metrics_file`): what the run did, for a
//! Prometheus node_exporter's textfile collector, written at every exit of `run` once the
//! settings are known (0, 1, 3, and the refusals, exit 2, that come after them).
//!
//! The collector reads every `*.prom` file in its directory at each scrape, so the file is
//! replaced whole (a temporary beside it, synced, renamed over it: `ledger::files::Disk`),
//! and a scrape sees the last run's file or this one's, never half of one. Every value is
//! a gauge of the last run: rows by outcome (label `outcome`, every outcome, zeros
//! included, so a rule can name one that has not happened yet), requests, 429 answers,
//! the exit code, start and end, duration, the configured and achieved rate, and the
//! last successful run's end. That last one is carried: read back from the previous file
//! and kept when this run did not succeed (0 when no success is known, so "no success for
//! 26 hours" fires on a job that never succeeded). A previous file that cannot be read
//! counts as no success known: the alert fires rather than trusting a file a person or
//! another program may have changed.
//!
//! Nothing here names a user, a report row or a secret: only counts, times and rates.

use crate::ledger::files::Disk;
use crate::vocab::{Exit, Outcome, Tally};
use std::fmt::Write as _;
use std::path::Path;
use std::time::{Duration, SystemTime};

/// The name of the gauge that carries the last success across runs.
pub const LAST_SUCCESS: &str = "zoom_rotate_last_success_timestamp_seconds";

/// What one run of `run` reports to the monitoring.
#[derive(Debug, Clone)]
pub struct RunMetrics<'a> {
    pub tally: &'a Tally,
    /// Users a resume found already final and did not send again.
    pub skipped: u64,
    /// Answers with HTTP status 429, whichever limit they named.
    pub throttled: u64,
    pub exit: Exit,
    pub started_at: SystemTime,
    pub ended_at: SystemTime,
    /// The rate the job was configured for (requests per second), when known.
    pub rate: Option<f64>,
    /// A dry run: its exit 0 is no rotation, so it never counts as a success.
    pub dry_run: bool,
    pub simulated: bool,
}

fn unix(t: SystemTime) -> f64 {
    t.duration_since(SystemTime::UNIX_EPOCH)
        .unwrap_or(Duration::ZERO)
        .as_secs_f64()
}

/// A number as the exposition format writes it: integers plainly, others with 3 decimals.
fn num(v: f64) -> String {
    if v.fract() == 0.0 && v.abs() < 1e15 {
        format!("{}", v as i64)
    } else {
        format!("{v:.3}")
    }
}

impl RunMetrics<'_> {
    /// A success, for the last-success gauge: exit 0 of a run that sent passwords.
    pub fn succeeded(&self) -> bool {
        self.exit == Exit::Done && !self.dry_run
    }

    fn duration(&self) -> f64 {
        self.ended_at
            .duration_since(self.started_at)
            .unwrap_or(Duration::ZERO)
            .as_secs_f64()
    }

    /// The file's text, with `last_success` (unix seconds, 0 when none is known) as the
    /// previous file said it.
    pub fn render(&self, last_success: f64) -> String {
        let mut out = String::new();
        for (name, help, v) in self.gauges(last_success) {
            let _ = writeln!(
                out,
                "# HELP {name} {help}\n# TYPE {name} gauge\n{name} {}",
                num(v)
            );
        }
        let name = "zoom_rotate_rows";
        let help = "Report rows the last run wrote, by outcome.";
        let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} gauge");
        for o in Outcome::ALL {
            let _ = writeln!(
                out,
                "{name}{{outcome=\"{}\"}} {}",
                o.as_str(),
                self.tally.get(o)
            );
        }
        out
    }

    /// Every single-valued gauge: name, help, value.
    fn gauges(&self, last_success: f64) -> [(&'static str, &'static str, f64); 12] {
        let last = if self.succeeded() {
            unix(self.ended_at)
        } else {
            last_success
        };
        let elapsed = self.duration();
        let achieved = if elapsed > 0.0 {
            self.tally.requests as f64 / elapsed
        } else {
            0.0
        };
        let flag = |b: bool| f64::from(u8::from(b));
        [
            ("zoom_rotate_exit_code", "Exit code of the last run (0 all changed, 1 some did not, 2 refused, 3 stopped early).", f64::from(self.exit.code())),
            ("zoom_rotate_start_timestamp_seconds", "When the last run started (unix seconds).", unix(self.started_at)),
            ("zoom_rotate_end_timestamp_seconds", "When the last run ended (unix seconds).", unix(self.ended_at)),
            (LAST_SUCCESS, "When the last run that exited 0 ended (unix seconds; 0: none known; dry runs do not count).", last),
            ("zoom_rotate_duration_seconds", "How long the last run took.", elapsed),
            ("zoom_rotate_requests", "Password requests the last run sent (retries included).", self.tally.requests as f64),
            ("zoom_rotate_throttled_responses", "HTTP 429 answers the last run received.", self.throttled as f64),
            ("zoom_rotate_achieved_rate", "Requests per second the last run achieved.", achieved),
            ("zoom_rotate_configured_rate", "Requests per second the last run was allowed.", self.rate.unwrap_or(0.0)),
            ("zoom_rotate_skipped_rows", "Users the last run found already final (a resume) and did not send again.", self.skipped as f64),
            ("zoom_rotate_dry_run", "1 when the last run was a dry run.", flag(self.dry_run)),
            ("zoom_rotate_simulated", "1 when the last run went to the built-in simulator.", flag(self.simulated)),
        ]
    }

    /// Writes the file at `path` atomically, carrying the last success from the file it
    /// replaces. A failure is logged, not fatal: the run's work and its exit code stand,
    /// and a stale file shows as a stale end timestamp.
    pub fn write(&self, path: &Path, disk: &Disk) {
        let last = previous_success(path);
        match disk.replace_private(path, self.render(last).as_bytes()) {
            Ok(()) => {
                // The collector runs as another user: the file holds no secret, so it may
                // be read by anyone who can reach its directory.
                use std::os::unix::fs::PermissionsExt;
                let _ = std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o644));
            }
            Err(e) => {
                tracing::warn!(metrics = %path.display(), "cannot write the metrics file: {e}")
            }
        }
    }
}

/// The last success the file at `path` records: 0 when there is no file, and 0 (with a
/// warning) when it cannot be read or does not say.
pub fn previous_success(path: &Path) -> f64 {
    let text = match std::fs::read_to_string(path) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return 0.0,
        Err(e) => {
            tracing::warn!(metrics = %path.display(), "cannot read the previous metrics file ({e}): no earlier success is known");
            return 0.0;
        }
    };
    let found = text.lines().find_map(|line| {
        let value = line.strip_prefix(LAST_SUCCESS)?.strip_prefix(' ')?;
        value
            .trim()
            .parse::<f64>()
            .ok()
            .filter(|v| v.is_finite() && *v >= 0.0)
    });
    found.unwrap_or_else(|| {
        tracing::warn!(metrics = %path.display(), "the previous metrics file has no readable {LAST_SUCCESS}: no earlier success is known");
        0.0
    })
}

#[cfg(test)]
mod unit {
    use super::*;

    fn metrics(tally: &Tally, exit: Exit) -> RunMetrics<'_> {
        let start = SystemTime::UNIX_EPOCH + Duration::from_secs(1_000);
        RunMetrics {
            tally,
            skipped: 0,
            throttled: 2,
            exit,
            started_at: start,
            ended_at: start + Duration::from_secs(4),
            rate: Some(20.0),
            dry_run: false,
            simulated: true,
        }
    }

    #[test]
    fn a_success_sets_the_last_success_and_a_failure_keeps_it() {
        let tally = Tally::default();
        let ok = metrics(&tally, Exit::Done).render(7.0);
        assert!(ok.contains(&format!("\n{LAST_SUCCESS} 1004\n")), "{ok}");
        let failed = metrics(&tally, Exit::Unfinished).render(7.0);
        assert!(
            failed.contains(&format!("\n{LAST_SUCCESS} 7\n")),
            "{failed}"
        );
        assert!(failed.contains("\nzoom_rotate_exit_code 1\n"), "{failed}");
        assert!(
            failed.contains("\nzoom_rotate_duration_seconds 4\n"),
            "{failed}"
        );
        assert!(
            failed.contains("zoom_rotate_rows{outcome=\"changed\"} 0\n"),
            "{failed}"
        );
    }

    #[test]
    fn an_unreadable_previous_file_means_no_success_known() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("m.prom");
        assert_eq!(previous_success(&path), 0.0);
        std::fs::write(&path, format!("{LAST_SUCCESS} nonsense\n")).unwrap();
        assert_eq!(previous_success(&path), 0.0);
        std::fs::write(&path, format!("# x\n{LAST_SUCCESS} 1234.5\n")).unwrap();
        assert_eq!(previous_success(&path), 1234.5);
    }
}
