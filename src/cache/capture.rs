//! A response on its way from the upstream to the client, collected so a miss can be stored, and
//! the `Cache-Status` (RFC 9211) the client gets for it.
//!
//! Cost on a miss: the end-to-end headers and the body are copied once into buffers that become
//! the stored entry (the entry must own them); nothing on a bypass but the header line.

use bytes::BytesMut;

use crate::http::trim;
use crate::table::RouteCache;

/// Whether a response may be stored and replayed to other clients (RFC 9111 §3, and what nginx
/// and Varnish do by default): not when the upstream says `Cache-Control: no-store`, `no-cache` or
/// `private`, not when it sets a cookie (one client's session must never reach another), and not
/// when it varies on a header the cache key does not hold (`Vary: *` always).
pub fn shareable<'h>(route: &RouteCache, headers: impl Iterator<Item = (&'h [u8], &'h [u8])>) -> bool {
    let tokens = |value: &'h [u8]| value.split(|&b| b == b',').map(trim);
    for (name, value) in headers {
        if name.eq_ignore_ascii_case(b"set-cookie") {
            return false;
        }
        if name.eq_ignore_ascii_case(b"cache-control") {
            let refused = tokens(value).any(|d| {
                let directive = d.split(|&b| b == b'=').next().map_or(d, trim);
                [&b"no-store"[..], b"no-cache", b"private"].iter().any(|r| r.eq_ignore_ascii_case(directive))
            });
            if refused {
                return false;
            }
        }
        if name.eq_ignore_ascii_case(b"vary") {
            let keyed = |h: &[u8]| route.key_headers.iter().any(|k| k.as_bytes().eq_ignore_ascii_case(h));
            if tokens(value).any(|h| !h.is_empty() && (h == b"*" || !keyed(h))) {
                return false;
            }
        }
    }
    true
}

pub struct Capture<'a> {
    /// The route's cache settings; `None` for a bypass (nothing is stored).
    pub route: Option<&'a RouteCache>,
    /// RFC 9211 `fwd` parameter: `miss`, `request` (a client refresh) or `bypass`.
    pub fwd: &'static str,
    pub status_header: bool,
    /// Add the warning of SUCCEED_WITH_RESPONSE_HEADER.
    pub warning: bool,
    /// Decided when the response head is seen: the response qualifies for storing.
    pub storing: bool,
    pub status: u16,
    pub headers: Vec<u8>,
    pub body: BytesMut,
    /// The whole body was relayed.
    pub complete: bool,
}

impl<'a> Capture<'a> {
    pub fn new(route: Option<&'a RouteCache>, fwd: &'static str, status_header: bool, warning: bool) -> Capture<'a> {
        Capture {
            route,
            fwd,
            status_header,
            warning,
            storing: false,
            status: 0,
            headers: Vec::new(),
            body: BytesMut::new(),
            complete: false,
        }
    }

    /// Decides from the response head whether to store: a cacheable status (2xx unless configured),
    /// a body that is known to fit (`None` = chunked, checked as it arrives), and headers that allow
    /// a shared cache to replay it to anyone ([`shareable`]).
    pub fn decide<'h>(
        &mut self,
        status: u16,
        length: Option<u64>,
        head_request: bool,
        headers: impl Iterator<Item = (&'h [u8], &'h [u8])>,
    ) {
        let Some(route) = self.route else { return };
        let status_ok =
            if route.statuses.is_empty() { (200..300).contains(&status) } else { route.statuses.contains(&status) };
        self.status = status;
        self.storing = status_ok
            && !head_request
            && length.is_none_or(|n| n <= route.max_entry_bytes)
            && shareable(route, headers);
    }

    /// Adds body bytes; gives up storing past the size limit.
    pub fn body(&mut self, bytes: &[u8]) {
        if !self.storing {
            return;
        }
        let limit = self.route.map_or(0, |r| r.max_entry_bytes);
        if (self.body.len() + bytes.len()) as u64 > limit {
            self.storing = false;
            self.body = BytesMut::new();
            return;
        }
        self.body.extend_from_slice(bytes);
    }

    /// Adds the `Cache-Status` (and warning) lines to the response being relayed.
    pub fn write_headers(&self, out: &mut crate::response::Lines) {
        if self.status_header {
            out.line(b"Cache-Status: portico; fwd=");
            out.line(self.fwd.as_bytes());
            out.line(if self.storing { b"; stored\r\n" } else { b"\r\n" });
        }
        if self.warning {
            out.line(super::respond::WARNING);
        }
    }
}
