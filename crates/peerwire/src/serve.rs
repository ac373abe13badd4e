//! `peerwire serve`: serves a stored, imported (`--import`, geth's export format) or generated (`--generate`) chain
//! over eth on RLPx and prints its `enode://` URL on the first line of stdout.

use std::io::IsTerminal as _;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use anyhow::{Context as _, bail};
use chain_types::generator::{Chain, GeneratorOptions};
use chain_types::{Block, ChainStore, Header, RedbStore, SealedHeader};
use eth_wire::EthNode;
use indicatif::{ProgressBar, ProgressStyle};
use p2p_rlpx::NodeKey;

use crate::datadir::{self, ChainId};
use crate::devnet::DEVNET_NETWORK_ID;
use crate::import::{self, BlockReader};
use crate::node::ServingNode;

/// How many blocks go into one store batch when a generated chain is stored.
const GENERATE_BATCH: u64 = 2048;

/// The largest `--genesis-header` file read, in bytes.
const MAX_GENESIS_FILE_BYTES: u64 = 1 << 20;

/// Options of `peerwire serve`.
#[derive(Debug, clap::Args)]
pub(crate) struct Args {
    /// The data directory holding the chain (`chain.redb`, `chain.json`).
    #[arg(long)]
    datadir: PathBuf,
    /// The TCP address to listen on.
    #[arg(long, default_value = "127.0.0.1:30303")]
    listen: SocketAddr,
    /// The chain: `mainnet`, `sepolia`, `hoodi` or a geth `genesis.json` (its genesis, network id and fork
    /// schedule). Without it, the data directory's own chain.
    #[arg(long, conflicts_with_all = ["generate", "genesis_header", "network_id"])]
    chain: Option<String>,
    /// Generate a chain of this many blocks first (continuing an interrupted generation).
    #[arg(long, conflicts_with = "import")]
    generate: Option<u64>,
    /// Import the blocks of this file first (geth's export format; gzip if it ends in `.gz`).
    #[arg(long)]
    import: Option<PathBuf>,
    /// The genesis header of a new data directory whose import file does not start at block 0: hex RLP of the
    /// header (or of a block), or a file holding it (hex or raw).
    #[arg(long, requires = "import")]
    genesis_header: Option<String>,
    /// The network id of a new data directory created by `--import` (default 1337).
    #[arg(long, requires = "import")]
    network_id: Option<u64>,
    /// The node key file (hex); created if missing. Default: `nodekey` in the data directory.
    #[arg(long)]
    key: Option<PathBuf>,
    /// Seed of the chain generator.
    #[arg(long, default_value_t = 1)]
    seed: u64,
    /// Answer discovery (comma-separated `v4`, `v5`) on UDP: v4 on the RLPx port, v5 on the next one. The
    /// second line of stdout is then a JSON object with the node record and the discovery addresses, and inbound
    /// peers go through the peer pool (counted against `--max-peers`).
    #[arg(long, value_enum, value_delimiter = ',')]
    discovery: Option<Vec<crate::discover::Protocol>>,
    /// A discovery bootnode (`enode://…` or `enr:…`); repeat for more. Only with `--discovery`.
    #[arg(long = "bootnode", value_name = "URL", requires = "discovery")]
    bootnodes: Vec<String>,
    /// The most inbound peers with `--discovery`.
    #[arg(long, default_value_t = 50, requires = "discovery")]
    max_peers: usize,
}

/// Runs `peerwire serve` until interrupted.
pub(crate) async fn run(args: Args) -> anyhow::Result<()> {
    let spec = args.chain.as_deref().map(datadir::load_spec).transpose()?;
    let store = datadir::open_store(&args.datadir)?;
    let id = if let (Some(file), Some(spec)) = (&args.import, &spec) {
        let id = ChainId::of_spec(spec);
        match datadir::ready(&args.datadir, store.as_ref())? {
            Some(stored) => stored.ensure_same(&id, &args.datadir)?,
            None => datadir::adopt(&args.datadir, store.as_ref(), &id, &spec.genesis)?,
        }
        import_file(store.clone(), spec.genesis.clone(), file.clone()).await?;
        id
    } else if let Some(file) = &args.import {
        let genesis = args
            .genesis_header
            .as_deref()
            .map(parse_genesis_header)
            .transpose()?;
        let (id, genesis) = prepare_import(
            &args.datadir,
            store.as_ref(),
            file,
            genesis,
            args.network_id,
        )?;
        import_file(store.clone(), genesis, file.clone()).await?;
        id
    } else if let Some(blocks) = args.generate {
        let store = store.clone();
        let (dir, seed) = (args.datadir.clone(), args.seed);
        tokio::task::spawn_blocking(move || generate_into(&dir, store.as_ref(), blocks, seed))
            .await
            .context("the generator task failed")??
    } else {
        match datadir::ready(&args.datadir, store.as_ref())? {
            Some(stored) => match &spec {
                Some(spec) => {
                    let id = ChainId::of_spec(spec);
                    stored.ensure_same(&id, &args.datadir)?;
                    id
                }
                None => stored,
            },
            None if store.head_number()?.is_some() => bail!(
                "{} holds a chain store but no chain.json: run the command that created it again to recover it",
                args.datadir.display()
            ),
            None => bail!(
                "{} holds no chain: give --generate N or --import FILE to create one, or sync one first",
                args.datadir.display()
            ),
        }
    };
    let key_path = args.key.unwrap_or_else(|| args.datadir.join("nodekey"));
    let key = NodeKey::load_or_generate(&key_path)
        .with_context(|| format!("cannot load the node key {}", key_path.display()))?;
    if let Some(protocols) = &args.discovery {
        let options = crate::discover::ServeDiscovery {
            protocols: protocols.clone(),
            bootnodes: args.bootnodes.clone(),
            max_peers: args.max_peers,
        };
        return crate::discover::serve_with_discovery(
            spec.as_ref(),
            &id,
            store,
            key,
            args.listen,
            &options,
        )
        .await;
    }
    let mut node =
        ServingNode::start(store.clone(), &id, &EthNode::VERSIONS, key, args.listen).await?;
    crate::output::line(&node.enode().to_string()).context("cannot write to stdout")?;
    if let Some((head, td)) = store.head()? {
        tracing::info!(number = head.number, hash = %head.hash(), %td, "serving");
    }
    tokio::select! {
        result = node.wait() => result,
        signal = tokio::signal::ctrl_c() => signal.context("cannot listen for Ctrl-C"),
    }
}

/// Generates a chain of `blocks` blocks into the data directory and returns its identity. A directory that holds
/// the start of the same chain (an interrupted generation) gets the rest; one that holds another chain is refused.
fn generate_into(
    dir: &Path,
    store: &dyn ChainStore,
    blocks: u64,
    seed: u64,
) -> anyhow::Result<ChainId> {
    if blocks == 0 {
        bail!("--generate must be at least 1");
    }
    let options = GeneratorOptions::seeded(seed);
    if let Some(stored) = datadir::ready(dir, store)?
        && store.head_number()?.is_some_and(|head| head >= blocks)
    {
        // Complete already: only the genesis is needed to check that it is this chain (a generated chain's blocks
        // do not depend on its length).
        let genesis = Chain::generate(1, &options).genesis().hash();
        stored.ensure_same(&ChainId::genesis_only(DEVNET_NETWORK_ID, genesis), dir)?;
        return Ok(stored);
    }
    let chain = Arc::new(Chain::generate(blocks, &options));
    let id = ChainId::genesis_only(DEVNET_NETWORK_ID, chain.genesis().hash());
    match datadir::ready(dir, store)? {
        Some(stored) => stored.ensure_same(&id, dir)?,
        None => datadir::adopt(dir, store, &id, &chain.genesis().header)?,
    }
    let head = store.head_number()?.context("the store is empty")?;
    let len = chain.len() as u64;
    if head + 1 < len && store.hash_by_number(head)? != chain.header(head).map(|h| h.hash()) {
        bail!(
            "the data directory {} holds another chain at block #{head}",
            dir.display()
        );
    }
    let mut from = head + 1;
    while from < len {
        let to = (from + GENERATE_BATCH).min(len);
        store.insert_batch(chain.entries(from..to, true, true))?;
        from = to;
    }
    Ok(id)
}

/// Finds the genesis of an import and sets the data directory up for it: the stored genesis, else `given`
/// (`--genesis-header`), else block 0 of the file, else the genesis in a store whose `chain.json` was lost.
fn prepare_import(
    dir: &Path,
    store: &dyn ChainStore,
    file: &Path,
    given: Option<SealedHeader>,
    network_id: Option<u64>,
) -> anyhow::Result<(ChainId, SealedHeader)> {
    if let Some(id) = datadir::ready(dir, store)? {
        let genesis = store
            .header_by_number(0)?
            .context("the store lost its genesis")?;
        let expected = ChainId::genesis_only(
            network_id.unwrap_or(id.network_id),
            given.as_ref().map_or(id.genesis, SealedHeader::hash),
        );
        id.ensure_same(&expected, dir)?;
        return Ok((id, genesis));
    }
    let genesis = match given {
        Some(genesis) => genesis,
        None => match import::first_block(file)
            .with_context(|| format!("cannot import {}", file.display()))?
        {
            Some(block) if block.header.number == 0 => block.header,
            first => match store.header_by_number(0)? {
                Some(stored) => stored,
                None => bail!(
                    "{} starts at block #{} and {} holds no chain: give its genesis with --genesis-header HEX|FILE",
                    file.display(),
                    first.map_or(0, |b| b.header.number),
                    dir.display()
                ),
            },
        },
    };
    let id = ChainId::genesis_only(network_id.unwrap_or(DEVNET_NETWORK_ID), genesis.hash());
    datadir::adopt(dir, store, &id, &genesis)?;
    Ok((id, genesis))
}

/// Imports `file` into `store` on a blocking thread, with a progress bar on a terminal.
async fn import_file(
    store: Arc<RedbStore>,
    genesis: SealedHeader,
    file: PathBuf,
) -> anyhow::Result<()> {
    let bar = std::io::stderr().is_terminal().then(|| {
        let bar = ProgressBar::new(1);
        if let Ok(style) = ProgressStyle::with_template(
            "{spinner} import [{bar:40}] {bytes}/{total_bytes} ({bytes_per_sec}, eta {eta})",
        ) {
            bar.set_style(style.progress_chars("=> "));
        }
        bar
    });
    let summary = tokio::task::spawn_blocking(move || {
        let mut reader = BlockReader::open(&file)?;
        let result = import::import_blocks(store.as_ref(), &genesis, &mut reader, bar.as_ref());
        if let Some(bar) = bar {
            bar.finish_and_clear();
        }
        result.with_context(|| format!("cannot import {}", file.display()))
    })
    .await
    .context("the import task failed")??;
    tracing::info!(
        read = summary.read,
        skipped = summary.skipped,
        imported = summary.imported,
        head = summary.head.number,
        "imported"
    );
    Ok(())
}

/// Parses `--genesis-header`: hex RLP of a header or of a block, or the name of a file holding either (as hex text
/// or raw bytes). The header must be block 0.
fn parse_genesis_header(arg: &str) -> anyhow::Result<SealedHeader> {
    let path = Path::new(arg);
    let bytes = if path.is_file() {
        let file = std::fs::File::open(path)
            .with_context(|| format!("cannot open --genesis-header {arg}"))?;
        let mut bytes = Vec::new();
        std::io::Read::read_to_end(
            &mut std::io::Read::take(file, MAX_GENESIS_FILE_BYTES),
            &mut bytes,
        )
        .with_context(|| format!("cannot read --genesis-header {arg}"))?;
        match std::str::from_utf8(&bytes)
            .ok()
            .and_then(|t| decode_hex(t.trim()))
        {
            Some(decoded) => decoded,
            None => bytes,
        }
    } else {
        decode_hex(arg.trim())
            .with_context(|| format!("--genesis-header: `{arg}` is neither a file nor hex"))?
    };
    let header = match chain_types::codec::decode_exact::<Header>(&bytes) {
        Ok(header) => header.seal(),
        Err(_) => chain_types::codec::decode_exact::<Block>(&bytes)
            .map(|b| b.header)
            .map_err(|e| {
                anyhow::anyhow!("--genesis-header is neither an RLP header nor a block: {e}")
            })?,
    };
    if header.number != 0 {
        bail!("--genesis-header is block #{}, not block 0", header.number);
    }
    Ok(header)
}

/// Decodes hex text with an optional `0x` prefix.
fn decode_hex(text: &str) -> Option<Vec<u8>> {
    hex::decode(text.strip_prefix("0x").unwrap_or(text)).ok()
}

#[cfg(test)]
mod tests {
    use chain_types::{Body, Header};

    use super::*;

    #[test]
    fn genesis_header_from_hex_of_a_header_or_a_block_or_a_file() {
        let genesis = Header {
            extra_data: vec![7].into(),
            ..Header::default()
        }
        .seal();
        let header_hex = hex::encode(rlp::encode(genesis.header()));
        let block = Block {
            header: genesis.clone(),
            body: Body::default(),
        };
        let block_raw = rlp::encode(&block).to_vec();
        assert_eq!(parse_genesis_header(&header_hex).unwrap(), genesis);
        assert_eq!(
            parse_genesis_header(&format!("0x{}", hex::encode(&block_raw))).unwrap(),
            genesis
        );
        let dir = tempfile::tempdir().unwrap();
        let raw_file = dir.path().join("genesis.rlp");
        std::fs::write(&raw_file, &block_raw).unwrap();
        assert_eq!(
            parse_genesis_header(raw_file.to_str().unwrap()).unwrap(),
            genesis
        );
        let hex_file = dir.path().join("genesis.hex");
        std::fs::write(&hex_file, format!("0x{header_hex}\n")).unwrap();
        assert_eq!(
            parse_genesis_header(hex_file.to_str().unwrap()).unwrap(),
            genesis
        );
    }

    #[test]
    fn genesis_header_must_be_block_zero_and_well_formed() {
        let one = Header {
            number: 1,
            ..Header::default()
        };
        let err = parse_genesis_header(&hex::encode(rlp::encode(&one))).unwrap_err();
        assert!(err.to_string().contains("not block 0"), "{err}");
        let err = parse_genesis_header("c0").unwrap_err();
        assert!(err.to_string().contains("neither an RLP header"), "{err}");
        let err = parse_genesis_header("not hex").unwrap_err();
        assert!(err.to_string().contains("neither a file nor hex"), "{err}");
    }
}
