//! `enode://` URLs: `enode://<128 hex digits of the node id>@<ip>:<tcp port>[?discport=<udp port>]`.
//!
//! Parsing gives a typed [`ParseEnodeError`] for every way a URL can be wrong; printing gives
//! the canonical form (lowercase hex, IPv6 in brackets, `?discport` only when it differs from
//! the TCP port).

use std::fmt;
use std::net::{IpAddr, SocketAddr};
use std::str::FromStr;

use p2p_msg::NodeId;

use crate::ParseEnodeError;
use crate::key::{id_bytes, public_key_from_raw};

/// The address of an RLPx node: its id and where to reach it.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct Enode {
    /// The node id (public key without the `0x04` prefix).
    pub id: NodeId,
    /// The IP address.
    pub ip: IpAddr,
    /// The RLPx TCP port.
    pub tcp_port: u16,
    /// The discovery UDP port (equal to the TCP port unless `?discport` says otherwise).
    pub udp_port: u16,
}

impl Enode {
    /// A node at `addr` (the discovery port is the TCP port).
    #[must_use]
    pub fn new(id: NodeId, addr: SocketAddr) -> Self {
        Self {
            id,
            ip: addr.ip(),
            tcp_port: addr.port(),
            udp_port: addr.port(),
        }
    }

    /// The TCP socket address.
    #[must_use]
    pub fn tcp_addr(&self) -> SocketAddr {
        SocketAddr::new(self.ip, self.tcp_port)
    }
}

impl fmt::Debug for Enode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

impl fmt::Display for Enode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "enode://{}@{}",
            hex::encode(id_bytes(&self.id)),
            self.tcp_addr()
        )?;
        if self.udp_port != self.tcp_port {
            write!(f, "?discport={}", self.udp_port)?;
        }
        Ok(())
    }
}

impl FromStr for Enode {
    type Err = ParseEnodeError;

    fn from_str(s: &str) -> Result<Self, ParseEnodeError> {
        let s = s.trim();
        let rest = s
            .strip_prefix("enode://")
            .ok_or(ParseEnodeError::MissingScheme)?;
        let (id_hex, address) = rest
            .split_once('@')
            .ok_or(ParseEnodeError::MissingAddress)?;
        if id_hex.len() != 128 {
            return Err(ParseEnodeError::IdLength {
                len: id_hex.chars().count(),
            });
        }
        let mut raw = [0u8; 64];
        hex::decode_to_slice(id_hex, &mut raw).map_err(|_| ParseEnodeError::IdNotHex)?;
        public_key_from_raw(&raw).map_err(|_| ParseEnodeError::IdNotOnCurve)?;

        let (host_port, query) = match address.split_once('?') {
            Some((hp, q)) => (hp, Some(q)),
            None => (address, None),
        };
        let (host, port) = split_host_port(host_port)?;
        let ip =
            IpAddr::from_str(host).map_err(|_| ParseEnodeError::InvalidHost(host.to_owned()))?;
        let tcp_port =
            u16::from_str(port).map_err(|_| ParseEnodeError::InvalidPort(port.to_owned()))?;
        let udp_port = match query {
            None => tcp_port,
            Some(q) => {
                let value = q
                    .strip_prefix("discport=")
                    .ok_or_else(|| ParseEnodeError::InvalidQuery(q.to_owned()))?;
                u16::from_str(value).map_err(|_| ParseEnodeError::InvalidQuery(q.to_owned()))?
            }
        };
        Ok(Self {
            id: NodeId::from(raw),
            ip,
            tcp_port,
            udp_port,
        })
    }
}

fn split_host_port(s: &str) -> Result<(&str, &str), ParseEnodeError> {
    if let Some(rest) = s.strip_prefix('[') {
        let (host, after) = rest
            .split_once(']')
            .ok_or_else(|| ParseEnodeError::InvalidHost(s.to_owned()))?;
        let port = after
            .strip_prefix(':')
            .ok_or(ParseEnodeError::MissingPort)?;
        return Ok((host, port));
    }
    let (host, port) = s.rsplit_once(':').ok_or(ParseEnodeError::MissingPort)?;
    if host.contains(':') {
        // An unbracketed IPv6 address: the port cannot be told apart.
        return Err(ParseEnodeError::InvalidHost(host.to_owned()));
    }
    if host.is_empty() {
        return Err(ParseEnodeError::InvalidHost(String::new()));
    }
    if port.is_empty() {
        return Err(ParseEnodeError::MissingPort);
    }
    Ok((host, port))
}

#[cfg(test)]
mod tests {
    use super::*;

    const ID: &str = "1b84c5567b126440995d3ed5aaba0565d71e1834604819ff9c17f5e9d5dd078f70beaf8f588b541507fed6a642c5ab42dfdf8120a7f639de5122d47a69a8e8d1";

    fn check(input: &str, expect: Result<&str, ParseEnodeError>) {
        let got = input.parse::<Enode>().map(|e| e.to_string());
        assert_eq!(got.as_deref().map_err(Clone::clone), expect, "{input}");
    }

    #[test]
    fn parse_and_print() {
        let plain = format!("enode://{ID}@127.0.0.1:30303");
        check(&plain, Ok(&plain));
        let disc = format!("enode://{ID}@10.0.0.1:30303?discport=30301");
        check(&disc, Ok(&disc));
        check(
            &format!("enode://{ID}@10.0.0.1:30303?discport=30303"),
            Ok(&format!("enode://{ID}@10.0.0.1:30303")),
        );
        let v6 = format!("enode://{ID}@[::1]:30303");
        check(&v6, Ok(&v6));
        check(
            &format!("  enode://{}@127.0.0.1:1 ", ID.to_uppercase()),
            Ok(&format!("enode://{ID}@127.0.0.1:1")),
        );
    }

    #[test]
    fn bad_urls_give_typed_errors() {
        check(
            &format!("enr://{ID}@127.0.0.1:1"),
            Err(ParseEnodeError::MissingScheme),
        );
        check(
            &format!("enode://{ID}"),
            Err(ParseEnodeError::MissingAddress),
        );
        check(
            "enode://abcd@127.0.0.1:1",
            Err(ParseEnodeError::IdLength { len: 4 }),
        );
        check(
            &format!("enode://{}zz@127.0.0.1:1", &ID[..126]),
            Err(ParseEnodeError::IdNotHex),
        );
        check(
            &format!("enode://{}@127.0.0.1:1", "00".repeat(64)),
            Err(ParseEnodeError::IdNotOnCurve),
        );
        check(
            &format!("enode://{ID}@localhost:1"),
            Err(ParseEnodeError::InvalidHost("localhost".into())),
        );
        check(
            &format!("enode://{ID}@127.0.0.1"),
            Err(ParseEnodeError::MissingPort),
        );
        check(
            &format!("enode://{ID}@127.0.0.1:"),
            Err(ParseEnodeError::MissingPort),
        );
        check(
            &format!("enode://{ID}@127.0.0.1:70000"),
            Err(ParseEnodeError::InvalidPort("70000".into())),
        );
        check(
            &format!("enode://{ID}@127.0.0.1:1?x=2"),
            Err(ParseEnodeError::InvalidQuery("x=2".into())),
        );
        check(
            &format!("enode://{ID}@::1:5"),
            Err(ParseEnodeError::InvalidHost("::1".into())),
        );
        check(
            &format!("enode://{ID}@:5"),
            Err(ParseEnodeError::InvalidHost(String::new())),
        );
    }
}
