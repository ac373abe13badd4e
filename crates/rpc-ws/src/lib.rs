//! WebSocket transport for rpc-client (ws:// and wss:// with rustls)
//!
//! This crate is being built; see the workspace `docs/architecture.md`.
