//! Close codes (RFC 6455 §7.4) and the close frame's payload: which codes a peer may send, and
//! the payload check (a lone byte is a protocol error; the reason must be UTF-8).

pub const NORMAL: u16 = 1000;
pub const GOING_AWAY: u16 = 1001;
pub const PROTOCOL_ERROR: u16 = 1002;
/// No status code in the close frame (never sent on the wire).
pub const NO_STATUS: u16 = 1005;
/// The connection ended without a close frame (never sent on the wire).
pub const ABNORMAL: u16 = 1006;
pub const INVALID_DATA: u16 = 1007;
pub const POLICY: u16 = 1008;
pub const TOO_BIG: u16 = 1009;
pub const INTERNAL: u16 = 1011;

/// Whether a peer may send `code` in a close frame: the defined codes but those that must
/// never be sent (1004, 1005, 1006, 1015), the IANA-registered 1012–1014, and the ranges for
/// libraries and applications (3000–4999).
pub fn is_sendable(code: u16) -> bool {
    matches!(code, 1000..=1003 | 1007..=1014 | 3000..=4999)
}

/// A peer's close frame payload: `None` for an empty one (AWS reports 1005, "no status").
pub fn parse(payload: &[u8]) -> Result<Option<(u16, &str)>, u16> {
    match payload {
        [] => Ok(None),
        [_] => Err(PROTOCOL_ERROR),
        [a, b, reason @ ..] => {
            let code = u16::from_be_bytes([*a, *b]);
            if !is_sendable(code) {
                return Err(PROTOCOL_ERROR);
            }
            let reason = std::str::from_utf8(reason).map_err(|_| INVALID_DATA)?;
            Ok(Some((code, reason)))
        }
    }
}

/// Appends a close frame's payload: the code, then as much of `reason` as fits in a control
/// frame (123 bytes), cut on a character boundary.
pub fn payload(out: &mut Vec<u8>, code: u16, reason: &str) {
    out.extend_from_slice(&code.to_be_bytes());
    let mut end = reason.len().min(123);
    while !reason.is_char_boundary(end) {
        end -= 1;
    }
    out.extend_from_slice(&reason.as_bytes()[..end]);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_and_payloads() {
        for ok in [1000, 1001, 1002, 1003, 1007, 1008, 1009, 1010, 1011, 3000, 3999, 4000, 4999] {
            assert!(is_sendable(ok), "{ok}");
        }
        for bad in [0, 999, 1004, 1005, 1006, 1015, 1016, 1100, 2000, 2999, 5000, 65535] {
            assert!(!is_sendable(bad), "{bad}");
        }
        assert_eq!(parse(b""), Ok(None));
        assert_eq!(parse(b"\x03"), Err(PROTOCOL_ERROR));
        assert_eq!(parse(b"\x03\xe8bye"), Ok(Some((1000, "bye"))));
        assert_eq!(parse(b"\x03\xe8\xff"), Err(INVALID_DATA));
        assert_eq!(parse(b"\x03\xed"), Err(PROTOCOL_ERROR));
        let mut out = Vec::new();
        payload(&mut out, 1001, &"é".repeat(100));
        assert_eq!(out.len(), 2 + 122);
        assert!(std::str::from_utf8(&out[2..]).is_ok());
    }
}
