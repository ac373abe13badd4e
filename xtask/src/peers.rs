//! `cargo xtask peers`: installs and starts the reference peers on loopback.
//!
//! go-ethereum is pinned and built by [`crate::geth`]; the npm packages are pinned in `tests/peers/package.json` and `package-lock.json` and installed
//! with `npm ci`; the peers run from `tests/peers/` and log to `tests/peers/run/`. Each peer
//! gets a free loopback port; once all are ready, their addresses are handed to the tests as
//! environment variables:
//!
//! | variable | value |
//! |---|---|
//! | `PEERWIRE_PEERS` | `1`: a test that needs a peer and finds no address fails instead of skipping |
//! | `PEERWIRE_PEERS_DIR` | the absolute path of `tests/peers/` (scripts and `node_modules`) |
//! | `PEERWIRE_NODE` | the `node` program |
//! | `PEERWIRE_GANACHE_HTTP` | `http://127.0.0.1:PORT` |
//! | `PEERWIRE_GANACHE_WS` | `ws://127.0.0.1:PORT` |
//! | `PEERWIRE_ANVIL_HTTP` | foundry's anvil (the `@foundry-rs/anvil` package's binary): `http://127.0.0.1:PORT` |
//! | `PEERWIRE_ANVIL_WS` | the same anvil: `ws://127.0.0.1:PORT` |
//! | `PEERWIRE_DEVP2P_ENODE` | the `enode://` URL of the @ethereumjs/devp2p node |
//! | `PEERWIRE_DEVP2P_INFO` | the JSON line that node printed (genesis, head, fork id, …) |
//! | `PEERWIRE_GETH` | the pinned `geth` program (see [`crate::geth`]) |
//! | `PEERWIRE_GETH_DEVP2P` | the pinned `devp2p` tool |
//! | `PEERWIRE_GETH_TESTDATA` | geth's eth test chain: `genesis.json`, `chain.rlp`, `headblock.json`, … |
//! | `PEERWIRE_GETH_GENESIS`, `PEERWIRE_GETH_BLOCKS` | the dev-made chain: `genesis.json` and `chain.rlp` |
//! | `PEERWIRE_GETH_CHAIN_INFO` | one JSON line on the dev-made chain (head, hash, transaction types, logs) |
//! | `PEERWIRE_GETH_ENODE`, `PEERWIRE_GETH_HTTP` | the geth node serving the dev-made chain: RLPx and JSON-RPC |
//! | `PEERWIRE_GETH_ETHTEST_ENODE`, `PEERWIRE_GETH_ETHTEST_HTTP` | the geth node serving geth's eth test chain |
//! | `PEERWIRE_GETH_DISC_BOOTNODE`, `PEERWIRE_GETH_DISC_BOOTNODE_ENR` | the bootnode of the geth discovery network |
//! | `PEERWIRE_GETH_DISC_ENODES`, `PEERWIRE_GETH_DISC_ENRS`, `PEERWIRE_GETH_DISC_HTTP` | its three nodes (comma lists): eth test chain, discv4 + discv5 on their RLPx ports |
//!
//! The peers are stopped when the [`Peers`] value is dropped.

use std::fs;
use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use crate::{Result, project_root, run, step};

/// How many geth nodes make the discovery network.
const GETH_DISC_NODES: usize = 3;

/// How long a peer may take to become ready.
const READY_TIMEOUT: Duration = Duration::from_secs(60);

/// Running reference peers; dropping this value stops them.
#[derive(Debug)]
pub(crate) struct Peers {
    children: Vec<(String, Child)>,
    env: Vec<(String, String)>,
}

impl Peers {
    /// Installs the pinned packages if needed, starts every peer and waits until each is ready.
    pub(crate) fn start(root: &Path) -> Result<Self> {
        let dir = root.join("tests").join("peers");
        let node = which("node")
            .ok_or("`node` is not on PATH: the reference peers need Node.js (and npm) installed")?;
        install(&dir)?;
        let run_dir = dir.join("run");
        fs::create_dir_all(&run_dir).map_err(|e| format!("creating {}: {e}", run_dir.display()))?;

        let mut peers = Self {
            children: Vec::new(),
            env: vec![
                ("PEERWIRE_PEERS".into(), "1".into()),
                ("PEERWIRE_PEERS_DIR".into(), dir.display().to_string()),
                ("PEERWIRE_NODE".into(), node.display().to_string()),
            ],
        };
        let started = Instant::now();

        // ganache: JSON-RPC over HTTP and WebSocket on one port, instamine, chain id 1337.
        let port = free_port()?;
        let ganache_cli = dir.join("node_modules/ganache/dist/node/cli.js");
        let mut ganache = Command::new(&node);
        ganache.current_dir(&dir).arg(&ganache_cli).args([
            "--server.host",
            "127.0.0.1",
            "--server.port",
            &port.to_string(),
            "--wallet.deterministic",
            "--chain.chainId",
            "1337",
            "--logging.quiet",
        ]);
        peers.spawn("ganache", ganache, &run_dir)?;
        wait_for_rpc("ganache", port, &run_dir)?;
        peers.env.push((
            "PEERWIRE_GANACHE_HTTP".into(),
            format!("http://127.0.0.1:{port}"),
        ));
        peers.env.push((
            "PEERWIRE_GANACHE_WS".into(),
            format!("ws://127.0.0.1:{port}"),
        ));

        // anvil: foundry's node, JSON-RPC over HTTP and WebSocket on one port, automine, chain id 31337.
        let port = free_port()?;
        let mut anvil = Command::new(anvil_binary(&dir)?);
        anvil.current_dir(&dir).args([
            "--host",
            "127.0.0.1",
            "--port",
            &port.to_string(),
            "--chain-id",
            "31337",
            "--silent",
        ]);
        peers.spawn("anvil", anvil, &run_dir)?;
        wait_for_rpc("anvil", port, &run_dir)?;
        peers.env.push((
            "PEERWIRE_ANVIL_HTTP".into(),
            format!("http://127.0.0.1:{port}"),
        ));
        peers
            .env
            .push(("PEERWIRE_ANVIL_WS".into(), format!("ws://127.0.0.1:{port}")));

        // The @ethereumjs/devp2p node: RLPx and eth/68 serving its own fixture chain.
        let devp2p_server = dir.join("devp2p").join("server.mjs");
        if devp2p_server.is_file() {
            let port = free_port()?;
            let mut devp2p = Command::new(&node);
            devp2p
                .current_dir(&dir)
                .arg(&devp2p_server)
                .arg(port.to_string());
            peers.spawn("devp2p", devp2p, &run_dir)?;
            let info = wait_for_line(&run_dir.join("devp2p.out"), "devp2p", &run_dir)?;
            let enode = json_field(&info, "enode")
                .ok_or_else(|| format!("devp2p: first line has no `enode` field: {info}"))?;
            peers.env.push(("PEERWIRE_DEVP2P_ENODE".into(), enode));
            peers.env.push(("PEERWIRE_DEVP2P_INFO".into(), info));
        }

        // go-ethereum: the pinned install, a node serving the dev-made chain and one serving geth's own eth
        // test chain, both listening on loopback with discovery off.
        let geth = crate::geth::install(root)?;
        let dev_chain = crate::geth::dev_chain(root, &geth)?;
        let ethtest_chain = crate::geth::ethtest_chain(&geth)?;
        for (key, path) in [
            ("PEERWIRE_GETH", &geth.geth),
            ("PEERWIRE_GETH_DEVP2P", &geth.devp2p),
            ("PEERWIRE_GETH_TESTDATA", &geth.testdata),
            ("PEERWIRE_GETH_GENESIS", &dev_chain.genesis),
            ("PEERWIRE_GETH_BLOCKS", &dev_chain.blocks),
        ] {
            peers.env.push((key.into(), path.display().to_string()));
        }
        peers
            .env
            .push(("PEERWIRE_GETH_CHAIN_INFO".into(), dev_chain.info.clone()));
        for (name, chain, prefix) in [
            ("geth", &dev_chain, "PEERWIRE_GETH"),
            ("geth-ethtest", &ethtest_chain, "PEERWIRE_GETH_ETHTEST"),
        ] {
            let node = crate::geth::start_node(&geth, name, chain, &run_dir)?;
            crate::geth::check_head(name, &node, chain)?;
            peers.children.push((name.to_owned(), node.child));
            peers.env.push((format!("{prefix}_ENODE"), node.enode));
            peers.env.push((format!("{prefix}_HTTP"), node.http));
        }

        // A small discovery network: three geth nodes serving geth's eth test chain with discv4 and discv5 on
        // their loopback RLPx ports (UDP), the first one the bootnode of the others.
        let mut disc_nodes = Vec::new();
        let mut discovery = crate::geth::Discovery {
            on: true,
            ..crate::geth::Discovery::default()
        };
        for index in 0..GETH_DISC_NODES {
            let name = format!("geth-disc{index}");
            let node =
                crate::geth::start_node_with(&geth, &name, &ethtest_chain, &run_dir, &discovery)?;
            if index == 0 {
                discovery.bootnodes.push(node.enode.clone());
                discovery.bootnodes_v5.push(node.enr.clone());
                peers
                    .env
                    .push(("PEERWIRE_GETH_DISC_BOOTNODE".into(), node.enode.clone()));
                peers
                    .env
                    .push(("PEERWIRE_GETH_DISC_BOOTNODE_ENR".into(), node.enr.clone()));
            }
            disc_nodes.push((node.enode, node.enr, node.http));
            peers.children.push((name, node.child));
        }
        let join = |pick: fn(&(String, String, String)) -> &String| {
            disc_nodes
                .iter()
                .map(pick)
                .cloned()
                .collect::<Vec<_>>()
                .join(",")
        };
        peers
            .env
            .push(("PEERWIRE_GETH_DISC_ENODES".into(), join(|n| &n.0)));
        peers
            .env
            .push(("PEERWIRE_GETH_DISC_ENRS".into(), join(|n| &n.1)));
        peers
            .env
            .push(("PEERWIRE_GETH_DISC_HTTP".into(), join(|n| &n.2)));

        eprintln!("peers ready in {:.1?}:", started.elapsed());
        for (key, value) in &peers.env {
            eprintln!("  {key}={value}");
        }
        Ok(peers)
    }

    /// Puts the peers' environment on `command`.
    pub(crate) fn apply_env(&self, command: &mut Command) {
        for (key, value) in &self.env {
            command.env(key, value);
        }
    }

    fn spawn(&mut self, name: &str, mut command: Command, run_dir: &Path) -> Result {
        let out = log_file(run_dir, &format!("{name}.out"))?;
        let err = log_file(run_dir, &format!("{name}.log"))?;
        command.stdin(Stdio::null()).stdout(out).stderr(err);
        step(&format!("starting {name}: {}", crate::show(&command)));
        let child = command
            .spawn()
            .map_err(|e| format!("could not start {name}: {e}"))?;
        self.children.push((name.to_owned(), child));
        Ok(())
    }
}

impl Drop for Peers {
    fn drop(&mut self) {
        for (name, child) in &mut self.children {
            if let Ok(None) = child.try_wait() {
                eprintln!("stopping {name} (pid {})", child.id());
            }
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

/// `cargo xtask peers`: starts the peers and keeps them up until the process is interrupted.
pub(crate) fn serve_forever() -> Result {
    let peers = Peers::start(&project_root())?;
    let mut env = String::new();
    for (key, value) in &peers.env {
        env.push_str(&format!("export {key}='{value}'\n"));
    }
    let env_file = project_root().join("tests/peers/run/peers.env");
    fs::write(&env_file, &env).map_err(|e| format!("writing {}: {e}", env_file.display()))?;
    eprintln!(
        "environment written to {}; press Ctrl-C to stop",
        env_file.display()
    );
    loop {
        std::thread::sleep(Duration::from_secs(3600));
    }
}

/// Runs `npm ci` unless the installed tree already matches the lock file.
fn install(dir: &Path) -> Result {
    let lock = dir.join("package-lock.json");
    let stamp = dir.join("node_modules").join(".peerwire-installed-lock");
    let wanted = fs::read(&lock).map_err(|e| format!("reading {}: {e}", lock.display()))?;
    if fs::read(&stamp).is_ok_and(|have| have == wanted) {
        eprintln!("reference peer packages are installed (node_modules matches package-lock.json)");
        return Ok(());
    }
    let npm = which("npm").ok_or("`npm` is not on PATH: the reference peers need it")?;
    run(Command::new(npm).current_dir(dir).args([
        "ci",
        "--no-audit",
        "--no-fund",
        "--loglevel=error",
    ]))?;
    fs::write(&stamp, &wanted).map_err(|e| format!("writing {}: {e}", stamp.display()))
}

pub(crate) fn log_file(run_dir: &Path, name: &str) -> Result<fs::File> {
    let path = run_dir.join(name);
    fs::File::create(&path).map_err(|e| format!("creating {}: {e}", path.display()))
}

/// A loopback port that was free a moment ago.
pub(crate) fn free_port() -> Result<u16> {
    let listener =
        TcpListener::bind("127.0.0.1:0").map_err(|e| format!("no free loopback port: {e}"))?;
    listener
        .local_addr()
        .map(|addr| addr.port())
        .map_err(|e| format!("no free loopback port: {e}"))
}

/// The anvil binary that `@foundry-rs/anvil` installed for this platform (one of its optional packages
/// `@foundry-rs/anvil-<os>-<arch>`). It is started directly, not through the package's `bin.mjs` launcher, so
/// that stopping the peer stops anvil itself.
fn anvil_binary(dir: &Path) -> Result<PathBuf> {
    let scope = dir.join("node_modules").join("@foundry-rs");
    let entries = fs::read_dir(&scope).map_err(|e| format!("reading {}: {e}", scope.display()))?;
    entries
        .filter_map(|entry| entry.ok())
        .filter(|entry| entry.file_name().to_string_lossy().starts_with("anvil-"))
        .map(|entry| entry.path().join("bin").join("anvil"))
        .find(|binary| binary.is_file())
        .ok_or_else(|| {
            format!(
                "no anvil binary under {}: `npm ci` installs the @foundry-rs/anvil package for this platform",
                scope.display()
            )
        })
}

/// Polls a JSON-RPC node on `port` with `eth_blockNumber` over HTTP until it answers.
fn wait_for_rpc(name: &str, port: u16, run_dir: &Path) -> Result {
    let body = r#"{"jsonrpc":"2.0","id":1,"method":"eth_blockNumber","params":[]}"#;
    let request = format!(
        "POST / HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    );
    poll(name, run_dir, || {
        let mut stream = TcpStream::connect(("127.0.0.1", port)).ok()?;
        stream.set_read_timeout(Some(Duration::from_secs(2))).ok()?;
        stream.write_all(request.as_bytes()).ok()?;
        let mut response = String::new();
        stream.read_to_string(&mut response).ok()?;
        response.contains("\"result\"").then_some(())
    })
}

/// Waits until `path` holds a complete first line and returns it.
fn wait_for_line(path: &Path, name: &str, run_dir: &Path) -> Result<String> {
    poll(name, run_dir, || {
        let text = fs::read_to_string(path).ok()?;
        let (line, _) = text.split_once('\n')?;
        Some(line.trim().to_owned())
    })
}

pub(crate) fn poll<T>(
    name: &str,
    run_dir: &Path,
    mut ready: impl FnMut() -> Option<T>,
) -> Result<T> {
    let deadline = Instant::now() + READY_TIMEOUT;
    loop {
        if let Some(value) = ready() {
            return Ok(value);
        }
        if Instant::now() > deadline {
            let log = fs::read_to_string(run_dir.join(format!("{name}.log"))).unwrap_or_default();
            let tail: Vec<_> = log.lines().rev().take(10).collect();
            let tail: Vec<_> = tail.into_iter().rev().collect();
            return Err(format!(
                "{name} was not ready after {READY_TIMEOUT:?}; last lines of its log:\n{}",
                tail.join("\n")
            ));
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// A string field of a one-line JSON object.
fn json_field(line: &str, field: &str) -> Option<String> {
    let value: serde_json::Value = serde_json::from_str(line).ok()?;
    value[field].as_str().map(str::to_owned)
}

/// The full path of `program` on `PATH`.
pub(crate) fn which(program: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .map(|dir| dir.join(program))
        .find(|candidate| candidate.is_file())
}
