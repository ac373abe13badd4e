//! The [`Resolver`] trait (TXT lookups), the in-memory [`FixtureResolver`] for tests and for
//! serving a tree one has just signed, and [`HickoryResolver`], a real DNS resolver.

use std::collections::HashMap;
use std::future::Future;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use hickory_resolver::TokioResolver;
use hickory_resolver::config::{ConnectionConfig, NameServerConfig, ResolverConfig};
use hickory_resolver::net::runtime::TokioRuntimeProvider;
use hickory_resolver::proto::rr::RData;

use crate::error::ResolveError;

/// Looks up the TXT records of a DNS name.
///
/// Each returned string is one TXT record with its character-strings (at most 255 bytes each on
/// the wire) joined in order. Implementations need not bound their own time: the
/// [`Client`](crate::Client) puts a timeout around every call.
pub trait Resolver: Send + Sync {
    /// The TXT records at `name` (a fully qualified name without the trailing dot).
    ///
    /// # Errors
    ///
    /// [`ResolveError::NotFound`] if the name has no TXT records, otherwise the failure.
    ///
    /// # Cancel safety
    ///
    /// Dropping the future abandons the lookup; nothing is left half done.
    fn lookup_txt(
        &self,
        name: &str,
    ) -> impl Future<Output = Result<Vec<String>, ResolveError>> + Send;
}

impl<R: Resolver + ?Sized> Resolver for &R {
    fn lookup_txt(
        &self,
        name: &str,
    ) -> impl Future<Output = Result<Vec<String>, ResolveError>> + Send {
        (**self).lookup_txt(name)
    }
}

impl<R: Resolver + ?Sized> Resolver for Arc<R> {
    fn lookup_txt(
        &self,
        name: &str,
    ) -> impl Future<Output = Result<Vec<String>, ResolveError>> + Send {
        (**self).lookup_txt(name)
    }
}

/// The object-safe form of [`Resolver`], behind [`BoxResolver`].
trait ErasedResolver: Send + Sync {
    fn lookup_boxed(
        &self,
        name: String,
    ) -> Pin<Box<dyn Future<Output = Result<Vec<String>, ResolveError>> + Send + '_>>;
}

impl<R: Resolver> ErasedResolver for R {
    fn lookup_boxed(
        &self,
        name: String,
    ) -> Pin<Box<dyn Future<Output = Result<Vec<String>, ResolveError>> + Send + '_>> {
        // The name is owned so that the future borrows only the resolver.
        Box::pin(async move { self.lookup_txt(&name).await })
    }
}

/// Any [`Resolver`] behind one type, for a resolver chosen at run time (a real one or a fixture).
/// Cloning shares the resolver.
///
/// # Examples
///
/// ```
/// use p2p_dnsdisc::{BoxResolver, FixtureResolver, Resolver};
///
/// # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
/// let fixture = FixtureResolver::new();
/// fixture.insert("example.org", "hello");
/// let boxed = BoxResolver::new(fixture);
/// assert_eq!(boxed.lookup_txt("example.org").await.unwrap(), ["hello"]);
/// # });
/// ```
#[derive(Clone)]
pub struct BoxResolver(Arc<dyn ErasedResolver>);

impl BoxResolver {
    /// Boxes `resolver`.
    pub fn new(resolver: impl Resolver + 'static) -> Self {
        Self(Arc::new(resolver))
    }
}

impl std::fmt::Debug for BoxResolver {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BoxResolver").finish_non_exhaustive()
    }
}

impl Resolver for BoxResolver {
    fn lookup_txt(
        &self,
        name: &str,
    ) -> impl Future<Output = Result<Vec<String>, ResolveError>> + Send {
        self.0.lookup_boxed(name.to_owned())
    }
}

/// An in-memory map from names to TXT records (names compare without ASCII case and without a
/// trailing dot, as DNS does). It counts the lookups it answers, and can be changed while a client
/// uses it (through `&FixtureResolver` or an `Arc`).
///
/// # Examples
///
/// ```
/// use p2p_dnsdisc::{FixtureResolver, Resolver};
///
/// # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
/// let fixture = FixtureResolver::new();
/// fixture.insert("Example.org.", "hello");
/// assert_eq!(fixture.lookup_txt("example.org").await.unwrap(), ["hello"]);
/// assert_eq!(fixture.lookups(), 1);
/// # });
/// ```
#[derive(Debug, Default)]
pub struct FixtureResolver {
    records: Mutex<HashMap<String, Vec<String>>>,
    lookups: AtomicUsize,
}

fn normalize(name: &str) -> String {
    name.strip_suffix('.').unwrap_or(name).to_ascii_lowercase()
}

impl FixtureResolver {
    /// An empty fixture.
    pub fn new() -> Self {
        Self::default()
    }

    fn records(&self) -> std::sync::MutexGuard<'_, HashMap<String, Vec<String>>> {
        // A panic while holding the lock cannot leave the map half-changed.
        self.records.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Adds one TXT record at `name` (after any already there).
    pub fn insert(&self, name: &str, txt: impl Into<String>) {
        self.records()
            .entry(normalize(name))
            .or_default()
            .push(txt.into());
    }

    /// Replaces every TXT record at `name` with `txt`.
    pub fn set(&self, name: &str, txt: impl Into<String>) {
        self.records().insert(normalize(name), vec![txt.into()]);
    }

    /// Removes every TXT record at `name`.
    pub fn remove(&self, name: &str) {
        self.records().remove(&normalize(name));
    }

    /// Sets every `(name, text)` pair, as [`Tree::txt_records`](crate::Tree::txt_records) returns
    /// them (each replaces what was at its name).
    pub fn extend<N: AsRef<str>, T: Into<String>>(
        &self,
        records: impl IntoIterator<Item = (N, T)>,
    ) {
        for (name, txt) in records {
            self.set(name.as_ref(), txt);
        }
    }

    /// The TXT records at `name`, if any.
    pub fn get(&self, name: &str) -> Option<Vec<String>> {
        self.records().get(&normalize(name)).cloned()
    }

    /// The names in the fixture (normalized), sorted.
    pub fn names(&self) -> Vec<String> {
        let mut names: Vec<String> = self.records().keys().cloned().collect();
        names.sort();
        names
    }

    /// How many lookups this fixture has answered.
    pub fn lookups(&self) -> usize {
        self.lookups.load(Ordering::Relaxed)
    }
}

impl Resolver for FixtureResolver {
    fn lookup_txt(
        &self,
        name: &str,
    ) -> impl Future<Output = Result<Vec<String>, ResolveError>> + Send {
        self.lookups.fetch_add(1, Ordering::Relaxed);
        let found = self.get(name);
        async move { found.ok_or(ResolveError::NotFound) }
    }
}

/// A DNS resolver on `hickory-resolver` with tokio.
///
/// [`HickoryResolver::system`] reads the system configuration (`/etc/resolv.conf`);
/// [`HickoryResolver::with_server`] asks one server (for example a local test server).
pub struct HickoryResolver {
    inner: TokioResolver,
}

impl std::fmt::Debug for HickoryResolver {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HickoryResolver").finish_non_exhaustive()
    }
}

impl HickoryResolver {
    /// A resolver with the system's name servers, each query bounded by `timeout` and tried at
    /// most `attempts` times.
    ///
    /// # Errors
    ///
    /// [`ResolveError::Failed`] if the system configuration cannot be read.
    pub fn system(timeout: Duration, attempts: usize) -> Result<Self, ResolveError> {
        let mut builder =
            TokioResolver::builder_tokio().map_err(|e| ResolveError::Failed(e.to_string()))?;
        builder.options_mut().timeout = timeout;
        builder.options_mut().attempts = attempts;
        let inner = builder
            .build()
            .map_err(|e| ResolveError::Failed(e.to_string()))?;
        Ok(Self { inner })
    }

    /// A resolver that asks only the server at `addr` over UDP (falling back to TCP for truncated
    /// answers), each query bounded by `timeout` and tried once.
    ///
    /// # Errors
    ///
    /// [`ResolveError::Failed`] if the resolver cannot be built.
    pub fn with_server(addr: SocketAddr, timeout: Duration) -> Result<Self, ResolveError> {
        let mut udp = ConnectionConfig::udp();
        udp.port = addr.port();
        let mut tcp = ConnectionConfig::tcp();
        tcp.port = addr.port();
        let server = NameServerConfig::new(addr.ip(), true, vec![udp, tcp]);
        let config = ResolverConfig::from_name_servers(vec![server]);
        let mut builder =
            TokioResolver::builder_with_config(config, TokioRuntimeProvider::default());
        builder.options_mut().timeout = timeout;
        builder.options_mut().attempts = 1;
        // Cache nothing, so that a re-sync sees a changed root at once.
        builder.options_mut().cache_size = 0;
        let inner = builder
            .build()
            .map_err(|e| ResolveError::Failed(e.to_string()))?;
        Ok(Self { inner })
    }
}

impl Resolver for HickoryResolver {
    fn lookup_txt(
        &self,
        name: &str,
    ) -> impl Future<Output = Result<Vec<String>, ResolveError>> + Send {
        // A fully qualified name skips the search list.
        let fqdn = format!("{}.", name.strip_suffix('.').unwrap_or(name));
        async move {
            let lookup = self.inner.txt_lookup(fqdn).await.map_err(|e| {
                if e.is_no_records_found() {
                    ResolveError::NotFound
                } else if matches!(e, hickory_resolver::net::NetError::Timeout) {
                    ResolveError::Timeout
                } else {
                    ResolveError::Failed(e.to_string())
                }
            })?;
            let mut out = Vec::new();
            for record in lookup.answers() {
                if let RData::TXT(txt) = &record.data {
                    let joined: Vec<u8> = txt.txt_data.iter().flatten().copied().collect();
                    // A record that is not UTF-8 cannot be an entry; keep it visible as text anyway.
                    out.push(String::from_utf8_lossy(&joined).into_owned());
                }
            }
            if out.is_empty() {
                return Err(ResolveError::NotFound);
            }
            Ok(out)
        }
    }
}
