//! Integration tests of the discv4 service.

mod geth;
mod loopback;
mod wire;
