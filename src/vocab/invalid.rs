//! The one shape of a refused setting, wherever it is checked (settings, the limiter's
//! share, a URL): `invalid FIELD = VALUE: expected WHAT`, so the fix is obvious and the
//! refusal's machine word (`config`) is a type, not a phrase.

/// A setting that cannot be used, said so that the fix is obvious.
#[derive(Debug, thiserror::Error)]
#[error("invalid {field} = {value}: expected {expected}")]
pub struct ConfigError {
    pub field: String,
    pub value: String,
    pub expected: String,
}

pub fn bad(field: &str, value: impl std::fmt::Display, expected: &str) -> ConfigError {
    ConfigError {
        field: field.to_string(),
        value: value.to_string(),
        expected: expected.to_string(),
    }
}
