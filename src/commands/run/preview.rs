//! What a resume will send, worked out before it sends anything: the count behind the
//! plan, the prompt and the bar, and `--resume --dry-run`, the preview of a resume.
//!
//! Both are one pass over the input through the reader and the row checks the run itself
//! uses (so a CSV the reader decodes in some way is counted the same way), each row then
//! set against the resume plan: sent as a first attempt, sent again as an unanswered one,
//! skipped as final, skipped while Zoom's 24-hour limit lasts, or refused. The pass
//! streams, so memory is what the run's own reader takes (the duplicate index). The count
//! runs under the basic password rules, before the account's are read: a row that only
//! the account's rules refuse is counted as sent (so the prompt says "up to").
//!
//! Where the preview goes: never into the report, nor into any file beside it (no lock,
//! journal, sidecar or torn file is made or changed; the report's bytes and mtime stay).
//! A dry run of a *new* report writes `dry_run` rows as ever, since that file is its own;
//! but an existing report is evidence, and a preview row in it would read as a row of the
//! run. A second file derived from the report's name would be new residue beside the
//! evidence for scripts that glob `report*` to trip on. So each row's fate is one log
//! event on stderr (text, or one JSON object a row with `--log-format json`: `line`,
//! `user`, `would` = send | resend_unanswered | skip_final | skip_24h | refuse, and
//! `latest`, `retry_after` or `reason`), then one line of totals, and the usual summary on
//! stdout (its `dry_run` count is the rows a resume would send, its skipped count the
//! rows it would skip). stderr is what an operator redirects to keep it.

use super::{finish, Ran, RunResult};
use crate::ledger::resume::{Fate, Resume};
use crate::output::context::RunContext;
use crate::pipeline::checks::Checker;
use crate::pipeline::generate::Generator;
use crate::pipeline::input::{self, Input, CHANNEL_DEPTH};
use crate::pipeline::workers::{Dispatched, Skipped};
use crate::settings::Settings;
use crate::vocab::stop::Stop;
use crate::vocab::Item;
use crate::vocab::Outcome;
use crate::vocab::{Row, Tally};
use crate::zoom::rules::PasswordPolicy;
use std::time::{Instant, SystemTime};
use tokio::sync::mpsc;

/// What a resume would do with the input's rows.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Counts {
    /// Every data row read.
    pub records: u64,
    /// Rows that would be sent, `resend` of them again as unanswered attempts.
    pub send: u64,
    pub resend: u64,
    /// Rows skipped as final, `not_changed` of them final otherwise than `changed`.
    pub done: u64,
    pub not_changed: u64,
    /// Rows skipped while Zoom's 24-hour limit lasts, the first of them until `first_until`.
    pub waiting: u64,
    pub first_until: Option<SystemTime>,
    /// Rows the checks refuse (reported `invalid_input`, never sent).
    pub refused: u64,
}

impl Counts {
    /// Counts one item; its fate, unless the checks refused it.
    fn add(&mut self, item: &Item, resume: &Resume) -> Option<Fate> {
        self.records += 1;
        let Item::Send(job) = item else {
            self.refused += 1;
            return None;
        };
        let fate = resume.fate(job.line, &job.user_id);
        match fate {
            Fate::Send => self.send += 1,
            Fate::Resend => {
                self.send += 1;
                self.resend += 1;
            }
            Fate::Final(o) => {
                self.done += 1;
                self.not_changed += u64::from(!o.is_done());
            }
            // Reported from the journal without a request: done, as a final row is.
            Fate::Revoked => self.done += 1,
            Fate::Waiting { until } => {
                self.waiting += 1;
                self.first_until = Some(self.first_until.map_or(until, |t| t.min(until)));
            }
        }
        Some(fate)
    }

    /// The rows this run reports (sent or refused): the progress bar's length.
    pub fn report_rows(&self) -> u64 {
        self.send.saturating_add(self.refused)
    }

    fn skipped(&self) -> Skipped {
        Skipped {
            total: self.done.saturating_add(self.waiting),
            not_changed: self.not_changed.saturating_add(self.waiting),
        }
    }
}

/// The checks the run applies under `policy`; in a dry run they also refuse the users a
/// listing shows without a Zoom password, as the dry run's rows are refused.
fn checker(s: &Settings, policy: PasswordPolicy) -> Checker {
    let generator = s.generate.as_ref().map(|g| Generator::new(g.length));
    Checker::new(policy, s.max_field_bytes, generator).refusing_listed_without_password(s.dry_run)
}

/// Counts what a resume of `s` would do, reading the input a second time; `None` when it
/// can be read only once (standard input, a pipe).
pub async fn count(s: &Settings, resume: &Resume, stop: &Stop) -> anyhow::Result<Option<Counts>> {
    let regular = *s.input != *std::path::Path::new("-")
        && std::fs::metadata(&s.input).is_ok_and(|m| m.is_file());
    if !regular {
        return Ok(None);
    }
    // The run opened the input already and said what it had to about it (a readable
    // file of passwords, say): this second look says nothing again.
    let input =
        tracing::subscriber::with_default(tracing::subscriber::NoSubscriber::new(), || {
            input::open(
                &s.input,
                s.user_column.as_deref(),
                &s.password_column,
                s.generate.is_some(),
                &input::ReadCut::new(),
            )
        })?;
    // The account's rules are not read yet: the count is under the basic ones.
    pass(
        input,
        checker(s, PasswordPolicy::default()),
        resume,
        stop,
        |_, _| {},
    )
    .await?
    .map(Some)
    .ok_or_else(|| anyhow::anyhow!("stopped while counting the rows to send: nothing was sent"))
}

/// Reads every row of `input`, counting and handing each to `each`; `None` when the run
/// was stopped first.
async fn pass(
    input: Input,
    checker: Checker,
    resume: &Resume,
    stop: &Stop,
    mut each: impl FnMut(&Item, Option<Fate>),
) -> anyhow::Result<Option<Counts>> {
    let (tx, mut rx) = mpsc::channel(CHANNEL_DEPTH);
    let reader = tokio::task::spawn_blocking(move || input.stream(checker, tx));
    let mut counts = Counts::default();
    loop {
        let item = tokio::select! {
            item = rx.recv() => item,
            // Dropping the receiver ends the reader (it returns when no one listens).
            _ = stop.stopped() => return Ok(None),
        };
        let Some(item) = item else { break };
        let fate = counts.add(&item, resume);
        each(&item, fate);
    }
    reader.await??;
    Ok(Some(counts))
}

/// One row's fate as a log event.
fn show(item: &Item, fate: Option<Fate>) {
    let (line, user) = match item {
        Item::Send(job) => (job.line, job.user_id.as_str()),
        Item::Refused(r) => {
            tracing::info!(
                line = r.line,
                user = r.user_id.as_str(),
                would = "refuse",
                reason = r.reason.as_str(),
                "preview: would be refused (invalid_input)"
            );
            return;
        }
    };
    let Some(fate) = fate else { return };
    let would = fate.name();
    match fate {
        Fate::Send => tracing::info!(line, user, would, "preview: would send (a first attempt)"),
        Fate::Resend => tracing::info!(line, user, would, "preview: would send again as an unanswered attempt: the same password, so that a same-as-old answer confirms the change"),
        Fate::Final(o) => tracing::info!(line, user, would, latest = o.as_str(), "preview: skipped: final already ({o})"),
        Fate::Revoked => tracing::info!(line, user, would, "preview: would report sso_revoked from the journal (the crashed run's revoke was answered), sending nothing"),
        Fate::Waiting { until } => {
            let until = humantime::format_rfc3339_seconds(until).to_string();
            tracing::info!(line, user, would, retry_after = until.as_str(), "preview: skipped: waiting out Zoom's 24-hour change limit until {until}");
        }
    }
}

fn rows(n: u64) -> String {
    format!("{n} row{}", if n == 1 { "" } else { "s" })
}

/// The preview's line of totals.
fn totals(c: &Counts) -> String {
    let first = c
        .first_until
        .map(|t| format!(", the first until {}", humantime::format_rfc3339_seconds(t)))
        .unwrap_or_default();
    format!(
        "preview of --resume: it would send {} ({} of them again as an unanswered attempt, with the same password) and skip {} ({} final already, {} waiting out Zoom's 24-hour change limit{first}); {} would be refused; nothing was sent and the report was not touched",
        rows(c.send),
        c.resend,
        c.done + c.waiting,
        c.done,
        c.waiting,
        rows(c.refused),
    )
}

/// What a preview needs from `prepare`: the input, opened, the resume plan, and the
/// account's password rules (read as a real run reads them, unless `--offline`).
pub(super) struct Ready {
    pub input: Input,
    pub resume: Resume,
    pub policy: PasswordPolicy,
}

/// `--resume --dry-run`: says what a resume would do with each row of the input, and
/// ends as every run does (`finish`); writes no file at all.
pub(super) async fn run(
    s: &Settings,
    ctx: &RunContext,
    ready: Ready,
    stop: &Stop,
    started: Instant,
) -> anyhow::Result<RunResult> {
    let checker = checker(s, ready.policy);
    let counts = pass(ready.input, checker, &ready.resume, stop, show).await?;
    let counts = match counts {
        Some(c) => {
            tracing::info!(
                send = c.send,
                resend_unanswered = c.resend,
                skip_final = c.done,
                skip_24h = c.waiting,
                refused = c.refused,
                first_retry_after = c
                    .first_until
                    .map(|t| humantime::format_rfc3339_seconds(t).to_string()),
                "{}",
                totals(&c)
            );
            c
        }
        None => Counts::default(),
    };
    // The summary's counts, as a dry run's: the rows a resume sends are `dry_run`.
    let mut tally = Tally::default();
    for (outcome, n) in [
        (Outcome::DryRun, counts.send),
        (Outcome::InvalidInput, counts.refused),
    ] {
        for _ in 0..n {
            tally.add(&Row::local(0, String::new(), outcome, String::new()));
        }
    }
    let ran = Ran {
        dispatched: Dispatched {
            received: counts.records,
            skipped: counts.skipped(),
        },
        tally,
        daily_remaining: None,
        input_cut: None,
        throttled: 0,
    };
    Ok(finish(s, ctx, ran, stop, started))
}

#[cfg(test)]
mod unit {
    use super::*;

    #[test]
    fn totals_read_as_sentences() {
        let c = Counts {
            records: 7,
            send: 1,
            resend: 1,
            done: 4,
            not_changed: 1,
            waiting: 1,
            first_until: Some(std::time::UNIX_EPOCH + std::time::Duration::from_secs(86_400)),
            refused: 1,
        };
        assert_eq!(
            totals(&c),
            "preview of --resume: it would send 1 row (1 of them again as an unanswered attempt, with the same password) and skip 5 (4 final already, 1 waiting out Zoom's 24-hour change limit, the first until 1970-01-02T00:00:00Z); 1 row would be refused; nothing was sent and the report was not touched"
        );
        assert_eq!(c.report_rows(), 2);
        assert_eq!(
            c.skipped(),
            Skipped {
                total: 5,
                not_changed: 2
            }
        );
    }
}
