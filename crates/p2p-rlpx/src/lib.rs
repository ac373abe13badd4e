//! The RLPx transport: EIP-8 ECIES handshake, frame codec with Keccak MACs and snappy, node keys, enode URLs and a host
//!
//! This crate is being built; see the workspace `docs/architecture.md`.
