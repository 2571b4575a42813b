//! What the operator reads: the plan before the run and the summary after it.
//!
//! The plan goes to stderr before anything is sent (rows, rate, how long, and on the free
//! plan how many days the daily limit stretches it over). The summary goes to stdout:
//! the count for each outcome, the elapsed time, the achieved rate, the report's path and,
//! when rows remain, the exact command that resumes. With `--log-format json` it is one
//! JSON object instead, for scripts.

pub use super::context::{refusal_code, refused, unparsed, wants_json, RunContext};

use crate::cli::LogFormat;
use crate::vocab::stop::StopReason;
use crate::vocab::Outcome;
use crate::vocab::Tally;
use std::io::Write;
use std::path::Path;
use std::time::Duration;

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

/// Everything the summary shows.
pub struct Summary<'a> {
    pub tally: &'a Tally,
    pub skipped: u64,
    pub elapsed: Duration,
    pub report: &'a Path,
    pub stop: Option<&'a StopReason>,
    pub resume_command: Option<String>,
    pub simulated: bool,
    pub exit_code: u8,
    /// Requests left of Zoom's daily budget, when its answers said so (Free plan).
    pub daily_remaining: Option<u64>,
}

impl Summary<'_> {
    fn achieved_rate(&self) -> f64 {
        self.tally.requests as f64 / self.elapsed.as_secs_f64().max(1e-3)
    }

    /// Writes the summary to stdout. A stdout that is closed or full (`| head`, a reader
    /// gone) is logged, not a panic: the work is done and the report holds every row, so
    /// the run's exit code stands.
    pub fn print(&self, format: LogFormat) {
        let text = match format {
            LogFormat::Json => format!("{}\n", self.json()),
            LogFormat::Text => self.text(),
        };
        let mut out = std::io::stdout().lock();
        if let Err(e) = out.write_all(text.as_bytes()).and_then(|()| out.flush()) {
            tracing::warn!(
                report = %self.report.display(),
                "the summary could not be written to standard output ({e}); the report holds every row"
            );
        }
    }

    /// The summary as one JSON object, with the task's [`RunContext`] when `main` set one.
    pub fn json(&self) -> serde_json::Value {
        self.json_with(RunContext::current().as_ref())
    }

    pub(crate) fn json_with(&self, ctx: Option<&RunContext>) -> serde_json::Value {
        let started_at = ctx
            .map(|c| c.started_at)
            .or_else(|| std::time::SystemTime::now().checked_sub(self.elapsed));
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
            "remaining": self.tally.remaining(),
            "resume_command": self.resume_command,
            "simulated": self.simulated,
            "exit_code": self.exit_code,
            "stopped_code": self.stop.map(|s| s.code()),
            "version": env!("CARGO_PKG_VERSION"),
            "started_at": started_at.map(crate::vocab::rfc3339),
            "plan": ctx.and_then(|c| c.plan),
            "rate": ctx.and_then(|c| c.rate),
            "config": ctx.and_then(|c| c.config.as_ref()).map(|p| p.display().to_string()),
            "daily_remaining": self.daily_remaining,
        })
    }

    pub fn text(&self) -> String {
        let mut out = String::new();
        if self.simulated {
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
        if let Some(cmd) = &self.resume_command {
            let n = self.tally.remaining();
            out.push_str(&format!(
                "{n} {} to continue:\n  {cmd}\n",
                if n == 1 {
                    "row remains;"
                } else {
                    "rows remain;"
                }
            ));
        }
        out
    }
}

/// The command that continues a run, quoted for a POSIX shell: the words of this one
/// (the program as it was invoked, so a path that worked works again), without any
/// `--report`/`--resume`/`--resume-or-start`, then `--resume --report <the report>`.
pub fn resume_command(args: &[String], report: &Path) -> String {
    let mut parts: Vec<String> = Vec::new();
    let mut skip_next = false;
    for (i, a) in args.iter().enumerate() {
        if skip_next {
            skip_next = false;
            continue;
        }
        if i == 0 {
            parts.push(shell_quote(a));
            continue;
        }
        // The report exists now: the command continues it, and a typo must not start over.
        if a == "--resume" || a == "--resume-or-start" {
            continue;
        }
        if a == "--report" || a == "-r" {
            skip_next = true;
            continue;
        }
        if a.starts_with("--report=") || (a.starts_with("-r") && !a.starts_with("--")) {
            continue;
        }
        parts.push(shell_quote(a));
    }
    if parts.is_empty() {
        parts.push("zoom-rotate".into());
    }
    parts.push("--resume".into());
    parts.push("--report".into());
    parts.push(shell_quote(&report.display().to_string()));
    parts.join(" ")
}

pub fn shell_quote(s: &str) -> String {
    if !s.is_empty()
        && s.chars()
            .all(|c| c.is_ascii_alphanumeric() || "-_./=:@+,".contains(c))
    {
        s.to_string()
    } else {
        format!("'{}'", s.replace('\'', "'\\''"))
    }
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

    #[test]
    fn resume_command_replaces_report_and_quotes() {
        let args: Vec<String> = [
            "/x/zoom-rotate",
            "run",
            "my users.csv",
            "--report",
            "old.csv",
            "--yes",
        ]
        .iter()
        .map(|s| s.to_string())
        .collect();
        assert_eq!(
            resume_command(&args, Path::new("reports/r.csv")),
            "/x/zoom-rotate run 'my users.csv' --yes --resume --report reports/r.csv"
        );
        let args: Vec<String> = [
            "zoom-rotate",
            "run",
            "-",
            "-rold.csv",
            "--resume",
            "--report=x",
        ]
        .iter()
        .map(|s| s.to_string())
        .collect();
        assert_eq!(
            resume_command(&args, Path::new("it's.csv")),
            "zoom-rotate run - --resume --report 'it'\\''s.csv'"
        );
    }
}
