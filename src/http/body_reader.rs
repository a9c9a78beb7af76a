//! The one body reader: every body Portico reads — a client's request body, an upstream's response
//! body — goes through [`BodyReader`], whatever is done with it (dropped, sent on, relayed, kept
//! in memory). It owns the framing rules (length, chunked, until close) and the size limit; a
//! [`Source`] owns the reads and their deadlines.
//!
//! [`BodyReader::step`] is sans-IO: given the bytes buffered so far it says which of them are body
//! data, how many it used (framing included) and whether the body ended, without consuming
//! anything — so a caller can look at a body before deciding what to do with it (the pipeline
//! receives a small body whole before any upstream hears of it). [`next`] adds the reads;
//! [`discard`] and [`buffer`] are the two consumers that need nothing else; [`already_buffered`]
//! is `buffer`'s case that needs no read, for a caller that would otherwise set a timer around it.
//!
//! Must not: know who the peer is or what the body is for. Cost: no allocation except in
//! [`buffer`] (none for a `Content-Length` body already buffered whole: it is split off the read
//! buffer); chunked bodies are decoded by the allocation-free [`ChunkedDecoder`].

use bytes::{Bytes, BytesMut};

use super::body::ChunkedDecoder;
use super::error::{Error, Fault};

/// How a body's end is found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BodyFraming {
    /// No body.
    None,
    /// `Content-Length`.
    Length(u64),
    Chunked,
    /// Ends when the peer closes (responses only).
    UntilClose,
}

impl From<super::head::Framing> for BodyFraming {
    /// A request's framing, as its head declared it.
    fn from(framing: super::head::Framing) -> BodyFraming {
        match framing {
            super::head::Framing::None => BodyFraming::None,
            super::head::Framing::Length(n) => BodyFraming::Length(n),
            super::head::Framing::Chunked => BodyFraming::Chunked,
        }
    }
}

impl From<super::response_head::ResponseFraming> for BodyFraming {
    /// A response's framing, as its head (and the request's method) decided it.
    fn from(framing: super::response_head::ResponseFraming) -> BodyFraming {
        use super::response_head::ResponseFraming;
        match framing {
            ResponseFraming::Empty => BodyFraming::None,
            ResponseFraming::Length(n) => BodyFraming::Length(n),
            ResponseFraming::Chunked => BodyFraming::Chunked,
            ResponseFraming::UntilClose => BodyFraming::UntilClose,
        }
    }
}

/// One step through a body.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Piece {
    /// Body data within the bytes given, as `start..end`.
    pub data: Option<(usize, usize)>,
    /// Bytes given that this piece covers (framing and data). `0` and not `done`: more is needed.
    pub consumed: usize,
    /// The body ended with this piece.
    pub done: bool,
}

pub const BAD_CHUNKED: Error = Error::bad("invalid chunked body");
pub const TOO_LARGE: Error = Error::new(Fault::BodyTooLarge, "body over the limit");
pub const ENDED_EARLY: Error = Error::new(Fault::BodyEndedEarly, "body ended early");

#[derive(Debug, Clone)]
pub struct BodyReader {
    framing: BodyFraming,
    /// `Length`: bytes still to come.
    left: u64,
    decoder: ChunkedDecoder,
    /// Body bytes seen so far, and the most allowed.
    seen: u64,
    max: u64,
}

impl BodyReader {
    /// A reader for a body of `framing` that may carry at most `max` bytes of data.
    pub fn new(framing: BodyFraming, max: u64) -> BodyReader {
        let left = if let BodyFraming::Length(n) = framing { n } else { 0 };
        BodyReader { framing, left, decoder: ChunkedDecoder::new(), seen: 0, max }
    }

    pub fn framing(&self) -> BodyFraming {
        self.framing
    }

    /// Body bytes seen so far.
    pub fn seen(&self) -> u64 {
        self.seen
    }

    /// Looks at `buf`, the body's next unread bytes. Consumes nothing: the caller drops
    /// `consumed` bytes from its buffer when it is done with the piece, and calls again.
    pub fn step(&mut self, buf: &[u8]) -> Result<Piece, Error> {
        let piece = match self.framing {
            BodyFraming::None => Piece { data: None, consumed: 0, done: true },
            BodyFraming::Length(n) if n > self.max => return Err(TOO_LARGE),
            BodyFraming::Length(_) => {
                let take = (buf.len() as u64).min(self.left) as usize;
                self.left -= take as u64;
                Piece { data: (take > 0).then_some((0, take)), consumed: take, done: self.left == 0 }
            }
            BodyFraming::Chunked => {
                let step = self.decoder.step(buf).map_err(|_| BAD_CHUNKED)?;
                Piece { data: step.data, consumed: step.consumed, done: step.done }
            }
            BodyFraming::UntilClose => {
                Piece { data: (!buf.is_empty()).then_some((0, buf.len())), consumed: buf.len(), done: false }
            }
        };
        if let Some((s, e)) = piece.data {
            self.seen += (e - s) as u64;
            if self.seen > self.max {
                return Err(TOO_LARGE);
            }
        }
        Ok(piece)
    }

    /// The peer closed: the end of an until-close body, anything else ended early.
    pub fn at_eof(&self) -> Result<Piece, Error> {
        match self.framing {
            BodyFraming::UntilClose | BodyFraming::None => Ok(Piece { data: None, consumed: 0, done: true }),
            BodyFraming::Length(_) | BodyFraming::Chunked => Err(ENDED_EARLY),
        }
    }
}

/// Where body bytes come from: a buffer and a way to read more into it, within the reader's own
/// deadlines (a client connection's body deadline, an upstream's body timeout).
#[allow(async_fn_in_trait)]
pub trait Source {
    fn buffer(&mut self) -> &mut BytesMut;
    /// Reads more into the buffer; `Ok(0)` when the peer closed.
    async fn fill(&mut self) -> Result<usize, Error>;
}

/// The next piece of the body, reading when what is buffered holds none. The piece's ranges are
/// into `src.buffer()`; the caller drops `piece.consumed` bytes from it when done with them.
pub async fn next(reader: &mut BodyReader, src: &mut impl Source) -> Result<Piece, Error> {
    loop {
        let piece = reader.step(src.buffer())?;
        if piece.consumed > 0 || piece.done {
            return Ok(piece);
        }
        if src.fill().await? == 0 {
            return reader.at_eof();
        }
    }
}

/// Reads and drops the whole body; `Ok(false)` when it is larger than `max_bytes` on the wire,
/// where the caller stops (and closes, as the rest is still unread).
pub async fn discard(reader: &mut BodyReader, src: &mut impl Source, max_bytes: u64) -> Result<bool, Error> {
    let mut wire = 0u64;
    loop {
        let piece = next(reader, src).await?;
        let _ = src.buffer().split_to(piece.consumed);
        wire += piece.consumed as u64;
        if piece.done {
            return Ok(true);
        }
        if wire > max_bytes {
            return Ok(false);
        }
    }
}

/// Reads the whole body into memory (the reader's `max` bounds it). A `Content-Length` body
/// already buffered whole is split off the buffer without a copy.
pub async fn buffer(reader: &mut BodyReader, src: &mut impl Source) -> Result<Bytes, Error> {
    if let Some(body) = already_buffered(reader, src.buffer()) {
        return Ok(body);
    }
    let mut body = BytesMut::new();
    loop {
        let piece = next(reader, src).await?;
        let buf = src.buffer();
        if let Some((s, e)) = piece.data {
            body.extend_from_slice(&buf[s..e]);
        }
        let _ = buf.split_to(piece.consumed);
        if piece.done {
            return Ok(body.freeze());
        }
    }
}

/// The body when it is a `Content-Length` body within the limit that `buf` already holds whole
/// (split off `buf`, no copy, no read), or there is none (empty). `None` (nothing consumed)
/// otherwise, [`buffer`] then reads it. A caller with a deadline on the reads checks this first and sets no timer for a body
/// that has come with its head (what a small answer does).
pub fn already_buffered(reader: &mut BodyReader, buf: &mut BytesMut) -> Option<Bytes> {
    match reader.framing {
        BodyFraming::None => Some(Bytes::new()),
        BodyFraming::Length(n) if n <= reader.max && reader.left == n && buf.len() as u64 >= n => {
            // Within the limit, so the step cannot fail; it keeps the reader's counts.
            reader.step(&buf[..n as usize]).ok()?;
            Some(buf.split_to(n as usize).freeze())
        }
        _ => None,
    }
}

#[cfg(test)]
mod tests;
