//! Cross-crate integration tests for peerwire live in `it/`; this library is empty.
//!
//! Tests that need a reference peer read its address from the environment that
//! `cargo xtask test` sets after starting the peers (see `tests/peers/`).
