//! HTTP proxy integrations (AWS `HTTP_PROXY`): build the upstream request, send it over a pooled
//! connection, relay the response.
//!
//! The upstream request gets the URI template with path parameters substituted as received (their
//! percent-encoding untouched), the client's query string, the client's end-to-end headers, `Host` set
//! to the upstream, and `X-Forwarded-For/-Proto/-Port`. Forwarding headers (`X-Forwarded-*`,
//! `Forwarded`, `X-Real-IP`, …) from a peer outside `trusted_proxies` are dropped and ours written;
//! a trusted proxy's are kept (its `X-Forwarded-For` extended). Path-override headers
//! (`X-Original-URL`, `X-Rewrite-URL`) are never forwarded. Hop-by-hop headers and those named in
//! `Connection` are dropped. A request that fails on a reused connection before any response byte
//! arrived is retried once on a new connection if it is idempotent and was sent whole from memory.
//! The integration timeout covers connect, send and the response head.
//! Cost: the request head is written into the connection's reused buffer; no allocation.

use std::net::SocketAddr;
use std::time::Duration;

use monoio::time::Instant;

use bytes::BytesMut;
use monoio::net::TcpStream;

use super::pool::UpstreamConn;
use super::relay;
use crate::cache::capture::Capture;
use crate::error::{GatewayError, ResponseType};
use crate::http::body::{self, ChunkedDecoder};
use crate::http::conn::ClientConn;
use crate::http::head::Framing;
use crate::http::{encode, is_forwarding_header, is_hop_by_hop, is_path_override, named_in_connection};
use crate::pipeline::Request;
use crate::response::Flow;
use crate::runtime::worker::Worker;
use crate::table::loaded::LoadedTable;
use crate::table::{HttpProxy, UriPart};
use crate::tls::session::TlsIo;
use crate::tls::stream::UpstreamStream;
use crate::trace::TraceContext;
use rustls::pki_types::ServerName;
use std::sync::Arc;

const TIMEOUT: GatewayError = GatewayError::new(ResponseType::IntegrationTimeout, "integration timed out");
const CONNECT_FAILED: GatewayError = GatewayError::new(ResponseType::IntegrationFailure, "cannot connect to upstream");
const TLS_FAILED: GatewayError =
    GatewayError::new(ResponseType::IntegrationFailure, "TLS handshake with upstream failed");
const SEND_FAILED: GatewayError = GatewayError::new(ResponseType::IntegrationFailure, "upstream closed while sending");
const TOO_LARGE: GatewayError = GatewayError::new(ResponseType::RequestTooLarge, "request body over the limit");

/// Where sending the request body failed.
enum BodyFailure {
    Client(GatewayError),
    Upstream,
}

pub async fn forward(
    worker: &Worker,
    table: &LoadedTable,
    conn: &mut ClientConn,
    req: &Request<'_>,
    proxy: &HttpProxy,
    capture: Option<&mut Capture<'_>>,
) -> Result<Flow, GatewayError> {
    let head = req.head;
    let settings = &table.table.settings;
    let addr = table.upstream_addrs[proxy.upstream as usize];
    let upstream_tls = table.upstream_server_names[proxy.upstream as usize]
        .clone()
        .and_then(|name| Some((table.upstream_tls.clone()?, name)));
    let pool_key = (addr, upstream_tls.is_some());
    let deadline = Instant::now() + Duration::from_millis(proxy.timeout_ms);
    conn.record.integration_started = Some(quanta::Instant::now());
    let trace = TraceContext::continue_or_start(head.only(b"traceparent"));
    conn.record.trace = Some(trace);

    let mut out = std::mem::take(&mut conn.wbuf);
    out.clear();
    write_request_head(&mut out, conn, req, proxy, table, proxy.upstream as usize, &trace);
    // A body already fully buffered is sent with the head, which also makes the request replayable.
    let replayable = match head.framing {
        Framing::None => true,
        Framing::Length(n) if conn.rbuf.len() as u64 >= n => {
            out.extend_from_slice(&conn.rbuf.split_to(n as usize));
            true
        }
        _ => false,
    };
    // The request head waits in `out`; `100 Continue` goes through the (emptied) write buffer.
    if !replayable && head.expect_continue && conn.rbuf.is_empty() && conn.send_continue().await.is_err() {
        return Ok(Flow::Close);
    }

    let mut attempt = 0;
    let (up, response) = loop {
        attempt += 1;
        let idle_timeout = Duration::from_millis(settings.upstream.pool_idle_timeout_ms);
        // The one retry goes out on a new connection, never on another pooled one.
        let pooled = if attempt == 1 { worker.pool.checkout(pool_key, idle_timeout) } else { None };
        let reused = pooled.is_some();
        if reused {
            worker.metrics.worker.upstream_reused.inc();
        }
        // Until the body is sent, a failure leaves unread body bytes on the client connection.
        let unread_body = |e: GatewayError| if replayable { e } else { e.closing() };
        let mut up = match pooled {
            Some(up) => up,
            None => {
                worker.metrics.worker.upstream_connected.inc();
                let timeouts = (deadline, settings.upstream.connect_timeout_ms);
                connect(addr, timeouts, settings.workers.upstream_buffer_bytes, upstream_tls.clone())
                    .await
                    .map_err(unread_body)?
            }
        };
        let retry_ok = reused && replayable && head.method.is_idempotent() && attempt == 1;
        let (res, buf) = monoio::time::timeout_at(deadline, up.stream.write_vec(out)).await.unwrap_or_else(|_| {
            // Timed out: the buffer went with the cancelled write.
            (Err(std::io::ErrorKind::TimedOut.into()), Vec::new())
        });
        out = buf;
        match res {
            Ok(_) => {}
            Err(e) if e.kind() == std::io::ErrorKind::TimedOut => {
                conn.wbuf = out;
                return Err(unread_body(TIMEOUT));
            }
            Err(_) if retry_ok => continue,
            Err(_) => {
                conn.wbuf = out;
                return Err(unread_body(SEND_FAILED));
            }
        }
        if !replayable {
            out.clear();
            match send_body(conn, &mut up, req, &mut out).await {
                Ok(()) => {}
                Err(BodyFailure::Client(e)) => {
                    conn.wbuf = out;
                    return Err(e);
                }
                Err(BodyFailure::Upstream) => {
                    conn.wbuf = out;
                    return Err(SEND_FAILED.closing());
                }
            }
        }
        match relay::read_head(&mut up, head.method == crate::http::Method::Head, deadline).await {
            Ok(response) => {
                conn.record.integration_answered(response.status);
                break (up, response);
            }
            Err(relay::HeadFailure::Closed) if retry_ok => continue,
            Err(failure) => {
                conn.wbuf = out;
                return Err(failure.into_error());
            }
        }
    };
    out.clear();
    conn.wbuf = out;
    relay::relay(worker, conn, req, up, response, settings, pool_key, capture).await
}

/// Connects (and, for `https://`, completes the TLS handshake) within the connect timeout and the
/// integration deadline.
async fn connect(
    addr: SocketAddr,
    (deadline, connect_timeout_ms): (Instant, u64),
    buffer_bytes: usize,
    tls: Option<(Arc<rustls::ClientConfig>, ServerName<'static>)>,
) -> Result<UpstreamConn, GatewayError> {
    let connect_deadline = deadline.min(Instant::now() + Duration::from_millis(connect_timeout_ms));
    let open = async {
        let tcp = TcpStream::connect_addr(addr).await.map_err(|_| CONNECT_FAILED)?;
        let _ = tcp.set_nodelay(true);
        match tls {
            None => Ok(UpstreamStream::Plain(tcp)),
            Some((config, name)) => match TlsIo::connect(tcp, config, name).await {
                Ok(tls) => Ok(UpstreamStream::Tls(Box::new(tls), ())),
                Err(e) => {
                    log::warn!("TLS handshake with upstream {addr} failed: {e}");
                    Err(TLS_FAILED)
                }
            },
        }
    };
    match monoio::time::timeout_at(connect_deadline, open).await {
        Ok(Ok(stream)) => Ok(UpstreamConn { stream, rbuf: BytesMut::with_capacity(buffer_bytes), chunk: buffer_bytes }),
        Ok(Err(e)) => Err(e),
        Err(_) if connect_deadline < deadline => Err(CONNECT_FAILED),
        Err(_) => Err(TIMEOUT),
    }
}

fn write_request_head(
    out: &mut Vec<u8>,
    conn: &ClientConn,
    req: &Request<'_>,
    proxy: &HttpProxy,
    table: &LoadedTable,
    upstream: usize,
    trace: &TraceContext,
) {
    let authority = &table.upstream_authorities[upstream];
    let client_cert_header =
        |name: &[u8]| table.mtls_header_names.iter().any(|h| h.as_bytes().eq_ignore_ascii_case(name));
    let head = req.head;
    out.extend_from_slice(head.method_bytes());
    out.push(b' ');
    for part in &proxy.path {
        match part {
            UriPart::Literal(text) => out.extend_from_slice(text.as_bytes()),
            UriPart::Param(i) => {
                if let Some(&(start, end)) = req.captures.get(*i as usize) {
                    out.extend_from_slice(&req.routed_path[start as usize..end as usize]);
                }
            }
        }
    }
    let client_query = head.query().filter(|q| !q.is_empty());
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
    out.extend_from_slice(b" HTTP/1.1\r\n");
    encode::header(out, b"Host", authority.as_bytes());
    let peer = conn.peer.ip().to_canonical();
    let trusted = table.table.settings.trusted_proxies.iter().any(|net| net.contains(&peer));
    let mut forwarded_for: Option<&[u8]> = None;
    let (mut client_proto, mut client_port) = (false, false);
    for (name, value) in head.headers() {
        if is_hop_by_hop(name)
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
    out.extend_from_slice(b"X-Forwarded-For: ");
    if let Some(previous) = forwarded_for {
        out.extend_from_slice(previous);
        out.extend_from_slice(b", ");
    }
    // Writing into a Vec cannot fail.
    let _ = std::io::Write::write_fmt(out, format_args!("{peer}\r\n"));
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
}

/// Streams a request body that was not fully buffered from the client to the upstream.
async fn send_body(
    conn: &mut ClientConn,
    up: &mut UpstreamConn,
    req: &Request<'_>,
    out: &mut Vec<u8>,
) -> Result<(), BodyFailure> {
    let client_gone = || BodyFailure::Client(crate::http::conn::BODY_ENDED_EARLY);
    match req.head.framing {
        Framing::None => Ok(()),
        Framing::Length(mut remaining) => loop {
            let take = (conn.rbuf.len() as u64).min(remaining) as usize;
            if take > 0 {
                let chunk = conn.rbuf.split_to(take).freeze();
                remaining -= take as u64;
                up.stream.write_bytes(chunk).await.map_err(|_| BodyFailure::Upstream)?;
            }
            if remaining == 0 {
                return Ok(());
            }
            if conn.fill_body(req.limits).await.map_err(BodyFailure::Client)? == 0 {
                return Err(client_gone());
            }
        },
        Framing::Chunked => {
            let mut decoder = ChunkedDecoder::new();
            let mut total = 0u64;
            loop {
                let step = decoder.step(&conn.rbuf).map_err(|_| {
                    BodyFailure::Client(GatewayError::new(ResponseType::BadRequest, "invalid chunked body"))
                })?;
                if let Some((s, e)) = step.data {
                    total += (e - s) as u64;
                    if total > req.limits.max_body_bytes {
                        return Err(BodyFailure::Client(TOO_LARGE));
                    }
                    body::encode_chunk(out, &conn.rbuf[s..e]);
                }
                let _ = conn.rbuf.split_to(step.consumed);
                if step.done {
                    out.extend_from_slice(body::LAST_CHUNK);
                }
                if step.done || (conn.rbuf.is_empty() && !out.is_empty()) || out.len() >= 64 * 1024 {
                    let (res, buf) = up.stream.write_vec(std::mem::take(out)).await;
                    *out = buf;
                    out.clear();
                    res.map_err(|_| BodyFailure::Upstream)?;
                }
                if step.done {
                    return Ok(());
                }
                if conn.rbuf.is_empty() && conn.fill_body(req.limits).await.map_err(BodyFailure::Client)? == 0 {
                    return Err(client_gone());
                }
            }
        }
    }
}
