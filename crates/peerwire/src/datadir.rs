//! A data directory's identity: `chain.json` (network id, genesis hash and genesis header) next to the chain store
//! `chain.redb`, and setting a directory up so that a crash at any point leaves one that the next run accepts.
//!
//! Set-up order: `chain.json` is written first (to a temporary file, synced, then renamed over the real name, so it
//! is either absent or complete), and only then does the store get its genesis. The states a crash can leave, and
//! what the next run does with them:
//!
//! - no `chain.json` and an empty store: a fresh directory, set up again;
//! - `chain.json` and an empty store: the genesis header in `chain.json` is stored ([`ready`] recovers it);
//! - `chain.json` and a store whose header 0 is its genesis: ready (a store that holds only part of a chain is a
//!   consistent prefix, which the next import, sync or `serve --generate` continues);
//! - a store but no `chain.json` (left by older versions, which stored the genesis first): [`adopt`] recovers it when
//!   the store's header 0 is the genesis the current run expects.
//!
//! The store file itself is created under a temporary name and renamed once redb has initialised it, so a kill
//! while it is created never leaves a `chain.redb` that cannot be opened.
//!
//! `chain.json` is forward compatible: readers ignore the fields they do not know (a chain spec name `chain` may be
//! added later), and the genesis header is optional (older files have only its hash).

use std::io::Write as _;
use std::path::Path;
use std::sync::Arc;

use anyhow::{Context as _, bail};
use chain_types::{BlockEntry, ChainStore, H256, RedbStore, SealedHeader};
use serde_json::json;

/// The name of the file that names a data directory's chain.
const CHAIN_FILE: &str = "chain.json";

/// The name of the chain store file.
const STORE_FILE: &str = "chain.redb";

/// Opens the redb store of a data directory, creating the directory and the store if missing. A new store is
/// initialised as `chain.redb.tmp` and renamed, so `chain.redb` is either absent or a complete database.
pub(crate) fn open_store(dir: &Path) -> anyhow::Result<Arc<RedbStore>> {
    std::fs::create_dir_all(dir)
        .with_context(|| format!("cannot create the data directory {}", dir.display()))?;
    let path = dir.join(STORE_FILE);
    if !path.exists() {
        let temp = dir.join(format!("{STORE_FILE}.tmp"));
        let create = || -> anyhow::Result<()> {
            // A leftover of a creation that was interrupted holds nothing.
            match std::fs::remove_file(&temp) {
                Err(e) if e.kind() != std::io::ErrorKind::NotFound => return Err(e.into()),
                _ => {}
            }
            drop(RedbStore::open(&temp)?);
            std::fs::File::open(&temp)?.sync_all()?;
            std::fs::rename(&temp, &path)?;
            std::fs::File::open(dir)?.sync_all()?;
            Ok(())
        };
        create().with_context(|| format!("cannot create the chain store {}", path.display()))?;
    }
    let store = RedbStore::open(&path)
        .with_context(|| format!("cannot open the chain store {}", path.display()))?;
    Ok(Arc::new(store))
}

/// The chain a data directory holds: its network id, genesis hash and the forks of its fork id.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct ChainId {
    /// The network id announced in Status.
    pub(crate) network_id: u64,
    /// The genesis hash.
    pub(crate) genesis: H256,
    /// The forks that make up the fork id (EIP-2124/EIP-6122); empty when every fork is at genesis or unknown (a
    /// chain learned from a peer).
    pub(crate) forks: Forks,
}

/// The fork activations of a chain's fork id: block numbers and timestamps.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub(crate) struct Forks {
    /// Block numbers of block-numbered forks.
    pub(crate) blocks: Vec<u64>,
    /// Timestamps of timestamp forks after the genesis.
    pub(crate) times: Vec<u64>,
}

impl ChainId {
    /// The chain of a specification.
    pub(crate) fn of_spec(spec: &chain_types::ChainSpec) -> Self {
        let (blocks, times) = spec.fork_id_activations();
        Self {
            network_id: spec.network_id,
            genesis: spec.genesis_hash(),
            forks: Forks { blocks, times },
        }
    }

    /// A chain whose forks are all at genesis (or unknown).
    pub(crate) const fn genesis_only(network_id: u64, genesis: H256) -> Self {
        Self {
            network_id,
            genesis,
            forks: Forks {
                blocks: Vec::new(),
                times: Vec::new(),
            },
        }
    }
}

/// What `chain.json` holds.
#[derive(Debug)]
struct ChainFile {
    id: ChainId,
    /// The genesis header, absent in files written by older versions.
    genesis_header: Option<SealedHeader>,
}

impl ChainId {
    /// Fails unless `self` (the data directory's chain) is `other` (a peer's or a generator's).
    pub(crate) fn ensure_same(&self, other: &Self, dir: &Path) -> anyhow::Result<()> {
        if self.genesis != other.genesis {
            bail!(
                "the data directory {} holds another chain (genesis {:#x}, expected {:#x})",
                dir.display(),
                self.genesis,
                other.genesis
            );
        }
        if self.network_id != other.network_id {
            bail!(
                "the data directory {} holds network {}, not network {}",
                dir.display(),
                self.network_id,
                other.network_id
            );
        }
        let known = |f: &Forks| !f.blocks.is_empty() || !f.times.is_empty();
        if known(&self.forks) && known(&other.forks) && self.forks != other.forks {
            bail!(
                "the data directory {} holds the same genesis with another fork schedule",
                dir.display()
            );
        }
        Ok(())
    }
}

impl ChainFile {
    fn load(dir: &Path) -> anyhow::Result<Option<Self>> {
        let path = dir.join(CHAIN_FILE);
        let text = match std::fs::read_to_string(&path) {
            Ok(text) => text,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(e).with_context(|| format!("cannot read {}", path.display())),
        };
        let value: serde_json::Value = serde_json::from_str(&text)
            .with_context(|| format!("{} is not valid JSON", path.display()))?;
        let network_id = value["network_id"]
            .as_u64()
            .with_context(|| format!("{} has no numeric `network_id`", path.display()))?;
        let genesis = value["genesis"]
            .as_str()
            .and_then(|s| parse_h256(s).ok())
            .with_context(|| format!("{} has no 0x-hex `genesis` hash", path.display()))?;
        let genesis_header = match value.get("genesis_header") {
            None | Some(serde_json::Value::Null) => None,
            Some(header) => {
                let header = header
                    .as_str()
                    .and_then(|s| hex::decode(s.strip_prefix("0x").unwrap_or(s)).ok())
                    .and_then(|bytes| chain_types::Header::decode_exact(&bytes).ok())
                    .with_context(|| {
                        format!("{} has a malformed `genesis_header`", path.display())
                    })?
                    .seal();
                if header.hash() != genesis || header.number != 0 {
                    bail!(
                        "{}: `genesis_header` is not the genesis {genesis:#x}",
                        path.display()
                    );
                }
                Some(header)
            }
        };
        let numbers = |key: &str| -> Vec<u64> {
            value["forks"][key]
                .as_array()
                .map(|items| items.iter().filter_map(serde_json::Value::as_u64).collect())
                .unwrap_or_default()
        };
        Ok(Some(Self {
            id: ChainId {
                network_id,
                genesis,
                forks: Forks {
                    blocks: numbers("blocks"),
                    times: numbers("times"),
                },
            },
            genesis_header,
        }))
    }

    /// Writes `chain.json` atomically: a temporary file, synced, renamed over the real name, and the directory synced.
    fn save(&self, dir: &Path) -> anyhow::Result<()> {
        let path = dir.join(CHAIN_FILE);
        let temp = dir.join(format!("{CHAIN_FILE}.tmp"));
        let mut value = json!({
            "network_id": self.id.network_id,
            "genesis": format!("{:#x}", self.id.genesis),
        });
        if !self.id.forks.blocks.is_empty() || !self.id.forks.times.is_empty() {
            value["forks"] =
                json!({ "blocks": self.id.forks.blocks, "times": self.id.forks.times });
        }
        if let Some(header) = &self.genesis_header {
            value["genesis_header"] =
                format!("0x{}", hex::encode(rlp::encode(header.header()))).into();
        }
        let write = || -> std::io::Result<()> {
            let mut file = std::fs::File::create(&temp)?;
            file.write_all(format!("{value}\n").as_bytes())?;
            file.sync_all()?;
            drop(file);
            std::fs::rename(&temp, &path)?;
            // Make the rename itself durable.
            std::fs::File::open(dir)?.sync_all()
        };
        write().with_context(|| format!("cannot write {}", path.display()))
    }
}

/// The chain of a data directory that is set up, recovering one whose set-up was interrupted after `chain.json` was
/// written (the genesis is stored from `chain.json`).
///
/// Returns `None` for a directory without `chain.json` or whose store is empty and whose `chain.json` has no genesis
/// header (from an older version); the caller then calls [`adopt`] with the chain it expects.
pub(crate) fn ready(dir: &Path, store: &dyn ChainStore) -> anyhow::Result<Option<ChainId>> {
    let Some(file) = ChainFile::load(dir)? else {
        return Ok(None);
    };
    match store.header_by_number(0)? {
        Some(stored) if stored.hash() == file.id.genesis => Ok(Some(file.id)),
        Some(stored) => bail!(
            "the data directory {} is inconsistent: chain.json names genesis {:#x} but the store holds {:#x}",
            dir.display(),
            file.id.genesis,
            stored.hash()
        ),
        None => match file.genesis_header {
            Some(genesis) => {
                tracing::info!(dir = %dir.display(), "storing the genesis of an interrupted set-up");
                store.insert_batch(vec![BlockEntry::header_only(genesis)])?;
                Ok(Some(file.id))
            }
            None => Ok(None),
        },
    }
}

/// Makes `dir` hold the chain `id` with genesis header `genesis`, for a directory [`ready`] did not accept: writes
/// `chain.json`, then stores the genesis. A store that already holds this genesis (its `chain.json` lost in a crash)
/// is kept; one that holds another chain is refused.
pub(crate) fn adopt(
    dir: &Path,
    store: &dyn ChainStore,
    id: &ChainId,
    genesis: &SealedHeader,
) -> anyhow::Result<()> {
    if genesis.hash() != id.genesis || genesis.number != 0 {
        bail!(
            "the genesis header is not block 0 of the chain {:#x}",
            id.genesis
        );
    }
    if let Some(file) = ChainFile::load(dir)? {
        file.id.ensure_same(id, dir)?;
    }
    let stored = store.header_by_number(0)?;
    if let Some(stored) = &stored
        && stored.hash() != id.genesis
    {
        bail!(
            "the data directory {} holds another chain (genesis {:#x}, expected {:#x})",
            dir.display(),
            stored.hash(),
            id.genesis
        );
    }
    ChainFile {
        id: id.clone(),
        genesis_header: Some(genesis.clone()),
    }
    .save(dir)?;
    if stored.is_none() {
        store.insert_batch(vec![BlockEntry::header_only(genesis.clone())])?;
    } else {
        tracing::info!(dir = %dir.display(), "recovered a chain store without chain.json");
    }
    Ok(())
}

/// The chain of a `--chain` argument: a built-in name (`mainnet`, `sepolia`, `hoodi`) or the path of a geth
/// `genesis.json`.
pub(crate) fn load_spec(arg: &str) -> anyhow::Result<chain_types::ChainSpec> {
    if let Ok(spec) = chain_types::ChainSpec::by_name(arg) {
        return Ok(spec);
    }
    let path = Path::new(arg);
    if !path.exists() {
        bail!(
            "--chain `{arg}` is neither a built-in chain (mainnet, sepolia, hoodi) nor a genesis.json file"
        );
    }
    chain_types::ChainSpec::from_path(path).with_context(|| format!("--chain {arg}"))
}

/// Parses a 0x-prefixed 32-byte hex hash.
pub(crate) fn parse_h256(text: &str) -> anyhow::Result<H256> {
    let hex_digits = text.strip_prefix("0x").unwrap_or(text);
    let bytes = hex::decode(hex_digits).with_context(|| format!("`{text}` is not hex"))?;
    if bytes.len() != 32 {
        bail!("`{text}` is not a 32-byte hash");
    }
    Ok(H256::from_slice(&bytes))
}

#[cfg(test)]
mod tests {
    use chain_types::{Header, MemoryStore};

    use super::*;

    fn genesis(extra: u8) -> SealedHeader {
        Header {
            extra_data: vec![extra].into(),
            ..Header::default()
        }
        .seal()
    }

    fn id_of(genesis: &SealedHeader) -> ChainId {
        ChainId::genesis_only(7, genesis.hash())
    }

    #[test]
    fn adopt_then_ready_gives_the_chain() {
        let dir = tempfile::tempdir().unwrap();
        let store = MemoryStore::new();
        let g = genesis(1);
        assert_eq!(ready(dir.path(), &store).unwrap(), None);
        adopt(dir.path(), &store, &id_of(&g), &g).unwrap();
        assert_eq!(ready(dir.path(), &store).unwrap(), Some(id_of(&g)));
        assert_eq!(store.head_number().unwrap(), Some(0));
    }

    #[test]
    fn ready_stores_the_genesis_when_chain_json_came_first() {
        let dir = tempfile::tempdir().unwrap();
        let g = genesis(2);
        adopt(dir.path(), &MemoryStore::new(), &id_of(&g), &g).unwrap();
        // A crash before the genesis reached the store: a fresh, empty store.
        let store = MemoryStore::new();
        assert_eq!(ready(dir.path(), &store).unwrap(), Some(id_of(&g)));
        assert_eq!(store.header_by_number(0).unwrap(), Some(g));
    }

    #[test]
    fn adopt_recovers_a_store_without_chain_json_and_refuses_another_chain() {
        let dir = tempfile::tempdir().unwrap();
        let store = MemoryStore::new();
        let g = genesis(3);
        store
            .insert_batch(vec![BlockEntry::header_only(g.clone())])
            .unwrap();
        assert_eq!(ready(dir.path(), &store).unwrap(), None);
        let other = genesis(4);
        let err = adopt(dir.path(), &store, &id_of(&other), &other).unwrap_err();
        assert!(err.to_string().contains("another chain"), "{err}");
        adopt(dir.path(), &store, &id_of(&g), &g).unwrap();
        assert_eq!(ready(dir.path(), &store).unwrap(), Some(id_of(&g)));
    }

    #[test]
    fn chain_json_ignores_unknown_fields_and_reads_old_files() {
        let dir = tempfile::tempdir().unwrap();
        let g = genesis(5);
        let text = format!(
            "{{\"network_id\": 7, \"genesis\": \"{:#x}\", \"chain\": \"somenet\", \"future\": [1]}}",
            g.hash()
        );
        std::fs::write(dir.path().join(CHAIN_FILE), text).unwrap();
        assert_eq!(
            ChainFile::load(dir.path()).unwrap().map(|f| f.id),
            Some(id_of(&g))
        );
        // No genesis header in the file and an empty store: the caller must adopt.
        assert_eq!(ready(dir.path(), &MemoryStore::new()).unwrap(), None);
    }
}
