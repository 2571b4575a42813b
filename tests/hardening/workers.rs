//! Issue 10, workers: see `hardening.rs`.

#[allow(unused_imports)]
use crate::util;
