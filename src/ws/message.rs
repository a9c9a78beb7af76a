//! Messages from a client's frames (RFC 6455 §5.4–5.6): frames are taken off the front of the
//! connection's read buffer, unmasked in place as their bytes arrive, and fragments joined into
//! messages, with control frames between them handed out at once.
//!
//! Fails the connection, with the close code the RFC gives, on a continuation outside a message,
//! a new message inside one, a message over the limit (1009, known from a frame's header, before
//! its payload is read), text that is not UTF-8 (1007, found in the bytes that break it — even
//! mid-frame), and a malformed close payload.
//!
//! Must not: read or write the socket, or answer pings ([`crate::websocket`] does). Cost: an
//! unfragmented message is split off the read buffer without a copy; a fragmented one is
//! copied once into its own buffer.

use bytes::{Buf, Bytes, BytesMut};

use super::close;
use super::frame::{self, Header, Opcode};
use super::utf8::Validator;

/// Size limits of what a client may send.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    pub max_frame_bytes: u64,
    pub max_message_bytes: u64,
}

/// A message or control frame from the client.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Incoming {
    /// A text message (checked to be UTF-8).
    Text(Bytes),
    Binary(Bytes),
    Ping(Bytes),
    Pong(Bytes),
    /// A close frame: its code and reason (UTF-8), if it had a payload.
    Close(Option<(u16, Bytes)>),
}

/// Why the connection fails: the close code to send, and a reason for the log.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Violation {
    pub code: u16,
    pub reason: &'static str,
}

impl From<frame::FrameError> for Violation {
    fn from(e: frame::FrameError) -> Violation {
        let reason = match e {
            frame::FrameError::Reserved => "reserved bits set",
            frame::FrameError::Opcode(_) => "reserved opcode",
            frame::FrameError::Unmasked => "client frame not masked",
            frame::FrameError::FragmentedControl => "fragmented control frame",
            frame::FrameError::LongControl => "control frame over 125 bytes",
            frame::FrameError::Length => "invalid payload length",
            frame::FrameError::TooBig(_) => "frame over the size limit",
        };
        Violation { code: e.close_code(), reason }
    }
}

const fn violation(code: u16, reason: &'static str) -> Violation {
    Violation { code, reason }
}

const STRAY_CONTINUATION: Violation = violation(close::PROTOCOL_ERROR, "continuation frame outside a message");
const INTERLEAVED: Violation = violation(close::PROTOCOL_ERROR, "new message before the last one ended");
const MESSAGE_TOO_BIG: Violation = violation(close::TOO_BIG, "message over the size limit");
const NOT_UTF8: Violation = violation(close::INVALID_DATA, "text that is not UTF-8");
const BAD_CLOSE: Violation = violation(close::PROTOCOL_ERROR, "malformed close frame");

/// The state between frames: the frame being received and the message being joined.
#[derive(Debug, Default)]
pub struct Decoder {
    /// The frame whose payload is arriving, and how many of its bytes are unmasked (and checked).
    current: Option<(Header, usize)>,
    /// A fragmented message: whether it is text, and its payload so far.
    message: Option<(bool, BytesMut)>,
    /// The text being received (a text frame or message).
    utf8: Validator,
}

impl Decoder {
    /// The next message or control frame at the front of `buf` (its bytes removed): `Ok(None)`
    /// when more bytes are needed.
    pub fn next(&mut self, buf: &mut BytesMut, limits: &Limits) -> Result<Option<Incoming>, Violation> {
        loop {
            let (header, mut done) = match self.current {
                Some(current) => current,
                None => {
                    let Some(header) = frame::parse(buf, limits.max_frame_bytes)? else { return Ok(None) };
                    self.begin(&header, limits)?;
                    buf.advance(header.len);
                    (header, 0)
                }
            };
            let len = header.payload_len as usize;
            let have = buf.len().min(len);
            if have > done {
                frame::unmask(&mut buf[done..have], header.mask, done);
                if self.is_text(header.opcode) && !self.utf8.feed(&buf[done..have]) {
                    return Err(NOT_UTF8);
                }
                done = have;
            }
            if have < len {
                self.current = Some((header, done));
                return Ok(None);
            }
            self.current = None;
            let payload = buf.split_to(len);
            if let Some(incoming) = self.finish(header, payload)? {
                return Ok(Some(incoming));
            }
        }
    }

    /// Whether a frame with `opcode` carries text to validate as it arrives.
    fn is_text(&self, opcode: Opcode) -> bool {
        match opcode {
            Opcode::Text => true,
            Opcode::Continuation => self.message.as_ref().is_some_and(|(text, _)| *text),
            _ => false,
        }
    }

    /// Checks a frame's place in the message sequence and its size, from its header alone.
    fn begin(&mut self, header: &Header, limits: &Limits) -> Result<(), Violation> {
        match header.opcode {
            Opcode::Continuation => {
                let Some((_, so_far)) = &self.message else { return Err(STRAY_CONTINUATION) };
                if so_far.len() as u64 + header.payload_len > limits.max_message_bytes {
                    return Err(MESSAGE_TOO_BIG);
                }
            }
            Opcode::Text | Opcode::Binary => {
                if self.message.is_some() {
                    return Err(INTERLEAVED);
                }
                if header.payload_len > limits.max_message_bytes {
                    return Err(MESSAGE_TOO_BIG);
                }
                self.utf8 = Validator::default();
            }
            Opcode::Close | Opcode::Ping | Opcode::Pong => {}
        }
        Ok(())
    }

    /// A whole frame: a control frame or a final fragment gives what it completes.
    fn finish(&mut self, header: Header, payload: BytesMut) -> Result<Option<Incoming>, Violation> {
        let text_done = |v: &Validator| if v.is_complete() { Ok(()) } else { Err(NOT_UTF8) };
        Ok(Some(match header.opcode {
            Opcode::Ping => Incoming::Ping(payload.freeze()),
            Opcode::Pong => Incoming::Pong(payload.freeze()),
            Opcode::Close => {
                let parsed = close::parse(&payload).map_err(|code| Violation { code, ..BAD_CLOSE })?;
                let code = parsed.map(|(code, _)| code);
                let mut payload = payload.freeze();
                Incoming::Close(code.map(|code| (code, payload.split_off(2))))
            }
            Opcode::Text | Opcode::Binary if !header.fin => {
                self.message = Some((header.opcode == Opcode::Text, payload));
                return Ok(None);
            }
            Opcode::Text => {
                text_done(&self.utf8)?;
                Incoming::Text(payload.freeze())
            }
            Opcode::Binary => Incoming::Binary(payload.freeze()),
            Opcode::Continuation => {
                let Some((text, so_far)) = &mut self.message else { return Err(STRAY_CONTINUATION) };
                so_far.extend_from_slice(&payload);
                if !header.fin {
                    return Ok(None);
                }
                let text = *text;
                let whole = self.message.take().map(|(_, m)| m.freeze()).unwrap_or_default();
                if text {
                    text_done(&self.utf8)?;
                    Incoming::Text(whole)
                } else {
                    Incoming::Binary(whole)
                }
            }
        }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const LIMITS: Limits = Limits { max_frame_bytes: 1 << 20, max_message_bytes: 1 << 20 };

    /// A client frame: `b0` (FIN, opcode), the payload masked with a fixed key.
    fn client(b0: u8, payload: &[u8]) -> Vec<u8> {
        let mask = [0xa1, 0x02, 0x73, 0xf4];
        let mut out = vec![b0];
        match payload.len() {
            n @ 0..=125 => out.push(0x80 | n as u8),
            n => {
                out.push(0x80 | 126);
                out.extend_from_slice(&(n as u16).to_be_bytes());
            }
        }
        out.extend_from_slice(&mask);
        let mut p = payload.to_vec();
        frame::unmask(&mut p, mask, 0);
        out.extend_from_slice(&p);
        out
    }

    /// Everything `bytes` decodes to, fed `step` bytes at a time.
    fn decode(bytes: &[u8], step: usize, limits: &Limits) -> Result<Vec<Incoming>, Violation> {
        let mut d = Decoder::default();
        let mut buf = BytesMut::new();
        let mut out = Vec::new();
        for piece in bytes.chunks(step.max(1)) {
            buf.extend_from_slice(piece);
            while let Some(m) = d.next(&mut buf, limits)? {
                out.push(m);
            }
        }
        Ok(out)
    }

    #[test]
    fn joins_fragments_and_passes_control_frames_between_them() {
        let mut wire = client(0x01, b"Hel");
        wire.extend(client(0x89, b"ping!"));
        wire.extend(client(0x00, "lo, κό".as_bytes()));
        wire.extend(client(0x80, "σμε".as_bytes()));
        wire.extend(client(0x82, &[0, 1, 2]));
        wire.extend(client(0x88, b"\x03\xe8bye"));
        for step in [1, 2, 3, 7, wire.len()] {
            let got = decode(&wire, step, &LIMITS).expect("valid");
            assert_eq!(
                got,
                vec![
                    Incoming::Ping(Bytes::from_static(b"ping!")),
                    Incoming::Text(Bytes::from("Hello, κόσμε")),
                    Incoming::Binary(Bytes::from_static(&[0, 1, 2])),
                    Incoming::Close(Some((1000, Bytes::from_static(b"bye")))),
                ],
                "step {step}"
            );
        }
    }

    #[test]
    fn fails_sequences_sizes_and_text_as_the_rfc_says() {
        let err = |wire: Vec<u8>, limits: &Limits| decode(&wire, 1, limits).map(drop).map_err(|v| v.code);
        assert_eq!(err(client(0x80, b"x"), &LIMITS), Err(1002), "continuation alone");
        assert_eq!(err([client(0x01, b"a"), client(0x81, b"b")].concat(), &LIMITS), Err(1002), "interleaved");
        assert_eq!(err(client(0x81, b"\xce\xba\xff"), &LIMITS), Err(1007), "invalid text");
        assert_eq!(err(client(0x81, b"\xce"), &LIMITS), Err(1007), "text cut mid-character");
        assert_eq!(err([client(0x01, b"\xce"), client(0x80, b"\xba")].concat(), &LIMITS), Ok(()));
        assert_eq!(err(client(0x82, b"\xff"), &LIMITS), Ok(()), "binary is not checked");
        assert_eq!(err(client(0x88, b"\x03"), &LIMITS), Err(1002), "one-byte close");
        assert_eq!(err(client(0x88, b"\x03\xed"), &LIMITS), Err(1002), "close code 1005");
        assert_eq!(err(client(0x88, b"\x03\xe8\xff"), &LIMITS), Err(1007), "close reason not UTF-8");
        let small = Limits { max_frame_bytes: 10, max_message_bytes: 12 };
        assert_eq!(err(client(0x82, &[0; 11]), &small), Err(1009), "frame over the limit");
        assert_eq!(err([client(0x02, &[0; 8]), client(0x80, &[0; 8])].concat(), &small), Err(1009), "message over");
        assert_eq!(err([client(0x02, &[0; 6]), client(0x80, &[0; 6])].concat(), &small), Ok(()));
    }

    /// Invalid text is refused when its bytes arrive, before the frame is whole.
    #[test]
    fn fails_fast_inside_a_frame() {
        let mut wire = client(0x81, b"\xce\xba\xe1\xbd\xb9\xcf\x83\xce\xbc\xce\xb5\xed\xa0\x80edited");
        let mut d = Decoder::default();
        let mut buf = BytesMut::new();
        // The header and the bytes up to and including the surrogate's second byte.
        buf.extend_from_slice(&wire[..2 + 4 + 13]);
        assert_eq!(d.next(&mut buf, &LIMITS).map_err(|v| v.code), Err(1007));
        wire.clear();
    }

    #[test]
    fn an_empty_close_has_no_status() {
        assert_eq!(decode(&client(0x88, b""), 1, &LIMITS), Ok(vec![Incoming::Close(None)]));
    }
}
