//! [`Discv4`]: the cloneable handle of a running discovery service.

use std::net::{IpAddr, SocketAddr};
use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant};

use p2p_msg::NodeId;
use p2p_rlpx::{Enode, NodeKey};
use tokio::net::UdpSocket;
use tokio::sync::{broadcast, mpsc, oneshot};

use crate::Error;
use crate::config::{Counters, Discv4Config, Discv4Event, Stats};
use crate::limits::{RateLimiter, ReplayFilter};
use crate::node::{Enr, NodeRecord};
use crate::packet::Neighbor;
use crate::service::{Command, Service, Shared};
use crate::table::Table;

/// How many commands may queue for the service.
const COMMAND_CAPACITY: usize = 256;

/// A handle to a running discv4 service. Cheap to clone; every clone talks to the same task.
///
/// # Drop behavior
///
/// The service task stops when [`Discv4::shutdown`] is called or the last handle is dropped
/// (lookups started by the service itself hold a handle only while they run).
#[derive(Debug, Clone)]
pub struct Discv4 {
    pub(crate) tx: mpsc::Sender<Command>,
    pub(crate) shared: Arc<Shared>,
}

impl Discv4 {
    /// Binds the UDP socket, builds the local ENR and spawns the service task on the current
    /// tokio runtime. Bootnodes are pinged at once; a lookup of our own id follows after a
    /// second, then one of a random id every [`refresh_interval`].
    ///
    /// [`refresh_interval`]: crate::Timeouts::refresh_interval
    ///
    /// # Errors
    ///
    /// [`Error::Io`] if the socket cannot be bound, [`Error::Record`] if the ENR entries do
    /// not fit in 300 bytes or are malformed.
    ///
    /// # Cancel safety
    ///
    /// Cancelling before it returns drops the socket; nothing is spawned.
    pub async fn bind(key: &NodeKey, config: Discv4Config) -> Result<Self, Error> {
        let socket = UdpSocket::bind(config.listen_addr).await?;
        let local_addr = socket.local_addr()?;
        let ip = config.external_ip.unwrap_or(local_addr.ip());
        let tcp_port = config.tcp_port.unwrap_or(local_addr.port());
        let local_enode = Enode {
            id: key.id(),
            ip,
            tcp_port,
            udp_port: local_addr.port(),
        };
        let enr = local_record(key, ip, tcp_port, local_addr.port(), &config.enr_entries)?;
        let (events, _) = broadcast::channel(config.event_capacity.max(1));
        let (tx, commands) = mpsc::channel(COMMAND_CAPACITY);
        let shared = Arc::new(Shared {
            local_enode,
            local_addr,
            enr: RwLock::new(enr),
            counters: Counters::default(),
            events,
            config,
        });
        let limits = shared.config.limits;
        let service = Service {
            socket,
            key: *key.secret_key(),
            local_id: key.id(),
            table: Table::new(&key.id(), shared.config.table_limits),
            pending: Vec::new(),
            bonds: std::collections::HashMap::new(),
            rate: RateLimiter::new(&limits),
            replay: ReplayFilter::new(limits.max_seen_hashes),
            commands,
            weak: tx.downgrade(),
            revalidation_round: 0,
            shared: Arc::clone(&shared),
        };
        tokio::spawn(service.run());
        Ok(Self { tx, shared })
    }

    /// Our node's enode (id, announced IP, TCP and UDP ports).
    #[must_use]
    pub fn local_enode(&self) -> Enode {
        self.shared.local_enode
    }

    /// Our current node record.
    #[must_use]
    pub fn local_enr(&self) -> Enr {
        self.shared.enr()
    }

    /// The bound UDP address.
    #[must_use]
    pub fn local_addr(&self) -> SocketAddr {
        self.shared.local_addr
    }

    /// Counters and sizes of the service.
    #[must_use]
    pub fn stats(&self) -> Stats {
        self.shared.counters.snapshot()
    }

    /// Table changes from now on. A subscriber that falls more than
    /// [`event_capacity`](Discv4Config::event_capacity) events behind gets `Lagged`.
    #[must_use]
    pub fn subscribe(&self) -> broadcast::Receiver<Discv4Event> {
        self.shared.events.subscribe()
    }

    async fn call<T>(&self, make: impl FnOnce(oneshot::Sender<T>) -> Command) -> Result<T, Error> {
        let (tx, rx) = oneshot::channel();
        self.tx.send(make(tx)).await.map_err(|_| Error::Stopped)?;
        rx.await.map_err(|_| Error::Stopped)
    }

    /// Pings a node and waits for its Pong; returns the ENR sequence number it announced.
    /// A node that answers enters the table.
    ///
    /// # Errors
    ///
    /// [`Error::Timeout`] without a Pong within the response timeout, [`Error::Busy`] when
    /// too many replies are pending, [`Error::Stopped`] when the service is gone.
    ///
    /// # Cancel safety
    ///
    /// Cancel safe: the Ping may still be sent, and a late Pong still updates the table.
    pub async fn ping(&self, node: &Enode) -> Result<Option<u64>, Error> {
        let node = *node;
        self.call(|tx| Command::Ping(node, tx)).await?
    }

    /// Makes sure `node` accepts our requests: if it has not pinged us within the bond
    /// expiration, ping it and wait (up to the response timeout) for its Ping back.
    pub(crate) async fn ensure_bond(&self, node: &Enode) -> Result<(), Error> {
        let node = *node;
        if self.call(|tx| Command::PingedUsRecently(node, tx)).await? {
            return Ok(());
        }
        self.ping(&node).await?;
        let until = Instant::now() + self.shared.config.timeouts.response;
        while Instant::now() < until {
            if self.call(|tx| Command::PingedUsRecently(node, tx)).await? {
                return Ok(());
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        // It may know us already and not ping back; try anyway.
        Ok(())
    }

    /// Sends one FindNode and collects the Neighbors packets that answer it.
    pub(crate) async fn find_node(
        &self,
        node: &Enode,
        target: NodeId,
    ) -> Result<Vec<Neighbor>, Error> {
        let node = *node;
        self.call(|tx| Command::FindNode(node, target, tx)).await?
    }

    pub(crate) async fn closest(&self, target: NodeId, n: usize) -> Result<Vec<NodeRecord>, Error> {
        self.call(|tx| Command::Closest(target, n, tx)).await
    }

    /// Fetches a node's current record with an ENRRequest (bonding first if needed), and
    /// checks it is signed by that node.
    ///
    /// # Errors
    ///
    /// [`Error::Timeout`], [`Error::RecordMismatch`] if the record is another node's,
    /// [`Error::Busy`], [`Error::Stopped`].
    ///
    /// # Cancel safety
    ///
    /// Cancel safe; a late response still updates the table.
    pub async fn request_enr(&self, node: &Enode) -> Result<Enr, Error> {
        self.ensure_bond(node).await?;
        let node = *node;
        self.call(|tx| Command::RequestEnr(node, tx)).await?
    }

    /// The `k` closest nodes to `target` that answered, found by an iterative lookup
    /// (alpha = 3 requests in flight). Starts from the table, or from the bootnodes while the
    /// table is empty.
    ///
    /// # Errors
    ///
    /// [`Error::Stopped`] when the service is gone; unreachable nodes are skipped, so an
    /// isolated node gets an empty list.
    ///
    /// # Cancel safety
    ///
    /// Cancel safe: nodes that answered so far stay in the table.
    pub async fn lookup(&self, target: NodeId) -> Result<Vec<NodeRecord>, Error> {
        self.run_lookup(target).await
    }

    /// A lookup of a random target (a walk to a random part of the network).
    ///
    /// # Errors
    ///
    /// As [`Discv4::lookup`].
    ///
    /// # Cancel safety
    ///
    /// As [`Discv4::lookup`].
    pub async fn lookup_random(&self) -> Result<Vec<NodeRecord>, Error> {
        self.run_lookup(crate::lookup::random_id()).await
    }

    /// Every live node of the table.
    ///
    /// # Cancel safety
    ///
    /// Cancel safe.
    pub async fn table_nodes(&self) -> Vec<NodeRecord> {
        self.call(Command::TableNodes).await.unwrap_or_default()
    }

    /// Every live node of the table and every replacement candidate waiting for a slot
    /// (nodes that proved their endpoint while their bucket was full).
    ///
    /// # Cancel safety
    ///
    /// Cancel safe.
    pub async fn known_nodes(&self) -> Vec<NodeRecord> {
        self.call(Command::KnownNodes).await.unwrap_or_default()
    }

    /// Pings a node in the background; it enters the table if it answers.
    ///
    /// # Errors
    ///
    /// [`Error::Busy`] if the command queue is full, [`Error::Stopped`].
    pub fn add_node(&self, node: Enode) -> Result<(), Error> {
        self.tx
            .try_send(Command::AddNode(node))
            .map_err(|e| match e {
                mpsc::error::TrySendError::Full(_) => Error::Busy,
                mpsc::error::TrySendError::Closed(_) => Error::Stopped,
            })
    }

    /// Sets (or replaces) an entry of the local record given as raw RLP, bumping its
    /// sequence number when the value changes. Peers learn of it from our next Ping or Pong.
    ///
    /// # Errors
    ///
    /// [`Error::Record`] if the record would exceed 300 bytes or the key is reserved with a
    /// malformed value, [`Error::Stopped`].
    ///
    /// # Cancel safety
    ///
    /// Cancel safe: the change is applied or not, never half.
    pub async fn set_enr_entry(&self, key: &str, rlp: Vec<u8>) -> Result<(), Error> {
        let key = key.to_owned();
        self.call(|tx| Command::SetEnrEntry(key, rlp, tx)).await?
    }

    /// Stops the service task; the other handles' calls then fail with [`Error::Stopped`].
    ///
    /// # Cancel safety
    ///
    /// Cancel safe.
    pub async fn shutdown(&self) {
        let _ = self.tx.send(Command::Shutdown).await;
    }
}

/// The local record: IP and ports (IPv4 or IPv6 keys), then the caller's entries.
fn local_record(
    key: &NodeKey,
    ip: IpAddr,
    tcp: u16,
    udp: u16,
    entries: &[(String, Vec<u8>)],
) -> Result<Enr, Error> {
    let mut builder = Enr::builder();
    if !ip.is_unspecified() {
        builder.ip(ip);
    }
    match ip {
        IpAddr::V4(_) => builder.tcp4(tcp).udp4(udp),
        IpAddr::V6(_) => builder.tcp6(tcp).udp6(udp),
    };
    for (k, v) in entries {
        builder.add_value_rlp(k.as_bytes(), v.clone().into());
    }
    Ok(builder.build(key.secret_key())?)
}
