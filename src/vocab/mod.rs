//! The ground floor's words, which every stage, the ledger and the output share: the
//! contract's [`Outcome`]s, the rows that travel the pipeline ([`row`]), why a run stops
//! ([`stop`]), the one shape of a refused setting ([`ConfigError`]), and how a CSV cell a
//! spreadsheet would run is written and read back ([`cell`]). Nothing here
//! imports anything else of the crate: it is what the floors above are written in.

pub mod cell;
mod exit;
mod invalid;
mod outcome;
pub mod row;
pub mod stop;

pub use exit::Exit;
pub use invalid::{bad, ConfigError, RefusalCode, Refused};
pub use outcome::Outcome;
pub use row::{
    printable, rfc3339, user_key, Columns, Item, Job, RecordInfo, Refusal, Row, Tally,
    MAY_HAVE_APPLIED,
};
