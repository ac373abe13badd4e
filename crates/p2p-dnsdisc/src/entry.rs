//! The four EIP-1459 entry kinds and their text forms: the signed root (`enrtree-root:v1`),
//! branches (`enrtree-branch:`), node records (`enr:`) and links (`enrtree://`), plus the
//! abbreviated keccak256 hashes that name entries.

use std::fmt;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use data_encoding::BASE32_NOPAD;
use secp256k1::ecdsa::{RecoverableSignature, Signature};
use secp256k1::{Message, PublicKey, SecretKey};
use sha3::{Digest, Keccak256};

use crate::Enr;
use crate::error::EntryError;
use crate::link::{LINK_PREFIX, Link};

/// The prefix of a root entry.
pub const ROOT_PREFIX: &str = "enrtree-root:v1";
/// The prefix of a branch entry.
pub const BRANCH_PREFIX: &str = "enrtree-branch:";
/// The prefix of a node-record entry.
pub const ENR_PREFIX: &str = "enr:";

/// The fewest hash bytes a name may carry (geth accepts 12 to 32; trees name entries with 16).
pub const MIN_HASH_BYTES: usize = 12;
/// The hash bytes this crate puts in the names it makes (26 base32 characters).
pub const HASH_BYTES: usize = 16;
/// The most children one branch gets when this crate builds a tree, so that the branch text
/// stays within about 370 bytes (one TXT record in a UDP answer).
pub const MAX_BRANCH_CHILDREN: usize = 13;

/// The name of an entry: base32 (no padding) of the first 16 bytes of keccak256 of its text.
pub fn entry_hash(text: &str) -> String {
    let digest = Keccak256::digest(text.as_bytes());
    BASE32_NOPAD.encode(&digest[..HASH_BYTES])
}

/// Decodes a base32 entry name into its hash bytes (12 to 32 of them); `None` if it is not one.
pub fn decode_hash(name: &str) -> Option<Vec<u8>> {
    // 32 bytes are at most 52 characters; refuse anything longer before decoding.
    if name.len() > 52 {
        return None;
    }
    let upper = name.to_ascii_uppercase();
    let bytes = BASE32_NOPAD.decode(upper.as_bytes()).ok()?;
    (MIN_HASH_BYTES..=32)
        .contains(&bytes.len())
        .then_some(bytes)
}

/// Whether `text` hashes (keccak256) to a digest that starts with the bytes `name` encodes.
pub fn hash_matches(name: &str, text: &str) -> bool {
    decode_hash(name).is_some_and(|want| Keccak256::digest(text.as_bytes()).starts_with(&want))
}

/// A tree's signed root: the hashes of the ENR and link subtrees and the sequence number.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Root {
    /// The name of the ENR subtree's top entry.
    pub enr_root: String,
    /// The name of the link subtree's top entry.
    pub link_root: String,
    /// The sequence number; a publisher raises it with every change.
    pub seq: u64,
    /// The 65-byte `r || s || v` signature over keccak256 of [`Root::signed_text`].
    pub signature: [u8; 65],
}

impl Root {
    /// The text the signature covers: the entry up to (not including) ` sig=`.
    pub fn signed_text(&self) -> String {
        format!(
            "{ROOT_PREFIX} e={} l={} seq={}",
            self.enr_root, self.link_root, self.seq
        )
    }

    fn digest(&self) -> Message {
        let digest: [u8; 32] = Keccak256::digest(self.signed_text().as_bytes()).into();
        Message::from_digest(digest)
    }

    /// A root over the given subtree names, signed by `key`.
    pub fn sign(enr_root: String, link_root: String, seq: u64, key: &SecretKey) -> Self {
        let mut root = Self {
            enr_root,
            link_root,
            seq,
            signature: [0; 65],
        };
        let sig = RecoverableSignature::sign_ecdsa_recoverable(root.digest(), key);
        let (recid, compact) = sig.serialize_compact();
        root.signature[..64].copy_from_slice(&compact);
        root.signature[64] = u8::from(recid);
        root
    }

    /// Whether the signature (its `r || s` part; `v` is not needed) is by `key`.
    pub fn verify(&self, key: &PublicKey) -> bool {
        let Ok(sig) = Signature::from_compact(&self.signature[..64]) else {
            return false;
        };
        sig.verify(self.digest(), key).is_ok()
    }

    /// Parses `enrtree-root:v1 e=<hash> l=<hash> seq=<n> sig=<base64url>` (signature not checked).
    ///
    /// # Errors
    ///
    /// [`EntryError::Root`] naming the first field that is wrong.
    pub fn parse(text: &str) -> Result<Self, EntryError> {
        let mut fields = text.split(' ');
        if fields.next() != Some(ROOT_PREFIX) {
            return Err(EntryError::Root("missing enrtree-root:v1 prefix"));
        }
        let mut field = |key: &'static str, what: &'static str| {
            fields
                .next()
                .and_then(|f| f.strip_prefix(key))
                .ok_or(EntryError::Root(what))
        };
        let enr_root = field("e=", "missing e=")?;
        let link_root = field("l=", "missing l=")?;
        let seq = field("seq=", "missing seq=")?;
        let sig = field("sig=", "missing sig=")?;
        if fields.next().is_some() {
            return Err(EntryError::Root("trailing fields"));
        }
        if decode_hash(enr_root).is_none() || decode_hash(link_root).is_none() {
            return Err(EntryError::Root("subtree hash is not base32"));
        }
        let seq = seq
            .parse::<u64>()
            .map_err(|_| EntryError::Root("seq is not a number"))?;
        // 65 bytes are 87 base64 characters without padding.
        if sig.len() != 87 {
            return Err(EntryError::Root("signature is not 65 bytes"));
        }
        let bytes = URL_SAFE_NO_PAD
            .decode(sig)
            .map_err(|_| EntryError::Root("signature is not base64url"))?;
        let signature = <[u8; 65]>::try_from(bytes)
            .map_err(|_| EntryError::Root("signature is not 65 bytes"))?;
        Ok(Self {
            enr_root: enr_root.to_owned(),
            link_root: link_root.to_owned(),
            seq,
            signature,
        })
    }
}

impl fmt::Display for Root {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} sig={}",
            self.signed_text(),
            URL_SAFE_NO_PAD.encode(self.signature)
        )
    }
}

/// One entry of a tree, parsed from its TXT text.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub enum Entry {
    /// The signed root (at the tree's domain).
    Root(Root),
    /// A branch: the names of its children.
    Branch(Vec<String>),
    /// A node record leaf (in the ENR subtree).
    Enr(Box<Enr>),
    /// A link leaf (in the link subtree).
    Link(Link),
}

impl Entry {
    /// Parses any entry kind.
    ///
    /// # Errors
    ///
    /// [`EntryError::UnknownKind`] if the prefix is none of the four, otherwise the kind's own error.
    pub fn parse(text: &str) -> Result<Self, EntryError> {
        if text.starts_with(ROOT_PREFIX) {
            Root::parse(text).map(Self::Root)
        } else if let Some(rest) = text.strip_prefix(BRANCH_PREFIX) {
            parse_branch(rest).map(Self::Branch)
        } else if text.starts_with(ENR_PREFIX) {
            text.parse::<Enr>()
                .map(|e| Self::Enr(Box::new(e)))
                .map_err(EntryError::Enr)
        } else if text.starts_with(LINK_PREFIX) {
            text.parse().map(Self::Link)
        } else {
            Err(EntryError::UnknownKind)
        }
    }

    /// The kind's name, as errors print it: `"root"`, `"branch"`, `"enr"` or `"link"`.
    pub const fn kind(&self) -> &'static str {
        match self {
            Self::Root(_) => "root",
            Self::Branch(_) => "branch",
            Self::Enr(_) => "enr",
            Self::Link(_) => "link",
        }
    }
}

impl fmt::Display for Entry {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Root(root) => root.fmt(f),
            Self::Branch(children) => write!(f, "{BRANCH_PREFIX}{}", children.join(",")),
            Self::Enr(enr) => f.write_str(&enr.to_base64()),
            Self::Link(link) => link.fmt(f),
        }
    }
}

/// The children of a branch (the text after `enrtree-branch:`); an empty branch is allowed.
fn parse_branch(rest: &str) -> Result<Vec<String>, EntryError> {
    if rest.is_empty() {
        return Ok(Vec::new());
    }
    rest.split(',')
        .map(|child| {
            decode_hash(child)
                .map(|_| child.to_owned())
                .ok_or(EntryError::Branch("child is not a base32 hash"))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The example tree of EIP-1459 ("DNS Record Structure"), as `(name, text)`; its root is signed by
    /// the key of the EIP's example link `enrtree://AM5FCQ…T2@nodes.example.org`.
    pub(crate) const EIP_EXAMPLE: [(&str, &str); 6] = [
        (
            "",
            "enrtree-root:v1 e=JWXYDBPXYWG6FX3GMDIBFA6CJ4 l=C7HRFPF3BLGF3YR4DY5KX3SMBE seq=1 sig=o908WmNp7LibOfPsr4btQwatZJ5URBr2ZAuxvK4UWHlsB9sUOTJQaGAlLPVAhM__XJesCHxLISo94z5Z2a463gA",
        ),
        (
            "C7HRFPF3BLGF3YR4DY5KX3SMBE",
            "enrtree://AM5FCQLWIZX2QFPNJAP7VUERCCRNGRHWZG3YYHIUV7BVDQ5FDPRT2@morenodes.example.org",
        ),
        (
            "JWXYDBPXYWG6FX3GMDIBFA6CJ4",
            "enrtree-branch:2XS2367YHAXJFGLZHVAWLQD4ZY,H4FHT4B454P6UXFD7JCYQ5PWDY,MHTDO6TMUBRIA2XWG5LUDACK24",
        ),
        (
            "2XS2367YHAXJFGLZHVAWLQD4ZY",
            "enr:-HW4QOFzoVLaFJnNhbgMoDXPnOvcdVuj7pDpqRvh6BRDO68aVi5ZcjB3vzQRZH2IcLBGHzo8uUN3snqmgTiE56CH3AMBgmlkgnY0iXNlY3AyNTZrMaECC2_24YYkYHEgdzxlSNKQEnHhuNAbNlMlWJxrJxbAFvA",
        ),
        (
            "H4FHT4B454P6UXFD7JCYQ5PWDY",
            "enr:-HW4QAggRauloj2SDLtIHN1XBkvhFZ1vtf1raYQp9TBW2RD5EEawDzbtSmlXUfnaHcvwOizhVYLtr7e6vw7NAf6mTuoCgmlkgnY0iXNlY3AyNTZrMaECjrXI8TLNXU0f8cthpAMxEshUyQlK-AM0PW2wfrnacNI",
        ),
        (
            "MHTDO6TMUBRIA2XWG5LUDACK24",
            "enr:-HW4QLAYqmrwllBEnzWWs7I5Ev2IAs7x_dZlbYdRdMUx5EyKHDXp7AV5CkuPGUPdvbv1_Ms1CPfhcGCvSElSosZmyoqAgmlkgnY0iXNlY3AyNTZrMaECriawHKWdDRk2xeZkrOXBQ0dfMFLHY4eENZwdufn1S1o",
        ),
    ];

    /// The signer the EIP names in prose (uncompressed). The EIP's example link text
    /// (`enrtree://AM5FCQ…T2@…`) carries a different key, which does not verify the example root;
    /// geth's client test signs the same tree's link as `AKPYQIUQ…S2`, the compressed form of this key.
    const EIP_SIGNER: &str = "049f88229042fef9200246f49f94d9b77c4e954721442714e85850cb6d9e5daf2d880ea0e53cb3ac1a75f9923c2726a4f941f7d326781baa6380754a360de5c2b6";

    fn eip_signer() -> PublicKey {
        let bytes: Vec<u8> = (0..EIP_SIGNER.len())
            .step_by(2)
            .map(|i| u8::from_str_radix(&EIP_SIGNER[i..i + 2], 16).unwrap())
            .collect();
        PublicKey::from_slice(&bytes).unwrap()
    }

    #[test]
    fn eip_example_root_verifies_against_the_example_key() {
        let key = eip_signer();
        let link = Link::new(key, "nodes.example.org").unwrap();
        assert_eq!(
            link.to_string(),
            "enrtree://AKPYQIUQIL7PSIACI32J7FGZW56E5FKHEFCCOFHILBIMW3M6LWXS2@nodes.example.org"
        );
        let root = Root::parse(EIP_EXAMPLE[0].1).unwrap();
        assert_eq!(root.enr_root, "JWXYDBPXYWG6FX3GMDIBFA6CJ4");
        assert_eq!(root.link_root, "C7HRFPF3BLGF3YR4DY5KX3SMBE");
        assert_eq!(root.seq, 1);
        assert!(root.verify(&key));
        assert_eq!(root.to_string(), EIP_EXAMPLE[0].1);
        let example_link: Link =
            "enrtree://AM5FCQLWIZX2QFPNJAP7VUERCCRNGRHWZG3YYHIUV7BVDQ5FDPRT2@nodes.example.org"
                .parse()
                .unwrap();
        assert!(!root.verify(example_link.public_key()));
    }

    #[test]
    fn eip_example_entries_hash_to_their_names_and_print_back() {
        for (name, text) in &EIP_EXAMPLE[1..] {
            assert_eq!(entry_hash(text), *name, "{text}");
            assert!(hash_matches(name, text));
            let entry = Entry::parse(text).unwrap();
            assert_eq!(entry.to_string(), *text);
        }
        assert!(matches!(
            Entry::parse(EIP_EXAMPLE[2].1),
            Ok(Entry::Branch(c)) if c.len() == 3
        ));
    }

    #[test]
    fn a_changed_root_field_fails_verification() {
        let mut root = Root::parse(EIP_EXAMPLE[0].1).unwrap();
        root.seq = 2;
        assert!(!root.verify(&eip_signer()));
    }

    #[test]
    fn own_roots_sign_and_verify() {
        let key = SecretKey::from_secret_bytes([3; 32]).unwrap();
        let other = SecretKey::from_secret_bytes([4; 32]).unwrap();
        let root = Root::sign(entry_hash("a"), entry_hash("b"), u64::MAX, &key);
        let back = Root::parse(&root.to_string()).unwrap();
        assert_eq!(back, root);
        assert!(back.verify(&PublicKey::from_secret_key(&key)));
        assert!(!back.verify(&PublicKey::from_secret_key(&other)));
        assert!(root.signature[64] <= 3);
    }

    fn check_root(text: &str, want: EntryError) {
        assert_eq!(Root::parse(text), Err(want), "{text}");
    }

    #[test]
    fn malformed_roots_name_their_fault() {
        let sig = &EIP_EXAMPLE[0].1[EIP_EXAMPLE[0].1.find("sig=").unwrap()..];
        let h = "JWXYDBPXYWG6FX3GMDIBFA6CJ4";
        check_root(
            "enrtree-root:v2 e=x",
            EntryError::Root("missing enrtree-root:v1 prefix"),
        );
        check_root(
            &format!("enrtree-root:v1 l={h} e={h} seq=1 {sig}"),
            EntryError::Root("missing e="),
        );
        check_root(
            &format!("enrtree-root:v1 e={h} l={h} seq=x {sig}"),
            EntryError::Root("seq is not a number"),
        );
        check_root(
            &format!("enrtree-root:v1 e={h} l={h} seq=-1 {sig}"),
            EntryError::Root("seq is not a number"),
        );
        check_root(
            &format!("enrtree-root:v1 e={h} l=1 seq=1 {sig}"),
            EntryError::Root("subtree hash is not base32"),
        );
        check_root(
            &format!("enrtree-root:v1 e={h} l={h} seq=1 sig=AAAA"),
            EntryError::Root("signature is not 65 bytes"),
        );
        check_root(
            &format!("enrtree-root:v1 e={h} l={h} seq=1 {sig} x"),
            EntryError::Root("trailing fields"),
        );
        check_root(
            &format!("enrtree-root:v1 e={h} l={h} seq=1"),
            EntryError::Root("missing sig="),
        );
    }

    #[test]
    fn branches_and_unknown_kinds() {
        assert!(matches!(Entry::parse("enrtree-branch:"), Ok(Entry::Branch(c)) if c.is_empty()));
        assert_eq!(
            Entry::parse("enrtree-branch:AAAA").unwrap_err(),
            EntryError::Branch("child is not a base32 hash")
        );
        assert_eq!(
            Entry::parse("enrtree-branch:JWXYDBPXYWG6FX3GMDIBFA6CJ4,").unwrap_err(),
            EntryError::Branch("child is not a base32 hash")
        );
        assert_eq!(
            Entry::parse("v=spf1 -all").unwrap_err(),
            EntryError::UnknownKind
        );
        assert!(matches!(Entry::parse("enr:AAAA"), Err(EntryError::Enr(_))));
        // Names are case-insensitive in DNS; the hash check is too.
        assert!(hash_matches("c7hrfpf3blgf3yr4dy5kx3smbe", EIP_EXAMPLE[1].1));
        assert!(decode_hash("AAAAAAAAAAAAAAAAAAAA").is_some()); // 12 bytes
        assert!(decode_hash("AAAAAAAAAAAAAAAA").is_none()); // 10 bytes
    }
}
