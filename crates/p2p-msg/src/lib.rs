//! devp2p messages, async message readers and writers, the in-memory [`MsgPipe`], and the
//! multiplexer with the base protocol (Hello, Ping, Disconnect).
//!
//! # What
//!
//! - [`Msg`]: a code plus an in-memory RLP payload ([`bytes::Bytes`]).
//! - [`MsgReader`], [`MsgWriter`], [`MsgReadWriter`]: small async traits (`&self` methods,
//!   `Send` futures), with [`send`], [`send_items`], [`expect_msg`] and [`expect_msg_code`].
//! - [`MsgPipe`]: an unbuffered in-memory pipe whose writes complete when the reader took the
//!   message.
//! - [`MsgEvents`]: opt-in, non-blocking reports of every message sent and received.
//! - [`mux`]: [`Cap`], [`Protocol`], capability matching, and [`Peer`], which runs the base
//!   protocol (Hello, Ping/Pong, Disconnect) and multiplexes protocols over any
//!   [`FrameTransport`].
//!
//! # Where it sits
//!
//! `p2p-msg` is the root of peerwire's p2p side and depends on no workspace crate.
//! `p2p-rlpx` implements [`FrameTransport`] over TCP; `eth-wire` and `p2p-pss` write their
//! protocols against [`Protocol`] and [`ProtoRw`].
//!
//! # When not to use it
//!
//! It does no cryptography, framing or compression: for a real connection use `p2p-rlpx` under
//! it. It does not spawn tasks: [`Peer::run`] is a future you drive (spawn it yourself).
//!
//! # Feature flags
//!
//! None.
//!
//! # Example
//!
//! Two peers over the in-memory transport, each with a protocol `demo/1`; one side sends a
//! message, the other reads it and returns, which ends both connections.
//!
//! ```
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() {
//! use p2p_msg::{
//!     DisconnectReason, LocalHello, MsgReader, NodeId, Peer, Protocol, pipe_transport, send,
//! };
//!
//! let sender = Protocol::new("demo", 1, 2, |_peer, rw| async move {
//!     send(&rw, 1, &42u64).await?;
//!     // Wait until the remote hangs up.
//!     let _ = rw.read_msg().await;
//!     Ok(())
//! });
//! let receiver = Protocol::new("demo", 1, 2, |_peer, rw| async move {
//!     let msg = rw.read_msg().await?;
//!     assert_eq!(msg.code, 1);
//!     assert_eq!(msg.decode::<u64>()?, 42);
//!     Ok(())
//! });
//! let (a, b) = pipe_transport();
//! let a = Peer::new(a, LocalHello::new("a", NodeId([1; 64])), vec![sender]);
//! let b = Peer::new(b, LocalHello::new("b", NodeId([2; 64])), vec![receiver]);
//! let (a, b) = tokio::join!(a.run(), b.run());
//! assert_eq!(b.reason, DisconnectReason::Quitting);
//! assert!(a.remote_requested);
//! # }
//! ```
#![cfg_attr(not(test), warn(unused_crate_dependencies))]

mod chan;
mod error;
mod events;
mod io;
mod msg;
pub mod mux;
mod pipe;

pub use error::{BoxError, Error};
pub use events::{EventRw, MsgEvent, MsgEventKind, MsgEvents};
pub use io::{
    BoxMsgReadWriter, DynMsgReadWriter, MsgReadWriter, MsgReader, MsgWriter, expect_msg,
    expect_msg_code, send, send_items,
};
pub use msg::Msg;
pub use mux::{
    Cap, DisconnectReason, FrameTransport, Hello, LocalHello, NodeId, Peer, PeerExit, PeerHandle,
    PeerInfo, PipeTransport, ProtoRw, Protocol, new_peer_pipe, pipe_transport,
};
pub use pipe::{MsgPipe, msg_pipe};
