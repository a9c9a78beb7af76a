//! The request body's two pipeline steps, both over the one body reader:
//!
//! - [`receive`] (step 5): the body within its limit (10 MB by default, like AWS), and, for routes
//!   that buffer, a body up to the route's bound received whole and kept in the context, its
//!   framing checked to the end, before any integration runs — as AWS does (it receives the whole
//!   request first) and nginx does (request buffering). A request answered with 400 (broken
//!   chunked framing) or 408 (too slow) then never reaches an upstream, in part or whole. Larger
//!   bodies are left to stream.
//! - [`settle`]: before a response that did not read the body (a mock, a cache hit, an error), a
//!   small unread body is read and dropped so the connection can stay open; a large one closes it.
//!
//! Cost: none for requests without a body. A `Content-Length` body received whole is split off the
//! read buffer (no copy); a chunked one is decoded once to check it and once into the buffer.

use crate::conn::ClientConn;
use crate::context::{Context, RequestBody};
use crate::error::{GatewayError, ResponseType};
use crate::http::body_reader::{self, BodyFraming, BodyReader, Source};
use crate::http::head::{Framing, RequestHead};
use crate::response::Flow;
use crate::table::Limits;

/// Bodies no integration reads are read and dropped up to this size; a larger one closes the
/// connection instead.
const DISCARD_MAX_BYTES: u64 = 64 * 1024;

const TOO_LARGE: GatewayError = GatewayError::new(ResponseType::RequestTooLarge, "request body over the limit");

/// Step 5: refuses a declared body over `max_body_bytes` (413, closing), and receives a body of
/// at most `buffer` bytes whole into `ctx.body` (0: the route buffers nothing).
pub async fn receive(
    conn: &mut ClientConn,
    head: &RequestHead,
    ctx: &mut Context,
    limits: &Limits,
    buffer: u64,
) -> Result<(), GatewayError> {
    if let Framing::Length(n) = head.framing
        && n > limits.max_body_bytes
    {
        return Err(TOO_LARGE.closing());
    }
    // Received already (an AWS_IAM route hashes it before authorizing).
    if ctx.body != RequestBody::Unread {
        return Ok(());
    }
    let framing = BodyFraming::from(head.framing);
    match framing {
        BodyFraming::None => return Ok(()),
        _ if buffer == 0 => return Ok(()),
        BodyFraming::Length(n) if n > buffer => return Ok(()),
        _ => {}
    }
    // Looked at as it arrives, without consuming: if it turns out larger than the bound, it
    // streams from its first byte. Chunk extensions and sizes add to the wire bytes; bound those.
    let wire_max = 2 * buffer as usize + 4096;
    let mut scan = BodyReader::new(framing, u64::MAX);
    let mut checked = 0usize;
    loop {
        let piece = scan.step(&conn.rbuf[checked..]).map_err(GatewayError::from)?;
        checked += piece.consumed;
        if piece.done {
            break;
        }
        if scan.seen() > buffer || checked > wire_max {
            return Ok(());
        }
        if piece.consumed == 0 && Source::fill(conn).await.map_err(GatewayError::from)? == 0 {
            return Err(GatewayError::from(crate::conn::BODY_ENDED_EARLY));
        }
    }
    let mut reader = BodyReader::new(framing, limits.max_body_bytes);
    let body = body_reader::buffer(&mut reader, conn).await.map_err(GatewayError::from)?;
    ctx.body = RequestBody::Buffered(body);
    Ok(())
}

/// Before a response that did not read the request body: drops a small unread body so the
/// connection can stay open, or says to close. A malformed chunked body is a bad request.
pub async fn settle(
    conn: &mut ClientConn,
    head: &RequestHead,
    ctx: &mut Context,
    limits: &Limits,
) -> Result<Flow, GatewayError> {
    if !ctx.keep_alive {
        return Ok(Flow::Close);
    }
    if !ctx.body_unread(head) {
        return Ok(Flow::KeepAlive);
    }
    ctx.body = RequestBody::Consumed;
    match head.framing {
        // The client waits for `100 Continue` before sending: closing is cheaper than inviting it.
        _ if head.expect_continue => return Ok(Flow::Close),
        Framing::Length(n) if n > DISCARD_MAX_BYTES => return Ok(Flow::Close),
        _ => {}
    }
    let mut reader = BodyReader::new(head.framing.into(), u64::MAX);
    match body_reader::discard(&mut reader, conn, DISCARD_MAX_BYTES.min(limits.max_body_bytes)).await {
        Ok(true) => Ok(Flow::KeepAlive),
        Ok(false) => Ok(Flow::Close),
        Err(e) if e == body_reader::BAD_CHUNKED => Err(GatewayError::new(ResponseType::BadRequest, e.detail)),
        // Ended early, too slow: nothing more to read from this connection.
        Err(_) => Ok(Flow::Close),
    }
}
