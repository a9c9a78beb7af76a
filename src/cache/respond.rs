//! Writing a cache hit: the stored status and headers, fresh framing, `Age`, `Cache-Status`, and
//! the headers every response carries; the body straight from the stored `Bytes`.
//!
//! Cost: the head is written into the connection's reused buffer, a small body copied after it (one
//! write), a large one written from the entry without copying. No allocation; no upstream.

use crate::http::conn::ClientConn;
use crate::http::{Method, encode};
use crate::pipeline::Request;
use crate::response::{Flow, common_headers};

use super::store::Stored;

/// SUCCEED_WITH_RESPONSE_HEADER's header: the client asked to invalidate and was not allowed.
pub const WARNING: &[u8] = b"Warning: 199 portico \"unauthorized cache invalidation ignored\"\r\n";

/// Bodies up to this size are copied into the head's write.
const COALESCE_MAX_BYTES: usize = 16 * 1024;

pub struct Hit<'a> {
    pub entry: &'a Stored,
    /// The body to send (opened if the entry is sealed).
    pub body: bytes::Bytes,
    pub now_ms: u64,
    pub status_header: bool,
    pub collapsed: bool,
    pub warning: bool,
}

pub async fn write(conn: &mut ClientConn, req: &Request<'_>, hit: Hit<'_>) -> Flow {
    let mut flow = if req.head.keep_alive {
        match conn.discard_body(req.head, req.limits).await {
            Ok(flow) => flow,
            Err(_) => Flow::Close,
        }
    } else {
        Flow::Close
    };
    let e = hit.entry;
    let body = hit.body;
    let out = &mut conn.wbuf;
    out.clear();
    encode::status_line(out, e.status, b"");
    out.extend_from_slice(&e.headers);
    encode::header_u64(out, b"Content-Length", body.len() as u64);
    encode::header_u64(out, b"Age", hit.now_ms.saturating_sub(e.stored_at_ms) / 1000);
    if hit.status_header {
        out.extend_from_slice(b"Cache-Status: portico; hit; ttl=");
        out.extend_from_slice(itoa::Buffer::new().format(e.expires_at_ms.saturating_sub(hit.now_ms) / 1000).as_bytes());
        if hit.collapsed {
            out.extend_from_slice(b"; collapsed");
        }
        out.extend_from_slice(b"\r\n");
    }
    if hit.warning {
        out.extend_from_slice(WARNING);
    }
    common_headers(out, req.protocol, &req.id, flow, req.head.version_minor == 0);
    out.extend_from_slice(b"\r\n");
    let head_len = out.len();
    conn.record.response(e.status, head_len);
    let send_body = req.head.method != Method::Head && !body.is_empty();
    let large = body.len() > COALESCE_MAX_BYTES;
    if send_body && !large {
        conn.wbuf.extend_from_slice(&body);
    }
    let mut sent = conn.flush().await.is_ok();
    if sent && send_body && large {
        sent = conn.write_bytes(body).await.is_ok();
    }
    if !sent {
        flow = Flow::Close;
    }
    flow
}
