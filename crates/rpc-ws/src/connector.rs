//! The WebSocket [`Connector`]: URL and header handling, TCP and TLS dialing, the upgrade, and
//! the frame halves with keepalive.
//!
//! Size limits are tungstenite's: a frame header announcing more than the frame limit, or a
//! message growing past the message limit, fails *before* the payload is buffered.

use std::{fmt, pin::Pin, sync::Arc, time::Duration};

use base64::Engine as _;
use bytes::Bytes;
use futures::{
    SinkExt, StreamExt,
    stream::{SplitSink, SplitStream},
};
use http::{HeaderName, HeaderValue, header::AUTHORIZATION};
use rpc_client::{Client, ClientBuilder, Connector, Driver, FrameReceiver, FrameSender};
use rustls::{ClientConfig, RootCertStore, pki_types::ServerName};
use tokio::{
    io::{AsyncRead, AsyncWrite},
    net::TcpStream,
    sync::Mutex,
    time::{Instant, Sleep, sleep_until, timeout},
};
use tokio_rustls::TlsConnector;
use tokio_tungstenite::{
    WebSocketStream, client_async_with_config,
    tungstenite::{
        self, Message,
        client::IntoClientRequest,
        protocol::{CloseFrame, WebSocketConfig, frame::coding::CloseCode},
    },
};

use crate::error::{Error, connect_error, io_error};

/// Default maximum size of an incoming message (and frame): 32 MiB, as go-ethereum.
pub const DEFAULT_MAX_MESSAGE_SIZE: usize = 32 << 20;
/// Default idle time after which a ping is sent.
pub const DEFAULT_PING_INTERVAL: Duration = Duration::from_secs(30);
/// Default time to wait for any frame (normally the pong) after a ping.
pub const DEFAULT_PONG_TIMEOUT: Duration = Duration::from_secs(30);

/// A deadline far enough away to mean "never" (keepalive disabled).
const FAR_FUTURE: Duration = Duration::from_secs(60 * 60 * 24 * 365);

/// A byte stream the WebSocket runs over (TCP or TLS over TCP).
trait Io: AsyncRead + AsyncWrite + Unpin + Send + Sync {}
impl<T: AsyncRead + AsyncWrite + Unpin + Send + Sync> Io for T {}

type Stream = WebSocketStream<Box<dyn Io>>;
type Sink = SplitSink<Stream, Message>;

/// Configures a [`WsConnector`]. Start with [`WsConnector::builder`].
#[derive(Clone)]
pub struct WsConnectorBuilder {
    url: String,
    headers: Vec<(String, String)>,
    origin: Option<String>,
    max_message_size: Option<usize>,
    max_frame_size: Option<usize>,
    ping_interval: Option<Duration>,
    pong_timeout: Duration,
    roots: Option<RootCertStore>,
    tls: Option<Arc<ClientConfig>>,
    auth: Option<Arc<AuthHook>>,
}

/// A hook that adds headers to every handshake (for example a fresh JWT per dial).
type AuthHook = dyn Fn(&mut http::HeaderMap) -> Result<(), String> + Send + Sync;

impl fmt::Debug for WsConnectorBuilder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("WsConnectorBuilder")
            .field("url", &redact(&self.url))
            .field("origin", &self.origin)
            .field("max_message_size", &self.max_message_size)
            .field("max_frame_size", &self.max_frame_size)
            .field("ping_interval", &self.ping_interval)
            .finish_non_exhaustive()
    }
}

/// Hides userinfo in logs.
fn redact(url: &str) -> String {
    match url::Url::parse(url) {
        Ok(mut u) if !u.username().is_empty() || u.password().is_some() => {
            let _ = u.set_username("***");
            let _ = u.set_password(None);
            u.to_string()
        }
        _ => url.to_owned(),
    }
}

impl WsConnectorBuilder {
    /// Adds a handshake header (sent on every dial).
    #[must_use]
    pub fn header(mut self, name: impl Into<String>, value: impl Into<String>) -> Self {
        self.headers.push((name.into(), value.into()));
        self
    }

    /// Sends this `Origin` header (none is sent by default).
    #[must_use]
    pub fn origin(mut self, origin: impl Into<String>) -> Self {
        self.origin = Some(origin.into());
        self
    }

    /// Maximum size of an incoming message; `None` means unlimited. Default 32 MiB.
    /// Also sets the frame limit unless [`max_frame_size`](Self::max_frame_size) is called
    /// afterwards.
    #[must_use]
    pub fn max_message_size(mut self, size: Option<usize>) -> Self {
        self.max_message_size = size;
        self.max_frame_size = size;
        self
    }

    /// Maximum size of an incoming frame; `None` means unlimited. Default: the message limit.
    #[must_use]
    pub fn max_frame_size(mut self, size: Option<usize>) -> Self {
        self.max_frame_size = size;
        self
    }

    /// Sends a ping after this long without an incoming frame; `None` disables keepalive.
    /// Default 30 s.
    #[must_use]
    pub fn ping_interval(mut self, interval: Option<Duration>) -> Self {
        self.ping_interval = interval;
        self
    }

    /// After a ping, the connection is dropped if no frame arrives within this time.
    /// Default 30 s.
    #[must_use]
    pub fn pong_timeout(mut self, d: Duration) -> Self {
        self.pong_timeout = d;
        self
    }

    /// Runs `hook` before every handshake (initial dial and every redial), so it can add
    /// headers that must be fresh, such as an Engine-API JWT. An error aborts the dial.
    #[must_use]
    pub fn auth_hook(
        mut self,
        hook: impl Fn(&mut http::HeaderMap) -> Result<(), String> + Send + Sync + 'static,
    ) -> Self {
        self.auth = Some(Arc::new(hook));
        self
    }

    /// Trusts these roots for `wss://` instead of the bundled webpki roots.
    #[must_use]
    pub fn root_store(mut self, roots: RootCertStore) -> Self {
        self.roots = Some(roots);
        self
    }

    /// Uses this rustls configuration for `wss://` (overrides [`root_store`](Self::root_store)).
    #[must_use]
    pub fn tls_config(mut self, config: Arc<ClientConfig>) -> Self {
        self.tls = Some(config);
        self
    }

    /// Validates the URL and headers and builds the connector (nothing is dialed yet).
    ///
    /// Userinfo in the URL (`ws://user:pass@host`) is removed from it and sent as
    /// `Authorization: Basic …`, unless an `Authorization` header was given.
    ///
    /// # Errors
    ///
    /// [`Error::InvalidUrl`], [`Error::UnsupportedScheme`], [`Error::InvalidHeader`],
    /// [`Error::Tls`].
    pub fn build(self) -> Result<WsConnector, Error> {
        let mut url = url::Url::parse(&self.url).map_err(|e| Error::InvalidUrl(e.to_string()))?;
        let tls = match url.scheme() {
            "ws" => false,
            "wss" => true,
            other => return Err(Error::UnsupportedScheme(other.to_owned())),
        };
        let host = url
            .host_str()
            .ok_or_else(|| Error::InvalidUrl("missing host".into()))?
            .to_owned();
        let port = url
            .port_or_known_default()
            .ok_or_else(|| Error::InvalidUrl("missing port".into()))?;
        let basic = if url.username().is_empty() && url.password().is_none() {
            None
        } else {
            let user = percent_decode(url.username());
            let pass = percent_decode(url.password().unwrap_or(""));
            let _ = url.set_username("");
            let _ = url.set_password(None);
            Some(base64::engine::general_purpose::STANDARD.encode(format!("{user}:{pass}")))
        };
        let mut headers = http::HeaderMap::new();
        for (k, v) in &self.headers {
            let name = HeaderName::from_bytes(k.as_bytes())
                .map_err(|_| Error::InvalidHeader(k.clone()))?;
            let value = HeaderValue::from_str(v).map_err(|_| Error::InvalidHeader(k.clone()))?;
            headers.append(name, value);
        }
        if let Some(origin) = &self.origin {
            let value =
                HeaderValue::from_str(origin).map_err(|_| Error::InvalidHeader("origin".into()))?;
            headers.insert(http::header::ORIGIN, value);
        }
        if let Some(b) = basic
            && !headers.contains_key(AUTHORIZATION)
        {
            let value = HeaderValue::from_str(&format!("Basic {b}"))
                .map_err(|_| Error::InvalidHeader("authorization".into()))?;
            headers.insert(AUTHORIZATION, value);
        }
        let tls = if tls {
            let config = match self.tls {
                Some(c) => c,
                None => {
                    let roots = self.roots.unwrap_or_else(|| {
                        RootCertStore::from_iter(webpki_roots::TLS_SERVER_ROOTS.iter().cloned())
                    });
                    let provider = Arc::new(rustls::crypto::ring::default_provider());
                    let mut c = ClientConfig::builder_with_provider(provider)
                        .with_safe_default_protocol_versions()
                        .map_err(|e| Error::Tls(e.to_string()))?
                        .with_root_certificates(roots)
                        .with_no_client_auth();
                    c.alpn_protocols = vec![b"http/1.1".to_vec()];
                    Arc::new(c)
                }
            };
            let bare = host
                .trim_start_matches('[')
                .trim_end_matches(']')
                .to_owned();
            let name =
                ServerName::try_from(bare).map_err(|e| Error::Tls(format!("server name: {e}")))?;
            Some((TlsConnector::from(config), name))
        } else {
            None
        };
        let ws_config = WebSocketConfig::default()
            .max_message_size(self.max_message_size)
            .max_frame_size(self.max_frame_size);
        Ok(WsConnector {
            inner: Arc::new(Prepared {
                url: url.to_string(),
                addr: format!("{host}:{port}"),
                headers,
                tls,
                ws_config,
                ping_interval: self.ping_interval,
                pong_timeout: self.pong_timeout,
                auth: self.auth,
            }),
        })
    }
}

/// Decodes `%XX` escapes (userinfo in URLs); invalid escapes are kept as they are.
fn percent_decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let hex = |b: u8| (b as char).to_digit(16);
        match (bytes.get(i), bytes.get(i + 1), bytes.get(i + 2)) {
            (Some(b'%'), Some(&h), Some(&l)) if hex(h).is_some() && hex(l).is_some() => {
                let v = hex(h).unwrap_or(0) * 16 + hex(l).unwrap_or(0);
                out.push(v as u8);
                i += 3;
            }
            (Some(&b), _, _) => {
                out.push(b);
                i += 1;
            }
            (None, _, _) => break,
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

struct Prepared {
    auth: Option<Arc<AuthHook>>,
    url: String,
    addr: String,
    headers: http::HeaderMap,
    tls: Option<(TlsConnector, ServerName<'static>)>,
    ws_config: WebSocketConfig,
    ping_interval: Option<Duration>,
    pong_timeout: Duration,
}

/// Dials `ws://` and `wss://` URLs for [`rpc_client`]; reusable for every redial.
#[derive(Clone)]
pub struct WsConnector {
    inner: Arc<Prepared>,
}

impl fmt::Debug for WsConnector {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("WsConnector")
            .field("url", &self.inner.url)
            .field("tls", &self.inner.tls.is_some())
            .finish_non_exhaustive()
    }
}

impl WsConnector {
    /// Starts configuring a connector for `url` (`ws://` or `wss://`).
    pub fn builder(url: impl Into<String>) -> WsConnectorBuilder {
        WsConnectorBuilder {
            url: url.into(),
            headers: Vec::new(),
            origin: None,
            max_message_size: Some(DEFAULT_MAX_MESSAGE_SIZE),
            max_frame_size: Some(DEFAULT_MAX_MESSAGE_SIZE),
            ping_interval: Some(DEFAULT_PING_INTERVAL),
            pong_timeout: DEFAULT_PONG_TIMEOUT,
            roots: None,
            tls: None,
            auth: None,
        }
    }

    /// A connector with default settings.
    ///
    /// # Errors
    ///
    /// As [`WsConnectorBuilder::build`].
    pub fn new(url: impl Into<String>) -> Result<Self, Error> {
        Self::builder(url).build()
    }

    /// The URL dialed (without userinfo).
    pub fn url(&self) -> &str {
        &self.inner.url
    }

    async fn dial(&self) -> Result<(WsSender, WsReceiver), Error> {
        let p = &*self.inner;
        let tcp = TcpStream::connect(&p.addr).await?;
        tcp.set_nodelay(true)?;
        let io: Box<dyn Io> = match &p.tls {
            Some((connector, name)) => Box::new(connector.connect(name.clone(), tcp).await?),
            None => Box::new(tcp),
        };
        let mut request = p
            .url
            .as_str()
            .into_client_request()
            .map_err(|e| Error::Ws(Box::new(e)))?;
        for (k, v) in &p.headers {
            request.headers_mut().append(k, v.clone());
        }
        if let Some(hook) = &p.auth {
            hook(request.headers_mut()).map_err(Error::Auth)?;
        }
        let (ws, _response) = client_async_with_config(request, io, Some(p.ws_config))
            .await
            .map_err(|e| match e {
                tungstenite::Error::Http(resp) => Error::Handshake {
                    status: resp.status().as_u16(),
                    body: resp
                        .body()
                        .as_ref()
                        .map(|b| String::from_utf8_lossy(b).into_owned())
                        .unwrap_or_default(),
                },
                other => Error::Ws(Box::new(other)),
            })?;
        tracing::debug!(url = %p.url, "websocket connected");
        let (sink, stream) = ws.split();
        let sink = Arc::new(Mutex::new(sink));
        Ok((
            WsSender { sink: sink.clone() },
            WsReceiver {
                state: Mutex::new(RecvState {
                    stream,
                    last_rx: Instant::now(),
                    ping_sent: None,
                    timer: Box::pin(sleep_until(
                        Instant::now() + p.ping_interval.unwrap_or(FAR_FUTURE),
                    )),
                }),
                sink,
                ping_interval: p.ping_interval,
                pong_timeout: p.pong_timeout,
            },
        ))
    }
}

impl Connector for WsConnector {
    type Sender = WsSender;
    type Receiver = WsReceiver;

    async fn connect(&self) -> Result<(WsSender, WsReceiver), rpc_client::Error> {
        self.dial().await.map_err(connect_error)
    }
}

/// The sending half of a WebSocket connection (text frames).
pub struct WsSender {
    sink: Arc<Mutex<Sink>>,
}

impl fmt::Debug for WsSender {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("WsSender").finish_non_exhaustive()
    }
}

impl FrameSender for WsSender {
    async fn send(&self, frame: String) -> Result<(), rpc_client::Error> {
        self.sink
            .lock()
            .await
            .feed(Message::Text(frame.into()))
            .await
            .map_err(io_error)
    }

    async fn flush(&self) -> Result<(), rpc_client::Error> {
        self.sink.lock().await.flush().await.map_err(io_error)
    }

    async fn close(&self) -> Result<(), rpc_client::Error> {
        let mut sink = self.sink.lock().await;
        let frame = CloseFrame {
            code: CloseCode::Normal,
            reason: "".into(),
        };
        sink.send(Message::Close(Some(frame)))
            .await
            .map_err(io_error)
    }
}

struct RecvState {
    stream: SplitStream<Stream>,
    /// When the last frame arrived.
    last_rx: Instant,
    /// When the outstanding idle ping was sent.
    ping_sent: Option<Instant>,
    /// One long-lived keepalive timer, re-armed only when it fires (no timer work per frame).
    timer: Pin<Box<Sleep>>,
}

/// The receiving half of a WebSocket connection: text and binary messages; pings are answered
/// by tungstenite while reading; idle pings with a pong deadline.
pub struct WsReceiver {
    state: Mutex<RecvState>,
    sink: Arc<Mutex<Sink>>,
    ping_interval: Option<Duration>,
    pong_timeout: Duration,
}

impl fmt::Debug for WsReceiver {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("WsReceiver")
            .field("ping_interval", &self.ping_interval)
            .finish_non_exhaustive()
    }
}

impl WsReceiver {
    /// Handles the keepalive timer firing: send a ping, or give up when a ping went
    /// unanswered, or re-arm for the time left.
    async fn on_timer(&self, st: &mut RecvState) -> Result<(), rpc_client::Error> {
        let Some(interval) = self.ping_interval else {
            st.timer.as_mut().reset(Instant::now() + FAR_FUTURE);
            return Ok(());
        };
        let now = Instant::now();
        match st.ping_sent {
            Some(at) if st.last_rx <= at => Err(Error::PongTimeout(self.pong_timeout).into()),
            _ if now < st.last_rx + interval => {
                st.ping_sent = None;
                st.timer.as_mut().reset(st.last_rx + interval);
                Ok(())
            }
            _ => {
                let ping = async {
                    self.sink
                        .lock()
                        .await
                        .send(Message::Ping(Bytes::new()))
                        .await
                };
                match timeout(self.pong_timeout, ping).await {
                    Ok(Ok(())) => {}
                    Ok(Err(e)) => return Err(io_error(e)),
                    Err(_) => return Err(Error::PongTimeout(self.pong_timeout).into()),
                }
                let at = Instant::now();
                st.ping_sent = Some(at);
                st.timer.as_mut().reset(at + self.pong_timeout);
                Ok(())
            }
        }
    }
}

impl FrameReceiver for WsReceiver {
    async fn recv(&self) -> Result<Option<Bytes>, rpc_client::Error> {
        let mut guard = self.state.lock().await;
        let st = &mut *guard;
        loop {
            let next = tokio::select! {
                biased;
                n = st.stream.next() => n,
                () = st.timer.as_mut() => {
                    self.on_timer(st).await?;
                    continue;
                }
            };
            let msg = match next {
                None => return Ok(None),
                Some(Err(
                    tungstenite::Error::ConnectionClosed | tungstenite::Error::AlreadyClosed,
                )) => return Ok(None),
                Some(Err(e)) => return Err(io_error(e)),
                Some(Ok(m)) => m,
            };
            if self.ping_interval.is_some() {
                st.last_rx = Instant::now();
            }
            match msg {
                Message::Text(t) => return Ok(Some(Bytes::from(t))),
                Message::Binary(b) => return Ok(Some(b)),
                Message::Close(frame) => {
                    tracing::debug!(?frame, "server closed the websocket");
                    return Ok(None);
                }
                Message::Ping(_) | Message::Pong(_) | Message::Frame(_) => {}
            }
        }
    }
}

/// Dials `url` with default settings and returns the client and its [`Driver`] (run it).
///
/// # Errors
///
/// A bad URL, or the dial error.
///
/// # Cancel safety
///
/// Dropping the future abandons the dial.
pub async fn connect(url: &str) -> Result<(Client, Driver<WsConnector>), rpc_client::Error> {
    let connector = WsConnector::new(url)?;
    ClientBuilder::new().connect(connector).await
}

/// Dials `url` with default settings and spawns the client's driver on the current tokio
/// runtime.
///
/// # Errors
///
/// A bad URL, or the dial error.
///
/// # Panics
///
/// Outside a tokio runtime.
///
/// # Cancel safety
///
/// Dropping the future abandons the dial.
pub async fn spawn_connect(url: &str) -> Result<Client, rpc_client::Error> {
    let connector = WsConnector::new(url)?;
    ClientBuilder::new().spawn_connect(connector).await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn userinfo_becomes_basic_auth_and_leaves_the_url() {
        let c = WsConnector::new("ws://us%65r:p%40ss@127.0.0.1:8546/path?q=1").unwrap();
        assert_eq!(c.url(), "ws://127.0.0.1:8546/path?q=1");
        let auth = c
            .inner
            .headers
            .get(AUTHORIZATION)
            .unwrap()
            .to_str()
            .unwrap();
        let expected = base64::engine::general_purpose::STANDARD.encode("user:p@ss");
        assert_eq!(auth, format!("Basic {expected}"));
        assert!(c.inner.headers.get(http::header::ORIGIN).is_none());
        assert_eq!(c.inner.addr, "127.0.0.1:8546");
    }

    #[test]
    fn explicit_authorization_wins_and_origin_only_when_given() {
        let c = WsConnector::builder("ws://a:b@localhost")
            .header("Authorization", "Bearer x")
            .origin("http://example.org")
            .build()
            .unwrap();
        assert_eq!(c.inner.headers.get(AUTHORIZATION).unwrap(), "Bearer x");
        assert_eq!(
            c.inner.headers.get(http::header::ORIGIN).unwrap(),
            "http://example.org"
        );
        assert_eq!(c.inner.addr, "localhost:80");
    }

    #[test]
    fn bad_urls_and_headers() {
        assert!(matches!(
            WsConnector::new("http://x"),
            Err(Error::UnsupportedScheme(_))
        ));
        assert!(matches!(
            WsConnector::new("not a url"),
            Err(Error::InvalidUrl(_))
        ));
        assert!(matches!(
            WsConnector::builder("ws://x")
                .header("bad header", "v")
                .build(),
            Err(Error::InvalidHeader(_))
        ));
        let c = WsConnector::new("wss://[::1]/").unwrap();
        assert_eq!(c.inner.addr, "[::1]:443");
        assert!(c.inner.tls.is_some());
    }

    #[test]
    fn percent_decoding() {
        assert_eq!(percent_decode("a%20b%zz%4"), "a b%zz%4");
        assert_eq!(percent_decode(""), "");
    }

    proptest::proptest! {
        #[test]
        fn percent_decoding_round_trips_and_never_panics(s in "\\PC{0,40}", junk in "[%0-9a-fA-Fz]{0,20}") {
            let encoded: String = s
                .bytes()
                .map(|b| format!("%{b:02X}"))
                .collect();
            proptest::prop_assert_eq!(percent_decode(&encoded), s);
            let _ = percent_decode(&junk);
        }

        #[test]
        fn building_from_arbitrary_urls_never_panics(url in "\\PC{0,60}") {
            let _ = WsConnector::new(url.clone());
            let _ = WsConnector::new(format!("ws://{url}"));
        }
    }
}
