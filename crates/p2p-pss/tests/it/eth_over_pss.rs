//! eth over pss: two nodes that are not directly connected run eth-wire's `establish` over
//! pss reader-writers; one serves a stored chain, the other fetches its headers.

use std::sync::Arc;
use std::time::Duration;

use chain_types::{
    BlockEntry, ChainSource as _, ChainStore as _, Header, HeadersRequest, MemoryStore,
};
use eth_wire::{
    ETH_MESSAGE_COUNT, EthPeer, EthVersion, ForkFilter, PeerConfig, Status69, establish,
};
use p2p_msg::{ProtoRw, Protocol};
use p2p_pss::{PeerKey, ProtocolParams, PssProtocol, Topic, Transport};
use secp256k1::PublicKey;
use tokio::sync::mpsc;

use crate::adapter::{FakeNet, bounded, hint_of};

/// How many headers the server stores.
const CHAIN_LEN: u64 = 5;

/// A chain of [`CHAIN_LEN`] linked headers, its store, the status and the fork filter.
fn chain() -> (Vec<Header>, Arc<MemoryStore>, Status69, ForkFilter) {
    let mut headers = vec![Header {
        gas_limit: 30_000_000,
        ..Header::default()
    }];
    for number in 1..CHAIN_LEN {
        let parent = headers.last().unwrap().clone().seal();
        headers.push(Header {
            parent_hash: parent.hash(),
            number,
            gas_limit: 30_000_000,
            timestamp: number * 12,
            ..Header::default()
        });
    }
    let sealed: Vec<_> = headers.iter().map(|h| h.clone().seal()).collect();
    let store = Arc::new(MemoryStore::new());
    store
        .insert_batch(
            sealed
                .iter()
                .cloned()
                .map(BlockEntry::header_only)
                .collect(),
        )
        .unwrap();
    let genesis = sealed[0].hash();
    let filter = ForkFilter::genesis_only(genesis);
    let head = sealed.last().unwrap();
    let status = Status69 {
        version: EthVersion::Eth70.number(),
        network_id: 1337,
        genesis,
        fork_id: filter.current(),
        earliest: 0,
        latest: CHAIN_LEN - 1,
        latest_hash: head.hash(),
    };
    (headers, store, status, filter)
}

/// The eth protocol for the adapter: `establish`, then serve `store` (if any); a client hands
/// its peer handle out through `peers`.
fn eth_protocol(
    status: Status69,
    filter: ForkFilter,
    store: Option<Arc<MemoryStore>>,
    peers: Option<mpsc::UnboundedSender<EthPeer<ProtoRw>>>,
) -> Protocol {
    Protocol::new("eth", 70, ETH_MESSAGE_COUNT, move |info, rw| {
        let (filter, store, peers) = (filter.clone(), store.clone(), peers.clone());
        async move {
            let (peer, mut driver) = establish(
                rw,
                info.client_id().to_owned(),
                status,
                &filter,
                PeerConfig::default(),
            )
            .await
            .map_err(p2p_msg::Error::transport)?;
            if let Some(store) = store {
                driver = driver.with_store(store);
            }
            if let Some(peers) = peers {
                let _ = peers.send(peer);
            }
            Err(p2p_msg::Error::transport(driver.run().await))
        }
    })
}

/// The client (`client`) adds the server (`server`) as a peer, runs the eth handshake over
/// pss and fetches headers by number: it gets exactly the stored ones.
pub(crate) async fn eth_headers_over<T: Transport + Clone>(
    client: T,
    server: T,
    server_key: PublicKey,
) {
    let (headers, store, status, filter) = chain();
    let (tx, mut rx) = mpsc::unbounded_channel();
    let params = ProtocolParams::new(true, false);
    let server_ad = PssProtocol::register(
        server,
        eth_protocol(status, filter.clone(), Some(store), None),
        params,
    )
    .unwrap();
    let client_ad = PssProtocol::register(
        client.clone(),
        eth_protocol(status, filter, None, Some(tx)),
        params,
    )
    .unwrap();
    let topic = Topic::for_protocol("eth", 70);
    client
        .add_public_key(server_key, topic, &hint_of(&server_key, 32))
        .unwrap();
    let _rw = client_ad.add_peer(PeerKey::Asymmetric(server_key)).unwrap();

    let peer = tokio::time::timeout(Duration::from_secs(20), rx.recv())
        .await
        .expect("eth handshake over pss timed out")
        .expect("client run ended before the handshake");
    assert_eq!(peer.block_range().map(|r| r.latest), Some(CHAIN_LEN - 1));
    let got = tokio::time::timeout(
        Duration::from_secs(20),
        peer.headers(HeadersRequest::rising(0, 2 * CHAIN_LEN)),
    )
    .await
    .expect("headers over pss timed out")
    .unwrap();
    let hashes = |hs: &[Header]| {
        hs.iter()
            .map(|h| h.clone().seal().hash())
            .collect::<Vec<_>>()
    };
    assert_eq!(hashes(&got), hashes(&headers));
    assert_eq!(got, headers);
    assert_eq!(server_ad.stats().incoming_peers, 1);
}

#[tokio::test]
async fn eth_headers_over_fake_pss() {
    bounded(async {
        let net = FakeNet::default();
        let (client, server) = (net.node(), net.node());
        let server_key = server.public();
        eth_headers_over(client, server, server_key).await;
    })
    .await;
}
