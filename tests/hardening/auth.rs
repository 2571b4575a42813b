//! Issue 10, auth: see `hardening.rs`.

#[allow(unused_imports)]
use crate::util;
