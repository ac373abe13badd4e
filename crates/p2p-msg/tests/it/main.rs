//! Integration tests of `p2p-msg`: the reference's scenario catalogues, written by behaviour.

// Test helpers outside `#[test]` functions unwrap too.
#![allow(clippy::unwrap_used)]

mod events;
mod handshake;
mod message;
mod peer;
mod pipe;
mod props;

use std::future::Future;
use std::time::Duration;

use p2p_msg::NodeId;

/// A node id made of one repeated byte.
pub(crate) fn node(n: u8) -> NodeId {
    NodeId([n; 64])
}

/// Bounds a test future (with paused time this fires as soon as everything is idle too long).
pub(crate) async fn bounded<F: Future>(fut: F) -> F::Output {
    tokio::time::timeout(Duration::from_secs(600), fut)
        .await
        .expect("test timed out")
}

/// An RLP list of integers.
pub(crate) struct L<'a>(pub(crate) &'a [u64]);

impl rlp::Encodable for L<'_> {
    fn rlp_append(&self, s: &mut rlp::RlpStream) {
        s.begin_list(self.0.len());
        for x in self.0 {
            s.append(x);
        }
    }
}

/// Decodes an RLP list of integers.
pub(crate) struct Ints(pub(crate) Vec<u64>);

impl rlp::Decodable for Ints {
    fn decode(r: &rlp::Rlp<'_>) -> Result<Self, rlp::DecoderError> {
        if !r.is_list() {
            return Err(rlp::DecoderError::RlpExpectedToBeList);
        }
        let mut out = Vec::new();
        for item in r.iter() {
            out.push(item.as_val()?);
        }
        Ok(Self(out))
    }
}
