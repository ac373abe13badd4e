//! The generator: content matches headers, forks, and the honest [`ChainServer`] as a boxed source.

use std::sync::Arc;

use chain_types::{
    ChainSource, DynChainSource, EMPTY_OMMERS_HASH, EMPTY_ROOT_HASH, HeadersRequest,
    generator::{Chain, ChainServer, CompactChain, GeneratorOptions},
    roots,
};

#[test]
fn light_chains_carry_the_empty_roots() {
    let chain = Chain::generate(100, &GeneratorOptions::light(3));
    for b in chain.blocks() {
        assert_eq!(b.header.transactions_root, EMPTY_ROOT_HASH);
        assert_eq!(b.header.receipts_root, EMPTY_ROOT_HASH);
        assert_eq!(b.header.ommers_hash, EMPTY_OMMERS_HASH);
        assert!(b.header.has_empty_body() && b.body.is_empty());
    }
    assert!(chain.td(100).unwrap() > chain.td(99).unwrap());
}

#[test]
fn shanghai_bodies_carry_withdrawals_that_match() {
    let opts = GeneratorOptions {
        shanghai: true,
        ..GeneratorOptions::seeded(12)
    };
    let chain = Chain::generate(40, &opts);
    let mut withdrawals = 0;
    for (n, b) in chain.blocks().iter().enumerate() {
        b.body.check_against(&b.header).unwrap();
        roots::check_receipts(chain.receipts(n as u64).unwrap(), &b.header).unwrap();
        withdrawals += b.body.withdrawals.as_ref().unwrap().len();
        let back: chain_types::Block = rlp::decode(&rlp::encode(b)).unwrap();
        assert_eq!(&back, b);
    }
    assert!(withdrawals > 10);
}

#[test]
fn tampered_bodies_fail_their_checks() {
    let chain = Chain::generate(30, &GeneratorOptions::seeded(2));
    let b = chain
        .blocks()
        .iter()
        .find(|b| b.body.transactions.len() >= 2)
        .unwrap();
    let mut body = b.body.clone();
    body.transactions.swap(0, 1);
    assert!(
        body.check_against(&b.header)
            .unwrap_err()
            .is_root_mismatch()
    );
    let mut receipts = chain.receipts(b.number()).unwrap().to_vec();
    receipts[0].cumulative_gas_used += 1;
    assert!(
        roots::check_receipts(&receipts, &b.header)
            .unwrap_err()
            .is_root_mismatch()
    );
    let other = chain
        .blocks()
        .iter()
        .find(|o| o.body.ommers.len() == 1)
        .unwrap();
    let mut body = other.body.clone();
    body.ommers.clear();
    assert!(
        body.check_against(&other.header)
            .unwrap_err()
            .is_root_mismatch()
    );
}

#[test]
fn forks_share_the_prefix_and_heavier_forks_weigh_more() {
    let base = Chain::generate(100, &GeneratorOptions::seeded(1));
    let light = base.fork(60, 40, &GeneratorOptions::seeded(2));
    let heavy = base.fork(60, 20, &GeneratorOptions::seeded(3).heavier(3));
    assert_eq!(light.block(60).unwrap(), base.block(60).unwrap());
    assert_ne!(
        light.block(61).unwrap().hash(),
        base.block(61).unwrap().hash()
    );
    assert_eq!(
        light.block(61).unwrap().header.parent_hash,
        base.block(60).unwrap().hash()
    );
    assert!(heavy.head().number() < base.head().number());
    assert!(heavy.head_td() > base.head_td());
    let compact = CompactChain::generate(100, &GeneratorOptions::seeded(1)).fork(
        60,
        20,
        &GeneratorOptions::seeded(3).heavier(3),
    );
    assert_eq!(compact.head_hash(), heavy.head().hash());
    assert_eq!(compact.head_td(), heavy.head_td());
}

#[tokio::test]
async fn chain_server_serves_through_a_boxed_source() {
    let chain = Arc::new(Chain::generate(50, &GeneratorOptions::seeded(6)));
    let source: Arc<dyn DynChainSource> = Arc::new(ChainServer::new("honest", chain.clone()));
    let fut = async {
        assert_eq!(ChainSource::id(&source), "honest");
        assert_eq!(
            ChainSource::head(&source),
            (chain.head().hash(), chain.head_td())
        );
        let headers = source.headers(HeadersRequest::rising(10, 5)).await.unwrap();
        assert_eq!(
            headers.iter().map(|h| h.number).collect::<Vec<_>>(),
            vec![10, 11, 12, 13, 14]
        );
        let hashes = vec![
            chain.block(3).unwrap().hash(),
            chain_types::H256::repeat_byte(9),
            chain.block(4).unwrap().hash(),
        ];
        let bodies = source.bodies(hashes.clone()).await.unwrap();
        assert_eq!(
            bodies,
            vec![
                chain.block(3).unwrap().body.clone(),
                chain.block(4).unwrap().body.clone()
            ]
        );
        let receipts = source.receipts(hashes).await.unwrap();
        assert_eq!(
            receipts.len(),
            2,
            "unknown hashes are skipped without placeholders"
        );
        assert_eq!(receipts[1], chain.receipts(4).unwrap());
    };
    tokio::time::timeout(std::time::Duration::from_secs(10), fut)
        .await
        .unwrap();
}
