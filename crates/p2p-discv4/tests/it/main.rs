//! Integration tests of the discv4 service: loopback networks, raw-socket peers, and the
//! reference implementations (geth, its devp2p suite, @ethereumjs/devp2p's DPT).

// Test helpers outside `#[test]` functions unwrap too.
#![allow(clippy::unwrap_used)]

mod dpt;
mod geth;
mod loopback;
mod wire;
