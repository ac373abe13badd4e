//! The HTTP [`RequestTransport`]: one `POST` per call, batch or notification.

use std::{fmt, sync::Arc, time::Duration};

use bytes::{Bytes, BytesMut};
use http::{
    HeaderMap, HeaderName, HeaderValue,
    header::{ACCEPT, CONTENT_TYPE, RETRY_AFTER},
};
use rpc_client::{Client, ClientBuilder, HttpError, RequestMeta, RequestTransport};

use crate::{error::Error, jwt::AuthProvider};

/// Default connect timeout.
pub const DEFAULT_CONNECT_TIMEOUT: Duration = Duration::from_secs(10);
/// Default limit on a response body: 256 MiB (large `eth_getLogs` and traces fit).
pub const DEFAULT_MAX_RESPONSE_SIZE: u64 = 256 << 20;
/// How much of a non-2xx body is kept in [`HttpError::body`].
const MAX_ERROR_BODY: usize = 64 << 10;

/// Configures an [`HttpTransport`]. Start with [`HttpTransport::builder`].
pub struct HttpTransportBuilder {
    url: String,
    headers: Vec<(String, String)>,
    timeout: Option<Duration>,
    connect_timeout: Duration,
    max_response_size: Option<u64>,
    gzip: bool,
    auth: Option<Arc<dyn AuthProvider>>,
    client: Option<reqwest::Client>,
}

impl fmt::Debug for HttpTransportBuilder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("HttpTransportBuilder")
            .field("timeout", &self.timeout)
            .field("gzip", &self.gzip)
            .field("auth", &self.auth.is_some())
            .finish_non_exhaustive()
    }
}

impl HttpTransportBuilder {
    /// Adds a header sent with every request (overrides the defaults `content-type` and
    /// `accept`).
    #[must_use]
    pub fn header(mut self, name: impl Into<String>, value: impl Into<String>) -> Self {
        self.headers.push((name.into(), value.into()));
        self
    }

    /// An extra bound on each request inside the HTTP client, from connect to the last body
    /// byte. Off by default: the client's request timeout (and per-call timeouts) already
    /// bound every request, without a second timer per request.
    #[must_use]
    pub fn timeout(mut self, d: Duration) -> Self {
        self.timeout = Some(d);
        self
    }

    /// Bound on establishing a connection. Default 10 s.
    #[must_use]
    pub fn connect_timeout(mut self, d: Duration) -> Self {
        self.connect_timeout = d;
        self
    }

    /// Limit on a response body (`None` for unlimited). Default 256 MiB.
    #[must_use]
    pub fn max_response_size(mut self, limit: Option<u64>) -> Self {
        self.max_response_size = limit;
        self
    }

    /// Whether to ask for and decode gzip responses. Default on.
    #[must_use]
    pub fn gzip(mut self, on: bool) -> Self {
        self.gzip = on;
        self
    }

    /// Runs `auth` before every request (for example [`JwtAuth`](crate::JwtAuth)).
    #[must_use]
    pub fn auth(mut self, auth: impl AuthProvider) -> Self {
        self.auth = Some(Arc::new(auth));
        self
    }

    /// Uses this reqwest client (its own timeouts, proxies and TLS); `timeout`,
    /// `connect_timeout` and `gzip` are then ignored.
    #[must_use]
    pub fn client(mut self, client: reqwest::Client) -> Self {
        self.client = Some(client);
        self
    }

    /// Builds the transport.
    ///
    /// # Errors
    ///
    /// [`Error::InvalidUrl`], [`Error::InvalidHeader`], or [`Error::Request`] when the HTTP
    /// client cannot be built.
    pub fn build(self) -> Result<HttpTransport, Error> {
        let url = reqwest::Url::parse(&self.url).map_err(|e| Error::InvalidUrl(e.to_string()))?;
        if !matches!(url.scheme(), "http" | "https") {
            return Err(Error::InvalidUrl(format!(
                "unsupported scheme {:?} (expected http or https)",
                url.scheme()
            )));
        }
        let mut headers = HeaderMap::new();
        headers.insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
        headers.insert(ACCEPT, HeaderValue::from_static("application/json"));
        for (k, v) in &self.headers {
            let (name, value) = parse_header(k, v)?;
            headers.insert(name, value);
        }
        // Static headers go into the reqwest client's defaults when we build it (no per-request
        // copy); with a caller-supplied client they are added to each request.
        let (client, per_request) = match self.client {
            Some(c) => (c, headers),
            None => {
                let mut b = reqwest::Client::builder()
                    .connect_timeout(self.connect_timeout)
                    .gzip(self.gzip)
                    .tcp_nodelay(true)
                    .http1_only()
                    .referer(false)
                    .redirect(reqwest::redirect::Policy::none())
                    .default_headers(headers);
                if let Some(t) = self.timeout {
                    b = b.timeout(t);
                }
                (b.build().map_err(Error::Request)?, HeaderMap::new())
            }
        };
        Ok(HttpTransport {
            inner: Arc::new(Inner {
                client,
                url,
                headers: per_request,
                auth: self.auth,
                max_response_size: self.max_response_size,
            }),
        })
    }
}

fn parse_header(k: &str, v: &str) -> Result<(HeaderName, HeaderValue), Error> {
    let name = HeaderName::from_bytes(k.as_bytes()).map_err(|_| Error::InvalidHeader(k.into()))?;
    let value = HeaderValue::from_str(v).map_err(|_| Error::InvalidHeader(k.into()))?;
    Ok((name, value))
}

struct Inner {
    client: reqwest::Client,
    url: reqwest::Url,
    headers: HeaderMap,
    auth: Option<Arc<dyn AuthProvider>>,
    max_response_size: Option<u64>,
}

/// JSON-RPC over HTTP(S) with reqwest and rustls. Cheap to clone.
#[derive(Clone)]
pub struct HttpTransport {
    inner: Arc<Inner>,
}

impl fmt::Debug for HttpTransport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("HttpTransport")
            .field("url", &self.inner.url.as_str())
            .finish_non_exhaustive()
    }
}

impl HttpTransport {
    /// Starts configuring a transport for `url` (`http://` or `https://`).
    pub fn builder(url: impl Into<String>) -> HttpTransportBuilder {
        HttpTransportBuilder {
            url: url.into(),
            headers: Vec::new(),
            timeout: None,
            connect_timeout: DEFAULT_CONNECT_TIMEOUT,
            max_response_size: Some(DEFAULT_MAX_RESPONSE_SIZE),
            gzip: true,
            auth: None,
            client: None,
        }
    }

    /// A transport with default settings.
    ///
    /// # Errors
    ///
    /// As [`HttpTransportBuilder::build`].
    pub fn new(url: impl Into<String>) -> Result<Self, Error> {
        Self::builder(url).build()
    }

    /// The endpoint.
    pub fn url(&self) -> &str {
        self.inner.url.as_str()
    }

    async fn post(&self, body: String, meta: RequestMeta<'_>) -> Result<reqwest::Response, Error> {
        let p = &*self.inner;
        let mut req = p.client.post(p.url.clone()).body(body);
        if !p.headers.is_empty() || !meta.headers.is_empty() || p.auth.is_some() {
            let mut headers = p.headers.clone();
            for (k, v) in meta.headers {
                let (name, value) = parse_header(k, v)?;
                headers.insert(name, value);
            }
            if let Some(auth) = &p.auth {
                auth.apply(&mut headers)?;
            }
            req = req.headers(headers);
        }
        // The client core bounds the whole request with its own timeout (`meta.timeout`).
        req.send().await.map_err(Error::Request)
    }

    async fn read_body(mut resp: reqwest::Response, limit: Option<u64>) -> Result<Bytes, Error> {
        match (limit, resp.content_length()) {
            (Some(limit), Some(len)) if len > limit => {
                return Err(Error::ResponseTooLarge { size: len, limit });
            }
            // A known length within the limit: let the HTTP stack collect it in one piece.
            (Some(_), Some(_)) | (None, _) => return resp.bytes().await.map_err(Error::Request),
            (Some(_), None) => {}
        }
        let mut buf = BytesMut::new();
        while let Some(chunk) = resp.chunk().await.map_err(Error::Request)? {
            let received = (buf.len() + chunk.len()) as u64;
            if let Some(limit) = limit
                && received > limit
            {
                return Err(Error::ResponseTooLarge {
                    size: received,
                    limit,
                });
            }
            buf.extend_from_slice(&chunk);
        }
        Ok(buf.freeze())
    }

    async fn status_error(resp: reqwest::Response) -> rpc_client::Error {
        let status = resp.status().as_u16();
        let retry_after = resp
            .headers()
            .get(RETRY_AFTER)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.trim().parse::<u64>().ok())
            .map(Duration::from_secs);
        let body = match Self::read_body(resp, Some(MAX_ERROR_BODY as u64)).await {
            Ok(b) => String::from_utf8_lossy(&b).into_owned(),
            Err(_) => String::from("<body too large or unreadable>"),
        };
        tracing::debug!(status, len = body.len(), "http error status");
        rpc_client::Error::Http(Box::new(HttpError {
            status,
            body,
            retry_after,
        }))
    }
}

impl RequestTransport for HttpTransport {
    async fn round_trip(
        &self,
        body: String,
        meta: RequestMeta<'_>,
    ) -> Result<Bytes, rpc_client::Error> {
        let resp = self.post(body, meta).await?;
        if !resp.status().is_success() {
            return Err(Self::status_error(resp).await);
        }
        Ok(Self::read_body(resp, self.inner.max_response_size).await?)
    }

    async fn notify(&self, body: String, meta: RequestMeta<'_>) -> Result<(), rpc_client::Error> {
        let resp = self.post(body, meta).await?;
        if !resp.status().is_success() {
            return Err(Self::status_error(resp).await);
        }
        // The body (if any, `null` included) is neither awaited nor parsed.
        drop(resp);
        Ok(())
    }
}

/// A client for `url` with default transport and client settings.
///
/// # Errors
///
/// A bad URL.
pub fn client(url: &str) -> Result<Client, Error> {
    Ok(ClientBuilder::new().build_request(HttpTransport::new(url)?))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bad_urls_and_headers() {
        assert!(matches!(
            HttpTransport::new("ws://x"),
            Err(Error::InvalidUrl(_))
        ));
        assert!(matches!(
            HttpTransport::new("::"),
            Err(Error::InvalidUrl(_))
        ));
        assert!(matches!(
            HttpTransport::builder("http://x")
                .header("a b", "c")
                .build(),
            Err(Error::InvalidHeader(_))
        ));
        let t = HttpTransport::builder("https://example.org/rpc")
            .header("x-a", "1")
            .build()
            .unwrap();
        assert_eq!(t.url(), "https://example.org/rpc");
        // Static headers live in the reqwest client's defaults.
        assert!(t.inner.headers.is_empty());
        let custom = HttpTransport::builder("http://x")
            .header("x-a", "1")
            .client(reqwest::Client::new())
            .build()
            .unwrap();
        assert_eq!(custom.inner.headers["x-a"], "1");
        assert_eq!(custom.inner.headers[CONTENT_TYPE], "application/json");
    }
}
