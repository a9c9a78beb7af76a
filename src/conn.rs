//! The client connection as a transport: its stream (plain or TLS), its read buffer (heads are
//! split off it without copying, bodies read from it), its write buffer (reused for every
//! response), byte counts, and the deadlines of the current request's body and of writes.
//!
//! Must not: know about requests beyond their bytes — the serve loop (`runtime::serve`) reads
//! heads, the pipeline decides, the response writer (`response::write`) writes. As a body
//! [`Source`] it gives the one body reader (`http::body_reader`) its reads, sending
//! `100 Continue` first to a client that waits for it. Cost: no allocation once the buffers have
//! grown; one read and one write syscall for a small request.

use std::io;
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use bytes::BytesMut;

use crate::http::body_reader::Source;
use crate::http::head::RequestHead;
use crate::http::{Error, Fault};
use crate::tls::stream::ClientStream;

/// A request body slower than its deadline, or silent for `body_timeout_ms`.
const BODY_TOO_SLOW: Error = Error::new(Fault::BodyTooSlow, "request body slower than its deadline");
/// A client that closed, or could not take `100 Continue`, before its request body was whole.
pub const BODY_ENDED_EARLY: Error = Error::new(Fault::BodyEndedEarly, "client body ended early");

pub struct ClientConn {
    pub stream: ClientStream,
    pub rbuf: BytesMut,
    pub wbuf: Vec<u8>,
    /// Header lines being prepared for a response (reused; see `integration::relay`).
    pub scratch: Vec<u8>,
    pub peer: SocketAddr,
    pub local_port: u16,
    pub listener: u32,
    pub read_chunk: usize,
    /// This connection's slot in the worker's registry.
    pub slot: usize,
    /// Bytes read from and written to the client since the connection opened.
    pub bytes_read: u64,
    pub bytes_written: u64,
    /// `bytes_read`/`bytes_written` when the previous request ended: the difference is this one's.
    pub bytes_mark: (u64, u64),
    /// Longest wait for the client to accept more of a response, or to send more of a body.
    body_timeout: Duration,
    /// When the current request's body must have arrived whole (`body_deadline_ms` after its head).
    body_deadline: Instant,
    /// The current request waits for `100 Continue` before sending its body.
    expect_continue: bool,
    continue_sent: bool,
}

impl ClientConn {
    /// `read_chunk`: how much the read buffer grows by; `body_timeout_ms`: the write timeout
    /// until the first request sets its own.
    pub fn new(
        stream: ClientStream,
        peer: SocketAddr,
        listener: u32,
        read_chunk: usize,
        body_timeout_ms: u64,
    ) -> ClientConn {
        ClientConn {
            stream,
            rbuf: BytesMut::with_capacity(read_chunk),
            wbuf: Vec::new(),
            scratch: Vec::new(),
            peer,
            local_port: 0,
            listener,
            read_chunk,
            slot: 0,
            bytes_read: 0,
            bytes_written: 0,
            bytes_mark: (0, 0),
            body_timeout: Duration::from_millis(body_timeout_ms),
            body_deadline: Instant::now(),
            expect_continue: false,
            continue_sent: false,
        }
    }

    /// Starts a request: its body's deadline and silence limit (also the write timeout), and
    /// whether the client waits for `100 Continue`.
    pub fn begin(&mut self, head: &RequestHead, body_timeout_ms: u64, body_deadline_ms: u64) {
        self.body_timeout = Duration::from_millis(body_timeout_ms);
        self.body_deadline = Instant::now() + Duration::from_millis(body_deadline_ms);
        self.expect_continue = head.expect_continue;
        self.continue_sent = false;
    }

    /// Writes and clears the write buffer. A client that accepts nothing for `body_timeout_ms` is
    /// cut off (a slow reader must not hold a connection, and an upstream, forever).
    pub async fn flush(&mut self) -> io::Result<()> {
        let buf = std::mem::take(&mut self.wbuf);
        self.bytes_written += buf.len() as u64;
        match monoio::time::timeout(self.body_timeout, self.stream.write_vec(buf)).await {
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
        match monoio::time::timeout(self.body_timeout, self.stream.write_bytes(bytes)).await {
            Ok(res) => res,
            Err(_) => Err(io::ErrorKind::TimedOut.into()),
        }
    }

    /// Reads more bytes into the read buffer; `Ok(0)` at end of stream.
    pub async fn fill(&mut self, timeout: Duration) -> io::Result<usize> {
        let read = crate::http::within(timeout, self.stream.read_into(&mut self.rbuf, self.read_chunk)).await;
        if let Ok(n) = read {
            self.bytes_read += n as u64;
        }
        read
    }

    /// Reads more of a request body into the read buffer, within both the body's deadline and
    /// `body_timeout_ms` of silence: `Ok(0)` when the client closed, 408 when it is too slow (the
    /// read buffer is then gone with the cancelled read: the connection must close).
    pub async fn fill_body(&mut self) -> Result<usize, Error> {
        let left = self.body_deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return Err(BODY_TOO_SLOW);
        }
        match self.fill(left.min(self.body_timeout)).await {
            Ok(n) => Ok(n),
            Err(e) if e.kind() == io::ErrorKind::TimedOut => Err(BODY_TOO_SLOW),
            Err(_) => Ok(0),
        }
    }

    /// Sends `100 Continue` once, to a client that waits for it before sending its body and has
    /// sent none yet.
    pub async fn invite_body(&mut self) -> Result<(), Error> {
        if !self.expect_continue || self.continue_sent || !self.rbuf.is_empty() {
            return Ok(());
        }
        self.continue_sent = true;
        let pending = std::mem::take(&mut self.wbuf);
        self.wbuf.extend_from_slice(b"HTTP/1.1 100 Continue\r\n\r\n");
        let sent = self.flush().await;
        self.wbuf = pending;
        sent.map_err(|_| BODY_ENDED_EARLY)
    }

    /// After a large transfer, gives back buffers that grew past what an idle connection should
    /// hold, so that memory per idle keep-alive connection stays small whatever it carried before.
    pub fn shrink_idle_buffers(&mut self) {
        if self.wbuf.capacity() > 16 * 1024 {
            self.wbuf = Vec::new();
        }
        if self.scratch.capacity() > 16 * 1024 {
            self.scratch = Vec::new();
        }
        if self.rbuf.is_empty() && self.rbuf.capacity() > 4 * self.read_chunk {
            self.rbuf = BytesMut::with_capacity(self.read_chunk);
        }
        self.stream.shrink();
    }

    /// Half-closes, then reads and drops what the client still sends for a moment, so that unread
    /// request bytes do not turn our close into a reset that destroys the response in flight.
    pub async fn linger_close(&mut self) {
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

    /// Bytes read and written since the previous request ended; starts the next count.
    pub fn take_bytes(&mut self) -> (u64, u64) {
        let (read, written) = self.bytes_mark;
        self.bytes_mark = (self.bytes_read, self.bytes_written);
        (self.bytes_read - read, self.bytes_written - written)
    }
}

impl Source for ClientConn {
    fn buffer(&mut self) -> &mut BytesMut {
        &mut self.rbuf
    }

    async fn fill(&mut self) -> Result<usize, Error> {
        self.invite_body().await?;
        self.fill_body().await
    }
}
