//! The commands, thin: each takes its resolved settings, drives the floors below, and
//! returns what `main` turns into the exit code. [`run`] rotates (prepare → pipeline →
//! finish); [`status`] reads a report back, and [`handout`] makes from it the file of
//! the passwords that were set; [`users`] lists the account; [`evidence`] keeps what an
//! incident's reviewer needs.

pub mod evidence;
pub mod handout;
pub mod run;
pub mod status;
pub mod target;
pub mod users;
