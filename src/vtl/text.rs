//! Java's string semantics over Rust's UTF-8: lengths and indexes count UTF-16 units as
//! `String.length()` and `substring` do, `trim` strips what Java strips, and the escapes AWS's
//! `$util` functions produce (commons-lang 2's `escapeJavaScript`, `URLEncoder`,
//! `URLDecoder`).
//!
//! Owns: string helpers. Must not: know values or templates.

pub fn char_len(first: u8) -> usize {
    match first {
        0xf0..=0xff => 4,
        0xe0..=0xef => 3,
        0xc0..=0xdf => 2,
        _ => 1,
    }
}

/// `String.length()`.
pub fn utf16_len(s: &str) -> usize {
    s.chars().map(char::len_utf16).sum()
}

/// The byte offset of UTF-16 index `i`, or None past the end. An index inside a surrogate
/// pair rounds to the pair's start (Java would split it; Portico never writes half a char).
pub fn byte_at(s: &str, i: usize) -> Option<usize> {
    let mut units = 0;
    for (b, c) in s.char_indices() {
        if units >= i {
            return Some(b);
        }
        units += c.len_utf16();
    }
    (units >= i).then_some(s.len())
}

/// The UTF-16 index of byte offset `b`.
pub fn utf16_index(s: &str, b: usize) -> usize {
    utf16_len(&s[..b])
}

/// `String.trim()`: every char ≤ U+0020 at either end.
pub fn java_trim(s: &str) -> &str {
    s.trim_matches(|c: char| c <= ' ')
}

/// `String.hashCode()`.
pub fn java_hash(s: &str) -> i32 {
    s.encode_utf16().fold(0i32, |h, u| h.wrapping_mul(31).wrapping_add(i32::from(u)))
}

/// `String.compareTo`: the first differing UTF-16 unit's difference, else the length's.
pub fn java_compare(a: &str, b: &str) -> i32 {
    let (mut x, mut y) = (a.encode_utf16(), b.encode_utf16());
    loop {
        match (x.next(), y.next()) {
            (Some(p), Some(q)) if p != q => return i32::from(p) - i32::from(q),
            (Some(_), Some(_)) => {}
            (Some(_), None) => return (1 + x.count()) as i32,
            (None, Some(_)) => return -((1 + y.count()) as i32),
            (None, None) => return 0,
        }
    }
}

/// commons-lang 2.6 `StringEscapeUtils.escapeJavaScript`, which AWS's
/// `$util.escapeJavaScript` is: `'` becomes `\'` (not valid JSON, as AWS users find out).
pub fn escape_javascript(s: &str, out: &mut String) {
    use std::fmt::Write as _;
    for c in s.chars() {
        let mut buf = [0u16; 2];
        for &u in c.encode_utf16(&mut buf).iter() {
            match u {
                0x1000.. => {
                    let _ = write!(out, "\\u{u:X}");
                }
                0x100.. => {
                    let _ = write!(out, "\\u0{u:X}");
                }
                0x80.. => {
                    let _ = write!(out, "\\u00{u:X}");
                }
                0x08 => out.push_str("\\b"),
                0x0a => out.push_str("\\n"),
                0x09 => out.push_str("\\t"),
                0x0c => out.push_str("\\f"),
                0x0d => out.push_str("\\r"),
                0x10..0x20 => {
                    let _ = write!(out, "\\u00{u:X}");
                }
                0..0x10 => {
                    let _ = write!(out, "\\u000{u:X}");
                }
                _ => match u as u8 {
                    b'\'' => out.push_str("\\'"),
                    b'"' => out.push_str("\\\""),
                    b'\\' => out.push_str("\\\\"),
                    b'/' => out.push_str("\\/"),
                    b => out.push(b as char),
                },
            }
        }
    }
}

/// `URLEncoder.encode(s, "UTF-8")`: form encoding, space as `+`.
pub fn url_encode(s: &str, out: &mut String) {
    use std::fmt::Write as _;
    for &b in s.as_bytes() {
        match b {
            b'a'..=b'z' | b'A'..=b'Z' | b'0'..=b'9' | b'.' | b'-' | b'*' | b'_' => out.push(b as char),
            b' ' => out.push('+'),
            _ => {
                let _ = write!(out, "%{b:02X}");
            }
        }
    }
}

/// `URLDecoder.decode(s, "UTF-8")`: `+` is a space; a bad `%` escape is an error, as in
/// Java; bytes that are not UTF-8 become U+FFFD.
pub fn url_decode(s: &str) -> Result<String, &'static str> {
    let b = s.as_bytes();
    let mut out = String::with_capacity(s.len());
    let mut i = 0;
    while i < b.len() {
        match b[i] {
            b'+' => {
                out.push(' ');
                i += 1;
            }
            b'%' => {
                let mut bytes = Vec::new();
                while i < b.len() && b[i] == b'%' {
                    let hex = s.get(i + 1..i + 3).ok_or("incomplete trailing escape (%) pattern")?;
                    let v = u8::from_str_radix(hex, 16).map_err(|_| "illegal hex characters in escape (%) pattern")?;
                    if hex.starts_with(['+', '-']) {
                        return Err("illegal hex characters in escape (%) pattern");
                    }
                    bytes.push(v);
                    i += 3;
                }
                out.push_str(&String::from_utf8_lossy(&bytes));
            }
            _ => {
                let len = char_len(b[i]);
                out.push_str(&s[i..i + len]);
                i += len;
            }
        }
    }
    Ok(out)
}

/// The largest char boundary at or below `i`.
pub fn floor_char(s: &str, mut i: usize) -> usize {
    while i > 0 && !s.is_char_boundary(i) {
        i -= 1;
    }
    i
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn javascript_escapes_match_commons_lang() {
        let mut out = String::new();
        escape_javascript("it's \"q\" / \\ é 😀\n\u{1}", &mut out);
        assert_eq!(out, "it\\'s \\\"q\\\" \\/ \\\\ \\u00E9 \\uD83D\\uDE00\\n\\u0001");
    }

    #[test]
    fn utf16_indexes() {
        assert_eq!(utf16_len("a😀b"), 4);
        assert_eq!(byte_at("a😀b", 3), Some(5));
        assert_eq!(byte_at("ab", 2), Some(2));
        assert_eq!(byte_at("ab", 3), None);
    }

    #[test]
    fn url_forms() {
        let mut out = String::new();
        url_encode("a b&c=é~*", &mut out);
        assert_eq!(out, "a+b%26c%3D%C3%A9%7E*");
        assert_eq!(url_decode("a+b%20c%C3%A9").as_deref(), Ok("a b cé"));
        assert!(url_decode("%zz").is_err());
        assert!(url_decode("%4").is_err());
    }
}
