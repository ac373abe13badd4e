//! Whole-tree resolution, link following, re-sync on a new sequence number, and the random walk.

use std::collections::HashSet;
use std::sync::Arc;

use p2p_dnsdisc::entry::{BRANCH_PREFIX, MAX_BRANCH_CHILDREN};
use p2p_dnsdisc::{Client, Config, FixtureResolver, RandomWalk, Tree};

use crate::support::{ident, key, nodes, publish, texts, within};

#[tokio::test]
async fn three_hundred_records_resolve_through_three_levels_of_branches() {
    let records = nodes(0, 300);
    let tree = Tree::sign(&records, &[], 7, &key(1));
    let branches = tree
        .entries()
        .values()
        .filter(|t| t.starts_with(BRANCH_PREFIX))
        .count();
    // 300 leaves → 24 branches → 2 branches → 1 top branch, and the empty link branch.
    assert_eq!(branches, 24 + 2 + 1 + 1);
    assert!(
        tree.entries().values().all(|t| {
            !t.starts_with(BRANCH_PREFIX) || t.split(',').count() <= MAX_BRANCH_CHILDREN
        })
    );
    let dns = FixtureResolver::new();
    let link = publish(&dns, &tree, "nodes.example.org");

    let mut client = Client::new(&dns, Config::default());
    let resolved = within(client.resolve(&link)).await.unwrap();
    assert_eq!(texts(&resolved.records), texts(&records));
    assert_eq!(resolved.trees.len(), 1);
    assert_eq!(resolved.trees[0].root.seq, 7);
    assert!(resolved.links().is_empty());
    // Every entry fetched once: the root, 28 branches, 300 leaves.
    assert_eq!(dns.lookups(), 1 + 28 + 300);
}

#[tokio::test]
async fn links_are_followed_and_a_tree_reached_twice_is_synced_once() {
    let dns = FixtureResolver::new();
    let c = Tree::sign(&nodes(200, 5), &[], 1, &key(3));
    let c_link = publish(&dns, &c, "c.example.org");
    let b = Tree::sign(&nodes(100, 5), std::slice::from_ref(&c_link), 1, &key(2));
    let b_link = publish(&dns, &b, "b.example.org");
    let a = Tree::sign(&nodes(0, 5), &[b_link.clone(), c_link.clone()], 1, &key(1));
    let a_link = publish(&dns, &a, "a.example.org");

    let mut client = Client::new(dns, Config::default());
    let resolved = within(client.resolve(&a_link)).await.unwrap();
    let domains: Vec<&str> = resolved.trees.iter().map(|t| t.link.domain()).collect();
    assert_eq!(domains, ["a.example.org", "b.example.org", "c.example.org"]);
    let mut want = nodes(0, 5);
    want.extend(nodes(100, 5));
    want.extend(nodes(200, 5));
    assert_eq!(texts(&resolved.records), texts(&want));
    assert_eq!(resolved.links(), [b_link, c_link]);
}

#[tokio::test]
async fn a_tree_is_fetched_again_only_when_its_sequence_number_rises() {
    let dns = FixtureResolver::new();
    let v1 = Tree::sign(&nodes(0, 20), &[], 1, &key(1));
    let link = publish(&dns, &v1, "n.example.org");
    let mut client = Client::new(&dns, Config::default());

    let first = within(client.sync_tree(&link)).await.unwrap();
    let after_first = dns.lookups();
    // The same root: one lookup (the root), the same copy.
    let again = within(client.sync_tree(&link)).await.unwrap();
    assert_eq!(dns.lookups(), after_first + 1);
    assert!(Arc::ptr_eq(&first, &again));

    // A new sequence number with new records: synced again.
    let v2 = Tree::sign(&nodes(50, 3), &[], 2, &key(1));
    dns.extend(v2.txt_records("n.example.org"));
    dns.set("n.example.org", v2.root().to_string());
    let second = within(client.sync_tree(&link)).await.unwrap();
    assert_eq!(second.root.seq, 2);
    assert_eq!(texts(&second.records), texts(&nodes(50, 3)));

    // A validly signed but older root (a replay) keeps the newer copy.
    dns.set("n.example.org", v1.root().to_string());
    let replayed = within(client.sync_tree(&link)).await.unwrap();
    assert_eq!(replayed.root.seq, 2);
    assert!(Arc::ptr_eq(&second, &replayed));
}

#[tokio::test]
async fn an_empty_tree_resolves_to_nothing() {
    let dns = FixtureResolver::new();
    let tree = Tree::sign(&[], &[], 1, &key(1));
    let link = publish(&dns, &tree, "empty.example.org");
    let mut client = Client::new(&dns, Config::default());
    let resolved = within(client.resolve(&link)).await.unwrap();
    assert!(resolved.records.is_empty());
    let mut walk = RandomWalk::new(&dns, Config::default(), [link]);
    assert_eq!(within(walk.next_node()).await.unwrap(), None);
}

#[tokio::test]
async fn the_random_walk_reaches_every_record_and_linked_trees() {
    let dns = FixtureResolver::new();
    let b = Tree::sign(&nodes(100, 4), &[], 1, &key(2));
    let b_link = publish(&dns, &b, "b.example.org");
    let a = Tree::sign(&nodes(0, 30), &[b_link], 1, &key(1));
    let a_link = publish(&dns, &a, "a.example.org");

    let mut walk = RandomWalk::new(&dns, Config::default(), [a_link]);
    let mut all = nodes(0, 30);
    all.extend(nodes(100, 4));
    let want: HashSet<String> = all.iter().map(ident).collect();
    let mut seen = HashSet::new();
    for _ in 0..2000 {
        let node = within(walk.next_node()).await.unwrap().unwrap();
        assert!(want.contains(&ident(&node)));
        seen.insert(ident(&node));
        if seen.len() == want.len() {
            break;
        }
    }
    assert_eq!(seen.len(), want.len());
    assert_eq!(walk.tree_count(), 2);
    // Cached entries are not fetched again: at most one lookup per entry of both trees.
    assert!(dns.lookups() <= a.entries().len() + b.entries().len() + 2);
}

#[tokio::test(start_paused = true)]
async fn the_random_walk_takes_a_new_root_after_the_recheck_interval() {
    let dns = FixtureResolver::new();
    let v1 = Tree::sign(&nodes(0, 5), &[], 1, &key(1));
    let link = publish(&dns, &v1, "n.example.org");
    let mut walk = RandomWalk::new(&dns, Config::default(), [link])
        .root_recheck(std::time::Duration::from_secs(60));
    let old: HashSet<String> = nodes(0, 5).iter().map(ident).collect();
    let new: HashSet<String> = nodes(100, 5).iter().map(ident).collect();
    for _ in 0..20 {
        let node = walk.next_node().await.unwrap().unwrap();
        assert!(old.contains(&ident(&node)));
    }
    // Publish seq 2; the walk keeps its root until the interval has passed.
    let v2 = Tree::sign(&nodes(100, 5), &[], 2, &key(1));
    dns.extend(v2.txt_records("n.example.org"));
    for _ in 0..20 {
        let node = walk.next_node().await.unwrap().unwrap();
        assert!(old.contains(&ident(&node)));
    }
    tokio::time::advance(std::time::Duration::from_secs(61)).await;
    for _ in 0..20 {
        let node = walk.next_node().await.unwrap().unwrap();
        assert!(new.contains(&ident(&node)));
    }
}

/// A fixture whose every answer takes 10 ms, counting the lookups in flight at once.
struct Slow<'a> {
    inner: &'a FixtureResolver,
    now: std::sync::atomic::AtomicUsize,
    peak: std::sync::atomic::AtomicUsize,
}

impl p2p_dnsdisc::Resolver for Slow<'_> {
    fn lookup_txt(
        &self,
        name: &str,
    ) -> impl std::future::Future<Output = Result<Vec<String>, p2p_dnsdisc::ResolveError>> + Send
    {
        use std::sync::atomic::Ordering::SeqCst;
        let answer = self.inner.lookup_txt(name);
        async move {
            let now = self.now.fetch_add(1, SeqCst) + 1;
            self.peak.fetch_max(now, SeqCst);
            tokio::time::sleep(std::time::Duration::from_millis(10)).await;
            self.now.fetch_sub(1, SeqCst);
            answer.await
        }
    }
}

#[tokio::test(start_paused = true)]
async fn lookups_run_concurrently_up_to_the_limit() {
    let dns = FixtureResolver::new();
    let tree = Tree::sign(&nodes(0, 100), &[], 1, &key(1));
    let link = publish(&dns, &tree, "n.example.org");
    let slow = Slow {
        inner: &dns,
        now: 0.into(),
        peak: 0.into(),
    };
    let mut client = Client::new(&slow, Config::default().concurrency(4));
    let start = tokio::time::Instant::now();
    let resolved = client.resolve(&link).await.unwrap();
    assert_eq!(resolved.records.len(), 100);
    assert_eq!(slow.peak.load(std::sync::atomic::Ordering::SeqCst), 4);
    // 1 + 1 + 8 + 100 + 1 lookups of 10 ms, 4 at a time: far less than one after another.
    assert!(start.elapsed() < std::time::Duration::from_millis(111 * 10 / 2));
}

#[tokio::test]
async fn a_node_in_two_trees_is_kept_once_with_its_newest_record() {
    let dns = FixtureResolver::new();
    let node_key = key(0x4242);
    let old = p2p_dnsdisc::Enr::builder()
        .ip4([127, 0, 0, 1].into())
        .tcp4(30303)
        .seq(1)
        .build(&node_key)
        .unwrap();
    let newer = p2p_dnsdisc::Enr::builder()
        .ip4([127, 0, 0, 2].into())
        .tcp4(30303)
        .seq(5)
        .build(&node_key)
        .unwrap();
    let b = Tree::sign(std::slice::from_ref(&newer), &[], 1, &key(2));
    let b_link = publish(&dns, &b, "b.example.org");
    let a = Tree::sign(std::slice::from_ref(&old), &[b_link], 1, &key(1));
    let a_link = publish(&dns, &a, "a.example.org");
    let mut client = Client::new(&dns, Config::default());
    let resolved = within(client.resolve(&a_link)).await.unwrap();
    assert_eq!(resolved.records.len(), 1);
    assert_eq!(resolved.records[0].seq(), 5);
    assert_eq!(resolved.records[0].ip4(), Some([127, 0, 0, 2].into()));
}

#[tokio::test]
async fn the_random_walk_reports_a_tampered_entry_and_stays_usable() {
    let dns = FixtureResolver::new();
    let tree = Tree::sign(&nodes(0, 3), &[], 1, &key(1));
    let link = publish(&dns, &tree, "n.example.org");
    let leaves: Vec<String> = tree
        .entries()
        .iter()
        .filter(|(_, t)| t.starts_with("enr:"))
        .map(|(h, _)| format!("{h}.n.example.org"))
        .collect();
    for name in &leaves {
        dns.set(name, nodes(50, 1)[0].to_base64());
    }
    let mut walk = RandomWalk::new(&dns, Config::default(), [link]);
    let err = within(walk.next_node()).await.unwrap_err();
    assert!(err.is_tampered(), "{err}");
    // Put the real leaves back: the next call succeeds.
    dns.extend(tree.txt_records("n.example.org"));
    assert!(within(walk.next_node()).await.unwrap().is_some());
}

#[tokio::test]
async fn a_boxed_resolver_drives_clients_on_spawned_tasks() {
    let dns = FixtureResolver::new();
    let tree = Tree::sign(&nodes(0, 20), &[], 1, &key(1));
    let link = publish(&dns, &tree, "n.example.org");
    let boxed = p2p_dnsdisc::BoxResolver::new(dns);
    // Both futures are Send: they run on spawned tasks.
    let resolve = {
        let (boxed, link) = (boxed.clone(), link.clone());
        tokio::spawn(async move {
            let mut client = Client::new(boxed, Config::default());
            client.resolve(&link).await.map(|r| r.records.len())
        })
    };
    let walk = tokio::spawn(async move {
        let mut walk = RandomWalk::new(boxed, Config::default(), [link]);
        walk.next_node().await.map(|n| n.is_some())
    });
    assert_eq!(within(resolve).await.unwrap(), Ok(20));
    assert_eq!(within(walk).await.unwrap(), Ok(true));
}
