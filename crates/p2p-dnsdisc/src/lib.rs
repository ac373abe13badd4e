//! EIP-1459 DNS node lists: finding Ethereum peers through signed trees of node records published
//! as DNS TXT records.
//!
//! A tree is named by a link, `enrtree://<base32 compressed public key>@<domain>` ([`Link`]). The
//! TXT record at the domain is the signed root ([`Root`]: `enrtree-root:v1 e=… l=… seq=… sig=…`);
//! it names two subtrees by the abbreviated keccak256 hashes of their top entries. Every other
//! entry ([`Entry`]) lives at `<hash>.<domain>` and must hash to its name: branches
//! (`enrtree-branch:`) list child hashes, leaves are node records (`enr:`, in the ENR subtree) or
//! links to other trees (`enrtree://`, in the link subtree).
//!
//! - [`Client`] resolves whole trees and the trees their links reach ([`Client::resolve`]), within
//!   the limits of a [`Config`] (branch depth, link depth, trees, entries, TXT size, per-lookup
//!   timeout, concurrent lookups), and fetches a tree again only when its sequence number rises.
//! - [`RandomWalk`] hands out one random record per call, fetching only the entries on the way
//!   down (what a dialer wants, and what EIP-1459 recommends over downloading whole trees).
//! - [`Tree`] builds and signs a tree and lays it out as TXT records, like geth's
//!   `devp2p dns sign` + `to-txt`.
//! - [`Resolver`] is the TXT lookup behind the client: [`HickoryResolver`] asks real DNS servers
//!   (`hickory-resolver` on tokio), [`FixtureResolver`] is an in-memory map for tests and for
//!   serving a tree one has just signed; [`BoxResolver`] holds either behind one type.
//!
//! Every check names its failure ([`Error`]): a bad root, a bad signature, a tampered entry (hash
//! mismatch), an unknown or misplaced entry, a link loop, a limit exceeded, an oversized TXT
//! record, a resolver failure or timeout.
//!
//! # Layering
//!
//! A p2p leaf: it depends on no workspace crate. It yields [`Enr`]s; turning them into dial
//! candidates and filtering them by their `eth` entry is the peer pool's job (`p2p-discovery`).
//!
//! # When not to use it
//!
//! To find peers on the DHT itself use discv4 or discv5; DNS lists are a bootstrap and fallback
//! source, updated by their publishers every few minutes at best.
//!
//! # Feature flags
//!
//! None.
//!
//! # Example
//!
//! ```
//! use p2p_dnsdisc::{Client, Config, Enr, Error, FixtureResolver, Tree};
//! use secp256k1::SecretKey;
//!
//! # tokio::runtime::Builder::new_current_thread().enable_time().build().unwrap().block_on(async {
//! // Publish a tree of 30 records signed by a key of our own.
//! let signer = SecretKey::from_secret_bytes([1; 32]).unwrap();
//! let nodes: Vec<Enr> = (1..=30u8)
//!     .map(|i| {
//!         let key = SecretKey::from_secret_bytes([i + 1; 32]).unwrap();
//!         Enr::builder().ip4([127, 0, 0, i].into()).tcp4(30303).build(&key).unwrap()
//!     })
//!     .collect();
//! let tree = Tree::sign(&nodes, &[], 1, &signer);
//! let dns = FixtureResolver::new();
//! dns.extend(tree.txt_records("nodes.example.org"));
//! let link = tree.link("nodes.example.org").unwrap();
//! assert!(link.to_string().starts_with("enrtree://"));
//!
//! // Resolve it.
//! let mut client = Client::new(&dns, Config::default());
//! let resolved = client.resolve(&link).await.unwrap();
//! assert_eq!(resolved.records.len(), 30);
//!
//! // Tamper with one leaf: the client notices.
//! let (name, _) = tree.txt_records("nodes.example.org")
//!     .into_iter()
//!     .find(|(_, text)| text.starts_with("enr:"))
//!     .unwrap();
//! dns.set(&name, nodes[0].to_base64().replace('A', "B"));
//! let mut client = Client::new(&dns, Config::default());
//! assert!(matches!(client.resolve(&link).await, Err(Error::HashMismatch { .. })));
//! # });
//! ```

#![cfg_attr(not(test), warn(unused_crate_dependencies))]

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
pub use resolver::{BoxResolver, FixtureResolver, HickoryResolver, Resolver};
pub use tree::Tree;
pub use walk::{DEFAULT_ROOT_RECHECK, MAX_CACHED_ENTRIES, RandomWalk};

/// The node record type: an ENR signed with the "v4" scheme by a secp256k1 key.
pub type Enr = enr::Enr<secp256k1::SecretKey>;
