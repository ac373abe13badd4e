//! The integration tests of `p2p-pss`.

// Test helpers outside `#[test]` functions unwrap too.
#![allow(clippy::unwrap_used)]

mod adapter;
mod eth_over_pss;
mod network;
mod util;
mod routing;
mod faults;
