//! Upstream response heads, parsed in place with httparse and checked for framing the same way
//! client requests are.

use std::mem::MaybeUninit;

use smallvec::SmallVec;

use super::head::{HEADER_COUNT_CEILING, Span};
use super::trim;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ResponseFraming {
    /// No body (HEAD request, 1xx, 204, 304).
    Empty,
    Length(u64),
    Chunked,
    /// Body ends when the upstream closes.
    UntilClose,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum ResponseHeadError {
    #[error("upstream response head is malformed")]
    Malformed,
    #[error("upstream response head is too large")]
    TooLarge,
    #[error("upstream response framing is ambiguous")]
    Framing,
}

#[derive(Debug, Clone)]
pub struct ResponseHead {
    pub len: usize,
    pub status: u16,
    pub version_minor: u8,
    pub reason: Span,
    pub headers: SmallVec<[(Span, Span); 24]>,
    pub framing: ResponseFraming,
    /// Whether the upstream connection may be reused after this response.
    pub keep_alive: bool,
}

impl ResponseHead {
    /// The header fields as `(name, value)`, read from `bytes`: the buffer the head was parsed from.
    pub fn fields<'b>(&'b self, bytes: &'b [u8]) -> impl Iterator<Item = (&'b [u8], &'b [u8])> + 'b {
        let slice = |(s, e): Span| &bytes[s as usize..e as usize];
        self.headers.iter().map(move |&(n, v)| (slice(n), slice(v)))
    }
}

/// Parses a response head at the start of `buf`; `Ok(None)` means more bytes are needed.
pub fn parse(buf: &[u8], head_request: bool, max_bytes: usize) -> Result<Option<ResponseHead>, ResponseHeadError> {
    let mut slots = [const { MaybeUninit::<httparse::Header<'_>>::uninit() }; HEADER_COUNT_CEILING];
    let mut res = httparse::Response::new(&mut []);
    let len = match httparse::ParserConfig::default().parse_response_with_uninit_headers(&mut res, buf, &mut slots) {
        Ok(httparse::Status::Complete(len)) => len,
        Ok(httparse::Status::Partial) if buf.len() >= max_bytes => {
            return Err(ResponseHeadError::TooLarge);
        }
        Ok(httparse::Status::Partial) => return Ok(None),
        Err(httparse::Error::TooManyHeaders) => return Err(ResponseHeadError::TooLarge),
        Err(_) => return Err(ResponseHeadError::Malformed),
    };
    let (Some(status), Some(version)) = (res.code, res.version) else {
        return Err(ResponseHeadError::Malformed);
    };
    if super::line_end_fault(&buf[..len]).is_some() {
        return Err(ResponseHeadError::Malformed);
    }
    let base = buf.as_ptr() as usize;
    let span = |s: &[u8]| -> Span {
        let start = s.as_ptr() as usize - base;
        (start as u32, (start + s.len()) as u32)
    };
    let mut headers = SmallVec::new();
    let mut length: Option<u64> = None;
    let mut chunked = false;
    let mut transfer_encoding = false;
    let mut keep_alive = version == 1;
    for h in res.headers.iter() {
        let name = h.name.as_bytes();
        headers.push((span(name), span(h.value)));
        if name.eq_ignore_ascii_case(b"content-length") {
            for part in h.value.split(|&b| b == b',') {
                let part = trim(part);
                let ok = !part.is_empty() && part.len() < 20 && part.iter().all(u8::is_ascii_digit);
                let n: u64 = if ok {
                    std::str::from_utf8(part).ok().and_then(|s| s.parse().ok()).ok_or(ResponseHeadError::Framing)?
                } else {
                    return Err(ResponseHeadError::Framing);
                };
                if length.is_some_and(|l| l != n) {
                    return Err(ResponseHeadError::Framing);
                }
                length = Some(n);
            }
        } else if name.eq_ignore_ascii_case(b"transfer-encoding") {
            transfer_encoding = true;
            chunked =
                h.value.split(|&b| b == b',').map(trim).next_back().is_some_and(|c| c.eq_ignore_ascii_case(b"chunked"));
        } else if name.eq_ignore_ascii_case(b"connection") {
            for token in h.value.split(|&b| b == b',').map(trim) {
                if token.eq_ignore_ascii_case(b"close") {
                    keep_alive = false;
                } else if token.eq_ignore_ascii_case(b"keep-alive") && version == 0 {
                    keep_alive = true;
                }
            }
        }
    }
    let no_body = head_request || (100..200).contains(&status) || status == 204 || status == 304;
    let framing = if no_body {
        ResponseFraming::Empty
    } else if transfer_encoding {
        // RFC 9112 §6.3: Transfer-Encoding overrides Content-Length; a non-chunked coding runs to close.
        if chunked { ResponseFraming::Chunked } else { ResponseFraming::UntilClose }
    } else if let Some(n) = length {
        ResponseFraming::Length(n)
    } else {
        ResponseFraming::UntilClose
    };
    if framing == ResponseFraming::UntilClose || (transfer_encoding && length.is_some()) {
        keep_alive = false;
    }
    // An empty reason phrase may not point into `buf` at all.
    let reason = res.reason.filter(|r| !r.is_empty()).map_or((0, 0), |r| span(r.as_bytes()));
    Ok(Some(ResponseHead { len, status, version_minor: version, reason, headers, framing, keep_alive }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_framing() {
        let h = parse(b"HTTP/1.1 200 OK\r\nContent-Length: 3\r\n\r\nabc", false, 8192).unwrap().unwrap();
        assert_eq!((h.status, h.framing, h.keep_alive, h.len), (200, ResponseFraming::Length(3), true, 38));
        let h = parse(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n", false, 8192).unwrap().unwrap();
        assert_eq!(h.framing, ResponseFraming::Chunked);
        let h = parse(b"HTTP/1.0 200 OK\r\n\r\n", false, 8192).unwrap().unwrap();
        assert_eq!((h.framing, h.keep_alive), (ResponseFraming::UntilClose, false));
        let h = parse(b"HTTP/1.1 204 No Content\r\n\r\n", false, 8192).unwrap().unwrap();
        assert_eq!(h.framing, ResponseFraming::Empty);
        let h = parse(b"HTTP/1.1 200 OK\r\nContent-Length: 9\r\n\r\n", true, 8192).unwrap().unwrap();
        assert_eq!(h.framing, ResponseFraming::Empty);
    }

    /// Regression: a status line without a reason phrase panicked (span arithmetic on a `""` that
    /// lies outside the buffer). Found by the mutation test.
    #[test]
    fn status_line_without_reason() {
        let h = parse(b"HTTP/1.1 200\r\nContent-Length: 0\r\n\r\n", false, 8192).unwrap().unwrap();
        assert_eq!((h.status, h.reason), (200, (0, 0)));
        let h = parse(b"HTTP/1.1 200 \r\nContent-Length: 0\r\n\r\n", false, 8192).unwrap().unwrap();
        assert_eq!(h.status, 200);
    }

    #[test]
    fn rejects_bad_heads() {
        assert!(parse(b"HTTP/1.1 200 OK\r\nContent-Length: 3\r\nContent-Length: 4\r\n\r\n", false, 8192).is_err());
        assert!(parse(b"HTTP/1.1 200 OK\nX: y\r\n\r\n", false, 8192).is_err());
        assert!(parse(b"HTTP/1.1 200 OK\r\nX: a\rb\r\n\r\n", false, 8192).is_err());
        assert!(parse(b"SSH-2.0-OpenSSH\r\n\r\n", false, 8192).is_err());
        assert_eq!(parse(b"HTTP/1.1 200 OK\r\nX: y", false, 10).unwrap_err(), ResponseHeadError::TooLarge);
        assert!(parse(b"HTTP/1.1 200 OK\r\nX: y", false, 8192).unwrap().is_none());
    }
}
