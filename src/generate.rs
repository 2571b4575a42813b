//! `--generate`: a fresh password per user from the operating system's CSPRNG, and the
//! file the passwords are saved to before they are sent.
//!
//! A password is drawn uniformly from letters, digits and a few symbols that survive
//! copy and paste (no quotes, commas, spaces or backslashes), then drawn again until it
//! satisfies the basic rules and the account's enhanced rules and differs from every
//! other password of the run. At 20 characters that is about 123 bits of entropy.
//!
//! [`SavedPasswords`] writes `user_id,password` lines to a new 0600 file, flushed and
//! synced before the request that uses the password leaves, so no change can ever be
//! applied whose password was not saved first.

use crate::files;
use crate::rules::{self, PasswordPolicy};
use rand::rngs::OsRng;
use rand::Rng;
use secrecy::{ExposeSecret, SecretString};
use std::collections::HashSet;
use std::fs::File;
use std::hash::{BuildHasher, RandomState};
use std::io::Write;
use std::path::Path;
use std::sync::Mutex;

const ALPHABET: &[u8] = b"ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz23456789!#$%&*+-=?@^_";

/// Makes unique passwords that pass the account's rules.
pub struct Generator {
    length: usize,
    issued: HashSet<u64>,
    keys: RandomState,
}

impl Generator {
    pub fn new(length: usize) -> Self {
        Generator {
            length,
            issued: HashSet::new(),
            keys: RandomState::new(),
        }
    }

    /// The next password. Loops until the rules pass; with 8+ characters from this
    /// alphabet, nearly every draw does.
    pub fn next(&mut self, policy: &PasswordPolicy) -> SecretString {
        loop {
            let candidate: String = (0..self.length)
                .map(|_| ALPHABET[OsRng.gen_range(0..ALPHABET.len())] as char)
                .collect();
            let candidate = SecretString::from(candidate);
            if rules::check(candidate.expose_secret(), policy).is_err() {
                continue;
            }
            if self
                .issued
                .insert(self.keys.hash_one(candidate.expose_secret()))
            {
                return candidate;
            }
        }
    }
}

/// The `--generated-out` file.
pub struct SavedPasswords {
    file: Mutex<File>,
}

impl SavedPasswords {
    /// Creates `path` (never overwriting), mode 0600, with its header line.
    pub fn create(path: &Path) -> anyhow::Result<Self> {
        let mut file = files::create_private(path)?;
        file.write_all(b"user_id,password\n")?;
        file.sync_data()?;
        Ok(SavedPasswords {
            file: Mutex::new(file),
        })
    }

    /// Appends one line and syncs it to disk. The only place a generated password is
    /// written anywhere.
    pub fn save(&self, user_id: &str, password: &SecretString) -> std::io::Result<()> {
        let mut line = Vec::with_capacity(user_id.len() + 40);
        {
            let mut w = csv::WriterBuilder::new().from_writer(&mut line);
            w.write_record([user_id, password.expose_secret()])
                .map_err(std::io::Error::other)?;
            w.flush()?;
        }
        let mut file = self.file.lock().unwrap_or_else(|e| e.into_inner());
        let result = file.write_all(&line).and_then(|_| file.sync_data());
        // The buffer held the password: wipe it before it is freed.
        secrecy::zeroize::Zeroize::zeroize(&mut line);
        result
    }
}

#[cfg(test)]
mod unit {
    use super::*;

    #[test]
    fn passwords_pass_the_rules_and_are_unique() {
        let policy = PasswordPolicy {
            minimum_password_length: 14,
            have_special_character: true,
            consecutive_characters_length: 4,
            weak_enhance_detection: true,
        };
        let mut g = Generator::new(14);
        let mut seen = HashSet::new();
        for _ in 0..2000 {
            let p = g.next(&policy);
            assert_eq!(p.expose_secret().len(), 14);
            assert!(rules::check(p.expose_secret(), &policy).is_ok());
            assert!(seen.insert(p.expose_secret().to_string()));
        }
    }
}
