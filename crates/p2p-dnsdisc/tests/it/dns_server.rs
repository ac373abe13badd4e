//! A tiny authoritative DNS server on a loopback UDP socket, answering TXT queries from a
//! [`FixtureResolver`] (each record cut into 255-byte character-strings, as real zones do); the
//! hickory resolver resolves a whole tree through it.

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use hickory_resolver::proto::op::{Message, MessageType, OpCode, ResponseCode};
use hickory_resolver::proto::rr::rdata::TXT;
use hickory_resolver::proto::rr::{RData, Record, RecordType};
use p2p_dnsdisc::{Client, Config, Enr, FixtureResolver, HickoryResolver, Resolver, Tree};
use tokio::net::UdpSocket;

use crate::support::{key, nodes, publish, texts, within};

/// Serves `zone` on `socket` until the task is dropped; counts the queries answered.
pub(crate) async fn serve(
    socket: UdpSocket,
    zone: Arc<FixtureResolver>,
    queries: Arc<AtomicUsize>,
) {
    let mut buf = vec![0u8; 4096];
    loop {
        let Ok((len, from)) = socket.recv_from(&mut buf).await else {
            continue;
        };
        let Some(request) = buf.get(..len).and_then(|b| Message::from_vec(b).ok()) else {
            continue;
        };
        if request.metadata.message_type != MessageType::Query {
            continue;
        }
        queries.fetch_add(1, Ordering::Relaxed);
        let mut response = Message::response(request.metadata.id, OpCode::Query);
        response.metadata.authoritative = true;
        response.metadata.recursion_desired = request.metadata.recursion_desired;
        response.metadata.recursion_available = true;
        let mut found = false;
        for query in &request.queries {
            response.add_query(query.clone());
            if query.query_type() != RecordType::TXT {
                continue;
            }
            let name = query.name().to_string();
            for text in zone.get(&name).unwrap_or_default() {
                found = true;
                let chunks: Vec<&[u8]> = text.as_bytes().chunks(255).collect();
                let rdata = RData::TXT(TXT::from_bytes(chunks));
                response.add_answer(Record::from_rdata(query.name().clone(), 60, rdata));
            }
        }
        if !found {
            response.metadata.response_code = ResponseCode::NXDomain;
        }
        if let Ok(bytes) = response.to_vec() {
            let _ = socket.send_to(&bytes, from).await;
        }
    }
}

/// Starts [`serve`] on `addr` in a task; returns the bound address and the query counter.
pub(crate) async fn start(
    addr: &str,
    zone: Arc<FixtureResolver>,
) -> (SocketAddr, Arc<AtomicUsize>) {
    let socket = UdpSocket::bind(addr)
        .await
        .unwrap_or_else(|e| panic!("cannot bind the test DNS server on {addr}: {e}"));
    let bound = socket.local_addr().unwrap();
    let queries = Arc::new(AtomicUsize::new(0));
    tokio::spawn(serve(socket, zone, Arc::clone(&queries)));
    (bound, queries)
}

/// Records large enough (about 400 characters of text) that their TXT records span two strings.
fn big_nodes(n: u32) -> Vec<Enr> {
    (0..n)
        .map(|i| {
            Enr::builder()
                .ip4([127, 0, 1, i as u8].into())
                .tcp4(30303)
                .add_value("pad", &[0xabu8; 120].as_slice())
                .build(&key(0x9000 + i))
                .unwrap()
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_hickory_resolver_resolves_a_tree_from_a_local_dns_server() {
    let zone = Arc::new(FixtureResolver::new());
    let mut records = nodes(0, 120);
    records.extend(big_nodes(5));
    assert!(records.iter().any(|r| r.to_base64().len() > 255));
    let tree = Tree::sign(&records, &[], 3, &key(1));
    let link = publish(&zone, &tree, "nodes.example.org");
    let (addr, queries) = start("127.0.0.1:0", Arc::clone(&zone)).await;

    let resolver = HickoryResolver::with_server(addr, Duration::from_secs(2)).unwrap();
    // Long records arrive whole: their strings are joined.
    let big = big_nodes(1).remove(0);
    let name = format!(
        "{}.nodes.example.org",
        p2p_dnsdisc::entry::entry_hash(&big.to_base64())
    );
    zone.set(&name, big.to_base64());
    assert_eq!(
        within(resolver.lookup_txt(&name)).await.unwrap(),
        [big.to_base64()]
    );
    assert!(
        within(resolver.lookup_txt("missing.nodes.example.org"))
            .await
            .unwrap_err()
            .is_not_found()
    );

    let mut client = Client::new(resolver, Config::default());
    let resolved = within(client.resolve(&link)).await.unwrap();
    assert_eq!(texts(&resolved.records), texts(&records));
    // The root, the branches and the leaves, each asked once (plus the two lookups above).
    assert_eq!(
        queries.load(Ordering::Relaxed),
        2 + 1 + tree.entries().len()
    );
}

#[test]
fn the_system_resolver_builds_from_the_system_configuration() {
    let resolver = HickoryResolver::system(Duration::from_secs(1), 1);
    assert!(resolver.is_ok(), "{:?}", resolver.err());
}
