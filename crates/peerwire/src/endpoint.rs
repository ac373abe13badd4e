//! What every RPC subcommand shares: the endpoint URL, `--header` and `--timeout`, dialing a
//! client over HTTP or WebSocket, and the mapping of failures onto exit codes.

use std::time::Duration;

use anyhow::{Context, bail};
use rpc_client::{Client, ClientBuilder};

/// Exit code for a JSON-RPC error answer.
pub(crate) const EXIT_RPC_ERROR: u8 = 1;
/// Exit code for every other failure.
pub(crate) const EXIT_FAILURE: u8 = 2;

/// Connection options shared by `rpc` and `subscribe`.
#[derive(Debug, Clone, clap::Args)]
pub(crate) struct ConnectArgs {
    /// An extra header `NAME:VALUE` (HTTP requests, or the WebSocket handshake); repeatable.
    #[arg(long = "header", short = 'H', value_name = "NAME:VALUE", value_parser = parse_header)]
    pub(crate) headers: Vec<(String, String)>,
    /// Bound in seconds on connecting, on each request and on closing.
    #[arg(long, value_name = "SECS", default_value = "30", value_parser = parse_timeout)]
    pub(crate) timeout: Duration,
}

/// The transport a URL selects.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Scheme {
    /// `http://` or `https://`.
    Http,
    /// `ws://` or `wss://`.
    Ws,
}

/// An endpoint URL checked for a supported scheme and a host.
#[derive(Debug, Clone)]
pub(crate) struct Endpoint {
    url: url::Url,
    scheme: Scheme,
}

impl Endpoint {
    /// Parses `text`.
    ///
    /// # Errors
    ///
    /// When `text` is not a URL, has no host, or its scheme is not http, https, ws or wss.
    pub(crate) fn parse(text: &str) -> anyhow::Result<Self> {
        let url =
            url::Url::parse(text).map_err(|e| anyhow::anyhow!("invalid URL {text:?}: {e}"))?;
        let scheme = match url.scheme() {
            "http" | "https" => Scheme::Http,
            "ws" | "wss" => Scheme::Ws,
            other => bail!(
                "unsupported URL scheme {other:?} in {}: expected http, https, ws or wss",
                redacted(&url)
            ),
        };
        if url.host_str().is_none_or(str::is_empty) {
            bail!("invalid URL {}: no host", redacted(&url));
        }
        Ok(Self { url, scheme })
    }

    /// The transport this URL selects.
    pub(crate) fn scheme(&self) -> Scheme {
        self.scheme
    }

    /// The URL without its password, for messages.
    pub(crate) fn display(&self) -> String {
        redacted(&self.url)
    }

    /// Dials the endpoint and returns a client whose connect, request, unsubscribe and write
    /// timeouts are `args.timeout`.
    ///
    /// # Errors
    ///
    /// A bad header or URL for the transport, or the dial failure (over WebSocket; HTTP
    /// dials on the first request).
    ///
    /// # Cancel safety
    ///
    /// Dropping the future abandons the dial.
    pub(crate) async fn connect(&self, args: &ConnectArgs) -> anyhow::Result<Client> {
        let builder = ClientBuilder::new()
            .request_timeout(args.timeout)
            .connect_timeout(args.timeout)
            .unsubscribe_timeout(args.timeout)
            .write_timeout(args.timeout);
        match self.scheme {
            Scheme::Ws => {
                let mut ws = rpc_ws::WsConnector::builder(self.url.as_str());
                for (name, value) in &args.headers {
                    ws = ws.header(name, value);
                }
                let connector = ws
                    .build()
                    .with_context(|| format!("cannot use {}", self.display()))?;
                builder
                    .spawn_connect(connector)
                    .await
                    .with_context(|| format!("cannot connect to {}", self.display()))
            }
            Scheme::Http => {
                let mut http = rpc_http::HttpTransport::builder(self.url.as_str())
                    .timeout(args.timeout)
                    .connect_timeout(args.timeout);
                for (name, value) in &args.headers {
                    http = http.header(name, value);
                }
                let transport = http
                    .build()
                    .with_context(|| format!("cannot use {}", self.display()))?;
                Ok(builder.build_request(transport))
            }
        }
    }
}

/// `url` with the password replaced by `***`.
fn redacted(url: &url::Url) -> String {
    let mut shown = url.clone();
    if shown.password().is_some() {
        let _ = shown.set_password(Some("***"));
    }
    shown.to_string()
}

/// Parses `NAME:VALUE` (the value is trimmed; the name must be a valid header name).
fn parse_header(text: &str) -> Result<(String, String), String> {
    let Some((name, value)) = text.split_once(':') else {
        return Err(format!("expected NAME:VALUE, got {text:?}"));
    };
    let name = name.trim();
    let valid_name = !name.is_empty()
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b));
    if !valid_name {
        return Err(format!("invalid header name {name:?}"));
    }
    let value = value.trim();
    if value.bytes().any(|b| b.is_ascii_control() && b != b'\t') {
        return Err(format!("invalid value for header {name:?}"));
    }
    Ok((name.to_owned(), value.to_owned()))
}

/// Parses a positive number of seconds (fractions allowed).
fn parse_timeout(text: &str) -> Result<Duration, String> {
    let secs: f64 = text
        .trim()
        .parse()
        .map_err(|_| format!("expected a number of seconds, got {text:?}"))?;
    if secs <= 0.0 {
        return Err("the timeout must be positive".to_owned());
    }
    Duration::try_from_secs_f64(secs).map_err(|_| format!("timeout {text:?} is out of range"))
}

/// The one-line message and exit code for a failure: a JSON-RPC error anywhere in the chain
/// gives `rpc error <code>: <message>` and [`EXIT_RPC_ERROR`]; anything else the whole chain
/// on one line and [`EXIT_FAILURE`].
pub(crate) fn describe_failure(e: &anyhow::Error) -> (String, u8) {
    let rpc = e
        .chain()
        .find_map(|cause| match cause.downcast_ref::<rpc_client::Error>()? {
            rpc_client::Error::Rpc(obj) | rpc_client::Error::SubscriptionEnded(obj) => {
                Some(rpc_error_line(obj))
            }
            _ => None,
        });
    match rpc {
        Some(line) => (line, EXIT_RPC_ERROR),
        None => (one_line(&format!("{e:#}")), EXIT_FAILURE),
    }
}

/// `rpc error <code>: <message>[, data: <data>]` on one line: control characters of the message
/// are escaped (`\0`, `\n`, ...), not lost, and `data` is the JSON the server sent (compacted,
/// so a hex string shows as `"0x..."`), as `cast` shows revert data.
fn rpc_error_line(obj: &rpc_client::ErrorObject) -> String {
    let message: String = obj
        .message
        .chars()
        .map(|c| {
            if c.is_control() {
                c.escape_debug().to_string()
            } else {
                c.to_string()
            }
        })
        .collect();
    let mut line = format!("rpc error {}: {message}", obj.code);
    if let Some(data) = &obj.data {
        let data = serde_json::from_str::<serde_json::Value>(data.get())
            .map_or_else(|_| one_line(data.get()), |value| value.to_string());
        line.push_str(", data: ");
        line.push_str(&data);
    }
    line
}

/// `text` with line breaks and other control characters turned into spaces.
fn one_line(text: &str) -> String {
    text.chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn endpoints_by_scheme() {
        let check = |url: &str, expect: Option<Scheme>| {
            let got = Endpoint::parse(url).ok().map(|e| e.scheme());
            assert_eq!(got, expect, "{url}");
        };
        check("http://127.0.0.1:8545", Some(Scheme::Http));
        check("HTTPS://node.example/rpc", Some(Scheme::Http));
        check("ws://localhost:8546", Some(Scheme::Ws));
        check("wss://node.example", Some(Scheme::Ws));
        check("ftp://node.example", None);
        check("127.0.0.1:8545", None);
        check("not a url", None);
        check("http://", None);
    }

    #[test]
    fn passwords_are_not_shown() {
        let e = Endpoint::parse("ws://user:secret@127.0.0.1:1/x").unwrap();
        assert!(!e.display().contains("secret"));
        assert!(e.display().contains("user"));
        let err = Endpoint::parse("ftp://user:secret@host/").unwrap_err();
        assert!(!err.to_string().contains("secret"), "{err}");
    }

    #[test]
    fn headers() {
        assert_eq!(
            parse_header("Authorization: Bearer abc:def").unwrap(),
            ("Authorization".to_owned(), "Bearer abc:def".to_owned())
        );
        assert_eq!(
            parse_header("x-empty:").unwrap(),
            ("x-empty".to_owned(), String::new())
        );
        for bad in ["novalue", ":v", "a b:c", "x:\u{1}"] {
            assert!(parse_header(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn timeouts() {
        assert_eq!(parse_timeout("2").unwrap(), Duration::from_secs(2));
        assert_eq!(parse_timeout("0.25").unwrap(), Duration::from_millis(250));
        for bad in ["0", "-1", "x", "1e400", "NaN"] {
            assert!(parse_timeout(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn failures_map_to_exit_codes() {
        let rpc: rpc_client::ErrorObject = serde_json::from_str(
            r#"{"code":-32601,"message":"the method x does not exist","stack":"Error: x\n at y"}"#,
        )
        .unwrap();
        let e = anyhow::Error::new(rpc_client::Error::Rpc(Box::new(rpc))).context("calling x");
        assert_eq!(
            describe_failure(&e),
            (
                "rpc error -32601: the method x does not exist".to_owned(),
                EXIT_RPC_ERROR
            )
        );
        // A revert: the message keeps its NUL bytes (escaped) and the data is shown as sent.
        let revert: rpc_client::ErrorObject = serde_json::from_str(
            r#"{"code":3,"message":"execution reverted: \u0000\u0000boom\nend","data":"0x08c379a0"}"#,
        )
        .unwrap();
        let e = anyhow::Error::new(rpc_client::Error::Rpc(Box::new(revert))).context("eth_call");
        assert_eq!(
            describe_failure(&e),
            (
                r#"rpc error 3: execution reverted: \0\0boom\nend, data: "0x08c379a0""#.to_owned(),
                EXIT_RPC_ERROR
            )
        );
        let structured: rpc_client::ErrorObject = serde_json::from_str(
            "{\"code\":-32000,\"message\":\"x\",\"data\":{\n  \"reason\": \"y\"\n}}",
        )
        .unwrap();
        let e = anyhow::Error::new(rpc_client::Error::Rpc(Box::new(structured)));
        assert_eq!(
            describe_failure(&e).0,
            r#"rpc error -32000: x, data: {"reason":"y"}"#
        );
        let e = anyhow::Error::new(rpc_client::Error::Timeout).context("calling x\nnow");
        assert_eq!(
            describe_failure(&e),
            ("calling x now: request timed out".to_owned(), EXIT_FAILURE)
        );
    }
}
