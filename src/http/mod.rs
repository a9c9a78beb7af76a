//! The HTTP/1.1 codec, split by concern as hyper does: request heads ([`head`]) and their paths
//! ([`path`]), upstream response heads ([`response_head`]), body framing ([`body`]) and the one body
//! reader ([`body_reader`]), encoding what we write ([`encode`]), and what can be wrong with what a
//! peer sent ([`error`]). It imports nothing else of the crate: connections, the pipeline and
//! responses are built on it, never the other way.
//!
//! Parsing is in place: heads are parsed by `httparse` over the connection's read buffer and kept as
//! byte ranges into a frozen `Bytes`, never copied header by header.

use std::time::Duration;

use bytes::BytesMut;
use monoio::buf::IoBufMut;
use monoio::io::AsyncReadRent;

pub mod body;
pub mod body_reader;
pub mod encode;
pub mod error;
pub mod head;
pub mod path;
pub mod query;
pub mod response_head;
pub mod url;

pub use error::{Error, Fault};

#[cfg(test)]
mod robustness;

/// Reads what the peer sends next into the spare capacity of `buf`, growing it by `chunk` when
/// little room is left; no copy. `Ok(0)` is end of stream. If the future is dropped (a timeout),
/// the buffer goes with the cancelled read and `buf` is left empty: callers then close.
pub async fn read_more(stream: &mut impl AsyncReadRent, buf: &mut BytesMut, chunk: usize) -> std::io::Result<usize> {
    if buf.capacity() - buf.len() < chunk / 8 {
        buf.reserve(chunk);
    }
    let owned = std::mem::take(buf);
    let (len, cap) = (owned.len(), owned.capacity());
    let (res, slice) = stream.read(owned.slice_mut(len..cap)).await;
    *buf = slice.into_inner();
    res
}

/// As [`read_more`], cancelable through `cancel`: a cancelled read ends with an error
/// (`ECANCELED`) or with the bytes it had already read — nothing is lost, so the caller may read
/// again (a WebSocket session waking for a timer).
pub async fn read_more_cancelable(
    stream: &mut impl monoio::io::CancelableAsyncReadRent,
    buf: &mut BytesMut,
    chunk: usize,
    cancel: monoio::io::CancelHandle,
) -> std::io::Result<usize> {
    if buf.capacity() - buf.len() < chunk / 8 {
        buf.reserve(chunk);
    }
    let owned = std::mem::take(buf);
    let (len, cap) = (owned.len(), owned.capacity());
    let (res, slice) = stream.cancelable_read(owned.slice_mut(len..cap), cancel).await;
    *buf = slice.into_inner();
    res
}

/// An I/O operation bounded by `timeout`; running out of time reads as `ErrorKind::TimedOut`.
pub async fn within<T>(timeout: Duration, op: impl Future<Output = std::io::Result<T>>) -> std::io::Result<T> {
    monoio::time::timeout(timeout, op).await.unwrap_or_else(|_| Err(std::io::ErrorKind::TimedOut.into()))
}

/// What is wrong with a head's line ends, if anything: every line must end in CRLF — no bare LF
/// (httparse takes it), no bare CR, no NUL anywhere. Used for client requests and upstream
/// responses alike. Only the bytes `memchr3` finds (about two per line) are looked at.
/// RFC 9110 `tchar`: what a field name (and a token) is made of.
pub fn is_tchar(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b)
}

/// An RFC 9110 token: a valid header name.
pub fn is_token(name: &[u8]) -> bool {
    !name.is_empty() && name.iter().all(|&b| is_tchar(b))
}

pub fn line_end_fault(head: &[u8]) -> Option<&'static str> {
    for i in memchr::memchr3_iter(b'\n', b'\r', 0, head) {
        match head[i] {
            b'\n' if i == 0 || head[i - 1] != b'\r' => return Some("bare LF in head"),
            b'\r' if head.get(i + 1) != Some(&b'\n') => return Some("bare CR in head"),
            0 => return Some("NUL in head"),
            _ => {}
        }
    }
    None
}

/// Request methods the router knows; AWS's `ANY` covers exactly the first seven.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Method {
    Get,
    Head,
    Post,
    Put,
    Delete,
    Options,
    Patch,
    Other,
}

impl Method {
    pub fn from_bytes(m: &[u8]) -> Method {
        match m {
            b"GET" => Method::Get,
            b"HEAD" => Method::Head,
            b"POST" => Method::Post,
            b"PUT" => Method::Put,
            b"DELETE" => Method::Delete,
            b"OPTIONS" => Method::Options,
            b"PATCH" => Method::Patch,
            _ => Method::Other,
        }
    }

    /// Index into per-method route tables; `None` for methods no route key can name.
    pub fn slot(self) -> Option<usize> {
        match self {
            Method::Get => Some(0),
            Method::Head => Some(1),
            Method::Post => Some(2),
            Method::Put => Some(3),
            Method::Delete => Some(4),
            Method::Options => Some(5),
            Method::Patch => Some(6),
            Method::Other => None,
        }
    }

    /// RFC 9110 idempotent methods: a request that failed on a stale pooled connection may be retried.
    pub fn is_idempotent(self) -> bool {
        matches!(self, Method::Get | Method::Head | Method::Put | Method::Delete | Method::Options)
    }
}

/// Whether `value` cannot be sent as a header field value: a CR, LF or NUL would end the field
/// (or the head) early.
pub fn breaks_header(value: &[u8]) -> bool {
    value.iter().any(|&b| b == b'\r' || b == b'\n' || b == 0)
}

/// Headers that describe one hop and are never forwarded (RFC 9110 §7.6.1), plus the framing headers
/// Portico always writes itself.
pub fn is_hop_by_hop(name: &[u8]) -> bool {
    const HOP: [&[u8]; 10] = [
        b"connection",
        b"keep-alive",
        b"proxy-connection",
        b"te",
        b"trailer",
        b"transfer-encoding",
        b"upgrade",
        b"proxy-authenticate",
        b"proxy-authorization",
        b"content-length",
    ];
    HOP.iter().any(|h| h.eq_ignore_ascii_case(name))
}

/// Headers by which a proxy tells the next hop about the client (`X-Forwarded-*`, `Forwarded`,
/// `X-Real-IP` and its kin). Believed only from a trusted proxy: from anyone else they are forged,
/// and an upstream that builds links or decisions from them would let an unkeyed header shape a
/// cached response.
pub fn is_forwarding_header(name: &[u8]) -> bool {
    const NAMES: [&[u8]; 6] =
        [b"forwarded", b"x-real-ip", b"x-client-ip", b"true-client-ip", b"x-original-host", b"x-host"];
    (name.len() > 12 && name[..12].eq_ignore_ascii_case(b"x-forwarded-"))
        || NAMES.iter().any(|n| n.eq_ignore_ascii_case(name))
}

/// Headers by which some servers (IIS, Symfony, Zend) take the request's path from a header
/// instead of the request line: never forwarded, or a header could pick the resource behind the
/// router's back.
pub fn is_path_override(name: &[u8]) -> bool {
    name.eq_ignore_ascii_case(b"x-original-url") || name.eq_ignore_ascii_case(b"x-rewrite-url")
}

/// Whether `name` is listed in any of the `Connection` header values.
pub fn named_in_connection<'a>(name: &[u8], mut connection_values: impl Iterator<Item = &'a [u8]>) -> bool {
    connection_values.any(|value| value.split(|&b| b == b',').any(|token| trim(token).eq_ignore_ascii_case(name)))
}

/// The value of one hex digit (chunk sizes, percent-escapes).
pub(crate) fn hex_digit(b: u8) -> Option<u8> {
    match b {
        b'0'..=b'9' => Some(b - b'0'),
        b'a'..=b'f' => Some(b - b'a' + 10),
        b'A'..=b'F' => Some(b - b'A' + 10),
        _ => None,
    }
}

pub fn trim(mut s: &[u8]) -> &[u8] {
    while let [b' ' | b'\t', rest @ ..] = s {
        s = rest;
    }
    while let [rest @ .., b' ' | b'\t'] = s {
        s = rest;
    }
    s
}
