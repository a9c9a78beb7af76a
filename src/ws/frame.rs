//! RFC 6455 §5.2 frame headers: the strict parse of a client's frame header and the writer of
//! the gateway's (server) frames.
//!
//! Strict where the RFC says "MUST fail the connection": reserved bits without a negotiated
//! extension, reserved opcodes, an unmasked client frame, a fragmented or oversized (> 125
//! bytes) control frame, a 64-bit length with its top bit set; and a frame longer than the
//! configured limit is refused from its header, before its payload is buffered (close 1009).
//!
//! Must not: assemble messages or validate payloads ([`super::message`]). Cost: a few byte
//! reads per frame; unmasking is a word-at-a-time XOR in place; nothing allocates.

/// A frame's opcode (§5.2; the reserved ones are refused by [`parse`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Opcode {
    Continuation,
    Text,
    Binary,
    Close,
    Ping,
    Pong,
}

impl Opcode {
    fn from_bits(b: u8) -> Option<Opcode> {
        Some(match b {
            0x0 => Opcode::Continuation,
            0x1 => Opcode::Text,
            0x2 => Opcode::Binary,
            0x8 => Opcode::Close,
            0x9 => Opcode::Ping,
            0xA => Opcode::Pong,
            _ => return None,
        })
    }

    fn bits(self) -> u8 {
        match self {
            Opcode::Continuation => 0x0,
            Opcode::Text => 0x1,
            Opcode::Binary => 0x2,
            Opcode::Close => 0x8,
            Opcode::Ping => 0x9,
            Opcode::Pong => 0xA,
        }
    }

    /// Close, ping and pong (§5.5).
    pub fn is_control(self) -> bool {
        matches!(self, Opcode::Close | Opcode::Ping | Opcode::Pong)
    }
}

/// A parsed frame header.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Header {
    pub fin: bool,
    pub opcode: Opcode,
    /// The masking key (client frames always have one).
    pub mask: [u8; 4],
    /// Bytes of header (2 to 14).
    pub len: usize,
    /// Bytes of payload that follow it.
    pub payload_len: u64,
}

/// Why a frame header is refused; each maps to the close code the RFC asks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum FrameError {
    #[error("reserved bits set without an extension")]
    Reserved,
    #[error("reserved opcode {0:#x}")]
    Opcode(u8),
    #[error("client frame not masked")]
    Unmasked,
    #[error("fragmented control frame")]
    FragmentedControl,
    #[error("control frame payload over 125 bytes")]
    LongControl,
    #[error("64-bit payload length with its top bit set")]
    Length,
    #[error("frame of {0} bytes over the limit")]
    TooBig(u64),
}

impl FrameError {
    /// The close code that ends the connection (§7.4.1).
    pub fn close_code(self) -> u16 {
        match self {
            FrameError::TooBig(_) => super::close::TOO_BIG,
            _ => super::close::PROTOCOL_ERROR,
        }
    }
}

/// Parses the frame header at the start of `buf`: `Ok(None)` while it is incomplete. Payloads
/// over `max_payload` are refused here.
pub fn parse(buf: &[u8], max_payload: u64) -> Result<Option<Header>, FrameError> {
    let [b0, b1, ..] = *buf else { return Ok(None) };
    if b0 & 0x70 != 0 {
        return Err(FrameError::Reserved);
    }
    let opcode = Opcode::from_bits(b0 & 0x0F).ok_or(FrameError::Opcode(b0 & 0x0F))?;
    let fin = b0 & 0x80 != 0;
    if b1 & 0x80 == 0 {
        return Err(FrameError::Unmasked);
    }
    let short = u64::from(b1 & 0x7F);
    if opcode.is_control() {
        if !fin {
            return Err(FrameError::FragmentedControl);
        }
        if short > 125 {
            return Err(FrameError::LongControl);
        }
    }
    let (payload_len, at) = match short {
        126 => match buf.get(2..4) {
            Some(b) => (u64::from(u16::from_be_bytes([b[0], b[1]])), 4),
            None => return Ok(None),
        },
        127 => match buf.get(2..10) {
            Some(b) => {
                let n = u64::from_be_bytes(b.try_into().unwrap_or_default());
                if n >> 63 != 0 {
                    return Err(FrameError::Length);
                }
                (n, 10)
            }
            None => return Ok(None),
        },
        n => (n, 2),
    };
    if payload_len > max_payload {
        return Err(FrameError::TooBig(payload_len));
    }
    let Some(mask) = buf.get(at..at + 4) else { return Ok(None) };
    let mask = [mask[0], mask[1], mask[2], mask[3]];
    Ok(Some(Header { fin, opcode, mask, len: at + 4, payload_len }))
}

/// XORs `data` with `mask`, `data` starting `offset` bytes into the payload (so a payload can be
/// unmasked piece by piece as it arrives).
pub fn unmask(data: &mut [u8], mask: [u8; 4], offset: usize) {
    let mut key = mask;
    key.rotate_left(offset % 4);
    let word = u32::from_ne_bytes(key);
    let mut chunks = data.chunks_exact_mut(4);
    for c in &mut chunks {
        let v = u32::from_ne_bytes([c[0], c[1], c[2], c[3]]) ^ word;
        c.copy_from_slice(&v.to_ne_bytes());
    }
    for (b, k) in chunks.into_remainder().iter_mut().zip(key) {
        *b ^= k;
    }
}

/// Appends a server frame's header (never masked, §5.1) for a payload of `len` bytes.
pub fn write_header(out: &mut Vec<u8>, fin: bool, opcode: Opcode, len: usize) {
    out.push(if fin { 0x80 } else { 0 } | opcode.bits());
    match len {
        0..=125 => out.push(len as u8),
        126..=0xFFFF => {
            out.push(126);
            out.extend_from_slice(&(len as u16).to_be_bytes());
        }
        _ => {
            out.push(127);
            out.extend_from_slice(&(len as u64).to_be_bytes());
        }
    }
}

/// Appends a whole unfragmented server frame.
pub fn write(out: &mut Vec<u8>, opcode: Opcode, payload: &[u8]) {
    write_header(out, true, opcode, payload.len());
    out.extend_from_slice(payload);
}

#[cfg(test)]
mod tests {
    use super::*;

    fn masked(b0: u8, payload: &[u8], mask: [u8; 4]) -> Vec<u8> {
        let mut out = vec![b0];
        match payload.len() {
            n @ 0..=125 => out.push(0x80 | n as u8),
            n @ 126..=0xFFFF => {
                out.push(0x80 | 126);
                out.extend_from_slice(&(n as u16).to_be_bytes());
            }
            n => {
                out.push(0x80 | 127);
                out.extend_from_slice(&(n as u64).to_be_bytes());
            }
        }
        out.extend_from_slice(&mask);
        let mut p = payload.to_vec();
        unmask(&mut p, mask, 0);
        out.extend_from_slice(&p);
        out
    }

    #[test]
    fn parses_each_length_form_and_waits_for_more() {
        let mask = [1, 2, 3, 4];
        for n in [0usize, 5, 125, 126, 300, 65535, 65536, 70000] {
            let payload = vec![b'x'; n];
            let f = masked(0x81, &payload, mask);
            let h = parse(&f, u64::MAX).expect("valid").expect("whole");
            assert_eq!((h.fin, h.opcode, h.payload_len, h.mask), (true, Opcode::Text, n as u64, mask));
            assert_eq!(f.len(), h.len + n);
            for cut in 0..h.len {
                assert_eq!(parse(&f[..cut], u64::MAX), Ok(None), "n={n} cut={cut}");
            }
            let mut p = f[h.len..].to_vec();
            unmask(&mut p, mask, 0);
            assert_eq!(p, payload);
        }
    }

    #[test]
    fn refuses_what_the_rfc_fails() {
        let m = [0, 0, 0, 0];
        assert_eq!(parse(&masked(0xC1, b"", m), 99), Err(FrameError::Reserved));
        assert_eq!(parse(&masked(0x83, b"", m), 99), Err(FrameError::Opcode(3)));
        assert_eq!(parse(&masked(0x8B, b"", m), 99), Err(FrameError::Opcode(0xB)));
        assert_eq!(parse(&[0x81, 0x00], 99), Err(FrameError::Unmasked));
        assert_eq!(parse(&masked(0x09, b"", m), 99), Err(FrameError::FragmentedControl));
        assert_eq!(parse(&masked(0x89, &[0; 126], m), 999), Err(FrameError::LongControl));
        assert_eq!(parse(&masked(0x82, &[0; 100], m), 99), Err(FrameError::TooBig(100)));
        let mut huge = vec![0x82, 0xFF];
        huge.extend_from_slice(&(1u64 << 63).to_be_bytes());
        huge.extend_from_slice(&m);
        assert_eq!(parse(&huge, u64::MAX), Err(FrameError::Length));
        assert_eq!(FrameError::TooBig(1).close_code(), 1009);
        assert_eq!(FrameError::Unmasked.close_code(), 1002);
    }

    #[test]
    fn unmasks_piece_by_piece_as_whole() {
        let mask = [0x37, 0xfa, 0x21, 0x3d];
        let data: Vec<u8> = (0..=255u8).collect();
        let mut whole = data.clone();
        unmask(&mut whole, mask, 0);
        for split in [1usize, 2, 3, 5, 7, 100] {
            let mut pieces = data.clone();
            let (a, b) = pieces.split_at_mut(split);
            unmask(a, mask, 0);
            unmask(b, mask, split);
            assert_eq!(pieces, whole, "split {split}");
        }
        // The RFC's example (§5.7): "Hello" masked with 37 fa 21 3d.
        let mut hello = vec![0x7f, 0x9f, 0x4d, 0x51, 0x58];
        unmask(&mut hello, mask, 0);
        assert_eq!(hello, b"Hello");
    }

    #[test]
    fn writes_server_frames_unmasked() {
        let mut out = Vec::new();
        write(&mut out, Opcode::Text, b"Hello");
        assert_eq!(out, [0x81, 0x05, b'H', b'e', b'l', b'l', b'o']);
        for n in [126usize, 65535, 65536] {
            out.clear();
            write_header(&mut out, false, Opcode::Binary, n);
            assert_eq!(out[0], 0x02);
            assert_eq!(out.len(), if n <= 0xFFFF { 4 } else { 10 });
        }
    }
}
