//! `--generate`: a fresh password per user from the operating system's CSPRNG.
//!
//! A password is drawn uniformly from letters, digits and a few symbols that survive
//! copy and paste (no quotes, commas, spaces or backslashes), then drawn again until it
//! satisfies the basic rules and the account's enhanced rules and differs from every
//! other password of the run. At 20 characters that is about 123 bits of entropy. The
//! draws are bounded ([`MAX_DRAWS`]): the run validates the policy first, so within Zoom's
//! ranges nearly every draw passes, but a policy no password meets must end in an error,
//! never in a loop that holds a core and ignores SIGTERM.
//!
//! On `--resume`, every user the `--generated-out` file already holds
//! (`ledger::passwords`) gets its saved password again ([`Generator::reusing`]): an
//! earlier attempt may have applied it, and only the same password is safe to send again
//! (API-NOTES, "what that means for retries").

use crate::vocab::user_key;
use crate::zoom::rules::{self, PasswordPolicy};
use rand::rngs::OsRng;
use rand::Rng;
use secrecy::{ExposeSecret, SecretString};
use std::collections::{HashMap, HashSet};
use std::hash::{BuildHasher, RandomState};

const ALPHABET: &[u8] = b"ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz23456789!#$%&*+-=?@^_";

/// Draws per password before giving up. Under the strictest valid policy (14 characters,
/// a special character, runs of 4, weak words) well over half the draws pass, so 1000
/// failures in a row only happen when the policy cannot be met at all.
pub const MAX_DRAWS: u32 = 1000;

/// No password could be drawn that meets the rules.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("no generated password met the account's password rules in {MAX_DRAWS} draws: the rules cannot be met ({policy})")]
pub struct GenerateError {
    policy: String,
}

/// Makes unique passwords that pass the account's rules.
pub struct Generator {
    length: usize,
    issued: HashSet<u64>,
    keys: RandomState,
    /// Passwords saved by an earlier run of this job, by [`user_key`].
    reuse: HashMap<String, SecretString>,
}

impl Generator {
    pub fn new(length: usize) -> Self {
        Generator {
            length,
            issued: HashSet::new(),
            keys: RandomState::new(),
            reuse: HashMap::new(),
        }
    }

    /// Gives the users of `saved` (from [`SavedPasswords::open_for_resume`]) their saved
    /// password again instead of a new one; new passwords will differ from all of them.
    pub fn reusing(mut self, saved: HashMap<String, SecretString>) -> Self {
        for p in saved.values() {
            self.issued.insert(self.keys.hash_one(p.expose_secret()));
        }
        self.reuse = saved;
        self
    }

    /// The password for `user`: the one saved for it by an earlier run, else a new one.
    pub fn password_for(
        &mut self,
        user: &str,
        policy: &PasswordPolicy,
    ) -> Result<SecretString, GenerateError> {
        match self.reuse.remove(&user_key(user)) {
            Some(p) => Ok(p),
            None => self.next(policy),
        }
    }

    /// The next password: draws until one passes the rules and is new, at most
    /// [`MAX_DRAWS`] times; with 8+ characters from this alphabet, nearly every draw
    /// does. The length grows to the account's minimum when that is longer (never past
    /// the 31 characters Zoom accepts).
    pub fn next(&mut self, policy: &PasswordPolicy) -> Result<SecretString, GenerateError> {
        let length = self
            .length
            .max(policy.minimum_password_length as usize)
            .min(rules::MAX_LEN - 1);
        for _ in 0..MAX_DRAWS {
            let candidate: String = (0..length)
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
                return Ok(candidate);
            }
        }
        Err(GenerateError {
            policy: format!("{policy:?}"),
        })
    }
}

#[cfg(test)]
mod unit {
    use super::*;
    use crate::ledger::passwords::SavedPasswords;
    use std::io::Write;

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
            let p = g.next(&policy).unwrap();
            assert_eq!(p.expose_secret().len(), 14);
            assert!(rules::check(p.expose_secret(), &policy).is_ok());
            assert!(seen.insert(p.expose_secret().to_string()));
        }
    }

    #[test]
    fn an_account_minimum_longer_than_the_setting_wins() {
        let policy = PasswordPolicy {
            minimum_password_length: 14,
            ..PasswordPolicy::default()
        };
        let p = Generator::new(8).next(&policy).unwrap();
        assert_eq!(p.expose_secret().len(), 14);
    }

    #[tokio::test]
    async fn resume_reuses_saved_passwords_and_writes_no_duplicate() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("gen.csv");
        let policy = PasswordPolicy::default();
        let mut g = Generator::new(20);
        let a = g.password_for("A@x.com", &policy).unwrap();
        {
            let saved = SavedPasswords::create(&path).unwrap();
            saved.save("A@x.com", &a).await.unwrap();
        }
        // A torn last line: power lost mid-write.
        let mut f = std::fs::OpenOptions::new()
            .append(true)
            .open(&path)
            .unwrap();
        f.write_all(b"b@x.com,Torn").unwrap();
        drop(f);

        let (saved, map) = SavedPasswords::open_for_resume(&path).unwrap();
        assert_eq!(map.len(), 1);
        let mut g = Generator::new(20).reusing(map);
        let again = g.password_for("a@X.COM", &policy).unwrap();
        assert_eq!(again.expose_secret(), a.expose_secret());
        saved.save("a@x.com", &again).await.unwrap();
        let b = g.password_for("b@x.com", &policy).unwrap();
        assert_ne!(b.expose_secret(), a.expose_secret());
        saved.save("b@x.com", &b).await.unwrap();
        let text = std::fs::read_to_string(&path).unwrap();
        // A password that starts like a formula (`=`, `+`, `-`, `@`) is written
        // neutralised, as every cell the tool writes (vocab::cell).
        let cell =
            |p: &SecretString| crate::vocab::cell::neutralise(p.expose_secret()).into_owned();
        assert_eq!(
            text,
            format!(
                "user_id,password\nA@x.com,{}\nb@x.com,{}\n",
                cell(&a),
                cell(&b)
            )
        );
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&path).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600);

        std::fs::write(&path, "email,pw\n").unwrap();
        assert!(SavedPasswords::open_for_resume(&path)
            .err()
            .unwrap()
            .to_string()
            .contains("not a generated-passwords file"));
    }
}
