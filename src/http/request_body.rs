//! Receiving a request body whole before an integration is called, as AWS does (it receives the
//! whole request first) and nginx does (request buffering): a body up to `buffer_body_bytes` is
//! read into the connection's read buffer and its framing checked to the end, so a request that is
//! answered with 400 (broken chunked framing) or 408 (too slow) never reaches an upstream, in part
//! or whole. Larger bodies are left to stream.
//!
//! Nothing is consumed: the body stays at the front of the read buffer, where the integration
//! reads it as before. Cost: none for requests without a body; otherwise the reads the body needs
//! anyway, and one pass of the chunked decoder over a chunked body (it is decoded again when sent).

use super::body::ChunkedDecoder;
use super::conn::{BODY_ENDED_EARLY as ENDED_EARLY, ClientConn};
use super::head::{Framing, RequestHead};
use crate::error::{GatewayError, ResponseType};
use crate::table::Limits;

/// What [`receive`] left at the front of the read buffer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Received {
    /// The whole body (or there is none), its framing checked.
    Whole,
    /// A body larger than the buffering limit: it streams.
    Streaming,
}

const BAD_CHUNKED: GatewayError = GatewayError::new(ResponseType::BadRequest, "invalid chunked body").closing();

/// Receives the request body into `conn`'s read buffer if it fits `limits.buffer_body_bytes`.
pub async fn receive(conn: &mut ClientConn, head: &RequestHead, limits: &Limits) -> Result<Received, GatewayError> {
    let max = limits.buffer_body_bytes;
    match head.framing {
        Framing::None => Ok(Received::Whole),
        Framing::Length(n) if conn.rbuf.len() as u64 >= n => Ok(Received::Whole),
        Framing::Length(n) if n > max => Ok(Received::Streaming),
        Framing::Length(n) => {
            invite(conn, head).await?;
            while (conn.rbuf.len() as u64) < n {
                if conn.fill_body(limits).await? == 0 {
                    return Err(ENDED_EARLY);
                }
            }
            Ok(Received::Whole)
        }
        Framing::Chunked if max == 0 => Ok(Received::Streaming),
        Framing::Chunked => {
            let mut decoder = ChunkedDecoder::new();
            // Bytes of the buffer already checked, and the body's decoded size so far.
            let (mut checked, mut data) = (0usize, 0u64);
            // Chunk extensions and sizes add to the wire bytes; bound those too.
            let wire_max = 2 * max as usize + 4096;
            loop {
                let step = decoder.step(&conn.rbuf[checked..]).map_err(|_| BAD_CHUNKED)?;
                checked += step.consumed;
                if let Some((s, e)) = step.data {
                    data += (e - s) as u64;
                }
                if step.done {
                    return Ok(Received::Whole);
                }
                if data > max || checked > wire_max {
                    return Ok(Received::Streaming);
                }
                if step.consumed == 0 {
                    if checked == 0 && conn.rbuf.is_empty() {
                        invite(conn, head).await?;
                    }
                    if conn.fill_body(limits).await? == 0 {
                        return Err(ENDED_EARLY);
                    }
                }
            }
        }
    }
}

/// A client that waits for `100 Continue` before sending its body gets it now.
async fn invite(conn: &mut ClientConn, head: &RequestHead) -> Result<(), GatewayError> {
    if head.expect_continue && conn.rbuf.is_empty() {
        conn.send_continue().await.map_err(|_| ENDED_EARLY)?;
    }
    Ok(())
}
