//! The integration tests: one binary, a module per feature (ripgrep's layout), sharing
//! `util`. Servers bind loopback port 0; nothing leaves the machine.

mod util;

mod end_to_end;
mod guard;
mod hardening;
mod hostile;
mod incident;
mod nightly;
mod operator;
mod pipeline;
mod rate;
mod resilience;
mod simulator;
mod spreadsheet;
