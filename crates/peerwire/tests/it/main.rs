//! Integration tests of the `peerwire` binary: argument and URL errors, unreachable endpoints,
//! calls and subscriptions against an in-process WebSocket server, and against ganache when
//! `cargo xtask test` started it; block import and export.

mod args;
mod devnet;
mod discovery;
mod ganache;
mod geth;
mod http;
mod http_server;
mod import;
mod pss;
mod server;
mod support;
mod ws;
