//! Body framing: a streaming, strict chunked decoder and chunk encoding.
//!
//! The decoder is fed whatever bytes have arrived and hands back data ranges as it finds them, so a
//! body is relayed without being buffered whole. It rejects what httparse's own chunk parser accepts
//! (an empty size line as the last chunk, bare LF, sizes that overflow) and bounds extension and
//! trailer lines. It never allocates.

/// Longest chunk-size line (size, extensions) or trailer line we accept.
const MAX_LINE_BYTES: usize = 4096;
/// Largest trailer section we read (and then drop).
const MAX_TRAILER_BYTES: usize = 16 * 1024;

#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum ChunkError {
    #[error("invalid chunk size")]
    Size,
    #[error("chunk line too long")]
    LineTooLong,
    #[error("missing CRLF after chunk")]
    Delimiter,
    #[error("trailer section too large")]
    Trailers,
    #[error("malformed trailer line")]
    TrailerLine,
}

use super::is_tchar;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    /// Reading hex digits of the size.
    Size {
        digits: u8,
    },
    /// After the size: extensions up to CR.
    Ext,
    /// Expecting LF of the size line.
    SizeLf,
    Data,
    DataCr,
    DataLf,
    /// At the start of a trailer line (or the final empty line).
    TrailerStart,
    /// Inside a trailer line; `colon`: its field name has ended with `:`.
    TrailerLine {
        colon: bool,
    },
    TrailerLf {
        empty: bool,
    },
    Done,
}

/// What one [`ChunkedDecoder::step`] found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Step {
    /// Bytes of the input used (framing and data).
    pub consumed: usize,
    /// Body data within the input, as `start..end`.
    pub data: Option<(usize, usize)>,
    pub done: bool,
}

#[derive(Debug, Clone)]
pub struct ChunkedDecoder {
    state: State,
    remaining: u64,
    line_bytes: usize,
    trailer_bytes: usize,
}

impl Default for ChunkedDecoder {
    fn default() -> Self {
        Self::new()
    }
}

impl ChunkedDecoder {
    pub fn new() -> Self {
        Self { state: State::Size { digits: 0 }, remaining: 0, line_bytes: 0, trailer_bytes: 0 }
    }

    pub fn is_done(&self) -> bool {
        self.state == State::Done
    }

    /// Consumes framing from `input` until it finds data, runs out of input, or the body ends.
    pub fn step(&mut self, input: &[u8]) -> Result<Step, ChunkError> {
        let mut i = 0;
        while i < input.len() {
            let b = input[i];
            match self.state {
                State::Size { digits } => match super::hex_digit(b) {
                    Some(v) => {
                        if digits >= 15 {
                            return Err(ChunkError::Size);
                        }
                        self.remaining = self.remaining * 16 + u64::from(v);
                        self.state = State::Size { digits: digits + 1 };
                    }
                    None if digits == 0 => return Err(ChunkError::Size),
                    None if b == b'\r' => self.state = State::SizeLf,
                    None if b == b';' || b == b' ' || b == b'\t' => {
                        self.line_bytes = 0;
                        self.state = State::Ext;
                    }
                    None => return Err(ChunkError::Size),
                },
                State::Ext => {
                    if b == b'\r' {
                        self.state = State::SizeLf;
                    } else if b == b'\n' || b == 0 {
                        return Err(ChunkError::Size);
                    } else {
                        self.line_bytes += 1;
                        if self.line_bytes > MAX_LINE_BYTES {
                            return Err(ChunkError::LineTooLong);
                        }
                    }
                }
                State::SizeLf => {
                    if b != b'\n' {
                        return Err(ChunkError::Size);
                    }
                    self.state = if self.remaining == 0 { State::TrailerStart } else { State::Data };
                }
                State::Data => {
                    let available = (input.len() - i) as u64;
                    let take = available.min(self.remaining) as usize;
                    self.remaining -= take as u64;
                    if self.remaining == 0 {
                        self.state = State::DataCr;
                    }
                    return Ok(Step { consumed: i + take, data: Some((i, i + take)), done: false });
                }
                State::DataCr => {
                    if b != b'\r' {
                        return Err(ChunkError::Delimiter);
                    }
                    self.state = State::DataLf;
                }
                State::DataLf => {
                    if b != b'\n' {
                        return Err(ChunkError::Delimiter);
                    }
                    self.state = State::Size { digits: 0 };
                }
                State::TrailerStart => {
                    if b == b'\r' {
                        self.state = State::TrailerLf { empty: true };
                    } else if b == b'\n' || b == 0 {
                        return Err(ChunkError::Delimiter);
                    } else if is_tchar(b) {
                        self.line_bytes = 1;
                        self.state = State::TrailerLine { colon: false };
                    } else {
                        // A line folded onto the previous one, or no field name at all.
                        return Err(ChunkError::TrailerLine);
                    }
                    self.count_trailer()?;
                }
                State::TrailerLine { colon } => {
                    if b == b'\r' {
                        if !colon {
                            return Err(ChunkError::TrailerLine);
                        }
                        self.state = State::TrailerLf { empty: false };
                    } else if b == b'\n' || b == 0 {
                        return Err(ChunkError::Delimiter);
                    } else if !colon && b == b':' {
                        self.state = State::TrailerLine { colon: true };
                        self.line_bytes += 1;
                    } else if !colon && !is_tchar(b) {
                        return Err(ChunkError::TrailerLine);
                    } else {
                        self.line_bytes += 1;
                        if self.line_bytes > MAX_LINE_BYTES {
                            return Err(ChunkError::LineTooLong);
                        }
                    }
                    self.count_trailer()?;
                }
                State::TrailerLf { empty } => {
                    if b != b'\n' {
                        return Err(ChunkError::Delimiter);
                    }
                    if empty {
                        self.state = State::Done;
                        return Ok(Step { consumed: i + 1, data: None, done: true });
                    }
                    self.state = State::TrailerStart;
                }
                State::Done => {
                    return Ok(Step { consumed: i, data: None, done: true });
                }
            }
            i += 1;
        }
        Ok(Step { consumed: i, data: None, done: self.state == State::Done })
    }

    fn count_trailer(&mut self) -> Result<(), ChunkError> {
        self.trailer_bytes += 1;
        if self.trailer_bytes > MAX_TRAILER_BYTES {
            return Err(ChunkError::Trailers);
        }
        Ok(())
    }
}

/// Appends one chunk (size line, data, CRLF) to `out`.
pub fn encode_chunk(out: &mut Vec<u8>, data: &[u8]) {
    if data.is_empty() {
        return;
    }
    let mut digits = [0u8; 16];
    let mut n = data.len();
    let mut i = digits.len();
    while n > 0 {
        i -= 1;
        digits[i] = b"0123456789abcdef"[n & 15];
        n >>= 4;
    }
    out.extend_from_slice(&digits[i..]);
    out.extend_from_slice(b"\r\n");
    out.extend_from_slice(data);
    out.extend_from_slice(b"\r\n");
}

/// The last chunk and an empty trailer section.
pub const LAST_CHUNK: &[u8] = b"0\r\n\r\n";

#[cfg(test)]
mod tests {
    use super::*;

    /// Feeds `input` in pieces of `split` bytes; returns the decoded body.
    fn decode(input: &[u8], split: usize) -> Result<(Vec<u8>, usize), ChunkError> {
        let mut d = ChunkedDecoder::new();
        let mut out = Vec::new();
        let mut pos = 0;
        while pos < input.len() {
            let end = (pos + split).min(input.len());
            let mut piece = &input[pos..end];
            let mut used = 0;
            while !piece.is_empty() {
                let step = d.step(piece)?;
                if let Some((s, e)) = step.data {
                    out.extend_from_slice(&piece[s..e]);
                }
                used += step.consumed;
                piece = &piece[step.consumed..];
                if step.done {
                    return Ok((out, pos + used));
                }
                if step.consumed == 0 {
                    break;
                }
            }
            pos = end;
        }
        Err(ChunkError::Delimiter)
    }

    #[test]
    fn decodes_in_any_split() {
        let body = b"5\r\nhello\r\n7;ext=1\r\n, world\r\n0\r\nX-Trailer: a\r\nY:b:c\r\n\r\nNEXT";
        for split in 1..body.len() {
            let (out, used) = decode(body, split).unwrap();
            assert_eq!(out, b"hello, world", "split {split}");
            assert_eq!(&body[used..], b"NEXT", "split {split}");
        }
    }

    #[test]
    fn rejects_bad_framing() {
        for bad in [
            &b"\r\n"[..],
            b"x\r\n",
            b"5\nhello\r\n0\r\n\r\n",
            b"5\r\nhelloX\r\n",
            b"fffffffffffffffff\r\n",
            b"0\r\n\n",
            b"-1\r\n",
            // Trailer lines must be `name: value` (regression, issue 11: a line without a name or
            // a colon, or folded onto the previous one, was taken).
            b"0\r\nbad trailer\r\n\r\n",
            b"0\r\nX-T: 1\r\n folded\r\n\r\n",
            b"0\r\n: no name\r\n\r\n",
            b"0\r\nX T: 1\r\n\r\n",
        ] {
            assert!(decode(bad, 64).is_err(), "{:?}", String::from_utf8_lossy(bad));
        }
    }

    #[test]
    fn encodes() {
        let mut out = Vec::new();
        encode_chunk(&mut out, &[b'a'; 26]);
        out.extend_from_slice(LAST_CHUNK);
        assert_eq!(decode(&out, 3).unwrap().0, [b'a'; 26]);
        assert!(out.starts_with(b"1a\r\n"));
    }
}
