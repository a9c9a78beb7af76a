//! CORS, answered by the gateway (AWS's HTTP API `corsConfiguration`; on REST APIs, the shorthand
//! for what AWS's "Enable CORS" writes): step 1b, once the API is known.
//!
//! A preflight (`OPTIONS` with `Origin` and `Access-Control-Request-Method`) is answered here,
//! before routing and authorization (a browser's preflight carries no credentials): 204 on HTTP
//! APIs, 200 on REST APIs, with the allow headers when the origin is allowed and none when it is
//! not (the browser then blocks the call). Any other request from an allowed origin gets
//! `Access-Control-Allow-Origin` (and credentials, exposed headers, `Vary: Origin`) on every
//! response, errors included, written by the one writer; the API's integrations' own
//! `Access-Control-*` headers are dropped, as AWS ignores them.
//!
//! Cost on a CORS API: one header lookup; for an allowed origin about 100 bytes encoded into the
//! context's inline buffer. No allocation.

use crate::context::Context;
use crate::http::Method;
use crate::http::head::RequestHead;
use crate::response::{Body, Headers, Response};
use crate::table::Protocol;
use crate::table::cors::{Allowed, Cors};

/// A preflight's answer, or `None` (the request goes on, carrying its CORS headers).
pub fn step(cors: &Cors, protocol: Protocol, head: &RequestHead, ctx: &mut Context) -> Option<Response<'static>> {
    ctx.cors_owned = true;
    let origin = head.only(b"origin");
    if head.method == Method::Options
        && origin.is_some()
        && let Some(requested) = head.first(b"access-control-request-method")
    {
        return Some(preflight(cors, protocol, head, (origin, Some(requested)), &mut ctx.response_headers));
    }
    let origin = origin?;
    let allowed = cors.allows(origin)?;
    let out = &mut ctx.response_headers;
    allow_origin(out, cors, allowed, origin);
    if !cors.expose_headers.is_empty() {
        list(out, b"Access-Control-Expose-Headers", &cors.expose_headers);
    }
    None
}

/// The preflight's answer; its headers go where every response's do (`out`), past the filter
/// that drops an integration's.
fn preflight(
    cors: &Cors,
    protocol: Protocol,
    head: &RequestHead,
    (origin, requested): (Option<&[u8]>, Option<&[u8]>),
    out: &mut Headers192,
) -> Response<'static> {
    let status = match protocol {
        Protocol::Http => 204,
        Protocol::Rest => 200,
    };
    let response = Response::new(status, Headers::Encoded(b""), Body::Static(b""));
    let (Some(origin), Some(requested)) = (origin, requested) else { return response };
    let Some(allowed) = cors.allows(origin) else { return response };
    allow_origin(out, cors, allowed, origin);
    // `*` echoes what the browser asks for, which also works with credentials (where browsers
    // take `*` literally).
    if cors.allow_methods.iter().any(|m| m == "*") {
        if requested.iter().all(|b| b.is_ascii_alphabetic()) {
            header(out, b"Access-Control-Allow-Methods", requested);
        }
    } else if !cors.allow_methods.is_empty() {
        list(out, b"Access-Control-Allow-Methods", &cors.allow_methods);
    }
    if cors.allow_headers.iter().any(|h| h == "*") {
        if let Some(asked) = head.first(b"access-control-request-headers") {
            header(out, b"Access-Control-Allow-Headers", asked);
        }
    } else if !cors.allow_headers.is_empty() {
        list(out, b"Access-Control-Allow-Headers", &cors.allow_headers);
    }
    if let Some(age) = cors.max_age_s {
        header(out, b"Access-Control-Max-Age", itoa::Buffer::new().format(age).as_bytes());
    }
    response
}

fn allow_origin(out: &mut Headers192, cors: &Cors, allowed: Allowed, origin: &[u8]) {
    match allowed {
        Allowed::Any => header(out, b"Access-Control-Allow-Origin", b"*"),
        Allowed::Echo => {
            header(out, b"Access-Control-Allow-Origin", origin);
            header(out, b"Vary", b"Origin");
        }
    }
    if cors.allow_credentials {
        header(out, b"Access-Control-Allow-Credentials", b"true");
    }
}

fn list(out: &mut Headers192, name: &[u8], values: &[String]) {
    out.extend_from_slice(name);
    out.extend_from_slice(b": ");
    for (i, v) in values.iter().enumerate() {
        if i > 0 {
            out.extend_from_slice(b", ");
        }
        out.extend_from_slice(v.as_bytes());
    }
    out.extend_from_slice(b"\r\n");
}

/// The context's inline buffer of the lines every response carries.
type Headers192 = smallvec::SmallVec<[u8; 192]>;

fn header(out: &mut Headers192, name: &[u8], value: &[u8]) {
    for piece in [name, b": ", value, b"\r\n"] {
        out.extend_from_slice(piece);
    }
}
