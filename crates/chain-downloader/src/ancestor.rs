//! The span request of the common-ancestor search.
//!
//! The first step of the search asks the master peer for up to 12 headers spread evenly (at most 16 apart) below
//! its head, from just below the remote head down towards the local head, and takes the highest one known locally
//! as the ancestor. If none is known, a binary search over single headers follows (in the sync engine).

/// Most headers in the span request.
const MAX_SPAN_COUNT: i64 = 12;
/// Largest distance between two headers of the span request.
const MAX_SPAN: i64 = 16;

/// The span request for a remote head `remote` and a local head `local`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SpanRequest {
    /// First block number asked for.
    pub from: u64,
    /// Number of headers asked for.
    pub count: u64,
    /// Distance between two consecutive headers (`skip + 1`).
    pub span: u64,
    /// Last block number asked for.
    pub max: u64,
}

impl SpanRequest {
    /// The block numbers the request selects.
    pub fn numbers(&self) -> impl Iterator<Item = u64> + '_ {
        (0..self.count).map(|i| self.from + i * self.span)
    }
}

/// Computes the span request: the tip is avoided on purpose (the search starts one below the remote head), the
/// span is between 2 and 16 and the count between 2 and 12.
pub fn span_request(remote: u64, local: u64) -> SpanRequest {
    let to_i64 = |v: u64| i64::try_from(v).unwrap_or(i64::MAX);
    let request_head = to_i64(remote).saturating_sub(1).max(0);
    let request_bottom = to_i64(local).saturating_sub(1).max(0);
    let total = request_head - request_bottom;
    let span = (1 + total / MAX_SPAN_COUNT).clamp(2, MAX_SPAN);
    let count = (1 + total / span).clamp(2, MAX_SPAN_COUNT);
    let from = (request_head - (count - 1) * span).max(0);
    let max = from + (count - 1) * span;
    let to_u64 = |v: i64| u64::try_from(v).unwrap_or(0);
    SpanRequest {
        from: to_u64(from),
        count: to_u64(count),
        span: to_u64(span),
        max: to_u64(max),
    }
}
