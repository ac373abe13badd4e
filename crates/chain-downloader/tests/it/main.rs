//! Integration tests of chain-downloader: the reference scenario catalogue, queue behaviour, reth's reply
//! cases, the drop policy table and crash safety over the redb store.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, dead_code)]

mod crash;
mod policy;
mod queue;
mod replies;
mod reverse;
mod scenarios;
mod support;
