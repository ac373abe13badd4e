//! Nodes as discovery sees them: [`NodeRecord`] (an [`Enode`] and its ENR when known), the
//! Kademlia [`Key`] (keccak256 of the node id) and the log distance between keys.

use std::net::{IpAddr, SocketAddr};

use p2p_msg::NodeId;
use p2p_rlpx::Enode;
use sha3::{Digest, Keccak256};

use crate::packet::{Endpoint, Neighbor};

/// A node record signed with the "v4" scheme by a secp256k1 key.
pub type Enr = enr::Enr<secp256k1::SecretKey>;

/// A node found by discovery: where it is and, when fetched, its signed record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NodeRecord {
    /// The node's id and endpoints.
    pub enode: Enode,
    /// Its ENR, once fetched with an ENRRequest.
    pub enr: Option<Enr>,
}

impl NodeRecord {
    /// A record without an ENR.
    #[must_use]
    pub const fn new(enode: Enode) -> Self {
        Self { enode, enr: None }
    }

    /// The node id.
    #[must_use]
    pub const fn id(&self) -> NodeId {
        self.enode.id
    }

    /// The discovery (UDP) address.
    #[must_use]
    pub const fn udp_addr(&self) -> SocketAddr {
        SocketAddr::new(self.enode.ip, self.enode.udp_port)
    }

    /// The sequence number of the known ENR, 0 when none is known.
    #[must_use]
    pub fn enr_seq(&self) -> u64 {
        self.enr.as_ref().map_or(0, enr::Enr::seq)
    }

    pub(crate) const fn neighbor(&self) -> Neighbor {
        Neighbor {
            endpoint: Endpoint {
                ip: self.enode.ip,
                udp_port: self.enode.udp_port,
                tcp_port: self.enode.tcp_port,
            },
            id: self.enode.id,
        }
    }
}

/// The Kademlia key of a node: keccak256 of its 64-byte id.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Key(pub [u8; 32]);

impl Key {
    /// The key of a node id.
    #[must_use]
    pub fn of(id: &NodeId) -> Self {
        Self(Keccak256::digest(id.as_bytes()).into())
    }

    /// The XOR distance to another key, as big-endian bytes (for sorting).
    #[must_use]
    pub fn distance(&self, other: &Self) -> [u8; 32] {
        let mut d = [0u8; 32];
        for (out, (a, b)) in d.iter_mut().zip(self.0.iter().zip(other.0.iter())) {
            *out = a ^ b;
        }
        d
    }

    /// The log distance to another key: 1..=256, or 0 for the same key.
    #[must_use]
    pub fn log_distance(&self, other: &Self) -> usize {
        let d = self.distance(other);
        for (i, byte) in d.iter().enumerate() {
            if *byte != 0 {
                return 256 - i * 8 - byte.leading_zeros() as usize;
            }
        }
        0
    }
}

/// Whether a node at `ip` may be announced to a requester at `requester` (geth's relay
/// rule, simplified): loopback nodes only to loopback requesters, never unspecified or
/// multicast addresses.
pub(crate) fn relay_ok(requester: IpAddr, ip: IpAddr) -> bool {
    if ip.is_unspecified() || ip.is_multicast() {
        return false;
    }
    !ip.is_loopback() || requester.is_loopback()
}

/// The /24 (IPv4) or /64 (IPv6) network of an address, for the table's IP limits.
pub(crate) fn subnet(ip: IpAddr) -> [u8; 8] {
    match ip {
        IpAddr::V4(v4) => {
            let o = v4.octets();
            [4, o[0], o[1], o[2], 0, 0, 0, 0]
        }
        IpAddr::V6(v6) => {
            let o = v6.octets();
            [6, o[0], o[1], o[2], o[3], o[4], o[5], o[6]]
        }
    }
}

/// Whether an address is exempt from the table's IP limits (loopback and private LANs, like
/// geth).
pub(crate) fn ip_limit_exempt(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => v4.is_loopback() || v4.is_private() || v4.is_link_local(),
        IpAddr::V6(v6) => v6.is_loopback(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn log_distance_counts_the_highest_differing_bit() {
        let a = Key([0; 32]);
        let mut b = [0u8; 32];
        assert_eq!(a.log_distance(&Key(b)), 0);
        b[31] = 1;
        assert_eq!(a.log_distance(&Key(b)), 1);
        b[31] = 0x80;
        assert_eq!(a.log_distance(&Key(b)), 8);
        b[0] = 0x80;
        assert_eq!(a.log_distance(&Key(b)), 256);
    }

    #[test]
    fn loopback_nodes_are_relayed_only_to_loopback_requesters() {
        let lo: IpAddr = "127.0.0.5".parse().unwrap();
        let public: IpAddr = "8.8.8.8".parse().unwrap();
        assert!(relay_ok(lo, lo));
        assert!(!relay_ok(public, lo));
        assert!(relay_ok(lo, public));
        assert!(!relay_ok(lo, "0.0.0.0".parse().unwrap()));
    }
}
