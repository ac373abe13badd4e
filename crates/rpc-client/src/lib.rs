//! A transport-agnostic JSON-RPC 2.0 client: calls, batches, notifications, subscriptions and
//! reconnect.
//!
//! # Where it sits
//!
//! `rpc-client` is the root of peerwire's RPC side and depends on no other workspace crate.
//! Transports implement its traits: `rpc-ws` (WebSocket, a duplex [`Connector`]) and `rpc-http`
//! (HTTP, a [`RequestTransport`]). Most users start from one of those crates; use this crate
//! directly to write a transport (IPC, a custom stream) or to test against the in-memory one.
//!
//! # Model
//!
//! - A [`Client`] is a cheap `Clone` handle. [`Client::request`] takes any `Serialize` params
//!   (tuple, array, struct, map, or `()` for none) and decodes the result into the type asked
//!   for; [`Client::request_raw`] returns it undecoded. Each incoming frame is parsed once; ids
//!   are matched as parsed JSON numbers; unknown ids are logged and ignored.
//! - Over a duplex transport, [`ClientBuilder::build_duplex`] returns the client and a
//!   [`Driver`], the single dispatch loop the caller runs (or
//!   [`spawn_duplex`](ClientBuilder::spawn_duplex) spawns it). No task is spawned per call.
//! - [`Client::batch`] collects calls; results come back in request order, a missing answer is
//!   [`Error::MissingResponse`], an empty batch is [`Error::EmptyBatch`], and an optional maximum
//!   batch size splits large batches.
//! - [`Client::subscribe`] gives a [`Subscription`] stream with a bounded buffer and an
//!   [`OverflowPolicy`]; it is unsubscribed on overflow, drop, or
//!   [`Subscription::unsubscribe`] (bounded by a timeout).
//! - On connection loss in-flight calls fail with [`Error::Disconnected`] and the next call
//!   redials; an opt-in [`ReconnectPolicy`] redials in the background, resubscribes, and marks
//!   each stream with [`Error::Reconnected`].
//!
//! # When not to use it
//!
//! For a JSON-RPC *server*, or when typed client traits generated from an API definition are
//! wanted (jsonrpsee's proc macros), this crate does not help.
//!
//! # Feature flags
//!
//! - `test-utils`: the `test_utils` module, an in-memory duplex transport whose server side tests drive
//!   frame by frame, and a tiny JSON-RPC responder for test servers.
//!
//! # Example
//!
//! ```
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), rpc_client::Error> {
//! use rpc_client::{
//!     ClientBuilder,
//!     test_utils::{Reply, memory_connector},
//! };
//! use serde_json::json;
//!
//! // An in-memory server that answers `eth_blockNumber`.
//! let (connector, mut listener) = memory_connector(16);
//! tokio::spawn(async move {
//!     while let Some(conn) = listener.accept().await {
//!         tokio::spawn(conn.serve(|method, _params| match method {
//!             "eth_blockNumber" => Reply::Result(json!("0x10")),
//!             other => Reply::method_not_found(other),
//!         }));
//!     }
//! });
//!
//! let client = ClientBuilder::new().spawn_connect(connector).await?;
//! let block: String = client.request("eth_blockNumber", ()).await?;
//! assert_eq!(block, "0x10");
//!
//! let mut batch = client.batch();
//! batch.add("eth_blockNumber", ())?;
//! batch.add("eth_nope", [1, 2])?;
//! let answers = batch.send().await?;
//! assert_eq!(answers.decode::<String>(0)?, "0x10");
//! assert_eq!(answers.decode::<String>(1).unwrap_err().code(), Some(-32601));
//! client.close().await;
//! # Ok(())
//! # }
//! ```
#![cfg_attr(not(test), warn(unused_crate_dependencies))]

mod client;
mod config;
mod dispatch;
mod error;
mod subscription;
#[cfg(any(test, feature = "test-utils"))]
pub mod test_utils;
mod transport;
mod wire;

pub use client::{BatchBuilder, BatchResponse, Client, ClientBuilder};
pub use config::{
    CallOptions, DEFAULT_CONNECT_TIMEOUT, DEFAULT_MAX_QUEUED_REQUESTS, DEFAULT_REQUEST_TIMEOUT,
    DEFAULT_SUBSCRIPTION_CAPACITY, DEFAULT_UNSUBSCRIBE_TIMEOUT, DEFAULT_WRITE_TIMEOUT,
    OverflowPolicy, ReconnectPolicy, SubscriptionOptions,
};
pub use dispatch::Driver;
pub use error::{
    Error, ErrorObject, HttpError, INTERNAL_ERROR, INVALID_PARAMS, INVALID_REQUEST, LIMIT_EXCEEDED,
    METHOD_NOT_FOUND, PARSE_ERROR, SharedError,
};
pub use serde_json::value::RawValue;
pub use subscription::Subscription;
pub use transport::{Connector, FrameReceiver, FrameSender, RequestMeta, RequestTransport};
