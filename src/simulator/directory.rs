//! The simulated account's directory: what Zoom knows of each user beyond the password
//! (login types, status, type, department, last sign-in, groups), and the cursors of its
//! paged listings.
//!
//! A user's profile comes from the optional columns of the users file
//! (`login_types,status,type,dept,last_login,groups`; lists split on `|`); a file
//! without them gives every user what the demo account always had: a Zoom work-email
//! login (100), active, licensed, in no group. Only a work-email user has a password
//! Zoom can set (API-NOTES: others answer 400/1123).
//!
//! Paging follows Zoom: `page_size` (default 30, at most 300) and an opaque
//! `next_page_token` that expires [`SimConfig::page_token_lifetime_secs`] after it was
//! issued (15 minutes at Zoom), on the simulator clock so a test can let one expire
//! without waiting. A token may be used again until then (a client retrying a page after
//! a 429 must get the same page). Zoom does not document the answer to an expired token;
//! the simulator answers what the client has to survive in any case, a plain 400/300
//! ([`EXPIRED_TOKEN_MESSAGE`]), indistinguishable by code from any other bad request.

use std::collections::HashMap;
use std::time::{Duration, SystemTime};

use anyhow::{bail, Context};

use super::config::SimConfig;

/// Zoom's login type of a Zoom work-email account: the only kind with a Zoom password.
pub const WORK_EMAIL: u32 = 100;
/// Zoom's login type of a single sign-on account.
pub const SSO: u32 = 101;

/// Zoom's default and largest `page_size`.
pub const DEFAULT_PAGE_SIZE: usize = 30;
pub const MAX_PAGE_SIZE: usize = 300;

/// The message of the simulator's 400/300 to an expired or unknown `next_page_token`.
pub const EXPIRED_TOKEN_MESSAGE: &str = "The next page token is invalid or expired.";

/// Cursors kept at most; the oldest go first (a client that never finishes a listing
/// cannot grow the table without end).
const MAX_CURSORS: usize = 10_000;

/// A user's status in the directory, as `GET /users?status=` names it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Status {
    Active,
    Inactive,
    Pending,
}

impl Status {
    pub fn parse(s: &str) -> Option<Status> {
        match s.trim().to_ascii_lowercase().as_str() {
            "active" => Some(Status::Active),
            "inactive" => Some(Status::Inactive),
            "pending" => Some(Status::Pending),
            _ => None,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Status::Active => "active",
            Status::Inactive => "inactive",
            Status::Pending => "pending",
        }
    }
}

/// What the directory knows of one user, the password aside.
#[derive(Debug, Clone, PartialEq)]
pub struct Profile {
    pub login_types: Vec<u32>,
    pub status: Status,
    /// Zoom's user type: 1 Basic, 2 Licensed, 4 Unassigned, 99 None.
    pub user_type: u32,
    pub dept: String,
    pub last_login: Option<SystemTime>,
    pub groups: Vec<String>,
    /// When this simulator revoked the user's SSO token (signing the user out), oldest
    /// first.
    pub revoked_at: Vec<SystemTime>,
}

impl Default for Profile {
    fn default() -> Self {
        Profile {
            login_types: vec![WORK_EMAIL],
            status: Status::Active,
            user_type: 2,
            dept: String::new(),
            last_login: None,
            groups: Vec::new(),
            revoked_at: Vec::new(),
        }
    }
}

/// The optional profile columns of one users-file row, as written.
#[derive(Debug, Default, Clone, serde::Deserialize)]
pub struct ProfileColumns {
    #[serde(default)]
    pub login_types: Option<String>,
    #[serde(default)]
    pub status: Option<String>,
    #[serde(default, rename = "type")]
    pub user_type: Option<u32>,
    #[serde(default)]
    pub dept: Option<String>,
    #[serde(default)]
    pub last_login: Option<String>,
    #[serde(default)]
    pub groups: Option<String>,
}

/// The non-empty items of a `|`-separated cell.
fn items(cell: &str) -> impl Iterator<Item = &str> {
    cell.split('|').map(str::trim).filter(|s| !s.is_empty())
}

impl ProfileColumns {
    /// The profile these columns describe; an error names the column.
    pub fn profile(&self) -> anyhow::Result<Profile> {
        let mut p = Profile::default();
        if let Some(cell) = self.login_types.as_deref().filter(|c| !c.trim().is_empty()) {
            p.login_types = items(cell)
                .map(|t| t.parse::<u32>())
                .collect::<Result<_, _>>()
                .with_context(|| {
                    format!("login_types {cell:?}: expected numbers such as 100|101")
                })?;
        }
        if let Some(cell) = self.status.as_deref().filter(|c| !c.trim().is_empty()) {
            p.status = Status::parse(cell).with_context(|| {
                format!("status {cell:?}: expected active, inactive or pending")
            })?;
        }
        if let Some(t) = self.user_type {
            p.user_type = t;
        }
        p.dept = self.dept.clone().unwrap_or_default();
        if let Some(cell) = self.last_login.as_deref().filter(|c| !c.trim().is_empty()) {
            let at = humantime::parse_rfc3339(cell.trim())
                .with_context(|| format!("last_login {cell:?}: expected an RFC 3339 UTC time"))?;
            p.last_login = Some(at);
        }
        p.groups = self
            .groups
            .as_deref()
            .map(|c| items(c).map(str::to_owned).collect())
            .unwrap_or_default();
        if p.groups.iter().any(|g| g.contains('/')) {
            bail!("groups: a group ID cannot contain '/'");
        }
        Ok(p)
    }
}

impl Profile {
    pub fn is_work_email(&self) -> bool {
        self.login_types.contains(&WORK_EMAIL)
    }
}

/// What a cursor lists: its query is fixed when the first page is asked for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Listing {
    Users {
        status: Status,
        role_id: Option<String>,
    },
    Members {
        group: String,
    },
    Activities {
        from: SystemTime,
        to: SystemTime,
    },
}

#[derive(Debug)]
struct Cursor {
    listing: Listing,
    offset: usize,
    issued: SystemTime,
    serial: u64,
}

/// The page tokens handed out and not yet forgotten.
#[derive(Debug, Default)]
pub struct Pages {
    cursors: HashMap<String, Cursor>,
    serial: u64,
}

/// A page to serve: which listing, from where.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PageAt {
    pub listing: Listing,
    pub offset: usize,
}

impl Pages {
    /// Where `token` continues, or `None` when it is unknown or older than the lifetime.
    pub fn resume(&self, token: &str, now: SystemTime, config: &SimConfig) -> Option<PageAt> {
        let c = self.cursors.get(token)?;
        let lifetime = Duration::from_secs(config.page_token_lifetime_secs);
        let age = now.duration_since(c.issued).unwrap_or_default();
        (age < lifetime).then(|| PageAt {
            listing: c.listing.clone(),
            offset: c.offset,
        })
    }

    /// A token for the page of `listing` at `offset`, issued at `now`.
    pub fn issue(&mut self, listing: Listing, offset: usize, now: SystemTime) -> String {
        if self.cursors.len() >= MAX_CURSORS {
            if let Some(oldest) = self
                .cursors
                .iter()
                .min_by_key(|(_, c)| c.serial)
                .map(|(k, _)| k.clone())
            {
                self.cursors.remove(&oldest);
            }
        }
        self.serial += 1;
        // Opaque and unguessable enough for a simulator; not a secret.
        let token = format!(
            "pt{:06}x{:08x}",
            self.serial,
            offset.wrapping_mul(2_654_435_761)
        );
        self.cursors.insert(
            token.clone(),
            Cursor {
                listing,
                offset,
                issued: now,
                serial: self.serial,
            },
        );
        token
    }
}

/// `page_size` as Zoom reads it: absent → 30; above 300 → 300; 0 or not a number → `None`
/// (a 400).
pub fn page_size(raw: Option<&str>) -> Option<usize> {
    match raw {
        None => Some(DEFAULT_PAGE_SIZE),
        Some(v) => v
            .trim()
            .parse::<usize>()
            .ok()
            .filter(|n| *n > 0)
            .map(|n| n.min(MAX_PAGE_SIZE)),
    }
}

/// A `yyyy-mm-dd` day as the start of that UTC day.
pub fn parse_day(raw: &str) -> Option<SystemTime> {
    let raw = raw.trim();
    if raw.len() != 10 {
        return None;
    }
    humantime::parse_rfc3339(&format!("{raw}T00:00:00Z")).ok()
}

#[cfg(test)]
mod unit {
    use super::*;
    use crate::vocab::rfc3339;

    #[test]
    fn profile_columns() {
        let cols = ProfileColumns {
            login_types: Some("101 | 1".into()),
            status: Some("Pending".into()),
            user_type: Some(1),
            dept: Some("Finance".into()),
            last_login: Some("2026-11-30T10:00:00Z".into()),
            groups: Some("g-fin|g-all".into()),
        };
        let p = cols.profile().unwrap();
        assert_eq!(p.login_types, [101, 1]);
        assert_eq!(p.status, Status::Pending);
        assert!(!p.is_work_email());
        assert_eq!(p.groups, ["g-fin", "g-all"]);
        assert_eq!(rfc3339(p.last_login.unwrap()), "2026-11-30T10:00:00Z");
        assert_eq!(
            ProfileColumns::default().profile().unwrap(),
            Profile::default()
        );
        let bad = ProfileColumns {
            login_types: Some("sso".into()),
            ..ProfileColumns::default()
        };
        assert!(format!("{:#}", bad.profile().unwrap_err()).starts_with("login_types \"sso\""));
    }

    #[test]
    fn tokens_expire_on_the_clock() {
        let config = SimConfig::default();
        let mut pages = Pages::default();
        let t0 = SystemTime::UNIX_EPOCH + Duration::from_secs(1_000_000);
        let listing = Listing::Members { group: "g".into() };
        let token = pages.issue(listing.clone(), 300, t0);
        let at = PageAt {
            listing,
            offset: 300,
        };
        assert_eq!(pages.resume(&token, t0, &config), Some(at.clone()));
        let almost = t0 + Duration::from_secs(899);
        assert_eq!(pages.resume(&token, almost, &config), Some(at));
        assert_eq!(
            pages.resume(&token, t0 + Duration::from_secs(900), &config),
            None
        );
        assert_eq!(pages.resume("pt-unknown", t0, &config), None);
    }

    #[test]
    fn page_sizes() {
        assert_eq!(page_size(None), Some(30));
        assert_eq!(page_size(Some("300")), Some(300));
        assert_eq!(page_size(Some("301")), Some(300));
        assert_eq!(page_size(Some("0")), None);
        assert_eq!(page_size(Some("x")), None);
        assert_eq!(
            parse_day("2026-11-30").map(rfc3339).as_deref(),
            Some("2026-11-30T00:00:00Z")
        );
        assert_eq!(parse_day("2026-11-30T01:00:00Z"), None);
    }
}
