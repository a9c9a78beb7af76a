//! Relaying an upstream response to the client: head rewritten (hop-by-hop headers dropped, AWS's
//! `x-amzn-Remapped-*` names for REST APIs) into a [`Response`] whose body is a stream, written by
//! the one response writer; body streamed through the one body reader with the framing the client
//! can take; the upstream connection returned to the pool when it is clean.
//!
//! A small body that arrived with the head goes out in the same write as the head. Larger
//! `Content-Length` bodies are written straight from the upstream read buffer without copying.
//! A chunked body's head waits for its first valid chunk, so a body broken from its first byte
//! still becomes a 502; once the head is written nothing can turn into an error response, so
//! failures after that close the client connection.

use std::time::Duration;

use bytes::Buf;

use crate::cache::capture::Capture;
use crate::conn::ClientConn;
use crate::context::Context;
use crate::error::{GatewayError, ResponseType};
use crate::http::body::{LAST_CHUNK, encode_chunk};
use crate::http::body_reader::{self, BodyReader, Source};
use crate::http::head::RequestHead;
use crate::http::response_head::{ResponseFraming, ResponseHead};
use crate::http::{Method, encode, is_hop_by_hop, named_in_connection};
use crate::loaded::LoadedTable;
use crate::mapping::{self, Form};
use crate::outbound::client::{Answer, Timed};
use crate::response::{Body, Flow, Framing, Headers, Response, write};
use crate::table::Protocol;
use crate::table::mapping::{Op, ResponseMapping, Target};

/// Body bytes that arrived with the head and are copied into the head's write.
const COALESCE_MAX_BYTES: usize = 32 * 1024;
/// Bytes gathered for the client before they are written, when the body is copied.
const WRITE_MAX_BYTES: usize = 64 * 1024;

const BROKEN_EARLY: GatewayError =
    GatewayError::new(ResponseType::IntegrationFailure, "upstream chunked body broke before any byte was relayed");

pub async fn relay(
    outbound: crate::outbound::Outbound<'_>,
    (table, mappings): (&LoadedTable, &[ResponseMapping]),
    conn: &mut ClientConn,
    ctx: &mut Context,
    head: &RequestHead,
    mut answer: Answer,
    mut capture: Option<&mut Capture<'_>>,
) -> Result<Flow, GatewayError> {
    let settings = &table.table.settings;
    let rh = &answer.head;
    // AWS's response parameter mapping: the status, and header lines made here, before the head.
    let mapping = ResponseMapping::find(mappings, rh.status);
    let status = mapping.and_then(|m| m.status_code).unwrap_or(rh.status);
    let mapped_lines = match mapping {
        Some(m) if !m.headers.is_empty() => mapped_headers(table, conn, ctx, head, (rh, answer.head_bytes()), m),
        _ => Vec::new(),
    };
    let replaced = |name: &[u8]| mapping.is_some_and(|m| m.headers.iter().any(|p| p.replaces_header(name)));
    let client_11 = head.version_minor == 1;
    let length_known = matches!(rh.framing, ResponseFraming::Empty | ResponseFraming::Length(_));
    // The request body was consumed by forwarding, so the connection is clean for the next request.
    let flow = if ctx.keep_alive && !outbound.draining.get() && (client_11 || length_known) {
        Flow::KeepAlive
    } else {
        Flow::Close
    };
    let chunk_to_client = client_11 && matches!(rh.framing, ResponseFraming::Chunked | ResponseFraming::UntilClose);
    let head_request = head.method == Method::Head;
    if let Some(c) = capture.as_deref_mut() {
        let length = match rh.framing {
            ResponseFraming::Empty => Some(0),
            ResponseFraming::Length(n) => Some(n),
            ResponseFraming::Chunked => None,
            // Complete only when the upstream closes: never stored.
            ResponseFraming::UntilClose => Some(u64::MAX),
        };
        c.decide(status, length, head_request, rh.fields(answer.head_bytes()));
    }

    let mut lines = std::mem::take(&mut conn.scratch);
    lines.clear();
    let head_length = rewrite_headers(&mut lines, ctx.protocol, answer.head_bytes(), rh, replaced);
    lines.extend_from_slice(&mapped_lines);
    let framing = match rh.framing {
        ResponseFraming::Length(n) => Framing::Length(n),
        ResponseFraming::Empty if head_request => Framing::HeadOf(head_length),
        // A bodyless status (204, 304) mapped to one that has a body: an empty one, framed.
        ResponseFraming::Empty if !write::bodyless(status) => Framing::Length(0),
        ResponseFraming::Chunked | ResponseFraming::UntilClose if chunk_to_client => Framing::Chunked,
        _ => Framing::Unframed,
    };
    let (reason_start, reason_end) = rh.reason;
    // A mapped status takes its standard reason phrase.
    let reason = match status == rh.status {
        true => &answer.head_bytes()[reason_start as usize..reason_end as usize],
        false => &b""[..],
    };
    let mut response = Response::new(status, Headers::Encoded(&lines), Body::Stream(framing));
    response.reason = reason;
    if let Some(c) = capture.as_deref_mut() {
        // What a hit will replay: the end-to-end headers as this client got them.
        if c.storing {
            c.headers.extend_from_slice(&lines);
        }
        c.write_headers(&mut response.extra);
    }
    write::start(conn, ctx, &response, flow);
    drop(response);
    conn.scratch = lines;

    let upstream_framing = answer.head.framing;
    answer.skip_head();
    let mut reader = answer.reader(u64::MAX);
    let written_before = conn.bytes_written;
    let timeout = Duration::from_millis(settings.limits.body_timeout_ms);
    let mut to = Relaying {
        client: conn,
        up: Timed { up: &mut answer.conn, timeout },
        // A chunked body's head waits for its first valid chunk.
        release: upstream_framing != ResponseFraming::Chunked,
        client_gone: false,
    };
    let relayed = stream(&mut to, &mut reader, chunk_to_client, capture.as_deref_mut()).await;
    let client_gone = to.client_gone;
    let (complete, flow) = match relayed {
        Ok(()) => (true, flow),
        // Nothing reached the client yet (a chunked body's head waits for its first chunk): the
        // client gets a 502 instead of an empty reply.
        Err(()) if !client_gone && conn.bytes_written == written_before => {
            conn.wbuf.clear();
            return Err(BROKEN_EARLY);
        }
        Err(()) => (false, Flow::Close),
    };
    if let Some(c) = capture {
        c.complete = complete;
    }
    answer.release(outbound.pool, complete, settings.upstream.pool_idle_max_per_upstream);
    Ok(flow)
}

/// The client connection and the upstream's, joined as the body reader's source: before it
/// reads more from the upstream, what is waiting for the client is written (once released).
struct Relaying<'a> {
    client: &'a mut ClientConn,
    up: Timed<'a>,
    /// The client may be written to (the head is no longer held back).
    release: bool,
    client_gone: bool,
}

impl Relaying<'_> {
    async fn flush(&mut self) -> Result<(), ()> {
        if self.client.wbuf.is_empty() {
            return Ok(());
        }
        self.client.flush().await.map_err(|_| self.client_gone = true)
    }
}

impl Source for Relaying<'_> {
    fn buffer(&mut self) -> &mut bytes::BytesMut {
        self.up.buffer()
    }

    async fn fill(&mut self) -> Result<usize, crate::http::Error> {
        const GONE: crate::http::Error = crate::http::Error::new(crate::http::Fault::BodyEndedEarly, "client gone");
        if self.release {
            self.flush().await.map_err(|_| GONE)?;
        }
        self.up.fill().await
    }
}

/// Streams the body: `Err` when the upstream's body broke or the client went away.
async fn stream(
    to: &mut Relaying<'_>,
    reader: &mut BodyReader,
    to_chunked: bool,
    mut capture: Option<&mut Capture<'_>>,
) -> Result<(), ()> {
    use crate::http::body_reader::BodyFraming;
    let framing = reader.framing();
    let mut first = true;
    loop {
        let piece = body_reader::next(reader, to).await.map_err(drop)?;
        if piece.consumed > 0 {
            to.release = true;
        }
        let rbuf = &mut to.up.up.rbuf;
        if let (Some(c), Some((s, e))) = (capture.as_deref_mut(), piece.data) {
            c.body(&rbuf[s..e]);
        }
        match framing {
            BodyFraming::Length(_) if !(first && piece.consumed <= COALESCE_MAX_BYTES) && piece.consumed > 0 => {
                // Large: the head alone, then the body straight from the upstream's buffer.
                let data = rbuf.split_to(piece.consumed).freeze();
                to.flush().await?;
                to.client.write_bytes(data).await.map_err(drop)?;
            }
            BodyFraming::Length(_) | BodyFraming::None => {
                to.client.wbuf.extend_from_slice(&rbuf[..piece.consumed]);
                rbuf.advance(piece.consumed);
            }
            BodyFraming::Chunked if to_chunked => {
                to.client.wbuf.extend_from_slice(&rbuf[..piece.consumed]);
                rbuf.advance(piece.consumed);
            }
            BodyFraming::Chunked | BodyFraming::UntilClose => {
                if let Some((s, e)) = piece.data {
                    if to_chunked {
                        encode_chunk(&mut to.client.wbuf, &rbuf[s..e]);
                    } else {
                        to.client.wbuf.extend_from_slice(&rbuf[s..e]);
                    }
                }
                rbuf.advance(piece.consumed);
                if piece.done && to_chunked {
                    to.client.wbuf.extend_from_slice(LAST_CHUNK);
                }
            }
        }
        first = false;
        if piece.done || to.client.wbuf.len() >= WRITE_MAX_BYTES {
            to.release = true;
            to.flush().await?;
        }
        if piece.done {
            return Ok(());
        }
    }
}

/// The header lines a response mapping adds (a value the response or request lacks leaves its
/// header out).
fn mapped_headers(
    table: &LoadedTable,
    conn: &ClientConn,
    ctx: &Context,
    head: &RequestHead,
    response: (&ResponseHead, &[u8]),
    m: &ResponseMapping,
) -> Vec<u8> {
    let mut out = Vec::new();
    let status = m.status_code.unwrap_or(response.0.status);
    let Some(fields) = crate::request_vars::so_far(table, crate::request_vars::Peer::of(conn), head, ctx, status)
    else {
        return out;
    };
    let params = crate::request_vars::route_params(table, ctx);
    let r = mapping::Request { head, ctx, params, fields: &fields, response: Some(response) };
    let mut value = mapping::Value::new();
    for p in m.headers.iter().filter(|p| p.op != Op::Remove) {
        if let Target::Header(name) = &p.target
            && mapping::value(&p.value, &r, Form::Header, &mut value)
        {
            encode::header(&mut out, name.as_bytes(), &value);
        }
    }
    out
}

/// Writes the upstream's end-to-end headers as the client gets them into `out`; returns the
/// `Content-Length` it gave (a `HEAD` response repeats it).
fn rewrite_headers<'b>(
    out: &mut Vec<u8>,
    protocol: Protocol,
    bytes: &'b [u8],
    rh: &'b ResponseHead,
    replaced: impl Fn(&[u8]) -> bool,
) -> Option<&'b [u8]> {
    let rest = protocol == Protocol::Rest;
    let connection_values = || rh.fields(bytes).filter(|(n, _)| n.eq_ignore_ascii_case(b"connection")).map(|(_, v)| v);
    let mut has_type = false;
    let mut head_length: Option<&[u8]> = None;
    for (name, value) in rh.fields(bytes) {
        if name.eq_ignore_ascii_case(b"content-length") {
            head_length = Some(value);
        }
        let remap = rest
            && [&b"connection"[..], b"content-length", b"date", b"server"].iter().any(|r| r.eq_ignore_ascii_case(name));
        if remap {
            out.extend_from_slice(b"x-amzn-Remapped-");
            encode::header(out, name, value);
            continue;
        }
        // Our own request id is authoritative; an upstream's header of the same name would duplicate it.
        let id_header: &[u8] = if rest { b"x-amzn-requestid" } else { b"apigw-requestid" };
        if is_hop_by_hop(name)
            || replaced(name)
            || name.eq_ignore_ascii_case(b"date")
            || name.eq_ignore_ascii_case(id_header)
            || named_in_connection(name, connection_values())
        {
            continue;
        }
        has_type |= name.eq_ignore_ascii_case(b"content-type");
        encode::header(out, name, value);
    }
    if rest && !has_type {
        encode::header(out, b"Content-Type", b"application/json");
    }
    head_length
}
