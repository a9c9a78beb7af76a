//! A WebSocket route's integration, called for one event.
//!
//! - An HTTP proxy gets one request, its answer read whole: `$connect` is `POST` to the
//!   integration URI with the client's query string, and the client's headers but the hop-by-hop
//!   and `Sec-WebSocket-*` ones, no body; a message is its bytes as the body (`text/plain;
//!   charset=utf-8` or `application/octet-stream`); `$disconnect` has no body.
//! - A function gets AWS's event ([`super::event`]) and answers as AWS reads it (`statusCode`,
//!   `headers`, `body`); a function error is the integration failing.
//!
//! Must not: choose routes or touch the client's socket. Cost: one request written into the
//! connection's buffer; the answer is read whole (up to the gateway's body limit).

use std::time::Duration;

use bytes::Bytes;
use monoio::time::Instant;

use super::event::{self, Connection, Kind};
use crate::error::{GatewayError, ResponseType};
use crate::http::encode;
use crate::http::head::RequestHead;
use crate::loaded::LoadedTable;
use crate::outbound::Outbound;
use crate::outbound::client::{self, Call};
use crate::table::{FunctionIntegration, HttpProxy, UriPart};

const FUNCTION_FAILED: GatewayError = GatewayError::new(ResponseType::FunctionError, "the route's function failed");
const NO_HOST: GatewayError =
    GatewayError::new(ResponseType::FunctionUnavailable, "the function's local host could not start");

/// A WebSocket route's integration.
#[derive(Clone, Copy)]
pub enum Target<'t> {
    Http(&'t HttpProxy),
    Function(&'t FunctionIntegration),
}

/// What the integration answered.
pub struct Answer {
    pub status: u16,
    /// Its `Sec-WebSocket-Protocol` (`$connect` negotiates the subprotocol with it).
    pub protocol: Option<Vec<u8>>,
    /// The answer for the client (a route response; `None`: a function that gave no `body`),
    /// and whether it is binary (`None`: as the message was, when it is UTF-8).
    pub body: Option<Bytes>,
    pub binary: Option<bool>,
}

/// Calls `target` for one event of connection `c` on `route_key`; `out` is scratch for the request.
pub async fn call(
    outbound: Outbound<'_>,
    table: &LoadedTable,
    target: Target<'_>,
    (c, route_key): (&Connection, &str),
    kind: Kind<'_>,
    out: &mut Vec<u8>,
) -> Result<Answer, GatewayError> {
    match target {
        Target::Http(proxy) => {
            let event = match kind {
                Kind::Connect(head) => Event::Connect(head),
                Kind::Message { text, body } => Event::Message { text, body },
                Kind::Disconnect { .. } => Event::Disconnect,
            };
            call_http(outbound, table, proxy, event, out).await
        }
        Target::Function(f) => {
            let target = table.function_target(f.function, f.qualifier_query.as_deref()).ok_or(NO_HOST)?;
            let request_id = event::request_id();
            let write = |out: &mut Vec<u8>| event::write(out, c, route_key, &kind, &request_id);
            let timeout = Duration::from_millis(f.timeout_ms);
            let invoked =
                crate::function::invoke::invoke(outbound, &table.table.settings, &target, timeout, out, write).await?;
            if invoked.function_error {
                return Err(FUNCTION_FAILED);
            }
            let answer = event::read_answer(&invoked.payload);
            let (binary, body) = match answer.reply {
                Some((binary, bytes)) => (Some(binary), Some(Bytes::from(bytes))),
                None => (None, None),
            };
            Ok(Answer { status: answer.status, protocol: answer.protocol, body, binary })
        }
    }
}

/// What goes to an HTTP backend.
enum Event<'a> {
    Connect(&'a RequestHead),
    Message { text: bool, body: &'a [u8] },
    Disconnect,
}

/// Sends `event` to `proxy`'s backend and reads its answer; `out` is scratch for the request.
async fn call_http(
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
    let target = &table.upstream_targets[proxy.upstream as usize];
    let fetch = Call::new(target, Instant::now() + Duration::from_millis(proxy.timeout_ms), settings);
    let max_idle = settings.upstream.pool_idle_max_per_upstream;
    let fetched =
        client::fetch(outbound.pool, outbound.counters, &fetch, out, settings.limits.max_body_bytes, max_idle).await?;
    Ok(Answer {
        status: fetched.status,
        protocol: fetched.header(b"sec-websocket-protocol").map(<[u8]>::to_vec),
        body: Some(fetched.body),
        binary: None,
    })
}
