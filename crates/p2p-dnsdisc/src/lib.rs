//! EIP-1459 DNS node lists.
//!
//! Placeholder: filled in below.

mod client;
pub mod entry;
mod error;
mod link;
mod resolver;
mod tree;
mod walk;

pub use client::{Client, Config, Resolved, SyncedTree};
pub use entry::{Entry, Root};
pub use error::{EntryError, Error, ResolveError};
pub use link::{LINK_PREFIX, Link, MAX_DOMAIN_BYTES};
pub use resolver::{FixtureResolver, HickoryResolver, Resolver};
pub use tree::Tree;
pub use walk::{DEFAULT_ROOT_RECHECK, MAX_CACHED_ENTRIES, RandomWalk};

/// The node record type: an ENR signed with the "v4" scheme by a secp256k1 key.
pub type Enr = enr::Enr<secp256k1::SecretKey>;
