//! One JSON-RPC call over HTTP/1.0, enough to talk to a test node's RPC endpoint.

use std::net::SocketAddr;
use std::time::Duration;

use serde_json::{Value, json};
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};

use crate::Error;

/// The most reply bytes read (a test node's replies are small).
const MAX_REPLY: u64 = 16 << 20;

/// Calls `method` with `params` on the JSON-RPC server at `addr` (plain HTTP/1.0, one request
/// per connection), within `timeout`; the reply's `result`.
///
/// # Errors
///
/// [`Error::Io`] or [`Error::Timeout`] if the server cannot be reached or does not answer in
/// time, [`Error::BadReply`] if the reply is not a JSON-RPC response, [`Error::Rpc`] if it is
/// an error response.
pub async fn json_rpc(
    addr: SocketAddr,
    method: &str,
    params: Value,
    timeout: Duration,
) -> Result<Value, Error> {
    let reply = tokio::time::timeout(timeout, exchange(addr, method, params))
        .await
        .map_err(|_| Error::Timeout(timeout))??;
    if let Some(error) = reply.get("error") {
        return Err(Error::Rpc {
            method: method.to_owned(),
            error: error.clone(),
        });
    }
    reply
        .get("result")
        .cloned()
        .ok_or_else(|| Error::BadReply(format!("no result in {reply}")))
}

async fn exchange(addr: SocketAddr, method: &str, params: Value) -> Result<Value, Error> {
    let body = json!({"jsonrpc": "2.0", "id": 1, "method": method, "params": params}).to_string();
    let request = format!(
        "POST / HTTP/1.0\r\nHost: {addr}\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    );
    let mut stream = tokio::net::TcpStream::connect(addr).await?;
    stream.write_all(request.as_bytes()).await?;
    let mut response = Vec::new();
    (&mut stream)
        .take(MAX_REPLY)
        .read_to_end(&mut response)
        .await?;
    let text = String::from_utf8_lossy(&response);
    let (head, json) = text.split_once("\r\n\r\n").ok_or_else(|| {
        Error::BadReply(format!("no HTTP header end in {} bytes", response.len()))
    })?;
    if !head.starts_with("HTTP/1.") || head.split_whitespace().nth(1) != Some("200") {
        let status = head.lines().next().unwrap_or_default();
        return Err(Error::BadReply(format!("HTTP status {status}")));
    }
    serde_json::from_str(json.trim()).map_err(|e| Error::BadReply(format!("{e}: {json}")))
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::net::TcpListener;

    /// A one-shot server answering the first request with `body` and HTTP status `status`.
    async fn serve_once(status: &'static str, body: &'static str) -> SocketAddr {
        let listener = TcpListener::bind("127.0.0.1:0")
            .await
            .unwrap_or_else(|e| panic!("{e}"));
        let addr = listener.local_addr().unwrap_or_else(|e| panic!("{e}"));
        tokio::spawn(async move {
            let Ok((mut stream, _)) = listener.accept().await else {
                return;
            };
            let mut buf = [0u8; 4096];
            let _ = stream.read(&mut buf).await;
            let reply =
                format!("HTTP/1.0 {status}\r\nContent-Type: application/json\r\n\r\n{body}");
            let _ = stream.write_all(reply.as_bytes()).await;
        });
        addr
    }

    #[tokio::test]
    async fn json_rpc_returns_the_result_and_reports_errors_and_bad_status() {
        let ok = serve_once(
            "200 OK",
            r#"{"jsonrpc":"2.0","id":1,"result":{"enr":"enr:-x"}}"#,
        )
        .await;
        let result = json_rpc(ok, "admin_nodeInfo", json!([]), Duration::from_secs(5)).await;
        assert_eq!(result.ok(), Some(json!({"enr": "enr:-x"})));

        let err = serve_once(
            "200 OK",
            r#"{"jsonrpc":"2.0","id":1,"error":{"code":-32601}}"#,
        )
        .await;
        let result = json_rpc(err, "nope", json!([]), Duration::from_secs(5)).await;
        assert!(
            matches!(result, Err(Error::Rpc { ref method, .. }) if method == "nope"),
            "{result:?}"
        );

        let bad = serve_once("500 Internal Server Error", "{}").await;
        let result = json_rpc(bad, "x", json!([]), Duration::from_secs(5)).await;
        assert!(matches!(result, Err(Error::BadReply(_))), "{result:?}");
    }

    #[tokio::test]
    async fn json_rpc_to_a_closed_port_is_unreachable() {
        let port = crate::free_port();
        let addr = SocketAddr::from(([127, 0, 0, 1], port));
        let result = json_rpc(addr, "x", json!([]), Duration::from_secs(5)).await;
        assert!(result.is_err_and(|e| e.is_unreachable()));
    }
}
