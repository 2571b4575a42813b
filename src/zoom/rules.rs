//! Zoom's password rules, shared by the row checks (so a row Zoom would refuse costs no
//! request) and by the simulator (so it refuses exactly what Zoom refuses).
//!
//! The basic rules come from Zoom's support page ("Password Help and Requirements"): 8 to
//! 32 characters, a letter, a number, upper and lower case, not one repeated character, no
//! run like `123456` or `abcdef`. The enhanced rules are the account's
//! `security.password_requirement` (API-NOTES). Each violation carries the Zoom error code
//! and message Zoom answers for it, checked in the order the spec lists the codes.
//!
//! A policy is data from outside (the account's settings, or the simulator's config), so
//! [`PasswordPolicy::validate`] checks it against Zoom's documented ranges before anything
//! trusts it: one check for both, so the run and the simulator can never disagree on what
//! a usable policy is. Within those ranges every policy can be met (the generator relies
//! on it); outside them some cannot (a run of 1 forbids any two characters in a row).

use serde::{Deserialize, Serialize};

/// Shortest password Zoom's basic rules accept.
pub const MIN_LEN: usize = 8;
/// Longest password the basic rules accept (support page: 8–32; the spec says "fewer than
/// 32", so generated passwords stay at 31 or below).
pub const MAX_LEN: usize = 32;
/// A run of this many consecutive characters (`123456`, `abcdef`) breaks the basic rules.
pub const BASIC_RUN: usize = 6;

/// The account's enhanced rules, as `GET /accounts/me/settings?option=security` answers
/// them under `security.password_requirement`. Zero / false means "off".
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct PasswordPolicy {
    /// 0 = off, else 8–14.
    pub minimum_password_length: u32,
    pub have_special_character: bool,
    /// 0 = off, else 4–8: at most n−1 consecutive characters.
    pub consecutive_characters_length: u32,
    pub weak_enhance_detection: bool,
}

/// Zoom's documented range for `minimum_password_length` when it is on (0 = off).
pub const POLICY_MIN_LENGTH: std::ops::RangeInclusive<u32> = 8..=14;
/// Zoom's documented range for `consecutive_characters_length` when it is on (0 = off).
pub const POLICY_RUN_LENGTH: std::ops::RangeInclusive<u32> = 4..=8;

/// A policy field outside Zoom's documented range: which field, its value, what is accepted.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{field} = {value}: expected 0 (off) or {} to {}", .accepted.start(), .accepted.end())]
pub struct PolicyError {
    /// The field's name under `password_requirement`.
    pub field: &'static str,
    pub value: u32,
    pub accepted: std::ops::RangeInclusive<u32>,
}

/// The account's fetched policy is unusable: the run stops here (exit 2), before any
/// password is sent, rather than guess at rules it cannot meet.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "the account's password rules (GET /accounts/me/settings?option=security) cannot be used: \
     security.password_requirement.{0}; no password was sent (fix the account's security \
     settings, or pass --no-fetch-policy to check only Zoom's basic rules)"
)]
pub struct AccountPolicyError(pub PolicyError);

impl PasswordPolicy {
    /// [`PasswordPolicy::validate`] for the policy the account's settings returned, with
    /// an error that says where it came from and what the operator can do.
    pub fn validate_as_account(&self) -> Result<(), AccountPolicyError> {
        self.validate().map_err(AccountPolicyError)
    }

    /// Checks the policy against Zoom's documented ranges (API-NOTES): a minimum length of
    /// 0 or 8–14, a consecutive-characters length of 0 or 4–8. Values outside them are not
    /// clamped: a policy this program does not understand is not one to guess at.
    pub fn validate(&self) -> Result<(), PolicyError> {
        let fields = [
            (
                "minimum_password_length",
                self.minimum_password_length,
                POLICY_MIN_LENGTH,
            ),
            (
                "consecutive_characters_length",
                self.consecutive_characters_length,
                POLICY_RUN_LENGTH,
            ),
        ];
        for (field, value, accepted) in fields {
            if value != 0 && !accepted.contains(&value) {
                return Err(PolicyError {
                    field,
                    value,
                    accepted,
                });
            }
        }
        Ok(())
    }
}

/// Why a password is refused: Zoom's code and its message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Violation {
    pub code: u32,
    pub message: String,
}

impl Violation {
    fn new(code: u32, message: impl Into<String>) -> Self {
        Violation {
            code,
            message: message.into(),
        }
    }
}

/// Words that make a password "too easy to guess" (1136) when the account enables
/// `weak_enhance_detection`. Zoom's list is not published; these are the perennial
/// leaders of leaked-password lists, matched case-insensitively anywhere in the password.
const WEAK_WORDS: &[&str] = &[
    "password", "passw0rd", "qwerty", "letmein", "welcome", "iloveyou", "admin", "zoom", "monkey",
    "dragon", "football", "baseball", "sunshine", "princess", "abc123", "111111",
];

/// The special characters that satisfy `have_special_character`: any printable ASCII that
/// is neither a letter nor a digit, and any non-ASCII symbol.
pub fn is_special(c: char) -> bool {
    !c.is_alphanumeric() && !c.is_whitespace() && !c.is_control()
}

/// Checks `password` against the basic rules and then `policy`, in Zoom's order.
pub fn check(password: &str, policy: &PasswordPolicy) -> Result<(), Violation> {
    let len = password.chars().count();
    let min = MIN_LEN.max(policy.minimum_password_length as usize);
    if len < min {
        return Err(Violation::new(
            1124,
            format!("Have at least {min} characters"),
        ));
    }
    if len > MAX_LEN {
        // Zoom answers its generic validation error here, not a numbered rule.
        return Err(Violation::new(
            300,
            format!("Password must be at most {MAX_LEN} characters"),
        ));
    }
    if !password.chars().any(char::is_alphabetic) {
        return Err(Violation::new(1125, "Have at least 1 letter (a, b, c…)"));
    }
    if !password.chars().any(|c| c.is_ascii_digit()) {
        return Err(Violation::new(1126, "Have at least 1 number (1, 2, 3…)"));
    }
    if policy.have_special_character && !password.chars().any(is_special) {
        return Err(Violation::new(
            1127,
            "Have at least 1 special character (!, @, #…)",
        ));
    }
    if !password.chars().any(char::is_uppercase) || !password.chars().any(char::is_lowercase) {
        return Err(Violation::new(
            1128,
            "Include both Upper case and Lower case characters",
        ));
    }
    let mut chars = password.chars();
    let first = chars.next();
    if chars.all(|c| Some(c) == first) {
        return Err(Violation::new(
            1130,
            "Password can't use the same character.",
        ));
    }
    let run = match policy.consecutive_characters_length {
        0 => BASIC_RUN,
        n => (n as usize).min(BASIC_RUN),
    };
    if longest_run(password) >= run {
        return Err(Violation::new(
            1131,
            "Password can't use continuation character.Such as 'abcdef','123456'.",
        ));
    }
    if policy.weak_enhance_detection && is_weak(password) {
        return Err(Violation::new(
            1136,
            "Your password is too easy to guess. Try another one.",
        ));
    }
    Ok(())
}

/// Length of the longest run of characters that each follow the previous one by +1 or −1
/// in the same direction (`abcd`, `4321`), compared case-insensitively.
pub fn longest_run(password: &str) -> usize {
    let mut best = 1;
    let mut current = 1;
    let mut direction = 0i64;
    let mut prev: Option<i64> = None;
    for c in password.chars() {
        let v = c.to_ascii_lowercase() as i64;
        if let Some(p) = prev {
            let step = v - p;
            if (step == 1 || step == -1) && (current == 1 || step == direction) {
                current += 1;
                direction = step;
            } else if step == 1 || step == -1 {
                current = 2;
                direction = step;
            } else {
                current = 1;
                direction = 0;
            }
            best = best.max(current);
        }
        prev = Some(v);
    }
    if password.is_empty() {
        0
    } else {
        best
    }
}

fn is_weak(password: &str) -> bool {
    let lower = password.to_lowercase();
    WEAK_WORDS.iter().any(|w| lower.contains(w))
}

#[cfg(test)]
mod unit {
    use super::*;

    fn basic(p: &str) -> Option<u32> {
        check(p, &PasswordPolicy::default()).err().map(|v| v.code)
    }

    #[test]
    fn basic_rules_in_zooms_order() {
        assert_eq!(basic("Ab1"), Some(1124));
        assert_eq!(basic("Abcdefghijklmnopqrstuvwxyz1234567"), Some(300));
        assert_eq!(basic("12345678"), Some(1125));
        assert_eq!(basic("Abcdxyzw"), Some(1126));
        assert_eq!(basic("abcd1xyz"), Some(1128));
        assert_eq!(basic("Zoom1357Rx"), None);
        assert_eq!(basic("Xx123456ab"), Some(1131));
        assert_eq!(basic("Xx12345ab9"), None);
        assert_eq!(basic("Qq98765432"), Some(1131));
        assert_eq!(basic("Émile2024x"), None);
    }

    #[test]
    fn enhanced_rules() {
        let p = PasswordPolicy {
            minimum_password_length: 12,
            have_special_character: true,
            consecutive_characters_length: 4,
            weak_enhance_detection: true,
        };
        assert_eq!(check("Tr0ub4dor&x", &p).unwrap_err().code, 1124);
        assert_eq!(check("Tr0ub4dorXyzq", &p).unwrap_err().code, 1127);
        assert_eq!(check("Tr0ub4dor&wxyz", &p).unwrap_err().code, 1131);
        assert_eq!(check("MyZoomPass9!x", &p).unwrap_err().code, 1136);
        assert!(check("Tr0ub4dor&xq2z", &p).is_ok());
    }

    #[test]
    fn policies_outside_zooms_ranges_are_refused_by_name() {
        let p = |min, run| PasswordPolicy {
            minimum_password_length: min,
            consecutive_characters_length: run,
            ..PasswordPolicy::default()
        };
        for ok in [(0, 0), (8, 4), (14, 8), (0, 8), (12, 0)] {
            assert_eq!(p(ok.0, ok.1).validate(), Ok(()), "{ok:?}");
        }
        let message = |min, run| p(min, run).validate().unwrap_err().to_string();
        assert_eq!(
            message(0, 1),
            "consecutive_characters_length = 1: expected 0 (off) or 4 to 8"
        );
        assert_eq!(
            message(40, 0),
            "minimum_password_length = 40: expected 0 (off) or 8 to 14"
        );
        assert_eq!(
            message(7, 9),
            "minimum_password_length = 7: expected 0 (off) or 8 to 14"
        );
        assert_eq!(
            message(8, 9),
            "consecutive_characters_length = 9: expected 0 (off) or 4 to 8"
        );
    }

    #[test]
    fn runs() {
        assert_eq!(longest_run("a"), 1);
        assert_eq!(longest_run("abcab"), 3);
        assert_eq!(longest_run("ABCdef"), 6);
        assert_eq!(longest_run("1212"), 2);
    }
}
