//! HTTP transport for rpc-client (reqwest with rustls, auth hooks, JWT)
//!
//! This crate is being built; see the workspace `docs/architecture.md`.
