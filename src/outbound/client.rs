//! The outbound HTTP/1.1 client: one request to an upstream over the worker's keep-alive
//! [`Pool`], the response head back as a value ([`Answer`]), its body read by the one body reader —
//! streamed by the caller (the relay) or buffered up to a bound ([`Answer::body`], [`fetch`]).
//! HTTP proxy integrations use it; function targets, authorizers and service integrations will.
//!
//! Connections come from the pool when a clean one is idle there, else are opened (TLS for
//! `https://` upstreams) within the connect timeout. A request that fails on a reused connection
//! before any response byte arrived is retried once on a new connection if it is idempotent and
//! was sent whole from memory. The deadline covers connect, send and the response head.
//!
//! Must not: know what the request is for; the caller writes the request head. Cost: the request
//! is written from the caller's buffer; no allocation but a new connection's read buffer.

use std::net::SocketAddr;
use std::time::Duration;

use bytes::{Buf, Bytes};
use monoio::net::TcpStream;
use monoio::time::Instant;

use super::pool::{Pool, PoolKey, UpstreamConn};
use crate::error::{GatewayError, ResponseType};
use crate::http::body_reader::{self, BodyReader, Source};
use crate::http::response_head::{self, ResponseHead};
use crate::metrics::WorkerCounters;
use crate::tls::session::TlsIo;
use crate::tls::stream::UpstreamStream;

const TIMEOUT: GatewayError = GatewayError::new(ResponseType::IntegrationTimeout, "integration timed out");
const CONNECT_FAILED: GatewayError = GatewayError::new(ResponseType::IntegrationFailure, "cannot connect to upstream");
const TLS_FAILED: GatewayError =
    GatewayError::new(ResponseType::IntegrationFailure, "TLS handshake with upstream failed");
const SEND_FAILED: GatewayError = GatewayError::new(ResponseType::IntegrationFailure, "upstream closed while sending");
const CLOSED: GatewayError = GatewayError::new(ResponseType::IntegrationFailure, "upstream closed before responding");
const INVALID: GatewayError =
    GatewayError::new(ResponseType::IntegrationFailure, "upstream sent an invalid response head");
const BODY_FAILED: GatewayError =
    GatewayError::new(ResponseType::IntegrationFailure, "upstream response body broken or too large");

/// Upstream response heads larger than this are a bad gateway.
const MAX_RESPONSE_HEAD_BYTES: usize = 64 * 1024;

/// Where a request goes (built once per loaded table): an address, and TLS with its server name for `https://` ones.
#[derive(Debug, Clone)]
pub struct Target {
    pub addr: SocketAddr,
    pub tls: Option<(std::sync::Arc<rustls::ClientConfig>, rustls::pki_types::ServerName<'static>)>,
}

impl Target {
    /// The pool's key: the address, and whether its connections are TLS.
    pub fn pool_key(&self) -> (SocketAddr, bool) {
        (self.addr, self.tls.is_some())
    }
}

/// How one request is made.
pub struct Call<'a> {
    pub target: &'a Target,
    /// For connect, send and the response head.
    pub deadline: Instant,
    pub connect_timeout_ms: u64,
    /// Pooled connections idle longer than this are not used.
    pub pool_idle_timeout: Duration,
    /// How much a new connection's read buffer grows by.
    pub buffer_bytes: usize,
    /// The request is idempotent (RFC 9110): it may be retried on a new connection.
    pub idempotent: bool,
    /// The request is `HEAD`: the response has no body whatever it says.
    pub head_request: bool,
    /// The whole request is in the buffer given to [`exchange`]; otherwise its body follows from
    /// the [`SendBody`], and the request cannot be replayed.
    pub whole: bool,
}

impl<'a> Call<'a> {
    /// A call to `target` within `deadline` with the gateway's upstream settings: a whole request,
    /// not idempotent, not `HEAD` (callers that know better set those fields).
    pub fn new(target: &'a Target, deadline: Instant, settings: &crate::table::Settings) -> Call<'a> {
        Call {
            target,
            deadline,
            connect_timeout_ms: settings.upstream.connect_timeout_ms,
            pool_idle_timeout: Duration::from_millis(settings.upstream.pool_idle_timeout_ms),
            buffer_bytes: settings.workers.upstream_buffer_bytes,
            idempotent: false,
            head_request: false,
            whole: true,
        }
    }
}

/// Where sending a streamed request body failed.
pub enum BodyFailure {
    /// On the client's side (its error is the response).
    Client(GatewayError),
    Upstream,
}

/// A request body that is not in memory: sent after the head.
#[allow(async_fn_in_trait)]
pub trait SendBody {
    async fn send(&mut self, up: &mut UpstreamConn, scratch: &mut Vec<u8>) -> Result<(), BodyFailure>;
}

/// No body beyond what the request buffer holds.
pub struct InBuffer;

impl SendBody for InBuffer {
    async fn send(&mut self, _: &mut UpstreamConn, _: &mut Vec<u8>) -> Result<(), BodyFailure> {
        Ok(())
    }
}

/// An upstream's answer: its connection, with the response head parsed at the front of its read
/// buffer (body bytes that arrived with it follow).
pub struct Answer {
    pub conn: UpstreamConn,
    pub head: ResponseHead,
    pub key: PoolKey,
}

impl Answer {
    /// The head's bytes, which `head`'s spans index.
    pub fn head_bytes(&self) -> &[u8] {
        &self.conn.rbuf[..self.head.len]
    }

    /// Drops the head from the read buffer: what is left is body. Call once, before reading it.
    pub fn skip_head(&mut self) {
        self.conn.rbuf.advance(self.head.len);
    }

    /// The body reader for this response's framing.
    pub fn reader(&self, max: u64) -> BodyReader {
        BodyReader::new(self.head.framing.into(), max)
    }

    /// Reads the whole body (after [`Answer::skip_head`]) into memory, up to `max` bytes, with at
    /// most `timeout` of silence between reads (longer is an integration timeout).
    pub async fn body(&mut self, max: u64, timeout: Duration) -> Result<Bytes, GatewayError> {
        let mut reader = self.reader(max);
        let mut src = Timed { up: &mut self.conn, timeout };
        body_reader::buffer(&mut reader, &mut src).await.map_err(|e| match e.fault {
            crate::http::Fault::BodyTooSlow => TIMEOUT,
            _ => BODY_FAILED,
        })
    }

    /// Gives the connection back to the pool when it can carry another request: the response
    /// said keep-alive, and its body ended exactly where the read buffer does.
    pub fn release(self, pool: &Pool, clean: bool, max_idle: usize) {
        self.release_keeping_head(pool, clean, max_idle);
    }

    /// As [`Answer::release`], handing back the parsed head (no copy of it).
    pub fn release_keeping_head(self, pool: &Pool, clean: bool, max_idle: usize) -> ResponseHead {
        let Answer { conn, head, key } = self;
        if clean && head.keep_alive && conn.rbuf.is_empty() {
            pool.checkin(key, conn, max_idle);
        }
        head
    }
}

/// An upstream connection read with a silence limit: a body [`Source`].
pub struct Timed<'a> {
    pub up: &'a mut UpstreamConn,
    pub timeout: Duration,
}

impl Source for Timed<'_> {
    fn buffer(&mut self) -> &mut bytes::BytesMut {
        &mut self.up.rbuf
    }

    async fn fill(&mut self) -> Result<usize, crate::http::Error> {
        let up = &mut *self.up;
        crate::http::within(self.timeout, up.stream.read_into(&mut up.rbuf, up.chunk))
            .await
            .map_err(|_| crate::http::Error::new(crate::http::Fault::BodyTooSlow, "upstream body too slow"))
    }
}

/// Sends the request in `out` (its head, and its body when `call.whole`; then `body`'s) and
/// reads the response head. `out` is left empty, with its capacity, for the caller to reuse.
pub async fn exchange(
    pool: &Pool,
    counters: &WorkerCounters,
    call: &Call<'_>,
    out: &mut Vec<u8>,
    body: &mut impl SendBody,
) -> Result<Answer, GatewayError> {
    let key = call.target.pool_key();
    // Until the body is sent, a failure leaves unread body bytes on the client connection.
    let unread_body = |e: GatewayError| if call.whole { e } else { e.closing() };
    let mut request = std::mem::take(out);
    let mut attempt = 0;
    let result = loop {
        attempt += 1;
        // The one retry goes out on a new connection, never on another pooled one.
        let pooled = if attempt == 1 { pool.checkout(key, call.pool_idle_timeout) } else { None };
        let reused = pooled.is_some();
        let mut up = match pooled {
            Some(up) => {
                counters.upstream_reused.inc();
                up
            }
            None => {
                counters.upstream_connected.inc();
                // Boxed: a new connection (a TLS handshake) is the rare case, and every pending
                // exchange would otherwise carry its state.
                match Box::pin(connect(call)).await {
                    Ok(up) => up,
                    Err(e) => break Err(unread_body(e)),
                }
            }
        };
        let retry_ok = reused && call.whole && call.idempotent && attempt == 1;
        let (res, buf) =
            monoio::time::timeout_at(call.deadline, up.stream.write_vec(request)).await.unwrap_or_else(|_| {
                // Timed out: the buffer went with the cancelled write.
                (Err(std::io::ErrorKind::TimedOut.into()), Vec::new())
            });
        request = buf;
        match res {
            Ok(_) => {}
            Err(e) if e.kind() == std::io::ErrorKind::TimedOut => break Err(unread_body(TIMEOUT)),
            Err(_) if retry_ok => continue,
            Err(_) => break Err(unread_body(SEND_FAILED)),
        }
        if !call.whole {
            request.clear();
            match body.send(&mut up, &mut request).await {
                Ok(()) => {}
                Err(BodyFailure::Client(e)) => break Err(e),
                Err(BodyFailure::Upstream) => break Err(SEND_FAILED.closing()),
            }
        }
        match read_head(&mut up, call.head_request, call.deadline).await {
            Ok(head) => break Ok(Answer { conn: up, head, key }),
            Err(HeadFailure::Closed) if retry_ok => continue,
            Err(failure) => break Err(failure.into_error()),
        }
    };
    request.clear();
    *out = request;
    result
}

/// Makes one request whose body is in `out` and reads the whole response into memory, all within
/// the call's deadline: the head (its bytes, and the parsed spans into them) and a body of at most
/// `max_body` bytes. The connection goes back to the pool when it is clean.
pub async fn fetch(
    pool: &Pool,
    counters: &WorkerCounters,
    call: &Call<'_>,
    out: &mut Vec<u8>,
    max_body: u64,
    max_idle: usize,
) -> Result<Fetched, GatewayError> {
    let mut answer = exchange(pool, counters, call, out, &mut InBuffer).await?;
    let head = answer.conn.rbuf.split_to(answer.head.len).freeze();
    let status = answer.head.status;
    // The deadline covers the body too: an answer that trickles in is as late as one that never comes.
    // A body that came with the head (a small answer) is taken without setting a timer; the
    // reads of one still coming are boxed, which keeps their timers (~3 KB) out of every
    // caller's future.
    let body = match body_reader::already_buffered(&mut answer.reader(max_body), &mut answer.conn.rbuf) {
        Some(body) => body,
        None => {
            let silence = call.deadline.saturating_duration_since(Instant::now());
            match Box::pin(monoio::time::timeout_at(call.deadline, answer.body(max_body, silence))).await {
                Ok(body) => body?,
                Err(_) => return Err(TIMEOUT),
            }
        }
    };
    let parsed = answer.release_keeping_head(pool, true, max_idle);
    Ok(Fetched { status, head, body, parsed })
}

/// A response read whole by [`fetch`].
pub struct Fetched {
    pub status: u16,
    /// The head as received; `parsed`'s spans index it.
    pub head: Bytes,
    pub body: Bytes,
    /// The parsed head, whose spans index `head` (what response mappings read).
    pub parsed: ResponseHead,
}

impl Fetched {
    /// The header fields as `(name, value)`.
    pub fn fields(&self) -> impl Iterator<Item = (&[u8], &[u8])> {
        self.parsed.fields(&self.head)
    }

    /// The first value of header `name`.
    pub fn header(&self, name: &[u8]) -> Option<&[u8]> {
        self.fields().find(|(n, _)| n.eq_ignore_ascii_case(name)).map(|(_, v)| v)
    }
}

/// Connects (and, for `https://`, completes the TLS handshake) within the connect timeout and the
/// deadline.
async fn connect(call: &Call<'_>) -> Result<UpstreamConn, GatewayError> {
    let addr = call.target.addr;
    let connect_deadline = call.deadline.min(Instant::now() + Duration::from_millis(call.connect_timeout_ms));
    let open = async {
        let tcp = TcpStream::connect_addr(addr).await.map_err(|_| CONNECT_FAILED)?;
        let _ = tcp.set_nodelay(true);
        match call.target.tls.clone() {
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
    let chunk = call.buffer_bytes;
    match monoio::time::timeout_at(connect_deadline, open).await {
        Ok(Ok(stream)) => Ok(UpstreamConn { stream, rbuf: bytes::BytesMut::with_capacity(chunk), chunk }),
        Ok(Err(e)) => Err(e),
        Err(_) if connect_deadline < call.deadline => Err(CONNECT_FAILED),
        Err(_) => Err(TIMEOUT),
    }
}

enum HeadFailure {
    /// The upstream closed or reset before sending a byte (a stale pooled connection, maybe).
    Closed,
    Timeout,
    Invalid,
}

impl HeadFailure {
    fn into_error(self) -> GatewayError {
        match self {
            HeadFailure::Closed => CLOSED,
            HeadFailure::Timeout => TIMEOUT,
            HeadFailure::Invalid => INVALID,
        }
    }
}

/// Reads one upstream response head into `up.rbuf`, skipping interim 1xx responses, until
/// `deadline`.
async fn read_head(up: &mut UpstreamConn, head_request: bool, deadline: Instant) -> Result<ResponseHead, HeadFailure> {
    let mut received_any = false;
    loop {
        if !up.rbuf.is_empty() {
            match response_head::parse(&up.rbuf, head_request, MAX_RESPONSE_HEAD_BYTES) {
                Ok(Some(h)) if (100..200).contains(&h.status) && h.status != 101 => {
                    up.rbuf.advance(h.len);
                    continue;
                }
                Ok(Some(h)) if h.status == 101 || h.status < 100 => return Err(HeadFailure::Invalid),
                Ok(Some(h)) => return Ok(h),
                Ok(None) => {}
                Err(_) => return Err(HeadFailure::Invalid),
            }
        }
        match monoio::time::timeout_at(deadline, up.stream.read_into(&mut up.rbuf, up.chunk)).await {
            Ok(Ok(1..)) => received_any = true,
            Ok(_) if received_any => return Err(HeadFailure::Invalid),
            Ok(_) => return Err(HeadFailure::Closed),
            Err(_) => return Err(HeadFailure::Timeout),
        }
    }
}

#[cfg(test)]
mod tests;
