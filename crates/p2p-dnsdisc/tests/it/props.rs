//! Property tests: no parser panics on arbitrary text, and signed values round-trip.

use p2p_dnsdisc::entry::{decode_hash, entry_hash, hash_matches};
use p2p_dnsdisc::{Client, Config, Entry, FixtureResolver, Link, Root};
use proptest::prelude::*;
use secp256k1::{PublicKey, SecretKey};

/// Arbitrary text, and text that starts like each entry kind.
fn entry_text() -> impl Strategy<Value = String> {
    let prefixes = prop::sample::select(vec![
        "",
        "enrtree-root:v1 ",
        "enrtree-root:v1 e=",
        "enrtree-branch:",
        "enr:",
        "enr:-",
        "enrtree://",
        "enrtree://AM5FCQLWIZX2QFPNJAP7VUERCCRNGRHWZG3YYHIUV7BVDQ5FDPRT2@",
    ]);
    (prefixes, ".{0,20}", "[A-Za-z0-9=_ ,.@:/-]{0,120}")
        .prop_map(|(p, any, shaped)| format!("{p}{any}{shaped}"))
}

proptest! {
    #[test]
    fn no_parser_panics_on_arbitrary_text(text in entry_text()) {
        let _ = Entry::parse(&text);
        let _ = Root::parse(&text);
        let _ = text.parse::<Link>();
        let _ = decode_hash(&text);
        let _ = hash_matches(&text, &text);
    }

    #[test]
    fn no_parser_panics_on_arbitrary_bytes_as_text(bytes in prop::collection::vec(any::<u8>(), 0..300)) {
        let text = String::from_utf8_lossy(&bytes);
        let _ = Entry::parse(&text);
        let _ = text.parse::<Link>();
    }

    #[test]
    fn roots_round_trip_and_verify(seed in 1u64..u64::MAX, seq: u64, a: String, b: String) {
        let mut bytes = [0u8; 32];
        bytes[0] = 1;
        bytes[24..].copy_from_slice(&seed.to_be_bytes());
        let key = SecretKey::from_secret_bytes(bytes).unwrap();
        let root = Root::sign(entry_hash(&a), entry_hash(&b), seq, &key);
        let back = Root::parse(&root.to_string()).unwrap();
        prop_assert!(back.verify(&PublicKey::from_secret_key(&key)));
        prop_assert_eq!(back, root);
    }

    #[test]
    fn links_round_trip(seed in 1u64..u64::MAX, domain in "[a-z0-9-]{1,20}(\\.[a-z0-9-]{1,20}){0,3}") {
        let mut bytes = [0u8; 32];
        bytes[0] = 2;
        bytes[24..].copy_from_slice(&seed.to_be_bytes());
        let key = PublicKey::from_secret_key(&SecretKey::from_secret_bytes(bytes).unwrap());
        let link = Link::new(key, &domain).unwrap();
        prop_assert_eq!(link.to_string().parse::<Link>().unwrap(), link);
    }

    #[test]
    fn the_client_never_panics_on_arbitrary_records(
        root in entry_text(),
        entries in prop::collection::vec(entry_text(), 0..8),
    ) {
        let dns = FixtureResolver::new();
        dns.set("t.example.org", root);
        for text in &entries {
            dns.set(&format!("{}.t.example.org", entry_hash(text)), text.clone());
        }
        let key = PublicKey::from_secret_key(&SecretKey::from_secret_bytes([9; 32]).unwrap());
        let link = Link::new(key, "t.example.org").unwrap();
        let rt = tokio::runtime::Builder::new_current_thread().enable_time().build().unwrap();
        let mut client = Client::new(&dns, Config::default());
        let _ = rt.block_on(client.resolve(&link));
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(24))]

    #[test]
    fn any_signed_tree_resolves_to_its_records(n in 0u32..200, links in 0usize..30, seq: u64) {
        let records = crate::support::nodes(0, n);
        let links: Vec<Link> = (0..links)
            .map(|i| {
                let key = PublicKey::from_secret_key(&crate::support::key(0x7000 + i as u32));
                Link::new(key, &format!("l{i}.example.org")).unwrap()
            })
            .collect();
        let tree = p2p_dnsdisc::Tree::sign(&records, &links, seq, &crate::support::key(1));
        let dns = FixtureResolver::new();
        let link = crate::support::publish(&dns, &tree, "t.example.org");
        let rt = tokio::runtime::Builder::new_current_thread().enable_time().build().unwrap();
        let mut client = Client::new(&dns, Config::default());
        let synced = rt.block_on(client.sync_tree(&link)).unwrap();
        prop_assert_eq!(synced.root.seq, seq);
        prop_assert_eq!(crate::support::texts(&synced.records), crate::support::texts(&records));
        let mut got = synced.links.clone();
        got.sort_by(|a, b| a.domain().cmp(b.domain()));
        let mut want = links;
        want.sort_by(|a, b| a.domain().cmp(b.domain()));
        prop_assert_eq!(got, want);
        // Every TXT record fits one 512-byte UDP answer with room for the name.
        prop_assert!(tree.txt_records("t.example.org").values().all(|t| t.len() <= 420));
    }
}
