//! Cross-crate integration scenarios.
