//! Issue 10, inputs: see `hardening.rs`.

#[allow(unused_imports)]
use crate::util;
