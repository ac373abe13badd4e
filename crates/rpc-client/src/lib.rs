//! A transport-agnostic JSON-RPC 2.0 client: calls, batches, notifications, subscriptions and reconnect
//!
//! This crate is being built; see the workspace `docs/architecture.md`.
