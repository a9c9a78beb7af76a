//! A cache hit as a [`Response`]: the stored status and headers, `Age`, `Cache-Status`; the body
//! is the stored `Bytes` (the writer copies a small one after the head, writes a large one without
//! a copy). No allocation; no upstream.

use crate::response::{Body, Headers, Response};

use super::store::Stored;

/// SUCCEED_WITH_RESPONSE_HEADER's header: the client asked to invalidate and was not allowed.
pub const WARNING: &[u8] = b"Warning: 199 portico \"unauthorized cache invalidation ignored\"\r\n";

pub struct Hit<'a> {
    pub entry: &'a Stored,
    /// The body to send (opened if the entry is sealed).
    pub body: bytes::Bytes,
    pub now_ms: u64,
    pub status_header: bool,
    pub collapsed: bool,
    pub warning: bool,
}

/// The response a hit sends: the stored status and headers, `Age`, `Cache-Status`; the framing and
/// the common headers are the writer's.
pub fn response<'e>(hit: &Hit<'e>) -> Response<'e> {
    let e = hit.entry;
    let mut response = Response::new(e.status, Headers::Encoded(&e.headers), Body::Shared(hit.body.clone()));
    response.extra.header_u64(b"Age", hit.now_ms.saturating_sub(e.stored_at_ms) / 1000);
    if hit.status_header {
        let ttl_s = e.expires_at_ms.saturating_sub(hit.now_ms) / 1000;
        let lines = &mut response.extra;
        lines.line(b"Cache-Status: portico; hit; ttl=");
        lines.line(itoa::Buffer::new().format(ttl_s).as_bytes());
        lines.line(if hit.collapsed { b"; collapsed\r\n" } else { b"\r\n" });
    }
    if hit.warning {
        response.extra.line(WARNING);
    }
    response
}
