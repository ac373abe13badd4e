//! Every way a tree can be bad, and every limit: each gives its own error, nothing panics.

use std::future::Future;
use std::time::Duration;

use p2p_dnsdisc::entry::entry_hash;
use p2p_dnsdisc::{
    Client, Config, EntryError, Error, FixtureResolver, Link, ResolveError, Resolver, Root, Tree,
};
use secp256k1::PublicKey;

use crate::support::{key, nodes, publish, within};

const DOMAIN: &str = "nodes.example.org";

async fn resolve_err(dns: &FixtureResolver, link: &Link, config: Config) -> Error {
    let mut client = Client::new(dns, config);
    within(client.resolve(link)).await.unwrap_err()
}

/// A tree of `n` records at [`DOMAIN`] and its link.
fn served(n: u32) -> (FixtureResolver, Tree, Link) {
    let dns = FixtureResolver::new();
    let tree = Tree::sign(&nodes(0, n), &[], 1, &key(1));
    let link = publish(&dns, &tree, DOMAIN);
    (dns, tree, link)
}

/// Publishes a hand-made tree whose ENR subtree top is the entry `enr_top` and whose link subtree
/// is empty, signed by key 1.
fn crafted(dns: &FixtureResolver, enr_top: &str) -> Link {
    let empty = "enrtree-branch:";
    dns.set(&format!("{}.{DOMAIN}", entry_hash(enr_top)), enr_top);
    dns.set(&format!("{}.{DOMAIN}", entry_hash(empty)), empty);
    let root = Root::sign(entry_hash(enr_top), entry_hash(empty), 1, &key(1));
    dns.set(DOMAIN, root.to_string());
    Link::new(PublicKey::from_secret_key(&key(1)), DOMAIN).unwrap()
}

#[tokio::test]
async fn a_tampered_record_is_a_hash_mismatch() {
    let (dns, tree, link) = served(40);
    // Swap one leaf's text for another valid record: the name no longer matches.
    let (hash, _) = tree
        .entries()
        .iter()
        .find(|(_, t)| t.starts_with("enr:"))
        .unwrap();
    let name = format!("{hash}.{DOMAIN}");
    dns.set(&name, nodes(999, 1)[0].to_base64());
    let err = resolve_err(&dns, &link, Config::default()).await;
    assert_eq!(err, Error::HashMismatch { name });
    assert!(err.is_tampered());
}

#[tokio::test]
async fn a_root_signed_by_another_key_is_a_bad_signature() {
    let (dns, _, link) = served(5);
    let forged = Tree::sign(&nodes(500, 5), &[], 9, &key(66));
    dns.extend(forged.txt_records(DOMAIN));
    let err = resolve_err(&dns, &link, Config::default()).await;
    assert_eq!(
        err,
        Error::BadSignature {
            name: DOMAIN.into()
        }
    );
    assert!(err.is_tampered());
}

#[tokio::test]
async fn a_root_with_a_changed_field_is_a_bad_signature() {
    let (dns, tree, link) = served(5);
    let text = tree.root().to_string().replace(" seq=1 ", " seq=2 ");
    dns.set(DOMAIN, text);
    let err = resolve_err(&dns, &link, Config::default()).await;
    assert!(matches!(err, Error::BadSignature { .. }), "{err}");
}

#[tokio::test]
async fn a_malformed_root_or_none_is_reported() {
    let (dns, _, link) = served(5);
    dns.set(DOMAIN, "enrtree-root:v1 e=AAAA");
    let err = resolve_err(&dns, &link, Config::default()).await;
    assert!(
        matches!(
            &err,
            Error::Entry { name, source: EntryError::Root(_) } if name == DOMAIN
        ),
        "{err}"
    );
    dns.set(DOMAIN, "v=spf1 -all");
    let err = resolve_err(&dns, &link, Config::default()).await;
    assert_eq!(
        err,
        Error::NotRoot {
            name: DOMAIN.into()
        }
    );
}

#[tokio::test]
async fn a_loop_in_links_is_reported_or_skipped_as_configured() {
    let dns = FixtureResolver::new();
    let a_link = Link::new(PublicKey::from_secret_key(&key(1)), "a.example.org").unwrap();
    let b = Tree::sign(&nodes(100, 3), std::slice::from_ref(&a_link), 1, &key(2));
    let b_link = publish(&dns, &b, "b.example.org");
    let a = Tree::sign(&nodes(0, 3), std::slice::from_ref(&b_link), 1, &key(1));
    assert_eq!(publish(&dns, &a, "a.example.org"), a_link);

    let err = resolve_err(&dns, &a_link, Config::default()).await;
    assert_eq!(
        err,
        Error::LinkLoop {
            domain: "a.example.org".into()
        }
    );
    assert!(err.is_limit());

    // Two lists linking to each other are a federation when loops are allowed.
    let mut client = Client::new(&dns, Config::default().reject_link_loops(false));
    let resolved = within(client.resolve(&a_link)).await.unwrap();
    assert_eq!(resolved.records.len(), 6);
    assert_eq!(resolved.trees.len(), 2);
}

#[tokio::test]
async fn a_tree_linking_to_itself_is_a_loop() {
    let dns = FixtureResolver::new();
    let self_link = Link::new(PublicKey::from_secret_key(&key(1)), DOMAIN).unwrap();
    let tree = Tree::sign(&nodes(0, 3), std::slice::from_ref(&self_link), 1, &key(1));
    publish(&dns, &tree, DOMAIN);
    let err = resolve_err(&dns, &self_link, Config::default()).await;
    assert_eq!(
        err,
        Error::LinkLoop {
            domain: DOMAIN.into()
        }
    );
}

#[tokio::test]
async fn an_oversized_txt_record_is_refused() {
    let (dns, tree, link) = served(5);
    let (hash, _) = tree.entries().iter().next().unwrap();
    let name = format!("{hash}.{DOMAIN}");
    dns.set(&name, format!("enr:{}", "A".repeat(5000)));
    let err = resolve_err(&dns, &link, Config::default()).await;
    assert_eq!(
        err,
        Error::OversizedTxt {
            name,
            len: 5004,
            limit: 1024
        }
    );
    assert!(err.is_limit());
}

#[tokio::test]
async fn unrelated_txt_records_beside_the_root_are_ignored() {
    let (dns, _, link) = served(5);
    dns.insert(DOMAIN, "v=spf1 -all");
    dns.insert(DOMAIN, format!("site-verification={}", "x".repeat(3000)));
    let mut client = Client::new(&dns, Config::default());
    assert_eq!(
        within(client.resolve(&link)).await.unwrap().records.len(),
        5
    );
}

#[tokio::test]
async fn a_missing_entry_is_a_lookup_failure() {
    let (dns, tree, link) = served(20);
    let (hash, _) = tree
        .entries()
        .iter()
        .find(|(_, t)| t.starts_with("enr:"))
        .unwrap();
    let name = format!("{hash}.{DOMAIN}");
    dns.remove(&name);
    let err = resolve_err(&dns, &link, Config::default()).await;
    assert_eq!(
        err,
        Error::Resolve {
            name,
            source: ResolveError::NotFound
        }
    );
    assert!(err.is_retryable());
}

#[tokio::test]
async fn unknown_and_misplaced_entries_are_reported() {
    let dns = FixtureResolver::new();
    // An entry of no known kind: only records of known kinds can be entries.
    let link = crafted(&dns, "hello world");
    let err = resolve_err(&dns, &link, Config::default()).await;
    assert!(
        matches!(
            err,
            Error::Entry {
                source: EntryError::UnknownKind,
                ..
            }
        ),
        "{err}"
    );
    // A link in the ENR subtree.
    let other = Link::new(PublicKey::from_secret_key(&key(5)), "other.example.org").unwrap();
    let link = crafted(&dns, &other.to_string());
    let err = resolve_err(&dns, &link, Config::default()).await;
    assert!(
        matches!(
            err,
            Error::WrongSubtree {
                kind: "link",
                subtree: "enr",
                ..
            }
        ),
        "{err}"
    );
    // A malformed record whose name matches its text.
    let link = crafted(&dns, "enr:AAAA");
    let err = resolve_err(&dns, &link, Config::default()).await;
    assert!(
        matches!(
            err,
            Error::Entry {
                source: EntryError::Enr(_),
                ..
            }
        ),
        "{err}"
    );
}

#[tokio::test]
async fn depth_entry_and_tree_limits_stop_the_sync() {
    let (dns, _, link) = served(300);
    let err = resolve_err(&dns, &link, Config::default().max_depth(2)).await;
    assert!(matches!(err, Error::DepthLimit { limit: 2, .. }), "{err}");
    let before = dns.lookups();
    let err = resolve_err(&dns, &link, Config::default().max_entries(50)).await;
    assert_eq!(
        err,
        Error::TooMany {
            what: "entries",
            limit: 50
        }
    );
    // Entries are charged when queued: fewer than 50 names were ever asked for.
    assert!(dns.lookups() - before < 50);

    // A chain of links a → b → c → d.
    let dns = FixtureResolver::new();
    let mut next: Vec<Link> = Vec::new();
    for (i, name) in ["d", "c", "b", "a"].iter().enumerate() {
        let tree = Tree::sign(&nodes(i as u32 * 10, 2), &next, 1, &key(i as u32 + 1));
        next = vec![publish(&dns, &tree, &format!("{name}.example.org"))];
    }
    let a = next.pop().unwrap();
    let err = resolve_err(&dns, &a, Config::default().max_link_depth(2)).await;
    assert_eq!(
        err,
        Error::DepthLimit {
            name: "d.example.org".into(),
            limit: 2
        }
    );
    let err = resolve_err(&dns, &a, Config::default().max_trees(3)).await;
    assert_eq!(
        err,
        Error::TooMany {
            what: "trees",
            limit: 3
        }
    );
    let mut client = Client::new(&dns, Config::default());
    assert_eq!(within(client.resolve(&a)).await.unwrap().records.len(), 8);
}

/// A resolver that never answers.
struct Silent;

impl Resolver for Silent {
    fn lookup_txt(
        &self,
        _name: &str,
    ) -> impl Future<Output = Result<Vec<String>, ResolveError>> + Send {
        std::future::pending()
    }
}

#[tokio::test(start_paused = true)]
async fn a_silent_resolver_times_out() {
    let link = Link::new(PublicKey::from_secret_key(&key(1)), DOMAIN).unwrap();
    let mut client = Client::new(Silent, Config::default().timeout(Duration::from_secs(2)));
    let start = tokio::time::Instant::now();
    let err = client.resolve(&link).await.unwrap_err();
    assert!(err.is_timeout(), "{err}");
    assert_eq!(start.elapsed(), Duration::from_secs(2));
}
