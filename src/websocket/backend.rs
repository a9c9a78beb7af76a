//! A WebSocket route's integration, called for one event.
//!
//! - An HTTP proxy gets one request, its answer read whole: `$connect` is `POST` to the
//!   integration URI with the client's query string, and the client's headers but the hop-by-hop
//!   and `Sec-WebSocket-*` ones, no body; a message is its bytes as the body (`text/plain;
//!   charset=utf-8` or `application/octet-stream`); `$disconnect` has no body.
//! - An HTTP proxy's `request_parameters` (AWS's `integration.request.header.*` /
//!   `.querystring.*` from `route.request.*` of the upgrade, `context.*` — `connectionId`,
//!   `eventType`, `messageId`, ... — and stage variables) are added to every event's request.
//! - A function gets AWS's event ([`crate::function::websocket`]) and answers as AWS reads it (`statusCode`,
//!   `headers`, `body`); a function error is the integration failing.
//!
//! Must not: choose routes or touch the client's socket. Cost: one request written into the
//! connection's buffer; the answer is read whole (up to the gateway's body limit).

use std::time::Duration;

use bytes::Bytes;
use monoio::time::Instant;

use super::Scope;
use crate::error::{GatewayError, ResponseType};
use crate::function::websocket::{self as event, EventIds, Kind};
use crate::http::encode;
use crate::http::head::RequestHead;
use crate::mapping::{self, Form};
use crate::outbound::Outbound;
use crate::outbound::client::{self, Call};
use crate::request_vars::Progress;
use crate::table::mapping::{Op, Target as MapTarget};
use crate::table::{FunctionIntegration, HttpProxy, Mock, UriPart};

const FUNCTION_FAILED: GatewayError = GatewayError::new(ResponseType::FunctionError, "the route's function failed");
const NO_HOST: GatewayError =
    GatewayError::new(ResponseType::FunctionUnavailable, "the function's local host could not start");

/// A WebSocket route's integration.
#[derive(Clone, Copy)]
pub enum Target<'t> {
    Http(&'t HttpProxy),
    Function(&'t FunctionIntegration),
    /// AWS's MOCK: its status (for `$connect`) and its body (the route response), no call.
    Mock(&'t Mock),
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

/// Calls `target` for one event (with `ids`) of the connection on route `route`; `out` is
/// scratch for the request.
pub async fn call(
    outbound: Outbound<'_>,
    s: &Scope<'_>,
    (target, route): (Target<'_>, u32),
    kind: Kind<'_>,
    ids: &EventIds,
    out: &mut Vec<u8>,
) -> Result<Answer, GatewayError> {
    let table = s.table;
    match target {
        Target::Mock(mock) => {
            let body = (!mock.body.is_empty()).then(|| Bytes::copy_from_slice(mock.body.as_bytes()));
            Ok(Answer { status: mock.status, protocol: None, body, binary: None })
        }
        Target::Http(proxy) => {
            let event_type = kind.event_type();
            let event = match kind {
                Kind::Connect(head) => Event::Connect(head),
                Kind::Message { text, body } => Event::Message { text, body },
                Kind::Disconnect { .. } => Event::Disconnect,
            };
            call_http(outbound, s, proxy, (event, event_type, route, ids), out).await
        }
        Target::Function(f) => {
            let target = table.function_target(f.function, f.qualifier_query.as_deref()).ok_or(NO_HOST)?;
            let route_key = super::observe::route_key(s, Some(route));
            let write = |out: &mut Vec<u8>| event::write(out, s.c, route_key, &kind, ids, &s.ctx.authorized);
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
    s: &Scope<'_>,
    proxy: &HttpProxy,
    (event, event_type, route, ids): (Event<'_>, &'static str, u32, &EventIds),
    out: &mut Vec<u8>,
) -> Result<Answer, GatewayError> {
    let table = s.table;
    // Parameter mapping reads the event's `$context` values: gathered only for a route that maps
    // (a value the event lacks leaves its header or parameter out, as for HTTP routes).
    let progress = Progress { status: 0, response_length: 0, latency_us: 0, integration_us: None };
    let fields = (!proxy.request_mappings.is_empty())
        .then(|| super::observe::fields(s, event_type, Some(route), ids, progress))
        .flatten();
    let request = fields.as_ref().map(|fields| mapping::Request {
        head: s.head,
        ctx: s.ctx,
        params: &[],
        fields,
        response: None,
    });
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
    crate::integration::http_proxy::query(out, proxy, client_query, request.as_ref());
    out.extend_from_slice(b" HTTP/1.1\r\n");
    encode::header(out, b"Host", table.upstream_authorities[proxy.upstream as usize].as_bytes());
    let body: &[u8] = match event {
        Event::Connect(head) => {
            for (name, value) in head.headers() {
                let skip = crate::http::is_hop_by_hop(name)
                    || name.eq_ignore_ascii_case(b"host")
                    || name.eq_ignore_ascii_case(b"content-length")
                    || name.len() >= 14 && name[..14].eq_ignore_ascii_case(b"sec-websocket-")
                    || proxy.request_mappings.iter().any(|m| m.replaces_header(name));
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
    if let Some(r) = &request {
        let mut value = mapping::Value::new();
        for m in proxy.request_mappings.iter().filter(|m| m.op != Op::Remove) {
            if let MapTarget::Header(name) = &m.target
                && mapping::value(&m.value, r, Form::Header, &mut value)
            {
                encode::header(out, name.as_bytes(), &value);
            }
        }
    }
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
