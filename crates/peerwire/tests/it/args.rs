//! Failures before any answer: bad arguments, bad URLs, bad params, unreachable endpoints.

use crate::support::{closed_port, run};

#[tokio::test]
async fn bad_urls_exit_2() {
    for url in [
        "not a url",
        "127.0.0.1:8545",
        "ftp://127.0.0.1/",
        "http://",
        "ws://",
    ] {
        let r = run(&["rpc", url, "eth_blockNumber"]).await;
        let line = r.failed();
        assert!(line.contains("URL"), "{url}: {line}");
    }
    let r = run(&["subscribe", "gopher://h/", "newHeads"]).await;
    assert!(r.failed().contains("unsupported URL scheme \"gopher\""));
}

#[tokio::test]
async fn passwords_stay_out_of_messages() {
    let port = closed_port();
    let url = format!("ws://user:hunter2@127.0.0.1:{port}");
    let r = run(&["rpc", &url, "eth_blockNumber", "--timeout", "5"]).await;
    let line = r.failed();
    assert!(!line.contains("hunter2"), "{line}");
    assert!(line.contains("cannot connect"), "{line}");
}

#[tokio::test]
async fn bad_params_exit_2_before_connecting() {
    // Nothing listens on the port: the params are rejected before any dial.
    let url = format!("ws://127.0.0.1:{}", closed_port());
    for params in ["1", "\"x\"", "null", "[1,", "{a:1}", ""] {
        let r = run(&["rpc", &url, "eth_getBalance", params]).await;
        let line = r.failed();
        assert!(
            line.starts_with("error: invalid PARAMS"),
            "{params}: {line}"
        );
    }
    let r = run(&["subscribe", &url, "logs", "true"]).await;
    assert!(r.failed().starts_with("error: invalid PARAMS"));
}

#[tokio::test]
async fn bad_options_exit_2() {
    let url = format!("ws://127.0.0.1:{}", closed_port());
    for args in [
        vec!["rpc", &url, "m", "--timeout", "0"],
        vec!["rpc", &url, "m", "--timeout", "soon"],
        vec!["rpc", &url, "m", "--header", "no-colon"],
        vec!["rpc", &url, "m", "--header", "bad name:1"],
        vec!["subscribe", &url, "newHeads", "--count", "-1"],
        vec!["rpc", &url],
        vec!["frobnicate"],
    ] {
        let r = run(&args).await;
        let line = r.failed();
        assert!(line.ends_with("(see --help)"), "{args:?}: {line}");
    }
}

#[tokio::test]
async fn unreachable_endpoints_exit_2() {
    let port = closed_port();
    for url in [
        format!("ws://127.0.0.1:{port}"),
        format!("http://127.0.0.1:{port}"),
    ] {
        let r = run(&["rpc", &url, "eth_blockNumber", "--timeout", "5"]).await;
        let line = r.failed();
        assert!(line.contains(&format!("127.0.0.1:{port}")), "{line}");
    }
    let r = run(&[
        "subscribe",
        &format!("ws://127.0.0.1:{port}"),
        "newHeads",
        "--timeout",
        "5",
    ])
    .await;
    assert!(r.failed().contains("cannot connect"));
}

#[tokio::test]
async fn subscribe_needs_a_websocket_url() {
    let r = run(&["subscribe", "http://127.0.0.1:1", "newHeads"]).await;
    assert!(r.failed().contains("ws://"));
}

#[tokio::test]
async fn help_and_version() {
    let r = run(&["--version"]).await;
    assert!(r.succeeded()[0].starts_with("peerwire "));
    let r = run(&["rpc", "--help"]).await;
    let out = r.succeeded().join("\n");
    for word in ["--header", "--timeout", "PARAMS"] {
        assert!(out.contains(word), "{out}");
    }
    let r = run(&["subscribe", "--help"]).await;
    assert!(r.succeeded().join("\n").contains("--count"));
}
