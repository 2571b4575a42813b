//! Zoom's login types (API-NOTES, "Listing users"): how a user signs in decides what
//! containment can do. Only a work-email user (100) has a Zoom password; an SSO user
//! (101) can be signed out by revoking the SSO token; the others sign in at their own
//! provider.

/// Zoom's login types by name, and in words (API-NOTES: 100 work e-mail, 101 SSO; the
/// others are the numbers of Zoom's API reference).
const LOGIN_TYPE_NAMES: [(&str, u32, &str); 6] = [
    ("work-email", WORK_EMAIL, "work email"),
    ("sso", 101, "SSO"),
    ("google", 1, "Google"),
    ("facebook", 0, "Facebook"),
    ("apple", 24, "Apple"),
    ("microsoft", 27, "Microsoft"),
];

/// The work-email login: the only one with a Zoom password.
pub const WORK_EMAIL: u32 = 100;

/// A login type given as a number or one of the names above.
pub fn parse_login_type(raw: &str) -> Result<u32, String> {
    let v = raw.trim().to_ascii_lowercase();
    if let Some((_, n, _)) = LOGIN_TYPE_NAMES.iter().find(|(name, _, _)| *name == v) {
        return Ok(*n);
    }
    v.parse::<u32>().map_err(|_| {
        format!("expected a Zoom login type number (100 work e-mail, 101 SSO, 1 Google, 24 Apple, 27 Microsoft...) or work-email, sso, google, facebook, apple, microsoft; got {raw:?}")
    })
}

/// A listing's `login_types` cell (numbers joined with `|`, as `zoom-rotate users` writes
/// it) that shows a user without a Zoom password: the types it lists, in words
/// (`101 (SSO)`). `None` when it lists the work-email login, is empty, or holds anything
/// but numbers: then nothing is known, and nothing is claimed.
pub fn listed_without_password(cell: &str) -> Option<String> {
    if cell.trim().is_empty() {
        return None;
    }
    let types: Vec<u32> = cell
        .split('|')
        .map(|t| t.trim().parse().ok())
        .collect::<Option<_>>()?;
    if types.contains(&WORK_EMAIL) {
        return None;
    }
    let words: Vec<String> = types
        .iter()
        .map(|t| match LOGIN_TYPE_NAMES.iter().find(|(_, n, _)| n == t) {
            Some((_, _, name)) => format!("{t} ({name})"),
            None => t.to_string(),
        })
        .collect();
    Some(words.join(", "))
}

#[cfg(test)]
mod unit {
    use super::*;

    #[test]
    fn login_type_names() {
        assert_eq!(parse_login_type("SSO"), Ok(101));
        assert_eq!(parse_login_type("work-email"), Ok(100));
        assert_eq!(parse_login_type(" 1 "), Ok(1));
        assert!(parse_login_type("okta")
            .unwrap_err()
            .contains("got \"okta\""));
    }

    #[test]
    fn listed_login_types_without_a_zoom_password() {
        assert_eq!(listed_without_password("101"), Some("101 (SSO)".into()));
        assert_eq!(
            listed_without_password("1|27|99"),
            Some("1 (Google), 27 (Microsoft), 99".into())
        );
        for known_or_unknown in ["100", "101|100", "", " ", "sso", "101|x"] {
            assert_eq!(
                listed_without_password(known_or_unknown),
                None,
                "{known_or_unknown:?}"
            );
        }
    }
}
