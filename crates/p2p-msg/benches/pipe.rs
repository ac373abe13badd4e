//! Benchmarks of `p2p-msg` (filled in below).
fn main() {}
