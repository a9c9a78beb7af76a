//! W3C Trace Context (`traceparent`): continue the client's trace, or start one, so a request can be
//! followed from the client through Portico to the upstream.
//!
//! Portico is one hop: it keeps the incoming trace id and flags, and names itself as the parent with
//! a new span id. A missing or malformed `traceparent` starts a new trace (sampled flag set, since
//! the access log records every request), and the `tracestate` that went with it is dropped, as the
//! specification asks. Cost: no allocation; the header value lives in a 55-byte array.

use crate::random::random_u64;

/// `00-` + 32 + `-` + 16 + `-` + 2 hex digits.
pub const HEADER_LEN: usize = 55;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TraceContext {
    pub trace_id: [u8; 16],
    /// Portico's span id, the parent of the upstream's span.
    pub span_id: [u8; 8],
    pub flags: u8,
    /// Whether the trace came from the client (else Portico started it).
    pub continued: bool,
}

impl TraceContext {
    /// Continues the trace in `header` (the client's `traceparent`), or starts a new one.
    pub fn continue_or_start(header: Option<&[u8]>) -> TraceContext {
        let span_id = nonzero_bytes::<8>();
        match header.and_then(parse) {
            Some((trace_id, flags)) => TraceContext { trace_id, span_id, flags, continued: true },
            None => TraceContext { trace_id: nonzero_bytes::<16>(), span_id, flags: 0x01, continued: false },
        }
    }

    /// The `traceparent` value to send upstream.
    pub fn header_value(&self) -> [u8; HEADER_LEN] {
        let mut out = [0u8; HEADER_LEN];
        out[..3].copy_from_slice(b"00-");
        hex(&self.trace_id, &mut out[3..35]);
        out[35] = b'-';
        hex(&self.span_id, &mut out[36..52]);
        out[52] = b'-';
        hex(&[self.flags], &mut out[53..55]);
        out
    }

    /// The trace id as 32 lowercase hex digits (for logs).
    pub fn trace_id_hex(&self) -> [u8; 32] {
        let mut out = [0u8; 32];
        hex(&self.trace_id, &mut out);
        out
    }
}

/// Parses a `traceparent` value: `version-traceid-parentid-flags`. Version `ff` and all-zero ids
/// are invalid; a higher version is read by its first four fields, as the specification allows.
fn parse(value: &[u8]) -> Option<([u8; 16], u8)> {
    let value = crate::http::trim(value);
    if value.len() < HEADER_LEN || value[2] != b'-' || value[35] != b'-' || value[52] != b'-' {
        return None;
    }
    let version = unhex::<1>(&value[..2])?[0];
    if version == 0xff || (version == 0 && value.len() != HEADER_LEN) {
        return None;
    }
    if version != 0 && value.len() > HEADER_LEN && value[HEADER_LEN] != b'-' {
        return None;
    }
    let trace_id = unhex::<16>(&value[3..35])?;
    let parent_id = unhex::<8>(&value[36..52])?;
    let flags = unhex::<1>(&value[53..55])?[0];
    if trace_id == [0; 16] || parent_id == [0; 8] {
        return None;
    }
    Some((trace_id, flags))
}

fn unhex<const N: usize>(text: &[u8]) -> Option<[u8; N]> {
    // Only lowercase hex is valid in traceparent.
    fn digit(c: u8) -> Option<u8> {
        match c {
            b'0'..=b'9' => Some(c - b'0'),
            b'a'..=b'f' => Some(c - b'a' + 10),
            _ => None,
        }
    }
    let mut out = [0u8; N];
    for (i, pair) in text.chunks_exact(2).enumerate().take(N) {
        out[i] = digit(pair[0])? << 4 | digit(pair[1])?;
    }
    Some(out)
}

fn hex(bytes: &[u8], out: &mut [u8]) {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    for (i, b) in bytes.iter().enumerate() {
        out[2 * i] = HEX[(b >> 4) as usize];
        out[2 * i + 1] = HEX[(b & 15) as usize];
    }
}

fn nonzero_bytes<const N: usize>() -> [u8; N] {
    let mut out = [0u8; N];
    for chunk in out.chunks_mut(8) {
        let r = random_u64().to_le_bytes();
        chunk.copy_from_slice(&r[..chunk.len()]);
    }
    if out == [0; N] {
        out[N - 1] = 1;
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    const EXAMPLE: &[u8] = b"00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";

    #[test]
    fn continues_a_valid_trace_with_a_new_span() {
        let t = TraceContext::continue_or_start(Some(EXAMPLE));
        assert!(t.continued);
        let v = t.header_value();
        assert_eq!(&v[..36], &EXAMPLE[..36]);
        assert_ne!(&v[36..52], &EXAMPLE[36..52]);
        assert_eq!(&v[52..], b"-01");
        assert_eq!(&t.trace_id_hex(), b"4bf92f3577b34da6a3ce929d0e0e4736");
    }

    #[test]
    fn starts_a_trace_when_the_header_is_missing_or_malformed() {
        let bad: [&[u8]; 7] = [
            b"",
            b"00-4BF92F3577B34DA6A3CE929D0E0E4736-00f067aa0ba902b7-01",
            b"00-00000000000000000000000000000000-00f067aa0ba902b7-01",
            b"00-4bf92f3577b34da6a3ce929d0e0e4736-0000000000000000-01",
            b"ff-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
            b"00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01-extra",
            b"00_4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
        ];
        for value in bad {
            let t = TraceContext::continue_or_start(Some(value));
            assert!(!t.continued, "{:?}", String::from_utf8_lossy(value));
            assert_eq!(t.flags, 1);
        }
        let future = b"cc-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01-whatever";
        assert!(TraceContext::continue_or_start(Some(future)).continued);
        let a = TraceContext::continue_or_start(None);
        let b = TraceContext::continue_or_start(None);
        assert_ne!(a.trace_id, b.trace_id);
        let v = a.header_value();
        assert!(v.iter().all(|c| c.is_ascii_hexdigit() || *c == b'-'));
    }
}
