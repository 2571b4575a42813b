//! Issue 10's guarantees, one test (at least) per defect it lists: no row is ever lost,
//! and nothing a server, a file or a flag sends can panic, hang or make the exit code lie.
//!
//! Grouped by where the hole was: `workers` (panics, slots, retries, the pause, the
//! breaker, redirects, and the property test that drives real workers with arbitrary
//! answers), `auth` (token lifetimes, the token endpoint, a refused fixed token), `files`
//! (the report, its lock and journal, sync order, symlinks and special files, resume
//! safety) and `inputs` (password rules, the rate floor, passwords as written, closed
//! stdout, the simulator's clock).

mod auth;
mod files;
mod inputs;
mod workers;
