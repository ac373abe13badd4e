//! Ethereum chain vocabulary: headers, bodies, blocks and receipts with RLP and roots, the ChainSource and ChainStore traits, memory and redb stores
//!
//! This crate is being built; see the workspace `docs/architecture.md`.
