//! `zoom-rotate status REPORT --handout FILE`: the new passwords to hand out, for the
//! users whose password was set, and for no one else.
//!
//! The `--generated-out` file holds a password for every user a run *meant* to send one
//! to, written before the request left: a run stopped by Ctrl-C leaves passwords there
//! for users still `not_attempted`, whose old password still works. So the hand-out is
//! made from the report: a user's latest state must be `changed` (after any number of
//! resumes) for its password to be handed out. The passwords come from `--passwords
//! FILE`, else the `--generated-out` file the report's sidecar (`REPORT.meta`) records.
//! A report the tool cannot read whole is refused: who is changed is then unknown.
//!
//! The file is CSV `user_id,email,password`, created mode 0600 and never over an
//! existing file, with cells a spreadsheet would run neutralised. `user_id` is the
//! report's (what the input gave, which Zoom was sent: an ID or an email); `email` is the
//! user ID when it is an email, else the `email` cell of the input row that named the
//! user (a `users` listing has one), else empty: the input the report records is read
//! for it, when it still exists. No password is printed or logged.
//!
//! Encrypted both ways when asked ([`Keys`]): a `--generated-out` directory of age files
//! is read with `--identity`, and with `--encrypt-to` / `--recipients-file` the hand-out
//! is written as one age file (the same CSV inside), so no password is on disk in
//! plaintext at any step.

use crate::ledger::files;
use crate::ledger::passwords::sealed::Recipients;
use crate::ledger::passwords::SavedPasswords;
use crate::ledger::resume::origin::{self, KeptPasswords};
use crate::ledger::state::Status;
use crate::vocab::cell::{neutralise, restore};
use crate::vocab::{user_key, RefusalCode, Refused};
use secrecy::zeroize::Zeroizing;
use secrecy::ExposeSecret;
use std::collections::{HashMap, HashSet};
use std::io::{Read, Write};
use std::path::{Path, PathBuf};

/// The hand-out's header.
pub const HEADER: [&str; 3] = ["user_id", "email", "password"];

/// What a hand-out wrote, for the operator (no passwords).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HandedOut {
    pub file: PathBuf,
    /// Where the passwords came from.
    pub passwords: PathBuf,
    /// Users handed a password.
    pub written: usize,
    /// Of those, users whose email is not known (the email cell is empty).
    pub without_email: usize,
    /// Users changed whose password the file does not hold (none handed out).
    pub without_password: Vec<String>,
    /// Users not changed: nothing handed out for them.
    pub not_changed: usize,
}

impl HandedOut {
    /// One line for stderr.
    pub fn summary(&self) -> String {
        let mut s = format!(
            "hand-out: {} {} written to {} (mode 0600), from {}; {} {} not changed got none",
            self.written,
            if self.written == 1 {
                "password"
            } else {
                "passwords"
            },
            self.file.display(),
            self.passwords.display(),
            self.not_changed,
            if self.not_changed == 1 {
                "user"
            } else {
                "users"
            },
        );
        if self.without_email > 0 {
            s.push_str(&format!(
                "; {} without a known email (the report names them by ID, and the input it records has no email for them)",
                self.without_email
            ));
        }
        if !self.without_password.is_empty() {
            let shown: Vec<String> = self
                .without_password
                .iter()
                .take(20)
                .map(|u| crate::vocab::printable(u))
                .collect();
            s.push_str(&format!(
                "; {} changed {} no password in that file and {} not in the hand-out: {}",
                self.without_password.len(),
                if self.without_password.len() == 1 {
                    "user has"
                } else {
                    "users have"
                },
                if self.without_password.len() == 1 {
                    "is"
                } else {
                    "are"
                },
                shown.join(", ")
            ));
        }
        s
    }
}

/// Writes the hand-out of `status` (read from `report`) to `out`; `passwords`: the file
/// to take them from, else the one the report's sidecar records.
pub fn write(
    status: &Status,
    report: &Path,
    out: &Path,
    passwords: Option<&Path>,
) -> anyhow::Result<HandedOut> {
    write_with(status, report, out, passwords, Keys::default())
}

/// The age keys of an encrypted hand-out: the identity that reads an encrypted
/// `--generated-out` directory, the recipients the hand-out is encrypted to.
#[derive(Debug, Default, Clone, Copy)]
pub struct Keys<'a> {
    pub identity: Option<&'a Path>,
    pub to: Option<&'a Recipients>,
}

/// The passwords a `--generated-out` file or (encrypted) directory holds.
fn read_saved(
    source: &Path,
    keys: Keys<'_>,
) -> anyhow::Result<HashMap<String, secrecy::SecretString>> {
    if !source.is_dir() {
        return SavedPasswords::read(source);
    }
    match keys.identity {
        Some(identity) => crate::ledger::passwords::sealed::read(source, identity),
        None => Err(Refused::new(
            RefusalCode::Input,
            format!(
                "no hand-out was written: the passwords in {} are encrypted; pass --identity KEY_FILE (the age identity of one of its recipients)",
                source.display()
            ),
        )
        .into()),
    }
}

/// [`write`], reading and writing encrypted as `keys` say.
pub fn write_with(
    status: &Status,
    report: &Path,
    out: &Path,
    passwords: Option<&Path>,
    keys: Keys<'_>,
) -> anyhow::Result<HandedOut> {
    if let Some(refused) = status.unreadable_refusal(report, false) {
        return Err(Refused::new(
            RefusalCode::ReportUnreadable,
            format!("no hand-out was written: {refused}"),
        )
        .into());
    }
    let source = match passwords {
        Some(p) => p.to_path_buf(),
        None => recorded_passwords(report)?,
    };
    let saved = read_saved(&source, keys)?;
    let changed: Vec<&str> = status
        .users
        .iter()
        .filter(|u| u.row.outcome == crate::vocab::Outcome::Changed)
        .map(|u| u.row.user_id.as_str())
        .collect();
    let by_id: Vec<&str> = changed
        .iter()
        .copied()
        .filter(|u| !u.contains('@'))
        .collect();
    let emails = if by_id.is_empty() {
        HashMap::new()
    } else {
        input_emails(report, &by_id)
    };
    let mut handed = HandedOut {
        file: out.to_path_buf(),
        passwords: source,
        written: 0,
        without_email: 0,
        without_password: Vec::new(),
        not_changed: status.users.len() - changed.len(),
    };
    let mut text = Zeroizing::new(Vec::new());
    {
        let mut w = csv::Writer::from_writer(&mut *text);
        w.write_record(HEADER)?;
        for user in changed {
            let Some(password) = saved.get(&user_key(user)) else {
                handed.without_password.push(user.to_string());
                continue;
            };
            let email = match user.contains('@') {
                true => user,
                false => emails.get(&user_key(user)).map_or("", String::as_str),
            };
            handed.without_email += usize::from(email.is_empty());
            let password = Zeroizing::new(neutralise(password.expose_secret()).into_owned());
            w.write_record([&neutralise(user), &neutralise(email), password.as_str()])?;
            handed.written += 1;
        }
        w.flush()?;
    }
    match keys.to {
        Some(to) => create(out, &to.seal(&text)?)?,
        None => create(out, &text)?,
    }
    Ok(handed)
}

/// The `--generated-out` file the report's run recorded, or why there is none.
fn recorded_passwords(report: &Path) -> anyhow::Result<PathBuf> {
    let refuse = |why: &str| {
        anyhow::Error::from(Refused::new(
            RefusalCode::Input,
            format!("no hand-out was written: {why}"),
        ))
    };
    match origin::kept_passwords(report) {
        KeptPasswords::File(p) => Ok(p),
        KeptPasswords::Discarded => Err(refuse(
            "the run kept no passwords (--discard-passwords), so there is none to hand out; users recover through \"forgot password\"",
        )),
        KeptPasswords::NotRecorded => Err(refuse(&format!(
            "{} records no --generated-out file (the passwords came from the input, or an older version wrote the report): name the file with --passwords FILE",
            crate::ledger::side::meta(report).display()
        ))),
    }
}

/// Creates the hand-out: 0600, never over an existing file, synced with its directory.
fn create(out: &Path, text: &[u8]) -> anyhow::Result<()> {
    let mut file = files::create_private(out).map_err(|e| match e.kind() {
        std::io::ErrorKind::AlreadyExists => anyhow::anyhow!(
            "no hand-out was written: {} already exists and is never overwritten; choose another path",
            out.display()
        ),
        _ => anyhow::anyhow!("no hand-out was written: {e}"),
    })?;
    file.write_all(text)?;
    // Not part of a run's durable order: no probe watches it.
    let disk = files::Disk::default();
    disk.sync(&file, out)?;
    disk.sync_dir_of(out)?;
    Ok(())
}

/// The emails of `users` (named by ID) from the input the report records: the `email`
/// cell of the row whose user column (or any ID column) names the user. Empty when the
/// input is gone, standard input, or has no email column. Only ID and email columns are
/// read: never a password.
fn input_emails(report: &Path, users: &[&str]) -> HashMap<String, String> {
    let Some(input) = origin::recorded_input(report) else {
        return HashMap::new();
    };
    let wanted: HashSet<String> = users.iter().map(|u| user_key(u)).collect();
    let user_column = origin::recorded_value(report, "--user-column");
    read_emails(&input, user_column.as_deref(), &wanted).unwrap_or_default()
}

fn read_emails(
    input: &Path,
    user_column: Option<&str>,
    wanted: &HashSet<String>,
) -> Option<HashMap<String, String>> {
    let file = std::fs::File::open(input).ok()?;
    if !file.metadata().ok()?.is_file() {
        return None;
    }
    let raw: Box<dyn Read + Send> = Box::new(std::io::BufReader::new(file));
    let decoded = crate::pipeline::input::decode(raw, &Default::default()).ok()?;
    let mut reader = csv::ReaderBuilder::new()
        .delimiter(decoded.delimiter)
        .flexible(true)
        .from_reader(decoded.reader);
    let names: Vec<String> = reader
        .headers()
        .ok()?
        .iter()
        .map(|n| n.trim().trim_start_matches('\u{FEFF}').to_ascii_lowercase())
        .collect();
    let email = names.iter().position(|n| n == "email")?;
    let ids: Vec<usize> = (0..names.len())
        .filter(|i| {
            let n = &names[*i];
            crate::pipeline::input::USER_ALIASES.contains(&n.as_str())
                || user_column.is_some_and(|c| c.eq_ignore_ascii_case(n))
        })
        .collect();
    let mut found = HashMap::new();
    for record in reader.records().map_while(Result::ok) {
        let Some(address) = record.get(email).map(|e| restore(e.trim())) else {
            continue;
        };
        for id in ids.iter().filter_map(|i| record.get(*i)) {
            let key = user_key(restore(id.trim()));
            if wanted.contains(&key) && !address.is_empty() {
                found.insert(key, address.to_string());
            }
        }
    }
    Some(found)
}
