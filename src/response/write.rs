//! The one response writer: every response a client gets — mock, cache hit, gateway error,
//! relayed — has its head written here, with its framing and the headers every Portico response
//! carries (the request id under the API kind's name, `Date`, `Connection`), and its status and
//! head size noted in the request's record.
//!
//! [`head`] is pure (bytes in a buffer); [`send`] writes a response whose body is in memory;
//! [`start`] writes the head of one whose body the relay streams after it. Cost: the head is
//! written into the connection's reused buffer; a small body is copied after it (one write), a
//! large shared one is written from its `Bytes` without a copy.

use super::{Body, Flow, Framing, Headers, Response};
use crate::conn::ClientConn;
use crate::context::Context;
use crate::context::request_id::RequestId;
use crate::http::encode;
use crate::table::Protocol;

/// Bodies in memory up to this size are copied into the head's write.
const COALESCE_MAX_BYTES: usize = 16 * 1024;

/// What the headers every response carries depend on.
#[derive(Clone, Copy)]
pub struct Common<'a> {
    pub protocol: Protocol,
    pub id: &'a RequestId,
    pub flow: Flow,
    pub http10: bool,
    /// Lines every response to this request carries (its CORS headers), encoded.
    pub added: &'a [u8],
    /// The API answers CORS itself: `Access-Control-*` lines of the response are dropped (AWS
    /// ignores an integration's CORS headers).
    pub drop_cors: bool,
}

/// Statuses whose responses never have a body, nor a `Content-Length` (RFC 9110 §8.6).
pub fn bodyless(status: u16) -> bool {
    status == 204 || status == 304 || (100..200).contains(&status)
}

/// Appends `r`'s head to `out`; returns its length.
pub fn head(out: &mut Vec<u8>, r: &Response<'_>, c: Common<'_>) -> usize {
    let start = out.len();
    encode::status_line(out, r.status, r.reason);
    let cors_header =
        |name: &[u8]| c.drop_cors && name.len() > 15 && name[..15].eq_ignore_ascii_case(b"access-control-");
    match r.headers {
        Headers::Encoded(lines) if c.drop_cors => encoded_without(out, lines, cors_header),
        Headers::Encoded(lines) => out.extend_from_slice(lines),
        Headers::Pairs(pairs) => {
            for (name, value) in pairs.iter().filter(|(n, _)| !cors_header(n.as_bytes())) {
                encode::header(out, name.as_bytes(), value.as_bytes());
            }
        }
    }
    match c.drop_cors {
        true => encoded_without(out, r.extra.as_bytes(), cors_header),
        false => out.extend_from_slice(r.extra.as_bytes()),
    }
    out.extend_from_slice(c.added);
    let in_memory = match &r.body {
        Body::Static(b) => Some(b.len()),
        Body::Shared(b) => Some(b.len()),
        Body::Stream(_) => None,
    };
    match (&r.body, in_memory) {
        (_, Some(len)) if !bodyless(r.status) => encode::header_u64(out, b"Content-Length", len as u64),
        (Body::Stream(Framing::Length(n)), _) => encode::header_u64(out, b"Content-Length", *n),
        (Body::Stream(Framing::HeadOf(Some(value))), _) => encode::header(out, b"Content-Length", value),
        (Body::Stream(Framing::Chunked), _) => encode::header(out, b"Transfer-Encoding", b"chunked"),
        _ => {}
    }
    common_headers(out, c);
    out.extend_from_slice(b"\r\n");
    out.len() - start
}

/// Appends encoded header `lines` but those whose name `drop` says.
fn encoded_without(out: &mut Vec<u8>, lines: &[u8], drop: impl Fn(&[u8]) -> bool) {
    for line in lines.split_inclusive(|&b| b == b'\n') {
        let name = line.split(|&b| b == b':').next().unwrap_or_default();
        if !drop(name) {
            out.extend_from_slice(line);
        }
    }
}

/// Appends the headers every Portico response carries: the request id under the API kind's name,
/// `Date`, and `Connection: close` when the connection ends after this response — or
/// `Connection: keep-alive` when it stays open for an HTTP/1.0 client, which would assume otherwise.
fn common_headers(out: &mut Vec<u8>, c: Common<'_>) {
    match c.protocol {
        Protocol::Rest => encode::header(out, b"x-amzn-RequestId", c.id.as_bytes()),
        Protocol::Http => encode::header(out, b"apigw-requestid", c.id.as_bytes()),
    }
    encode::date_header(out);
    match c.flow {
        Flow::Close => encode::header(out, b"Connection", b"close"),
        Flow::KeepAlive if c.http10 => encode::header(out, b"Connection", b"keep-alive"),
        Flow::KeepAlive => {}
    }
}

/// Writes the head of a response whose body the caller streams next, into the connection's write
/// buffer (not flushed: the caller sends it with the first body bytes).
pub fn start(conn: &mut ClientConn, ctx: &mut Context, r: &Response<'_>, flow: Flow) {
    let id = ctx.id();
    conn.wbuf.clear();
    let common = Common {
        protocol: ctx.protocol,
        id: &id,
        flow,
        http10: ctx.http10,
        added: &ctx.response_headers,
        drop_cors: ctx.cors_owned,
    };
    let len = head(&mut conn.wbuf, r, common);
    ctx.record.response(r.status, len);
}

/// Writes a response whose body is in memory; the flow that holds after it (`Close` when the
/// client could not take it).
pub async fn send(conn: &mut ClientConn, ctx: &mut Context, r: &Response<'_>, flow: Flow) -> Flow {
    start(conn, ctx, r, flow);
    let with_body = !ctx.head_only && !bodyless(r.status);
    let mut large = None;
    match &r.body {
        Body::Static(b) if with_body => conn.wbuf.extend_from_slice(b),
        Body::Shared(b) if with_body && b.len() > COALESCE_MAX_BYTES => large = Some(b.clone()),
        Body::Shared(b) if with_body => conn.wbuf.extend_from_slice(b),
        _ => {}
    }
    let mut sent = conn.flush().await.is_ok();
    if sent && let Some(b) = large {
        sent = conn.write_bytes(b).await.is_ok();
    }
    if sent { flow } else { Flow::Close }
}

#[cfg(test)]
mod tests;
