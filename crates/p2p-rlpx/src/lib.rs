//! The RLPx transport of devp2p: the EIP-8 ECIES handshake, the encrypted and MACed frame
//! codec with snappy compression, node keys, `enode://` URLs, and a [`Host`] that listens,
//! dials and runs `p2p-msg` protocols on every connection.
//!
//! # What
//!
//! - [`UnauthedStream`] → [`RlpxStream`]: the handshake typestate. An unauthenticated byte
//!   stream becomes a [`Stream`](futures_util::Stream)/[`Sink`](futures_util::Sink) of
//!   [`Frame`]s only through [`UnauthedStream::connect`] (initiator) or
//!   [`UnauthedStream::accept`] (recipient), bounded by [`HANDSHAKE_TIMEOUT`].
//! - [`RlpxTransport`]: an established connection split into read and write halves that
//!   implements [`p2p_msg::FrameTransport`], so [`p2p_msg::Peer`] runs over TCP unchanged
//!   ([`RlpxTransport::dial`], [`RlpxTransport::accept`]; `TCP_NODELAY` is set).
//! - [`FrameEncoder`], [`FrameDecoder`], [`RlpxCodec`]: tokio-util codecs for frames
//!   (AES-256-CTR, the Keccak MAC checked in constant time before decrypting, size limits
//!   checked before allocating, snappy after [`FrameDecoder::set_snappy`]).
//! - [`decode_auth`], [`decode_ack`], [`Secrets::derive`], [`ecies_encrypt`],
//!   [`ecies_decrypt`]: the handshake pieces, public for known-answer tests and tools.
//! - [`NodeKey`] (generate, hex files), [`Enode`] (parse and print `enode://` URLs).
//! - [`Host`]: a listener and dialer with a peer limit and [`PeerEvent`]s on a bounded channel.
//!
//! # Where it sits
//!
//! Below `p2p-msg`'s multiplexer and above TCP; it depends on `p2p-msg` only (for
//! [`p2p_msg::FrameTransport`], [`p2p_msg::Peer`] and [`p2p_msg::NodeId`]).
//! `p2p-msg` never names this crate, so protocol tests can run over its in-memory pipe.
//!
//! # When not to use it
//!
//! For tests of protocols, use `p2p-msg`'s in-memory `pipe_transport`: no keys, no sockets.
//! This crate has no node discovery (discv4/discv5): peers are given as `enode://` URLs.
//! It never spawns tasks except in the `spawn_*` functions; [`Host::run`] and
//! [`Host::connect`] are futures that you drive.
//!
//! # Feature flags
//!
//! None.
//!
//! # Example
//!
//! Two nodes handshake over an in-memory stream and exchange a frame.
//!
//! ```
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), p2p_rlpx::Error> {
//! use futures_util::{SinkExt, StreamExt};
//! use p2p_rlpx::{Frame, NodeKey, UnauthedStream};
//!
//! let (alice_key, bob_key) = (NodeKey::generate(), NodeKey::generate());
//! let bob_id = bob_key.id();
//! let (alice_io, bob_io) = tokio::io::duplex(4096);
//! let (alice, bob) = tokio::join!(
//!     UnauthedStream::new(alice_io, alice_key).connect(&bob_id),
//!     UnauthedStream::new(bob_io, bob_key).accept(),
//! );
//! let (mut alice, mut bob) = (alice?, bob?);
//! assert_eq!(alice.remote_id(), bob_id);
//!
//! alice.send(Frame::new(0x10, &b"hello"[..])).await?;
//! let frame = bob.next().await.expect("a frame")?;
//! assert_eq!(frame, Frame::new(0x10, &b"hello"[..]));
//! # Ok(())
//! # }
//! ```
#![cfg_attr(not(test), warn(unused_crate_dependencies))]

mod codec;
mod ecies;
mod enode;
mod error;
mod handshake;
mod host;
mod key;
mod mac;
mod stream;
mod transport;

pub use codec::{
    Frame, FrameDecoder, FrameEncoder, MAX_FIRST_FRAME_SIZE, MAX_FRAME_SIZE, MAX_MESSAGE_SIZE,
    RlpxCodec,
};
pub use ecies::{ECIES_OVERHEAD, decrypt as ecies_decrypt, encrypt as ecies_encrypt};
pub use enode::Enode;
pub use error::{Error, ParseEnodeError};
pub use handshake::{
    AckMessage, AuthMessage, HandshakeFormat, KeyMaterial, MAX_HANDSHAKE_SIZE, Role, Secrets,
    decode_ack, decode_auth, encode_ack, encode_auth,
};
pub use host::{DEFAULT_EVENT_CAPACITY, DEFAULT_MAX_PEERS, Direction, Host, HostConfig, PeerEvent};
pub use key::{NodeKey, node_id, public_key};
pub use mac::KeccakMac;
pub use stream::{HANDSHAKE_TIMEOUT, RlpxStream, UnauthedStream};
pub use transport::{DIAL_TIMEOUT, FRAME_WRITE_TIMEOUT, RlpxTransport, TransportConfig};
