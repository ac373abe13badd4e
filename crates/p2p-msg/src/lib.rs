//! devp2p messages, async message readers and writers, the in-memory MsgPipe, and the multiplexer with the base protocol (Hello, Ping, Disconnect)
//!
//! This crate is being built; see the workspace `docs/architecture.md`.
