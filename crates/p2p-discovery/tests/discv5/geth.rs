//! geth: its discv5 test suite and geth as a peer.
