//! Routed, topic-addressed, encrypted messages over devp2p connections (PSS, "postal service over
//! swarm"), and an adapter that runs any `p2p-msg` protocol over them.
//!
//! # What
//!
//! - [`Pss`]: a node. It speaks the devp2p protocol `pss/2` ([`Pss::protocol`]) with its
//!   connected peers, keeps them in a Kademlia table of proximity-order bins keyed by their
//!   [`OverlayAddr`] (keccak-256 of the node id), and forwards each [`PssMsg`] toward its address
//!   hint: the closest peer (with fallback to the next best), every peer of the neighbourhood for
//!   a partial hint, every peer for an empty one, and stops at an exact full-address match. A
//!   forward cache of digests drops duplicates and loops; expired and replayed messages are
//!   dropped; the outbox is bounded in messages and bytes ([`Error::OutboxFull`]).
//! - Envelopes on a [`Topic`] (4 bytes of SHA-256 of a name): raw, symmetric (AES-256-GCM,
//!   [`SymKey`]) or asymmetric (ECIES to a secp256k1 key, signed so that the receiver learns the
//!   sender's key), with a bounded key store of address hints. A node tries to open what is
//!   addressed to it or its neighbourhood and forwards what it cannot open.
//! - [`PssProtocol`] and [`PssReadWriter`]: any [`p2p_msg::Protocol`] runs over pss, one virtual
//!   peer per remote key, carried in the reference's `[code, size, payload, []]` envelope
//!   ([`ProtocolMsg`]). [`Ping`] is a small protocol to try it with.
//! - [`sim`]: in-process networks over `MsgPipe` links and the simulation behind
//!   `peerwire pss sim`.
//!
//! # Where it sits
//!
//! `p2p-pss` builds on `p2p-msg` (messages, [`p2p_msg::Protocol`]) and on `p2p-rlpx` (keys,
//! node ids, ECIES). Between processes, add [`Pss::protocol`] to a `p2p_rlpx::Host`; in one
//! process, [`sim::link`] joins two nodes with a `MsgPipe`. The adapter is written against the
//! [`Transport`] trait, so it can be tested against an in-memory fake.
//!
//! # When not to use it
//!
//! pss gives no delivery guarantee: messages can be lost (a full queue drops, it never waits)
//! or arrive twice over different paths. It is not a DHT or a store, and it is not the swarm
//! network's wire format (only the adapter's `ProtocolMsg` is byte-compatible with the
//! reference). Unlike the rest of peerwire's p2p crates it spawns tasks on the current Tokio
//! runtime: [`Pss::new`] (the outbox worker), [`sim::link`] (the two protocol runs) and
//! [`PssProtocol::register`] (the dispatcher and one task per virtual peer).
//!
//! # Deviations from the reference
//!
//! The reference is go-ethereum v1.8.27's `swarm/pss` (whisper envelopes; later
//! ethersphere/swarm). The adapter fixes the reference's quirks (the mode check, `RemovePeer`
//! panics, reads that block forever, leaked runs, a blocking hand-off): the table is in the
//! [`adapter`] module docs. The envelope is peerwire's own (`[to, flags, expire, topic, hops,
//! payload]`, AES-GCM or ECIES instead of whisper), so pss traffic does not interoperate with
//! swarm nodes. The router differs from the reference in these points:
//!
//! - forward-cache entries live until the message expires (not a fixed 10 s or 30 s), and the
//!   cache is bounded ([`PssConfig::cache_entries`]);
//! - messages expiring later than now + [`PssConfig::max_ttl`] are dropped, as are messages that
//!   crossed more than [`PssConfig::max_hops`] links; each peer is rate limited
//!   ([`PssConfig::peer_rate`], [`PssConfig::peer_burst`]);
//! - the outbox is bounded in bytes as well as in messages (the reference: 100 000 messages);
//!   when full, the send fails with [`Error::OutboxFull`], as there;
//! - a sender does not process its own messages (no "prox short-circuit", as in later
//!   ethersphere/swarm), and its own messages enter its forward cache, so echoes are dropped;
//! - a raw message is dropped only by a node with handlers for its topic of which none allows
//!   raw (nodes without handlers for the topic forward it, as the reference does);
//! - a message for the node's own full address that no key opens is dropped, not forwarded (no
//!   other node has that address);
//! - the router never waits: link queues and subscriptions are bounded and a full one drops and
//!   counts ([`Stats`]) where the reference's hand-off blocks.
//!
//! # Feature flags
//!
//! None.
//!
//! # Example
//!
//! Three nodes in a line A - B - C. C subscribes to a topic; A sends to C's full address, once
//! raw and once sealed to C's public key. Both cross B; the sealed one tells C who sent it.
//!
//! ```
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), p2p_pss::Error> {
//! use bytes::Bytes;
//! use p2p_pss::{HandlerCaps, Mode, PeerKey, Pss, PssConfig, Topic, Transport, sim};
//! use p2p_rlpx::NodeKey;
//!
//! let [a, b, c] = [(); 3].map(|()| Pss::new(&NodeKey::generate(), PssConfig::default()));
//! let _links = (sim::link(&a, &b), sim::link(&b, &c));
//!
//! let topic = Topic::from_name("greetings");
//! let mut inbox = c.subscribe(topic, HandlerCaps { raw: true, prox: false });
//!
//! a.send_raw(&c.address().0, topic, Bytes::from_static(b"hello"))?;
//! let got = inbox.recv().await.expect("C is subscribed");
//! assert_eq!((got.mode, got.hops, &got.payload[..]), (Mode::Raw, 2, &b"hello"[..]));
//!
//! a.set_peer_public_key(c.public_key(), topic, &c.address().0)?;
//! a.send(&PeerKey::Asymmetric(c.public_key()), topic, Bytes::from_static(b"sealed"))?;
//! let got = inbox.recv().await.expect("C is subscribed");
//! assert_eq!(got.mode, Mode::Asymmetric(a.public_key()));
//! assert_eq!(&got.payload[..], b"sealed");
//! # Ok(())
//! # }
//! ```
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

/// Locks `m`, taking the data of a poisoned lock as it is: every critical section of the crate
/// leaves its data consistent at each step, so a panic elsewhere never makes it unusable.
fn lock<T>(m: &std::sync::Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

pub use adapter::{
    AdapterStats, DEFAULT_PEER_CAPACITY, ProtocolParams, PssProtocol, PssReadWriter,
    UnknownSenders, is_peer_removed,
};
pub use address::{ADDRESS_LEN, OverlayAddr, ParseAddrError, proximity};
pub use cache::ForwardCache;
pub use crypto::{
    ASYM_OVERHEAD, SYM_OVERHEAD, SymCipher, SymKey, SymKeyId, open_asym, open_sym, seal_asym,
    seal_sym,
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
