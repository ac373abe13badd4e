//! Node discovery v4 as geth speaks it, on `secp256k1` and tokio UDP.
//!
//! # What
//!
//! - [`packet`]: the wire format (Ping, Pong, FindNode, Neighbors, EIP-868 ENRRequest and
//!   ENRResponse), signed and hashed; [`packet::decode`] checks size, hash and signature and
//!   never panics. EIP-8: extra list elements are ignored.
//! - [`Discv4`]: a cloneable handle of the service task that owns the socket, the Kademlia
//!   table (256 log-distance buckets of 16, replacement lists of 10, /24 limits), the
//!   endpoint proofs, the pending replies and the per-source rate limits.
//!   It answers Pings, answers FindNode and ENRRequest only from nodes that proved their
//!   endpoint, pings unknown senders back before they enter the table, revalidates the
//!   table and refreshes it with lookups.
//! - [`NodeRecord`]: an [`Enode`](p2p_rlpx::Enode) and its [`Enr`] once fetched.
//!
//! Spec: <https://github.com/ethereum/devp2p/blob/master/discv4.md>; EIP-868 (ENR
//! exchange), EIP-8 (forward compatibility). Timings follow geth: 20 s packet expiration,
//! 500 ms reply timeout; endpoint proofs last 12 h (geth: 24 h).
//!
//! # Where it sits
//!
//! Beside `p2p-rlpx`, whose [`NodeKey`](p2p_rlpx::NodeKey) and [`Enode`](p2p_rlpx::Enode)
//! it uses; it depends on `p2p-msg` and `p2p-rlpx` only. The peer pool consumes its
//! lookups and events.
//!
//! # When not to use it
//!
//! For discv5 use sigp's `discv5` crate; for a fixed peer list no discovery is needed.
//! Unlike most of the workspace, [`Discv4::bind`] spawns its service task (on the current
//! tokio runtime); the task stops when the last handle is dropped.
//!
//! # Feature flags
//!
//! None.
//!
//! # Example
//!
//! Two nodes on loopback: one learns of the other from a ping and finds it by lookup.
//!
//! ```
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), p2p_discv4::Error> {
//! use p2p_discv4::{Discv4, Discv4Config};
//! use p2p_rlpx::NodeKey;
//!
//! let config = Discv4Config {
//!     listen_addr: "127.0.0.1:0".parse().unwrap(),
//!     ..Discv4Config::default()
//! };
//! let a = Discv4::bind(&NodeKey::generate(), config.clone()).await?;
//! let b = Discv4::bind(&NodeKey::generate(), config).await?;
//! a.ping(&b.local_enode()).await?;
//! let found = a.lookup(b.local_enode().id).await?;
//! assert_eq!(found[0].enode.id, b.local_enode().id);
//! let record = a.request_enr(&b.local_enode()).await?;
//! assert_eq!(record.seq(), b.local_enr().seq());
//! # Ok(())
//! # }
//! ```
#![cfg_attr(not(test), warn(unused_crate_dependencies))]

mod config;
mod error;
mod handle;
mod handlers;
mod limits;
mod lookup;
mod node;
pub mod packet;
mod service;
mod table;

pub use config::{
    ALPHA, BOND_EXPIRATION, Discv4Config, Discv4Event, RESPONSE_TIMEOUT, Stats, Timeouts,
};
pub use error::{DecodeError, Error};
pub use handle::Discv4;
pub use limits::Limits;
pub use lookup::random_id;
pub use node::{Enr, Key, NodeRecord};
pub use p2p_msg::NodeId;
pub use packet::{MAX_NEIGHBORS, MAX_PACKET_SIZE};
pub use table::{BUCKET_SIZE, BUCKET_SUBNET_LIMIT, REPLACEMENTS, TABLE_SUBNET_LIMIT, TableLimits};
