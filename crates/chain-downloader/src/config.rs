//! Sync modes and the downloader's tunables.
//!
//! The defaults are go-ethereum's pre-merge constants (`eth/downloader`, v1.10.3) where they exist; the memory
//! budget is new: the result cache is bounded by items *and* by bytes.

use std::time::Duration;

/// What a sync downloads.
///
/// No mode executes transactions or downloads state: `Full` and `Fast` store blocks (and receipts) after checking
/// them against their headers' commitments only. Executing them is the job of whoever consumes the store.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
#[non_exhaustive]
pub enum SyncMode {
    /// Headers and bodies; bodies are checked against the transactions root, the ommers hash and the withdrawals
    /// root.
    #[default]
    Full,
    /// Headers, bodies and receipts; receipts are also checked against the receipts root. (go-ethereum's fast sync
    /// also fetched the state at a pivot block; this crate does not.)
    Fast,
    /// Headers only.
    Light,
}

impl SyncMode {
    /// Whether bodies are downloaded.
    pub const fn bodies(self) -> bool {
        matches!(self, Self::Full | Self::Fast)
    }

    /// Whether receipts are downloaded.
    pub const fn receipts(self) -> bool {
        matches!(self, Self::Fast)
    }
}

impl std::fmt::Display for SyncMode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Self::Full => "full",
            Self::Fast => "fast",
            Self::Light => "light",
        })
    }
}

/// Highest head number accepted (2^48 blocks, ages away), so that block-number arithmetic cannot overflow on a
/// peer's say-so.
pub(crate) const MAX_HEAD_NUMBER: u64 = 1 << 48;

/// Headers per fill request and skeleton spacing (go-ethereum `MaxHeaderFetch`).
pub const MAX_HEADER_FETCH: u64 = 192;
/// Skeleton headers per request (go-ethereum `MaxSkeletonSize`).
pub const MAX_SKELETON_SIZE: u64 = 128;
/// Bodies per request (go-ethereum `MaxBlockFetch`).
pub const MAX_BLOCK_FETCH: usize = 128;
/// Receipt lists per request (go-ethereum `MaxReceiptFetch`).
pub const MAX_RECEIPT_FETCH: usize = 256;

/// The downloader's tunables. `Config::default()` gives go-ethereum's values.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct Config {
    /// Headers per fill request and distance between skeleton headers (192).
    pub max_header_fetch: u64,
    /// Skeleton headers per request (128).
    pub max_skeleton_size: u64,
    /// Most bodies per request (128).
    pub max_block_fetch: usize,
    /// Most receipt lists per request (256).
    pub max_receipt_fetch: usize,
    /// Deepest reorg accepted in full and fast modes, in blocks (90 000).
    pub full_max_fork_ancestry: u64,
    /// Deepest reorg accepted in light mode, in blocks (30 000).
    pub light_max_fork_ancestry: u64,
    /// Most blocks held in the result cache (8192).
    pub cache_max_items: usize,
    /// Blocks the cache may hold before the average block size is known (2048).
    pub cache_initial_items: usize,
    /// Byte budget of the result cache (64 MiB); the item limit follows the average block size.
    pub cache_max_bytes: usize,
    /// Most validated headers waiting for a cache slot (8192); bounds header memory ahead of the cache. In the
    /// trusted-head sync it also bounds the downloaded headers held in memory before they link.
    pub max_queued_headers: usize,
    /// Most blocks written to the store per batch (2048); every batch is one atomic store write.
    pub import_batch: usize,
    /// Peers whose head is below this number are refused in fast and light modes (`UnsyncedPeer`).
    pub checkpoint: Option<u64>,
    /// Run the header validator on every n-th header only (1 = every header). Linkage, numbering and hashes are
    /// always checked.
    pub header_check_frequency: u64,
    /// When header validation is sampled (`header_check_frequency > 1`), how many of the last imported headers a
    /// failed sync rolls back (2048).
    pub rollback_depth: u64,
    /// Smallest round-trip estimate (2 s).
    pub rtt_min: Duration,
    /// Largest round-trip estimate, and the initial one (20 s).
    pub rtt_max: Duration,
    /// Longest request timeout (60 s).
    pub ttl_limit: Duration,
    /// Invalid deliveries (bad bodies, inconsistent headers, over-long replies) after which a helper peer is
    /// dropped (3).
    pub max_strikes: u32,
    /// Most hashes remembered per peer as "lacking" (4096).
    pub max_lacking: usize,
    /// Headers per reverse request in the trusted-head sync (1024, eth's `GetBlockHeaders` serving limit).
    pub reverse_batch: u64,
}

impl Default for Config {
    fn default() -> Self {
        Self {
            max_header_fetch: MAX_HEADER_FETCH,
            max_skeleton_size: MAX_SKELETON_SIZE,
            max_block_fetch: MAX_BLOCK_FETCH,
            max_receipt_fetch: MAX_RECEIPT_FETCH,
            full_max_fork_ancestry: 90_000,
            light_max_fork_ancestry: 30_000,
            cache_max_items: 8192,
            cache_initial_items: 2048,
            cache_max_bytes: 64 << 20,
            max_queued_headers: 8192,
            import_batch: 2048,
            checkpoint: None,
            header_check_frequency: 1,
            rollback_depth: 2048,
            rtt_min: Duration::from_secs(2),
            rtt_max: Duration::from_secs(20),
            ttl_limit: Duration::from_secs(60),
            max_strikes: 3,
            max_lacking: 4096,
            reverse_batch: 1024,
        }
    }
}

impl Config {
    /// The deepest reorg accepted in `mode`.
    pub const fn max_fork_ancestry(&self, mode: SyncMode) -> u64 {
        match mode {
            SyncMode::Light => self.light_max_fork_ancestry,
            SyncMode::Full | SyncMode::Fast => self.full_max_fork_ancestry,
        }
    }

    /// Sets both fork-ancestry limits.
    #[must_use]
    pub const fn with_max_fork_ancestry(mut self, blocks: u64) -> Self {
        self.full_max_fork_ancestry = blocks;
        self.light_max_fork_ancestry = blocks;
        self
    }

    /// Sets the cache limits: items and bytes.
    #[must_use]
    pub const fn with_cache(mut self, max_items: usize, max_bytes: usize) -> Self {
        self.cache_max_items = max_items;
        if self.cache_initial_items > max_items {
            self.cache_initial_items = max_items;
        }
        self.cache_max_bytes = max_bytes;
        self
    }

    /// Sets the checkpoint.
    #[must_use]
    pub const fn with_checkpoint(mut self, number: u64) -> Self {
        self.checkpoint = Some(number);
        self
    }

    /// Sets the import batch size.
    #[must_use]
    pub const fn with_import_batch(mut self, blocks: usize) -> Self {
        self.import_batch = blocks;
        self
    }

    /// Sets the headers per reverse request of the trusted-head sync.
    #[must_use]
    pub const fn with_reverse_batch(mut self, headers: u64) -> Self {
        self.reverse_batch = headers;
        self
    }

    /// Sets how many validated headers may wait ahead of the result cache (and, in the trusted-head sync, how
    /// many downloaded headers may wait to link).
    #[must_use]
    pub const fn with_max_queued_headers(mut self, headers: usize) -> Self {
        self.max_queued_headers = headers;
        self
    }

    /// Sets the header sampling frequency.
    #[must_use]
    pub const fn with_header_check_frequency(mut self, every: u64) -> Self {
        self.header_check_frequency = every;
        self
    }

    /// Sets the header fetch size and skeleton size (smaller values make small test chains use the skeleton).
    #[must_use]
    pub const fn with_header_fetch(
        mut self,
        max_header_fetch: u64,
        max_skeleton_size: u64,
    ) -> Self {
        self.max_header_fetch = max_header_fetch;
        self.max_skeleton_size = max_skeleton_size;
        self
    }
}
