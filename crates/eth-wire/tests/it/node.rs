//! EthNode as devp2p protocols on the p2p-msg multiplexer over an in-memory transport: the highest shared eth
//! version is used, the client receives its EthPeer and syncs headers and bodies, an incompatible chain is
//! refused with a subprotocol-error disconnect.

use std::sync::Arc;
use std::time::Duration;

use chain_types::{ChainSource, ChainStore, HeadersRequest};
use eth_wire::{EthNode, EthPeer, EthVersion};
use p2p_msg::{DisconnectReason, LocalHello, NodeId, Peer, PipeTransport, ProtoRw, pipe_transport};
use primitive_types::U256;
use tokio::sync::mpsc;

use crate::chain::TestChain;

fn node(chain: &TestChain, with_store: bool) -> (Arc<EthNode>, mpsc::Receiver<EthPeer<ProtoRw>>) {
    let (tx, rx) = mpsc::channel(4);
    let mut node = EthNode::new(1337, chain.genesis());
    node.genesis_difficulty = U256::one();
    if with_store {
        node.store = Some(chain.store() as Arc<dyn ChainStore>);
    }
    node.peers = Some(tx);
    (Arc::new(node), rx)
}

fn peer(
    transport: PipeTransport,
    name: &str,
    byte: u8,
    node: &Arc<EthNode>,
) -> Peer<PipeTransport> {
    Peer::new(
        transport,
        LocalHello::new(name, NodeId([byte; 64])),
        node.protocols(),
    )
}

#[tokio::test]
async fn a_client_node_syncs_from_a_serving_node() {
    let chain = TestChain::new(50, 1);
    let (server, _server_peers) = node(&chain, true);
    let (client, mut client_peers) = node(&chain, false);
    let (a, b) = pipe_transport();
    let sp = peer(a, "server", 1, &server);
    let cp = peer(b, "client", 2, &client);
    let stop = cp.handle();
    let test = async {
        let eth = tokio::time::timeout(Duration::from_secs(5), client_peers.recv())
            .await
            .unwrap()
            .unwrap();
        // Both nodes offer eth/68 to eth/70: the highest is used, and eth/69+ announce a range, not a difficulty.
        assert_eq!(eth.version(), EthVersion::Eth70);
        assert_eq!(eth.id(), NodeId([1; 64]).to_string());
        assert_eq!(eth.head(), (chain.head().hash(), U256::zero()));
        let range = eth.block_range().unwrap();
        assert_eq!((range.earliest, range.latest), (0, 50));
        assert_eq!(range.latest_hash, chain.head().hash());
        let headers = eth.headers(HeadersRequest::rising(0, 100)).await.unwrap();
        assert_eq!(headers.len(), 51);
        let bodies = eth
            .bodies(headers.iter().map(|h| h.hash()).collect())
            .await
            .unwrap();
        for (h, b) in headers.iter().zip(&bodies) {
            b.check_against(h).unwrap();
        }
        stop.disconnect(DisconnectReason::Requested);
    };
    let (exit_s, exit_c, ()) = tokio::time::timeout(Duration::from_secs(10), async {
        tokio::join!(sp.run(), cp.run(), test)
    })
    .await
    .unwrap();
    assert_eq!(exit_c.reason, DisconnectReason::Requested);
    assert!(exit_s.remote_requested);
}

#[tokio::test]
async fn an_incompatible_chain_is_refused() {
    let ours = TestChain::new(5, 1);
    let theirs = TestChain::new(5, 2);
    let (server, _sp) = node(&ours, true);
    let (client, _cp) = node(&theirs, true);
    let (a, b) = pipe_transport();
    let (exit_s, exit_c) = tokio::time::timeout(Duration::from_secs(10), async {
        tokio::join!(
            peer(a, "server", 1, &server).run(),
            peer(b, "client", 2, &client).run()
        )
    })
    .await
    .unwrap();
    // Both see the genesis mismatch; whichever ends first sends SubprotocolError.
    let reasons = [exit_s.reason, exit_c.reason];
    assert!(
        reasons.contains(&DisconnectReason::SubprotocolError),
        "{reasons:?}"
    );
    let err = exit_s.error.or(exit_c.error).expect("an error is reported");
    assert!(err.to_string().contains("genesis mismatch"), "{err}");
}

#[tokio::test]
async fn a_node_without_a_chain_follows_the_remote_genesis() {
    let chain = TestChain::new(30, 1);
    let (server, _sp) = node(&chain, true);
    // The follower knows nothing of the chain: another network id and a zero genesis, both ignored.
    let (tx, mut follower_peers) = mpsc::channel(1);
    let mut follower = EthNode::new(1, primitive_types::H256::zero());
    follower.follow_remote_chain = true;
    follower.peers = Some(tx);
    let follower = Arc::new(follower);
    let (a, b) = pipe_transport();
    let sp = peer(a, "server", 1, &server);
    let fp = peer(b, "follower", 2, &follower);
    let stop = fp.handle();
    let test = async {
        let eth = tokio::time::timeout(Duration::from_secs(5), follower_peers.recv())
            .await
            .unwrap()
            .unwrap();
        let status = *eth.remote_status();
        assert_eq!(status.genesis(), chain.genesis());
        assert_eq!(status.network_id(), 1337);
        // The application checks header 0 against the announced genesis.
        let genesis = eth.headers(HeadersRequest::rising(0, 1)).await.unwrap();
        assert_eq!(genesis[0].hash(), status.genesis());
        let all = eth.headers(HeadersRequest::rising(0, 100)).await.unwrap();
        assert_eq!(all.len(), 31);
        stop.disconnect(DisconnectReason::Requested);
    };
    let (_, exit_f, ()) = tokio::time::timeout(Duration::from_secs(10), async {
        tokio::join!(sp.run(), fp.run(), test)
    })
    .await
    .unwrap();
    assert_eq!(exit_f.reason, DisconnectReason::Requested);
}
