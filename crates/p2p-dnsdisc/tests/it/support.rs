//! Shared helpers: keys, node records, fixtures and a test timeout.

use std::future::Future;
use std::time::Duration;

use p2p_dnsdisc::{Enr, FixtureResolver, Link, Tree};
use secp256k1::SecretKey;

/// A key from a seed (never zero, never over the group order for seeds below 2^32).
pub(crate) fn key(seed: u32) -> SecretKey {
    let mut bytes = [0u8; 32];
    bytes[0] = 1;
    bytes[28..].copy_from_slice(&seed.to_be_bytes());
    SecretKey::from_secret_bytes(bytes).unwrap()
}

/// `n` node records on 127.x addresses, keys seeded from `first`.
pub(crate) fn nodes(first: u32, n: u32) -> Vec<Enr> {
    (first..first + n)
        .map(|i| {
            let [_, a, b, c] = i.to_be_bytes();
            Enr::builder()
                .ip4([127, a, b, c].into())
                .tcp4(30303)
                .udp4(30303)
                .build(&key(0x1000 + i))
                .unwrap()
        })
        .collect()
}

/// What identifies a record here: node id, sequence number and endpoint (the signature differs
/// between two signings of the same content, so the text form does not).
pub(crate) fn ident(enr: &Enr) -> String {
    format!(
        "{} seq={} {:?}:{:?}",
        enr.node_id(),
        enr.seq(),
        enr.ip4(),
        enr.tcp4()
    )
}

/// The identities of records, sorted.
pub(crate) fn texts(records: &[Enr]) -> Vec<String> {
    let mut out: Vec<String> = records.iter().map(ident).collect();
    out.sort();
    out
}

/// Publishes `tree` at `domain` in `dns` and returns its link.
pub(crate) fn publish(dns: &FixtureResolver, tree: &Tree, domain: &str) -> Link {
    dns.extend(tree.txt_records(domain));
    tree.link(domain).unwrap()
}

/// Runs `f`, failing the test after 30 s.
pub(crate) async fn within<F: Future>(f: F) -> F::Output {
    tokio::time::timeout(Duration::from_secs(30), f)
        .await
        .expect("test timed out")
}
