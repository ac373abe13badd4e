//! A go-ethereum node started for one test: TOML config, temporary directory, kill on drop.

use std::fmt::Write as _;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use serde_json::Value;

use crate::{Error, free_port, json_rpc, peer_env};

/// How long [`GethBuilder::start`] waits for geth's JSON-RPC to answer.
const START_TIMEOUT: Duration = Duration::from_secs(30);
/// How long one [`GethNode::admin_rpc`] call may take.
const CALL_TIMEOUT: Duration = Duration::from_secs(20);

/// Configures a [`GethNode`]; from [`GethNode::builder`].
///
/// By default: the binary from `PEERWIRE_GETH`, discovery off, `--nat none`, HTTP JSON-RPC
/// with the `admin` API, verbosity 3, everything on 127.0.0.1 with free ports.
#[derive(Debug, Clone)]
#[must_use]
pub struct GethBuilder {
    binary: Option<PathBuf>,
    discv4: bool,
    discv5: bool,
    bootnodes: Vec<String>,
    nodekey_hex: Option<String>,
    nat: String,
    max_peers: Option<u32>,
    http_api: String,
    verbosity: u8,
    extra_toml: String,
    genesis: Option<PathBuf>,
    args: Vec<String>,
}

impl GethBuilder {
    /// The geth binary (instead of `PEERWIRE_GETH`).
    pub fn binary(mut self, path: impl Into<PathBuf>) -> Self {
        self.binary = Some(path.into());
        self
    }

    /// Discovery v4 on or off.
    pub fn discv4(mut self, on: bool) -> Self {
        self.discv4 = on;
        self
    }

    /// Discovery v5 on or off.
    pub fn discv5(mut self, on: bool) -> Self {
        self.discv5 = on;
        self
    }

    /// Adds a bootnode (`enode://` or `enr:` text).
    pub fn bootnode(mut self, node: impl Into<String>) -> Self {
        self.bootnodes.push(node.into());
        self
    }

    /// The node key, as hex (`--nodekeyhex`); a fresh one by default.
    pub fn nodekey_hex(mut self, hex: impl Into<String>) -> Self {
        self.nodekey_hex = Some(hex.into());
        self
    }

    /// The `--nat` setting (`none` by default; `extip:127.0.0.1` puts the address in the ENR).
    pub fn nat(mut self, nat: impl Into<String>) -> Self {
        self.nat = nat.into();
        self
    }

    /// `MaxPeers` in the config (geth's default, 50, if not set).
    pub fn max_peers(mut self, max: u32) -> Self {
        self.max_peers = Some(max);
        self
    }

    /// The HTTP APIs (`--http.api`); `admin` by default, and always including it.
    pub fn http_api(mut self, apis: impl Into<String>) -> Self {
        self.http_api = apis.into();
        self
    }

    /// geth's log verbosity (0 to 5).
    pub fn verbosity(mut self, level: u8) -> Self {
        self.verbosity = level;
        self
    }

    /// More lines for the `[Node.P2P]` table of the TOML config (`StaticNodes = [...]`, ...).
    pub fn p2p_toml(mut self, lines: &str) -> Self {
        self.extra_toml.push_str(lines);
        if !lines.ends_with('\n') {
            self.extra_toml.push('\n');
        }
        self
    }

    /// Runs `geth init` with this genesis file before starting.
    pub fn genesis(mut self, path: impl Into<PathBuf>) -> Self {
        self.genesis = Some(path.into());
        self
    }

    /// More command-line arguments.
    pub fn args<I, S>(mut self, args: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.args.extend(args.into_iter().map(Into::into));
        self
    }

    /// Starts geth and waits (up to 30 s) until its JSON-RPC answers `admin_nodeInfo`.
    ///
    /// # Panics
    ///
    /// If `PEERWIRE_GETH` is needed and unset, if geth cannot be started or exits, or if its
    /// RPC does not answer in time (the panic shows the end of geth's log).
    pub async fn start(self) -> GethNode {
        let binary = self
            .binary
            .clone()
            .unwrap_or_else(|| PathBuf::from(peer_env("PEERWIRE_GETH")));
        let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("temp dir: {e}"));
        let datadir = dir.path().join("data");
        if let Some(genesis) = &self.genesis {
            let init = Command::new(&binary)
                .arg("--datadir")
                .arg(&datadir)
                .arg("init")
                .arg(genesis)
                .output()
                .unwrap_or_else(|e| panic!("cannot run {}: {e}", binary.display()));
            assert!(
                init.status.success(),
                "geth init: {}",
                String::from_utf8_lossy(&init.stderr)
            );
        }
        let (p2p, http, auth) = (free_port(), free_port(), free_port());
        let config = dir.path().join("geth.toml");
        let mut toml = format!("[Node.P2P]\nListenAddr = \"127.0.0.1:{p2p}\"\n");
        let discovery = self.discv4 || self.discv5;
        let _ = writeln!(toml, "NoDiscovery = {}", !discovery);
        let _ = writeln!(toml, "DiscoveryV4 = {}", self.discv4);
        let _ = writeln!(toml, "DiscoveryV5 = {}", self.discv5);
        if let Some(max) = self.max_peers {
            let _ = writeln!(toml, "MaxPeers = {max}");
        }
        toml.push_str(&self.extra_toml);
        std::fs::write(&config, toml).unwrap_or_else(|e| panic!("geth config: {e}"));
        let log_path = dir.path().join("geth.log");
        let log = std::fs::File::create(&log_path).unwrap_or_else(|e| panic!("geth log: {e}"));
        let mut api = self.http_api.clone();
        if !api.split(',').any(|a| a == "admin") {
            api.push_str(",admin");
        }
        let mut command = Command::new(&binary);
        command
            .arg("--config")
            .arg(&config)
            .arg("--datadir")
            .arg(&datadir)
            .args(["--nat", &self.nat, "--ipcdisable"])
            .args(["--port", &p2p.to_string()])
            .args(["--discovery.port", &p2p.to_string()])
            .args(["--http", "--http.addr", "127.0.0.1", "--http.port"])
            .arg(http.to_string())
            .args(["--http.api", &api])
            .args(["--authrpc.addr", "127.0.0.1", "--authrpc.port"])
            .arg(auth.to_string())
            .args(["--verbosity", &self.verbosity.to_string()]);
        if let Some(key) = &self.nodekey_hex {
            command.args(["--nodekeyhex", key]);
        }
        if !self.bootnodes.is_empty() {
            command.args(["--bootnodes", &self.bootnodes.join(",")]);
        }
        command.args(&self.args);
        let child = command
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {}: {e}", binary.display()));
        let mut node = GethNode {
            child,
            http: SocketAddr::from(([127, 0, 0, 1], http)),
            p2p_port: p2p,
            log: log_path,
            info: Value::Null,
            dir,
        };
        node.info = node.wait_for_rpc().await;
        node
    }
}

/// A running geth, killed (and its directory removed) on drop.
#[derive(Debug)]
pub struct GethNode {
    child: Child,
    http: SocketAddr,
    p2p_port: u16,
    log: PathBuf,
    info: Value,
    dir: tempfile::TempDir,
}

impl GethNode {
    /// A builder with the defaults (see [`GethBuilder`]).
    pub fn builder() -> GethBuilder {
        GethBuilder {
            binary: None,
            discv4: false,
            discv5: false,
            bootnodes: Vec::new(),
            nodekey_hex: None,
            nat: "none".to_owned(),
            max_peers: None,
            http_api: "admin".to_owned(),
            verbosity: 3,
            extra_toml: String::new(),
            genesis: None,
            args: Vec::new(),
        }
    }

    /// The `enode://` URL from `admin_nodeInfo` at start.
    pub fn enode(&self) -> &str {
        self.info["enode"].as_str().unwrap_or_default()
    }

    /// The `enr:` text from `admin_nodeInfo` at start.
    pub fn enr(&self) -> &str {
        self.info["enr"].as_str().unwrap_or_default()
    }

    /// The whole `admin_nodeInfo` result read at start.
    pub fn node_info(&self) -> &Value {
        &self.info
    }

    /// The TCP (and discovery UDP) port geth listens on, on 127.0.0.1.
    pub fn p2p_port(&self) -> u16 {
        self.p2p_port
    }

    /// The HTTP JSON-RPC endpoint, `http://127.0.0.1:<port>`.
    pub fn http_url(&self) -> String {
        format!("http://{}", self.http)
    }

    /// The node's temporary directory (config, `geth.log`, and the datadir `data/`).
    pub fn dir(&self) -> &Path {
        self.dir.path()
    }

    /// Calls `method` on geth's HTTP JSON-RPC; its result.
    ///
    /// # Errors
    ///
    /// As [`json_rpc`].
    pub async fn admin_rpc(&self, method: &str, params: Value) -> Result<Value, Error> {
        json_rpc(self.http, method, params, CALL_TIMEOUT).await
    }

    /// The last 40 lines of geth's log, for failure messages.
    pub fn log_tail(&self) -> String {
        let text = std::fs::read_to_string(&self.log).unwrap_or_default();
        let lines: Vec<&str> = text.lines().collect();
        lines[lines.len().saturating_sub(40)..].join("\n")
    }

    async fn wait_for_rpc(&mut self) -> Value {
        let deadline = tokio::time::Instant::now() + START_TIMEOUT;
        loop {
            if let Ok(Some(status)) = self.child.try_wait() {
                panic!("geth exited ({status}); log:\n{}", self.log_tail());
            }
            let reply = json_rpc(
                self.http,
                "admin_nodeInfo",
                Value::Array(Vec::new()),
                Duration::from_secs(5),
            )
            .await;
            match reply {
                Ok(info) if info["enode"].is_string() => return info,
                Ok(_) | Err(_) if tokio::time::Instant::now() < deadline => {
                    tokio::time::sleep(Duration::from_millis(100)).await;
                }
                Ok(info) => panic!("admin_nodeInfo without an enode: {info}"),
                Err(e) => panic!(
                    "geth's RPC did not answer in {START_TIMEOUT:?} ({e}); log:\n{}",
                    self.log_tail()
                ),
            }
        }
    }
}

impl Drop for GethNode {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
