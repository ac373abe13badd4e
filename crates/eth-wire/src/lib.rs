//! The Ethereum wire protocol eth/66 to eth/68: Status with fork id, messages, request matching, a ChainSource peer and a serving side
//!
//! This crate is being built; see the workspace `docs/architecture.md`.
