//! Zoom's facts and its wire, the ground floor every stage stands on: the plans and their
//! rate-limit labels ([`plan`]), login types ([`login`]), the API's URLs ([`url`]), the
//! HTTP [`client`] and what it reads from an answer ([`outcome`]), the bearer token
//! ([`auth`]), the password rules ([`rules`]), the redaction of anything secret a server
//! echoes ([`redact`]), how containment answers read ([`contain`]), and the one
//! [`retry`]/backoff every caller that asks Zoom again uses. Nothing here knows about
//! rows in flight, reports or settings files.

pub mod auth;
pub mod client;
pub mod contain;
pub mod login;
pub mod outcome;
pub mod plan;
pub mod redact;
pub mod retry;
pub mod rules;
pub mod url;
