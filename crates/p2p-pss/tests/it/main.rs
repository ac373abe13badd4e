//! The integration tests of `p2p-pss`.

// Test helpers outside `#[test]` functions unwrap too.
#![allow(clippy::unwrap_used)]

mod adapter;
mod eth_over_pss;
mod faults;
mod network;
mod routing;
mod util;
