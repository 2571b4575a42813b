//! zoom-rotate (layout in progress)
pub mod rules;
