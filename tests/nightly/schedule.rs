//! The shipped schedules (placeholder until the units land).
