//! Multiplexing and the devp2p base protocol "p2p": [`Cap`], [`Hello`], [`DisconnectReason`],
//! [`Protocol`] and capability matching, and the per-connection [`Peer`] that runs over any
//! [`FrameTransport`].
//!
//! # Base protocol
//!
//! Codes 0x00..=0x0f belong to the base protocol: Hello (0x00), Disconnect (0x01), Ping (0x02)
//! and Pong (0x03).
//! Subprotocols share the codes from 0x10 on, in the order computed by [`match_protocols`].
//!
//! # geth or reth: the choices made
//!
//! The behaviour follows go-ethereum where the two differ (reference `p2p-msg.md`, section 13.3):
//!
//! | Topic | Choice |
//! |---|---|
//! | p2p version mismatch | geth: any remote version is accepted (EIP-8); compression is enabled iff the remote version is at least 5 |
//! | Pong tracking | geth: no Pong tracking; we Ping every 15 s and a remote silent for 30 s (no frame at all) ends the connection with `NetworkError`, nothing sent |
//! | unknown code ≥ 0x10 | geth: the connection ends with `NetworkError` ([`Error::CodeOutOfRange`](crate::Error::CodeOutOfRange)), no Disconnect sent |
//! | unknown reserved code (0x04..=0x0f), second Hello, Pong | geth: silently discarded |
//! | message id width | geth: `u64` |
//! | API style | geth's reader-writer with a hand-off (rendezvous) per message, as async `&self` traits; no spawned tasks |
//!
//! Further choices:
//! - Disconnect is sent as the spec's list `[reason]` and decoded leniently (list or bare
//!   integer, empty gives `Requested`, see [`DisconnectReason::decode_payload`]).
//!   Compression is the transport's business: the peer only calls
//!   [`FrameTransport::enable_compression`].
//! - If we have protocols and the remote shares none, the peer disconnects with
//!   [`DisconnectReason::UselessPeer`] (geth does this check in its server).
//! - If the transport knows the remote id ([`FrameTransport::remote_id`]), the Hello's id must
//!   match it ([`DisconnectReason::UnexpectedIdentity`]).
//! - When the remote asked for the disconnect, its reason is echoed back before closing, as
//!   geth does; during the Hello exchange nothing is echoed.
//! - Inbound messages are handed to a protocol through a one-message slot: a protocol that does
//!   not read holds up the connection's read side (geth's back-pressure; geth has no slot at
//!   all, the slot lets the read loop fetch the next frame while the protocol handles this one).
//! - Timeouts: the Hello exchange is bounded by [`HANDSHAKE_TIMEOUT`]; each frame read by
//!   [`FRAME_READ_TIMEOUT`] from its start (time spent waiting for a protocol to take a message
//!   does not count); a write in progress is ended by a watchdog between one and two
//!   [`FRAME_WRITE_TIMEOUT`]s after it started (one timer per connection instead of one per
//!   frame); the final Disconnect by [`DISCONNECT_WRITE_TIMEOUT`].
//! - The peer never spawns: [`Peer::run`] drives the read loop, the ping loop, the write
//!   watchdog and every protocol future in one `FuturesUnordered`.

mod disconnect;
mod hello;
mod peer;
mod protocol;
mod transport;

pub use disconnect::{DisconnectDecodeError, DisconnectReason, MAX_DISCONNECT_PAYLOAD};
pub use hello::{
    BASE_PROTOCOL_LENGTH, BASE_PROTOCOL_VERSION, Cap, DISCONNECT_CODE, HELLO_CODE, Hello,
    MAX_HELLO_SIZE, NodeId, PING_CODE, PONG_CODE, ParseNodeIdError, SNAPPY_PROTOCOL_VERSION,
};
pub use peer::{
    DISCONNECT_WRITE_TIMEOUT, FRAME_READ_TIMEOUT, FRAME_WRITE_TIMEOUT, HANDSHAKE_TIMEOUT,
    LocalHello, PING_INTERVAL, Peer, PeerExit,
};
pub use protocol::{
    PeerHandle, PeerInfo, ProtoRw, Protocol, SharedCap, match_protocols, new_peer_pipe,
};
pub use transport::{FrameTransport, PipeTransport, pipe_transport};
