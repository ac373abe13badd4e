//! Candidates: nodes some discovery source found, waiting to be dialed.

use std::fmt;

use p2p_rlpx::Enode;

use crate::eth_entry::EthEntry;
use crate::{Enr, Error};

/// Where a candidate came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[non_exhaustive]
pub enum Source {
    /// Given by the user (`--peer`, a config file).
    Static,
    /// Found by discovery v4.
    Discv4,
    /// Found by discovery v5.
    Discv5,
    /// Read from an EIP-1459 DNS node list.
    Dns,
    /// Dialed us.
    Inbound,
}

impl fmt::Display for Source {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Static => "static",
            Self::Discv4 => "discv4",
            Self::Discv5 => "discv5",
            Self::Dns => "dns",
            Self::Inbound => "inbound",
        })
    }
}

/// A node to dial: its RLPx address, its record when the source had one, and the source.
#[derive(Debug, Clone)]
pub struct Candidate {
    /// Where to reach the node over RLPx (and its discovery port).
    pub enode: Enode,
    /// The node's record, when known.
    pub enr: Option<Enr>,
    /// Which source found it.
    pub source: Source,
}

impl Candidate {
    /// A candidate known only by its address.
    #[must_use]
    pub fn new(enode: Enode, source: Source) -> Self {
        Self {
            enode,
            enr: None,
            source,
        }
    }

    /// A candidate from a node record: the RLPx endpoint is the record's IPv4 (else IPv6) address with
    /// its `tcp` port; the discovery port is `udp` (or the TCP port).
    ///
    /// # Errors
    ///
    /// [`Error::NoEndpoint`] when the record has no IP or TCP port; [`Error::BadPublicKey`] never in
    /// practice (the record's signature already proved the key).
    pub fn from_enr(enr: Enr, source: Source) -> Result<Self, Error> {
        let enode = enode_of(&enr)?;
        Ok(Self {
            enode,
            enr: Some(enr),
            source,
        })
    }

    /// The record's `eth` entry: `Ok(None)` without a record or without the entry.
    ///
    /// # Errors
    ///
    /// [`Error::BadEthEntry`] when the entry is malformed.
    pub fn eth_entry(&self) -> Result<Option<EthEntry>, Error> {
        match &self.enr {
            None => Ok(None),
            Some(enr) => EthEntry::of(enr),
        }
    }
}

/// The RLPx address a record announces.
///
/// # Errors
///
/// [`Error::NoEndpoint`] when the record has no IP address or no TCP port.
pub fn enode_of(enr: &Enr) -> Result<Enode, Error> {
    let (ip, tcp, udp) = if let (Some(ip), Some(tcp)) = (enr.ip4(), enr.tcp4()) {
        (std::net::IpAddr::V4(ip), tcp, enr.udp4())
    } else if let (Some(ip), Some(tcp)) = (enr.ip6(), enr.tcp6()) {
        (std::net::IpAddr::V6(ip), tcp, enr.udp6())
    } else {
        return Err(Error::NoEndpoint);
    };
    Ok(Enode {
        id: p2p_rlpx::node_id(&enr.public_key()),
        ip,
        tcp_port: tcp,
        udp_port: udp.unwrap_or(tcp),
    })
}
