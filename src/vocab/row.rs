//! The rows that travel the pipeline: a [`Job`] or a [`Refusal`] from the reader, a
//! [`Row`] for the report, the [`Tally`] the summary and the exit code are made from, and
//! the key a user is known by within a run ([`user_key`]). Every stage and the ledger
//! speak these words; none of them needs to know another stage to do so.

use super::Outcome;
use secrecy::SecretString;
use std::time::SystemTime;

/// A row that passed every check and may be sent.
pub struct Job {
    /// The input line where the row starts (the header is line 1).
    pub line: u64,
    pub user_id: String,
    pub password: SecretString,
    /// The login types a `users` listing's `login_types` column gave for this user (`None`
    /// without the column, or with a cell that is not numbers): how `--contain-sso` tells
    /// an SSO user from one who signs in at Google, Apple or Microsoft.
    pub login_types: Option<Vec<u32>>,
}

/// A row refused before sending.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refusal {
    pub line: u64,
    pub user_id: String,
    pub reason: String,
}

pub enum Item {
    Send(Job),
    Refused(Refusal),
}

/// Where the user and password are in each record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Columns {
    pub user: usize,
    /// `None` with `--generate`.
    pub password: Option<usize>,
    /// A `users` listing's `login_types` column, when the header has one: a dry run
    /// refuses the users it shows without a Zoom password.
    pub login_types: Option<usize>,
    pub width: usize,
}

/// What the reader learnt about one record while its bytes went by.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RecordInfo {
    /// The line the record starts on (the first line is 1; blank lines are skipped, as
    /// the csv crate skips them).
    pub line: u64,
    /// The first field longer than the bound: its index (0-based) and its true length
    /// in bytes, as the csv crate would have read it.
    pub oversized: Option<(usize, u64)>,
}

/// Longest user ID echoed into a report row for a refused row.
const MAX_ECHO: usize = 200;

/// The user ID as the report should show it: control characters escaped, length bounded.
pub fn printable(raw: &str) -> String {
    let mut out = String::new();
    for c in raw.chars() {
        if out.len() >= MAX_ECHO {
            out.push('…');
            break;
        }
        if c.is_control() {
            out.extend(c.escape_default());
        } else {
            out.push(c);
        }
    }
    out
}

/// The key a user is known by within a run: Zoom looks users up by ID or e-mail without
/// regard to case, so two rows differing only in case name one user, and sending both
/// would be two requests for one user at once. (Two distinct Zoom IDs differing only in
/// case would take a 22-character random collision.)
pub fn user_key(user: &str) -> String {
    user.to_lowercase()
}

/// Said in a row's message whenever an unanswered attempt may have changed the password.
/// The machine-readable twin is [`Row::may_have_applied`]; `--resume` reads the message
/// only in reports written before that column existed.
pub const MAY_HAVE_APPLIED: &str = "the change may have been applied";

/// One report row.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Row {
    pub line: u64,
    pub user_id: String,
    pub outcome: Outcome,
    pub http_status: Option<u16>,
    pub zoom_code: Option<u32>,
    pub attempts: u32,
    pub finished_at: SystemTime,
    pub message: String,
    /// A request for this row was sent and never answered, and no later answer settled
    /// it: the change may be in effect. `--resume` then sends the same password again and
    /// reads a same-as-old answer as the confirmation. Never set on a `changed` row.
    pub may_have_applied: bool,
}

impl Row {
    /// A row for which no request was sent.
    pub fn local(line: u64, user_id: String, outcome: Outcome, message: String) -> Row {
        Row {
            line,
            user_id,
            outcome,
            http_status: None,
            zoom_code: None,
            attempts: 0,
            finished_at: SystemTime::now(),
            message,
            may_have_applied: false,
        }
    }
}

/// Counts per outcome, and requests sent.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Tally {
    counts: [u64; Outcome::ALL.len()],
    pub requests: u64,
}

impl Tally {
    pub fn add(&mut self, row: &Row) {
        self.counts[row.outcome as usize] += 1;
        self.requests += row.attempts as u64;
    }
    pub fn get(&self, o: Outcome) -> u64 {
        self.counts[o as usize]
    }
    pub fn rows(&self) -> u64 {
        self.counts.iter().sum()
    }
    /// (outcome, count) for every outcome seen.
    pub fn nonzero(&self) -> impl Iterator<Item = (Outcome, u64)> + '_ {
        Outcome::ALL
            .into_iter()
            .map(|o| (o, self.get(o)))
            .filter(|(_, n)| *n > 0)
    }
}

/// RFC 3339, UTC, clamped to what the format can say (1970 to 9999): humantime's
/// `Display` panics outside it, and a report from anywhere may say 9999-12-31T23:00:00Z,
/// whose 24 hours end past the year 9999.
pub fn rfc3339(t: SystemTime) -> String {
    const LAST: u64 = 253_402_300_799; // 9999-12-31T23:59:59Z
    let secs = t
        .duration_since(SystemTime::UNIX_EPOCH)
        .map(|d| d.as_secs().min(LAST))
        .unwrap_or(0);
    let t = SystemTime::UNIX_EPOCH + std::time::Duration::from_secs(secs);
    humantime::format_rfc3339_seconds(t).to_string()
}
