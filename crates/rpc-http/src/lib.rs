//! HTTP transport for [`rpc_client`]: reqwest with rustls, per-request auth hooks and an
//! Engine-API JWT provider.
//!
//! # Where it sits
//!
//! `rpc-http` depends only on `rpc-client` and implements its [`RequestTransport`] trait: one
//! `POST` (content type `application/json`) per call, batch or notification; no background
//! task. Use `rpc-ws` instead when subscriptions are needed: over HTTP they fail with
//! [`rpc_client::Error::NotificationsUnsupported`].
//!
//! # Behaviour
//!
//! - Static headers ([`HttpTransportBuilder::header`]) and per-request headers
//!   ([`rpc_client::CallOptions::header`]); an [`AuthProvider`] runs before every request, and
//!   [`JwtAuth`] mints an HS256 token with a fresh `iat` each time.
//! - gzip responses are requested and decoded; request and connect timeouts; a response-size
//!   limit (default 256 MiB).
//! - A non-2xx status gives [`rpc_client::Error::Http`] with the status, the body (plain text
//!   too) and `Retry-After`.
//! - Notifications only wait for the status line: the body, `null` or anything else, is not
//!   read.
//! - HTTP/1.1 with keep-alive; redirects are not followed (a 3xx is an HTTP error); proxies from
//!   the environment are honoured.
//!
//! # Feature flags
//!
//! None.
//!
//! # Example
//!
//! ```no_run
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! use rpc_client::ClientBuilder;
//! use rpc_http::{HttpTransport, JwtAuth};
//!
//! let transport = HttpTransport::builder("http://127.0.0.1:8551")
//!     .auth(JwtAuth::from_hex(&std::fs::read_to_string("jwt.hex")?)?)
//!     .build()?;
//! let client = ClientBuilder::new().build_request(transport);
//! let block: String = client.request("eth_blockNumber", ()).await?;
//! println!("{block}");
//! # Ok(())
//! # }
//! ```
#![cfg_attr(not(test), warn(unused_crate_dependencies))]

mod error;
mod jwt;
mod transport;

pub use error::Error;
pub use jwt::{AuthProvider, JwtAuth};
pub use rpc_client::RequestTransport;
pub use transport::{
    DEFAULT_CONNECT_TIMEOUT, DEFAULT_MAX_RESPONSE_SIZE, HttpTransport, HttpTransportBuilder, client,
};
