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

/// The SSO login: the one whose token `DELETE /users/{id}/token` revokes.
pub const SSO: u32 = 101;

/// A listing's `login_types` cell (numbers joined with `|`) as numbers; `None` when it is
/// empty or holds anything but numbers (then nothing is known).
pub fn listed_types(cell: &str) -> Option<Vec<u32>> {
    if cell.trim().is_empty() {
        return None;
    }
    cell.split('|').map(|t| t.trim().parse().ok()).collect()
}

/// How a user who has no Zoom password (Zoom answered 400/1123) signs in, as far as the
/// listing tells.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Signs {
    /// With SSO (101): revoking the SSO token signs them out.
    Sso,
    /// Only at another provider (Google, Apple, Microsoft...): Zoom keeps neither a
    /// password nor an SSO token for them. The types, in words.
    Elsewhere(String),
    /// The input has no listing's `login_types` for the user.
    Unknown,
}

impl Signs {
    /// From the listed types (`None`: not listed).
    pub fn of(types: Option<&[u32]>) -> Signs {
        match types {
            None => Signs::Unknown,
            Some(t) if t.contains(&SSO) => Signs::Sso,
            Some(t) => Signs::Elsewhere(in_words(t)),
        }
    }
}

/// `1 (Google), 27 (Microsoft), 99`: login types in words.
pub fn in_words(types: &[u32]) -> String {
    let words: Vec<String> = types
        .iter()
        .map(|t| match LOGIN_TYPE_NAMES.iter().find(|(_, n, _)| n == t) {
            Some((_, _, name)) => format!("{t} ({name})"),
            None => t.to_string(),
        })
        .collect();
    words.join(", ")
}

/// A listing's `login_types` cell (numbers joined with `|`, as `zoom-rotate users` writes
/// it) that shows a user without a Zoom password: the types it lists, in words
/// (`101 (SSO)`). `None` when it lists the work-email login, is empty, or holds anything
/// but numbers: then nothing is known, and nothing is claimed.
pub fn listed_without_password(cell: &str) -> Option<String> {
    let types = listed_types(cell)?;
    if types.contains(&WORK_EMAIL) {
        return None;
    }
    Some(in_words(&types))
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
    fn how_a_user_without_a_password_signs_in() {
        assert_eq!(Signs::of(Some(&[101])), Signs::Sso);
        assert_eq!(Signs::of(Some(&[1, 101])), Signs::Sso);
        assert_eq!(Signs::of(Some(&[1])), Signs::Elsewhere("1 (Google)".into()));
        assert_eq!(Signs::of(None), Signs::Unknown);
        assert_eq!(listed_types("101|1"), Some(vec![101, 1]));
        assert_eq!(listed_types("sso"), None);
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
