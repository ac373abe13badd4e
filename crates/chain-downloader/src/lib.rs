//! A concurrent chain downloader: headers, bodies and receipts from many peers, verified and imported in order
//!
//! This crate is being built; see the workspace `docs/architecture.md`.
