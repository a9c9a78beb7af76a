//! The client connection: read a head, hand it to the pipeline, repeat while keep-alive holds.
//!
//! Owns the connection's read buffer (heads are split off it without copying) and its write buffer
//! (reused for every response). Pipelined requests are served in order from what is already buffered.
//! Timeouts: idle (waiting for the first byte of a request), header (from the first byte to the end of
//! the head, so a slow client is cut off), body (between reads of a request body). Cost per request:
//! no allocation once the buffers have grown; one read and one write syscall for a small request.

use std::io;
use std::net::SocketAddr;
use std::os::fd::AsRawFd;
use std::rc::Rc;
use std::time::{Duration, Instant};

use bytes::BytesMut;
use monoio::net::TcpStream;

use super::body::ChunkedDecoder;
use super::head::{self, Framing, HeadLimits, RequestHead};
use crate::error::GatewayError;
use crate::pipeline;
use crate::pipeline::record::Record;
use crate::response::Flow;
use crate::response::gateway;
use crate::response::request_id::RequestId;
use crate::runtime::worker::Worker;
use crate::table::Limits;
use crate::tls::session::TlsIo;
use crate::tls::stream::ClientStream;

/// Bodies of requests that no integration reads are read and dropped up to this size; a larger
/// one closes the connection instead.
const DISCARD_MAX_BYTES: u64 = 64 * 1024;

pub struct ClientConn {
    pub stream: ClientStream,
    pub rbuf: BytesMut,
    pub wbuf: Vec<u8>,
    pub peer: SocketAddr,
    pub local_port: u16,
    pub listener: u32,
    read_chunk: usize,
    slot: usize,
    /// The current request is HTTP/1.0 (its keep-alive must be confirmed in the response).
    http10: bool,
    /// Longest wait for the client to accept more of a response.
    write_timeout: Duration,
    /// Bytes read from and written to the client since the connection opened.
    pub bytes_read: u64,
    pub bytes_written: u64,
    /// `bytes_read`/`bytes_written` when the previous request ended: the difference is this one's.
    pub bytes_mark: (u64, u64),
    /// What the current request's steps did, for metrics and the access log.
    pub record: Record,
    /// When the current request's body must have arrived whole (`body_deadline_ms` after its head).
    body_deadline: Instant,
    /// `100 Continue` was sent for the current request.
    pub continue_sent: bool,
}

/// A client that closed before its request body was whole.
pub const BODY_ENDED_EARLY: GatewayError =
    GatewayError::new(crate::error::ResponseType::BadRequest, "client body ended early").closing();

/// A request body slower than its deadline, or silent for `body_timeout_ms`.
const BODY_TOO_SLOW: GatewayError =
    GatewayError::new(crate::error::ResponseType::RequestTimeout, "request body slower than its deadline").closing();

impl ClientConn {
    /// Writes and clears the write buffer.
    /// Writes and clears the write buffer. A client that accepts nothing for `body_timeout_ms` is
    /// cut off (a slow reader must not hold a connection, and an upstream, forever).
    pub async fn flush(&mut self) -> io::Result<()> {
        let buf = std::mem::take(&mut self.wbuf);
        self.bytes_written += buf.len() as u64;
        match monoio::time::timeout(self.write_timeout, self.stream.write_vec(buf)).await {
            Ok((res, mut buf)) => {
                buf.clear();
                self.wbuf = buf;
                res
            }
            Err(_) => Err(io::ErrorKind::TimedOut.into()),
        }
    }

    /// Writes bytes that are not in the write buffer (a body straight from an upstream's buffer).
    pub async fn write_bytes(&mut self, bytes: bytes::Bytes) -> io::Result<()> {
        self.bytes_written += bytes.len() as u64;
        match monoio::time::timeout(self.write_timeout, self.stream.write_bytes(bytes)).await {
            Ok(res) => res,
            Err(_) => Err(io::ErrorKind::TimedOut.into()),
        }
    }

    /// Reads more bytes into the read buffer; `Ok(0)` at end of stream.
    pub async fn fill(&mut self, timeout: Duration) -> io::Result<usize> {
        let read = super::within(timeout, self.stream.read_into(&mut self.rbuf, self.read_chunk)).await;
        if let Ok(n) = read {
            self.bytes_read += n as u64;
        }
        read
    }

    /// Reads more of a request body into the read buffer, within both the body's deadline and
    /// `body_timeout_ms` of silence: `Ok(0)` when the client closed, 408 when it is too slow (the
    /// read buffer is then gone with the cancelled read: the connection must close).
    pub async fn fill_body(&mut self, limits: &Limits) -> Result<usize, GatewayError> {
        let left = self.body_deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return Err(BODY_TOO_SLOW);
        }
        match self.fill(left.min(Duration::from_millis(limits.body_timeout_ms))).await {
            Ok(n) => Ok(n),
            Err(e) if e.kind() == io::ErrorKind::TimedOut => Err(BODY_TOO_SLOW),
            Err(_) => Ok(0),
        }
    }

    /// Sends `100 Continue` once, for a client that waits for it before sending its body.
    pub async fn send_continue(&mut self) -> io::Result<()> {
        if self.continue_sent {
            return Ok(());
        }
        self.continue_sent = true;
        self.wbuf.clear();
        self.wbuf.extend_from_slice(b"HTTP/1.1 100 Continue\r\n\r\n");
        self.flush().await
    }

    /// Reads the next request head. `Ok(None)`: the connection should close quietly (end of stream,
    /// idle or header timeout, drain).
    async fn read_head(&mut self, worker: &Worker, limits: &Limits) -> Result<Option<RequestHead>, GatewayError> {
        let head_limits = HeadLimits {
            max_header_bytes: limits.max_header_bytes,
            max_header_count: limits.max_header_count,
            max_uri_bytes: limits.max_uri_bytes,
        };
        let mut deadline: Option<Instant> = None;
        loop {
            if !self.rbuf.is_empty()
                && let Some(index) = head::parse(&self.rbuf, &head_limits)?
            {
                let bytes = self.rbuf.split_to(index.len).freeze();
                return Ok(Some(index.into_head(bytes)));
            }
            let idle = self.rbuf.is_empty();
            let timeout = if idle {
                if worker.draining.get() {
                    return Ok(None);
                }
                Duration::from_millis(limits.idle_timeout_ms)
            } else {
                let d =
                    *deadline.get_or_insert_with(|| Instant::now() + Duration::from_millis(limits.header_timeout_ms));
                d.saturating_duration_since(Instant::now())
            };
            worker.conns.set_idle(self.slot, idle);
            let read = self.fill(timeout).await;
            worker.conns.set_idle(self.slot, false);
            match read {
                Ok(0) | Err(_) => return Ok(None),
                Ok(_) => {}
            }
        }
    }

    /// Reads and drops a request body no integration wants, if it is small; otherwise says to close.
    /// A malformed chunked body is a bad request.
    pub async fn discard_body(&mut self, head: &RequestHead, limits: &Limits) -> Result<Flow, GatewayError> {
        match head.framing {
            Framing::None => Ok(Flow::KeepAlive),
            // The client waits for `100 Continue` before sending: closing is cheaper than inviting it.
            _ if head.expect_continue => Ok(Flow::Close),
            Framing::Length(n) if n > DISCARD_MAX_BYTES => Ok(Flow::Close),
            Framing::Length(mut n) => loop {
                let take = (self.rbuf.len() as u64).min(n) as usize;
                let _ = self.rbuf.split_to(take);
                n -= take as u64;
                if n == 0 {
                    return Ok(Flow::KeepAlive);
                }
                if !matches!(self.fill_body(limits).await, Ok(1..)) {
                    return Ok(Flow::Close);
                }
            },
            Framing::Chunked => {
                let mut decoder = ChunkedDecoder::new();
                let mut seen = 0u64;
                loop {
                    match decoder.step(&self.rbuf) {
                        Ok(step) => {
                            seen += step.consumed as u64;
                            let _ = self.rbuf.split_to(step.consumed);
                            if step.done {
                                return Ok(Flow::KeepAlive);
                            }
                            if seen > DISCARD_MAX_BYTES.min(limits.max_body_bytes) {
                                return Ok(Flow::Close);
                            }
                            if step.consumed == 0 && !matches!(self.fill_body(limits).await, Ok(1..)) {
                                return Ok(Flow::Close);
                            }
                        }
                        Err(_) => {
                            return Err(GatewayError::new(
                                crate::error::ResponseType::BadRequest,
                                "invalid chunked body",
                            ));
                        }
                    }
                }
            }
        }
    }

    /// Sends a gateway error response and, when it ends the connection, closes it gracefully.
    pub async fn send_error(
        &mut self,
        protocol: crate::table::Protocol,
        error: &GatewayError,
        id: &RequestId,
        flow: Flow,
        head_only: bool,
    ) -> Flow {
        let flow = if error.closes_connection() { Flow::Close } else { flow };
        if error.side() != crate::error::Side::Client {
            log::warn!("request {id:?} from {}: {error}", self.peer);
        }
        self.wbuf.clear();
        let (status, body_bytes) = gateway::render(&mut self.wbuf, protocol, error, id, flow, head_only, self.http10);
        self.record.response(status, self.wbuf.len() - body_bytes);
        self.record.error = Some(error.clone());
        self.record.request_id = Some(*id);
        if self.flush().await.is_err() {
            return Flow::Close;
        }
        flow
    }

    /// After a large transfer, gives back buffers that grew past what an idle connection should
    /// hold, so that memory per idle keep-alive connection stays small whatever it carried before.
    fn shrink_idle_buffers(&mut self) {
        if self.wbuf.capacity() > 16 * 1024 {
            self.wbuf = Vec::new();
        }
        if self.rbuf.is_empty() && self.rbuf.capacity() > 4 * self.read_chunk {
            self.rbuf = BytesMut::with_capacity(self.read_chunk);
        }
        self.stream.shrink();
    }

    /// Half-closes, then reads and drops what the client still sends for a moment, so that unread
    /// request bytes do not turn our close into a reset that destroys the response in flight.
    async fn linger_close(&mut self) {
        let _ = self.stream.shutdown().await;
        let mut budget = 256 * 1024usize;
        self.rbuf.clear();
        while budget > 0 {
            match self.fill(Duration::from_millis(500)).await {
                Ok(n @ 1..) => {
                    budget = budget.saturating_sub(n);
                    self.rbuf.clear();
                }
                _ => break,
            }
        }
    }
}

/// Serves one accepted connection until it closes.
pub async fn serve(worker: Rc<Worker>, listener: u32, tcp: TcpStream, peer: SocketAddr) {
    let local_port = tcp.local_addr().map_or(0, |a| a.port());
    let fd = tcp.as_raw_fd();
    let slot = worker.conns.register(fd);
    worker.metrics.worker.connections_open.set(worker.conns.len() as u64);
    let _guard = SlotGuard { worker: &worker, slot };
    let Some(stream) = handshake(&worker, listener, tcp, peer).await else { return };
    let (read_chunk, body_timeout_ms) = {
        let table = worker.table();
        (table.table.settings.workers.read_buffer_bytes, table.table.settings.limits.body_timeout_ms)
    };
    let mut conn = ClientConn {
        stream,
        rbuf: BytesMut::with_capacity(read_chunk),
        wbuf: Vec::new(),
        peer,
        local_port,
        listener,
        read_chunk,
        slot,
        http10: false,
        write_timeout: Duration::from_millis(body_timeout_ms),
        bytes_read: 0,
        bytes_written: 0,
        bytes_mark: (0, 0),
        record: Record::default(),
        body_deadline: Instant::now(),
        continue_sent: false,
    };
    loop {
        let table = worker.table();
        let limits = &table.table.settings.limits;
        let head = match conn.read_head(&worker, limits).await {
            Ok(Some(head)) => head,
            Ok(None) => return,
            Err(error) => {
                let protocol = pipeline::listener_protocol(&table, listener);
                let id = RequestId::new(protocol);
                conn.record = Record::default();
                conn.send_error(protocol, &error, &id, Flow::Close, false).await;
                pipeline::observe::malformed(&worker, &table, &mut conn);
                conn.linger_close().await;
                return;
            }
        };
        conn.http10 = head.version_minor == 0;
        conn.body_deadline = Instant::now() + Duration::from_millis(limits.body_deadline_ms);
        conn.continue_sent = false;
        conn.write_timeout = Duration::from_millis(limits.body_timeout_ms);
        // Fetched again: a reload may have landed while this connection sat idle.
        let table = worker.table();
        let flow = pipeline::handle(&worker, &table, &mut conn, head).await;
        conn.shrink_idle_buffers();
        match flow {
            Flow::KeepAlive if !worker.draining.get() => {}
            Flow::KeepAlive => return,
            Flow::Close => {
                conn.linger_close().await;
                return;
            }
        }
    }
}

/// Wraps a TLS listener's connection in TLS (bounded by the handshake timeout); plain ones pass.
async fn handshake(worker: &Worker, listener: u32, tcp: TcpStream, peer: SocketAddr) -> Option<ClientStream> {
    let table = worker.table();
    if !table.table.listeners.get(listener as usize).is_some_and(|l| l.tls) {
        return Some(ClientStream::Plain(tcp));
    }
    let (config, timeout_ms) = (table.tls.clone()?, table.table.tls.as_ref()?.handshake_timeout_ms);
    drop(table);
    match monoio::time::timeout(Duration::from_millis(timeout_ms), TlsIo::accept(tcp, &config)).await {
        Ok(Ok((tls, identity))) => {
            worker.metrics.worker.tls_handshakes.inc();
            Some(ClientStream::Tls(Box::new(tls), identity))
        }
        Ok(Err(e)) => {
            worker.metrics.worker.tls_handshake_failures.inc();
            log::debug!("TLS handshake with {peer} failed: {e}");
            None
        }
        Err(_) => {
            worker.metrics.worker.tls_handshake_failures.inc();
            log::debug!("TLS handshake with {peer} timed out");
            None
        }
    }
}

struct SlotGuard<'a> {
    worker: &'a Worker,
    slot: usize,
}

impl Drop for SlotGuard<'_> {
    fn drop(&mut self) {
        self.worker.conns.unregister(self.slot);
        self.worker.metrics.worker.connections_open.set(self.worker.conns.len() as u64);
        self.worker.slot_freed.notify();
    }
}
