//! Integration tests of the discv4 service.

mod dpt;
mod geth;
mod loopback;
mod wire;
