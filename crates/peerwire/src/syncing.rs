//! What `devnet` and `sync` share: the sync mode option, running one sync with a progress bar,
//! verifying the stored chain, and printing the summary (text or `--json`).

use std::io::IsTerminal as _;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{Context as _, bail};
use chain_downloader::{Config, Downloader, HeaderValidator, SyncMode};
use chain_types::{ChainStore, DynChainSource, H256, SealedHeader};
use indicatif::{ProgressBar, ProgressStyle};
use serde_json::json;
use tokio::sync::mpsc;

/// Which parts of the chain to download.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub(crate) enum Mode {
    /// Headers only.
    Light,
    /// Headers and bodies, bodies checked against the headers' roots.
    Full,
    /// Headers, bodies and receipts, receipts checked against the receipts root.
    Fast,
}

impl Mode {
    fn sync_mode(self) -> SyncMode {
        match self {
            Self::Light => SyncMode::Light,
            Self::Full => SyncMode::Full,
            Self::Fast => SyncMode::Fast,
        }
    }

    fn name(self) -> &'static str {
        match self {
            Self::Light => "light",
            Self::Full => "full",
            Self::Fast => "fast",
        }
    }
}

/// Which sync runs: the seed's forward `Synchronise` from the best peer by total difficulty (moving on to the next
/// peer when one fails), or the post-merge sync from a trusted head hash (headers in reverse, then bodies and
/// receipts forward).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Target {
    /// Forward from the best peer's announced head (eth/68 and older).
    Best,
    /// Back from this trusted head hash.
    Trusted(H256),
}

impl Target {
    /// The name in the summary.
    pub(crate) const fn strategy(self) -> &'static str {
        match self {
            Self::Best => "forward",
            Self::Trusted(_) => "trusted head (reverse)",
        }
    }
}

/// What one sync did.
#[derive(Debug)]
pub(crate) struct Outcome {
    /// The stored head before the sync.
    pub(crate) start: u64,
    /// The stored head after the sync.
    pub(crate) head: SealedHeader,
    /// Time spent syncing (connecting excluded).
    pub(crate) elapsed: Duration,
    /// The mode.
    pub(crate) mode: Mode,
    /// How many peers were registered.
    pub(crate) peers: usize,
    /// The sync that ran.
    pub(crate) target: Target,
    /// The eth versions the peers spoke (`None` for in-process sources), e.g. "eth/70".
    pub(crate) protocol: Option<String>,
}

/// Registers `sources` and syncs `store` to `target`, with a progress bar on a terminal; `validator` checks every
/// header (a chain specification's rules), else only linkage and the basic structural rules are checked.
pub(crate) async fn sync_from(
    store: Arc<dyn ChainStore>,
    sources: Vec<Arc<dyn DynChainSource>>,
    mode: Mode,
    target: Target,
    validator: Option<Arc<dyn HeaderValidator>>,
    progress: bool,
    mut late: Option<mpsc::Receiver<Arc<dyn DynChainSource>>>,
) -> anyhow::Result<Outcome> {
    let start = store
        .head_number()?
        .context("the store has no genesis to sync from")?;
    let peers = sources.len();
    let mut downloader = Downloader::new(store.clone(), Config::default())
        .with_drop_peer(|id| tracing::warn!(peer = id, "peer dropped by the downloader"));
    if let Some(validator) = validator {
        downloader = downloader.with_validator(validator);
    }
    for source in sources {
        downloader.register_peer(source);
    }
    let (what, head) = match target {
        Target::Trusted(head) => ("the trusted head".to_owned(), head),
        Target::Best => {
            let (peer, head, _) = downloader.best_peer().context("no peer to sync from")?;
            (format!("peer {}", short(&peer)), head)
        }
    };
    let bar = (progress && std::io::stderr().is_terminal()).then(|| progress_bar(mode));

    let started = Instant::now();
    let sync = async {
        match target {
            Target::Best => downloader.sync_best(mode.sync_mode()).await,
            Target::Trusted(head) => downloader.sync_trusted(head, mode.sync_mode()).await,
        }
    };
    tokio::pin!(sync);
    let mut ticker = tokio::time::interval(Duration::from_millis(100));
    let result = loop {
        tokio::select! {
            result = &mut sync => break result,
            source = recv_late(&mut late) => match source {
                Some(source) => downloader.register_peer(source),
                None => late = None,
            },
            _ = ticker.tick() => {
                if let Some(bar) = &bar {
                    let p = downloader.progress();
                    bar.set_length(p.highest_block.max(1));
                    bar.set_position(p.current_block);
                }
            }
        }
    };
    let elapsed = started.elapsed();
    if let Some(bar) = bar {
        bar.finish_and_clear();
    }
    result.with_context(|| format!("sync to {what} failed"))?;
    let (head_header, _) = store.head()?.context("the store is empty after the sync")?;
    if target != Target::Best && head_header.hash() != head {
        bail!(
            "the sync ended at {:#x} (#{}), not at {what} {head:#x}",
            head_header.hash(),
            head_header.number
        );
    }
    Ok(Outcome {
        start,
        head: head_header,
        elapsed,
        mode,
        peers,
        target,
        protocol: None,
    })
}

fn progress_bar(mode: Mode) -> ProgressBar {
    let bar = ProgressBar::new(1);
    let template = format!(
        "{{spinner}} {} sync [{{bar:40}}] {{pos}}/{{len}} blocks ({{per_sec}}, eta {{eta}})",
        mode.name()
    );
    if let Ok(style) = ProgressStyle::with_template(&template) {
        bar.set_style(style.progress_chars("=> "));
    }
    bar
}

fn short(id: &str) -> &str {
    id.get(..16).unwrap_or(id)
}

/// What verification found.
#[derive(Debug)]
pub(crate) struct Verified {
    /// Headers checked (genesis included).
    pub(crate) headers: u64,
    /// Bodies checked against their headers' roots.
    pub(crate) bodies: u64,
    /// Receipt lists checked against their headers' receipts roots.
    pub(crate) receipts: u64,
    /// RLP bytes of the headers, bodies and receipts synced in this run.
    pub(crate) bytes: u64,
}

/// Walks the whole stored chain from genesis to head: every header is stored by number and by hash
/// and links to its parent; in full and fast mode every stored body, and in fast mode every stored
/// receipt list, matches the header's roots, and those of the blocks synced in this run are all
/// present.
pub(crate) fn verify(store: &dyn ChainStore, outcome: &Outcome) -> anyhow::Result<Verified> {
    let mut verified = Verified {
        headers: 0,
        bodies: 0,
        receipts: 0,
        bytes: 0,
    };
    let mut parent: Option<H256> = None;
    for number in 0..=outcome.head.number {
        let header = store
            .header_by_number(number)?
            .with_context(|| format!("verification: header #{number} is missing"))?;
        if let Some(parent) = parent
            && header.parent_hash != parent
        {
            bail!("verification: header #{number} does not link to its parent");
        }
        if store.header_by_hash(&header.hash())?.map(|h| h.number) != Some(number) {
            bail!("verification: header #{number} is not indexed by its hash");
        }
        let synced_now = number > outcome.start;
        if synced_now {
            verified.bytes += rlp::encode(header.header()).len() as u64;
        }
        if number > 0 && matches!(outcome.mode, Mode::Full | Mode::Fast) {
            let body = store.body(&header.hash())?;
            match body {
                Some(body) => {
                    body.check_against(header.header())
                        .with_context(|| format!("verification: body #{number}"))?;
                    if synced_now {
                        verified.bytes += rlp::encode(&body).len() as u64;
                    }
                    verified.bodies += 1;
                }
                None if header.has_empty_body() => verified.bodies += 1,
                None if synced_now => bail!("verification: body #{number} is missing"),
                // Stored by an earlier run in a lighter mode.
                None => {}
            }
        }
        if number > 0 && outcome.mode == Mode::Fast {
            match store.receipts(&header.hash())? {
                Some(receipts) => {
                    chain_types::roots::check_receipts(&receipts, header.header())
                        .with_context(|| format!("verification: receipts #{number}"))?;
                    if synced_now {
                        verified.bytes += receipts
                            .iter()
                            .map(|r| rlp::encode(r).len() as u64)
                            .sum::<u64>();
                    }
                    verified.receipts += 1;
                }
                None if header.has_empty_receipts() => verified.receipts += 1,
                None if synced_now => bail!("verification: receipts #{number} are missing"),
                // Stored by an earlier run in a lighter mode.
                None => {}
            }
        }
        parent = Some(header.hash());
        verified.headers += 1;
    }
    Ok(verified)
}

/// Prints the summary of a sync: one JSON object with `--json`, else a few lines of text.
pub(crate) fn print_summary(
    outcome: &Outcome,
    verified: &Verified,
    source: &str,
    json_output: bool,
) -> anyhow::Result<()> {
    let headers = outcome.head.number - outcome.start;
    let blocks = if outcome.mode == Mode::Light {
        0
    } else {
        headers
    };
    let seconds = outcome.elapsed.as_secs_f64().max(1e-9);
    let head_hash = format!("{:#x}", outcome.head.hash());
    let rss = peak_rss_bytes();
    let line = if json_output {
        json!({
            "head_number": outcome.head.number,
            "head_hash": head_hash,
            "blocks": blocks,
            "headers": headers,
            "bytes": verified.bytes,
            "elapsed_s": seconds,
            "headers_per_s": headers as f64 / seconds,
            "blocks_per_s": blocks as f64 / seconds,
            "mode": outcome.mode.name(),
            "sync": outcome.target.strategy(),
            "protocol": outcome.protocol,
            "peers": outcome.peers,
            "source": source,
            "verified_headers": verified.headers,
            "verified_bodies": verified.bodies,
            "verified_receipts": verified.receipts,
            "peak_rss_bytes": rss,
        })
        .to_string()
    } else {
        let over = match &outcome.protocol {
            Some(protocol) => format!("{source} ({protocol})"),
            None => source.to_owned(),
        };
        let mut text = format!(
            "synced {headers} headers and {blocks} blocks ({:.1} MB) from {} peers over {over} in {seconds:.2} s ({} mode, {} sync)\n",
            verified.bytes as f64 / 1e6,
            outcome.peers,
            outcome.mode.name(),
            outcome.target.strategy(),
        );
        text.push_str(&format!(
            "rate: {:.0} headers/s, {:.0} blocks/s, {:.1} MB/s\n",
            headers as f64 / seconds,
            blocks as f64 / seconds,
            verified.bytes as f64 / 1e6 / seconds
        ));
        text.push_str(&format!("head: #{} {head_hash}\n", outcome.head.number));
        text.push_str(&format!(
            "verified: {} headers linked from genesis, {} bodies, {} receipt lists",
            verified.headers, verified.bodies, verified.receipts
        ));
        if let Some(rss) = rss {
            text.push_str(&format!(
                "\npeak memory: {:.0} MiB",
                rss as f64 / (1024.0 * 1024.0)
            ));
        }
        text
    };
    crate::output::line(&line).context("cannot write to stdout")
}

/// The process's peak resident set size (Linux `VmHWM`), if known.
pub(crate) fn peak_rss_bytes() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    let kib: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kib * 1024)
}

/// The next peer that joined during the sync; pending forever once the channel is gone.
async fn recv_late(
    late: &mut Option<mpsc::Receiver<Arc<dyn DynChainSource>>>,
) -> Option<Arc<dyn DynChainSource>> {
    match late {
        Some(rx) => rx.recv().await,
        None => std::future::pending().await,
    }
}

#[cfg(test)]
mod tests {
    use std::future::Future;

    use chain_types::generator::{Chain, ChainServer, GeneratorOptions};
    use chain_types::{Body, ChainSource, HeadersRequest, MemoryStore, Receipt, U256};

    use super::*;

    /// Serves headers but never a body (after a short delay, an empty reply): alone it cannot finish a full sync.
    struct HeadersOnly(ChainServer);

    impl ChainSource for HeadersOnly {
        fn id(&self) -> &str {
            "headers-only"
        }
        fn head(&self) -> (H256, U256) {
            ChainSource::head(&self.0)
        }
        fn headers(
            &self,
            request: HeadersRequest,
        ) -> impl Future<Output = Result<Vec<chain_types::Header>, chain_types::Error>> + Send
        {
            self.0.headers(request)
        }
        async fn bodies(&self, _: Vec<H256>) -> Result<Vec<Body>, chain_types::Error> {
            tokio::time::sleep(Duration::from_millis(100)).await;
            Ok(Vec::new())
        }
        async fn receipts(&self, _: Vec<H256>) -> Result<Vec<Vec<Receipt>>, chain_types::Error> {
            Ok(Vec::new())
        }
    }

    fn setup() -> (Arc<Chain>, Arc<dyn ChainStore>) {
        let chain = Arc::new(Chain::generate(64, &GeneratorOptions::seeded(7)));
        let store = MemoryStore::new();
        store
            .insert_batch(chain.entries(0..1, true, true))
            .expect("genesis");
        (chain, Arc::new(store))
    }

    async fn sync(
        chain: &Chain,
        store: Arc<dyn ChainStore>,
        late: Option<mpsc::Receiver<Arc<dyn DynChainSource>>>,
    ) -> anyhow::Result<Outcome> {
        let first = Arc::new(HeadersOnly(ChainServer::new("a", Arc::new(chain.clone()))))
            as Arc<dyn DynChainSource>;
        let target = Target::Trusted(chain.head().hash());
        let run = sync_from(store, vec![first], Mode::Full, target, None, false, late);
        tokio::time::timeout(Duration::from_secs(60), run)
            .await
            .expect("the sync ends")
    }

    #[tokio::test]
    async fn a_peer_that_joins_a_running_sync_serves_what_the_first_could_not() {
        let (chain, store) = setup();
        let (tx, rx) = mpsc::channel(1);
        let joiner = Arc::new(ChainServer::new("b", chain.clone())) as Arc<dyn DynChainSource>;
        tx.send(joiner).await.expect("send");
        let outcome = sync(&chain, store.clone(), Some(rx)).await.expect("sync");
        assert_eq!(outcome.head.hash(), chain.head().hash());
        assert_eq!(
            store.head().expect("head").map(|(h, _)| h.hash()),
            Some(chain.head().hash())
        );
    }

    #[tokio::test]
    async fn without_the_joining_peer_the_same_sync_fails() {
        let (chain, store) = setup();
        let error = sync(&chain, store, None)
            .await
            .expect_err("a headers-only peer cannot finish a full sync");
        assert!(
            format!("{error:#}").contains("sync to the trusted head failed"),
            "{error:#}"
        );
    }
}
