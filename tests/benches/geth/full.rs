//! The full-sync section of the geth bench: `peerwire sync --mode fast` beside a fresh geth's full sync, and
//! geth's own startup (see the bench's root docs).

use std::fs;
use std::io::Read as _;
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context as _, bail};

use super::{Chain, env, median};

/// The bound on one full sync (either program) and on geth's startup.
const FULL_TIMEOUT: Duration = Duration::from_secs(600);

/// A loopback port that was free a moment ago.
fn free_port() -> anyhow::Result<u16> {
    Ok(TcpListener::bind("127.0.0.1:0")?.local_addr()?.port())
}

/// A fresh scratch directory.
fn scratch(tag: &str) -> anyhow::Result<PathBuf> {
    let dir =
        std::env::temp_dir().join(format!("peerwire-bench-geth-{}-{tag}", std::process::id()));
    let _ = fs::remove_dir_all(&dir);
    fs::create_dir_all(&dir)?;
    Ok(dir)
}

/// Waits for `child` to exit, at most `FULL_TIMEOUT` (then kills it); with `marker`, also notes when the log
/// file first holds that text (measured from `started`).
fn wait_exit(
    child: &mut std::process::Child,
    what: &str,
    started: Instant,
    marker: Option<(&Path, &str)>,
) -> anyhow::Result<(std::process::ExitStatus, Option<Duration>)> {
    let deadline = Instant::now() + FULL_TIMEOUT;
    let mut seen = None;
    loop {
        if let Some(status) = child.try_wait()? {
            return Ok((status, seen));
        }
        if let Some((log, text)) = marker
            && seen.is_none()
            && fs::read_to_string(log).is_ok_and(|t| t.contains(text))
        {
            seen = Some(started.elapsed());
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            bail!("{what} did not finish within {FULL_TIMEOUT:?}");
        }
        std::thread::sleep(Duration::from_millis(5));
    }
}

/// The `peerwire` program: `PEERWIRE_BIN`, else the release build in the workspace's target directory.
fn peerwire_bin() -> anyhow::Result<PathBuf> {
    if let Ok(bin) = std::env::var("PEERWIRE_BIN") {
        return Ok(bin.into());
    }
    let root = Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .context("no workspace root")?;
    let target =
        std::env::var_os("CARGO_TARGET_DIR").map_or_else(|| root.join("target"), |t| root.join(t));
    let bin = target.join("release").join("peerwire");
    if !bin.is_file() {
        bail!(
            "{} is missing: run `cargo build --release -p peerwire` first (`cargo xtask bench geth` does)",
            bin.display()
        );
    }
    Ok(bin)
}

/// What one `peerwire sync` run did.
struct PeerwireRun {
    wall: Duration,
    sync: f64,
}

fn run_peerwire(bin: &Path, chain: &Chain, tag: &str) -> anyhow::Result<PeerwireRun> {
    let dir = scratch(tag)?;
    let started = Instant::now();
    let mut child = Command::new(bin)
        .arg("sync")
        .arg("--peer")
        .arg(&chain.enode)
        .arg("--datadir")
        .arg(dir.join("datadir"))
        .arg("--chain")
        .arg(&chain.genesis_path)
        .arg("--head")
        .arg(format!("{:#x}", chain.head))
        .args(["--mode", "fast", "--json"])
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(fs::File::create(dir.join("peerwire.log"))?)
        .spawn()
        .with_context(|| format!("starting {}", bin.display()))?;
    let (status, _) = wait_exit(&mut child, "peerwire sync", started, None)?;
    let wall = started.elapsed();
    let mut out = String::new();
    if let Some(mut stdout) = child.stdout.take() {
        stdout.read_to_string(&mut out)?;
    }
    if !status.success() {
        let log = fs::read_to_string(dir.join("peerwire.log")).unwrap_or_default();
        bail!("peerwire sync failed ({status}): {log}");
    }
    let json: serde_json::Value = serde_json::from_str(out.trim()).context("peerwire --json")?;
    if json["head_number"].as_u64() != Some(chain.head_number)
        || json["verified_headers"].as_u64() != Some(chain.head_number + 1)
    {
        bail!("peerwire sync did not end verified at the head: {json}");
    }
    let sync = json["elapsed_s"].as_f64().unwrap_or(f64::NAN);
    let _ = fs::remove_dir_all(&dir);
    Ok(PeerwireRun { wall, sync })
}

/// A fresh geth data directory with the chain's genesis and a config listening on loopback; returns the
/// datadir, the config path and the `geth init` time.
fn geth_datadir(
    geth: &Path,
    chain: &Chain,
    dir: &Path,
    peer: Option<&str>,
) -> anyhow::Result<(PathBuf, PathBuf, Duration)> {
    let datadir = dir.join("datadir");
    let started = Instant::now();
    let init = Command::new(geth)
        .arg("--datadir")
        .arg(&datadir)
        .arg("init")
        .arg(&chain.genesis_path)
        .stdout(Stdio::null())
        .stderr(fs::File::create(dir.join("init.log"))?)
        .status()?;
    let init_time = started.elapsed();
    if !init.success() {
        bail!("geth init failed ({init})");
    }
    let statics = peer.map_or_else(String::new, |p| format!("StaticNodes = [\"{p}\"]\n"));
    let config = dir.join("geth.toml");
    fs::write(
        &config,
        format!(
            "[Node.P2P]\nListenAddr = \"127.0.0.1:{}\"\nNoDiscovery = true\nDiscoveryV4 = false\nDiscoveryV5 = false\n{statics}",
            free_port()?
        ),
    )?;
    Ok((datadir, config, init_time))
}

fn geth_command(
    geth: &Path,
    chain: &Chain,
    datadir: &Path,
    config: &Path,
) -> anyhow::Result<Command> {
    let mut command = Command::new(geth);
    command
        .arg("--config")
        .arg(config)
        .arg("--datadir")
        .arg(datadir)
        .arg("--networkid")
        .arg(chain.spec.network_id.to_string())
        .arg("--synctarget")
        .arg(format!("{:#x}", chain.head))
        .args(["--exitwhensynced", "--nat", "none", "--ipcdisable"])
        .args(["--authrpc.addr", "127.0.0.1", "--authrpc.port"])
        .arg(free_port()?.to_string())
        .args(["--verbosity", "3"])
        .stdin(Stdio::null())
        .stdout(Stdio::null());
    Ok(command)
}

/// What one geth sync did: wall time from start to exit, from start until it logged that the target was reached,
/// and the `geth init` before it.
struct GethRun {
    wall: Duration,
    reached: Duration,
    init: Duration,
}

/// A fresh geth syncing the chain from the serving geth.
fn run_geth(geth: &Path, chain: &Chain, tag: &str) -> anyhow::Result<GethRun> {
    let dir = scratch(tag)?;
    let (datadir, config, init) = geth_datadir(geth, chain, &dir, Some(&chain.enode))?;
    let log = dir.join("geth.log");
    let started = Instant::now();
    let mut child = geth_command(geth, chain, &datadir, &config)?
        .stderr(fs::File::create(&log)?)
        .spawn()?;
    let (status, reached) = wait_exit(
        &mut child,
        "geth sync",
        started,
        Some((&log, "Sync target reached")),
    )?;
    let wall = started.elapsed();
    let text = fs::read_to_string(&log).unwrap_or_default();
    let Some(reached) =
        reached.filter(|_| status.success() && text.contains("Sync target reached"))
    else {
        bail!(
            "geth did not reach the sync target ({status}); log in {}",
            log.display()
        );
    };
    let _ = fs::remove_dir_all(&dir);
    Ok(GethRun {
        wall,
        reached,
        init,
    })
}

/// geth's startup: the same command with no peer, until it logs that it waits for peers.
fn geth_startup(geth: &Path, chain: &Chain, tag: &str) -> anyhow::Result<Duration> {
    let dir = scratch(tag)?;
    let (datadir, config, _) = geth_datadir(geth, chain, &dir, None)?;
    let log = dir.join("geth.log");
    let started = Instant::now();
    let mut child = geth_command(geth, chain, &datadir, &config)?
        .stderr(fs::File::create(&log)?)
        .spawn()?;
    let deadline = started + FULL_TIMEOUT;
    let result = loop {
        if fs::read_to_string(&log).is_ok_and(|t| t.contains("Waiting for peers")) {
            break Ok(started.elapsed());
        }
        if Instant::now() > deadline || child.try_wait()?.is_some() {
            break Err(anyhow::anyhow!(
                "geth never logged \"Waiting for peers\"; log in {}",
                log.display()
            ));
        }
        std::thread::sleep(Duration::from_millis(2));
    };
    let _ = child.kill();
    let _ = child.wait();
    if result.is_ok() {
        let _ = fs::remove_dir_all(&dir);
    }
    result
}

pub(super) fn full_section(chains: &[Chain], reps: usize) -> anyhow::Result<()> {
    let bin = peerwire_bin()?;
    let geth = PathBuf::from(env("PEERWIRE_GETH")?);
    println!("\n## full: peerwire fast sync beside a fresh geth full sync (medians of {reps})\n");
    println!(
        "| chain | blocks | peerwire wall | peerwire sync only | geth wall | geth target reached | geth startup | geth − startup | peerwire / geth raw | peerwire / geth corrected | geth init |"
    );
    println!("|---|---|---|---|---|---|---|---|---|---|---|");
    for chain in chains {
        let (mut pw_wall, mut pw_sync, mut g_wall, mut g_reached, mut g_init, mut g_start) = (
            Vec::new(),
            Vec::new(),
            Vec::new(),
            Vec::new(),
            Vec::new(),
            Vec::new(),
        );
        for rep in 0..reps {
            let tag = format!("{}-{rep}", chain.name);
            let mut peerwire = || -> anyhow::Result<()> {
                let run = run_peerwire(&bin, chain, &format!("{tag}-peerwire"))?;
                eprintln!(
                    "{tag}: peerwire {:.3} s ({:.3} s sync)",
                    run.wall.as_secs_f64(),
                    run.sync
                );
                pw_wall.push(run.wall.as_secs_f64());
                pw_sync.push(run.sync);
                Ok(())
            };
            if rep % 2 == 0 {
                peerwire()?;
            }
            let run = run_geth(&geth, chain, &format!("{tag}-geth"))?;
            eprintln!(
                "{tag}: geth {:.3} s (target reached at {:.3} s, init {:.3} s)",
                run.wall.as_secs_f64(),
                run.reached.as_secs_f64(),
                run.init.as_secs_f64()
            );
            g_wall.push(run.wall.as_secs_f64());
            g_reached.push(run.reached.as_secs_f64());
            g_init.push(run.init.as_secs_f64());
            let startup = geth_startup(&geth, chain, &format!("{tag}-startup"))?;
            eprintln!("{tag}: geth startup {:.3} s", startup.as_secs_f64());
            g_start.push(startup.as_secs_f64());
            if rep % 2 == 1 {
                peerwire()?;
            }
        }
        let (pw, gw, gs) = (median(&pw_wall), median(&g_wall), median(&g_start));
        println!(
            "| {} | {} | {:.3} s | {:.3} s | {:.3} s | {:.3} s | {:.3} s | {:.3} s | {:.3} | {:.3} | {:.3} s |",
            chain.name,
            chain.head_number,
            pw,
            median(&pw_sync),
            gw,
            median(&g_reached),
            gs,
            gw - gs,
            pw / gw,
            pw / (gw - gs),
            median(&g_init),
        );
    }
    Ok(())
}
