//! Topics: 4-byte message labels, the first bytes of SHA-256 of a name.

use std::fmt;
use std::str::FromStr;

use sha2::{Digest as _, Sha256};

/// A message topic: the first 4 bytes of SHA-256 of a name (the reference's `BytesToTopic`).
///
/// A protocol's topic is the topic of `"<name>:<version>"` ([`Topic::for_protocol`]).
/// Displayed, parsed and serialised as `0x` and 8 hex digits.
///
/// ```
/// use p2p_pss::Topic;
///
/// let t = Topic::from_name("chat");
/// assert_eq!(t.to_string().parse::<Topic>().unwrap(), t);
/// assert_eq!(Topic::for_protocol("ping", 1), Topic::from_name("ping:1"));
/// ```
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Default)]
pub struct Topic(pub [u8; 4]);

impl Topic {
    /// The topic of a name: SHA-256(name)[..4].
    #[must_use]
    pub fn from_name(name: impl AsRef<[u8]>) -> Self {
        let hash = Sha256::digest(name.as_ref());
        Self([hash[0], hash[1], hash[2], hash[3]])
    }

    /// The topic of a devp2p protocol: the topic of `"<name>:<version>"`.
    #[must_use]
    pub fn for_protocol(name: &str, version: u32) -> Self {
        Self::from_name(format!("{name}:{version}"))
    }
}

impl fmt::Display for Topic {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "0x{}", hex::encode(self.0))
    }
}

impl fmt::Debug for Topic {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Topic({self})")
    }
}

/// A string that is not `0x` followed by 8 hex digits.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid topic {0:?}: want 0x and 8 hex digits")]
pub struct ParseTopicError(pub String);

impl FromStr for Topic {
    type Err = ParseTopicError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let digits = s.strip_prefix("0x").unwrap_or(s);
        let mut out = [0u8; 4];
        if digits.len() != 8 || hex::decode_to_slice(digits, &mut out).is_err() {
            return Err(ParseTopicError(s.to_owned()));
        }
        Ok(Self(out))
    }
}

impl serde::Serialize for Topic {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> serde::Deserialize<'de> for Topic {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let text = <std::borrow::Cow<'de, str>>::deserialize(d)?;
        text.parse().map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    // TestTopic: string, bytes and protocol-topic conversions and the JSON round trip agree.
    #[test]
    fn conversions_and_json_round_trip_agree() {
        let t = Topic::from_name("foo:42");
        assert_eq!(Topic::for_protocol("foo", 42), t);
        let json = serde_json::to_string(&t).unwrap();
        assert_eq!(json, format!("\"{t}\""));
        assert_eq!(serde_json::from_str::<Topic>(&json).unwrap(), t);
        assert_eq!(t.to_string().len(), 10);
        assert!("0x123".parse::<Topic>().is_err());
        assert!("0xzzzzzzzz".parse::<Topic>().is_err());
    }

    // SHA-256("") starts e3b0c442 (FIPS 180-2).
    #[test]
    fn topic_is_the_sha256_prefix() {
        assert_eq!(Topic::from_name("").0, [0xe3, 0xb0, 0xc4, 0x42]);
    }
}
