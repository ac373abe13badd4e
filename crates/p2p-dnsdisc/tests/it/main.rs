//! Integration tests of `p2p-dnsdisc`'s public API: trees signed by the tests' own keys served by the
//! fixture resolver, every error the client reports, parsers under arbitrary text, a local DNS server
//! for the hickory resolver, and geth's `devp2p dns` tool (ignored by default).

// Test helpers outside `#[test]` functions unwrap too.
#![allow(clippy::unwrap_used)]

mod builtins;
mod dns_server;
mod errors;
mod geth;
mod props;
mod support;
mod sync;
