//! Test support shared by peerwire's test and bench targets (never a normal dependency):
//!
//! - [`peer_env`]: a path or value set by `cargo xtask peers` / `cargo xtask test`, panicking
//!   with the "run cargo xtask test" message when it is missing (reference-peer tests never skip);
//! - [`free_port`]: a port free on 127.0.0.1 for both TCP and UDP;
//! - [`json_rpc`]: one JSON-RPC call over HTTP/1.0, bounded by a timeout;
//! - [`GethNode`]: a go-ethereum node in its own temporary directory, configured by a TOML file
//!   (`[Node.P2P]` listening on 127.0.0.1), started with [`GethBuilder::start`] (which waits for
//!   its HTTP JSON-RPC and reads `admin_nodeInfo`), killed and cleaned up on drop.
//!
//! ```
//! let port = peerwire_testkit::free_port();
//! assert!(std::net::TcpListener::bind(("127.0.0.1", port)).is_ok());
//! ```

mod geth;
mod rpc;

pub use geth::{GethBuilder, GethNode};
pub use rpc::json_rpc;

/// What can go wrong talking to a node in a test.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// Connecting, writing or reading failed.
    #[error("JSON-RPC over HTTP: {0}")]
    Io(#[from] std::io::Error),
    /// The call did not finish within its timeout.
    #[error("JSON-RPC over HTTP: no reply within {0:?}")]
    Timeout(std::time::Duration),
    /// The reply was not an HTTP response carrying a JSON-RPC object.
    #[error("JSON-RPC over HTTP: bad reply: {0}")]
    BadReply(String),
    /// The node answered with a JSON-RPC error object.
    #[error("JSON-RPC error from {method}: {error}")]
    Rpc {
        /// The method called.
        method: String,
        /// The reply's `error` member.
        error: serde_json::Value,
    },
}

impl Error {
    /// Whether the node was not (yet) reachable or did not answer, as opposed to answering badly.
    pub fn is_unreachable(&self) -> bool {
        matches!(self, Self::Io(_) | Self::Timeout(_))
    }
}

/// The environment variable `var`, set by `cargo xtask peers` / `cargo xtask test`.
///
/// # Panics
///
/// If `var` is unset or empty: a test that needs the reference peers never skips silently.
pub fn peer_env(var: &str) -> String {
    match std::env::var(var) {
        Ok(value) if !value.is_empty() => value,
        _ => {
            panic!("{var} is not set: this test needs the reference peers; run `cargo xtask test`")
        }
    }
}

/// A port free on 127.0.0.1 for both UDP and TCP (best effort: bound, then released).
///
/// # Panics
///
/// If no loopback socket can be bound at all.
pub fn free_port() -> u16 {
    loop {
        let udp =
            std::net::UdpSocket::bind("127.0.0.1:0").unwrap_or_else(|e| panic!("bind UDP: {e}"));
        let port = udp
            .local_addr()
            .unwrap_or_else(|e| panic!("local address: {e}"))
            .port();
        if std::net::TcpListener::bind(("127.0.0.1", port)).is_ok() {
            return port;
        }
    }
}
