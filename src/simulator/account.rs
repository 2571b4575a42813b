//! The simulated Zoom account: its users, and the password change with Zoom's checks in
//! Zoom's order (owner, password rules, history, same as current, 24-hour limit).
//!
//! Users come from a CSV (`id,email,password,role,changes_24h,recent_passwords`, plus the
//! optional profile columns of `directory`) or are
//! generated for benchmarks. Look-up takes an ID or an e-mail, in any case, as Zoom does.
//! The account holds no locks itself: the shared state (`state`) keeps it behind one
//! mutex, never held across an `.await`.

use std::collections::{HashMap, VecDeque};
use std::path::Path;
use std::time::{Duration, SystemTime};

use anyhow::{bail, Context};
use serde::{Deserialize, Serialize};

use super::config::{SimConfig, DEFAULT_USERS_FILE};
use super::directory::{Profile, ProfileColumns};
use crate::zoom::rules::{self, PasswordPolicy};

/// The demo account, compiled in so `zoom-rotate simulate` works from any directory.
const BUILT_IN_USERS: &str = include_str!("../../fixtures/simulator-users.csv");

/// The current password of generated users: valid under the basic rules, and a value no
/// benchmark input should send.
pub const GENERATED_PASSWORD: &str = "Gen3rated-Start-Pw9";

const DAY: Duration = Duration::from_secs(86_400);

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    Owner,
    Admin,
    Member,
}

/// A user as tests see it, passwords included (they are the simulator's fake values).
#[derive(Debug, Clone, PartialEq)]
pub struct UserView {
    pub id: String,
    pub email: String,
    pub role: Role,
    /// Changes this simulator applied (the CSV's `changes_24h` not included).
    pub change_count: u32,
    pub current_password: String,
    /// Previous passwords, most recent first (what the history rule compares against).
    pub recent_passwords: Vec<String>,
    /// When the password changed within the last 24 hours of the simulator clock,
    /// including the CSV's `changes_24h`, oldest first.
    pub changes_at: Vec<SystemTime>,
    /// Every password a change request for this user carried, in arrival order, applied
    /// or not.
    pub received_passwords: Vec<String>,
    /// Login types, status, groups and the SSO token revocations.
    pub profile: Profile,
}

/// Why a change is refused: HTTP status, Zoom code, message, and for "Validation Failed."
/// the per-field errors.
#[derive(Debug, Clone, PartialEq)]
pub struct Refusal {
    pub status: u16,
    pub code: u32,
    pub message: String,
    pub field_error: Option<String>,
}

impl Refusal {
    fn bad_request(code: u32, message: impl Into<String>) -> Self {
        Refusal {
            status: 400,
            code,
            message: message.into(),
            field_error: None,
        }
    }
}

#[derive(Debug, Deserialize)]
struct CsvUser {
    id: String,
    email: String,
    password: String,
    role: Role,
    #[serde(default)]
    changes_24h: Option<u32>,
    #[serde(default)]
    recent_passwords: Option<String>,
    // The profile columns, each optional (not `#[serde(flatten)]`: the csv crate infers
    // types under flatten, and would read login_types `100` as a number, not a string).
    #[serde(default)]
    login_types: Option<String>,
    #[serde(default)]
    status: Option<String>,
    #[serde(default, rename = "type")]
    user_type: Option<u32>,
    #[serde(default)]
    dept: Option<String>,
    #[serde(default)]
    last_login: Option<String>,
    #[serde(default)]
    groups: Option<String>,
}

#[derive(Debug)]
struct User {
    id: String,
    email: String,
    role: Role,
    password: String,
    history: VecDeque<String>,
    changes: Vec<SystemTime>,
    change_count: u32,
    received: Vec<String>,
    profile: Profile,
}

/// The account's users, indexed by lower-cased ID and e-mail.
#[derive(Debug, Default)]
pub struct Account {
    users: Vec<User>,
    index: HashMap<String, usize>,
    policy: PasswordPolicy,
    history_len: usize,
    change_limit: u32,
}

impl Account {
    /// Builds the account `config` describes, with seeded changes stamped before `now`.
    pub fn from_config(config: &SimConfig, now: SystemTime) -> anyhow::Result<Self> {
        let mut account = Account {
            policy: config.password_requirement,
            history_len: config.password_history as usize,
            change_limit: config.change_limit_24h,
            ..Account::default()
        };
        match (&config.users_file, config.generate_users) {
            (Some(path), _) => account.load_file(path, now)?,
            (None, None) if Path::new(DEFAULT_USERS_FILE).exists() => {
                account.load_file(Path::new(DEFAULT_USERS_FILE), now)?
            }
            (None, None) => account
                .load_csv(BUILT_IN_USERS.as_bytes(), now)
                .context("the built-in demo account")?,
            (None, Some(_)) => {}
        }
        if let Some(n) = config.generate_users {
            for i in 1..=n {
                let email = config.user_pattern.replace("{n}", &i.to_string());
                account.add(
                    format!("u{i}"),
                    email,
                    GENERATED_PASSWORD.into(),
                    Role::Member,
                )?;
            }
        }
        Ok(account)
    }

    fn load_file(&mut self, path: &Path, now: SystemTime) -> anyhow::Result<()> {
        let file = std::fs::File::open(path).with_context(|| {
            format!("cannot open the simulator's users file {}", path.display())
        })?;
        self.load_csv(file, now)
            .with_context(|| format!("in the simulator's users file {}", path.display()))
    }

    fn load_csv(&mut self, reader: impl std::io::Read, now: SystemTime) -> anyhow::Result<()> {
        let mut csv = csv::ReaderBuilder::new()
            .trim(csv::Trim::All)
            .from_reader(reader);
        for (i, row) in csv.deserialize::<CsvUser>().enumerate() {
            // The header is line 1; the fixture has no multi-line fields.
            let line = i + 2;
            let row = row.with_context(|| format!("line {line}"))?;
            let profile = ProfileColumns {
                login_types: row.login_types,
                status: row.status,
                user_type: row.user_type,
                dept: row.dept,
                last_login: row.last_login,
                groups: row.groups,
            }
            .profile()
            .with_context(|| format!("line {line}"))?;
            let idx = self
                .add(row.id, row.email, row.password, row.role)
                .with_context(|| format!("line {line}"))?;
            let user = &mut self.users[idx];
            user.profile = profile;
            if let Some(recent) = row.recent_passwords.filter(|r| !r.is_empty()) {
                user.history = recent.split('|').map(str::to_owned).collect();
            }
            // Spread the seeded changes over the last few minutes: well inside 24 hours.
            let seeded = row.changes_24h.unwrap_or(0);
            user.changes = (0..seeded)
                .rev()
                .map(|k| now - Duration::from_secs(60 * (u64::from(k) + 1)))
                .collect();
        }
        Ok(())
    }

    fn add(
        &mut self,
        id: String,
        email: String,
        password: String,
        role: Role,
    ) -> anyhow::Result<usize> {
        if id.is_empty() || email.is_empty() {
            bail!("a user needs both an id and an email");
        }
        let idx = self.users.len();
        for key in [id.to_lowercase(), email.to_lowercase()] {
            if self.index.contains_key(&key) {
                bail!("{key:?} names two users");
            }
            self.index.insert(key, idx);
        }
        self.users.push(User {
            id,
            email,
            role,
            password,
            history: VecDeque::new(),
            changes: Vec::new(),
            change_count: 0,
            received: Vec::new(),
            profile: Profile::default(),
        });
        Ok(idx)
    }

    /// The user that `id_or_email` names, by ID or e-mail, case-insensitively.
    pub fn find(&self, id_or_email: &str) -> Option<usize> {
        self.index.get(&id_or_email.to_lowercase()).copied()
    }

    pub fn len(&self) -> usize {
        self.users.len()
    }

    /// Notes what a change request carried, before any check: tests compare it with
    /// what the client meant to send, whatever became of the request.
    pub fn record_received(&mut self, idx: usize, password: &str) {
        self.users[idx].received.push(password.to_owned());
    }

    /// Zoom's checks, in its order; on success the change is applied at `now`.
    pub fn change_password(
        &mut self,
        idx: usize,
        password: &str,
        now: SystemTime,
    ) -> Result<(), Refusal> {
        let user = &mut self.users[idx];
        if user.role == Role::Owner {
            return Err(Refusal::bad_request(
                1117,
                "Can not update Admin's password",
            ));
        }
        if !user.profile.is_work_email() {
            return Err(Refusal::bad_request(
                1123,
                "Can only update password of Zoom work email account",
            ));
        }
        if let Err(v) = rules::check(password, &self.policy) {
            if v.code == 300 {
                // Too long: Zoom's generic validation error, the rule in `errors`.
                return Err(Refusal {
                    field_error: Some(v.message),
                    ..Refusal::bad_request(300, "Validation Failed.")
                });
            }
            return Err(Refusal::bad_request(v.code, v.message));
        }
        if user
            .history
            .iter()
            .take(self.history_len)
            .any(|p| p == password)
        {
            return Err(Refusal::bad_request(
                1129,
                format!(
                    "Users cannot reuse any of the last {} passwords created.",
                    self.history_len
                ),
            ));
        }
        if user.password == password {
            return Err(Refusal::bad_request(
                300,
                "Your new password can not match the old password.",
            ));
        }
        user.changes
            .retain(|&t| now.duration_since(t).map_or(true, |age| age < DAY));
        if self.change_limit > 0 && user.changes.len() >= self.change_limit as usize {
            return Err(Refusal::bad_request(
                300,
                "This password cannot be changed because it has already been changed the maximum number of times over the past 24 hours.",
            ));
        }
        let old = std::mem::replace(&mut user.password, password.to_owned());
        user.history.push_front(old);
        user.history.truncate(self.history_len);
        user.changes.push(now);
        user.change_count += 1;
        Ok(())
    }

    /// The user at `idx` as tests see it, with the 24-hour window measured at `now`.
    pub fn view(&self, idx: usize, now: SystemTime) -> UserView {
        let u = &self.users[idx];
        UserView {
            id: u.id.clone(),
            email: u.email.clone(),
            role: u.role,
            change_count: u.change_count,
            current_password: u.password.clone(),
            recent_passwords: u.history.iter().cloned().collect(),
            changes_at: u
                .changes
                .iter()
                .copied()
                .filter(|&t| now.duration_since(t).map_or(true, |age| age < DAY))
                .collect(),
            received_passwords: u.received.clone(),
            profile: u.profile.clone(),
        }
    }

    /// Every user, in load order.
    pub fn views(&self, now: SystemTime) -> Vec<UserView> {
        (0..self.users.len()).map(|i| self.view(i, now)).collect()
    }

    /// Every user's id, e-mail, role and profile, in load order: what the listings serve.
    pub fn entries(&self) -> impl Iterator<Item = (&str, &str, Role, &Profile)> {
        self.users
            .iter()
            .map(|u| (u.id.as_str(), u.email.as_str(), u.role, &u.profile))
    }

    /// Revokes the SSO token of the user at `idx` at `now`: the user is signed out.
    pub fn revoke_token(&mut self, idx: usize, now: SystemTime) {
        self.users[idx].profile.revoked_at.push(now);
    }

    /// `(id, email, change_count)` of every user: what the stats endpoint shows.
    pub fn change_counts(&self) -> Vec<(String, String, u32)> {
        self.users
            .iter()
            .map(|u| (u.id.clone(), u.email.clone(), u.change_count))
            .collect()
    }
}

#[cfg(test)]
mod unit {
    use super::*;

    fn account(csv: &str) -> Account {
        let mut a = Account {
            history_len: 3,
            change_limit: 3,
            ..Account::default()
        };
        a.load_csv(csv.as_bytes(), SystemTime::now()).unwrap();
        a
    }

    const CSV: &str = "id,email,password,role,changes_24h,recent_passwords\n\
        u1,Ann@Example.com,Current-Pw-71,member,0,Older-Pw-52|Oldest-Pw-93\n\
        u2,boss@example.com,Boss-Pw-7x,owner,,\n";

    #[test]
    fn lookup_is_case_insensitive_by_id_or_email() {
        let a = account(CSV);
        assert_eq!(a.find("ann@example.COM"), Some(0));
        assert_eq!(a.find("U1"), Some(0));
        assert_eq!(a.find("nobody@example.com"), None);
    }

    #[test]
    fn checks_in_zooms_order() {
        let mut a = account(CSV);
        let now = SystemTime::now();
        let code = |a: &mut Account, i, p| a.change_password(i, p, now).err().map(|r| r.code);
        assert_eq!(code(&mut a, 1, "short"), Some(1117));
        assert_eq!(code(&mut a, 0, "short"), Some(1124));
        assert_eq!(code(&mut a, 0, "Older-Pw-52"), Some(1129));
        assert_eq!(code(&mut a, 0, "Current-Pw-71"), Some(300));
        for p in ["Fresh-Pw-1a", "Fresh-Pw-2b", "Fresh-Pw-3c"] {
            assert_eq!(code(&mut a, 0, p), None);
        }
        let limit = a.change_password(0, "Fresh-Pw-4d", now).unwrap_err();
        assert!(limit.message.starts_with("This password cannot be changed"));
        let later = now + DAY;
        assert!(a.change_password(0, "Fresh-Pw-4d", later).is_ok());
        assert_eq!(
            a.view(0, later).recent_passwords,
            ["Fresh-Pw-3c", "Fresh-Pw-2b", "Fresh-Pw-1a"]
        );
    }

    #[test]
    fn duplicates_are_refused() {
        let mut a = Account::default();
        let dup = "id,email,password,role\nu1,a@x.com,Pw-Valid-71,member\nU1,b@x.com,Pw-Valid-71,member\n";
        let err = a.load_csv(dup.as_bytes(), SystemTime::now()).unwrap_err();
        assert!(format!("{err:#}").contains("line 3"), "{err:#}");
    }
}
