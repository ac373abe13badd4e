//! [`RandomWalk`]: an endless source of node records from a set of trees, walking from a random
//! tree's root down random branches to one leaf per call (the way geth's DNS iterator feeds its
//! dialer), fetching only the entries on the way and caching them.

use std::collections::HashMap;
use std::time::Duration;

use rand::rngs::StdRng;
use rand::{Rng as _, SeedableRng as _};
use tokio::time::Instant;

use crate::client::{Config, Fetcher};
use crate::entry::{Entry, Root};
use crate::error::Error;
use crate::{Enr, Link, Resolver};

/// How often a tree's root is fetched again (default 30 minutes, as geth).
pub const DEFAULT_ROOT_RECHECK: Duration = Duration::from_secs(30 * 60);

/// The most entries a walk keeps cached; the cache is emptied when it fills.
pub const MAX_CACHED_ENTRIES: usize = 4096;

/// How many random descents one [`RandomWalk::next_node`] tries before saying there is no node.
const ATTEMPTS: usize = 16;

#[derive(Debug)]
struct TreeState {
    link: Link,
    root: Option<Root>,
    checked: Option<Instant>,
    /// Whether the link subtree of the current root has been read.
    links_read: bool,
}

/// Random node records from one or more trees and the trees they link to.
///
/// # Examples
///
/// ```
/// use p2p_dnsdisc::{Config, Enr, FixtureResolver, RandomWalk, Tree};
/// use secp256k1::SecretKey;
///
/// # tokio::runtime::Builder::new_current_thread().enable_time().build().unwrap().block_on(async {
/// let key = SecretKey::from_secret_bytes([1; 32]).unwrap();
/// let node = Enr::builder().ip4([127, 0, 0, 1].into()).tcp4(30303).build(&key).unwrap();
/// let tree = Tree::sign(&[node.clone()], &[], 1, &key);
/// let dns = FixtureResolver::new();
/// dns.extend(tree.txt_records("nodes.example.org"));
///
/// let mut walk = RandomWalk::new(dns, Config::default(), [tree.link("nodes.example.org").unwrap()]);
/// assert_eq!(walk.next_node().await.unwrap(), Some(node));
/// # });
/// ```
#[derive(Debug)]
pub struct RandomWalk<R> {
    resolver: R,
    config: Config,
    recheck: Duration,
    trees: Vec<TreeState>,
    cache: HashMap<String, Entry>,
    rng: StdRng,
}

impl<R: Resolver> RandomWalk<R> {
    /// A walk over the trees `links` name (and those they link to, up to [`Config::max_trees`]).
    pub fn new(resolver: R, config: Config, links: impl IntoIterator<Item = Link>) -> Self {
        let mut walk = Self {
            resolver,
            config,
            recheck: DEFAULT_ROOT_RECHECK,
            trees: Vec::new(),
            cache: HashMap::new(),
            rng: StdRng::from_os_rng(),
        };
        for link in links {
            walk.add_tree(link);
        }
        walk
    }

    /// Sets how often a root is fetched again.
    #[must_use]
    pub const fn root_recheck(mut self, every: Duration) -> Self {
        self.recheck = every;
        self
    }

    /// How many trees the walk knows (those given and those found through links).
    pub fn tree_count(&self) -> usize {
        self.trees.len()
    }

    fn add_tree(&mut self, link: Link) {
        if self.trees.len() < self.config.max_trees
            && !self.trees.iter().any(|t| t.link.domain() == link.domain())
        {
            self.trees.push(TreeState {
                link,
                root: None,
                checked: None,
                links_read: false,
            });
        }
    }

    /// The entry `hash` of the tree at `domain`, from the cache or fetched.
    async fn entry(&mut self, domain: &str, hash: &str) -> Result<Entry, Error> {
        let key = format!("{}.{domain}", hash.to_ascii_uppercase());
        if let Some(entry) = self.cache.get(&key) {
            return Ok(entry.clone());
        }
        let fetcher = Fetcher {
            resolver: &self.resolver,
            config: &self.config,
        };
        let entry = fetcher.entry(domain, hash).await?;
        if self.cache.len() >= MAX_CACHED_ENTRIES {
            self.cache.clear();
        }
        self.cache.insert(key, entry.clone());
        Ok(entry)
    }

    /// Brings tree `i`'s root up to date and reads its link subtree once per root.
    async fn refresh(&mut self, i: usize) -> Result<Option<Root>, Error> {
        let Some(state) = self.trees.get(i) else {
            return Ok(None);
        };
        let stale = state.checked.is_none_or(|t| t.elapsed() >= self.recheck);
        if stale {
            let link = state.link.clone();
            let fetcher = Fetcher {
                resolver: &self.resolver,
                config: &self.config,
            };
            let root = fetcher.root(&link).await?;
            if let Some(state) = self.trees.get_mut(i) {
                state.checked = Some(Instant::now());
                if state.root.as_ref().is_none_or(|old| root.seq > old.seq) {
                    state.root = Some(root);
                    state.links_read = false;
                }
            }
        }
        let Some(state) = self.trees.get(i) else {
            return Ok(None);
        };
        let (Some(root), links_read) = (state.root.clone(), state.links_read) else {
            return Ok(None);
        };
        if !links_read {
            let domain = state.link.domain().to_owned();
            // Entries are counted when queued, so the queue never outgrows the limit.
            let mut pending = vec![(root.link_root.clone(), 0usize)];
            let mut queued = 1usize;
            while let Some((hash, depth)) = pending.pop() {
                match self.entry(&domain, &hash).await? {
                    Entry::Branch(children) if depth < self.config.max_depth => {
                        queued += children.len();
                        if queued > self.config.max_entries {
                            return Err(Error::TooMany {
                                what: "entries",
                                limit: self.config.max_entries,
                            });
                        }
                        pending.extend(children.into_iter().map(|c| (c, depth + 1)));
                    }
                    Entry::Branch(children) if children.is_empty() => {}
                    Entry::Branch(_) => {
                        return Err(Error::DepthLimit {
                            name: format!("{hash}.{domain}"),
                            limit: self.config.max_depth,
                        });
                    }
                    Entry::Link(link) => self.add_tree(link),
                    other => {
                        return Err(Error::WrongSubtree {
                            name: format!("{hash}.{domain}"),
                            kind: other.kind(),
                            subtree: "link",
                        });
                    }
                }
            }
            if let Some(state) = self.trees.get_mut(i) {
                state.links_read = true;
            }
        }
        Ok(Some(root))
    }

    /// One node record from a random tree, reached down random branches; `None` if every try
    /// found an empty tree.
    ///
    /// # Errors
    ///
    /// Any [`Error`] met on the way (the walk stays usable: the next call tries again).
    ///
    /// # Cancel safety
    ///
    /// Cancelling loses nothing but the lookups in flight.
    pub async fn next_node(&mut self) -> Result<Option<Enr>, Error> {
        for _ in 0..ATTEMPTS {
            if self.trees.is_empty() {
                return Ok(None);
            }
            let i = self.rng.random_range(0..self.trees.len());
            let Some(root) = self.refresh(i).await? else {
                continue;
            };
            let Some(domain) = self.trees.get(i).map(|t| t.link.domain().to_owned()) else {
                continue;
            };
            let mut hash = root.enr_root;
            for _ in 0..=self.config.max_depth {
                match self.entry(&domain, &hash).await? {
                    Entry::Branch(children) if children.is_empty() => break,
                    Entry::Branch(children) => {
                        let pick = self.rng.random_range(0..children.len());
                        let Some(child) = children.into_iter().nth(pick) else {
                            break;
                        };
                        hash = child;
                    }
                    Entry::Enr(enr) => return Ok(Some(*enr)),
                    other => {
                        return Err(Error::WrongSubtree {
                            name: format!("{hash}.{domain}"),
                            kind: other.kind(),
                            subtree: "enr",
                        });
                    }
                }
            }
        }
        Ok(None)
    }
}
