//! Benchmarks of the downloader (filled in below).

fn main() {}
