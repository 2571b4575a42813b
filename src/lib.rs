//! zoom-rotate: rotate the passwords of many Zoom users at once, safely, as fast as
//! Zoom's Medium rate label allows.
//!
//! # Layout
//! The program is a pipeline; each stage is a module, in the order a row travels:
//!
//! 1. [`input`] streams the CSV into a bounded channel; [`checks`] refuses bad rows
//!    (`invalid_input`) before they can cost a request, using Zoom's password [`rules`]
//!    and, with `--generate`, passwords from [`generate`].
//! 2. [`limiter`] paces every request of the run under the account's budget, with one
//!    shared pause for 429s and a rate controller that settles on what other apps leave.
//! 3. [`workers`] is the bounded pool that sees each row through, with the retries that
//!    Zoom's semantics make safe; [`journal`] records each request before it leaves.
//! 4. [`client`] sends the request and reads the answer ([`redact`] removes any secret a
//!    server echoes); [`auth`] supplies the bearer
//!    token (fixed, or Server-to-Server OAuth); [`outcome`] classifies what came back.
//! 5. [`monitor`] owns the output: the [`report`], progress, the circuit breaker;
//!    [`summary`] prints the plan before and the summary after.
//!
//! Around them: [`cli`] and [`config`] turn flags, environment and config.toml into
//! checked settings; [`run`] wires one run together; [`resume`] reads what an earlier run
//! left; [`shutdown`] carries Ctrl-C and other reasons to stop; [`files`] creates private
//! files and locks the report; [`status`] reads a report back for the operator. Beside
//! the pipeline, [`simulator`] is a faithful local Zoom for the demo, the tests and the
//! benchmarks. For incidents, [`users`] lists the account's users into a CSV `run`
//! reads, and [`evidence`] keeps what a reviewer needs.
//!
//! `main` is thin: it parses, sets up logging and maps the result to an exit code.

pub mod auth;
pub mod checks;
pub mod cli;
pub mod client;
pub mod config;
pub mod contain;
pub mod evidence;
pub mod files;
pub mod generate;
pub mod input;
pub mod journal;
pub mod labels;
pub mod limiter;
pub mod monitor;
pub mod outcome;
pub mod redact;
pub mod report;
pub mod resume;
pub mod rules;
pub mod run;
pub mod shutdown;
pub mod simulator;
pub mod status;
pub mod summary;
pub mod users;
pub mod workers;

pub use run::{run, RunResult};
