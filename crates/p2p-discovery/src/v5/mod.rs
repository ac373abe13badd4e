//! Discovery v5.1 through sigp's `discv5` crate.
//!
//! [`Discv5::bind`] starts a discv5 node keyed by the same secp256k1 [`NodeKey`] as peerwire's
//! RLPx host and discv4: the 32 secret bytes become discv5's `CombinedKey`, so the discv5 node id
//! (keccak256 of the public key) and the record are the ones discv4 announces. Records discv5 finds
//! are re-parsed into peerwire's [`Enr`] and handed out as [`Candidate`]s with
//! [`Source::Discv5`](crate::Source::Discv5); records that do not convert (an ed25519 record, no
//! RLPx endpoint) are counted and skipped.
//!
//! The handle is cheap to clone. The discv5 service runs in tasks on the current tokio runtime
//! (the crate spawns them itself); the handle adds one more task that turns discv5's single event
//! stream into any number of [`Discv5Events`] subscriptions and answers TALKREQ with an empty
//! TALKRESP (the spec's answer for a protocol the node does not speak).
//!
//! See [`Discv5Config`] for how the record's address is chosen: a discv5 session only helps if the
//! remote can answer on the address the record announces, so on loopback the record says
//! `127.0.0.1` and the bound port.
//!
//! # Example
//!
//! ```no_run
//! # async fn example() -> Result<(), p2p_discovery::Error> {
//! use p2p_discovery::v5::{Discv5, Discv5Config};
//! use p2p_rlpx::NodeKey;
//!
//! let key = NodeKey::generate();
//! let config = Discv5Config::new("127.0.0.1:30303".parse().unwrap())
//!     .tcp_port(30303)
//!     .bootnode_text("enr:-IS4QHCYrYZbAKWCBRlAy5zzaDZXJBGkcnh4MHcBFZntXNFrdvJjX04jRzjzCBOonrkTfj499SZuOh8R33Ls8RRcy5wBgmlkgnY0gmlwhH8AAAGJc2VjcDI1NmsxoQPKY0yuDUmstAHYpMa2_oxVtw0RW_QAdpzBQA8yWM0xOIN1ZHCCdl8")?;
//! let discv5 = Discv5::bind(&key, config).await?;
//! println!("{}", discv5.local_enr_text());
//! let mut candidates = discv5.subscribe();
//! discv5.lookup_random().await?;
//! while let Some(candidate) = candidates.recv().await {
//!     println!("{}", candidate.enode);
//! }
//! # Ok(())
//! # }
//! ```

mod config;
pub mod convert;

use std::fmt;
use std::net::{IpAddr, SocketAddr, UdpSocket};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError, RwLock};
use std::time::Duration;

use bytes::Bytes;
use discv5::{ConfigBuilder, Event, ListenConfig};
use enr::NodeId;
use p2p_rlpx::NodeKey;
use tokio::sync::broadcast;

pub use config::{
    DEFAULT_EVENT_CAPACITY, DEFAULT_PING_INTERVAL, DEFAULT_QUERY_TIMEOUT, DEFAULT_REQUEST_TIMEOUT,
    Discv5Config, parse_enr,
};
pub use convert::{candidate_of, log_distance, node_id_of};

use crate::eth_entry::{ENR_KEY, EthEntry};
use crate::{Candidate, Enr, Error};

/// Extra time beyond the query timeout before a lookup is abandoned by the wrapper itself.
const LOOKUP_GRACE: Duration = Duration::from_secs(5);

/// A running discv5 node.
///
/// # Drop behavior
///
/// The service stops when the last clone is dropped (or at [`Discv5::shutdown`]); subscriptions
/// then end.
#[derive(Clone)]
pub struct Discv5 {
    inner: Arc<Inner>,
}

struct Inner {
    service: RwLock<discv5::Discv5>,
    key: NodeKey,
    listen: SocketAddr,
    query_timeout: Duration,
    events: Mutex<Option<broadcast::Sender<Candidate>>>,
    counters: Arc<Counters>,
}

impl fmt::Debug for Discv5 {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Discv5")
            .field("node_id", &self.node_id())
            .field("listen", &self.inner.listen)
            .finish_non_exhaustive()
    }
}

#[derive(Debug, Default)]
struct Counters {
    lookups: AtomicU64,
    lookup_failures: AtomicU64,
    discovered: AtomicU64,
    skipped: AtomicU64,
    sessions: AtomicU64,
    unverifiable: AtomicU64,
    talk_requests: AtomicU64,
}

/// A snapshot of a node's counters.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct Discv5Stats {
    /// Lookups started through this handle.
    pub lookups: u64,
    /// Lookups that failed or timed out.
    pub lookup_failures: u64,
    /// Records discv5 reported and that converted into candidates.
    pub discovered: u64,
    /// Records discv5 reported that did not convert (no RLPx endpoint, not a "v4" record).
    pub skipped: u64,
    /// Sessions established (either direction).
    pub sessions: u64,
    /// Peers whose record did not match the address their packets came from.
    pub unverifiable: u64,
    /// TALKREQs answered (always with an empty response).
    pub talk_requests: u64,
    /// Nodes in the routing table now.
    pub table_size: usize,
    /// Nodes with a connected session now.
    pub connected: usize,
}

impl Discv5 {
    /// Starts a discv5 node with the identity `key`.
    ///
    /// The record announces `config.tcp_port` (if any), the UDP port actually bound, the IP chosen
    /// by [`Discv5Config::announced_ip`], and `config.entries`. Bootnodes go into the routing
    /// table; nothing is sent until the first lookup or until a peer contacts the node.
    ///
    /// # Errors
    ///
    /// [`Error::Discv5Key`], [`Error::Discv5Record`] (an entry is reserved or the record exceeds
    /// 300 bytes), [`Error::Discv5Bind`] (the socket), [`Error::Discv5Start`], or
    /// [`Error::BadBootnode`] (a bootnode without a UDP address of the listen family).
    ///
    /// # Panics
    ///
    /// Outside a tokio runtime (discv5 spawns its tasks on the current one).
    ///
    /// # Cancel safety
    ///
    /// Cancelling drops the half-started node; nothing outlives it.
    pub async fn bind(key: &NodeKey, config: Discv5Config) -> Result<Self, Error> {
        let combined = convert::combined_key(key)?;
        let listen = concrete_port(config.listen)?;
        let announced = config.announced_ip();

        let mut builder = enr::Enr::builder();
        if let Some(ip) = announced {
            builder.ip(ip);
            match ip {
                IpAddr::V4(_) => builder.udp4(listen.port()),
                IpAddr::V6(_) => builder.udp6(listen.port()),
            };
        }
        if let Some(tcp) = config.tcp_port {
            match announced.unwrap_or(listen.ip()) {
                IpAddr::V4(_) => builder.tcp4(tcp),
                IpAddr::V6(_) => builder.tcp6(tcp),
            };
        }
        for (entry, rlp) in &config.entries {
            builder.add_value_rlp(entry, Bytes::from(rlp.clone()));
        }
        let record = builder
            .build(&combined)
            .map_err(|e| Error::Discv5Record(e.to_string()))?;

        let mut settings = ConfigBuilder::new(ListenConfig::from_ip(listen.ip(), listen.port()));
        settings
            .request_timeout(config.request_timeout)
            .query_peer_timeout(config.request_timeout)
            .query_timeout(config.query_timeout)
            .ping_interval(config.ping_interval);
        if announced.is_some() {
            // The address is known; PONG votes must not rewrite it (on loopback every peer
            // reports 127.0.0.1, and fewer than the voting minimum exist anyway).
            settings.disable_enr_update();
        }
        if config.packet_filter {
            settings.enable_packet_filter();
        }
        let mut service = discv5::Discv5::new(record, combined, settings.build())
            .map_err(|e| Error::Discv5Start(e.to_owned()))?;
        service.start().await.map_err(|e| match e {
            discv5::Error::Io(source) => Error::Discv5Bind {
                addr: listen,
                source,
            },
            e => Error::Discv5Start(format!("{e:?}")),
        })?;
        for bootnode in &config.bootnodes {
            let record = convert::from_enr(bootnode)?;
            service
                .add_enr(record)
                .map_err(|reason| Error::BadBootnode(reason.to_owned()))?;
        }
        let stream = service
            .event_stream()
            .await
            .map_err(|e| Error::Discv5Start(format!("{e:?}")))?;
        let (sender, _) = broadcast::channel(config.event_capacity.max(1));
        let counters = Arc::new(Counters::default());
        // The forwarder ends when discv5's service stops and drops its end of the stream.
        tokio::spawn(forward(stream, sender.clone(), Arc::clone(&counters)));
        Ok(Self {
            inner: Arc::new(Inner {
                service: RwLock::new(service),
                key: key.clone(),
                listen,
                query_timeout: config.query_timeout,
                events: Mutex::new(Some(sender)),
                counters,
            }),
        })
    }

    fn service(&self) -> std::sync::RwLockReadGuard<'_, discv5::Discv5> {
        self.inner
            .service
            .read()
            .unwrap_or_else(PoisonError::into_inner)
    }

    /// The UDP address the node listens on (with the port actually bound).
    #[must_use]
    pub fn listen_addr(&self) -> SocketAddr {
        self.inner.listen
    }

    /// The node's discv5 id: keccak256 of its public key.
    #[must_use]
    pub fn node_id(&self) -> NodeId {
        self.service().local_enr().node_id()
    }

    /// The node's current record, as discv5 holds it.
    #[must_use]
    pub fn local_discv5_enr(&self) -> discv5::Enr {
        self.service().local_enr()
    }

    /// The node's current record as peerwire's record type.
    ///
    /// # Errors
    ///
    /// [`Error::BadRecord`] never in practice (the node signed the record with a secp256k1 key).
    pub fn local_enr(&self) -> Result<Enr, Error> {
        convert::to_enr(&self.local_discv5_enr())
    }

    /// The node's current record as `enr:` text.
    #[must_use]
    pub fn local_enr_text(&self) -> String {
        self.local_discv5_enr().to_base64()
    }

    /// Runs an iterative lookup towards `target` and returns the dialable nodes it found, closest
    /// first.
    ///
    /// # Errors
    ///
    /// [`Error::Discv5Query`] when discv5 fails the query, [`Error::Discv5Timeout`] when it does not
    /// finish within the query timeout (plus a few seconds), [`Error::Discv5Shutdown`] after
    /// [`Discv5::shutdown`].
    ///
    /// # Cancel safety
    ///
    /// Cancelling abandons the result; discv5 finishes the query on its own.
    pub async fn find_node(&self, target: NodeId) -> Result<Vec<Candidate>, Error> {
        let query = self.service().find_node(target);
        let counters = &self.inner.counters;
        counters.lookups.fetch_add(1, Ordering::Relaxed);
        let bound = self.inner.query_timeout + LOOKUP_GRACE;
        let result = match tokio::time::timeout(bound, query).await {
            Err(_) => Err(Error::Discv5Timeout(bound)),
            Ok(Err(discv5::QueryError::ServiceNotStarted)) => Err(Error::Discv5Shutdown),
            Ok(Err(e)) => Err(Error::Discv5Query(format!("{e}"))),
            Ok(Ok(records)) => Ok(records
                .iter()
                .filter_map(|record| convert::candidate_of(record).ok())
                .collect()),
        };
        if result.is_err() {
            counters.lookup_failures.fetch_add(1, Ordering::Relaxed);
        }
        result
    }

    /// A lookup towards a random id: the usual way to fill the table and find new nodes.
    ///
    /// # Errors
    ///
    /// As [`Discv5::find_node`].
    ///
    /// # Cancel safety
    ///
    /// As [`Discv5::find_node`].
    pub async fn lookup_random(&self) -> Result<Vec<Candidate>, Error> {
        self.find_node(NodeId::random()).await
    }

    /// Asks one node for the records in its table at the given log-distances from its own id
    /// (a FINDNODE without the iterative lookup; distance 0 is the node's own record).
    ///
    /// # Errors
    ///
    /// [`Error::Discv5Query`] when the request fails (no answer within the request timeout and
    /// retries, a malformed answer), [`Error::Discv5Timeout`] as a last resort,
    /// [`Error::Discv5Shutdown`] after [`Discv5::shutdown`].
    ///
    /// # Cancel safety
    ///
    /// Cancelling abandons the result.
    pub async fn nodes_at(&self, node: &Enr, distances: Vec<u64>) -> Result<Vec<Enr>, Error> {
        let record = convert::from_enr(node)?;
        let request = self.service().find_node_designated_peer(record, distances);
        let bound = self.inner.query_timeout + LOOKUP_GRACE;
        match tokio::time::timeout(bound, request).await {
            Err(_) => Err(Error::Discv5Timeout(bound)),
            Ok(Err(discv5::RequestError::ServiceNotStarted)) => Err(Error::Discv5Shutdown),
            Ok(Err(e)) => Err(Error::Discv5Query(format!("{e}"))),
            Ok(Ok(records)) => Ok(records
                .iter()
                .filter_map(|record| convert::to_enr(record).ok())
                .collect()),
        }
    }

    /// Runs random lookups one after the other, each `interval` after the previous one started,
    /// until the node shuts down: the refresh a long-running node needs (discv5 itself only
    /// answers and revalidates; it looks up nothing on its own). Found nodes reach the
    /// subscriptions.
    ///
    /// The caller spawns it (or selects on it); it returns once the node has shut down.
    ///
    /// # Cancel safety
    ///
    /// Cancel safe: dropping it stops the refresh and nothing else.
    pub async fn run_lookups(&self, interval: Duration) {
        let mut ticker = tokio::time::interval(interval);
        ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            ticker.tick().await;
            match self.lookup_random().await {
                Err(Error::Discv5Shutdown) => return,
                Err(e) => tracing::debug!(error = %e, "discv5: refresh lookup failed"),
                Ok(found) => tracing::trace!(found = found.len(), "discv5: refresh lookup"),
            }
        }
    }

    /// The records in the routing table (those that convert to peerwire's record type).
    #[must_use]
    pub fn table_entries(&self) -> Vec<Enr> {
        self.service()
            .table_entries_enr()
            .iter()
            .filter_map(|record| convert::to_enr(record).ok())
            .collect()
    }

    /// Adds a node's record to the routing table, as if it were a bootnode.
    ///
    /// # Errors
    ///
    /// [`Error::BadBootnode`] when discv5 refuses it (no UDP address of the listen family, bucket
    /// full).
    pub fn add_enr(&self, record: &Enr) -> Result<(), Error> {
        let record = convert::from_enr(record)?;
        self.service()
            .add_enr(record)
            .map_err(|reason| Error::BadBootnode(reason.to_owned()))
    }

    /// A new subscription to the candidates this node discovers from now on (records found by
    /// lookups, its own or a peer's, and peers that establish a session).
    ///
    /// The same node may be reported many times; the peer pool deduplicates.
    #[must_use]
    pub fn subscribe(&self) -> Discv5Events {
        let guard = self
            .inner
            .events
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        Discv5Events {
            receiver: guard.as_ref().map(broadcast::Sender::subscribe),
            lagged: 0,
        }
    }

    /// Sets (or replaces) a raw entry of the node's record and bumps its sequence number; peers see
    /// the new record at their next PING.
    ///
    /// # Errors
    ///
    /// [`Error::Discv5Record`] when the key is reserved (`id`, `secp256k1`, `ip`, ...) with a value
    /// of the wrong form or the record would exceed 300 bytes; [`Error::Discv5Key`] never in
    /// practice.
    pub fn set_entry(&self, entry: &str, rlp: Vec<u8>) -> Result<(), Error> {
        let key = convert::combined_key(&self.inner.key)?;
        let record = self.service().external_enr();
        let mut record = record.write();
        record
            .insert_raw_rlp(entry, Bytes::from(rlp), &key)
            .map(|_| ())
            .map_err(|e| Error::Discv5Record(e.to_string()))
    }

    /// Sets the record's `eth` entry (after a fork, say).
    ///
    /// # Errors
    ///
    /// As [`Discv5::set_entry`].
    pub fn set_eth_entry(&self, entry: &EthEntry) -> Result<(), Error> {
        self.set_entry(ENR_KEY, entry.to_rlp())
    }

    /// The node's counters and table size.
    #[must_use]
    pub fn stats(&self) -> Discv5Stats {
        let c = &self.inner.counters;
        let service = self.service();
        Discv5Stats {
            lookups: c.lookups.load(Ordering::Relaxed),
            lookup_failures: c.lookup_failures.load(Ordering::Relaxed),
            discovered: c.discovered.load(Ordering::Relaxed),
            skipped: c.skipped.load(Ordering::Relaxed),
            sessions: c.sessions.load(Ordering::Relaxed),
            unverifiable: c.unverifiable.load(Ordering::Relaxed),
            talk_requests: c.talk_requests.load(Ordering::Relaxed),
            table_size: service.table_entries_id().len(),
            connected: service.connected_peers(),
        }
    }

    /// Stops the node for every clone: the socket closes, lookups fail with
    /// [`Error::Discv5Shutdown`], subscriptions end once they have drained.
    pub fn shutdown(&self) {
        self.inner
            .service
            .write()
            .unwrap_or_else(PoisonError::into_inner)
            .shutdown();
        self.inner
            .events
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .take();
    }
}

/// A subscription to a node's discovered candidates (see [`Discv5::subscribe`]).
///
/// Bounded: a subscriber more than the configured capacity behind loses the oldest candidates
/// (counted in [`Discv5Events::lagged`]) rather than holding memory.
#[derive(Debug)]
pub struct Discv5Events {
    receiver: Option<broadcast::Receiver<Candidate>>,
    lagged: u64,
}

impl Discv5Events {
    /// The next candidate; `None` once the node has shut down and the backlog is drained.
    ///
    /// # Cancel safety
    ///
    /// Cancel safe: a cancelled call loses no candidate.
    pub async fn recv(&mut self) -> Option<Candidate> {
        let receiver = self.receiver.as_mut()?;
        loop {
            match receiver.recv().await {
                Ok(candidate) => return Some(candidate),
                Err(broadcast::error::RecvError::Lagged(n)) => self.lagged += n,
                Err(broadcast::error::RecvError::Closed) => return None,
            }
        }
    }

    /// How many candidates this subscriber lost by falling behind.
    #[must_use]
    pub fn lagged(&self) -> u64 {
        self.lagged
    }
}

/// Turns discv5's events into candidates for every subscriber.
async fn forward(
    mut stream: tokio::sync::mpsc::Receiver<Event>,
    sender: broadcast::Sender<Candidate>,
    counters: Arc<Counters>,
) {
    while let Some(event) = stream.recv().await {
        let record = match event {
            Event::Discovered(record) => record,
            Event::SessionEstablished(record, _) => {
                counters.sessions.fetch_add(1, Ordering::Relaxed);
                record
            }
            Event::UnverifiableEnr { .. } => {
                counters.unverifiable.fetch_add(1, Ordering::Relaxed);
                continue;
            }
            Event::TalkRequest(request) => {
                counters.talk_requests.fetch_add(1, Ordering::Relaxed);
                if let Err(e) = request.respond(Vec::new()) {
                    tracing::debug!(error = %e, "discv5: could not answer a TALKREQ");
                }
                continue;
            }
            _ => continue,
        };
        match convert::candidate_of(&record) {
            Ok(candidate) => {
                counters.discovered.fetch_add(1, Ordering::Relaxed);
                // No subscriber is not an error: the candidate is simply not wanted.
                let _ = sender.send(candidate);
            }
            Err(e) => {
                counters.skipped.fetch_add(1, Ordering::Relaxed);
                tracing::trace!(node = %record.node_id(), error = %e, "discv5: record skipped");
            }
        }
    }
}

/// `addr` with port 0 replaced by a free port of the same IP.
///
/// discv5 binds its socket itself and does not report the port it got, so a free port is found by
/// binding and releasing one first (another process could take it in between; `bind` then fails).
fn concrete_port(addr: SocketAddr) -> Result<SocketAddr, Error> {
    if addr.port() != 0 {
        return Ok(addr);
    }
    let probe = UdpSocket::bind(addr).map_err(|source| Error::Discv5Bind { addr, source })?;
    probe
        .local_addr()
        .map_err(|source| Error::Discv5Bind { addr, source })
}
