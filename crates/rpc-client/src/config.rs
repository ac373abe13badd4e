//! Client configuration: timeouts, buffers, batch chunking, reconnect policy and per-call
//! options.

use std::time::Duration;

/// Default per-request timeout.
pub const DEFAULT_REQUEST_TIMEOUT: Duration = Duration::from_secs(60);
/// Default connect (dial) timeout.
pub const DEFAULT_CONNECT_TIMEOUT: Duration = Duration::from_secs(10);
/// Default bound on an unsubscribe request (go-ethereum uses the same 10 s).
pub const DEFAULT_UNSUBSCRIBE_TIMEOUT: Duration = Duration::from_secs(10);
/// Default bound on writing one frame to a duplex connection.
pub const DEFAULT_WRITE_TIMEOUT: Duration = Duration::from_secs(10);
/// Default number of notifications buffered per subscription (go-ethereum's limit).
pub const DEFAULT_SUBSCRIPTION_CAPACITY: usize = 20_000;
/// Default capacity of the channel from callers to the dispatch loop.
pub const DEFAULT_MAX_QUEUED_REQUESTS: usize = 1024;

/// What a subscription does when its buffer is full and another notification arrives.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum OverflowPolicy {
    /// End the subscription: the buffered items are delivered, then
    /// [`Error::Overflow`](crate::Error::Overflow), and an unsubscribe is sent.
    #[default]
    Close,
    /// Drop the oldest buffered notification and yield [`Error::Lagged`](crate::Error::Lagged)
    /// with the count before the next item; the subscription goes on.
    DropOldest,
}

/// An opt-in policy that redials in the background after a connection loss, with exponential
/// backoff, resubscribes every live subscription under the same local handle and puts an
/// [`Error::Reconnected`](crate::Error::Reconnected) marker in each subscription stream.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReconnectPolicy {
    /// Delay before the second attempt (the first is immediate).
    pub initial_backoff: Duration,
    /// The cap on the delay between attempts.
    pub max_backoff: Duration,
    /// Give up after this many failed attempts (`None`: never give up).
    pub max_attempts: Option<u32>,
}

impl Default for ReconnectPolicy {
    fn default() -> Self {
        Self {
            initial_backoff: Duration::from_millis(500),
            max_backoff: Duration::from_secs(30),
            max_attempts: Some(10),
        }
    }
}

impl ReconnectPolicy {
    /// The delay before attempt `attempt + 1`, given `attempt` failures so far (`attempt >= 1`).
    pub fn backoff(&self, attempt: u32) -> Duration {
        let shift = attempt.saturating_sub(1).min(20);
        self.initial_backoff
            .saturating_mul(1u32 << shift)
            .min(self.max_backoff)
    }
}

/// Settings shared by every client kind; build with [`ClientBuilder`](crate::ClientBuilder).
#[derive(Debug, Clone)]
pub(crate) struct Config {
    pub(crate) request_timeout: Duration,
    pub(crate) connect_timeout: Duration,
    pub(crate) unsubscribe_timeout: Duration,
    pub(crate) write_timeout: Duration,
    pub(crate) subscription_capacity: usize,
    pub(crate) overflow_policy: OverflowPolicy,
    pub(crate) max_batch_size: Option<usize>,
    pub(crate) max_queued_requests: usize,
    pub(crate) reconnect: Option<ReconnectPolicy>,
}

impl Default for Config {
    fn default() -> Self {
        Self {
            request_timeout: DEFAULT_REQUEST_TIMEOUT,
            connect_timeout: DEFAULT_CONNECT_TIMEOUT,
            unsubscribe_timeout: DEFAULT_UNSUBSCRIBE_TIMEOUT,
            write_timeout: DEFAULT_WRITE_TIMEOUT,
            subscription_capacity: DEFAULT_SUBSCRIPTION_CAPACITY,
            overflow_policy: OverflowPolicy::Close,
            max_batch_size: None,
            max_queued_requests: DEFAULT_MAX_QUEUED_REQUESTS,
            reconnect: None,
        }
    }
}

/// Options for one call, batch or notification.
#[derive(Debug, Clone, Default)]
pub struct CallOptions {
    pub(crate) timeout: Option<Duration>,
    pub(crate) retry_safe: bool,
    pub(crate) headers: Vec<(String, String)>,
}

impl CallOptions {
    /// Default options: the client's request timeout, not retry-safe, no extra headers.
    pub fn new() -> Self {
        Self::default()
    }

    /// Overrides the client's request timeout for this call.
    #[must_use]
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = Some(timeout);
        self
    }

    /// Marks the call safe to re-send after a reconnect (idempotent reads such as
    /// `eth_blockNumber`). Only used with a [`ReconnectPolicy`]; other in-flight calls fail with
    /// [`Error::Disconnected`](crate::Error::Disconnected).
    #[must_use]
    pub fn retry_safe(mut self) -> Self {
        self.retry_safe = true;
        self
    }

    /// Adds a header to this request (request/response transports only; ignored by duplex
    /// connections, whose headers are fixed at the handshake).
    #[must_use]
    pub fn header(mut self, name: impl Into<String>, value: impl Into<String>) -> Self {
        self.headers.push((name.into(), value.into()));
        self
    }
}

/// Options for one subscription.
#[derive(Debug, Clone, Default)]
pub struct SubscriptionOptions {
    pub(crate) capacity: Option<usize>,
    pub(crate) policy: Option<OverflowPolicy>,
    pub(crate) timeout: Option<Duration>,
}

impl SubscriptionOptions {
    /// The client's defaults.
    pub fn new() -> Self {
        Self::default()
    }

    /// Buffer size for this subscription (at least 1).
    #[must_use]
    pub fn capacity(mut self, capacity: usize) -> Self {
        self.capacity = Some(capacity.max(1));
        self
    }

    /// Overflow policy for this subscription.
    #[must_use]
    pub fn policy(mut self, policy: OverflowPolicy) -> Self {
        self.policy = Some(policy);
        self
    }

    /// Timeout for the subscribe request.
    #[must_use]
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = Some(timeout);
        self
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_and_caps() {
        let p = ReconnectPolicy {
            initial_backoff: Duration::from_millis(100),
            max_backoff: Duration::from_secs(1),
            max_attempts: None,
        };
        assert_eq!(p.backoff(1), Duration::from_millis(100));
        assert_eq!(p.backoff(2), Duration::from_millis(200));
        assert_eq!(p.backoff(4), Duration::from_millis(800));
        assert_eq!(p.backoff(5), Duration::from_secs(1));
        assert_eq!(p.backoff(u32::MAX), Duration::from_secs(1));
    }
}
