//! Relaying an upstream response to the client: head rewritten (hop-by-hop headers dropped, AWS's
//! `x-amzn-Remapped-*` names for REST APIs, request id added), body streamed with the framing the
//! client can take, and the upstream connection returned to the pool when it is clean.
//!
//! A small body that arrived with the head goes out in the same write as the head. Larger bodies are
//! written straight from the upstream read buffer without copying. Once the head is written nothing
//! can turn into an error response, so failures after that point close the client connection.

use std::net::SocketAddr;
use std::time::Duration;

use monoio::time::Instant;

use bytes::Buf;

use super::pool::UpstreamConn;
use crate::cache::capture::Capture;
use crate::error::{GatewayError, ResponseType};
use crate::http::body::{self, ChunkedDecoder};
use crate::http::conn::ClientConn;
use crate::http::response_head::{self, ResponseFraming, ResponseHead};
use crate::http::{Method, encode, is_hop_by_hop, named_in_connection};
use crate::pipeline::Request;
use crate::response::{Flow, common_headers};
use crate::runtime::worker::Worker;
use crate::table::{Protocol, Settings};

/// Upstream response heads larger than this are a bad gateway.
const MAX_RESPONSE_HEAD_BYTES: usize = 64 * 1024;
/// Body bytes that arrived with the head and are copied into the head's write.
const COALESCE_MAX_BYTES: usize = 32 * 1024;

pub enum HeadFailure {
    /// The upstream closed or reset before sending a byte (a stale pooled connection, maybe).
    Closed,
    Timeout,
    Invalid,
}

impl HeadFailure {
    pub fn into_error(self) -> GatewayError {
        match self {
            HeadFailure::Closed => {
                GatewayError::new(ResponseType::IntegrationFailure, "upstream closed before responding")
            }
            HeadFailure::Timeout => GatewayError::new(ResponseType::IntegrationTimeout, "integration timed out"),
            HeadFailure::Invalid => {
                GatewayError::new(ResponseType::IntegrationFailure, "upstream sent an invalid response head")
            }
        }
    }
}

/// Reads one upstream response into `up.rbuf`, skipping interim 1xx responses, until `deadline`.
pub async fn read_head(
    up: &mut UpstreamConn,
    head_request: bool,
    deadline: Instant,
) -> Result<ResponseHead, HeadFailure> {
    let mut received_any = false;
    loop {
        if !up.rbuf.is_empty() {
            match response_head::parse(&up.rbuf, head_request, MAX_RESPONSE_HEAD_BYTES) {
                Ok(Some(h)) if (100..200).contains(&h.status) && h.status != 101 => {
                    up.rbuf.advance(h.len);
                    continue;
                }
                Ok(Some(h)) if h.status == 101 || h.status < 100 => {
                    return Err(HeadFailure::Invalid);
                }
                Ok(Some(h)) => return Ok(h),
                Ok(None) => {}
                Err(_) => return Err(HeadFailure::Invalid),
            }
        }
        match monoio::time::timeout_at(deadline, fill(up)).await {
            Ok(Ok(1..)) => received_any = true,
            Ok(_) if received_any => return Err(HeadFailure::Invalid),
            Ok(_) => return Err(HeadFailure::Closed),
            Err(_) => return Err(HeadFailure::Timeout),
        }
    }
}

async fn fill(up: &mut UpstreamConn) -> std::io::Result<usize> {
    up.stream.read_into(&mut up.rbuf, up.chunk).await
}

async fn fill_timeout(up: &mut UpstreamConn, timeout: Duration) -> std::io::Result<usize> {
    crate::http::within(timeout, up.stream.read_into(&mut up.rbuf, up.chunk)).await
}

#[allow(clippy::too_many_arguments)]
pub async fn relay(
    worker: &Worker,
    conn: &mut ClientConn,
    req: &Request<'_>,
    mut up: UpstreamConn,
    rh: ResponseHead,
    settings: &Settings,
    pool_key: (SocketAddr, bool),
    mut capture: Option<&mut Capture<'_>>,
) -> Result<Flow, GatewayError> {
    let client_11 = req.head.version_minor == 1;
    let length_known = matches!(rh.framing, ResponseFraming::Empty | ResponseFraming::Length(_));
    let mut flow = if req.head.keep_alive && !worker.draining.get() && (client_11 || length_known) {
        Flow::KeepAlive
    } else {
        Flow::Close
    };
    // The request body was consumed by forwarding, so the connection is clean for the next request.
    let chunk_to_client = client_11 && matches!(rh.framing, ResponseFraming::Chunked | ResponseFraming::UntilClose);
    if let Some(c) = capture.as_deref_mut() {
        let length = match rh.framing {
            ResponseFraming::Empty => Some(0),
            ResponseFraming::Length(n) => Some(n),
            ResponseFraming::Chunked => None,
            // Complete only when the upstream closes: never stored.
            ResponseFraming::UntilClose => Some(u64::MAX),
        };
        let bytes = &up.rbuf[..rh.len];
        let slice = |(s, e): (u32, u32)| &bytes[s as usize..e as usize];
        c.decide(
            rh.status,
            length,
            req.head.method == Method::Head,
            rh.headers.iter().map(|&(n, v)| (slice(n), slice(v))),
        );
    }
    write_response_head(&mut conn.wbuf, req, &up, &rh, flow, chunk_to_client, capture.as_deref_mut());
    conn.record.response(rh.status, conn.wbuf.len());
    up.rbuf.advance(rh.len);
    let body_timeout = Duration::from_millis(req.limits.body_timeout_ms);

    let mut complete = false;
    let upstream_clean = match rh.framing {
        ResponseFraming::Empty => {
            if conn.flush().await.is_err() {
                flow = Flow::Close;
            }
            complete = true;
            up.rbuf.is_empty()
        }
        ResponseFraming::Length(n) => {
            match relay_length(conn, &mut up, n, body_timeout, capture.as_deref_mut()).await {
                Ok(clean) => {
                    complete = true;
                    clean
                }
                Err(()) => {
                    flow = Flow::Close;
                    false
                }
            }
        }
        ResponseFraming::Chunked => {
            match relay_chunked(conn, &mut up, chunk_to_client, body_timeout, capture.as_deref_mut()).await {
                Ok(()) => {
                    complete = true;
                    up.rbuf.is_empty()
                }
                // Nothing reached the client yet (the head waits for the first chunk): the client
                // gets a 502 instead of an empty reply.
                Err(Broken::BeforeAnyByte) => {
                    conn.wbuf.clear();
                    return Err(GatewayError::new(
                        ResponseType::IntegrationFailure,
                        "upstream chunked body broke before any byte was relayed",
                    ));
                }
                Err(Broken::Relaying) => {
                    flow = Flow::Close;
                    false
                }
            }
        }
        ResponseFraming::UntilClose => {
            if relay_until_close(conn, &mut up, chunk_to_client, body_timeout).await.is_err() {
                flow = Flow::Close;
            }
            false
        }
    };
    if let Some(c) = capture {
        c.complete = complete;
    }
    if upstream_clean && rh.keep_alive {
        worker.pool.checkin(pool_key, up, settings.upstream.pool_idle_max_per_upstream);
    }
    Ok(flow)
}

/// Where a chunked body broke.
enum Broken {
    /// Before the response head went out: an error response can still be sent.
    BeforeAnyByte,
    Relaying,
}

fn write_response_head(
    out: &mut Vec<u8>,
    req: &Request<'_>,
    up: &UpstreamConn,
    rh: &ResponseHead,
    flow: Flow,
    chunked: bool,
    capture: Option<&mut Capture<'_>>,
) {
    let bytes = &up.rbuf[..rh.len];
    let slice = |(s, e): (u32, u32)| &bytes[s as usize..e as usize];
    let rest = req.protocol == Protocol::Rest;
    out.clear();
    encode::status_line(out, rh.status, slice(rh.reason));
    let end_to_end_start = out.len();
    let connection_values = || rh.fields(bytes).filter(|(n, _)| n.eq_ignore_ascii_case(b"connection")).map(|(_, v)| v);
    let mut has_type = false;
    let mut head_length: Option<&[u8]> = None;
    for (name, value) in rh.fields(bytes) {
        if name.eq_ignore_ascii_case(b"content-length") {
            head_length = Some(value);
        }
        let remap = rest
            && [&b"connection"[..], b"content-length", b"date", b"server"].iter().any(|r| r.eq_ignore_ascii_case(name));
        if remap {
            out.extend_from_slice(b"x-amzn-Remapped-");
            encode::header(out, name, value);
            continue;
        }
        // Our own request id is authoritative; an upstream's header of the same name would duplicate it.
        let id_header: &[u8] = if rest { b"x-amzn-requestid" } else { b"apigw-requestid" };
        if is_hop_by_hop(name)
            || name.eq_ignore_ascii_case(b"date")
            || name.eq_ignore_ascii_case(id_header)
            || named_in_connection(name, connection_values())
        {
            continue;
        }
        has_type |= name.eq_ignore_ascii_case(b"content-type");
        encode::header(out, name, value);
    }
    if rest && !has_type {
        encode::header(out, b"Content-Type", b"application/json");
    }
    if let Some(c) = capture {
        // What a hit will replay: the end-to-end headers as this client got them.
        if c.storing {
            c.headers.extend_from_slice(&out[end_to_end_start..]);
        }
        c.write_headers(out);
    }
    match rh.framing {
        ResponseFraming::Length(n) => encode::header_u64(out, b"Content-Length", n),
        ResponseFraming::Empty if req.head.method == Method::Head => {
            if let Some(v) = head_length {
                encode::header(out, b"Content-Length", v);
            }
        }
        ResponseFraming::Empty => {}
        ResponseFraming::Chunked | ResponseFraming::UntilClose if chunked => {
            encode::header(out, b"Transfer-Encoding", b"chunked")
        }
        ResponseFraming::Chunked | ResponseFraming::UntilClose => {}
    }
    common_headers(out, req.protocol, &req.id, flow, req.head.version_minor == 0);
    out.extend_from_slice(b"\r\n");
}

/// Relays a `Content-Length` body; `Ok(clean)` tells whether the upstream sent exactly that much.
async fn relay_length(
    conn: &mut ClientConn,
    up: &mut UpstreamConn,
    n: u64,
    timeout: Duration,
    mut capture: Option<&mut Capture<'_>>,
) -> Result<bool, ()> {
    let mut remaining = n;
    let first = (up.rbuf.len() as u64).min(remaining) as usize;
    if first <= COALESCE_MAX_BYTES {
        if let Some(c) = capture.as_deref_mut() {
            c.body(&up.rbuf[..first]);
        }
        conn.wbuf.extend_from_slice(&up.rbuf[..first]);
        up.rbuf.advance(first);
        remaining -= first as u64;
    }
    conn.flush().await.map_err(drop)?;
    loop {
        let take = (up.rbuf.len() as u64).min(remaining) as usize;
        if take > 0 {
            let chunk = up.rbuf.split_to(take).freeze();
            remaining -= take as u64;
            if let Some(c) = capture.as_deref_mut() {
                c.body(&chunk);
            }
            conn.write_bytes(chunk).await.map_err(drop)?;
        }
        if remaining == 0 {
            return Ok(up.rbuf.is_empty());
        }
        if !matches!(fill_timeout(up, timeout).await, Ok(1..)) {
            return Err(());
        }
    }
}

/// Relays a chunked body: validated and passed through as is to an HTTP/1.1 client, decoded for an
/// HTTP/1.0 one. The head (already in the write buffer) goes out with the first valid chunk, so a
/// body that is broken from its first byte can still become a 502.
async fn relay_chunked(
    conn: &mut ClientConn,
    up: &mut UpstreamConn,
    to_chunked: bool,
    timeout: Duration,
    mut capture: Option<&mut Capture<'_>>,
) -> Result<(), Broken> {
    let mut decoder = ChunkedDecoder::new();
    let mut flushed = false;
    let broken = |flushed: bool| if flushed { Broken::Relaying } else { Broken::BeforeAnyByte };
    loop {
        let step = decoder.step(&up.rbuf).map_err(|_| broken(flushed))?;
        if let (Some(c), Some((s, e))) = (capture.as_deref_mut(), step.data) {
            c.body(&up.rbuf[s..e]);
        }
        if to_chunked {
            conn.wbuf.extend_from_slice(&up.rbuf[..step.consumed]);
        } else if let Some((s, e)) = step.data {
            conn.wbuf.extend_from_slice(&up.rbuf[s..e]);
        }
        up.rbuf.advance(step.consumed);
        let progressed = step.consumed > 0 || flushed;
        if step.done || (up.rbuf.is_empty() && progressed) || conn.wbuf.len() >= 64 * 1024 {
            conn.flush().await.map_err(|_| Broken::Relaying)?;
            flushed = true;
        }
        if step.done {
            return Ok(());
        }
        if up.rbuf.is_empty() && !matches!(fill_timeout(up, timeout).await, Ok(1..)) {
            return Err(broken(flushed));
        }
    }
}

/// Relays a body that ends when the upstream closes, as chunks to an HTTP/1.1 client.
async fn relay_until_close(
    conn: &mut ClientConn,
    up: &mut UpstreamConn,
    to_chunked: bool,
    timeout: Duration,
) -> Result<(), ()> {
    loop {
        if !up.rbuf.is_empty() {
            if to_chunked {
                body::encode_chunk(&mut conn.wbuf, &up.rbuf);
            } else {
                conn.wbuf.extend_from_slice(&up.rbuf);
            }
            up.rbuf.clear();
        }
        conn.flush().await.map_err(drop)?;
        match fill_timeout(up, timeout).await {
            Ok(1..) => {}
            Ok(_) => {
                if to_chunked {
                    conn.wbuf.extend_from_slice(body::LAST_CHUNK);
                    conn.flush().await.map_err(drop)?;
                }
                return Ok(());
            }
            Err(_) => return Err(()),
        }
    }
}
