//! Interop with geth's `devp2p dns` tool (filled in below).
