//! Request heads: parsed in place by httparse, then checked against what httparse lets through.
//!
//! httparse accepts bare LF line ends, `#` and non-ASCII bytes in the target, and has no opinion on
//! framing headers; RFC 9112 and request smuggling defence need all of those rejected here. A parsed
//! [`RequestHead`] keeps the head's bytes (a frozen `Bytes` split off the read buffer) and byte ranges
//! into them. Cost: one pass over the head bytes, no allocation beyond the inline header index.

use std::mem::MaybeUninit;

use bytes::Bytes;
use smallvec::SmallVec;

use super::error::{Error, Fault};
use super::{Method, trim};

/// `(start, end)` byte offsets into [`RequestHead::bytes`].
pub type Span = (u32, u32);

/// The most header lines a request may have, whatever the config says.
pub const HEADER_COUNT_CEILING: usize = 256;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Framing {
    None,
    Length(u64),
    Chunked,
}

#[derive(Debug, Clone, Copy)]
pub struct HeadLimits {
    pub max_header_bytes: usize,
    pub max_header_count: usize,
    pub max_uri_bytes: usize,
}

#[derive(Debug, Clone)]
pub struct RequestHead {
    pub bytes: Bytes,
    pub method: Method,
    method_span: Span,
    target: Span,
    /// Where the path ends in the target (the `?`, or the target's end).
    path_end: u32,
    /// 0 for HTTP/1.0, 1 for HTTP/1.1.
    pub version_minor: u8,
    pub headers: SmallVec<[(Span, Span); 24]>,
    pub host: Option<Span>,
    pub framing: Framing,
    pub keep_alive: bool,
    pub expect_continue: bool,
    /// The normal form of the path, when it differs from the one received ([`super::path`]).
    normalized: Option<Bytes>,
}

fn bad(detail: &'static str) -> Error {
    Error::bad(detail)
}

impl RequestHead {
    /// Moves the head into a buffer of its own size, so that a head kept for long (a WebSocket
    /// connection's upgrade) does not hold the whole read buffer it was parsed from.
    pub fn compact(&mut self) {
        self.bytes = Bytes::copy_from_slice(&self.bytes);
        if let Some(n) = &self.normalized {
            self.normalized = Some(Bytes::copy_from_slice(n));
        }
    }

    fn slice(&self, span: Span) -> &[u8] {
        &self.bytes[span.0 as usize..span.1 as usize]
    }
    pub fn method_bytes(&self) -> &[u8] {
        self.slice(self.method_span)
    }
    pub fn target(&self) -> &[u8] {
        self.slice(self.target)
    }
    /// The path every step uses: the normal form once [`RequestHead::normalize`] ran.
    pub fn path(&self) -> &[u8] {
        self.normalized.as_deref().unwrap_or_else(|| self.raw_path())
    }
    /// The path as the client sent it.
    pub fn raw_path(&self) -> &[u8] {
        self.slice((self.target.0, self.path_end))
    }
    /// Replaces the path by its normal form under `rules` (from the path as received, so it can run
    /// again with an API's own rules); the query's escapes are checked too.
    pub fn normalize(&mut self, rules: &super::path::PathRules) -> Result<(), &'static str> {
        if let Some(q) = self.query() {
            super::path::check_escapes(q).map_err(|_| "invalid percent-encoding in the query")?;
        }
        self.normalized = match super::path::normalize(self.raw_path(), rules)? {
            super::path::Normal::Unchanged => None,
            super::path::Normal::Changed(path) => Some(Bytes::from(path)),
        };
        Ok(())
    }
    /// The query string without its `?`, if the target has one.
    pub fn query(&self) -> Option<&[u8]> {
        (self.path_end < self.target.1).then(|| self.slice((self.path_end + 1, self.target.1)))
    }
    pub fn header_count(&self) -> usize {
        self.headers.len()
    }
    pub fn header(&self, i: usize) -> (&[u8], &[u8]) {
        let (n, v) = self.headers[i];
        (self.slice(n), self.slice(v))
    }
    pub fn headers(&self) -> impl Iterator<Item = (&[u8], &[u8])> {
        (0..self.headers.len()).map(|i| self.header(i))
    }
    /// Values of every header called `name` (case-insensitive).
    pub fn values<'a>(&'a self, name: &'a [u8]) -> impl Iterator<Item = &'a [u8]> + 'a {
        self.headers().filter(move |(n, _)| n.eq_ignore_ascii_case(name)).map(|(_, v)| v)
    }
    pub fn first<'a>(&'a self, name: &'a [u8]) -> Option<&'a [u8]> {
        self.values(name).next()
    }
    /// The value of a header that must appear once: `None` when it is missing or repeated
    /// (several `traceparent`s are invalid, several `x-api-key`s ambiguous credentials).
    pub fn only<'a>(&'a self, name: &'a [u8]) -> Option<&'a [u8]> {
        let mut values = self.values(name);
        let first = values.next()?;
        values.next().is_none().then_some(first)
    }
    /// The `Host` header without a port, as written.
    pub fn host_name(&self) -> Option<&[u8]> {
        let host = self.slice(self.host?);
        if host.starts_with(b"[") {
            // IPv6 literal: keep the brackets, drop a port after them.
            let end = host.iter().position(|&b| b == b']').map_or(host.len(), |i| i + 1);
            return Some(&host[..end]);
        }
        Some(host.iter().position(|&b| b == b':').map_or(host, |i| &host[..i]))
    }
}

/// The parse result before the head bytes are split off the read buffer.
#[derive(Debug)]
pub struct HeadIndex {
    pub len: usize,
    method: Method,
    method_span: Span,
    target: Span,
    path_end: u32,
    version_minor: u8,
    headers: SmallVec<[(Span, Span); 24]>,
    host: Option<Span>,
    framing: Framing,
    keep_alive: bool,
    expect_continue: bool,
}

impl HeadIndex {
    /// Attaches the head bytes (exactly `self.len` long) the offsets refer to.
    pub fn into_head(self, bytes: Bytes) -> RequestHead {
        debug_assert_eq!(bytes.len(), self.len);
        RequestHead {
            bytes,
            method: self.method,
            method_span: self.method_span,
            target: self.target,
            path_end: self.path_end,
            version_minor: self.version_minor,
            headers: self.headers,
            host: self.host,
            framing: self.framing,
            keep_alive: self.keep_alive,
            expect_continue: self.expect_continue,
            normalized: None,
        }
    }
}

/// Parses and checks a request head at the start of `buf`; `Ok(None)` means more bytes are needed.
pub fn parse(buf: &[u8], limits: &HeadLimits) -> Result<Option<HeadIndex>, Error> {
    let mut slots = [const { MaybeUninit::<httparse::Header<'_>>::uninit() }; HEADER_COUNT_CEILING];
    let count = limits.max_header_count.min(HEADER_COUNT_CEILING);
    let mut req = httparse::Request::new(&mut []);
    let len = match req.parse_with_uninit_headers(buf, &mut slots[..count]) {
        Ok(httparse::Status::Complete(len)) => len,
        Ok(httparse::Status::Partial) => {
            let line_done = buf.contains(&b'\n');
            if !line_done && buf.len() > limits.max_uri_bytes + 32 {
                return Err(Error::new(Fault::UriTooLong, "request line over the URI limit"));
            }
            if buf.len() >= limits.max_header_bytes {
                return Err(Error::new(Fault::HeadersTooLarge, "header section over the limit"));
            }
            return Ok(None);
        }
        Err(httparse::Error::TooManyHeaders) => {
            return Err(Error::new(Fault::HeadersTooLarge, "more header lines than allowed"));
        }
        // HTTP/1.x with x > 1 is served as HTTP/1.1 (RFC 9110 §2.5: same major version, so the
        // recipient may treat it as the highest minor it supports). httparse knows only 1.0 and
        // 1.1, so such a head is parsed from a copy with the digit changed: the offsets are the
        // same in both, and the index refers to the original bytes as well.
        Err(httparse::Error::Version) if let Some(at) = newer_minor_version(buf) => {
            let mut copy = buf.to_vec();
            copy[at] = b'1';
            return parse(&copy, limits);
        }
        Err(httparse::Error::Version) if names_a_version(buf) => {
            return Err(Error::new(Fault::VersionNotSupported, "unsupported HTTP version"));
        }
        Err(httparse::Error::Version) => return Err(bad("malformed HTTP version")),
        Err(_) => return Err(bad("malformed request head")),
    };
    if len > limits.max_header_bytes {
        return Err(Error::new(Fault::HeadersTooLarge, "header section over the limit"));
    }
    if let Some(fault) = super::line_end_fault(&buf[..len]) {
        return Err(bad(fault));
    }
    let base = buf.as_ptr() as usize;
    let span = |s: &[u8]| -> Span {
        let start = s.as_ptr() as usize - base;
        (start as u32, (start + s.len()) as u32)
    };
    let (Some(method), Some(target), Some(version)) = (req.method, req.path, req.version) else {
        return Err(bad("incomplete request line"));
    };
    if target.len() > limits.max_uri_bytes {
        return Err(Error::new(Fault::UriTooLong, "request target over the URI limit"));
    }
    if target.bytes().any(|b| b == b'#' || !(0x21..0x7f).contains(&b)) {
        return Err(bad("request target has a byte that is not allowed"));
    }
    // RFC 9112 §3.2.2: absolute-form must be accepted; its authority replaces the Host header.
    let (target, absolute_authority) = match split_absolute_form(target) {
        Some((authority, path)) => (path, Some(authority)),
        None if target.starts_with('/') => (target, None),
        None => return Err(bad("request target is neither origin nor absolute form")),
    };
    let target_span = span(target.as_bytes());
    let path_end = target.find('?').map_or(target_span.1, |q| target_span.0 + q as u32);

    let mut index = HeadIndex {
        len,
        method: Method::from_bytes(method.as_bytes()),
        method_span: span(method.as_bytes()),
        target: target_span,
        path_end,
        version_minor: version,
        headers: SmallVec::with_capacity(req.headers.len()),
        host: None,
        framing: Framing::None,
        keep_alive: version == 1,
        expect_continue: false,
    };
    let mut content_length: Option<u64> = None;
    let mut chunked = false;
    let mut transfer_encoding = false;
    for h in req.headers.iter() {
        let name = h.name.as_bytes();
        index.headers.push((span(name), span(h.value)));
        if name.eq_ignore_ascii_case(b"host") {
            if index.host.is_some() {
                return Err(bad("duplicate Host header"));
            }
            if !valid_authority(trim(h.value)) {
                return Err(bad("Host is not a valid host[:port]"));
            }
            index.host = Some(span(trim(h.value)));
        } else if name.eq_ignore_ascii_case(b"content-length") {
            for part in h.value.split(|&b| b == b',') {
                let n = parse_length(trim(part)).ok_or(bad("invalid Content-Length"))?;
                if content_length.is_some_and(|c| c != n) {
                    return Err(bad("conflicting Content-Length values"));
                }
                content_length = Some(n);
            }
        } else if name.eq_ignore_ascii_case(b"transfer-encoding") {
            transfer_encoding = true;
            for coding in h.value.split(|&b| b == b',').map(trim) {
                if chunked {
                    // Anything after `chunked` means chunked is not the final coding.
                    return Err(bad("chunked is not the final transfer coding"));
                }
                if coding.eq_ignore_ascii_case(b"chunked") {
                    chunked = true;
                } else if coding.is_empty() {
                    return Err(bad("empty transfer coding"));
                } else {
                    return Err(Error::new(Fault::NotImplemented, "unsupported transfer coding"));
                }
            }
        } else if name.eq_ignore_ascii_case(b"connection") {
            for token in h.value.split(|&b| b == b',').map(trim) {
                if token.eq_ignore_ascii_case(b"close") {
                    index.keep_alive = false;
                } else if token.eq_ignore_ascii_case(b"keep-alive") && version == 0 {
                    index.keep_alive = true;
                }
            }
        } else if name.eq_ignore_ascii_case(b"expect") && trim(h.value).eq_ignore_ascii_case(b"100-continue") {
            index.expect_continue = version == 1;
        }
    }
    // RFC 9112 §3.2: an HTTP/1.1 request needs a Host field, in absolute form too (where the
    // target's authority then wins over it).
    if version == 1 && index.host.is_none() {
        return Err(bad("HTTP/1.1 request without Host"));
    }
    if let Some(authority) = absolute_authority {
        if !valid_authority(authority.as_bytes()) {
            return Err(bad("the target's authority is not a valid host[:port]"));
        }
        index.host = Some(span(authority.as_bytes()));
    }
    if transfer_encoding {
        if content_length.is_some() {
            return Err(bad("both Content-Length and Transfer-Encoding"));
        }
        if version == 0 {
            return Err(bad("Transfer-Encoding in an HTTP/1.0 request"));
        }
        if !chunked {
            return Err(bad("chunked is not the final transfer coding"));
        }
        index.framing = Framing::Chunked;
    } else if let Some(n) = content_length {
        index.framing = if n == 0 { Framing::None } else { Framing::Length(n) };
    }
    Ok(Some(index))
}

/// Splits `http://authority/path?q` into the authority and the origin-form rest. A target without a
/// path (`http://a`) is refused: the path must be a slice of the head, and there is none to point to.
fn split_absolute_form(target: &str) -> Option<(&str, &str)> {
    let rest = target.strip_prefix("http://").or_else(|| target.strip_prefix("https://"))?;
    let slash = rest.find('/')?;
    let (authority, path) = rest.split_at(slash);
    (!authority.is_empty() && !authority.contains('@')).then_some((authority, path))
}

/// The version token of a well-formed request line (`method SP target SP version`: exactly two
/// spaces, or the line is malformed whatever it ends in), with its offset in `buf`, when it has
/// the shape `HTTP/d.d`.
fn version_token(buf: &[u8]) -> Option<(usize, &[u8])> {
    let line = &buf[..memchr::memchr(b'\r', buf)?];
    if memchr::memchr_iter(b' ', line).count() != 2 {
        return None;
    }
    // The token's 8 bytes and the space before them.
    let at = line.len().checked_sub(9)? + 1;
    let v = &line[at..];
    let shaped = line[at - 1] == b' '
        && v.starts_with(b"HTTP/")
        && v[5].is_ascii_digit()
        && v[6] == b'.'
        && v[7].is_ascii_digit();
    shaped.then_some((at, v))
}

/// Where the minor digit of an `HTTP/1.x` version with x > 1 is, if the request line ends in one.
fn newer_minor_version(buf: &[u8]) -> Option<usize> {
    let (at, v) = version_token(buf)?;
    (v.starts_with(b"HTTP/1.") && (b'2'..=b'9').contains(&v[7])).then_some(at + 7)
}

/// Whether the request line ends in a well-formed `HTTP/d.d` (then an unsupported version is 505,
/// not a malformed request).
fn names_a_version(buf: &[u8]) -> bool {
    version_token(buf).is_some()
}

/// RFC 3986 `host [ ":" port ]` as a `Host` value may carry: a bracketed IPv6 literal or a
/// reg-name (unreserved and sub-delims; no `@`, space, `/` or `%`), and a port of digits.
fn valid_authority(v: &[u8]) -> bool {
    let (host_ok, rest) = if let Some(inner) = v.strip_prefix(b"[") {
        let Some(end) = memchr::memchr(b']', inner) else { return false };
        let literal = &inner[..end];
        (
            !literal.is_empty() && literal.iter().all(|&b| b.is_ascii_hexdigit() || b == b':' || b == b'.'),
            &inner[end + 1..],
        )
    } else {
        let end = memchr::memchr(b':', v).unwrap_or(v.len());
        let host = &v[..end];
        let reg_name = |b: u8| b.is_ascii_alphanumeric() || b"-._~!$&'()*+,;=".contains(&b);
        (!host.is_empty() && host.iter().all(|&b| reg_name(b)), &v[end..])
    };
    let port_ok = match rest {
        [] => true,
        [b':', port @ ..] => {
            !port.is_empty()
                && port.len() <= 5
                && port.iter().all(u8::is_ascii_digit)
                && parse_length(port).is_some_and(|p| p <= 65_535)
        }
        _ => false,
    };
    host_ok && port_ok
}

/// RFC 9110 Content-Length: one or more digits, no sign, no overflow.
fn parse_length(digits: &[u8]) -> Option<u64> {
    if digits.is_empty() || digits.len() > 19 || !digits.iter().all(u8::is_ascii_digit) {
        return None;
    }
    digits.iter().try_fold(0u64, |n, &d| n.checked_mul(10)?.checked_add(u64::from(d - b'0')))
}

#[cfg(test)]
mod tests;
