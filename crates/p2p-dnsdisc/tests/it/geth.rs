//! Interop with geth's `devp2p dns` tool (v1.17.10): a tree signed by `devp2p dns sign` resolves to
//! the same records through our client, and `devp2p dns sync` accepts a tree we signed, served by
//! the local DNS server of [`crate::dns_server`].
//!
//! Both need the pinned tools (`PEERWIRE_GETH`, `PEERWIRE_GETH_DEVP2P`, set by `cargo xtask peers`);
//! the second also needs root (it binds 127.0.0.153:53 and runs the tool in its own mount namespace
//! with a `resolv.conf` naming that server).

use std::collections::{BTreeMap, BTreeSet};
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::Arc;

use p2p_dnsdisc::{Client, Config, Enr, FixtureResolver, Link, Tree};
use secp256k1::PublicKey;

use crate::support::{key, nodes, publish, within};

fn env_path(var: &str) -> PathBuf {
    let value = std::env::var_os(var).unwrap_or_else(|| {
        panic!("{var} is not set: run these tests through `cargo xtask test` (or set {var} to the pinned binary)")
    });
    PathBuf::from(value)
}

fn run(cmd: &mut Command, stdin: &str) -> String {
    let mut child = cmd
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("cannot start {cmd:?}: {e}"));
    child
        .stdin
        .take()
        .unwrap()
        .write_all(stdin.as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(
        out.status.success(),
        "{cmd:?} failed: {}\n{stdout}\n{}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    stdout
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// geth's `nodes.json`: node id (hex) → `{ "seq": n, "record": "enr:…" }`.
fn nodes_json(records: &[Enr]) -> String {
    let map: serde_json::Map<String, serde_json::Value> = records
        .iter()
        .map(|r| {
            (
                hex(&r.node_id().raw()),
                serde_json::json!({ "seq": r.seq(), "record": r.to_base64() }),
            )
        })
        .collect();
    serde_json::to_string_pretty(&map).unwrap()
}

fn read_json(path: &Path) -> serde_json::Value {
    let text = std::fs::read_to_string(path)
        .unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()));
    serde_json::from_str(&text).unwrap()
}

fn record_set(records: &[Enr]) -> BTreeSet<String> {
    records.iter().map(Enr::to_base64).collect()
}

#[tokio::test]
#[ignore = "needs reference peers: run cargo xtask test"]
async fn a_tree_signed_by_geths_tool_resolves_to_the_same_records() {
    let geth = env_path("PEERWIRE_GETH");
    let devp2p = env_path("PEERWIRE_GETH_DEVP2P");
    let dir = tempfile::tempdir().unwrap();

    // The signing key, ours, in a keystore file made by geth.
    let signer = key(77);
    std::fs::write(dir.path().join("key.hex"), hex(&signer.to_secret_bytes())).unwrap();
    std::fs::write(dir.path().join("pw"), "pw\n").unwrap();
    run(
        Command::new(&geth)
            .arg("account")
            .arg("import")
            .arg("--keystore")
            .arg(dir.path().join("ks"))
            .arg("--password")
            .arg(dir.path().join("pw"))
            .arg("--lightkdf")
            .arg(dir.path().join("key.hex")),
        "",
    );
    let keyfile = std::fs::read_dir(dir.path().join("ks"))
        .unwrap()
        .next()
        .unwrap()
        .unwrap()
        .path();

    // A second tree of ours that geth's tree links to.
    let fixture = FixtureResolver::new();
    let other_records = nodes(500, 7);
    let other = Tree::sign(&other_records, &[], 1, &key(78));
    let other_link = publish(&fixture, &other, "other.example.org");

    let domain = "nodes.example.org";
    let tree_dir = dir.path().join(domain);
    std::fs::create_dir(&tree_dir).unwrap();
    let records = nodes(0, 150);
    std::fs::write(tree_dir.join("nodes.json"), nodes_json(&records)).unwrap();
    std::fs::write(
        tree_dir.join("enrtree-info.json"),
        serde_json::json!({ "links": [other_link.to_string()] }).to_string(),
    )
    .unwrap();
    run(
        Command::new(&devp2p)
            .args(["dns", "sign", "--seq", "5"])
            .arg(&tree_dir)
            .arg(&keyfile),
        "pw\n",
    );
    let txt_file = dir.path().join("txt.json");
    run(
        Command::new(&devp2p)
            .args(["dns", "to-txt"])
            .arg(&tree_dir)
            .arg(&txt_file),
        "",
    );
    let info = read_json(&tree_dir.join("enrtree-info.json"));
    let link: Link = info["url"].as_str().unwrap().parse().unwrap();
    assert_eq!(
        link,
        Link::new(PublicKey::from_secret_key(&signer), domain).unwrap()
    );
    let txt: BTreeMap<String, String> = serde_json::from_value(read_json(&txt_file)).unwrap();
    fixture.extend(txt);

    let mut client = Client::new(&fixture, Config::default());
    let resolved = within(client.resolve(&link)).await.unwrap();
    assert_eq!(resolved.trees[0].root.seq, 5);
    assert_eq!(resolved.trees[0].links, [other_link]);
    assert_eq!(record_set(&resolved.trees[0].records), record_set(&records));
    let mut all = records;
    all.extend(other_records);
    assert_eq!(record_set(&resolved.records), record_set(&all));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs reference peers: run cargo xtask test"]
async fn geths_tool_syncs_a_tree_we_signed() {
    let devp2p = env_path("PEERWIRE_GETH_DEVP2P");
    let dir = tempfile::tempdir().unwrap();

    let zone = Arc::new(FixtureResolver::new());
    let other = Tree::sign(&nodes(500, 3), &[], 1, &key(78));
    let other_link = publish(&zone, &other, "other.example.org");
    // geth's client asks at most 3 names a second: 40 records (two levels of branches) take ~15 s.
    let records = nodes(0, 40);
    let tree = Tree::sign(&records, std::slice::from_ref(&other_link), 9, &key(77));
    let link = publish(&zone, &tree, "nodes.example.org");

    // geth's resolver reads /etc/resolv.conf, which names port 53 only: serve there on a loopback
    // address of our own and show the tool a resolv.conf naming it, in a mount namespace of its own.
    let (_addr, queries) = crate::dns_server::start("127.0.0.153:53", Arc::clone(&zone)).await;
    let resolv = dir.path().join("resolv.conf");
    std::fs::write(
        &resolv,
        "nameserver 127.0.0.153\noptions attempts:1 timeout:2\n",
    )
    .unwrap();
    let out = dir.path().join("synced");
    let mut cmd = Command::new("unshare");
    cmd.arg("--mount")
        .arg("sh")
        .arg("-c")
        .arg(r#"mount --bind "$0" /etc/resolv.conf && exec "$1" dns sync "$2" "$3""#)
        .arg(&resolv)
        .arg(&devp2p)
        .arg(link.to_string())
        .arg(&out);
    tokio::task::spawn_blocking(move || run(&mut cmd, ""))
        .await
        .unwrap();

    let info = read_json(&out.join("enrtree-info.json"));
    assert_eq!(info["url"].as_str(), Some(link.to_string().as_str()));
    assert_eq!(info["seq"].as_u64(), Some(9));
    assert_eq!(info["links"], serde_json::json!([other_link.to_string()]));
    let synced = read_json(&out.join("nodes.json"));
    let got: BTreeSet<String> = synced
        .as_object()
        .unwrap()
        .values()
        .map(|n| n["record"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(got, record_set(&records));
    assert!(queries.load(std::sync::atomic::Ordering::Relaxed) > tree.entries().len());
}
