//! HTTP proxy integrations (AWS `HTTP_PROXY`): build the upstream request, send it over a pooled
//! connection, relay the response.
//!
//! The upstream request gets the URI template with path parameters substituted as received (their
//! percent-encoding untouched), the client's query string, the client's end-to-end headers, `Host` set
//! to the upstream, and `X-Forwarded-For/-Proto/-Port`. Forwarding headers (`X-Forwarded-*`,
//! `Forwarded`, `X-Real-IP`, …) from a peer outside `trusted_proxies` are dropped and ours written;
//! a trusted proxy's are kept (its `X-Forwarded-For` extended). Path-override headers
//! (`X-Original-URL`, `X-Rewrite-URL`) are never forwarded. Hop-by-hop headers and those named in
//! `Connection` are dropped. The request goes out through the outbound [`client`]
//! (pool, retry of a stale connection, the integration timeout over connect, send and the response
//! head); a body the pipeline buffered goes with the head, a larger one streams from the client
//! through the one body reader. The response is relayed by [`relay`].
//! Cost: the request head is written into the connection's reused buffer; no allocation.

use bytes::Bytes;
use monoio::time::Instant;
use std::time::Duration;

use super::relay;
use crate::cache::capture::Capture;
use crate::conn::ClientConn;
use crate::context::{Context, RequestBody};
use crate::error::GatewayError;
use crate::http::body::{self as chunk, LAST_CHUNK};
use crate::http::body_reader::{self, BodyReader};
use crate::http::head::{Framing, RequestHead};
use crate::http::{encode, is_forwarding_header, is_hop_by_hop, is_path_override, named_in_connection};
use crate::loaded::LoadedTable;
use crate::mapping::{self, Form};
use crate::outbound::client::{self, BodyFailure, Call, InBuffer, SendBody};
use crate::outbound::pool::UpstreamConn;
use crate::response::Flow;
use crate::table::mapping::{Op, Target};
use crate::table::{HttpProxy, UriPart};
use crate::trace::TraceContext;

pub async fn forward(
    outbound: crate::outbound::Outbound<'_>,
    table: &LoadedTable,
    conn: &mut ClientConn,
    (head, ctx): (&RequestHead, &mut Context),
    proxy: &HttpProxy,
    capture: Option<&mut Capture<'_>>,
) -> Result<Flow, GatewayError> {
    let settings = &table.table.settings;
    let target = &table.upstream_targets[proxy.upstream as usize];
    ctx.record.integration_started = Some(quanta::Instant::now());
    let trace = TraceContext::continue_or_start(head.only(b"traceparent"));
    ctx.record.trace = Some(trace);

    // Made now, so a mapping can send it (`$context.requestId`); the response carries it anyway.
    ctx.id();
    let mut out = std::mem::take(&mut conn.wbuf);
    out.clear();
    if let Err(e) = write_request_head(&mut out, conn, (head, ctx), proxy, table, &trace) {
        conn.wbuf = out;
        return Err(e);
    }
    // A body the pipeline received whole goes with the head, which makes the request replayable.
    let whole = match (&ctx.body, head.framing) {
        (_, Framing::None) => true,
        (RequestBody::Buffered(body), Framing::Chunked) => {
            chunk::encode_chunk(&mut out, body);
            out.extend_from_slice(LAST_CHUNK);
            true
        }
        (RequestBody::Buffered(body), _) => {
            out.extend_from_slice(body);
            true
        }
        _ => false,
    };
    let call = Call {
        idempotent: head.method.is_idempotent(),
        head_request: head.method == crate::http::Method::Head,
        whole,
        ..Call::new(target, Instant::now() + Duration::from_millis(proxy.timeout_ms), settings)
    };
    let answer = if whole {
        client::exchange(outbound.pool, outbound.counters, &call, &mut out, &mut InBuffer).await
    } else {
        // From here on the body is being read: whatever happens, it is no longer waiting.
        ctx.body = RequestBody::Consumed;
        let reader = BodyReader::new(head.framing.into(), settings.limits.max_body_bytes);
        let mut streamed = Streamed { conn: &mut *conn, reader, chunked: head.framing == Framing::Chunked };
        client::exchange(outbound.pool, outbound.counters, &call, &mut out, &mut streamed).await
    };
    conn.wbuf = out;
    let answer = answer?;
    ctx.record.integration_answered(answer.head.status);
    relay::relay(outbound, (table, &proxy.response_mappings), conn, ctx, head, answer, capture).await
}

/// A request body streamed from the client to the upstream as it arrives: `Content-Length`
/// bodies as they are (no copy), chunked ones re-framed (extensions and trailers dropped).
struct Streamed<'c> {
    conn: &'c mut ClientConn,
    reader: BodyReader,
    chunked: bool,
}

impl SendBody for Streamed<'_> {
    async fn send(&mut self, up: &mut UpstreamConn, out: &mut Vec<u8>) -> Result<(), BodyFailure> {
        loop {
            let piece = body_reader::next(&mut self.reader, self.conn)
                .await
                .map_err(|e| BodyFailure::Client(GatewayError::from(e)))?;
            if !self.chunked {
                if piece.consumed > 0 {
                    let data: Bytes = self.conn.rbuf.split_to(piece.consumed).freeze();
                    up.stream.write_bytes(data).await.map_err(|_| BodyFailure::Upstream)?;
                }
                if piece.done {
                    return Ok(());
                }
                continue;
            }
            if let Some((s, e)) = piece.data {
                chunk::encode_chunk(out, &self.conn.rbuf[s..e]);
            }
            let _ = self.conn.rbuf.split_to(piece.consumed);
            if piece.done {
                out.extend_from_slice(LAST_CHUNK);
            }
            // Written when the client's bytes so far are used up, and in 64 KiB pieces.
            if piece.done || (self.conn.rbuf.is_empty() && !out.is_empty()) || out.len() >= 64 * 1024 {
                let (res, buf) = up.stream.write_vec(std::mem::take(out)).await;
                *out = buf;
                out.clear();
                res.map_err(|_| BodyFailure::Upstream)?;
            }
            if piece.done {
                return Ok(());
            }
        }
    }
}

fn write_request_head(
    out: &mut Vec<u8>,
    conn: &ClientConn,
    (head, ctx): (&RequestHead, &Context),
    proxy: &HttpProxy,
    table: &LoadedTable,
    trace: &TraceContext,
) -> Result<(), GatewayError> {
    let authority = &table.upstream_authorities[proxy.upstream as usize];
    let client_cert_header =
        |name: &[u8]| table.mtls_header_names.iter().any(|h| h.as_bytes().eq_ignore_ascii_case(name));
    let routed_path = ctx.routed_path(head);
    // Parameter mapping reads `$context` values: gathered only for a route that maps.
    let maps = !proxy.request_mappings.is_empty();
    let fields =
        maps.then(|| crate::request_vars::so_far(table, crate::request_vars::Peer::of(conn), head, ctx, 0)).flatten();
    let params = crate::request_vars::route_params(table, ctx);
    let request = fields.as_ref().map(|fields| mapping::Request { head, ctx, params, fields, response: None });
    let mut value = mapping::Value::new();
    out.extend_from_slice(head.method_bytes());
    out.push(b' ');
    let path_mapping = proxy.request_mappings.iter().find(|m| m.target == Target::Path);
    let mapped_path = match (path_mapping, &request) {
        (Some(m), Some(r)) => mapping::value(&m.value, r, Form::Url, &mut value),
        _ => false,
    };
    if mapped_path {
        // A value from a header or `$context` could climb out of the path the route meant.
        if has_dot_segment(&value) {
            return Err(DOT_SEGMENT);
        }
        if !value.starts_with(b"/") {
            out.push(b'/');
        }
        out.extend_from_slice(&value);
    }
    for part in proxy.path.iter().filter(|_| !mapped_path) {
        match part {
            UriPart::Literal(text) => out.extend_from_slice(text.as_bytes()),
            UriPart::Param(i) => {
                if let Some(&(start, end)) = ctx.captures.get(*i as usize) {
                    out.extend_from_slice(&routed_path[start as usize..end as usize]);
                }
            }
        }
    }
    query(out, proxy, head.query(), request.as_ref());
    out.extend_from_slice(b" HTTP/1.1\r\n");
    encode::header(out, b"Host", authority.as_bytes());
    let peer = conn.peer.ip().to_canonical();
    let trusted = table.table.settings.trusted_proxies.iter().any(|net| net.contains(&peer));
    let mut forwarded_for: Option<&[u8]> = None;
    let (mut client_proto, mut client_port) = (false, false);
    // AWS drops a SigV4 `Authorization` once it is verified: the upstream gets the identity, not
    // a reusable signature.
    let signed = ctx.authorized.iam().is_some();
    // A mapping that overwrites or removes a header replaces the client's (every line of it).
    let mapped = |name: &[u8]| maps && proxy.request_mappings.iter().any(|m| m.replaces_header(name));
    for (name, value) in head.headers() {
        if is_hop_by_hop(name)
            || (signed && name.eq_ignore_ascii_case(b"authorization"))
            || mapped(name)
            || name.eq_ignore_ascii_case(b"host")
            || name.eq_ignore_ascii_case(b"expect")
            || name.eq_ignore_ascii_case(b"traceparent")
            || is_path_override(name)
            // A trace Portico had to restart drops the old trace's vendor state, as W3C asks.
            || (!trace.continued && name.eq_ignore_ascii_case(b"tracestate"))
            // Only Portico sets client-certificate headers: a client's own would be forged.
            || client_cert_header(name)
            || named_in_connection(name, head.values(b"connection"))
        {
            continue;
        }
        if is_forwarding_header(name) {
            // From anyone but a trusted proxy these are forged: dropped, and ours written below.
            if !trusted {
                continue;
            }
            if name.eq_ignore_ascii_case(b"x-forwarded-for") {
                // Only the first is kept and extended; several XFF headers would be ambiguous.
                forwarded_for.get_or_insert(value);
                continue;
            }
            client_proto |= name.eq_ignore_ascii_case(b"x-forwarded-proto");
            client_port |= name.eq_ignore_ascii_case(b"x-forwarded-port");
        }
        encode::header(out, name, value);
    }
    if let Some(r) = &request {
        for m in proxy.request_mappings.iter().filter(|m| m.op != Op::Remove) {
            // A value the request lacks (or that cannot go in a header) leaves the header out.
            if let Target::Header(name) = &m.target
                && mapping::value(&m.value, r, Form::Header, &mut value)
            {
                encode::header(out, name.as_bytes(), &value);
            }
        }
    }
    out.extend_from_slice(b"X-Forwarded-For: ");
    if let Some(previous) = forwarded_for {
        out.extend_from_slice(previous);
        out.extend_from_slice(b", ");
    }
    encode::ip(out, peer);
    out.extend_from_slice(b"\r\n");
    if !client_proto {
        out.extend_from_slice(if conn.stream.is_tls() {
            b"X-Forwarded-Proto: https\r\n"
        } else {
            b"X-Forwarded-Proto: http\r\n"
        });
    }
    if !client_port {
        encode::header_u64(out, b"X-Forwarded-Port", u64::from(conn.local_port));
    }
    encode::header(out, b"traceparent", &trace.header_value());
    if let Some(identity) = conn.stream.identity() {
        for (name, field) in &identity.mtls.headers {
            let value = identity.client_cert.field(*field);
            // Header values cannot carry line breaks (the PEM has them): percent-encode, as nginx's
            // $ssl_client_escaped_cert does.
            let escaped = percent_encoding::utf8_percent_encode(value, percent_encoding::CONTROLS);
            encode::header(out, name.as_bytes(), escaped.to_string().as_bytes());
        }
    }
    match head.framing {
        Framing::None => {}
        Framing::Length(n) => encode::header_u64(out, b"Content-Length", n),
        Framing::Chunked => encode::header(out, b"Transfer-Encoding", b"chunked"),
    }
    out.extend_from_slice(b"\r\n");
    Ok(())
}

const DOT_SEGMENT: GatewayError =
    GatewayError::new(crate::error::ResponseType::BadRequest, "a mapped path holds a dot segment");

/// Whether a path has a `.` or `..` segment, in any encoding of the dots.
fn has_dot_segment(path: &[u8]) -> bool {
    path.split(|&b| b == b'/').any(|segment| {
        let mut decoded = mapping::Value::new();
        crate::http::query::decode_into(&mut decoded, segment);
        decoded.as_slice() == b"." || decoded.as_slice() == b".."
    })
}

/// The upstream request's query: the URI's fixed one, then the client's, with `r`'s query
/// mappings applied when the proxy has any. WebSocket routes' HTTP integrations write theirs here
/// too.
pub(crate) fn query(
    out: &mut Vec<u8>,
    proxy: &HttpProxy,
    client_query: Option<&[u8]>,
    r: Option<&mapping::Request<'_>>,
) {
    let client_query = client_query.filter(|q| !q.is_empty());
    let query_mapped = proxy.request_mappings.iter().any(|m| matches!(m.target, Target::Query(_)));
    match r {
        Some(r) if query_mapped => mapped_query(out, proxy, client_query, r),
        _ => plain_query(out, proxy, client_query),
    }
}

/// The URI's fixed query, then the client's.
fn plain_query(out: &mut Vec<u8>, proxy: &HttpProxy, client_query: Option<&[u8]>) {
    match (&proxy.query, client_query) {
        (Some(fixed), Some(q)) => {
            out.push(b'?');
            out.extend_from_slice(fixed.as_bytes());
            out.push(b'&');
            out.extend_from_slice(q);
        }
        (Some(fixed), None) => {
            out.push(b'?');
            out.extend_from_slice(fixed.as_bytes());
        }
        (None, Some(q)) => {
            out.push(b'?');
            out.extend_from_slice(q);
        }
        (None, None) => {}
    }
}

/// The URI's fixed query, the client's parameters but those a mapping overwrites or removes,
/// then the mapped ones (`name=value`, encoded).
fn mapped_query(out: &mut Vec<u8>, proxy: &HttpProxy, client_query: Option<&[u8]>, r: &mapping::Request<'_>) {
    let mut sep = b'?';
    let mut put = |out: &mut Vec<u8>, piece: &[u8]| {
        out.push(sep);
        out.extend_from_slice(piece);
        sep = b'&';
    };
    if let Some(fixed) = &proxy.query {
        put(out, fixed.as_bytes());
    }
    let replaced = |name: &[u8]| {
        let mut decoded = mapping::Value::new();
        crate::http::query::decode_into(&mut decoded, name);
        proxy.request_mappings.iter().any(|m| m.replaces_query(&decoded))
    };
    for piece in client_query.unwrap_or_default().split(|&b| b == b'&').filter(|p| !p.is_empty()) {
        let name = piece.split(|&b| b == b'=').next().unwrap_or_default();
        if !replaced(name) {
            put(out, piece);
        }
    }
    let mut value = mapping::Value::new();
    for m in proxy.request_mappings.iter().filter(|m| m.op != Op::Remove) {
        if let Target::Query(name) = &m.target
            && mapping::value(&m.value, r, Form::Url, &mut value)
        {
            let encoded: String = percent_encoding::utf8_percent_encode(name, mapping::COMPONENT).collect();
            let mut pair = encoded.into_bytes();
            pair.push(b'=');
            pair.extend_from_slice(&value);
            put(out, &pair);
        }
    }
}
