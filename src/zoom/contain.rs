//! Containment of the users a password cannot reach: which answers mean "this user has
//! no Zoom password" (400/1123), and how an SSO token revoke's answer reads, so the
//! workers' `--contain-sso` step only has to send [`crate::zoom::client::ZoomClient::revoke_sso_token`]
//! through a Light-rate limiter ([`crate::zoom::plan::light_rate`]) and act on a [`Revoke`].
//!
//! A revoke changes nothing a second revoke would undo: a 204 after an unanswered
//! attempt is as good as a first 204, so every retry is safe (unlike a password change,
//! where only the same password may be sent again).

use std::time::Duration;

use crate::zoom::client::{Answer, Sent};
use crate::zoom::login::{in_words, Signs, SSO};
use crate::zoom::outcome::RateKind;

/// Zoom's code for a password change of a user without a Zoom password (SSO, Google,
/// Apple, ...): "Can only update password of Zoom work email account".
pub const NO_ZOOM_PASSWORD: u32 = 1123;

/// The message of a row whose user has no Zoom password, without `--contain-sso`.
pub const NO_PASSWORD_HINT: &str = "this user signs in without a Zoom password (SSO or another identity provider), so no password can be set; rerun with --contain-sso to revoke the user's SSO token (signing them out), and rotate the credential at the identity provider";

/// The message of a 400/1123 row without `--contain-sso`: Zoom's words (`zoom`), how
/// the user signs in (from the listing) and what the flag would do.
pub fn without_flag(zoom: &str, signs: &Signs) -> String {
    match signs {
        Signs::Elsewhere(types) => elsewhere(zoom, types),
        Signs::Sso => format!("{zoom}: this user signs in with {} and has no Zoom password, so none can be set; --contain-sso signs them out (revokes their SSO token): rerun with it", in_words(&[SSO])),
        Signs::Unknown => format!("{zoom}: {NO_PASSWORD_HINT} (the input has no login_types column to tell SSO from Google, Apple or Microsoft; --contain-sso signs an SSO user out)"),
    }
}

/// The message of a user who signs in only at another provider: no revoke applies
/// (API-NOTES documents the revoke for SSO tokens only, so a 204 for such a user would
/// prove nothing), and the sessions must be ended where they were opened.
pub fn elsewhere(zoom: &str, types: &str) -> String {
    format!("{zoom}: this user signs in with {types}, and Zoom keeps neither a password nor an SSO token for them, so nothing here can sign them out; end their sessions and change their credential at that provider (its admin console)")
}

/// The message of an `sso_revoked` row.
pub fn revoked(signs: &Signs) -> String {
    match signs {
        Signs::Unknown => "signed out: no Zoom password (400/1123), SSO token revoked (DELETE /users/{userId}/token answered 204); the input has no login_types column: if this user signs in at Google, Apple or Microsoft rather than SSO, end their sessions there too".into(),
        _ => "signed out: SSO login, no Zoom password (400/1123); SSO token revoked (DELETE /users/{userId}/token answered 204)".into(),
    }
}

/// Whether a password change's answer says the user has no Zoom password.
pub fn has_no_zoom_password(status: u16, zoom_code: Option<u32>) -> bool {
    status == 400 && zoom_code == Some(NO_ZOOM_PASSWORD)
}

/// How one `DELETE /users/{id}/token` went.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Revoke {
    /// 204: the SSO token is revoked; the user is signed out (`sso_revoked`).
    Revoked,
    /// 404/1001 or 1010 (`user_not_found`).
    UserNotFound { message: String },
    /// 401: renew the token once and send again (then `auth_failed`).
    Unauthorized { message: String },
    /// A per-second (or concurrent) 429 of the Light budget: pause the Light limiter for
    /// `wait` (the `Retry-After`, when given) and send again.
    RateLimited {
        wait: Option<Duration>,
        message: String,
    },
    /// The Light label's daily limit: stop the containment for the day.
    DailyLimit { message: String },
    /// 5xx, another 2xx than 204, or no answer: back off and send again (safe: see the
    /// module comment).
    Retry {
        status: Option<u16>,
        message: String,
    },
    /// Any other 4xx (403 missing scope `user:write:admin`, ...): `rejected`.
    Refused {
        status: u16,
        code: Option<u32>,
        message: String,
    },
}

/// Reads what a revoke got back.
pub fn judge_revoke(sent: &Sent) -> Revoke {
    let answer: &Answer = match sent {
        Sent::Answer(a) => a,
        Sent::NotSent(m) | Sent::Unknown(m) => {
            return Revoke::Retry {
                status: None,
                message: m.clone(),
            }
        }
    };
    // Only Zoom's 204: another 2xx (a proxy's or a portal's 200) proves nothing, and a
    // revoke is always safe to send again.
    if answer.status == 204 {
        return Revoke::Revoked;
    }
    let v = answer.verdict();
    let message = v.message;
    match answer.status {
        404 if matches!(v.zoom_code, Some(1001) | Some(1010)) => Revoke::UserNotFound { message },
        401 => Revoke::Unauthorized { message },
        429 if v.rate == Some(RateKind::Daily) => Revoke::DailyLimit { message },
        429 => Revoke::RateLimited {
            wait: answer.retry_after,
            message,
        },
        s @ (200..=299 | 500..=599) => Revoke::Retry {
            status: Some(s),
            message,
        },
        status => Revoke::Refused {
            status,
            code: v.zoom_code,
            message,
        },
    }
}

#[cfg(test)]
mod unit {
    use super::*;

    fn answer(status: u16, kind: Option<&str>, body: &str) -> Sent {
        Sent::Answer(Answer {
            status,
            ratelimit_type: kind.map(str::to_owned),
            retry_after: Some(Duration::from_secs(1)),
            body: bytes::Bytes::from(body.to_owned()),
            ..Answer::default()
        })
    }

    #[test]
    fn answers() {
        assert_eq!(judge_revoke(&answer(204, None, "")), Revoke::Revoked);
        assert_eq!(
            judge_revoke(&answer(
                404,
                None,
                r#"{"code":1001,"message":"User does not exist: x."}"#
            )),
            Revoke::UserNotFound {
                message: "User does not exist: x.".into()
            }
        );
        assert_eq!(
            judge_revoke(&answer(
                429,
                Some("QPS"),
                r#"{"code":429,"message":"slow down"}"#
            )),
            Revoke::RateLimited {
                wait: Some(Duration::from_secs(1)),
                message: "slow down".into()
            }
        );
        assert!(matches!(
            judge_revoke(&answer(429, Some("Daily-limit"), "")),
            Revoke::DailyLimit { .. }
        ));
        assert!(matches!(
            judge_revoke(&answer(502, None, "<html>x</html>")),
            Revoke::Retry {
                status: Some(502),
                ..
            }
        ));
        assert_eq!(
            judge_revoke(&answer(200, None, "<p>Log in</p>")),
            Revoke::Retry {
                status: Some(200),
                message: "unexpected HTTP 200: Log in".into()
            }
        );
        assert!(matches!(
            judge_revoke(&Sent::Unknown("reset".into())),
            Revoke::Retry { status: None, .. }
        ));
        assert_eq!(
            judge_revoke(&answer(403, None, r#"{"code":4700,"message":"no scope"}"#)),
            Revoke::Refused {
                status: 403,
                code: Some(4700),
                message: "no scope".into()
            }
        );
        assert!(has_no_zoom_password(400, Some(1123)));
        assert!(!has_no_zoom_password(400, Some(1117)));
    }
}
