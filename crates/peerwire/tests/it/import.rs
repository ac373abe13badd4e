//! `peerwire serve --import` and `peerwire export`: round trips of generated chains byte for byte (plain and gzip),
//! continuing a data directory from a file that overlaps it, geth's own eth test chain (when
//! `PEERWIRE_GETH_TESTDATA` names its folder; ignored without the reference peers), malformed files, and data directories set up by runs killed with
//! SIGKILL at random points.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use tokio::io::{AsyncBufReadExt as _, BufReader};

use crate::support::{Run, peer_env, peerwire, run_within};

/// The deadline of one import, export or serve start in these tests.
const LIMIT: Duration = Duration::from_secs(60);

/// Block 0 of geth's devp2p eth test chain (`cmd/devp2p/internal/ethtest/testdata/genesis.json` of go-ethereum
/// v1.17.10), as `geth init genesis.json` and `geth export FILE 0 0` of that version write it: its genesis hash is
/// 0x1518c33dab6ed4dbb2d0c48239ac2f00acc0e28dc43660bb745a0f127552024c.
const GETH_TEST_GENESIS_BLOCK: &str = "f90229f90223a00000000000000000000000000000000000000000000000000000000000000000a01dcc4de8dec75d7aab85b567b6ccd41ad312451b948a7413f0a142fd40d49347940000000000000000000000000000000000000000a0633b0d275a5fbc4a1fd106d1f90a0bfec5c97481689be3dcb742c23ce45ca1daa056e81f171bcc55a6ff8345e692c0f86e5b48e01b996cadc001622fb5e363b421a056e81f171bcc55a6ff8345e692c0f86e5b48e01b996cadc001622fb5e363b421b901000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000083020000808405f5e10080808968697665636861696ea00000000000000000000000000000000000000000000000000000000000000000880000000000000000843b9aca00a056e81f171bcc55a6ff8345e692c0f86e5b48e01b996cadc001622fb5e363b421c0c0c0";

fn tempdir() -> tempfile::TempDir {
    tempfile::tempdir().expect("a temporary directory")
}

fn s(path: &Path) -> &str {
    path.to_str().expect("a utf-8 path")
}

/// Runs `peerwire serve args --listen 127.0.0.1:0` until it prints its enode URL (the chain is set up), then
/// kills it; fails the test if it exits first.
async fn serve_ready(args: &[&str]) {
    let mut all = vec!["serve"];
    all.extend_from_slice(args);
    all.extend_from_slice(&["--listen", "127.0.0.1:0"]);
    let mut child = peerwire(&all).spawn().expect("spawning peerwire serve");
    let stdout = child.stdout.take().expect("stdout is piped");
    let mut lines = BufReader::new(stdout).lines();
    let first = tokio::time::timeout(LIMIT, lines.next_line())
        .await
        .expect("serve sets up its chain in time")
        .expect("reading serve's stdout");
    if !first.as_deref().is_some_and(|l| l.starts_with("enode://")) {
        let out = child.wait_with_output().await.expect("waiting for serve");
        panic!(
            "serve {args:?} did not start: {first:?} {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    child.start_kill().expect("killing serve");
    let _ = child.wait().await;
}

/// Runs a `peerwire serve --import` that must fail (before it listens).
async fn serve_fails(args: &[&str]) -> Run {
    let mut all = vec!["serve"];
    all.extend_from_slice(args);
    all.extend_from_slice(&["--listen", "127.0.0.1:0"]);
    run_within(LIMIT, &all).await
}

/// Exports `dir` (with `extra` options) to `file` and returns the file's bytes.
async fn export(dir: &Path, extra: &[&str], file: &Path) -> Vec<u8> {
    let mut args = vec!["export", "--datadir", s(dir)];
    args.extend_from_slice(extra);
    args.push(s(file));
    run_within(LIMIT, &args).await.succeeded();
    std::fs::read(file).expect("reading the export")
}

/// A data directory with a generated chain of `blocks` blocks, and its export (genesis included).
async fn generated(blocks: u64, seed: u64) -> (tempfile::TempDir, PathBuf) {
    let dir = tempdir();
    let (b, sd) = (blocks.to_string(), seed.to_string());
    serve_ready(&["--datadir", s(dir.path()), "--generate", &b, "--seed", &sd]).await;
    let file = dir.path().join("export.rlp");
    export(dir.path(), &[], &file).await;
    (dir, file)
}

#[tokio::test]
async fn export_then_import_round_trips_byte_for_byte_plain_and_gzip() {
    let (_source, file) = generated(300, 1).await;
    let original = std::fs::read(&file).expect("the export");
    assert!(original.len() > 300 * 500, "{} bytes", original.len());

    let copy = tempdir();
    serve_ready(&["--datadir", s(copy.path()), "--import", s(&file)]).await;
    let again = export(copy.path(), &[], &copy.path().join("again.rlp")).await;
    assert!(again == original, "export -> import -> export differs");

    // Through gzip: the compressed file is smaller, imports, and exports the same blocks.
    let gz = copy.path().join("again.rlp.gz");
    let compressed = export(copy.path(), &[], &gz).await;
    assert!(compressed.starts_with(&[0x1f, 0x8b]), "a gzip file");
    let from_gz = tempdir();
    serve_ready(&["--datadir", s(from_gz.path()), "--import", s(&gz)]).await;
    let plain = export(from_gz.path(), &[], &from_gz.path().join("plain.rlp")).await;
    assert!(plain == original, "the gzip import differs");
}

#[tokio::test]
async fn an_overlapping_file_continues_the_directory_and_a_range_exports_its_blocks() {
    let (source, file) = generated(300, 1).await;
    let original = std::fs::read(&file).expect("the export");
    let first = export(
        source.path(),
        &["--to", "150"],
        &source.path().join("a.rlp"),
    )
    .await;
    let second = export(
        source.path(),
        &["--from", "100", "--to", "300"],
        &source.path().join("b.rlp"),
    )
    .await;
    // Blocks 100..=150 are in both files: the ranges cut the full export at block boundaries.
    assert!(original.starts_with(&first));
    assert!(original.ends_with(&second));
    assert!(first.len() + second.len() > original.len());

    let dir = tempdir();
    serve_ready(&[
        "--datadir",
        s(dir.path()),
        "--import",
        s(&source.path().join("a.rlp")),
    ])
    .await;
    serve_ready(&[
        "--datadir",
        s(dir.path()),
        "--import",
        s(&source.path().join("b.rlp")),
    ])
    .await;
    let joined = export(dir.path(), &[], &dir.path().join("joined.rlp")).await;
    assert!(joined == original, "the continued directory differs");
    // Importing the whole file again skips every block and changes nothing.
    serve_ready(&["--datadir", s(dir.path()), "--import", s(&file)]).await;
    let same = export(dir.path(), &[], &dir.path().join("same.rlp")).await;
    assert!(same == original);
}

#[tokio::test]
async fn gaps_other_chains_and_malformed_files_give_one_line_errors_and_keep_the_store() {
    let (source, file) = generated(200, 1).await;
    let original = std::fs::read(&file).expect("the export");
    let path = source.path();

    // A truncated file: its complete blocks are stored, and importing the whole file later completes the chain.
    let dir = tempdir();
    let truncated = path.join("truncated.rlp");
    std::fs::write(&truncated, &original[..original.len() * 2 / 3]).expect("writing");
    let line = serve_fails(&["--datadir", s(dir.path()), "--import", s(&truncated)]).await;
    let line = line.failed();
    assert!(line.contains("truncated"), "{line}");
    let prefix = export(dir.path(), &[], &dir.path().join("prefix.rlp")).await;
    assert!(!prefix.is_empty() && original.starts_with(&prefix));
    serve_ready(&["--datadir", s(dir.path()), "--import", s(&file)]).await;
    assert!(export(dir.path(), &[], &dir.path().join("full.rlp")).await == original);

    // Garbage, an empty file, a block that is a list of junk.
    for (name, bytes, expect) in [
        ("garbage.rlp", b"this is not RLP".to_vec(), "not a block"),
        ("empty.rlp", Vec::new(), "no blocks"),
        (
            "junk.rlp",
            vec![0xc3, 0x01, 0x02, 0x03],
            "not a valid block",
        ),
    ] {
        let bad = path.join(name);
        std::fs::write(&bad, bytes).expect("writing");
        let out = serve_fails(&["--datadir", s(dir.path()), "--import", s(&bad)]).await;
        let line = out.failed();
        assert!(line.contains(expect), "{name}: {line}");
    }
    let gz = path.join("not-gzip.rlp.gz");
    std::fs::write(&gz, &original).expect("writing");
    let out = serve_fails(&["--datadir", s(dir.path()), "--import", s(&gz)]).await;
    out.failed();

    // A gap: a directory at #100 and a file from #150.
    let short = tempdir();
    let upto = export(path, &["--to", "100"], &path.join("upto.rlp")).await;
    assert!(!upto.is_empty());
    serve_ready(&[
        "--datadir",
        s(short.path()),
        "--import",
        s(&path.join("upto.rlp")),
    ])
    .await;
    export(path, &["--from", "150"], &path.join("late.rlp")).await;
    let out = serve_fails(&[
        "--datadir",
        s(short.path()),
        "--import",
        s(&path.join("late.rlp")),
    ])
    .await;
    let line = out.failed();
    assert!(line.contains("#101..#149 are missing"), "{line}");
    // Without a genesis, a file that starts later cannot create a directory.
    let empty = tempdir();
    let out = serve_fails(&[
        "--datadir",
        s(empty.path()),
        "--import",
        s(&path.join("late.rlp")),
    ])
    .await;
    let line = out.failed();
    assert!(line.contains("--genesis-header"), "{line}");

    // Another chain: its genesis differs from the directory's.
    let (_other, other_file) = generated(50, 2).await;
    let out = serve_fails(&["--datadir", s(dir.path()), "--import", s(&other_file)]).await;
    let line = out.failed();
    assert!(line.contains("another chain"), "{line}");
    // Every failure left the directory as it was.
    assert!(export(dir.path(), &[], &dir.path().join("after.rlp")).await == original);

    // Export errors: a range past the head, a directory without a chain.
    let out = run_within(
        LIMIT,
        &[
            "export",
            "--datadir",
            s(dir.path()),
            "--to",
            "999",
            s(&path.join("x.rlp")),
        ],
    )
    .await;
    assert!(out.failed().contains("head #200"), "{out:#?}");
    let out = run_within(
        LIMIT,
        &[
            "export",
            "--datadir",
            s(empty.path()),
            s(&path.join("x.rlp")),
        ],
    )
    .await;
    assert!(out.failed().contains("no chain"), "{out:#?}");
    assert!(
        !path.join("x.rlp").exists(),
        "a failed export leaves no file"
    );
}

/// geth's devp2p eth test chain (blocks 1..=600 through Amsterdam, without its genesis): imported with the genesis
/// given on the command line, it exports back as exactly the original file, and with block 0 as geth writes it.
#[tokio::test]
#[ignore = "needs reference peers: run cargo xtask test"]
async fn geths_test_chain_imports_and_exports_byte_for_byte() {
    let testdata = peer_env("PEERWIRE_GETH_TESTDATA");
    let chain = Path::new(&testdata).join("chain.rlp");
    let original = std::fs::read(&chain).expect("reading chain.rlp");
    let dir = tempdir();
    let out = serve_fails(&["--datadir", s(dir.path()), "--import", s(&chain)]).await;
    assert!(out.failed().contains("--genesis-header"), "{out:#?}");
    serve_ready(&[
        "--datadir",
        s(dir.path()),
        "--import",
        s(&chain),
        "--genesis-header",
        GETH_TEST_GENESIS_BLOCK,
        "--network-id",
        "3503995874084926",
    ])
    .await;
    let chain_json = std::fs::read_to_string(dir.path().join("chain.json")).expect("chain.json");
    assert!(
        chain_json.contains("0x1518c33dab6ed4dbb2d0c48239ac2f00acc0e28dc43660bb745a0f127552024c")
            && chain_json.contains("3503995874084926"),
        "{chain_json}"
    );
    let blocks = export(dir.path(), &["--from", "1"], &dir.path().join("blocks.rlp")).await;
    assert!(blocks == original, "the export differs from chain.rlp");
    let genesis = export(dir.path(), &["--to", "0"], &dir.path().join("genesis.rlp")).await;
    assert_eq!(hex::encode(genesis), GETH_TEST_GENESIS_BLOCK);
}

/// A small deterministic generator of kill delays (no randomness crate needed), seeded from the clock.
struct Delays(u64);

impl Delays {
    fn next(&mut self, below: Duration) -> Duration {
        self.0 = self
            .0
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        let max = below.as_micros().max(1) as u64;
        Duration::from_micros((self.0 >> 33) % max)
    }
}

/// SIGKILL `serve --generate` and `serve --import` at random points of their set-up, 20 times: every next run
/// accepts the directory and completes the chain.
#[tokio::test]
async fn runs_killed_during_set_up_leave_directories_the_next_run_accepts() {
    let (_source, file) = generated(3000, 4).await;
    let original = std::fs::read(&file).expect("the export");
    let seed = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(1, |d| d.as_nanos() as u64);
    eprintln!("kill delays seeded with {seed}");
    let mut delays = Delays(seed);
    // How long an uninterrupted set-up takes, to spread the kills over it.
    let mut full = Duration::ZERO;
    for (kind, args) in [
        ("generate", vec!["--generate", "3000", "--seed", "4"]),
        ("import", vec!["--import", s(&file)]),
    ] {
        let dir = tempdir();
        let started = Instant::now();
        let mut all = vec!["--datadir", s(dir.path())];
        all.extend_from_slice(&args);
        serve_ready(&all).await;
        full = full.max(started.elapsed());
        eprintln!(
            "an uninterrupted {kind} set-up took {:?}",
            started.elapsed()
        );
    }
    for round in 0..20 {
        let dir = tempdir();
        let args = if round % 2 == 0 {
            vec!["--generate", "3000", "--seed", "4"]
        } else {
            vec!["--import", s(&file)]
        };
        let mut all = vec!["serve", "--datadir", s(dir.path())];
        all.extend_from_slice(&args);
        all.extend_from_slice(&["--listen", "127.0.0.1:0"]);
        // Every third kill lands early, where the process creates the store and writes chain.json.
        let delay = delays.next(if round % 3 == 0 { full / 8 } else { full });
        let mut child = peerwire(&all).spawn().expect("spawning serve");
        tokio::time::sleep(delay).await;
        child.start_kill().expect("SIGKILL");
        let status = child.wait().await.expect("waiting for the killed run");
        eprintln!("round {round}: killed after {delay:?} ({status})");

        let mut next = vec!["--datadir", s(dir.path())];
        next.extend_from_slice(&args);
        serve_ready(&next).await;
        let after = export(dir.path(), &[], &dir.path().join("after.rlp")).await;
        assert!(
            after == original,
            "round {round}: the chain after the next run differs"
        );
    }
}
