//! Provenance: what a report was written for, kept in its sidecar (`origin`), and the
//! checks a `--resume` makes against it before anything is sent.
//!
//! A report is the state of one campaign, and `--resume` skips every user whose latest
//! row is final. So a row is only "done" for the run that wrote it: a simulation's
//! `changed` says nothing about a real user, a row written against another API host (a
//! rehearsal against a local stand-in) or another account says nothing about this one,
//! and a row from a campaign months ago says nothing about today's incident. The sidecar
//! records, when the report is started: whether the run was simulated, the API host it
//! sent to, the account (the Server-to-Server account ID, when the credentials name one;
//! never a secret), the first run's start and the version. A resume compares them with
//! what it is about to send to ([`Destination`]) and refuses, with exit 2, a mismatch
//! (`report_mismatch`) or a report whose first run began longer ago than the allowed age
//! (`report_too_old`), naming both sides and the fix.
//!
//! Hosts are compared by the cloud they belong to: any name under `zoom.us` is Zoom's,
//! any under `zoomgov.com` is ZoomGov's, and every loopback address is one local
//! stand-in (a test server, the standalone simulator), whatever its port. Before a real
//! run has its token it knows its API host only when one is configured; otherwise the
//! token's `api_url` decides within the token endpoint's cloud, so that is compared.
//!
//! A report of an older version has no provenance: it is accepted with a warning (its
//! oldest row's age is logged), and the resume records its own, marked `recorded_late`.

use crate::vocab::{RefusalCode, Refused};
use std::path::Path;
use std::time::{Duration, SystemTime};

/// What a report was written for, as its sidecar records it.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Provenance {
    /// Written by `--simulate`, against the built-in simulator.
    pub simulated: bool,
    /// The API host the first run sent to (`api.zoom.us`, `127.0.0.1`).
    pub api_host: String,
    /// The Server-to-Server account ID, when the credentials named one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub account: Option<String>,
    /// When the first run started, RFC 3339, UTC.
    pub first_started_at: String,
    /// The version that recorded this.
    pub version: String,
    /// Recorded by a resume of a report an older version started: `first_started_at` is
    /// then that resume's start, not the first run's.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub recorded_late: bool,
}

/// Where a run is about to send, as it is known before anything is sent.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Destination {
    pub simulated: bool,
    /// The API host when one is configured (a flag, config.toml, the simulator), else
    /// the token endpoint's host (whose token then names the API host).
    pub host: String,
    pub account: Option<String>,
}

impl Destination {
    /// The provenance of a report this run starts at `started`, sending to `api_host`.
    pub fn provenance(&self, api_host: &str, started: SystemTime, late: bool) -> Provenance {
        Provenance {
            simulated: self.simulated,
            api_host: api_host.to_ascii_lowercase(),
            account: self.account.clone(),
            first_started_at: humantime::format_rfc3339_seconds(started).to_string(),
            version: env!("CARGO_PKG_VERSION").to_string(),
            recorded_late: late,
        }
    }

    /// In words, for a refusal: `a simulation (--simulate)` or `a real run against HOST`.
    fn said(&self) -> String {
        if self.simulated {
            "this is a simulation (--simulate)".into()
        } else {
            format!(
                "this run sends to {}{}",
                self.host,
                account_said(&self.account)
            )
        }
    }
}

fn account_said(account: &Option<String>) -> String {
    account
        .as_ref()
        .map(|a| format!(" (account {a})"))
        .unwrap_or_default()
}

impl Provenance {
    /// In words, for a refusal.
    fn said(&self) -> String {
        if self.simulated {
            "by a simulation (--simulate)".into()
        } else {
            format!(
                "by a real run against {}{}",
                self.api_host,
                account_said(&self.account)
            )
        }
    }

    /// When the first run started; a value that is not RFC 3339 is refused (the sidecar
    /// is read as strictly as any file people can touch).
    pub fn first_started(&self, sidecar: &Path) -> anyhow::Result<SystemTime> {
        humantime::parse_rfc3339(&self.first_started_at).map_err(|e| {
            anyhow::anyhow!(
                "cannot read {}: first_started_at {:?} is not an RFC 3339 time ({e}); it records when the report's first run started",
                sidecar.display(),
                self.first_started_at
            )
        })
    }
}

/// The cloud a host belongs to: Zoom's, ZoomGov's, a local stand-in, or itself.
fn cloud(host: &str) -> String {
    let h = host
        .trim_start_matches('[')
        .trim_end_matches(']')
        .trim_end_matches('.')
        .to_ascii_lowercase();
    let under = |d: &str| h == d || h.ends_with(&format!(".{d}"));
    if under("zoom.us") {
        "zoom.us".into()
    } else if under("zoomgov.com") {
        "zoomgov.com".into()
    } else if h == "localhost"
        || h.parse::<std::net::IpAddr>()
            .is_ok_and(|ip| ip.is_loopback())
    {
        "loopback".into()
    } else {
        h
    }
}

/// Refuses to continue `report`, written as `recorded`, with a run sending to `now`:
/// a simulation's report by a real run or the other way round, another cloud, another
/// account (`report_mismatch`).
pub fn check_target(
    report: &Path,
    recorded: &Provenance,
    now: &Destination,
) -> Result<(), Refused> {
    let fix = |how: &str| {
        format!(
            "--resume: the report {} was written {}, and {}: its rows say nothing about this run's users; {how}, or start a new report for this run (e.g. --report {})",
            report.display(),
            recorded.said(),
            now.said(),
            crate::ledger::side::dated(report, SystemTime::now()).display()
        )
    };
    let mismatch = |how: &str| Err(Refused::new(RefusalCode::ReportMismatch, fix(how)));
    match (recorded.simulated, now.simulated) {
        (true, false) => return mismatch("continue it with --simulate"),
        (false, true) => return mismatch("continue it without --simulate"),
        (true, true) => return Ok(()),
        (false, false) => {}
    }
    if cloud(&recorded.api_host) != cloud(&now.host) {
        return mismatch(&format!(
            "continue it against {} (the --base-url or --token-url that run had)",
            recorded.api_host
        ));
    }
    match (&recorded.account, &now.account) {
        (Some(a), Some(b)) if a != b => {
            mismatch(&format!("continue it with account {a}'s credentials"))
        }
        _ => Ok(()),
    }
}

/// Refuses to continue `report` when its first run started longer ago than `max_age`
/// (`report_too_old`), naming the age and the override; returns the age.
pub fn check_age(
    report: &Path,
    first_started: SystemTime,
    max_age: Duration,
    now: SystemTime,
) -> Result<Duration, Refused> {
    let age = now.duration_since(first_started).unwrap_or_default();
    if age <= max_age {
        return Ok(age);
    }
    const DAY: u64 = 86_400;
    Err(Refused::new(
        RefusalCode::ReportTooOld,
        format!(
            "--resume: the report {} was started {} ago ({}), longer ago than the {} days a report may be continued (--max-report-age, [report] max_age_days): rows that old are likely another campaign's, and a resume would skip their users as done. Start a new report for this campaign (e.g. --report {}), or, if it is the same campaign, pass --max-report-age {}",
            report.display(),
            ago(age),
            humantime::format_rfc3339_seconds(first_started),
            max_age.as_secs() / DAY,
            crate::ledger::side::dated(report, now).display(),
            // The next whole day: an age of 40 days and a second passes 40.
            age.as_secs() / DAY + 1
        ),
    ))
}

/// A duration as people say an age: days, else hours, else minutes, else seconds.
pub fn ago(age: Duration) -> String {
    let s = age.as_secs();
    let (n, unit) = match s {
        s if s >= 2 * 86_400 => (s / 86_400, "days"),
        s if s >= 2 * 3_600 => (s / 3_600, "hours"),
        s if s >= 120 => (s / 60, "minutes"),
        s => (s, "seconds"),
    };
    format!("{n} {unit}")
}

#[cfg(test)]
mod unit {
    use super::*;

    fn recorded(simulated: bool, host: &str, account: Option<&str>) -> Provenance {
        Destination {
            simulated,
            host: host.into(),
            account: account.map(String::from),
        }
        .provenance(host, SystemTime::UNIX_EPOCH, false)
    }

    fn now(simulated: bool, host: &str, account: Option<&str>) -> Destination {
        Destination {
            simulated,
            host: host.into(),
            account: account.map(String::from),
        }
    }

    #[test]
    fn a_report_is_continued_only_by_a_run_sending_where_it_was_written() {
        let r = Path::new("r.csv");
        let code = |rec: &Provenance, n: &Destination| check_target(r, rec, n).map_err(|e| e.code);
        let zoom = recorded(false, "api.zoom.us", Some("acct-1"));
        assert_eq!(code(&zoom, &now(false, "zoom.us", Some("acct-1"))), Ok(()));
        assert_eq!(code(&zoom, &now(false, "API-EU.zoom.us.", None)), Ok(()));
        let mismatch = Err(RefusalCode::ReportMismatch);
        assert_eq!(code(&zoom, &now(true, "127.0.0.1", None)), mismatch);
        assert_eq!(code(&zoom, &now(false, "127.0.0.1", None)), mismatch);
        assert_eq!(code(&zoom, &now(false, "api.zoomgov.com", None)), mismatch);
        assert_eq!(
            code(&zoom, &now(false, "zoom.us", Some("acct-2"))),
            mismatch
        );
        let sim = recorded(true, "127.0.0.1", Some("sim-account"));
        assert_eq!(code(&sim, &now(false, "zoom.us", None)), mismatch);
        assert_eq!(code(&sim, &now(true, "127.0.0.1", None)), Ok(()));
        let local = recorded(false, "127.0.0.1", None);
        assert_eq!(code(&local, &now(false, "localhost", None)), Ok(()));
        assert_eq!(code(&local, &now(false, "[::1]", None)), Ok(()));
        let e = check_target(r, &sim, &now(false, "zoom.us", Some("acct-1")))
            .unwrap_err()
            .message;
        assert!(
            e.starts_with("--resume: the report r.csv was written by a simulation (--simulate), and this run sends to zoom.us (account acct-1): its rows say nothing about this run's users; continue it with --simulate, or start a new report for this run (e.g. --report r-"),
            "{e}"
        );
    }

    #[test]
    fn an_old_report_is_refused_naming_its_age_and_the_override() {
        let r = Path::new("r.csv");
        let start = humantime::parse_rfc3339("2026-10-27T12:00:00Z").unwrap();
        let day = Duration::from_secs(86_400);
        let at = start + 40 * day + Duration::from_secs(3600);
        assert_eq!(
            check_age(r, start, 41 * day, at).ok(),
            Some(40 * day + Duration::from_secs(3600))
        );
        let e = check_age(r, start, 30 * day, at).unwrap_err();
        assert_eq!(e.code, RefusalCode::ReportTooOld);
        assert_eq!(
            e.message,
            "--resume: the report r.csv was started 40 days ago (2026-10-27T12:00:00Z), longer ago than the 30 days a report may be continued (--max-report-age, [report] max_age_days): rows that old are likely another campaign's, and a resume would skip their users as done. Start a new report for this campaign (e.g. --report r-2026-12-06.csv), or, if it is the same campaign, pass --max-report-age 41"
        );
        // A first run "in the future" (a clock set back) is no age at all.
        assert_eq!(check_age(r, at, day, start).ok(), Some(Duration::ZERO));
        assert_eq!(ago(Duration::from_secs(90)), "90 seconds");
        assert_eq!(ago(Duration::from_secs(3 * 3600)), "3 hours");
        assert_eq!(ago(Duration::from_secs(3 * 86_400 + 5)), "3 days");
    }
}
