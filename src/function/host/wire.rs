//! HTTP/1.1 on the host's blocking sockets: a request read whole (head by the codec's parser,
//! body by the one body reader, `Content-Length` or chunked), a response written whole.
//!
//! Must not: know the Lambda APIs. Cost: one read buffer per connection, reused; the body is one
//! `Vec`.

use std::io::{Read, Write};
use std::net::TcpStream;

use bytes::{Buf, BytesMut};

use crate::http::body_reader::BodyReader;
use crate::http::head::{self, HeadLimits, RequestHead};

const LIMITS: HeadLimits = HeadLimits { max_header_bytes: 64 * 1024, max_header_count: 100, max_uri_bytes: 8192 };

/// A request read whole.
pub struct Request {
    pub head: RequestHead,
    pub body: Vec<u8>,
}

/// Why no request could be read.
#[derive(Debug)]
pub enum ReadError {
    /// The peer closed between requests.
    Closed,
    /// Broken HTTP, a body over the limit, or a connection that failed mid-request.
    Broken(&'static str),
    TooLarge,
}

/// Reads the next request on `stream`; `buf` carries bytes between requests.
pub fn read_request(stream: &mut TcpStream, buf: &mut BytesMut, max_body: u64) -> Result<Request, ReadError> {
    let index = loop {
        if !buf.is_empty() {
            match head::parse(buf, &LIMITS) {
                Ok(Some(index)) => break index,
                Ok(None) => {}
                Err(_) => return Err(ReadError::Broken("bad request head")),
            }
        }
        if fill(stream, buf)? == 0 {
            return Err(if buf.is_empty() { ReadError::Closed } else { ReadError::Broken("closed mid-head") });
        }
    };
    let len = index.len;
    let head = index.into_head(buf.split_to(len).freeze());
    let mut reader = BodyReader::new(head.framing.into(), max_body);
    let mut body = Vec::new();
    loop {
        let piece = reader.step(buf).map_err(|e| match e.fault {
            crate::http::Fault::BodyTooLarge => ReadError::TooLarge,
            _ => ReadError::Broken("bad request body"),
        })?;
        if let Some((s, e)) = piece.data {
            body.extend_from_slice(&buf[s..e]);
        }
        buf.advance(piece.consumed);
        if piece.done {
            return Ok(Request { head, body });
        }
        if piece.consumed == 0 && fill(stream, buf)? == 0 {
            return Err(ReadError::Broken("closed mid-body"));
        }
    }
}

fn fill(stream: &mut TcpStream, buf: &mut BytesMut) -> Result<usize, ReadError> {
    let mut chunk = [0u8; 16 * 1024];
    match stream.read(&mut chunk) {
        Ok(n) => {
            buf.extend_from_slice(&chunk[..n]);
            Ok(n)
        }
        Err(_) => Err(ReadError::Broken("read failed")),
    }
}

/// Writes a whole response with a `Content-Length`.
pub fn write_response(
    stream: &mut TcpStream,
    status: &str,
    headers: &[(&str, &[u8])],
    body: &[u8],
) -> std::io::Result<()> {
    let mut out = Vec::with_capacity(256 + body.len());
    out.extend_from_slice(b"HTTP/1.1 ");
    out.extend_from_slice(status.as_bytes());
    out.extend_from_slice(b"\r\n");
    for (name, value) in headers {
        crate::http::encode::header(&mut out, name.as_bytes(), value);
    }
    crate::http::encode::header_u64(&mut out, b"Content-Length", body.len() as u64);
    out.extend_from_slice(b"\r\n");
    out.extend_from_slice(body);
    stream.write_all(&out)
}
