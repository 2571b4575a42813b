//! Zoom's login types (API-NOTES, "Listing users"): how a user signs in decides what
//! containment can do. Only a work-email user (100) has a Zoom password; an SSO user
//! (101) can be signed out by revoking the SSO token; the others sign in at their own
//! provider.

/// Zoom's login types by name (API-NOTES: 100 work e-mail, 101 SSO; the others are the
/// numbers of Zoom's API reference).
const LOGIN_TYPE_NAMES: [(&str, u32); 6] = [
    ("work-email", 100),
    ("sso", 101),
    ("google", 1),
    ("facebook", 0),
    ("apple", 24),
    ("microsoft", 27),
];

/// A login type given as a number or one of the names above.
pub fn parse_login_type(raw: &str) -> Result<u32, String> {
    let v = raw.trim().to_ascii_lowercase();
    if let Some((_, n)) = LOGIN_TYPE_NAMES.iter().find(|(name, _)| *name == v) {
        return Ok(*n);
    }
    v.parse::<u32>().map_err(|_| {
        format!("expected a Zoom login type number (100 work e-mail, 101 SSO, 1 Google, 24 Apple, 27 Microsoft...) or work-email, sso, google, facebook, apple, microsoft; got {raw:?}")
    })
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
}
