//! `zoom-rotate users`: its flags. The Zoom flags it shares with `run` (where to send,
//! the plan, the rate, the simulator) are [`super::ZoomArgs`], flattened into both.

use crate::zoom::login::parse_login_type;
use clap::{Args, ValueEnum};
use std::path::PathBuf;

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum UserStatus {
    Active,
    Inactive,
    Pending,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ListFormat {
    /// A CSV that `zoom-rotate run` reads as is (its user column is `id`).
    Csv,
    /// One JSON object a line, the same fields.
    Jsonl,
}

/// `zoom-rotate users`: list the account's users.
#[derive(Debug, Args)]
pub struct UsersArgs {
    /// Write the listing here (mode 0600, never overwritten; named FILE.incomplete until
    /// the listing is complete) [default: standard output].
    #[arg(short, long, value_name = "FILE")]
    pub out: Option<PathBuf>,
    /// Output format [default: csv, or jsonl when --out ends in .jsonl].
    #[arg(long, value_enum)]
    pub format: Option<ListFormat>,
    /// Only users of this status (Zoom's filter) [default: Zoom's, active].
    #[arg(long, value_enum)]
    pub status: Option<UserStatus>,
    /// Only users of this role ID (Zoom's filter; 0 owner, 1 admin, 2 member).
    #[arg(long, value_name = "ROLE_ID")]
    pub role_id: Option<String>,
    /// Only members of this group (GET /groups/{groupId}/members).
    #[arg(long, value_name = "GROUP_ID")]
    pub group: Option<String>,
    /// Only e-mails in this domain (repeatable: any of them).
    #[arg(long, value_name = "DOMAIN")]
    pub domain: Vec<String>,
    /// Only users of this department (repeatable; compared without case).
    #[arg(long, value_name = "DEPT")]
    pub department: Vec<String>,
    /// Only users with this login type (repeatable): a number (100 work e-mail, 101 SSO,
    /// 1 Google, 24 Apple, 27 Microsoft) or work-email, sso, google, apple, microsoft.
    #[arg(long, value_name = "TYPE", value_parser = parse_login_type)]
    pub login_type: Vec<u32>,
    /// Where to send and how fast, as for run (the listings are Medium calls).
    #[command(flatten)]
    pub zoom: super::ZoomArgs,
}
