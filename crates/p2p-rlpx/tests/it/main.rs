//! Integration tests of the RLPx transport.

// Test helpers outside `#[test]` functions unwrap too: a failure there is a test failure.
#![allow(clippy::unwrap_used)]

mod codec;
mod eip8;
mod enode;
mod handshake;
mod reference;
mod tcp;
