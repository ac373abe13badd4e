//! Integration tests of eth-wire: fork id vectors, message round trips and fuzzing, the Status handshake, and
//! full exchanges between in-process peers.

mod chain;
mod eth69;
mod eth69_handshake;
mod eth69_peer;
mod exchange;
mod forkid;
mod handshake;
mod messages;
mod node;
mod serve;
mod strict;
