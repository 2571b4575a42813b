//! zoom-rotate: rotate the passwords of many Zoom users at once, safely, as fast as
//! Zoom's Medium rate label allows.
//!
//! # Layout
//! The program is a pipeline, **input → limiter → workers → client → report**, with the
//! simulator beside it. The modules are floors; each imports only from the floors below
//! it, never back up:
//!
//! 1. The ground. [`vocab`] holds the words every stage speaks: the contract's outcomes,
//!    the row and the user key, why a run stops, the exit codes ([`vocab::Exit`]) and the
//!    typed refusals. [`zoom`] holds Zoom's facts and wire: plans and labels, the client,
//!    auth, how an answer reads, password rules, redaction, and the one retry/backoff.
//! 2. The [`pipeline`] stages, in the order a row travels: `input` (+ `checks`,
//!    `generate`) streams the CSV into a bounded channel; `limiter` paces every request
//!    under the account's budget; `workers` see each row through (`policy` decides,
//!    `rotate` carries it out, `revoke` signs out the users without a Zoom password
//!    under `--contain-sso`) and send through `zoom::client`; `monitor` owns the
//!    output and writes the report. Beside them, the [`ledger`]: everything durable
//!    about a run (report, journal, resume state, saved passwords, side files named in
//!    one place, atomic writes), and the only place that reads it back: what remains
//!    (`ledger::state`) and the command that continues (`ledger::resume::origin`) are
//!    computed there once, for the summary, `status` and the second Ctrl-C alike.
//! 3. [`settings`]: config.toml, the environment and the command line ([`cli`], clap
//!    only), read once and resolved once into checked types. [`output`]: the plan, the
//!    summary, the logs, the JSON context and the machine word for a stop.
//! 4. The [`commands`], thin: `run` (prepare → pipeline → finish), `status`, `users`,
//!    `evidence`; and `main`, thinner.
//!
//! Beside the pipeline, [`simulator`] is a faithful local Zoom for the demo, the tests
//! and the benchmarks; it uses only [`zoom`].

pub mod cli;
pub mod commands;
pub mod ledger;
pub mod output;
pub mod pipeline;
pub mod settings;
pub mod simulator;
pub mod vocab;
pub mod zoom;
