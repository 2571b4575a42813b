//! The pipeline, in the order a row travels it: [`input`] streams the CSV into a bounded
//! channel and [`checks`] refuses bad rows before they cost a request (with `--generate`,
//! the passwords come from [`generate`]); [`hold`] keeps back users a crashed run had on
//! the wire; [`limiter`] paces every request under the account's budget; [`workers`] see
//! each row through, with the retries Zoom's semantics make safe; [`monitor`] is the one
//! task that owns the output: it writes the report, keeps the tally and shows progress.
//! The stages speak `vocab`, send through `zoom`, and keep what must survive a crash in
//! `ledger`.

pub mod checks;
pub mod generate;
pub mod hold;
pub mod input;
pub mod limiter;
pub mod monitor;
pub mod workers;
