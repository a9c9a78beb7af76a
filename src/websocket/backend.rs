//! A WebSocket route's HTTP proxy integration: the event goes to the backend as one request and
//! its answer is read whole.
//!
//! - `$connect`: the integration URI with the client's query string, and the client's headers
//!   but the hop-by-hop and `Sec-WebSocket-*` ones (the backend decides with them); no body.
//! - a message: its bytes as the body (`text/plain; charset=utf-8` or
//!   `application/octet-stream`).
//! - `$disconnect`: no body.
//!
//! Must not: choose routes or touch the client's socket. Cost: one request written into the
//! connection's buffer; the answer is read whole (up to the gateway's body limit).

use std::time::Duration;

use bytes::Bytes;
use monoio::time::Instant;

use crate::error::GatewayError;
use crate::http::encode;
use crate::http::head::RequestHead;
use crate::loaded::LoadedTable;
use crate::outbound::Outbound;
use crate::outbound::client::{self, Call};
use crate::table::{HttpProxy, UriPart};

/// What the backend answered.
pub struct Answer {
    pub status: u16,
    /// Its `Sec-WebSocket-Protocol` (`$connect` negotiates the subprotocol with it).
    pub protocol: Option<Vec<u8>>,
    pub body: Bytes,
}

/// What goes to the backend.
pub enum Event<'a> {
    Connect(&'a RequestHead),
    Message { text: bool, body: &'a [u8] },
    Disconnect,
}

/// Sends `event` to `proxy`'s backend and reads its answer; `out` is scratch for the request.
pub async fn call(
    outbound: Outbound<'_>,
    table: &LoadedTable,
    proxy: &HttpProxy,
    event: Event<'_>,
    out: &mut Vec<u8>,
) -> Result<Answer, GatewayError> {
    out.clear();
    out.extend_from_slice(b"POST ");
    for part in &proxy.path {
        if let UriPart::Literal(l) = part {
            out.extend_from_slice(l.as_bytes());
        }
    }
    let client_query = match &event {
        Event::Connect(head) => head.query(),
        _ => None,
    };
    let mut first = true;
    for q in proxy.query.as_deref().map(str::as_bytes).into_iter().chain(client_query) {
        out.push(if first { b'?' } else { b'&' });
        first = false;
        out.extend_from_slice(q);
    }
    out.extend_from_slice(b" HTTP/1.1\r\n");
    encode::header(out, b"Host", table.upstream_authorities[proxy.upstream as usize].as_bytes());
    let body: &[u8] = match event {
        Event::Connect(head) => {
            for (name, value) in head.headers() {
                let skip = crate::http::is_hop_by_hop(name)
                    || name.eq_ignore_ascii_case(b"host")
                    || name.eq_ignore_ascii_case(b"content-length")
                    || name.len() >= 14 && name[..14].eq_ignore_ascii_case(b"sec-websocket-");
                if !skip {
                    encode::header(out, name, value);
                }
            }
            b""
        }
        Event::Message { text, body } => {
            let ct: &[u8] = if text { b"text/plain; charset=utf-8" } else { b"application/octet-stream" };
            encode::header(out, b"Content-Type", ct);
            body
        }
        Event::Disconnect => b"",
    };
    encode::header_u64(out, b"Content-Length", body.len() as u64);
    out.extend_from_slice(b"\r\n");
    out.extend_from_slice(body);

    let settings = &table.table.settings;
    let fetch = Call {
        target: &table.upstream_targets[proxy.upstream as usize],
        deadline: Instant::now() + Duration::from_millis(proxy.timeout_ms),
        connect_timeout_ms: settings.upstream.connect_timeout_ms,
        pool_idle_timeout: Duration::from_millis(settings.upstream.pool_idle_timeout_ms),
        buffer_bytes: settings.workers.upstream_buffer_bytes,
        idempotent: false,
        head_request: false,
        whole: true,
    };
    let max_idle = settings.upstream.pool_idle_max_per_upstream;
    let fetched =
        client::fetch(outbound.pool, outbound.counters, &fetch, out, settings.limits.max_body_bytes, max_idle).await?;
    Ok(Answer {
        status: fetched.status,
        protocol: fetched.header(b"sec-websocket-protocol").map(<[u8]>::to_vec),
        body: fetched.body,
    })
}
