//! Request accounting: what a request asked for ([`Ask`]), what came back ([`Reply`]), and the set of requests
//! in flight ([`Requests`]), each bounded by its own timeout.
//!
//! Requests are futures in a `FuturesUnordered`, polled by the engine's loop one reply at a time; nothing is
//! spawned. A request forgotten with [`Requests::forget`] (its peer was dropped) still runs to its timeout, but its
//! reply is ignored.

use std::{collections::HashMap, sync::Arc, time::Duration};

use chain_types::{Body, DynChainSource, H256, Header, HeadersRequest, Receipt};
use futures::{StreamExt, future::BoxFuture, stream::FuturesUnordered};
use tokio::time::Instant;

use crate::peer::Kind;

/// Which header job a header request serves.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum HeaderJob {
    /// Skeleton headers from the master, for the batches starting at `from` (forward sync).
    Skeleton {
        /// First block number the skeleton covers.
        from: u64,
        /// Skeleton headers asked for.
        count: u64,
    },
    /// A fill batch starting at `start` (forward sync).
    Fill {
        /// First block of the batch.
        start: u64,
    },
    /// Headers from `from`, straight from the master (forward sync, no skeleton).
    Tail {
        /// First block asked for.
        from: u64,
        /// Headers asked for.
        count: u64,
    },
    /// The trusted head by hash (trusted-head sync).
    Head,
    /// A falling batch whose highest block is `top` (trusted-head sync).
    Reverse {
        /// Highest block of the batch.
        top: u64,
    },
}

/// What a request asked for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Ask {
    /// Headers, for a header job.
    Headers(HeaderJob, HeadersRequest),
    /// Bodies of these blocks.
    Bodies(Vec<u64>),
    /// Receipts of these blocks.
    Receipts(Vec<u64>),
}

impl Ask {
    /// The data kind (and so the peer's request slot) of the request.
    pub(crate) const fn kind(&self) -> Kind {
        match self {
            Self::Headers(..) => Kind::Headers,
            Self::Bodies(_) => Kind::Bodies,
            Self::Receipts(_) => Kind::Receipts,
        }
    }
}

/// A request in flight.
#[derive(Debug)]
pub(crate) struct Pending {
    /// The peer asked.
    pub(crate) peer: String,
    /// What it was asked.
    pub(crate) ask: Ask,
}

/// What a source answered.
#[derive(Debug)]
pub(crate) enum Payload {
    /// Headers.
    Headers(Vec<Header>),
    /// Bodies.
    Bodies(Vec<Body>),
    /// Receipt lists.
    Receipts(Vec<Vec<Receipt>>),
}

impl Payload {
    /// Items in the reply.
    pub(crate) fn len(&self) -> usize {
        match self {
            Self::Headers(h) => h.len(),
            Self::Bodies(b) => b.len(),
            Self::Receipts(r) => r.len(),
        }
    }
}

/// A finished request: its id, the outcome (`None` on timeout) and how long it took.
#[derive(Debug)]
pub(crate) struct Reply {
    /// The request id.
    pub(crate) id: u64,
    /// The source's answer, `None` if the request timed out.
    pub(crate) outcome: Option<Result<Payload, chain_types::Error>>,
    /// Time from sending to the answer (or the timeout).
    pub(crate) elapsed: Duration,
}

/// The requests in flight.
#[derive(Default)]
pub(crate) struct Requests {
    inflight: FuturesUnordered<BoxFuture<'static, Reply>>,
    pending: HashMap<u64, Pending>,
    next_id: u64,
}

impl std::fmt::Debug for Requests {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Requests")
            .field("inflight", &self.inflight.len())
            .field("pending", &self.pending)
            .finish_non_exhaustive()
    }
}

impl Requests {
    /// Sends `ask` to `source` (peer `peer`) with timeout `ttl`; `hashes` are the block hashes of a body or
    /// receipt request. Returns the request id.
    pub(crate) fn start(
        &mut self,
        peer: &str,
        source: Arc<dyn DynChainSource>,
        ask: Ask,
        hashes: Vec<H256>,
        ttl: Duration,
    ) -> u64 {
        let id = self.next_id;
        self.next_id += 1;
        let fut: BoxFuture<'static, Reply> = match &ask {
            Ask::Headers(_, request) => {
                let request = *request;
                Box::pin(timed(id, ttl, async move {
                    source.headers_boxed(request).await.map(Payload::Headers)
                }))
            }
            Ask::Bodies(_) => Box::pin(timed(id, ttl, async move {
                source.bodies_boxed(hashes).await.map(Payload::Bodies)
            })),
            Ask::Receipts(_) => Box::pin(timed(id, ttl, async move {
                source.receipts_boxed(hashes).await.map(Payload::Receipts)
            })),
        };
        self.inflight.push(fut);
        self.pending.insert(
            id,
            Pending {
                peer: peer.to_owned(),
                ask,
            },
        );
        id
    }

    /// Takes the bookkeeping of request `id`; `None` if it was forgotten.
    pub(crate) fn take(&mut self, id: u64) -> Option<Pending> {
        self.pending.remove(&id)
    }

    /// Forgets request `id` (its reply will be ignored) and returns what it asked.
    pub(crate) fn forget(&mut self, id: u64) -> Option<Pending> {
        self.pending.remove(&id)
    }

    /// Whether no request future is running (forgotten ones included).
    pub(crate) fn is_idle(&self) -> bool {
        self.inflight.is_empty()
    }

    /// The next finished request; `None` when none is running.
    ///
    /// # Cancel safety
    ///
    /// Cancel safe: a reply not returned stays queued.
    pub(crate) async fn next(&mut self) -> Option<Reply> {
        self.inflight.next().await
    }
}

/// Runs a request under a timeout and measures it.
async fn timed<F>(id: u64, ttl: Duration, fut: F) -> Reply
where
    F: std::future::Future<Output = Result<Payload, chain_types::Error>>,
{
    let started = Instant::now();
    let outcome = tokio::time::timeout(ttl, fut).await.ok();
    Reply {
        id,
        outcome,
        elapsed: started.elapsed(),
    }
}

#[cfg(test)]
mod tests {
    use chain_types::{ChainSource, Error, HeadersRequest};

    use super::*;

    struct Never;

    impl ChainSource for Never {
        fn id(&self) -> &str {
            "never"
        }
        fn head(&self) -> (H256, chain_types::U256) {
            (H256::zero(), 0.into())
        }
        async fn headers(&self, r: HeadersRequest) -> Result<Vec<Header>, Error> {
            if r.amount == 0 {
                std::future::pending::<()>().await;
            }
            Ok(vec![Header::default()])
        }
        async fn bodies(&self, _: Vec<H256>) -> Result<Vec<Body>, Error> {
            Ok(vec![])
        }
        async fn receipts(&self, _: Vec<H256>) -> Result<Vec<Vec<Receipt>>, Error> {
            Ok(vec![])
        }
    }

    #[tokio::test(start_paused = true)]
    async fn replies_carry_their_ids_and_timeouts_yield_none() {
        let mut r = Requests::default();
        let source: Arc<dyn DynChainSource> = Arc::new(Never);
        let job = HeaderJob::Head;
        let stall = r.start(
            "never",
            source.clone(),
            Ask::Headers(job, HeadersRequest::rising(0, 0)),
            vec![],
            Duration::from_secs(5),
        );
        let quick = r.start(
            "never",
            source,
            Ask::Headers(job, HeadersRequest::rising(0, 1)),
            vec![],
            Duration::from_secs(5),
        );
        let first = r.next().await.unwrap();
        assert_eq!(first.id, quick);
        assert!(matches!(first.outcome, Some(Ok(Payload::Headers(ref h))) if h.len() == 1));
        let second = r.next().await.unwrap();
        assert_eq!(second.id, stall);
        assert!(second.outcome.is_none(), "a stalled request times out");
        assert_eq!(second.elapsed, Duration::from_secs(5));
        assert!(r.is_idle());
        assert_eq!(r.take(stall).map(|p| p.peer), Some("never".to_owned()));
        assert!(r.take(stall).is_none());
        assert!(r.forget(quick).is_some());
    }
}
