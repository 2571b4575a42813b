//! What the operator reads: the plan before the run and the summary after it.
//!
//! The plan goes to stderr before anything is sent (rows, rate, how long, and on the free
//! plan how many days the daily limit stretches it over). The summary goes to stdout:
//! the count for each outcome, the elapsed time, the achieved rate, the report's path and,
//! when users remain, how many and the exact command that continues. With
//! `--log-format json` it is one JSON object instead, for scripts. What remains and the
//! command that continues are the ledger's (`ledger::state`, `ledger::resume::origin`),
//! the same that `status` shows; the summary only prints them.

use super::context::RunContext;
use crate::cli::LogFormat;
use crate::vocab::stop::StopReason;
use crate::vocab::{Exit, Outcome, RefusalCode, Tally};
use std::io::Write;
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, SystemTime};

/// "about 10 s", "about 17 min", "about 2 h 5 min": seconds rounded up under two
/// minutes, else minutes rounded to the nearest.
pub fn human_duration(d: Duration) -> String {
    let secs = d.as_secs_f64();
    if secs.ceil() < 120.0 {
        return format!("about {} s", secs.ceil() as u64);
    }
    let min = (secs / 60.0).round() as u64;
    if min < 120 {
        format!("about {min} min")
    } else {
        format!("about {} h {} min", min / 60, min % 60)
    }
}

/// The estimate for `rows` at `rate`, and the days a daily limit spreads it over.
pub fn estimate(rows: u64, rate: f64, daily_limit: Option<u64>) -> String {
    // Settings keep the rate within 0.01..=100000, but an estimate is never worth a panic.
    let secs = Duration::try_from_secs_f64(rows as f64 / rate).unwrap_or(Duration::MAX);
    let mut text = format!(
        "{rows} user{} at {}/s: {}",
        if rows == 1 { "" } else { "s" },
        trim_rate(rate),
        human_duration(secs)
    );
    if let Some(limit) = daily_limit {
        if rows > limit {
            let days = rows.div_ceil(limit);
            text.push_str(&format!(
                "; Zoom's daily limit of {limit} requests spreads it over {days} days (resume with --resume after 00:00 UTC)"
            ));
        }
    }
    text
}

fn trim_rate(rate: f64) -> String {
    if rate.fract() == 0.0 {
        format!("{rate:.0}")
    } else {
        format!("{rate:.2}")
    }
}

/// Standard output was closed when the process started (`>&-`). std reopens a closed
/// standard descriptor on /dev/null before `main` (so that no file the run opens can
/// become fd 1 and receive the summary), and writes to it then succeed: nothing after
/// that can tell. The binary looks before std does and says so here.
static STDOUT_CLOSED: AtomicBool = AtomicBool::new(false);

/// Records that standard output was closed at the start (see [`STDOUT_CLOSED`]).
pub fn note_stdout_closed() {
    STDOUT_CLOSED.store(true, Ordering::Relaxed);
}

/// Writes `text` to standard output and flushes it: an error when stdout is closed (or
/// was at the start), full, or its reader is gone.
pub fn to_stdout(text: &str) -> std::io::Result<()> {
    if STDOUT_CLOSED.load(Ordering::Relaxed) {
        return Err(std::io::Error::from_raw_os_error(libc::EBADF));
    }
    let mut out = std::io::stdout().lock();
    out.write_all(text.as_bytes()).and_then(|()| out.flush())
}

/// Everything the summary shows.
pub struct Summary<'a> {
    pub ctx: &'a RunContext,
    pub tally: &'a Tally,
    pub skipped: u64,
    pub elapsed: Duration,
    pub report: &'a Path,
    pub stop: Option<&'a StopReason>,
    /// Users a `--resume` would try again, from the ledger; `None` when it cannot be read.
    pub remaining: Option<u64>,
    /// The command that continues the run, when users remain or the run stopped.
    pub resume_command: Option<String>,
    pub exit: Exit,
    /// Requests left of Zoom's daily budget, when its answers said so (Free plan).
    pub daily_remaining: Option<u64>,
    /// Reading the input was cut at a stop: the line of the last input row read (the
    /// report's `line`); the rows after it were not read.
    pub input_cut: Option<u64>,
}

impl Summary<'_> {
    fn achieved_rate(&self) -> f64 {
        self.tally.requests as f64 / self.elapsed.as_secs_f64().max(1e-3)
    }

    /// Writes the summary to stdout. A stdout that is closed (`>&-`), full or whose
    /// reader is gone (`| head`) is logged, not a panic: the work is done and the report
    /// holds every row, so the run's exit code stands.
    pub fn print(&self, format: LogFormat) {
        let text = match format {
            LogFormat::Json => format!("{}\n", self.json()),
            LogFormat::Text => self.text(),
        };
        if let Err(e) = to_stdout(&text) {
            tracing::warn!(
                report = %self.report.display(),
                "the summary could not be written to standard output ({e}); the report holds every row"
            );
        }
    }

    /// The summary as one JSON object.
    pub fn json(&self) -> serde_json::Value {
        let ctx = self.ctx;
        let counts: serde_json::Map<String, serde_json::Value> = Outcome::ALL
            .iter()
            .map(|o| (o.as_str().to_string(), self.tally.get(*o).into()))
            .collect();
        serde_json::json!({
            "summary": true,
            "rows": self.tally.rows(),
            "counts": counts,
            "skipped_already_final": self.skipped,
            "requests": self.tally.requests,
            "elapsed_secs": (self.elapsed.as_secs_f64() * 1000.0).round() / 1000.0,
            "achieved_rate": (self.achieved_rate() * 100.0).round() / 100.0,
            "report": self.report.display().to_string(),
            "stopped": self.stop.map(|s| s.explain()),
            "remaining": self.remaining,
            "resume_command": self.resume_command,
            "simulated": ctx.simulated,
            "exit_code": self.exit,
            "stopped_code": self.stop.map(|s| s.code()),
            "version": env!("CARGO_PKG_VERSION"),
            "started_at": crate::vocab::rfc3339(ctx.started_at),
            "plan": ctx.plan,
            "rate": ctx.rate,
            "config": ctx.config.as_ref().map(|p| p.display().to_string()),
            "daily_remaining": self.daily_remaining,
            "input_cut_at_line": self.input_cut,
        })
    }

    pub fn text(&self) -> String {
        let mut out = String::new();
        if self.ctx.simulated {
            out.push_str("SIMULATION: these results come from the built-in Zoom simulator; no real account was touched.\n");
        }
        let rows = self.tally.rows();
        out.push_str(&format!(
            "zoom-rotate: {rows} {}\n",
            if rows == 1 { "row" } else { "rows" }
        ));
        for (o, n) in self.tally.nonzero() {
            out.push_str(&format!("  {:<17} {n}\n", o.as_str()));
        }
        if self.skipped > 0 {
            out.push_str(&format!("  {:<17} {}\n", "(already final)", self.skipped));
        }
        out.push_str(&format!(
            "elapsed {:.1} s, {} {}, achieved rate {:.2}/s\n",
            self.elapsed.as_secs_f64(),
            self.tally.requests,
            if self.tally.requests == 1 {
                "request"
            } else {
                "requests"
            },
            self.achieved_rate()
        ));
        out.push_str(&format!("report: {}\n", self.report.display()));
        if let Some(left) = self.daily_remaining {
            out.push_str(&format!(
                "Zoom's daily budget: {left} requests remain today (it resets at 00:00 UTC)\n"
            ));
        }
        if let Some(stop) = self.stop {
            out.push_str(&format!("stopped early: {}\n", stop.explain()));
        }
        if let Some(line) = self.input_cut {
            out.push_str(&format!(
                "input cut at the stop: rows were read up to the one at line {line}; the rest \
                 of the input was not read and has no report row (--resume reads it)\n"
            ));
        }
        if let Some(cmd) = &self.resume_command {
            let left = match self.remaining {
                Some(1) => "1 user remains;".to_string(),
                Some(n) => format!("{n} users remain;"),
                None => "the report could not be read back;".to_string(),
            };
            out.push_str(&format!("{left} to continue:\n  {cmd}\n"));
        }
        out
    }
}

/// The summary of a command that never started: nothing counted, exit 2, `stopped` the
/// error's words and `stopped_code` its machine word.
pub fn refused(message: &str, code: RefusalCode, ctx: &RunContext) -> serde_json::Value {
    let tally = Tally::default();
    let elapsed = SystemTime::now()
        .duration_since(ctx.started_at)
        .unwrap_or(Duration::ZERO);
    let mut v = Summary {
        ctx,
        tally: &tally,
        skipped: 0,
        elapsed,
        report: ctx.report.as_deref().unwrap_or(Path::new("")),
        stop: None,
        // Nothing was attempted, so this run left nothing to continue.
        remaining: Some(0),
        resume_command: None,
        exit: Exit::Refused,
        daily_remaining: None,
        input_cut: None,
    }
    .json();
    v["stopped"] = message.into();
    v["stopped_code"] = code.as_str().into();
    if ctx.report.is_none() {
        v["report"] = serde_json::Value::Null;
    }
    v
}

#[cfg(test)]
mod unit {
    use super::*;

    #[test]
    fn estimates() {
        assert_eq!(estimate(200, 20.0, None), "200 users at 20/s: about 10 s");
        assert_eq!(
            estimate(20_000, 20.0, None),
            "20000 users at 20/s: about 17 min"
        );
        assert_eq!(
            estimate(5_000, 2.0, Some(2000)),
            "5000 users at 2/s: about 42 min; Zoom's daily limit of 2000 requests spreads it over 3 days (resume with --resume after 00:00 UTC)"
        );
        assert_eq!(
            estimate(1, 1e-30, None),
            "1 user at 0.00/s: about 5124095576030430 h 56 min"
        );
    }

    #[test]
    fn durations_round_sensibly() {
        let d = |s: f64| human_duration(Duration::from_secs_f64(s));
        assert_eq!(d(0.0), "about 0 s");
        assert_eq!(d(0.4), "about 1 s");
        assert_eq!(d(119.0), "about 119 s");
        assert_eq!(d(150.0), "about 3 min");
        assert_eq!(d(7140.0), "about 119 min");
        assert_eq!(d(10_000.0), "about 2 h 47 min");
    }
}
