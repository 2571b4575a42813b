//! Issue 10, files: see `hardening.rs`.

#[allow(unused_imports)]
use crate::util;
