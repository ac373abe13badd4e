//! The pool against in-process eth nodes on loopback (each an RLPx host serving a one-block chain).

use std::net::{IpAddr, Ipv4Addr, SocketAddr, TcpListener};
use std::sync::Arc;
use std::time::Duration;

use chain_types::{BlockEntry, ChainStore, ForkFilter, H256, Header, MemoryStore};
use eth_wire::EthNode;
use p2p_rlpx::{Enode, Host, HostConfig, NodeKey};

use super::*;
use crate::eth_entry::{ENR_KEY, EthEntry};
use crate::{Candidate, Enr, Source};

const NETWORK: u64 = 1337;

fn genesis(extra: u64) -> Header {
    Header {
        gas_limit: 30_000_000,
        timestamp: extra,
        ..Header::default()
    }
}

fn node_of(genesis: &Header, store: bool) -> EthNode {
    let sealed = genesis.clone().seal();
    let mut node = EthNode::new(NETWORK, sealed.hash());
    if store {
        let memory = Arc::new(MemoryStore::new());
        let _ = memory.insert_batch(vec![BlockEntry::header_only(sealed)]);
        node.store = Some(memory as Arc<dyn ChainStore>);
    }
    node
}

/// A serving eth node on loopback; dropped at the end of the test with the runtime.
async fn server(genesis: &Header) -> Host {
    let node = Arc::new(node_of(genesis, true));
    let mut config = HostConfig::new(NodeKey::generate());
    config.protocols = node.protocols();
    let (host, mut events) = Host::bind(config).await.expect("bind a server");
    let _run = host.spawn_run();
    tokio::spawn(async move { while events.recv().await.is_some() {} });
    host
}

async fn pool(config: PoolConfig, genesis: &Header) -> PoolParts {
    let hash = genesis.clone().seal().hash();
    let filter = ForkFilter::genesis_only(hash);
    Pool::bind(
        config,
        HostConfig::new(NodeKey::generate()),
        node_of(genesis, false),
        Some(filter),
    )
    .await
    .expect("bind the pool")
}

/// The address of a loopback port nobody listens on.
fn closed_port() -> SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
    listener.local_addr().expect("addr")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn twenty_candidates_and_three_outbound_slots_give_three_sessions() {
    let chain = genesis(0);
    let mut servers = Vec::new();
    for _ in 0..20 {
        servers.push(server(&chain).await);
    }
    let PoolParts {
        handle,
        driver,
        mut sessions,
    } = pool(
        PoolConfig {
            max_outbound: 3,
            max_concurrent_dials: 2,
            limit_loopback: true,
            max_per_ip: 20,
            ..PoolConfig::default()
        },
        &chain,
    )
    .await;
    let driver = tokio::spawn(driver.run());
    for host in &servers {
        assert!(handle.add(Candidate::new(host.enode(), Source::Discv4)));
    }
    let mut held = Vec::new();
    while held.len() < 3 {
        let session = tokio::time::timeout(Duration::from_secs(20), sessions.recv())
            .await
            .expect("three sessions within 20 s")
            .expect("the pool is running");
        assert_eq!(session.direction, Direction::Outbound);
        assert!(session.client_id.starts_with("peerwire/"));
        held.push(session);
    }
    // Holding the three sessions, no fourth may come, however long the other 17 candidates wait.
    tokio::time::sleep(Duration::from_secs(1)).await;
    assert!(sessions.try_recv().is_err(), "a fourth session");
    let stats = handle.stats();
    assert_eq!(stats.max_outbound_seen, 3);
    assert_eq!(stats.outbound, 3);
    assert_eq!(stats.dialing, 0);
    assert_eq!(stats.queued, 17);
    // A session that ends frees its slot for the next candidate.
    let first = held.remove(0);
    assert!(handle.disconnect(&first.id, p2p_msg::DisconnectReason::Requested));
    let next = tokio::time::timeout(Duration::from_secs(20), sessions.recv())
        .await
        .expect("a session replaces the ended one")
        .expect("the pool is running");
    assert_ne!(next.id, first.id);
    assert!(handle.stats().max_outbound_seen <= 3);
    handle.shutdown();
    tokio::time::timeout(Duration::from_secs(5), driver)
        .await
        .expect("the driver stops after shutdown")
        .expect("the driver task");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unreachable_node_is_backed_off_exponentially() {
    let chain = genesis(0);
    let PoolParts {
        handle,
        driver,
        sessions: _sessions,
    } = pool(
        PoolConfig {
            backoff_base: Duration::from_millis(200),
            ..PoolConfig::default()
        },
        &chain,
    )
    .await;
    let (reports_tx, mut reports) = mpsc::channel(64);
    let _driver = tokio::spawn(driver.with_reports(reports_tx).run());
    let dead = Enode::new(p2p_msg::NodeId([7; 64]), closed_port());
    assert!(handle.add(Candidate::new(dead, Source::Static)));
    let first = tokio::time::timeout(Duration::from_secs(5), reports.recv())
        .await
        .expect("a report")
        .expect("open");
    assert_eq!(first.outcome.err(), Some(FailureReason::Unreachable));
    // Retries at +0.2, +0.6, +1.4 s (then +3 s): three to four more dials in two seconds, not hundreds.
    tokio::time::sleep(Duration::from_secs(2)).await;
    let failures = handle
        .stats()
        .failures
        .get(&FailureReason::Unreachable)
        .copied()
        .unwrap_or(0);
    assert!((3..=5).contains(&failures), "{failures} failures");
    // Offered again while backed off: ignored and counted.
    assert!(handle.add(Candidate::new(dead, Source::Discv4)));
    tokio::time::sleep(Duration::from_millis(100)).await;
    assert!(handle.stats().backed_off >= 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_record_of_another_chain_is_dropped_before_dialing() {
    let chain = genesis(0);
    let other = genesis(1).seal().hash();
    let PoolParts {
        handle,
        driver,
        sessions: _sessions,
    } = pool(PoolConfig::default(), &chain).await;
    let _driver = tokio::spawn(driver.run());
    let key = secp256k1::SecretKey::new(&mut secp256k1::rand::rng());
    let entry = EthEntry::new(ForkFilter::genesis_only(other).current());
    let record: Enr = Enr::builder()
        .ip4(Ipv4Addr::LOCALHOST)
        .tcp4(closed_port().port())
        .add_value_rlp(ENR_KEY, entry.to_rlp().into())
        .build(&key)
        .expect("a record");
    let candidate = Candidate::from_enr(record, Source::Discv5).expect("dialable");
    assert!(handle.add(candidate));
    tokio::time::sleep(Duration::from_millis(300)).await;
    let stats = handle.stats();
    assert_eq!(
        (stats.candidates, stats.incompatible, stats.dials),
        (1, 1, 0)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_node_of_another_chain_fails_its_status_as_incompatible() {
    let chain = genesis(0);
    let other = server(&genesis(1)).await;
    let PoolParts {
        handle,
        driver,
        sessions: _sessions,
    } = pool(PoolConfig::default(), &chain).await;
    let (reports_tx, mut reports) = mpsc::channel(4);
    let _driver = tokio::spawn(driver.with_reports(reports_tx).run());
    assert!(handle.add(Candidate::new(other.enode(), Source::Dns)));
    let report = tokio::time::timeout(Duration::from_secs(10), reports.recv())
        .await
        .expect("a report")
        .expect("open");
    assert_eq!(report.outcome.err(), Some(FailureReason::IncompatibleFork));
    assert_eq!(report.source, Source::Dns);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn inbound_sessions_over_the_cap_are_refused() {
    let chain = genesis(0);
    let PoolParts {
        handle,
        driver,
        mut sessions,
    } = pool(
        PoolConfig {
            max_inbound: 1,
            ..PoolConfig::default()
        },
        &chain,
    )
    .await;
    let _driver = tokio::spawn(driver.run());
    let target = handle.local_enode();
    let mut dialers = Vec::new();
    for _ in 0..3 {
        let dialer = server(&chain).await;
        dialers.push(dialer.spawn_connect(target));
        tokio::time::sleep(Duration::from_millis(300)).await;
        // Keep the host alive (its connection task holds a clone).
        drop(dialer);
    }
    let session = tokio::time::timeout(Duration::from_secs(10), sessions.recv())
        .await
        .expect("one inbound session")
        .expect("open");
    assert_eq!(session.direction, Direction::Inbound);
    assert_eq!(session.source, Source::Inbound);
    tokio::time::sleep(Duration::from_secs(1)).await;
    let stats = handle.stats();
    assert_eq!(stats.inbound, 1);
    assert_eq!(stats.max_inbound_seen, 1);
    assert_eq!(stats.inbound_refused, 2);
    let _ = (IpAddr::V4(Ipv4Addr::LOCALHOST), H256::zero());
}
