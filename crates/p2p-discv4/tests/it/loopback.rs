//! Loopback networks of peerwire nodes.

use std::time::Duration;

use p2p_discv4::{Discv4, Discv4Config};
use p2p_rlpx::NodeKey;

pub(crate) fn config() -> Discv4Config {
    Discv4Config {
        listen_addr: "127.0.0.1:0".parse().unwrap(),
        ..Discv4Config::default()
    }
}

#[tokio::test]
async fn two_nodes_bond_by_ping() {
    tokio::time::timeout(Duration::from_secs(20), async {
        let a = Discv4::bind(&NodeKey::generate(), config()).await.unwrap();
        let b = Discv4::bind(&NodeKey::generate(), config()).await.unwrap();
        let r = a.ping(&b.local_enode()).await;
        eprintln!("{r:?} a={:?} b={:?}", a.stats(), b.stats());
        r.unwrap();
        let found = a.lookup(b.local_enode().id).await;
        eprintln!("{found:?} a={:?} b={:?}", a.stats(), b.stats());
        let rec = a.request_enr(&b.local_enode()).await;
        eprintln!("{rec:?} a={:?} b={:?}", a.stats(), b.stats());
    })
    .await
    .unwrap();
}
