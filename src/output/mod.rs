//! What the operator reads: the plan before a run and the [`summary`] after it, and the
//! [`context`] a JSON summary carries (version, start, plan, rate, config, the machine
//! word for why a run stopped).

pub mod context;
pub mod summary;
