//! The crate's errors: [`Error`] for everything a tree sync can hit, [`EntryError`] for one TXT
//! entry's text, and [`ResolveError`] for what a [`Resolver`](crate::Resolver) reports.

/// Why one entry's text is not a valid EIP-1459 entry.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum EntryError {
    /// The text starts with none of `enrtree-root:v1`, `enrtree-branch:`, `enr:`, `enrtree://`.
    #[error("unknown entry kind")]
    UnknownKind,
    /// An `enrtree-root:v1` entry is not `enrtree-root:v1 e=<hash> l=<hash> seq=<n> sig=<sig>`.
    #[error("bad root entry: {0}")]
    Root(&'static str),
    /// An `enrtree-branch:` entry has a child that is not a base32 hash.
    #[error("bad branch entry: {0}")]
    Branch(&'static str),
    /// An `enr:` entry is not a valid node record.
    #[error("bad enr entry: {0}")]
    Enr(String),
    /// An `enrtree://` link is not `enrtree://<base32 compressed key>@<domain>`.
    #[error("bad enrtree link: {0}")]
    Link(&'static str),
}

/// Why a name could not be looked up.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ResolveError {
    /// The name does not exist, or has no TXT records.
    #[error("no txt records")]
    NotFound,
    /// The lookup did not answer in time.
    #[error("lookup timed out")]
    Timeout,
    /// Any other resolver failure (network, server failure, malformed answer).
    #[error("resolver failure: {0}")]
    Failed(String),
}

impl ResolveError {
    /// Whether the lookup timed out.
    pub const fn is_timeout(&self) -> bool {
        matches!(self, Self::Timeout)
    }

    /// Whether the name has no TXT records.
    pub const fn is_not_found(&self) -> bool {
        matches!(self, Self::NotFound)
    }
}

/// Everything that can go wrong while resolving or checking a DNS node tree.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The TXT record at `name` is not a valid entry.
    #[error("entry at {name}")]
    Entry {
        /// The DNS name looked up.
        name: String,
        /// What is wrong with its text.
        #[source]
        source: EntryError,
    },
    /// The TXT record at a tree's domain is not a root entry.
    #[error("no root entry at {name}")]
    NotRoot {
        /// The domain looked up.
        name: String,
    },
    /// The root's signature is not by the key the link names.
    #[error("bad root signature at {name}")]
    BadSignature {
        /// The tree's domain.
        name: String,
    },
    /// An entry's keccak256 does not start with the hash its name promises (a tampered entry).
    #[error("hash mismatch at {name}")]
    HashMismatch {
        /// The DNS name looked up.
        name: String,
    },
    /// A link in the ENR subtree, or a node record in the link subtree.
    #[error("{kind} entry in the {subtree} subtree at {name}")]
    WrongSubtree {
        /// The DNS name looked up.
        name: String,
        /// The kind found (`"link"` or `"enr"`).
        kind: &'static str,
        /// The subtree it was found in (`"enr"` or `"link"`).
        subtree: &'static str,
    },
    /// Following links came back to a tree already on the path.
    #[error("link loop through {domain}")]
    LinkLoop {
        /// The domain reached twice.
        domain: String,
    },
    /// Branches nested deeper than [`Config::max_depth`](crate::Config::max_depth), or links deeper
    /// than [`Config::max_link_depth`](crate::Config::max_link_depth).
    #[error("depth limit {limit} exceeded at {name}")]
    DepthLimit {
        /// The DNS name that would have been one level too deep.
        name: String,
        /// The limit.
        limit: usize,
    },
    /// More entries (or more linked trees) than the configured limits.
    #[error("more than {limit} {what}")]
    TooMany {
        /// What was counted (`"entries"` or `"trees"`).
        what: &'static str,
        /// The limit.
        limit: usize,
    },
    /// A TXT record that starts like an entry and is longer than
    /// [`Config::max_txt_bytes`](crate::Config::max_txt_bytes) (other oversized records are dropped).
    #[error("txt record at {name} is {len} bytes, over the {limit}-byte limit")]
    OversizedTxt {
        /// The DNS name looked up.
        name: String,
        /// The record's length.
        len: usize,
        /// The limit.
        limit: usize,
    },
    /// The lookup of `name` failed.
    #[error("lookup of {name}")]
    Resolve {
        /// The DNS name looked up.
        name: String,
        /// What the resolver said.
        #[source]
        source: ResolveError,
    },
}

impl Error {
    /// Whether a lookup timed out.
    pub const fn is_timeout(&self) -> bool {
        matches!(
            self,
            Self::Resolve {
                source: ResolveError::Timeout,
                ..
            }
        )
    }

    /// Whether the tree's content failed an authenticity check (a bad signature or a hash mismatch).
    pub const fn is_tampered(&self) -> bool {
        matches!(self, Self::BadSignature { .. } | Self::HashMismatch { .. })
    }

    /// Whether a configured limit (depth, count, TXT size) or the loop check stopped the sync.
    pub const fn is_limit(&self) -> bool {
        matches!(
            self,
            Self::DepthLimit { .. }
                | Self::TooMany { .. }
                | Self::OversizedTxt { .. }
                | Self::LinkLoop { .. }
        )
    }

    /// Whether retrying later may help (a resolver failure or timeout rather than bad content).
    pub const fn is_retryable(&self) -> bool {
        matches!(self, Self::Resolve { .. })
    }
}
