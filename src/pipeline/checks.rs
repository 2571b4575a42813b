//! The checks every row passes before it may be sent, in the order they run (the first
//! that fails gives the reason): shape, size, encoding, presence, the user ID, (in a dry
//! run) the listed login type, the password, duplicates.
//!
//! The listed login type: a dry run of a `users` listing refuses a user whose
//! `login_types` shows no work-email login (100), since Zoom keeps no password for them
//! and would answer 400/1123. Its outcome is `invalid_input`, the contract's one word for
//! a row refused before sending, and never `rejected`: that word says Zoom answered, and
//! is final on `--resume`, so a dry run's report holding it could one day read as
//! evidence that a user was tried, and a stale listing would keep a user who since got a
//! work-email login from ever being sent. `invalid_input` is checked again on every run,
//! and its message says what the real run will meet. A real run does not refuse the row:
//! it sends it, and Zoom's answer, the authority, is what the report records.
//!
//! A refused row costs no request: it becomes an `invalid_input` report row with a reason
//! precise enough to fix the spreadsheet, and never the password itself. The duplicate
//! check keeps no strings: for each user it keeps a 64-bit keyed hash of the normalised
//! ID and the line it was first seen on, packed into 12 bytes (13 with the table's control
//! byte), in a table sized once from the row count when the input is a file: a million
//! users cost about 26 MiB, with no doubling on the way. Two different users colliding on a random 64-bit
//! key has odds near 1 in 10^7 at 10^6 users; the cost of one would be a row wrongly
//! refused as a duplicate, never a user sent twice.

use crate::pipeline::generate::Generator;
use crate::vocab::{cell, printable, Columns, Job, RecordInfo};
use crate::zoom::login;
use crate::zoom::rules::{self, PasswordPolicy};
use secrecy::SecretString;
use std::collections::HashMap;
use std::hash::{BuildHasher, BuildHasherDefault, Hash, Hasher, RandomState};

/// A user's 64-bit keyed hash, aligned to 4 so that with its `u32` line a table entry
/// takes 12 bytes, not 16.
#[derive(Clone, Copy, PartialEq, Eq)]
#[repr(C, packed(4))]
struct UserHash(u64);

impl Hash for UserHash {
    fn hash<H: Hasher>(&self, state: &mut H) {
        let v = self.0;
        state.write_u64(v);
    }
}

/// The table's own hasher: its keys are already keyed hashes, so hashing them again is
/// wasted work.
#[derive(Default)]
struct PassThrough(u64);

impl Hasher for PassThrough {
    fn finish(&self) -> u64 {
        self.0
    }
    fn write(&mut self, bytes: &[u8]) {
        for b in bytes {
            self.0 = self.0.rotate_left(8) ^ u64::from(*b);
        }
    }
    fn write_u64(&mut self, n: u64) {
        self.0 = n;
    }
}

/// Why a row was refused, and the user it named (as given, made printable).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RowError {
    pub user_id: String,
    pub reason: String,
}

/// Checks rows; owns the duplicate index and, with `--generate`, the generator.
pub struct Checker {
    policy: PasswordPolicy,
    max_field_bytes: usize,
    /// A dry run: refuse the users a listing shows without a Zoom password.
    listed_login_types: bool,
    seen: HashMap<UserHash, u32, BuildHasherDefault<PassThrough>>,
    keys: RandomState,
    generator: Option<Generator>,
}

impl Checker {
    pub fn new(
        policy: PasswordPolicy,
        max_field_bytes: usize,
        generator: Option<Generator>,
    ) -> Self {
        Checker {
            policy,
            max_field_bytes,
            listed_login_types: false,
            seen: HashMap::default(),
            keys: RandomState::new(),
            generator,
        }
    }

    /// Sizes the duplicate index for `rows` users at once (when the count is known).
    pub fn expecting(mut self, rows: u64) -> Self {
        self.seen.reserve(rows.min(u32::MAX as u64) as usize);
        self
    }

    /// In a dry run (`on`), refuses the users a listing's `login_types` shows without a
    /// Zoom password (see the module's comment).
    pub fn refusing_listed_without_password(mut self, on: bool) -> Self {
        self.listed_login_types = on;
        self
    }

    /// The normalised user's keyed hash, computed without building a lowercase copy.
    fn user_hash(&self, user: &str) -> UserHash {
        let mut h = self.keys.build_hasher();
        for c in user.chars().flat_map(char::to_lowercase) {
            h.write_u32(c as u32);
        }
        UserHash(h.finish())
    }

    /// The longest field a row may have, in bytes.
    pub fn max_field_bytes(&self) -> usize {
        self.max_field_bytes
    }

    /// Checks one record; `info` says where it starts and whether a field was cut.
    ///
    /// The steps run in this order, and the first that refuses gives the reason: shape,
    /// size, encoding, presence, the user ID, (in a dry run) the listed login type, the
    /// password, duplicates. The password is
    /// judged before the duplicate index sees the user, so a row refused for its password
    /// does not claim the user: a corrected row for the same user further down is sent.
    pub fn check(
        &mut self,
        info: &RecordInfo,
        record: &csv::ByteRecord,
        columns: &Columns,
    ) -> Result<Job, RowError> {
        let line = info.line;
        let raw_user = record.get(columns.user).unwrap_or_default();
        let refuse = |why: Why| RowError {
            user_id: printable(cell::restore(String::from_utf8_lossy(raw_user).trim())),
            reason: format!("line {line}: {why}"),
        };
        if let Err(why) = shape(record, columns) {
            let mut refused = refuse(why);
            // With the password column before the user column, an unquoted comma in a
            // password shifts its second half into the user's place: show no user then.
            if columns.password.is_some_and(|p| p < columns.user) {
                refused.user_id.clear();
            }
            return Err(refused);
        }
        self.size(info, record).map_err(refuse)?;
        let (user, password) = encoding(raw_user, record, columns).map_err(refuse)?;
        presence(user).map_err(refuse)?;
        user_id(user).map_err(refuse)?;
        if self.listed_login_types {
            listed_login_type(record, columns).map_err(refuse)?;
        }
        if let Some(p) = password {
            self.password(p).map_err(refuse)?;
        }
        self.first_sighting(user, line).map_err(refuse)?;
        let password = self.password_to_send(user, password).map_err(refuse)?;
        Ok(Job {
            line,
            user_id: user.to_string(),
            password,
            login_types: listed_cell(record, columns).and_then(login::listed_types),
        })
    }

    /// Size: no field over `input.max_field_bytes`. The reader cut a field that was over
    /// its bound and measured it; a field it did not cut is measured here.
    fn size(&self, info: &RecordInfo, record: &csv::ByteRecord) -> Result<(), Why> {
        let oversized = info
            .oversized
            .filter(|(_, len)| *len > self.max_field_bytes as u64)
            .or_else(|| {
                record
                    .iter()
                    .enumerate()
                    .find(|(_, f)| f.len() > self.max_field_bytes)
                    .map(|(i, f)| (i, f.len() as u64))
            });
        match oversized {
            Some((i, len)) => Err(format!(
                "field {} is {len} bytes, more than the {}-byte limit (input.max_field_bytes)",
                i + 1,
                self.max_field_bytes
            )),
            None => Ok(()),
        }
    }

    /// The password as the file holds it, against the blanks, control characters and
    /// decoding marks no one could type, then against Zoom's rules.
    fn password(&self, p: &str) -> Result<(), Why> {
        if p.trim().is_empty() {
            return Err("missing password".into());
        }
        // A blank at either end is refused, neither trimmed nor sent. Zoom's rules
        // (API-NOTES) say nothing of blanks, so Zoom may refuse them or keep them;
        // and one at an end is most often a spreadsheet's or a paste's slip. Trimming
        // would set a password the file does not hold; sending would set one the user
        // is unlikely to type. Either way the user is locked out unseen, so the row
        // goes back to the operator. Blanks inside are sent as written: Zoom answers
        // for them, and the report shows its answer.
        if p.starts_with(char::is_whitespace) || p.ends_with(char::is_whitespace) {
            return Err(
                "the password begins or ends with a blank (space, tab or other \
                        whitespace); it was not sent, and is never trimmed: fix the cell so it \
                        holds exactly the password"
                    .into(),
            );
        }
        if p.chars().any(char::is_control) {
            return Err("the password contains a control character".into());
        }
        // U+FFFD is what a decoder (UTF-16, --encoding) puts where bytes made no
        // character: sending it would set a password nobody can type.
        if p.contains(char::REPLACEMENT_CHARACTER) {
            return Err(
                "the password holds U+FFFD, the mark of bytes that could not \
                        be decoded: check the file's encoding (--encoding)"
                    .into(),
            );
        }
        rules::check(p, &self.policy).map_err(|v| {
            format!(
                "the password breaks Zoom's password rules (code {}): {}",
                v.code, v.message
            )
        })
    }

    /// Duplicates: the first row of a user claims it; a later one names that row.
    fn first_sighting(&mut self, user: &str, line: u64) -> Result<(), Why> {
        let key = self.user_hash(user);
        if let Some(first) = self.seen.get(&key) {
            return Err(format!(
                "duplicate of line {first} (user IDs and emails compare case-insensitively)"
            ));
        }
        self.seen.insert(key, line.min(u32::MAX as u64) as u32);
        Ok(())
    }

    /// The password to send: the file's, or with `--generate` a new one.
    fn password_to_send(&mut self, user: &str, given: Option<&str>) -> Result<SecretString, Why> {
        match (given, &mut self.generator) {
            (Some(p), _) => Ok(SecretString::from(p.to_string())),
            (None, Some(g)) => g
                .password_for(user, &self.policy)
                .map_err(|e| e.to_string()),
            (None, None) => unreachable!("columns without a password require --generate"),
        }
    }
}

/// Why a step refused a row, without the line (which [`Checker::check`] puts in front).
type Why = String;

/// Shape: as many fields as the header.
fn shape(record: &csv::ByteRecord, columns: &Columns) -> Result<(), Why> {
    if record.len() == columns.width {
        return Ok(());
    }
    Err(format!(
        "the row has {} field{}, the header has {}",
        record.len(),
        if record.len() == 1 { "" } else { "s" },
        columns.width
    ))
}

/// Encoding: the user ID (trimmed) and the password (exactly as the file holds it: never
/// trimmed, see [`Checker::password`]) as UTF-8. A user ID this tool wrote neutralised
/// (a `users` listing: `'=x` for `=x`, see [`cell`]) is read back as it was: a user ID or
/// email never starts with a quote, so that is unambiguous. A password an operator wrote
/// is never touched.
fn encoding<'r>(
    raw_user: &'r [u8],
    record: &'r csv::ByteRecord,
    columns: &Columns,
) -> Result<(&'r str, Option<&'r str>), Why> {
    let user = std::str::from_utf8(raw_user)
        .map_err(|_| "the user ID is not valid UTF-8".to_string())?
        .trim();
    let user = cell::restore(user);
    let password = match columns.password {
        Some(col) => {
            let raw = record.get(col).unwrap_or_default();
            let p = std::str::from_utf8(raw)
                .map_err(|_| "the password is not valid UTF-8".to_string())?;
            Some(p)
        }
        None => None,
    };
    Ok((user, password))
}

/// Presence: a user ID at all.
fn presence(user: &str) -> Result<(), Why> {
    if user.is_empty() {
        return Err("missing user ID".into());
    }
    Ok(())
}

/// The user ID: printable, decoded, and naming a user rather than a path or the caller.
fn user_id(user: &str) -> Result<(), Why> {
    if user.chars().any(char::is_control) {
        return Err("the user ID contains a control character".into());
    }
    if user.contains(char::REPLACEMENT_CHARACTER) {
        return Err(
            "the user ID holds U+FFFD, the mark of bytes that could not be \
                    decoded: check the file's encoding (--encoding)"
                .into(),
        );
    }
    if user == "." || user == ".." {
        return Err(format!("{user:?} is not a user ID or email"));
    }
    if user.eq_ignore_ascii_case("me") {
        // To Zoom, `me` is the caller: the admin whose token runs this job.
        return Err(
            "\"me\" names the account running this job, not a user: give the user's ID or email"
                .into(),
        );
    }
    Ok(())
}

/// The `login_types` cell of a listing, when the input has the column.
fn listed_cell<'r>(record: &'r csv::ByteRecord, columns: &Columns) -> Option<&'r str> {
    columns
        .login_types
        .and_then(|c| record.get(c))
        .and_then(|c| std::str::from_utf8(c).ok())
}

/// The listed login type (a dry run): a user a listing shows without a work-email login
/// has no Zoom password to set.
fn listed_login_type(record: &csv::ByteRecord, columns: &Columns) -> Result<(), Why> {
    let cell = listed_cell(record, columns).unwrap_or_default();
    match login::listed_without_password(cell) {
        None => Ok(()),
        Some(types) => Err(format!(
            "the listing shows this user without a work-email login (login_types {types}): \
             Zoom keeps no password for them, so the real run would send this row and Zoom \
             would answer 400/1123 (rejected); take the row out, and end the user's sessions \
             and change their credential at the identity provider"
        )),
    }
}

#[cfg(test)]
mod unit {
    use super::*;

    fn cols() -> Columns {
        Columns {
            user: 0,
            password: Some(1),
            login_types: None,
            width: 2,
        }
    }

    fn check(c: &mut Checker, line: u64, fields: &[&[u8]]) -> Result<String, String> {
        let rec = csv::ByteRecord::from(fields.to_vec());
        let info = RecordInfo {
            line,
            oversized: None,
        };
        c.check(&info, &rec, &cols())
            .map(|j| j.user_id)
            .map_err(|e| e.reason)
    }

    #[test]
    fn reasons() {
        let mut c = Checker::new(PasswordPolicy::default(), 64, None);
        assert_eq!(
            check(&mut c, 2, &[b"a@x.com", b"Zoom1357Rx"]),
            Ok("a@x.com".into())
        );
        assert_eq!(
            check(&mut c, 3, &[b"A@X.com", b"Zoom1357Ry"]).unwrap_err(),
            "line 3: duplicate of line 2 (user IDs and emails compare case-insensitively)"
        );
        assert_eq!(
            check(&mut c, 4, &[b"", b"Zoom1357Rx"]).unwrap_err(),
            "line 4: missing user ID"
        );
        assert_eq!(
            check(&mut c, 5, &[b"b@x.com", b" "]).unwrap_err(),
            "line 5: missing password"
        );
        assert!(check(&mut c, 5, &[b"b@x.com", b"Zoom1357Rx "])
            .unwrap_err()
            .starts_with("line 5: the password begins or ends with a blank"));
        assert!(check(&mut c, 6, &[b"c@x.com", b"short1A"])
            .unwrap_err()
            .contains("code 1124"));
        assert!(check(&mut c, 7, &[b"d\0@x.com", b"Zoom1357Rx"])
            .unwrap_err()
            .contains("control"));
        assert!(check(&mut c, 8, &[b"e@x.com", b"Zoo\xffm1357"])
            .unwrap_err()
            .contains("UTF-8"));
        assert!(check(&mut c, 9, &[b"f@x.com"])
            .unwrap_err()
            .contains("1 field, the header has 2"));
        assert_eq!(
            check(&mut c, 10, &[b"g@x.com", &[b'A'; 100]]).unwrap_err(),
            "line 10: field 2 is 100 bytes, more than the 64-byte limit (input.max_field_bytes)"
        );
        // Zoom finds users by ID without regard to case, too.
        assert!(check(&mut c, 11, &[b"AbC", b"Zoom1357Rx"]).is_ok());
        assert!(check(&mut c, 12, &[b"abc", b"Zoom1357Rx"])
            .unwrap_err()
            .contains("duplicate of line 11"));
        assert!(check(&mut c, 13, &[b"ME", b"Zoom1357Rx"])
            .unwrap_err()
            .contains("names the account running this job"));
        assert_eq!(
            check(&mut c, 14, &[b"h@x.com", "Zoom1357\u{FFFD}x".as_bytes()]).unwrap_err(),
            "line 14: the password holds U+FFFD, the mark of bytes that could not be decoded: \
             check the file's encoding (--encoding)"
        );
    }

    /// A dry run refuses the users a listing shows without a Zoom password; a real run,
    /// and a file without the column, do not.
    #[test]
    fn a_dry_run_refuses_listed_users_without_a_work_email_login() {
        let cols = Columns {
            user: 0,
            password: None,
            login_types: Some(1),
            width: 2,
        };
        let generator = || Some(Generator::new(20));
        let info = |line| RecordInfo {
            line,
            oversized: None,
        };
        let rec = |u: &str, t: &str| csv::ByteRecord::from(vec![u, t]);
        let mut dry = Checker::new(PasswordPolicy::default(), 64, generator())
            .refusing_listed_without_password(true);
        let Err(e) = dry.check(&info(2), &rec("u1", "101"), &cols) else {
            panic!("an SSO user passed a dry run")
        };
        assert_eq!(e.user_id, "u1");
        assert!(
            e.reason.starts_with(
                "line 2: the listing shows this user without a work-email login \
                 (login_types 101 (SSO)): Zoom keeps no password for them"
            ),
            "{}",
            e.reason
        );
        assert!(dry.check(&info(3), &rec("u2", "100|101"), &cols).is_ok());
        assert!(dry.check(&info(4), &rec("u3", ""), &cols).is_ok());
        // Refused for its login type, the user is not claimed: a later row is judged.
        assert!(dry.check(&info(5), &rec("u1", "100"), &cols).is_ok());
        let mut real = Checker::new(PasswordPolicy::default(), 64, generator());
        assert!(real.check(&info(2), &rec("u1", "101"), &cols).is_ok());
        let no_column = Columns {
            login_types: None,
            ..cols
        };
        assert!(dry.check(&info(6), &rec("u4", "101"), &no_column).is_ok());
    }
}
