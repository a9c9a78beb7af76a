//! What goes back to the client, as a value: [`Response`] (status, headers, body), built by
//! whatever answers — a mock, a cache hit, a gateway error ([`gateway`]), the relay of an upstream's
//! response — and written by the one writer ([`write`](mod@write)), which adds the framing and the headers
//! every response carries and records the outcome in the request's context. A header that every
//! response must get (CORS, a customised gateway response's) is added in one place.
//!
//! Cost: a `Response` borrows its header lines and body (from the table, a stored entry, the
//! upstream's buffer); the few lines made per response live inline in [`Lines`]. No allocation.

pub mod custom;
pub mod gateway;
pub mod write;

use bytes::Bytes;

/// Whether the client connection stays open after a response.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Flow {
    KeepAlive,
    Close,
}

pub struct Response<'a> {
    pub status: u16,
    /// The reason phrase; empty for the status's standard one.
    pub reason: &'a [u8],
    pub headers: Headers<'a>,
    /// Lines this response adds to `headers` (`Retry-After`, `Age`, `Cache-Status`, ...).
    pub extra: Lines,
    pub body: Body<'a>,
}

/// End-to-end headers, as their owner keeps them.
#[derive(Clone, Copy)]
pub enum Headers<'a> {
    /// Already encoded, `Name: value\r\n` each (a stored entry, a relayed head as rewritten).
    Encoded(&'a [u8]),
    /// Name and value pairs (the table's mock headers).
    Pairs(&'a [(String, String)]),
}

pub enum Body<'a> {
    /// In memory and borrowed (the table's, a static message).
    Static(&'a [u8]),
    /// In memory and shared (a cache entry): a large one is written without a copy.
    Shared(Bytes),
    /// Streamed after the head by the relay, framed thus.
    Stream(Framing<'a>),
}

/// How a streamed body is framed for the client.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Framing<'a> {
    /// `Content-Length: n`.
    Length(u64),
    /// A bodyless response to `HEAD` that repeats the length the upstream gave (or none).
    HeadOf(Option<&'a [u8]>),
    /// `Transfer-Encoding: chunked`.
    Chunked,
    /// No framing header: the body ends with the connection (HTTP/1.0 clients), or there is none.
    Unframed,
}

impl<'a> Response<'a> {
    pub fn new(status: u16, headers: Headers<'a>, body: Body<'a>) -> Response<'a> {
        Response { status, reason: b"", headers, extra: Lines::default(), body }
    }
}

/// A few header lines made for one response, kept inline: no allocation unless they outgrow
/// [`Lines::INLINE`] bytes (then they move to a `Vec`).
pub struct Lines {
    len: usize,
    inline: [u8; Lines::INLINE],
    spilled: Vec<u8>,
}

impl Default for Lines {
    fn default() -> Lines {
        Lines { len: 0, inline: [0; Lines::INLINE], spilled: Vec::new() }
    }
}

impl Lines {
    /// Room for what a response adds itself: a gateway error's three lines, a cache hit's `Age`,
    /// `Cache-Status` and warning.
    pub const INLINE: usize = 160;

    pub fn header(&mut self, name: &[u8], value: &[u8]) {
        self.line(name);
        self.line(b": ");
        self.line(value);
        self.line(b"\r\n");
    }

    pub fn header_u64(&mut self, name: &[u8], value: u64) {
        self.header(name, itoa::Buffer::new().format(value).as_bytes());
    }

    /// Bytes already encoded (a whole line with its CRLF, or a piece of one).
    pub fn line(&mut self, bytes: &[u8]) {
        let end = self.len + bytes.len();
        if self.spilled.is_empty() && end <= Self::INLINE {
            self.inline[self.len..end].copy_from_slice(bytes);
            self.len = end;
            return;
        }
        if self.spilled.is_empty() {
            self.spilled.extend_from_slice(&self.inline[..self.len]);
        }
        self.spilled.extend_from_slice(bytes);
    }

    pub fn as_bytes(&self) -> &[u8] {
        if self.spilled.is_empty() { &self.inline[..self.len] } else { &self.spilled }
    }
}
