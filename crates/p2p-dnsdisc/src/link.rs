//! `enrtree://<base32 compressed public key>@<domain>` links (EIP-1459): the address of a tree
//! and the key that signs its root.

use std::fmt;
use std::str::FromStr;

use data_encoding::BASE32_NOPAD;
use secp256k1::PublicKey;

use crate::error::EntryError;

/// The scheme prefix of a link.
pub const LINK_PREFIX: &str = "enrtree://";

/// The longest domain name a link may carry, in bytes (RFC 1035: 253 characters in text form).
pub const MAX_DOMAIN_BYTES: usize = 253;

/// A link to a DNS node tree: the domain that holds its root and the key that must sign it.
///
/// # Examples
///
/// ```
/// use p2p_dnsdisc::Link;
///
/// let text = "enrtree://AKA3AM6LPBYEUDMVNU3BSVQJ5AD45Y7YPOHJLEF6W26QOE4VTUDPE@all.mainnet.ethdisco.net";
/// let link: Link = text.parse().unwrap();
/// assert_eq!(link.domain(), "all.mainnet.ethdisco.net");
/// assert_eq!(link.to_string(), text);
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Link {
    key: PublicKey,
    domain: String,
}

impl Link {
    /// A link to the tree at `domain` signed by `key`.
    ///
    /// # Errors
    ///
    /// [`EntryError::Link`] if `domain` is empty, longer than [`MAX_DOMAIN_BYTES`], or has
    /// characters other than ASCII letters, digits, `-`, `_` and `.` (a trailing dot is dropped).
    pub fn new(key: PublicKey, domain: &str) -> Result<Self, EntryError> {
        let domain = domain.strip_suffix('.').unwrap_or(domain);
        if domain.is_empty() {
            return Err(EntryError::Link("empty domain"));
        }
        if domain.len() > MAX_DOMAIN_BYTES {
            return Err(EntryError::Link("domain too long"));
        }
        let label_ok = |l: &str| {
            !l.is_empty()
                && l.len() <= 63
                && l.bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
        };
        if !domain.split('.').all(label_ok) {
            return Err(EntryError::Link("bad domain name"));
        }
        Ok(Self {
            key,
            domain: domain.to_ascii_lowercase(),
        })
    }

    /// The key that signs the tree's root.
    pub const fn public_key(&self) -> &PublicKey {
        &self.key
    }

    /// The domain holding the tree's root (lowercase, no trailing dot).
    pub fn domain(&self) -> &str {
        &self.domain
    }
}

impl fmt::Display for Link {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{LINK_PREFIX}{}@{}",
            BASE32_NOPAD.encode(&self.key.serialize()),
            self.domain
        )
    }
}

impl FromStr for Link {
    type Err = EntryError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let rest = s
            .strip_prefix(LINK_PREFIX)
            .ok_or(EntryError::Link("missing enrtree:// scheme"))?;
        let (key, domain) = rest
            .split_once('@')
            .ok_or(EntryError::Link("missing public key"))?;
        // A compressed key is 33 bytes: 53 base32 characters without padding.
        if key.len() != 53 {
            return Err(EntryError::Link("bad public key length"));
        }
        let bytes = BASE32_NOPAD
            .decode(key.as_bytes())
            .map_err(|_| EntryError::Link("public key is not base32"))?;
        let key = PublicKey::from_slice(&bytes).map_err(|_| EntryError::Link("bad public key"))?;
        Self::new(key, domain)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(text: &str, want: Result<&str, EntryError>) {
        assert_eq!(
            text.parse::<Link>().map(|l| l.domain().to_owned()),
            want.map(str::to_owned),
            "{text}"
        );
    }

    #[test]
    fn links_parse_and_refuse() {
        let key = "AM5FCQLWIZX2QFPNJAP7VUERCCRNGRHWZG3YYHIUV7BVDQ5FDPRT2";
        check(
            &format!("enrtree://{key}@nodes.example.org"),
            Ok("nodes.example.org"),
        );
        check(
            &format!("enrtree://{key}@Nodes.Example.ORG."),
            Ok("nodes.example.org"),
        );
        check(
            &format!("enr://{key}@n"),
            Err(EntryError::Link("missing enrtree:// scheme")),
        );
        check(
            &format!("enrtree://{key}"),
            Err(EntryError::Link("missing public key")),
        );
        check(
            &format!("enrtree://{key}@"),
            Err(EntryError::Link("empty domain")),
        );
        check(
            &format!("enrtree://{key}@a..b"),
            Err(EntryError::Link("bad domain name")),
        );
        check(
            &format!("enrtree://{key}@a b"),
            Err(EntryError::Link("bad domain name")),
        );
        check(
            "enrtree://AM5F@n",
            Err(EntryError::Link("bad public key length")),
        );
        let not_b32 = format!("{}1", &key[..52]);
        check(
            &format!("enrtree://{not_b32}@n"),
            Err(EntryError::Link("public key is not base32")),
        );
        // 33 bytes that are not a point (prefix byte 0x00).
        let bad = BASE32_NOPAD.encode(&[0u8; 33]);
        check(
            &format!("enrtree://{bad}@n"),
            Err(EntryError::Link("bad public key")),
        );
        let long = "a.".repeat(127) + "a";
        check(
            &format!("enrtree://{key}@{long}"),
            Err(EntryError::Link("domain too long")),
        );
    }
}
