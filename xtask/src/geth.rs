//! go-ethereum as a reference peer: the pinned install, the chains it serves, and the listening nodes.
//!
//! - **Install.** `go install github.com/ethereum/go-ethereum/cmd/{geth,devp2p}@GETH_VERSION` into
//!   `tests/peers/go/bin`, with the module cache in `tests/peers/go/mod` (both git-ignored), once per machine: a
//!   stamp file remembers the pin, and a changed pin reinstalls. The module cache also holds geth's own eth test
//!   chain (`cmd/devp2p/internal/ethtest/testdata`).
//! - **The dev-made chain.** `geth --dev` has no p2p networking, so the chain is made in a dev node (blocks on
//!   demand) fed by `tests/peers/geth/make-chain.mjs` with every transaction type geth accepts and contract calls
//!   that emit logs, then exported (`geth export`) with its genesis (`geth dumpgenesis`). The result is cached in
//!   `tests/peers/go/devchain-<key>/`, keyed by the pin, the script and the round count.
//! - **Listening nodes.** `geth init` + `geth import` into a fresh data directory under `tests/peers/run/`, then
//!   a normal node that listens for RLPx on 127.0.0.1 only (set through a TOML config file, since geth's flags
//!   listen on every interface), discovery off (or, for the discovery network, discv4 and discv5 on the RLPx port
//!   with bootnodes), JSON-RPC over HTTP on loopback with the `admin` namespace.

use std::fs;
use std::hash::Hasher;
use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use crate::peers::{free_port, log_file, poll};
use crate::{Result, run, step};

/// The pinned go-ethereum release.
pub(crate) const GETH_VERSION: &str = "v1.17.10";

/// Rounds of transactions that `make-chain.mjs` sends (each round mines 3 to 5 blocks).
const DEV_ROUNDS: u32 = 48;

/// The installed tools and geth's own test chain.
#[derive(Debug, Clone)]
pub(crate) struct Install {
    /// The `geth` program.
    pub(crate) geth: PathBuf,
    /// The `devp2p` tool (with the eth, discv4 and discv5 test suites).
    pub(crate) devp2p: PathBuf,
    /// `cmd/devp2p/internal/ethtest/testdata` of the pinned module: `genesis.json`, `chain.rlp`, …
    pub(crate) testdata: PathBuf,
}

/// Installs the pinned geth and devp2p unless the stamp says they are there.
pub(crate) fn install(root: &Path) -> Result<Install> {
    let dir = root.join("tests/peers/go");
    let bin = dir.join("bin");
    let modcache = dir.join("mod");
    let found = Install {
        geth: bin.join("geth"),
        devp2p: bin.join("devp2p"),
        testdata: modcache.join(format!(
            "github.com/ethereum/go-ethereum@{GETH_VERSION}/cmd/devp2p/internal/ethtest/testdata"
        )),
    };
    let stamp = dir.join(".installed");
    let wanted = format!("{GETH_VERSION} -trimpath");
    let have = fs::read_to_string(&stamp).unwrap_or_default();
    if have.trim() == wanted
        && found.geth.is_file()
        && found.devp2p.is_file()
        && found.testdata.is_dir()
    {
        eprintln!(
            "go-ethereum {GETH_VERSION} is installed ({})",
            bin.display()
        );
        return Ok(found);
    }
    let go = crate::peers::which("go").ok_or(
        "`go` is not on PATH: the go-ethereum reference peer is built with `go install` (Go 1.24 or newer)",
    )?;
    fs::create_dir_all(&dir).map_err(|e| format!("creating {}: {e}", dir.display()))?;
    let _ = fs::remove_file(&stamp);
    let module = "github.com/ethereum/go-ethereum/cmd";
    run(Command::new(go)
        .env("GOBIN", &bin)
        .env("GOMODCACHE", &modcache)
        // -trimpath keeps paths out of the binaries and out of the build cache keys, so a clone elsewhere
        // reuses the cached packages.
        .env("GOFLAGS", "-modcacherw -trimpath")
        .arg("install")
        .arg(format!("{module}/geth@{GETH_VERSION}"))
        .arg(format!("{module}/devp2p@{GETH_VERSION}")))?;
    for path in [&found.geth, &found.devp2p, &found.testdata] {
        if !path.exists() {
            return Err(format!(
                "`go install` succeeded but {} is missing",
                path.display()
            ));
        }
    }
    fs::write(&stamp, &wanted).map_err(|e| format!("writing {}: {e}", stamp.display()))?;
    Ok(found)
}

/// A chain to serve: its genesis file and its blocks in `geth export` format.
#[derive(Debug, Clone)]
pub(crate) struct ChainFiles {
    pub(crate) genesis: PathBuf,
    pub(crate) blocks: PathBuf,
    /// One JSON line describing the chain (head number and hash, counts).
    pub(crate) info: String,
}

/// geth's own eth test chain.
pub(crate) fn ethtest_chain(install: &Install) -> Result<ChainFiles> {
    let head = fs::read_to_string(install.testdata.join("headblock.json"))
        .map_err(|e| format!("reading the eth test chain's headblock.json: {e}"))?;
    let head: serde_json::Value =
        serde_json::from_str(&head).map_err(|e| format!("headblock.json: {e}"))?;
    let number = head["number"].as_str().unwrap_or("0x0");
    let number = u64::from_str_radix(number.trim_start_matches("0x"), 16).unwrap_or(0);
    Ok(ChainFiles {
        genesis: install.testdata.join("genesis.json"),
        blocks: install.testdata.join("chain.rlp"),
        info: serde_json::json!({ "head": number, "hash": head["hash"] }).to_string(),
    })
}

/// The dev-made chain, from the cache or made now.
pub(crate) fn dev_chain(root: &Path, install: &Install) -> Result<ChainFiles> {
    let peers = root.join("tests/peers");
    let script = peers.join("geth/make-chain.mjs");
    let source = fs::read(&script).map_err(|e| format!("reading {}: {e}", script.display()))?;
    let mut hasher = std::hash::DefaultHasher::new();
    hasher.write(GETH_VERSION.as_bytes());
    hasher.write(&source);
    hasher.write_u32(DEV_ROUNDS);
    let cache = peers.join(format!("go/devchain-{:016x}", hasher.finish()));
    let files = ChainFiles {
        genesis: cache.join("genesis.json"),
        blocks: cache.join("chain.rlp"),
        info: String::new(),
    };
    if let Ok(info) = fs::read_to_string(cache.join("info.json"))
        && files.genesis.is_file()
        && files.blocks.is_file()
    {
        eprintln!("geth dev chain is cached in {}", cache.display());
        return Ok(ChainFiles {
            info: info.trim().to_owned(),
            ..files
        });
    }

    step("making the geth dev chain");
    let started = Instant::now();
    let work = peers.join("go/devchain-work");
    let _ = fs::remove_dir_all(&work);
    fs::create_dir_all(&work).map_err(|e| format!("creating {}: {e}", work.display()))?;
    let datadir = work.join("datadir");
    let http = free_port()?;
    let mut dev = Command::new(&install.geth);
    dev.args(["--dev", "--dev.period", "0", "--datadir"])
        .arg(&datadir)
        .args(["--http", "--http.addr", "127.0.0.1", "--http.port"])
        .arg(http.to_string())
        .args(["--http.api", "eth,net,web3,dev", "--ipcdisable"])
        .args(["--authrpc.addr", "127.0.0.1", "--authrpc.port"])
        .arg(free_port()?.to_string())
        .args(["--port", "0", "--nat", "none", "--verbosity", "3"]);
    let mut node = spawn_logged("geth-dev", dev, &work)?;
    let made = (|| {
        wait_for_rpc("geth-dev", http, "eth_blockNumber", &work)?;
        let node_bin = crate::peers::which("node").ok_or("`node` is not on PATH")?;
        let output = Command::new(node_bin)
            .current_dir(&peers)
            .arg(&script)
            .arg(format!("http://127.0.0.1:{http}"))
            .arg(DEV_ROUNDS.to_string())
            .stderr(Stdio::inherit())
            .output()
            .map_err(|e| format!("could not run {}: {e}", script.display()))?;
        if !output.status.success() {
            return Err(format!("{} failed ({})", script.display(), output.status));
        }
        Ok(String::from_utf8_lossy(&output.stdout).trim().to_owned())
    })();
    // A graceful stop, so that geth writes its head to disk before `export` reads it.
    interrupt(&mut node, "geth-dev");
    let info = made?;

    let blocks = work.join("chain.rlp");
    run(Command::new(&install.geth)
        .arg("--datadir")
        .arg(&datadir)
        .arg("export")
        .arg(&blocks)
        .stdout(log_file(&work, "export.out")?)
        .stderr(log_file(&work, "export.log")?))?;
    let genesis = Command::new(&install.geth)
        .arg("--datadir")
        .arg(&datadir)
        .arg("dumpgenesis")
        .stderr(log_file(&work, "dumpgenesis.log")?)
        .output()
        .map_err(|e| format!("could not run geth dumpgenesis: {e}"))?;
    if !genesis.status.success() || genesis.stdout.is_empty() {
        return Err(format!("geth dumpgenesis failed ({})", genesis.status));
    }
    fs::write(work.join("genesis.json"), &genesis.stdout)
        .and_then(|()| fs::write(work.join("info.json"), format!("{info}\n")))
        .map_err(|e| format!("writing the dev chain: {e}"))?;
    let _ = fs::remove_dir_all(&datadir);
    let _ = fs::remove_dir_all(&cache);
    fs::rename(&work, &cache).map_err(|e| format!("renaming {}: {e}", work.display()))?;
    eprintln!("geth dev chain made in {:.1?}: {info}", started.elapsed());
    Ok(ChainFiles { info, ..files })
}

/// A listening geth node serving a chain on loopback.
#[derive(Debug)]
pub(crate) struct Node {
    pub(crate) child: Child,
    pub(crate) enode: String,
    pub(crate) http: String,
    /// The node's record (`enr:…`), with discovery on.
    pub(crate) enr: String,
}

/// Discovery settings of a node: off, or on (v4 and v5 on the RLPx port, UDP) with bootnodes.
#[derive(Debug, Clone, Default)]
pub(crate) struct Discovery {
    /// Whether discovery v4 and v5 run.
    pub(crate) on: bool,
    /// `enode://` URLs of the discv4 bootnodes.
    pub(crate) bootnodes: Vec<String>,
    /// `enr:` records of the discv5 bootnodes.
    pub(crate) bootnodes_v5: Vec<String>,
}

impl Discovery {
    /// The `[Node.P2P]` lines of geth's TOML config.
    fn toml(&self) -> String {
        if !self.on {
            return "NoDiscovery = true\nDiscoveryV4 = false\nDiscoveryV5 = false\n".to_owned();
        }
        let list = |items: &[String]| {
            let quoted: Vec<String> = items.iter().map(|i| format!("\"{i}\"")).collect();
            format!("[{}]", quoted.join(", "))
        };
        format!(
            "NoDiscovery = false\nDiscoveryV4 = true\nDiscoveryV5 = true\nBootstrapNodes = {}\nBootstrapNodesV5 = {}\n",
            list(&self.bootnodes),
            list(&self.bootnodes_v5)
        )
    }
}

/// Imports `chain` into a fresh data directory `run_dir/<name>` and starts a node that serves it, discovery off.
pub(crate) fn start_node(
    install: &Install,
    name: &str,
    chain: &ChainFiles,
    run_dir: &Path,
) -> Result<Node> {
    start_node_with(install, name, chain, run_dir, &Discovery::default())
}

/// [`start_node`] with discovery settings.
pub(crate) fn start_node_with(
    install: &Install,
    name: &str,
    chain: &ChainFiles,
    run_dir: &Path,
    discovery: &Discovery,
) -> Result<Node> {
    let datadir = run_dir.join(name);
    let _ = fs::remove_dir_all(&datadir);
    fs::create_dir_all(&datadir).map_err(|e| format!("creating {}: {e}", datadir.display()))?;
    let genesis_text = fs::read_to_string(&chain.genesis)
        .map_err(|e| format!("reading {}: {e}", chain.genesis.display()))?;
    let genesis: serde_json::Value = serde_json::from_str(&genesis_text)
        .map_err(|e| format!("{}: {e}", chain.genesis.display()))?;
    let network_id = genesis["config"]["chainId"]
        .as_u64()
        .ok_or_else(|| format!("{}: no config.chainId", chain.genesis.display()))?;
    let log = |suffix: &str| log_file(run_dir, &format!("{name}.{suffix}.log"));
    run(Command::new(&install.geth)
        .arg("--datadir")
        .arg(&datadir)
        .arg("init")
        .arg(&chain.genesis)
        .stdout(log("init.out")?)
        .stderr(log("init")?))?;
    run(Command::new(&install.geth)
        .arg("--datadir")
        .arg(&datadir)
        .arg("import")
        .arg(&chain.blocks)
        .stdout(log("import.out")?)
        .stderr(log("import")?))?;

    let p2p = free_port()?;
    let http = free_port()?;
    let config = datadir.join("peerwire.toml");
    fs::write(
        &config,
        format!(
            "[Node.P2P]\nListenAddr = \"127.0.0.1:{p2p}\"\n{}MaxPeers = 50\n",
            discovery.toml()
        ),
    )
    .map_err(|e| format!("writing {}: {e}", config.display()))?;
    let mut command = Command::new(&install.geth);
    command
        .arg("--config")
        .arg(&config)
        .arg("--datadir")
        .arg(&datadir)
        .arg("--networkid")
        .arg(network_id.to_string())
        .args(["--nat", "none", "--syncmode", "full", "--cache", "64"])
        .args(["--http", "--http.addr", "127.0.0.1", "--http.port"])
        .arg(http.to_string())
        .args(["--http.api", "admin,eth,net,web3,debug", "--ipcdisable"])
        .args(["--authrpc.addr", "127.0.0.1", "--authrpc.port"])
        .arg(free_port()?.to_string())
        .args(["--verbosity", "3"]);
    let child = spawn_logged(name, command, run_dir)?;
    let info = wait_for_rpc(name, http, "admin_nodeInfo", run_dir)?;
    let enode = info["result"]["enode"]
        .as_str()
        .ok_or_else(|| format!("{name}: admin_nodeInfo has no enode"))?;
    // The listener is on 127.0.0.1 only; without discovery geth reports discport=0, with it the UDP port is the
    // TCP one.
    let enode = enode.split('?').next().unwrap_or(enode).to_owned();
    let enr = info["result"]["enr"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    Ok(Node {
        child,
        enode,
        http: format!("http://127.0.0.1:{http}"),
        enr,
    })
}

/// Fails unless the running `node` serves exactly the head that `chain`'s info line names, so that the tests'
/// expectations and the served chain cannot drift apart.
pub(crate) fn check_head(name: &str, node: &Node, chain: &ChainFiles) -> Result {
    let info: serde_json::Value = serde_json::from_str(&chain.info)
        .map_err(|e| format!("{name}: the chain's info line is not JSON: {e}"))?;
    let port = node
        .http
        .rsplit(':')
        .next()
        .and_then(|p| p.parse::<u16>().ok())
        .ok_or_else(|| format!("{name}: no port in {}", node.http))?;
    let reply = http_rpc(port, "eth_blockNumber")
        .ok_or_else(|| format!("{name}: eth_blockNumber did not answer"))?;
    let served = reply["result"]
        .as_str()
        .and_then(|n| u64::from_str_radix(n.trim_start_matches("0x"), 16).ok());
    if served != info["head"].as_u64() {
        return Err(format!(
            "{name} serves head {served:?}, but its chain's info says {}",
            chain.info
        ));
    }
    Ok(())
}

fn spawn_logged(name: &str, mut command: Command, dir: &Path) -> Result<Child> {
    command
        .stdin(Stdio::null())
        .stdout(log_file(dir, &format!("{name}.out"))?)
        .stderr(log_file(dir, &format!("{name}.log"))?);
    step(&format!("starting {name}: {}", crate::show(&command)));
    command
        .spawn()
        .map_err(|e| format!("could not start {name}: {e}"))
}

/// Stops a geth process with SIGINT and waits up to 30 s (then kills it).
fn interrupt(child: &mut Child, name: &str) {
    let _ = Command::new("kill")
        .args(["-INT", &child.id().to_string()])
        .status();
    let deadline = Instant::now() + Duration::from_secs(30);
    while Instant::now() < deadline {
        if let Ok(Some(_)) = child.try_wait() {
            return;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    eprintln!("{name} did not stop after SIGINT; killing it");
    let _ = child.kill();
    let _ = child.wait();
}

/// Polls a JSON-RPC method over HTTP on loopback until it returns a result, and returns the reply.
fn wait_for_rpc(name: &str, port: u16, method: &str, dir: &Path) -> Result<serde_json::Value> {
    poll(name, dir, || {
        let reply = http_rpc(port, method)?;
        reply.get("result").is_some().then_some(reply)
    })
}

/// One JSON-RPC call without parameters over HTTP on 127.0.0.1 (HTTP/1.0, so the reply is never chunked).
pub(crate) fn http_rpc(port: u16, method: &str) -> Option<serde_json::Value> {
    let body = format!(r#"{{"jsonrpc":"2.0","id":1,"method":"{method}","params":[]}}"#);
    let request = format!(
        "POST / HTTP/1.0\r\nHost: 127.0.0.1:{port}\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    );
    let mut stream = TcpStream::connect(("127.0.0.1", port)).ok()?;
    stream.set_read_timeout(Some(Duration::from_secs(5))).ok()?;
    stream.write_all(request.as_bytes()).ok()?;
    let mut response = String::new();
    stream.read_to_string(&mut response).ok()?;
    let (_, json) = response.split_once("\r\n\r\n")?;
    serde_json::from_str(json.trim()).ok()
}
