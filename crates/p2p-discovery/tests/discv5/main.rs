//! Integration tests of `p2p_discovery::v5`: loopback networks of peerwire nodes, geth's discv5
//! test suite, geth as a peer, @chainsafe/discv5 as a second implementation, and properties of the
//! record conversions.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod chainsafe;
mod geth;
mod loopback;
mod props;
mod support;
