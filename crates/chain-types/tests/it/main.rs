//! Integration tests of `chain-types`: known answers, roots, both stores under one suite, property tests.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod generated;
mod known;
mod props;
mod spec;
mod spec_props;
mod store;
