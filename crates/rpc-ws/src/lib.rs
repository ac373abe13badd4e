//! WebSocket transport for [`rpc_client`]: `ws://` and `wss://` (rustls).
//!
//! # Where it sits
//!
//! `rpc-ws` depends only on `rpc-client` and implements its duplex [`Connector`] trait:
//! [`WsConnector`] dials, and the client core owns ids, batches, subscriptions and reconnects.
//! Use `rpc-http` instead when the endpoint speaks only HTTP, or when subscriptions are not
//! needed and a stateless transport is preferred.
//!
//! # Behaviour
//!
//! - `wss://` uses rustls with the bundled webpki roots by default;
//!   [`WsConnectorBuilder::root_store`] and [`WsConnectorBuilder::tls_config`] replace them.
//! - Custom handshake headers; userinfo in the URL becomes `Authorization: Basic …` and is
//!   removed from the URL; an `Origin` header only when [`WsConnectorBuilder::origin`] is set;
//!   [`WsConnectorBuilder::auth_hook`] runs before every handshake (dial and redial), for
//!   headers that must be fresh such as an Engine-API JWT.
//! - Incoming message and frame limits (default 32 MiB, `None` for unlimited) are checked
//!   before a payload is buffered.
//! - After an idle interval (default 30 s) a ping is sent; the connection is dropped when no
//!   frame follows within the pong timeout. Server pings are answered.
//! - Text and binary messages are accepted; requests go out as text. Closing sends a close
//!   frame with code 1000.
//!
//! # Feature flags
//!
//! None.
//!
//! # Example
//!
//! ```no_run
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), rpc_client::Error> {
//! use futures::StreamExt;
//! use rpc_client::ClientBuilder;
//! use rpc_ws::WsConnector;
//!
//! let connector = WsConnector::builder("ws://127.0.0.1:8545")
//!     .header("x-client", "peerwire")
//!     .build()?;
//! let client = ClientBuilder::new().spawn_connect(connector).await?;
//! let chain_id: String = client.request("eth_chainId", ()).await?;
//! println!("chain {chain_id}");
//! let mut heads = client
//!     .subscribe::<serde_json::Value, _>("eth", ("newHeads",))
//!     .await?;
//! if let Some(head) = heads.next().await {
//!     println!("{}", head?["number"]);
//! }
//! client.close().await;
//! # Ok(())
//! # }
//! ```
#![cfg_attr(not(test), warn(unused_crate_dependencies))]

mod connector;
mod error;

pub use connector::{
    DEFAULT_MAX_MESSAGE_SIZE, DEFAULT_PING_INTERVAL, DEFAULT_PONG_TIMEOUT, WsConnector,
    WsConnectorBuilder, WsReceiver, WsSender, connect, spawn_connect,
};
pub use error::Error;
pub use rpc_client::Connector;
