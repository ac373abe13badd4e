//! [`Tree`]: builds and signs a tree from node records and links, and lays it out as TXT records
//! (what `devp2p dns sign` followed by `devp2p dns to-txt` produce).

use std::collections::BTreeMap;

use secp256k1::{PublicKey, SecretKey};

use crate::entry::{BRANCH_PREFIX, MAX_BRANCH_CHILDREN, Root, entry_hash};
use crate::error::EntryError;
use crate::{Enr, Link};

/// A signed tree: its root and every other entry by name.
///
/// Each subtree is built bottom up: the leaves are grouped into branches of at most
/// [`MAX_BRANCH_CHILDREN`](crate::entry::MAX_BRANCH_CHILDREN) children, those branches into
/// branches again, until one branch is left; that one's name goes into the root. An empty
/// subtree is an empty branch.
///
/// # Examples
///
/// ```
/// use p2p_dnsdisc::{Enr, Tree};
/// use secp256k1::SecretKey;
///
/// let key = SecretKey::from_secret_bytes([7; 32]).unwrap();
/// let node = Enr::builder().ip4([127, 0, 0, 1].into()).tcp4(30303).build(&key).unwrap();
/// let tree = Tree::sign(&[node], &[], 1, &key);
/// let txt = tree.txt_records("nodes.example.org");
/// assert!(txt["nodes.example.org"].starts_with("enrtree-root:v1 e="));
/// assert_eq!(txt.len(), 4); // the root, one branch and its leaf, the empty link branch
/// ```
#[derive(Debug, Clone)]
pub struct Tree {
    root: Root,
    key: PublicKey,
    entries: BTreeMap<String, String>,
}

impl Tree {
    /// Builds the tree of `records` and `links` (in the order given) and signs its root with
    /// sequence number `seq` by `key`.
    pub fn sign(records: &[Enr], links: &[Link], seq: u64, key: &SecretKey) -> Self {
        let mut entries = BTreeMap::new();
        let enr_root = build_subtree(records.iter().map(Enr::to_base64), &mut entries);
        let link_root = build_subtree(links.iter().map(Link::to_string), &mut entries);
        Self {
            root: Root::sign(enr_root, link_root, seq, key),
            key: PublicKey::from_secret_key(key),
            entries,
        }
    }

    /// The signed root.
    pub const fn root(&self) -> &Root {
        &self.root
    }

    /// The link that names this tree at `domain`.
    ///
    /// # Errors
    ///
    /// [`EntryError::Link`] if `domain` is not a valid domain name.
    pub fn link(&self, domain: &str) -> Result<Link, EntryError> {
        Link::new(self.key, domain)
    }

    /// Every entry except the root, by its name (the hash, without the domain).
    pub const fn entries(&self) -> &BTreeMap<String, String> {
        &self.entries
    }

    /// The TXT records to publish the tree at `domain`: the root at `domain` itself and every other
    /// entry at `<hash>.<domain>`.
    pub fn txt_records(&self, domain: &str) -> BTreeMap<String, String> {
        let domain = domain.strip_suffix('.').unwrap_or(domain);
        let mut out: BTreeMap<String, String> = self
            .entries
            .iter()
            .map(|(hash, text)| (format!("{hash}.{domain}"), text.clone()))
            .collect();
        out.insert(domain.to_owned(), self.root.to_string());
        out
    }
}

/// Adds the entries of one subtree over `leaves` to `entries` and returns its top entry's name.
fn build_subtree(
    leaves: impl Iterator<Item = String>,
    entries: &mut BTreeMap<String, String>,
) -> String {
    let mut add = |text: String| {
        let hash = entry_hash(&text);
        entries.insert(hash.clone(), text);
        hash
    };
    let mut level: Vec<String> = leaves.map(&mut add).collect();
    while level.len() > MAX_BRANCH_CHILDREN {
        level = level
            .chunks(MAX_BRANCH_CHILDREN)
            .map(|chunk| add(format!("{BRANCH_PREFIX}{}", chunk.join(","))))
            .collect();
    }
    add(format!("{BRANCH_PREFIX}{}", level.join(",")))
}
