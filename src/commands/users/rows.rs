//! One listed user: read leniently from Zoom's JSON, filtered locally, written as a CSV
//! row that `zoom-rotate run` reads unchanged, or as one JSON object a line.
//!
//! The CSV's first column is `id`, so `run`'s user column (the leftmost header named
//! user_id, userId, id or email) is the Zoom user ID, which survives an e-mail change.
//! Lists (login types, groups) are joined with `|` in the CSV and stay arrays in JSON.
//! A CSV cell a spreadsheet would run (`=`, `+`, `-`, `@`, a tab or a CR first) is
//! written with a quote in front (`crate::vocab::cell`), which `run` takes off again.

use crate::vocab::cell::neutralised;
use serde::Serialize;
use serde_json::Value;
use std::io::Write;

/// The CSV header, in order.
pub const COLUMNS: [&str; 9] = [
    "id",
    "email",
    "type",
    "status",
    "login_types",
    "last_login_time",
    "dept",
    "group_ids",
    "role_id",
];

/// A user as listed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct UserRow {
    pub id: String,
    pub email: String,
    #[serde(rename = "type")]
    pub user_type: String,
    pub status: String,
    pub login_types: Vec<u32>,
    pub last_login_time: String,
    pub dept: String,
    pub group_ids: Vec<String>,
    pub role_id: String,
}

/// A string or number field as text; anything else (absent, null, an object) is "".
fn text(v: &Value, key: &str) -> String {
    match v.get(key) {
        Some(Value::String(s)) => s.trim().to_string(),
        Some(Value::Number(n)) => n.to_string(),
        _ => String::new(),
    }
}

impl UserRow {
    /// Reads one entry of `users` (or `members`); `None` without a usable `id`.
    pub fn from_json(v: &Value) -> Option<UserRow> {
        let id = text(v, "id");
        // An ID that is empty or holds a control character could not be a CSV user cell
        // that `run` reads back as the same user.
        if id.is_empty() || id.chars().any(char::is_control) {
            return None;
        }
        let list = |key: &str| {
            v.get(key)
                .and_then(Value::as_array)
                .cloned()
                .unwrap_or_default()
        };
        Some(UserRow {
            id,
            email: text(v, "email"),
            user_type: text(v, "type"),
            status: text(v, "status"),
            login_types: list("login_types")
                .iter()
                .filter_map(|t| t.as_u64().and_then(|n| u32::try_from(n).ok()))
                .collect(),
            last_login_time: text(v, "last_login_time"),
            dept: text(v, "dept"),
            group_ids: list("group_ids")
                .iter()
                .filter_map(|g| g.as_str().map(str::to_owned))
                .collect(),
            role_id: text(v, "role_id"),
        })
    }

    /// The CSV record, in [`COLUMNS`] order.
    pub fn record(&self) -> [String; 9] {
        let types: Vec<String> = self.login_types.iter().map(u32::to_string).collect();
        [
            self.id.clone(),
            self.email.clone(),
            self.user_type.clone(),
            self.status.clone(),
            types.join("|"),
            self.last_login_time.clone(),
            self.dept.clone(),
            self.group_ids.join("|"),
            self.role_id.clone(),
        ]
    }

    /// Whether only a work-email login is known (the user has a Zoom password): Zoom
    /// answers 400/1123 to a password change of any other.
    pub fn has_zoom_password(&self) -> bool {
        self.login_types.contains(&100)
    }
}

/// The local filters: each one given must match (any of its values).
#[derive(Debug, Clone, Default)]
pub struct Filters {
    /// E-mail domains, lower case, without `@`.
    pub domains: Vec<String>,
    /// Departments, compared without case.
    pub departments: Vec<String>,
    pub login_types: Vec<u32>,
}

impl Filters {
    pub fn keep(&self, u: &UserRow) -> bool {
        let domain = u
            .email
            .rsplit_once('@')
            .map(|(_, d)| d.to_ascii_lowercase());
        (self.domains.is_empty() || domain.is_some_and(|d| self.domains.contains(&d)))
            && (self.departments.is_empty()
                || self
                    .departments
                    .iter()
                    .any(|d| d.eq_ignore_ascii_case(&u.dept)))
            && (self.login_types.is_empty()
                || self.login_types.iter().any(|t| u.login_types.contains(t)))
    }
}

/// Where the rows go: CSV or JSON Lines over any writer.
pub enum Sink {
    Csv(Box<csv::Writer<Box<dyn Write + Send>>>),
    Jsonl(std::io::BufWriter<Box<dyn Write + Send>>),
}

impl Sink {
    /// A sink writing the CSV header now (for JSON Lines, nothing).
    pub fn new(out: Box<dyn Write + Send>, jsonl: bool) -> std::io::Result<Sink> {
        if jsonl {
            return Ok(Sink::Jsonl(std::io::BufWriter::new(out)));
        }
        let mut w = csv::Writer::from_writer(out);
        w.write_record(COLUMNS).map_err(std::io::Error::other)?;
        Ok(Sink::Csv(Box::new(w)))
    }

    pub fn write(&mut self, row: &UserRow) -> std::io::Result<()> {
        match self {
            // IDs, emails and departments come from Zoom: a cell a spreadsheet would run
            // is written neutralised, and `run` reads the user column back as it was.
            Sink::Csv(w) => {
                let record = row.record();
                w.write_record(neutralised(record.iter().map(String::as_str)))
                    .map_err(std::io::Error::other)
            }
            Sink::Jsonl(w) => {
                serde_json::to_writer(&mut *w, row).map_err(std::io::Error::other)?;
                w.write_all(b"\n")
            }
        }
    }

    /// Flushes what was written: called after each page, so a crash loses at most one.
    pub fn flush(&mut self) -> std::io::Result<()> {
        match self {
            Sink::Csv(w) => w.flush(),
            Sink::Jsonl(w) => w.flush(),
        }
    }
}

#[cfg(test)]
mod unit {
    use super::*;
    use serde_json::json;

    #[test]
    fn rows_are_read_leniently() {
        let u = UserRow::from_json(&json!({"id": "u1", "email": "A@Ex.com", "type": 2,
            "status": "active", "login_types": [101, "x", 1], "dept": "Ops",
            "group_ids": ["g1"], "role_id": "2"}))
        .unwrap();
        assert_eq!(
            u.record(),
            ["u1", "A@Ex.com", "2", "active", "101|1", "", "Ops", "g1", "2"]
        );
        assert!(!u.has_zoom_password());
        assert_eq!(UserRow::from_json(&json!({"email": "x@y"})), None);
        assert_eq!(UserRow::from_json(&json!({"id": "a\nb"})), None);
    }

    #[test]
    fn filters_match_any_value_of_each_given_filter() {
        let u = UserRow::from_json(&json!({"id": "u1", "email": "a@Corp.example",
            "dept": "Finance", "login_types": [101]}))
        .unwrap();
        let f = |d: &[&str], dep: &[&str], t: &[u32]| Filters {
            domains: d.iter().map(|s| s.to_string()).collect(),
            departments: dep.iter().map(|s| s.to_string()).collect(),
            login_types: t.to_vec(),
        };
        assert!(f(&[], &[], &[]).keep(&u));
        assert!(f(&["corp.example"], &["finance"], &[100, 101]).keep(&u));
        assert!(!f(&["example"], &[], &[]).keep(&u));
        assert!(!f(&[], &["Ops"], &[]).keep(&u));
        assert!(!f(&[], &[], &[100]).keep(&u));
    }
}
