//! The ground floor's words, which every stage, the ledger and the output share: the
//! contract's [`Outcome`]s, the rows that travel the pipeline ([`row`]), why a run stops
//! ([`stop`]), and the one shape of a refused setting ([`ConfigError`]). Nothing here
//! imports anything else of the crate: it is what the floors above are written in.

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
