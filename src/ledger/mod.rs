//! Everything durable about a run, and the only place that reads it back: the [`report`]
//! (evidence and state at once), the write-ahead [`journal`], the [`resume`] state made
//! from both, the saved [`passwords`] of `--generate`, and the [`files`] they live in:
//! created private, never overwritten, never followed through a symlink, made durable in
//! an order a power loss cannot undo, with every side file named in one place.

pub mod files;
pub mod journal;
pub mod passwords;
pub mod report;
pub mod resume;
pub mod side;
pub mod state;
