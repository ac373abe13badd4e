//! Discovery flags shared by `crawl`, `sync` and `serve`, and the discovery sources they start: discv4, discv5
//! and EIP-1459 DNS lists, each feeding [`Candidate`]s to a channel (the peer pool's, or the crawler's).

use std::net::SocketAddr;
use std::time::Duration;

use anyhow::{Context as _, bail};
use chain_types::ChainSpec;
use p2p_discovery::eth_entry::EthEntry;
use p2p_discovery::v5::{Discv5, Discv5Config};
use p2p_discovery::{Candidate, Enr, Source};
use p2p_discv4::{Discv4, Discv4Config, NodeRecord};
use p2p_dnsdisc::{HickoryResolver, Link};
use p2p_rlpx::{Enode, NodeKey};
use tokio::sync::mpsc;

/// A discovery protocol.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub(crate) enum Protocol {
    /// Discovery v4 (Kademlia over UDP, geth's default).
    V4,
    /// Discovery v5.1.
    V5,
}

/// The discovery flags.
#[derive(Debug, Clone, clap::Args)]
pub(crate) struct DiscoveryArgs {
    /// A discovery bootnode: `enode://…` (discv4, also dialed) or `enr:…` (both versions); repeat for more.
    /// Default: the chain's built-in bootnodes.
    #[arg(long = "bootnode", value_name = "URL")]
    pub(crate) bootnodes: Vec<String>,
    /// An EIP-1459 node list (`enrtree://<key>@<domain>`); repeat for more. Default: the chain's built-in lists.
    #[arg(long = "dns", value_name = "ENRTREE")]
    pub(crate) dns: Vec<String>,
    /// The discovery protocols to run, comma-separated.
    #[arg(long, value_enum, value_delimiter = ',', default_value = "v4,v5")]
    pub(crate) discovery: Vec<Protocol>,
    /// Only discovery v4 (same as `--discovery v4`).
    #[arg(long, conflicts_with_all = ["v5", "discovery"])]
    pub(crate) v4: bool,
    /// Only discovery v5 (same as `--discovery v5`).
    #[arg(long, conflicts_with_all = ["v4", "discovery"])]
    pub(crate) v5: bool,
    /// The UDP address discovery v4 listens on; discovery v5 takes the next port (or a free one with port 0).
    #[arg(
        long = "discovery-listen",
        visible_alias = "listen",
        value_name = "ADDR",
        default_value = "0.0.0.0:0"
    )]
    pub(crate) listen: SocketAddr,
}

impl DiscoveryArgs {
    /// The protocols to run.
    pub(crate) fn protocols(&self) -> Vec<Protocol> {
        if self.v4 {
            vec![Protocol::V4]
        } else if self.v5 {
            vec![Protocol::V5]
        } else {
            self.discovery.clone()
        }
    }

    /// Whether any discovery flag was given explicitly.
    pub(crate) fn given(&self) -> bool {
        !self.bootnodes.is_empty() || !self.dns.is_empty() || self.v4 || self.v5
    }
}

/// A bootnode: an `enode://` URL or an `enr:` record.
#[derive(Debug, Clone)]
pub(crate) enum Bootnode {
    /// A discv4 node.
    Enode(Enode),
    /// A record (both discovery versions).
    Enr(Box<Enr>),
}

impl Bootnode {
    /// The node as a dial candidate, if it announces an RLPx endpoint.
    pub(crate) fn candidate(&self) -> Option<Candidate> {
        match self {
            Self::Enode(enode) => Some(Candidate::new(*enode, Source::Static)),
            Self::Enr(enr) => Candidate::from_enr((**enr).clone(), Source::Static).ok(),
        }
    }
}

/// Parses the `--bootnode` values (and built-in ones), naming a bad one.
pub(crate) fn parse_bootnodes(texts: &[String]) -> anyhow::Result<Vec<Bootnode>> {
    texts
        .iter()
        .map(|text| {
            let text = text.trim();
            if text.starts_with("enode://") {
                text.parse::<Enode>()
                    .map(Bootnode::Enode)
                    .with_context(|| format!("bad --bootnode `{text}`"))
            } else if text.starts_with("enr:") {
                text.parse::<Enr>()
                    .map(|e| Bootnode::Enr(Box::new(e)))
                    .map_err(|e| anyhow::anyhow!("bad --bootnode `{text}`: {e}"))
            } else {
                bail!("bad --bootnode `{text}`: expected an enode:// URL or an enr: record")
            }
        })
        .collect()
}

/// Pause between two random lookups of one protocol.
const LOOKUP_PAUSE: Duration = Duration::from_millis(500);
/// Pause after a failed lookup or DNS resolution.
const RETRY_PAUSE: Duration = Duration::from_secs(5);
/// ENRRequests in flight at once.
const ENR_REQUESTS: usize = 16;
/// The most discv4 nodes whose record is asked for (one crawl's worth).
const MAX_ENR_ASKED: usize = 100_000;
/// How often a DNS list is resolved again.
const DNS_REFRESH: Duration = Duration::from_secs(600);

/// The running discovery sources; dropping the value stops them.
#[derive(Debug, Default)]
pub(crate) struct Sources {
    tasks: Vec<tokio::task::JoinHandle<()>>,
    v4: Option<Discv4>,
    v5: Option<Discv5>,
}

impl Drop for Sources {
    fn drop(&mut self) {
        for task in &self.tasks {
            task.abort();
        }
        if let Some(v5) = &self.v5 {
            v5.shutdown();
        }
    }
}

/// The local addresses of the running discovery protocols, for `serve` to print.
#[derive(Debug, Default, Clone)]
pub(crate) struct LocalRecords {
    /// The discv4 `enode://` URL (with `?discport=` when UDP differs from TCP).
    pub(crate) v4_enode: Option<String>,
    /// The discv5 UDP address.
    pub(crate) v5_addr: Option<SocketAddr>,
    /// The node record (`enr:…`) discv5 announces.
    pub(crate) enr: Option<String>,
}

impl Sources {
    /// Starts the sources `args` asks for on `spec`'s network, announcing RLPx on `tcp_port` and `eth` in the
    /// records; every node found goes to `found` (first the bootnodes with an RLPx endpoint, as static
    /// candidates, when `dial_bootnodes`).
    pub(crate) async fn start(
        spec: Option<&ChainSpec>,
        args: &DiscoveryArgs,
        key: &NodeKey,
        tcp_port: u16,
        eth: Option<EthEntry>,
        found: mpsc::Sender<Candidate>,
        dial_bootnodes: bool,
    ) -> anyhow::Result<Self> {
        let bootnodes = parse_bootnodes(&bootnode_texts(spec, args))?;
        if dial_bootnodes {
            for candidate in bootnodes.iter().filter_map(Bootnode::candidate) {
                let _ = found.try_send(candidate);
            }
        }
        let mut sources = Self::default();
        let protocols = args.protocols();
        if protocols.contains(&Protocol::V4) {
            let mut config = Discv4Config {
                listen_addr: args.listen,
                tcp_port: Some(tcp_port),
                ..Discv4Config::default()
            };
            if let Some(eth) = &eth {
                config
                    .enr_entries
                    .push((p2p_discovery::eth_entry::ENR_KEY.to_owned(), eth.to_rlp()));
            }
            for boot in &bootnodes {
                match boot {
                    Bootnode::Enode(enode) => config.bootnodes.push(*enode),
                    Bootnode::Enr(enr) => {
                        if let Ok(enode) = p2p_discovery::enode_of(enr) {
                            config.bootnodes.push(enode);
                        }
                    }
                }
            }
            let v4 = Discv4::bind(key, config)
                .await
                .with_context(|| format!("cannot start discovery v4 on {}", args.listen))?;
            sources
                .tasks
                .push(tokio::spawn(lookups_v4(v4.clone(), found.clone())));
            sources.v4 = Some(v4);
        }
        if protocols.contains(&Protocol::V5) {
            let mut listen = args.listen;
            if listen.port() != 0 {
                listen.set_port(listen.port().wrapping_add(1));
            }
            let mut config = Discv5Config::new(listen).tcp_port(tcp_port);
            if let Some(eth) = &eth {
                config = config.eth_entry(eth);
            }
            for boot in &bootnodes {
                if let Bootnode::Enr(enr) = boot {
                    config = config.bootnode((**enr).clone());
                }
            }
            let v5 = Discv5::bind(key, config)
                .await
                .with_context(|| format!("cannot start discovery v5 on {listen}"))?;
            sources
                .tasks
                .push(tokio::spawn(lookups_v5(v5.clone(), found.clone())));
            sources.v5 = Some(v5);
        }
        for text in dns_texts(spec, args) {
            let link: Link = text
                .parse()
                .map_err(|e| anyhow::anyhow!("bad --dns `{text}`: {e}"))?;
            sources
                .tasks
                .push(tokio::spawn(resolve_dns(link, found.clone())));
        }
        Ok(sources)
    }

    /// What the running protocols announce.
    pub(crate) fn local(&self) -> LocalRecords {
        LocalRecords {
            v4_enode: self.v4.as_ref().map(|v4| v4.local_enode().to_string()),
            v5_addr: self.v5.as_ref().map(Discv5::listen_addr),
            enr: self.v5.as_ref().map(Discv5::local_enr_text),
        }
    }
}

/// The bootnodes: the flags', else the chain's built-in ones.
fn bootnode_texts(spec: Option<&ChainSpec>, args: &DiscoveryArgs) -> Vec<String> {
    match spec {
        Some(spec) if args.bootnodes.is_empty() => spec.bootnodes.clone(),
        _ => args.bootnodes.clone(),
    }
}

/// The DNS lists: the flags', else the chain's built-in ones.
fn dns_texts(spec: Option<&ChainSpec>, args: &DiscoveryArgs) -> Vec<String> {
    // Explicit bootnodes without --dns (a private or test network) use no built-in list.
    match spec {
        Some(spec) if args.dns.is_empty() && args.bootnodes.is_empty() => spec.dns_networks.clone(),
        _ => args.dns.clone(),
    }
}

/// A discv4 node as a candidate: its record's `eth` entry travels along when it was fetched.
fn candidate_v4(record: NodeRecord) -> Candidate {
    Candidate {
        enode: record.enode,
        enr: record.enr,
        source: Source::Discv4,
    }
}

/// Random discv4 lookups in a loop; every node found (and every node of the table) goes to `found`.
/// Nodes found without a record get an ENRRequest (EIP-868) first, so that their `eth` entry is known; each
/// node's record is asked for once (the set of those asked is bounded by [`MAX_ENR_ASKED`]).
async fn lookups_v4(v4: Discv4, found: mpsc::Sender<Candidate>) {
    use futures::stream::StreamExt as _;
    let mut asked = std::collections::HashSet::new();
    loop {
        match v4.lookup_random().await {
            Ok(records) => {
                let table = v4.table_nodes();
                let fresh: Vec<NodeRecord> = records
                    .into_iter()
                    .chain(table)
                    .filter(|r| asked.len() < MAX_ENR_ASKED && asked.insert(r.enode.id))
                    .collect();
                let mut enriched = futures::stream::iter(fresh)
                    .map(|mut record| {
                        let v4 = v4.clone();
                        async move {
                            if record.enr.is_none() {
                                record.enr = v4.request_enr(&record.enode).await.ok();
                            }
                            record
                        }
                    })
                    .buffer_unordered(ENR_REQUESTS);
                while let Some(record) = enriched.next().await {
                    if found.send(candidate_v4(record)).await.is_err() {
                        return;
                    }
                }
                tokio::time::sleep(LOOKUP_PAUSE).await;
            }
            Err(e) => {
                tracing::debug!(error = %e, "discv4 lookup failed");
                tokio::time::sleep(RETRY_PAUSE).await;
            }
        }
    }
}

/// Random discv5 lookups in a loop; every node found goes to `found`.
async fn lookups_v5(v5: Discv5, found: mpsc::Sender<Candidate>) {
    loop {
        match v5.lookup_random().await {
            Ok(candidates) => {
                for candidate in candidates {
                    if found.send(candidate).await.is_err() {
                        return;
                    }
                }
                for enr in v5.table_entries() {
                    if let Ok(candidate) = Candidate::from_enr(enr, Source::Discv5)
                        && found.send(candidate).await.is_err()
                    {
                        return;
                    }
                }
                tokio::time::sleep(LOOKUP_PAUSE).await;
            }
            Err(e) => {
                tracing::debug!(error = %e, "discv5 lookup failed");
                tokio::time::sleep(RETRY_PAUSE).await;
            }
        }
    }
}

/// Resolves an EIP-1459 list now and every [`DNS_REFRESH`]; every record goes to `found`.
async fn resolve_dns(link: Link, found: mpsc::Sender<Candidate>) {
    let resolver = match HickoryResolver::system(Duration::from_secs(5), 2) {
        Ok(resolver) => resolver,
        Err(e) => {
            tracing::warn!(error = %e, "no DNS resolver; skipping the DNS lists");
            return;
        }
    };
    let mut client = p2p_dnsdisc::Client::new(resolver, p2p_dnsdisc::Config::default());
    loop {
        match client.resolve(&link).await {
            Ok(resolved) => {
                tracing::info!(tree = %link.domain(), records = resolved.records.len(), "DNS list resolved");
                for enr in resolved.records {
                    if let Ok(candidate) = Candidate::from_enr(enr, Source::Dns)
                        && found.send(candidate).await.is_err()
                    {
                        return;
                    }
                }
                tokio::time::sleep(DNS_REFRESH).await;
            }
            Err(e) => {
                tracing::warn!(tree = %link.domain(), error = %e, "DNS list failed");
                tokio::time::sleep(RETRY_PAUSE.max(Duration::from_secs(30))).await;
            }
        }
    }
}

/// `peerwire serve --discovery`: what to run.
#[derive(Debug, Clone)]
pub(crate) struct ServeDiscovery {
    /// The discovery protocols.
    pub(crate) protocols: Vec<Protocol>,
    /// Bootnodes (`enode://` or `enr:`).
    pub(crate) bootnodes: Vec<String>,
    /// The most inbound peers.
    pub(crate) max_peers: usize,
}

/// Serves `store` over eth through the peer pool (inbound only, within `max_peers`) and answers discovery on
/// UDP, until Ctrl-C. Prints the enode on the first line and a JSON object with the record on the second.
pub(crate) async fn serve_with_discovery(
    spec: Option<&ChainSpec>,
    chain: &crate::datadir::ChainId,
    store: std::sync::Arc<dyn chain_types::ChainStore>,
    key: NodeKey,
    listen: SocketAddr,
    options: &ServeDiscovery,
) -> anyhow::Result<()> {
    use p2p_discovery::pool::{Pool, PoolConfig, PoolParts};

    let node = crate::node::eth_node(chain, store)?;
    let (_, filter) = node
        .local_status(eth_wire::EthVersion::Eth69)
        .context("cannot read the store's head")?;
    let mut host = p2p_rlpx::HostConfig::new(key.clone());
    host.listen_addr = listen;
    host.client_id = crate::node::client_id();
    let config = PoolConfig {
        max_outbound: 0,
        max_inbound: options.max_peers,
        ..PoolConfig::default()
    };
    let PoolParts {
        handle,
        driver,
        mut sessions,
        ..
    } = Pool::bind(config, host, node, None)
        .await
        .with_context(|| format!("cannot listen on {listen}"))?;
    let mut driver = tokio::spawn(driver.run());
    let enode = handle.local_enode();
    let args = DiscoveryArgs {
        bootnodes: options.bootnodes.clone(),
        dns: Vec::new(),
        discovery: options.protocols.clone(),
        v4: false,
        v5: false,
        listen: SocketAddr::new(enode.ip, enode.tcp_port),
    };
    // Nothing is dialed: the nodes found only fill the tables.
    let (found_tx, mut found) = mpsc::channel(64);
    let sources = Sources::start(
        spec,
        &args,
        &key,
        enode.tcp_port,
        Some(EthEntry::new(filter.current())),
        found_tx,
        false,
    )
    .await?;
    crate::output::line(&enode.to_string()).context("cannot write to stdout")?;
    let local = sources.local();
    let info = serde_json::json!({
        "enode": enode.to_string(),
        "enr": local.enr,
        "discv4": local.v4_enode,
        "discv5": local.v5_addr.map(|a| a.to_string()),
    });
    crate::output::line(&info.to_string()).context("cannot write to stdout")?;
    let result = loop {
        tokio::select! {
            Some(_) = found.recv() => {}
            Some(session) = sessions.recv() => {
                tracing::info!(peer = %session.id, client = %session.client_id, "inbound eth peer");
            }
            result = &mut driver => break result.context("the peer pool failed"),
            signal = tokio::signal::ctrl_c() => break signal.context("cannot listen for Ctrl-C"),
        }
    };
    drop(sources);
    handle.shutdown();
    result
}
