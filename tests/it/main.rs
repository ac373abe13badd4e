//! Cross-crate integration scenarios, including the interop tests against the reference peers.

#![allow(unreachable_pub, dead_code)]

mod devp2p;
mod ganache;
mod geth;
mod support;
