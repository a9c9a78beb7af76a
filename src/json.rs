//! JSON text written by hand where a serializer would allocate: escaping a byte string so it can
//! sit inside quotes (of a JSON document, or of a log line), and writing whole strings.
//!
//! Must not: parse (serde_json does). Cost: plain printable ASCII is copied whole; nothing
//! allocates but the output's growth.

/// Writes `value` so that it cannot break the line or the quoting around it: printable ASCII as
/// is; `"`, `\\`, control characters (C0, DEL, C1) and the Unicode line separators escaped (`\\u00XX`
/// in JSON, `\\xHH` of each byte otherwise, as nginx does); other valid UTF-8 passes through as the
/// characters it encodes; bytes that are not UTF-8 become U+FFFD.
pub fn escape(out: &mut Vec<u8>, value: &[u8], json: bool) {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    // Almost every value is plain printable ASCII: copy it whole.
    if value.iter().all(|&b| (0x20..0x7f).contains(&b) && b != b'"' && b != b'\\') {
        out.extend_from_slice(value);
        return;
    }
    let escape_byte = |out: &mut Vec<u8>, b: u8| {
        out.extend_from_slice(&[b'\\', b'x', HEX[(b >> 4) as usize], HEX[(b & 15) as usize]]);
    };
    for chunk in value.utf8_chunks() {
        for c in chunk.valid().chars() {
            let code = c as u32;
            match c {
                '"' | '\\' if json => out.extend_from_slice(&[b'\\', c as u8]),
                ' '..='~' if !matches!(c, '"' | '\\') => out.push(c as u8),
                _ if code < 0x80 || (0x80..0xa0).contains(&code) || code == 0x2028 || code == 0x2029 => {
                    let mut utf8 = [0u8; 4];
                    if json {
                        let _ = std::io::Write::write_fmt(out, format_args!("\\u{code:04x}"));
                    } else {
                        for &b in c.encode_utf8(&mut utf8).as_bytes() {
                            escape_byte(out, b);
                        }
                    }
                }
                _ => {
                    let mut utf8 = [0u8; 4];
                    out.extend_from_slice(c.encode_utf8(&mut utf8).as_bytes());
                }
            }
        }
        if !chunk.invalid().is_empty() {
            out.extend_from_slice("\u{fffd}".as_bytes());
        }
    }
}

/// Writes `value` as a JSON string, quoted.
pub fn string(out: &mut Vec<u8>, value: &[u8]) {
    out.push(b'"');
    escape(out, value, true);
    out.push(b'"');
}

/// Writes `value` as a JSON string, or `null` when there is none.
pub fn string_or_null(out: &mut Vec<u8>, value: Option<&[u8]>) {
    match value {
        Some(v) => string(out, v),
        None => out.extend_from_slice(b"null"),
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn strings_parse_back() {
        for text in ["plain", "quote \" back \\ slash", "line\nbreak\u{7f}\u{2028}", "ünïcødé ✓"] {
            let mut out = Vec::new();
            super::string(&mut out, text.as_bytes());
            assert_eq!(serde_json::from_slice::<String>(&out).unwrap(), text);
        }
        let mut out = Vec::new();
        super::string(&mut out, b"bad \xff byte");
        assert_eq!(serde_json::from_slice::<String>(&out).unwrap(), "bad \u{fffd} byte");
    }
}
