//! [`Client`]: resolves whole trees (the ENR subtree and the link subtree of every tree reached
//! through links) within the limits of a [`Config`], and re-syncs a tree only when its root's
//! sequence number rises.

use std::collections::{HashMap, HashSet, VecDeque};
use std::sync::Arc;
use std::time::Duration;

use futures::StreamExt as _;
use futures::stream::FuturesUnordered;

use crate::entry::{BRANCH_PREFIX, ENR_PREFIX, Entry, ROOT_PREFIX, Root, hash_matches};
use crate::error::{EntryError, Error, ResolveError};
use crate::link::LINK_PREFIX;
use crate::{Enr, Link, Resolver};

/// Limits and timeouts of a [`Client`].
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct Config {
    /// The bound on every TXT lookup (default 5 s, as geth).
    pub timeout: Duration,
    /// The deepest branch nesting followed inside one subtree (default 32; a tree of 13-child
    /// branches holds 13^32 leaves long before that).
    pub max_depth: usize,
    /// The longest chain of links followed from the first tree (default 8).
    pub max_link_depth: usize,
    /// The most trees one [`Client::resolve`] visits, the first included (default 64).
    pub max_trees: usize,
    /// The most entries (roots, branches and leaves) one [`Client::resolve`] fetches (default 100 000).
    pub max_entries: usize,
    /// The longest TXT record accepted, in bytes (default 1024; the entries a tree needs are under
    /// 450 bytes: a 300-byte record is 404 characters of `enr:` text).
    pub max_txt_bytes: usize,
    /// How many lookups run at once (default 8).
    pub concurrency: usize,
    /// Whether a link back to a tree on the current path is an error ([`Error::LinkLoop`], the
    /// default) or is skipped like any tree already synced. EIP-1459 allows two lists to link to
    /// each other ("users can use either list and get nodes from both"); set this to `false` to
    /// accept such federations.
    pub reject_link_loops: bool,
}

impl Default for Config {
    fn default() -> Self {
        Self {
            timeout: Duration::from_secs(5),
            max_depth: 32,
            max_link_depth: 8,
            max_trees: 64,
            max_entries: 100_000,
            max_txt_bytes: 1024,
            concurrency: 8,
            reject_link_loops: true,
        }
    }
}

impl Config {
    /// Sets [`Config::timeout`].
    #[must_use]
    pub const fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    /// Sets [`Config::max_depth`].
    #[must_use]
    pub const fn max_depth(mut self, max_depth: usize) -> Self {
        self.max_depth = max_depth;
        self
    }

    /// Sets [`Config::max_link_depth`].
    #[must_use]
    pub const fn max_link_depth(mut self, max_link_depth: usize) -> Self {
        self.max_link_depth = max_link_depth;
        self
    }

    /// Sets [`Config::max_trees`].
    #[must_use]
    pub const fn max_trees(mut self, max_trees: usize) -> Self {
        self.max_trees = max_trees;
        self
    }

    /// Sets [`Config::max_entries`].
    #[must_use]
    pub const fn max_entries(mut self, max_entries: usize) -> Self {
        self.max_entries = max_entries;
        self
    }

    /// Sets [`Config::max_txt_bytes`].
    #[must_use]
    pub const fn max_txt_bytes(mut self, max_txt_bytes: usize) -> Self {
        self.max_txt_bytes = max_txt_bytes;
        self
    }

    /// Sets [`Config::reject_link_loops`].
    #[must_use]
    pub const fn reject_link_loops(mut self, reject: bool) -> Self {
        self.reject_link_loops = reject;
        self
    }

    /// Sets [`Config::concurrency`] (at least 1).
    #[must_use]
    pub fn concurrency(mut self, concurrency: usize) -> Self {
        self.concurrency = concurrency.max(1);
        self
    }
}

/// One tree as synced: its link, its verified root, its node records and its links.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct SyncedTree {
    /// The link the tree was reached by.
    pub link: Link,
    /// The verified root.
    pub root: Root,
    /// The node records of the ENR subtree.
    pub records: Vec<Enr>,
    /// The links of the link subtree.
    pub links: Vec<Link>,
}

/// The result of [`Client::resolve`]: every tree reached and the union of their records.
#[derive(Debug, Clone, Default)]
#[non_exhaustive]
pub struct Resolved {
    /// The node records of every tree reached, one per node id (the highest `seq` wins).
    pub records: Vec<Enr>,
    /// Every tree reached, the first one first, in the order they were synced.
    pub trees: Vec<Arc<SyncedTree>>,
}

impl Resolved {
    /// Every link found in the link subtrees of the trees reached (each once).
    pub fn links(&self) -> Vec<Link> {
        let mut seen = HashSet::new();
        self.trees
            .iter()
            .flat_map(|t| t.links.iter())
            .filter(|l| seen.insert(l.domain().to_owned()))
            .cloned()
            .collect()
    }
}

/// Which subtree a walk is in, so leaves of the other kind are refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Subtree {
    Enr,
    Link,
}

impl Subtree {
    const fn name(self) -> &'static str {
        match self {
            Self::Enr => "enr",
            Self::Link => "link",
        }
    }
}

/// Whether `text` starts like one of the four entry kinds.
fn is_entry_kind(text: &str) -> bool {
    [ROOT_PREFIX, BRANCH_PREFIX, ENR_PREFIX, LINK_PREFIX]
        .iter()
        .any(|p| text.starts_with(p))
}

/// Lookups with the checks every entry goes through (timeout, TXT size, hash, kind).
#[derive(Debug)]
pub(crate) struct Fetcher<'a, R> {
    pub(crate) resolver: &'a R,
    pub(crate) config: &'a Config,
}

impl<R: Resolver> Fetcher<'_, R> {
    /// The TXT records at `name`, each checked against the size limit, under the timeout.
    async fn lookup(&self, name: &str) -> Result<Vec<String>, Error> {
        let resolve = |source| Error::Resolve {
            name: name.to_owned(),
            source,
        };
        let txts = tokio::time::timeout(self.config.timeout, self.resolver.lookup_txt(name))
            .await
            .map_err(|_| resolve(ResolveError::Timeout))?
            .map_err(resolve)?;
        // A name may carry unrelated TXT records too (site verifications, SPF): only an oversized
        // record that claims to be an entry is an error; other oversized ones are dropped.
        let limit = self.config.max_txt_bytes;
        if let Some(big) = txts.iter().find(|t| t.len() > limit && is_entry_kind(t)) {
            return Err(Error::OversizedTxt {
                name: name.to_owned(),
                len: big.len(),
                limit,
            });
        }
        Ok(txts.into_iter().filter(|t| t.len() <= limit).collect())
    }

    /// The verified root of the tree `link` names.
    pub(crate) async fn root(&self, link: &Link) -> Result<Root, Error> {
        let name = link.domain();
        let txts = self.lookup(name).await?;
        let text = txts
            .iter()
            .find(|t| t.starts_with(ROOT_PREFIX))
            .ok_or_else(|| Error::NotRoot {
                name: name.to_owned(),
            })?;
        let root = Root::parse(text).map_err(|source| Error::Entry {
            name: name.to_owned(),
            source,
        })?;
        if !root.verify(link.public_key()) {
            return Err(Error::BadSignature {
                name: name.to_owned(),
            });
        }
        Ok(root)
    }

    /// The entry named `hash` under `domain`: the first TXT record of a known kind, which must hash
    /// to the name.
    pub(crate) async fn entry(&self, domain: &str, hash: &str) -> Result<Entry, Error> {
        let name = format!("{hash}.{domain}");
        let txts = self.lookup(&name).await?;
        let Some(text) = txts.iter().find(|t| is_entry_kind(t)) else {
            return Err(Error::Entry {
                name,
                source: EntryError::UnknownKind,
            });
        };
        if !hash_matches(hash, text) {
            return Err(Error::HashMismatch { name });
        }
        Entry::parse(text).map_err(|source| Error::Entry { name, source })
    }

    /// Every leaf of the subtree whose top entry is `top`, fetching at most `*budget` entries.
    ///
    /// An entry is charged to the budget when it is queued, so the queue, the set of names seen and
    /// the results never hold more than the budget.
    async fn walk(
        &self,
        domain: &str,
        top: &str,
        subtree: Subtree,
        budget: &mut usize,
    ) -> Result<(Vec<Enr>, Vec<Link>), Error> {
        let too_many = Error::TooMany {
            what: "entries",
            limit: self.config.max_entries,
        };
        let mut records = Vec::new();
        let mut links = Vec::new();
        *budget = budget.checked_sub(1).ok_or_else(|| too_many.clone())?;
        let mut seen = HashSet::from([top.to_ascii_uppercase()]);
        let mut pending = VecDeque::from([(top.to_owned(), 0usize)]);
        let mut in_flight = FuturesUnordered::new();
        loop {
            while in_flight.len() < self.config.concurrency.max(1) {
                let Some((hash, depth)) = pending.pop_front() else {
                    break;
                };
                in_flight.push(async move {
                    let entry = self.entry(domain, &hash).await;
                    (hash, depth, entry)
                });
            }
            let Some((hash, depth, entry)) = in_flight.next().await else {
                break;
            };
            let wrong = |kind| Error::WrongSubtree {
                name: format!("{hash}.{domain}"),
                kind,
                subtree: subtree.name(),
            };
            match entry? {
                Entry::Branch(children) => {
                    if !children.is_empty() && depth >= self.config.max_depth {
                        return Err(Error::DepthLimit {
                            name: format!("{hash}.{domain}"),
                            limit: self.config.max_depth,
                        });
                    }
                    for child in children {
                        if seen.insert(child.to_ascii_uppercase()) {
                            *budget = budget.checked_sub(1).ok_or_else(|| too_many.clone())?;
                            pending.push_back((child, depth + 1));
                        }
                    }
                }
                Entry::Enr(enr) if subtree == Subtree::Enr => records.push(*enr),
                Entry::Link(link) if subtree == Subtree::Link => links.push(link),
                other => return Err(wrong(other.kind())),
            }
        }
        Ok((records, links))
    }

    /// Syncs the tree `link` names (its root already fetched and verified).
    async fn tree(&self, link: &Link, root: Root, budget: &mut usize) -> Result<SyncedTree, Error> {
        let domain = link.domain();
        let (records, _) = self
            .walk(domain, &root.enr_root, Subtree::Enr, budget)
            .await?;
        let (_, links) = self
            .walk(domain, &root.link_root, Subtree::Link, budget)
            .await?;
        Ok(SyncedTree {
            link: link.clone(),
            root,
            records,
            links,
        })
    }
}

/// Resolves EIP-1459 trees through a [`Resolver`].
///
/// The client keeps the last synced copy of each tree (at most [`Config::max_trees`] of them) and
/// fetches a tree's entries again only when its root's sequence number is higher than the copy's;
/// a root with the same or a lower number (a stale or replayed root) keeps the copy.
///
/// # Examples
///
/// ```
/// use p2p_dnsdisc::{Client, Config, Enr, FixtureResolver, Tree};
/// use secp256k1::SecretKey;
///
/// # tokio::runtime::Builder::new_current_thread().enable_time().build().unwrap().block_on(async {
/// let key = SecretKey::from_secret_bytes([1; 32]).unwrap();
/// let nodes: Vec<Enr> = (1..=20u8)
///     .map(|i| {
///         let k = SecretKey::from_secret_bytes([i + 1; 32]).unwrap();
///         Enr::builder().ip4([127, 0, 0, i].into()).tcp4(30303).build(&k).unwrap()
///     })
///     .collect();
/// let tree = Tree::sign(&nodes, &[], 1, &key);
/// let dns = FixtureResolver::new();
/// dns.extend(tree.txt_records("nodes.example.org"));
///
/// let mut client = Client::new(dns, Config::default());
/// let resolved = client.resolve(&tree.link("nodes.example.org").unwrap()).await.unwrap();
/// assert_eq!(resolved.records.len(), 20);
/// # });
/// ```
#[derive(Debug)]
pub struct Client<R> {
    resolver: R,
    config: Config,
    trees: HashMap<String, Arc<SyncedTree>>,
}

impl<R: Resolver> Client<R> {
    /// A client asking `resolver`, within `config`.
    pub fn new(resolver: R, config: Config) -> Self {
        Self {
            resolver,
            config,
            trees: HashMap::new(),
        }
    }

    /// The resolver.
    pub const fn resolver(&self) -> &R {
        &self.resolver
    }

    /// The limits in force.
    pub const fn config(&self) -> &Config {
        &self.config
    }

    pub(crate) fn fetcher(&self) -> Fetcher<'_, R> {
        Fetcher {
            resolver: &self.resolver,
            config: &self.config,
        }
    }

    /// Syncs the one tree `link` names (its links are returned, not followed).
    ///
    /// # Errors
    ///
    /// Any [`Error`]: a bad or badly signed root, a tampered or malformed entry, a leaf in the wrong
    /// subtree, a limit exceeded, a lookup failure or timeout.
    ///
    /// # Cancel safety
    ///
    /// Cancelling leaves the cached copy of the tree as it was.
    pub async fn sync_tree(&mut self, link: &Link) -> Result<Arc<SyncedTree>, Error> {
        let mut budget = self.config.max_entries;
        self.sync_one(link, &mut budget).await
    }

    async fn sync_one(
        &mut self,
        link: &Link,
        budget: &mut usize,
    ) -> Result<Arc<SyncedTree>, Error> {
        *budget = budget.checked_sub(1).ok_or(Error::TooMany {
            what: "entries",
            limit: self.config.max_entries,
        })?;
        let root = self.fetcher().root(link).await?;
        if let Some(copy) = self.trees.get(link.domain())
            && copy.link == *link
            && copy.root.seq >= root.seq
        {
            tracing::trace!(domain = link.domain(), seq = root.seq, "dns tree unchanged");
            return Ok(Arc::clone(copy));
        }
        let tree = Arc::new(self.fetcher().tree(link, root, budget).await?);
        tracing::debug!(
            domain = link.domain(),
            seq = tree.root.seq,
            records = tree.records.len(),
            links = tree.links.len(),
            "dns tree synced"
        );
        if self.trees.len() >= self.config.max_trees && !self.trees.contains_key(link.domain()) {
            // Forget some other copy; it is fetched again when next asked for.
            if let Some(other) = self.trees.keys().next().cloned() {
                self.trees.remove(&other);
            }
        }
        self.trees
            .insert(link.domain().to_owned(), Arc::clone(&tree));
        Ok(tree)
    }

    /// Syncs the tree `link` names and every tree reached through links from it (depth first),
    /// within [`Config::max_link_depth`], [`Config::max_trees`] and [`Config::max_entries`].
    ///
    /// A tree reached twice through different paths is synced once; a link back to a tree on the
    /// current path is a loop, an error unless [`Config::reject_link_loops`] is off.
    ///
    /// # Errors
    ///
    /// As [`Client::sync_tree`] for any tree reached, plus [`Error::LinkLoop`], [`Error::DepthLimit`]
    /// and [`Error::TooMany`].
    ///
    /// # Cancel safety
    ///
    /// Cancelling keeps the copies of the trees synced so far.
    pub async fn resolve(&mut self, link: &Link) -> Result<Resolved, Error> {
        let mut budget = self.config.max_entries;
        let first = self.sync_one(link, &mut budget).await?;
        let mut visited = HashSet::from([link.domain().to_owned()]);
        let mut trees = vec![Arc::clone(&first)];
        // The path of trees being walked and, for each, the index of its next link.
        let mut stack = vec![(first, 0usize)];
        while let Some((tree, next)) = stack.last_mut() {
            let Some(child) = tree.links.get(*next).cloned() else {
                stack.pop();
                continue;
            };
            *next += 1;
            if self.config.reject_link_loops
                && stack.iter().any(|(t, _)| t.link.domain() == child.domain())
            {
                return Err(Error::LinkLoop {
                    domain: child.domain().to_owned(),
                });
            }
            if visited.contains(child.domain()) {
                continue;
            }
            if stack.len() > self.config.max_link_depth {
                return Err(Error::DepthLimit {
                    name: child.domain().to_owned(),
                    limit: self.config.max_link_depth,
                });
            }
            if visited.len() >= self.config.max_trees {
                return Err(Error::TooMany {
                    what: "trees",
                    limit: self.config.max_trees,
                });
            }
            let synced = self.sync_one(&child, &mut budget).await?;
            visited.insert(child.domain().to_owned());
            trees.push(Arc::clone(&synced));
            stack.push((synced, 0));
        }
        Ok(Resolved {
            records: merge_records(&trees),
            trees,
        })
    }
}

/// One record per node id across `trees`, the highest sequence number winning, in first-seen order.
fn merge_records(trees: &[Arc<SyncedTree>]) -> Vec<Enr> {
    let mut index: HashMap<[u8; 32], usize> = HashMap::new();
    let mut out: Vec<Enr> = Vec::new();
    for enr in trees.iter().flat_map(|t| t.records.iter()) {
        let id = enr.node_id().raw();
        match index.get(&id) {
            Some(&i) => {
                if let Some(old) = out.get_mut(i)
                    && enr.seq() > old.seq()
                {
                    *old = enr.clone();
                }
            }
            None => {
                index.insert(id, out.len());
                out.push(enr.clone());
            }
        }
    }
    out
}
