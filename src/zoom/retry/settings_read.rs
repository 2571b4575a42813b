//! The policy of the one settings read before a run (`GET /accounts/me/settings`, the
//! account's enhanced password rules) as a pure function: [`State`] and [`Event`] decide
//! the next [`Step`]; `commands::run::account` only carries the steps out.
//!
//! The rules: a 401 means the token itself is refused, and every password sent would be
//! too, so it is the run's end before anything is sent ([`Step::Refuse`], exit 2), unless
//! a renewal can cure it: a Server-to-Server token is renewed once and read again; a
//! fixed token, a second 401, or a renewal that fails all refuse. Any other refusal (403,
//! a missing scope), a failure (no answer, a 5xx, a token endpoint that cannot give a
//! first token) or an unreadable body falls back to Zoom's basic rules, loudly: the
//! account's rules are checked before sending as a courtesy, Zoom checks them anyway.

use crate::zoom::client::PolicyError;
use crate::zoom::rules::PasswordPolicy;

/// What the read has met so far.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct State {
    /// The one renewal after a 401 succeeded: another 401 is a refusal.
    pub renewed: bool,
    /// The 401's message while its renewal is under way.
    pub refused: Option<String>,
}

/// What just happened to the read.
#[derive(Debug)]
pub enum Event {
    /// No bearer token could be had (the token endpoint's error).
    TokenError(String),
    /// The read came back: the rules, or why not.
    Read(Result<PasswordPolicy, PolicyError>),
    /// After a 401, a new token is there.
    Renewed,
    /// After a 401, no renewal is possible (a fixed token).
    RenewRefused,
    /// After a 401, the renewal failed (the token endpoint's error).
    RenewFailed(String),
}

/// What to do next.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Step {
    /// Read (again, at once).
    Ask,
    /// A 401: renew the token of the generation used, and report how that went.
    Renew,
    /// The account's rules, read.
    Use(PasswordPolicy),
    /// They could not be read (why): check only Zoom's basic rules.
    FallBack(String),
    /// The token is refused: end the run before any password is sent (why).
    Refuse(String),
}

/// The next step for the read in state `s` after `event`.
pub fn decide(s: &mut State, event: Event) -> Step {
    match event {
        Event::Read(Ok(policy)) => Step::Use(policy),
        Event::Read(Err(PolicyError::Refused {
            status: 401,
            message,
            ..
        })) if s.renewed => Step::Refuse(format!(
            "{}, even just after it was fetched, before any password was sent: check the Server-to-Server app's scopes and that it is activated",
            refused(&message)
        )),
        Event::Read(Err(PolicyError::Refused {
            status: 401,
            message,
            ..
        })) => {
            s.refused = Some(message);
            Step::Renew
        }
        Event::Read(Err(e)) => Step::FallBack(e.to_string()),
        Event::TokenError(e) => Step::FallBack(e),
        Event::Renewed => {
            s.renewed = true;
            s.refused = None;
            Step::Ask
        }
        Event::RenewRefused => Step::Refuse(format!(
            "{}, before any password was sent: check ZOOM_ACCESS_TOKEN",
            refused(&s.refused.take().unwrap_or_default())
        )),
        Event::RenewFailed(e) => Step::Refuse(format!(
            "{}, and no new one could be had: {e}; nothing was sent",
            refused(&s.refused.take().unwrap_or_default())
        )),
    }
}

/// The first half of every refusal: what was refused, and where.
fn refused(message: &str) -> String {
    format!(
        "the access token was refused (HTTP 401: {message}) when reading the account's settings"
    )
}

#[cfg(test)]
mod unit {
    use super::*;
    use std::time::Duration;

    fn read_401() -> Event {
        Event::Read(Err(PolicyError::Refused {
            status: 401,
            message: "Invalid access token.".into(),
            retry_after: None,
        }))
    }

    fn renewing() -> State {
        State {
            renewed: false,
            refused: Some("Invalid access token.".into()),
        }
    }

    fn renewed() -> State {
        State {
            renewed: true,
            refused: None,
        }
    }

    const REFUSED: &str = "the access token was refused (HTTP 401: Invalid access token.) when reading the account's settings";

    #[test]
    fn every_event_in_every_state() {
        let rules = PasswordPolicy {
            minimum_password_length: 10,
            ..PasswordPolicy::default()
        };
        let refused = |status, retry_after| {
            Event::Read(Err(PolicyError::Refused {
                status,
                message: "no scope".into(),
                retry_after,
            }))
        };
        let transport = || Event::Read(Err(PolicyError::Transport("no answer in time".into())));
        let malformed = || Event::Read(Err(PolicyError::Malformed("missing field".into())));
        let token = || Event::TokenError("the token endpoint failed (HTTP 503): down".into());
        let failed = "the token endpoint could not be reached: refused";
        #[rustfmt::skip]
        let table: Vec<(&str, State, Event, Step)> = vec![
            ("the rules", State::default(), Event::Read(Ok(rules)), Step::Use(rules)),
            ("the rules after a renewal", renewed(), Event::Read(Ok(rules)), Step::Use(rules)),
            ("401", State::default(), read_401(), Step::Renew),
            ("401 after a renewal", renewed(), read_401(), Step::Refuse(format!(
                "{REFUSED}, even just after it was fetched, before any password was sent: check the Server-to-Server app's scopes and that it is activated"))),
            ("403", State::default(), refused(403, None), Step::FallBack("HTTP 403: no scope".into())),
            ("403 after a renewal", renewed(), refused(403, None), Step::FallBack("HTTP 403: no scope".into())),
            ("429", State::default(), refused(429, Some(Duration::from_secs(1))),
                Step::FallBack("HTTP 429: no scope".into())),
            ("5xx", State::default(), refused(503, None), Step::FallBack("HTTP 503: no scope".into())),
            ("no answer", State::default(), transport(), Step::FallBack("no answer in time".into())),
            ("no answer after a renewal", renewed(), transport(), Step::FallBack("no answer in time".into())),
            ("an unreadable body", State::default(), malformed(),
                Step::FallBack("unexpected settings body: missing field".into())),
            ("no token", State::default(), token(),
                Step::FallBack("the token endpoint failed (HTTP 503): down".into())),
            ("no token after a renewal", renewed(), token(),
                Step::FallBack("the token endpoint failed (HTTP 503): down".into())),
            ("renewed", renewing(), Event::Renewed, Step::Ask),
            ("a fixed token", renewing(), Event::RenewRefused, Step::Refuse(format!(
                "{REFUSED}, before any password was sent: check ZOOM_ACCESS_TOKEN"))),
            ("the renewal failed", renewing(), Event::RenewFailed(failed.into()), Step::Refuse(format!(
                "{REFUSED}, and no new one could be had: {failed}; nothing was sent"))),
        ];
        for (name, mut state, event, expected) in table {
            assert_eq!(decide(&mut state, event), expected, "{name}");
        }
    }

    #[test]
    fn one_renewal_then_a_refusal() {
        let mut s = State::default();
        assert_eq!(decide(&mut s, read_401()), Step::Renew);
        assert_eq!(s, renewing());
        assert_eq!(decide(&mut s, Event::Renewed), Step::Ask);
        assert_eq!(s, renewed());
        assert!(matches!(decide(&mut s, read_401()), Step::Refuse(_)));
    }
}
