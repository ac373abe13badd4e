//! The discv5 node's settings.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::str::FromStr;
use std::time::Duration;

use crate::eth_entry::{ENR_KEY, EthEntry};
use crate::{Enr, Error};

/// The default time to wait for one response (discv5's own default is 1 s).
pub const DEFAULT_REQUEST_TIMEOUT: Duration = Duration::from_secs(2);

/// The default bound on one iterative lookup.
pub const DEFAULT_QUERY_TIMEOUT: Duration = Duration::from_secs(30);

/// The default interval between PINGs to the nodes in the table.
///
/// discv5's own default is 300 s; peerwire pings every 30 s so that a node that joined is
/// revalidated within a minute (geth's `devp2p discv5 test` waits 60 s for that in
/// `FindnodeResults`, and fails with the 300 s default), and so that peers see a changed record
/// soon.
pub const DEFAULT_PING_INTERVAL: Duration = Duration::from_secs(30);

/// The default capacity of each event subscription; a subscriber that falls further behind loses
/// the oldest events (see [`crate::v5::Discv5Events`]).
pub const DEFAULT_EVENT_CAPACITY: usize = 1024;

/// Settings for [`crate::v5::Discv5::bind`].
///
/// # Reachability
///
/// A discv5 session is only useful if the remote can answer on the address our record announces:
/// a node checks that a record's `ip`/`udp` match the address packets came from before adding it to
/// its table. The record's address is therefore chosen as follows:
///
/// - [`Discv5Config::enr_ip`] when set;
/// - else the listen address's IP when it is a concrete address (for example `127.0.0.1`);
/// - else (listening on `0.0.0.0`) no address at all, and discv5 learns one from what peers report
///   in their PONGs (it needs several agreeing peers before it updates the record).
///
/// When the record's address is known up front (the first two cases) discv5's own record updates
/// are turned off, so that on loopback the record stays `127.0.0.1` with the bound port.
#[derive(Debug, Clone)]
pub struct Discv5Config {
    /// The UDP address to listen on. Port 0 picks a free port.
    pub listen: SocketAddr,
    /// The IP the record announces (see "Reachability").
    pub enr_ip: Option<IpAddr>,
    /// The RLPx (TCP) port the record announces, if the node accepts eth sessions.
    pub tcp_port: Option<u16>,
    /// Records of nodes to start from.
    pub bootnodes: Vec<Enr>,
    /// Extra record entries: key and the value's RLP, for example the `eth` entry.
    pub entries: Vec<(String, Vec<u8>)>,
    /// How long to wait for one response before retrying or giving up.
    pub request_timeout: Duration,
    /// The bound on one iterative lookup.
    pub query_timeout: Duration,
    /// How often discv5 pings the nodes in its table (which is also how peers learn of a changed
    /// record).
    pub ping_interval: Duration,
    /// Whether to run discv5's packet filter (rate limits per source IP and per node, at most 10
    /// nodes per IP, bans of flooding addresses). [`Discv5Config::new`] turns it on unless the
    /// listen address is a loopback address: on loopback every node shares one IP, which the
    /// filter takes for an attack. discv5 keeps its ban list per process, not per node: an
    /// address one node's filter bans (for an hour) is refused by every discv5 node of the process.
    pub packet_filter: bool,
    /// The capacity of each event subscription.
    pub event_capacity: usize,
}

impl Default for Discv5Config {
    fn default() -> Self {
        Self::new(SocketAddr::new(IpAddr::V4(Ipv4Addr::LOCALHOST), 0))
    }
}

impl Discv5Config {
    /// Settings that listen on `listen`, with no bootnodes and no extra entries.
    #[must_use]
    pub fn new(listen: SocketAddr) -> Self {
        Self {
            listen,
            enr_ip: None,
            tcp_port: None,
            bootnodes: Vec::new(),
            entries: Vec::new(),
            request_timeout: DEFAULT_REQUEST_TIMEOUT,
            query_timeout: DEFAULT_QUERY_TIMEOUT,
            ping_interval: DEFAULT_PING_INTERVAL,
            packet_filter: !listen.ip().is_loopback(),
            event_capacity: DEFAULT_EVENT_CAPACITY,
        }
    }

    /// Adds a bootnode record.
    #[must_use]
    pub fn bootnode(mut self, enr: Enr) -> Self {
        self.bootnodes.push(enr);
        self
    }

    /// Adds a bootnode given as `enr:` text.
    ///
    /// # Errors
    ///
    /// [`Error::BadRecord`] when the text is not a valid record.
    pub fn bootnode_text(self, text: &str) -> Result<Self, Error> {
        Ok(self.bootnode(parse_enr(text)?))
    }

    /// Announces `ip` in the record.
    #[must_use]
    pub fn enr_ip(mut self, ip: IpAddr) -> Self {
        self.enr_ip = Some(ip);
        self
    }

    /// Announces the RLPx port `port` in the record.
    #[must_use]
    pub fn tcp_port(mut self, port: u16) -> Self {
        self.tcp_port = Some(port);
        self
    }

    /// Sets the time to wait for one response.
    #[must_use]
    pub fn request_timeout(mut self, timeout: Duration) -> Self {
        self.request_timeout = timeout;
        self
    }

    /// Sets the bound on one lookup.
    #[must_use]
    pub fn query_timeout(mut self, timeout: Duration) -> Self {
        self.query_timeout = timeout;
        self
    }

    /// Sets the interval between PINGs to table nodes.
    #[must_use]
    pub fn ping_interval(mut self, interval: Duration) -> Self {
        self.ping_interval = interval;
        self
    }

    /// Turns discv5's packet filter on or off (see [`Discv5Config::packet_filter`]).
    #[must_use]
    pub fn packet_filter(mut self, on: bool) -> Self {
        self.packet_filter = on;
        self
    }

    /// Adds a raw record entry (`rlp` is the value's RLP encoding), replacing one of the same key.
    #[must_use]
    pub fn entry(mut self, key: impl Into<String>, rlp: Vec<u8>) -> Self {
        let key = key.into();
        self.entries.retain(|(k, _)| *k != key);
        self.entries.push((key, rlp));
        self
    }

    /// Adds the `eth` entry.
    #[must_use]
    pub fn eth_entry(self, entry: &EthEntry) -> Self {
        self.entry(ENR_KEY, entry.to_rlp())
    }

    /// The IP the record announces, following the rules under "Reachability".
    #[must_use]
    pub fn announced_ip(&self) -> Option<IpAddr> {
        self.enr_ip
            .or_else(|| (!self.listen.ip().is_unspecified()).then_some(self.listen.ip()))
    }
}

/// Parses `enr:` text (the prefix is optional) into a record.
///
/// # Errors
///
/// [`Error::BadRecord`] when the text is not base64 of a valid, correctly signed "v4" record.
pub fn parse_enr(text: &str) -> Result<Enr, Error> {
    let text = text.trim();
    let body = text.strip_prefix("enr:").unwrap_or(text);
    Enr::from_str(body).map_err(Error::BadRecord)
}
