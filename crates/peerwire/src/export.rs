//! `peerwire export`: writes a data directory's blocks in the format of `geth export` (see [`crate::import`]), so
//! that `serve --import` reads them back byte for byte and `geth import` accepts them.
//!
//! The file is written under a temporary name next to it and renamed when complete, so a failed export leaves no
//! partial file behind. A name ending in `.gz` is gzip-compressed.

use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};

use anyhow::{Context as _, bail};
use chain_types::{Block, Body, ChainStore};

use crate::{datadir, import};

/// Options of `peerwire export`.
#[derive(Debug, clap::Args)]
pub(crate) struct Args {
    /// The data directory holding the chain (`chain.redb`, `chain.json`).
    #[arg(long)]
    datadir: PathBuf,
    /// The first block to write.
    #[arg(long, default_value_t = 0)]
    from: u64,
    /// The last block to write (default: the stored head).
    #[arg(long)]
    to: Option<u64>,
    /// The file to write (gzip-compressed if its name ends in `.gz`).
    file: PathBuf,
}

/// Runs `peerwire export`.
pub(crate) async fn run(args: Args) -> anyhow::Result<()> {
    if !args.datadir.join("chain.redb").is_file() {
        bail!("{} holds no chain store", args.datadir.display());
    }
    let store = datadir::open_store(&args.datadir)?;
    if datadir::ready(&args.datadir, store.as_ref())?.is_none() {
        bail!(
            "{} holds no chain (no chain.json or no genesis)",
            args.datadir.display()
        );
    }
    let head = store.head_number()?.context("the store is empty")?;
    let to = args.to.unwrap_or(head);
    if args.from > to {
        bail!("--from {} is after --to {to}", args.from);
    }
    if to > head {
        bail!("--to {to} is after the data directory's head #{head}",);
    }
    let (from, file) = (args.from, args.file);
    let bytes =
        tokio::task::spawn_blocking(move || export_to_file(store.as_ref(), from, to, &file))
            .await
            .context("the export task failed")??;
    tracing::info!(from, to, bytes, "exported");
    Ok(())
}

/// Writes blocks `from..=to` of `store` to `path` (through a temporary file); returns the bytes of RLP written.
fn export_to_file(store: &dyn ChainStore, from: u64, to: u64, path: &Path) -> anyhow::Result<u64> {
    let mut temp_name = path.as_os_str().to_owned();
    temp_name.push(".partial");
    let temp = PathBuf::from(temp_name);
    let result = (|| {
        let file =
            File::create(&temp).with_context(|| format!("cannot create {}", temp.display()))?;
        let mut out = BufWriter::with_capacity(1 << 20, file);
        let bytes = if import::is_gzip(path) {
            let mut gz = flate2::write::GzEncoder::new(&mut out, flate2::Compression::default());
            let bytes = write_blocks(store, from, to, &mut gz)?;
            gz.finish().context("cannot finish the gzip stream")?;
            bytes
        } else {
            write_blocks(store, from, to, &mut out)?
        };
        let file = out.into_inner().context("cannot write the file")?;
        file.sync_all().context("cannot sync the file")?;
        std::fs::rename(&temp, path)
            .with_context(|| format!("cannot rename to {}", path.display()))?;
        Ok(bytes)
    })();
    if result.is_err() {
        let _ = std::fs::remove_file(&temp);
    }
    result
}

/// Writes blocks `from..=to` of `store` as concatenated RLP blocks; returns the bytes written.
///
/// # Errors
///
/// When a block or a non-empty body is not stored (a light-synced directory has headers only), or writing fails.
pub(crate) fn write_blocks(
    store: &dyn ChainStore,
    from: u64,
    to: u64,
    out: &mut dyn Write,
) -> anyhow::Result<u64> {
    let mut bytes = 0;
    for number in from..=to {
        let header = store
            .header_by_number(number)?
            .with_context(|| format!("block #{number} is not stored"))?;
        let body = match store.body(&header.hash())? {
            Some(body) => body,
            None if header.has_empty_body() => Body {
                transactions: Vec::new(),
                ommers: Vec::new(),
                withdrawals: header.withdrawals_root.map(|_| Vec::new()),
            },
            None => bail!(
                "the body of block #{number} is not stored (the chain was synced in light mode?)"
            ),
        };
        let encoded = rlp::encode(&Block { header, body });
        out.write_all(&encoded).context("cannot write the file")?;
        bytes += encoded.len() as u64;
    }
    Ok(bytes)
}
