//! Routed, topic-addressed, encrypted messages over devp2p connections (PSS, "postal service
//! over swarm"), and an adapter that runs any `p2p-msg` protocol over them.
//!
//! SKELETON: module docs, deviations from the reference and the example come with the code.
#![cfg_attr(not(test), warn(unused_crate_dependencies))]

pub mod adapter;
mod address;
mod cache;
mod crypto;
mod error;
pub mod kademlia;
mod keystore;
mod message;
mod node;
pub mod ping;
mod protocol_msg;
pub mod sim;
mod topic;
mod transport;

pub use adapter::{
    AdapterStats, DEFAULT_PEER_CAPACITY, ProtocolParams, PssProtocol, PssReadWriter,
    UnknownSenders, is_peer_removed,
};
pub use address::{ADDRESS_LEN, OverlayAddr, ParseAddrError, proximity};
pub use cache::ForwardCache;
pub use crypto::{
    ASYM_OVERHEAD, SYM_OVERHEAD, SymKey, SymKeyId, open_asym, open_sym, seal_asym, seal_sym,
};
pub use error::Error;
pub use kademlia::{Kademlia, MIN_PROX_BIN_SIZE, Route};
pub use message::{Digest, Flags, MAX_MSG_SIZE, PssMsg};
pub use node::{
    MAX_HANDLERS, PROTOCOL_LENGTH, PROTOCOL_NAME, PROTOCOL_VERSION, Pss, PssConfig, Stats,
};
pub use ping::{Ping, PingEvent, PingMsg};
pub use protocol_msg::{MAX_PROTOCOL_MSG_SIZE, ProtocolMsg};
pub use topic::{ParseTopicError, Topic};
pub use transport::{Delivery, HandlerCaps, Mode, PeerKey, Subscription, Transport};
