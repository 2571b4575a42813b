//! What the operator reads: the plan before a run and the [`summary`] after it, the
//! [`logs`] on stderr, and the [`context`] a JSON summary carries (version, start, plan,
//! rate, config, the machine word for why a run stopped), and the [`metrics`] file a
//! Prometheus textfile collector reads.

pub mod context;
pub mod logs;
pub mod metrics;
pub mod summary;
