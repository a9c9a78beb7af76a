//! Request path normalisation: one canonical path, computed once, that the stage selector, the
//! router, the cache key and the upstream request all use, so that none of them can disagree about
//! which resource a request names.
//!
//! The rules, in order (RFC 3986 §6.2.2, §5.2.4; the strict settings of Envoy's `normalize_path`,
//! `merge_slashes` and `path_with_escaped_slashes_action`):
//! 1. Every `%` starts a valid escape (`%` and two hex digits), or the path is refused. `%00` is
//!    refused. Escapes of unreserved characters (`A-Z a-z 0-9 - . _ ~`) are decoded; every other
//!    escape stays encoded, with upper-case hex digits.
//! 2. Encoded slashes (`%2F`, `%5C`) are refused, kept as they are, or decoded into `/`, as
//!    [`EscapedSlashes`] says. A literal `\` is always refused (some servers read it as `/`).
//! 3. A `;` (path parameters, which Java servers strip from segments) is refused unless allowed.
//! 4. Empty segments are merged (`//` → `/`) unless turned off.
//! 5. Dot segments are removed; a `..` that would climb above the root is refused.
//!
//! The codec never decides what to answer: errors are static strings the caller turns into its
//! error type. Cost: one scan of the path; paths that need no change (nearly all) allocate
//! nothing and are reported as [`Normal::Unchanged`]. A changed path is written into one `Vec`.

use serde::{Deserialize, Serialize};

/// What encoded slashes (`%2F`, `%5C`) in a path mean.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum EscapedSlashes {
    /// 400: the router and an upstream that decodes them would see different segments.
    Reject,
    /// Kept encoded, part of one segment (AWS's behaviour); a segment that would decode to a dot
    /// segment is still refused.
    Keep,
    /// Decoded into `/` before routing, so they are separators like any other.
    Decode,
}

/// The normalisation settings of an API (or the gateway's default).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct PathRules {
    pub merge_slashes: bool,
    pub escaped_slashes: EscapedSlashes,
    pub allow_semicolons: bool,
}

impl Default for PathRules {
    fn default() -> Self {
        PathRules { merge_slashes: true, escaped_slashes: EscapedSlashes::Reject, allow_semicolons: false }
    }
}

/// A normalised path.
#[derive(Debug, PartialEq, Eq)]
pub enum Normal {
    /// The path was already normal.
    Unchanged,
    /// The normal form, which differs from the path as received.
    Changed(Vec<u8>),
}

const NEEDS_WORK: [bool; 256] = {
    let mut t = [false; 256];
    t[b'%' as usize] = true;
    t[b';' as usize] = true;
    t[b'\\' as usize] = true;
    t[b'.' as usize] = true;
    t[b'/' as usize] = true;
    t
};

/// Normalises `path` (origin-form, starting with `/`, no query) under `rules`.
pub fn normalize(path: &[u8], rules: &PathRules) -> Result<Normal, &'static str> {
    if path.first() != Some(&b'/') {
        return Err("the path does not start with /");
    }
    if is_normal(path) {
        return Ok(Normal::Unchanged);
    }
    let out = slow(path, rules)?;
    Ok(if out == path { Normal::Unchanged } else { Normal::Changed(out) })
}

/// True when no rule can change `path`: no `%`, `;` or `\`, no `//`, and no segment that starts
/// with a dot (`/.well-known` takes the slow path and comes out unchanged).
fn is_normal(path: &[u8]) -> bool {
    let mut prev = 0u8;
    for &b in path {
        if NEEDS_WORK[b as usize] {
            match b {
                b'/' if prev == b'/' => return false,
                b'.' if prev == b'/' => return false,
                b'/' | b'.' => {}
                _ => return false,
            }
        }
        prev = b;
    }
    true
}

fn is_unreserved(b: u8) -> bool {
    b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~')
}

/// Checks that every `%` in `text` starts a valid escape (used for query strings too).
pub fn check_escapes(text: &[u8]) -> Result<(), &'static str> {
    let mut i = 0;
    while let Some(at) = memchr::memchr(b'%', &text[i..]) {
        let p = i + at;
        match (text.get(p + 1).copied().and_then(super::hex_digit), text.get(p + 2).copied().and_then(super::hex_digit))
        {
            (Some(_), Some(_)) => i = p + 3,
            _ => return Err("invalid percent-encoding"),
        }
    }
    Ok(())
}

/// Step 1–3: escapes decoded or canonicalised, slashes and semicolons checked; the result still
/// has every segment, dot segments included.
fn decode(path: &[u8], rules: &PathRules) -> Result<Vec<u8>, &'static str> {
    let mut out = Vec::with_capacity(path.len());
    let mut i = 0;
    while i < path.len() {
        let b = path[i];
        match b {
            b'%' => {
                let (Some(h), Some(l)) = (
                    path.get(i + 1).copied().and_then(super::hex_digit),
                    path.get(i + 2).copied().and_then(super::hex_digit),
                ) else {
                    return Err("invalid percent-encoding in the path");
                };
                let byte = h << 4 | l;
                i += 3;
                match byte {
                    0 => return Err("an encoded NUL in the path"),
                    b'/' | b'\\' => match rules.escaped_slashes {
                        EscapedSlashes::Reject => return Err("an encoded slash in the path"),
                        EscapedSlashes::Decode => out.push(b'/'),
                        EscapedSlashes::Keep => out.extend_from_slice(if byte == b'/' { b"%2F" } else { b"%5C" }),
                    },
                    _ if is_unreserved(byte) => out.push(byte),
                    _ => {
                        const HEX: &[u8; 16] = b"0123456789ABCDEF";
                        out.extend_from_slice(&[b'%', HEX[(byte >> 4) as usize], HEX[(byte & 15) as usize]]);
                    }
                }
                continue;
            }
            b'\\' => return Err("a backslash in the path"),
            b';' if !rules.allow_semicolons => return Err("path parameters (;) in the path"),
            _ => out.push(b),
        }
        i += 1;
    }
    Ok(out)
}

/// Whether a segment is `.` or `..`, or (with encoded slashes kept) holds one between them.
fn dot_kind(segment: &[u8]) -> Option<bool> {
    match segment {
        b"." => Some(false),
        b".." => Some(true),
        _ => None,
    }
}

fn hides_dot_segment(segment: &[u8]) -> bool {
    if memchr::memchr(b'%', segment).is_none() {
        return false;
    }
    let mut start = 0;
    let mut i = 0;
    while i + 3 <= segment.len() {
        let escaped = &segment[i..i + 3];
        if escaped.eq_ignore_ascii_case(b"%2F") || escaped.eq_ignore_ascii_case(b"%5C") {
            if dot_kind(&segment[start..i]).is_some() {
                return true;
            }
            i += 3;
            start = i;
        } else {
            i += 1;
        }
    }
    dot_kind(&segment[start..]).is_some() && start > 0
}

fn slow(path: &[u8], rules: &PathRules) -> Result<Vec<u8>, &'static str> {
    let decoded = decode(path, rules)?;
    // Segment ranges of the output, into `decoded`.
    let mut kept: Vec<(usize, usize)> = Vec::new();
    // Whether the output ends in `/` after its last kept segment.
    let mut trailing = false;
    let body = &decoded[1..];
    let count = body.split(|&b| b == b'/').count();
    let mut start = 1;
    for (n, segment) in body.split(|&b| b == b'/').enumerate() {
        let last = n + 1 == count;
        let range = (start, start + segment.len());
        start += segment.len() + 1;
        match dot_kind(segment) {
            Some(up) => {
                if up && kept.pop().is_none() {
                    return Err("a dot segment climbs above the root");
                }
                trailing = last;
            }
            None if segment.is_empty() && rules.merge_slashes => trailing = last && !kept.is_empty(),
            None if segment.is_empty() && last => trailing = !kept.is_empty(),
            None => {
                if rules.escaped_slashes == EscapedSlashes::Keep && hides_dot_segment(segment) {
                    return Err("an encoded slash hides a dot segment");
                }
                kept.push(range);
                trailing = false;
            }
        }
    }
    let mut out = Vec::with_capacity(decoded.len());
    for &(s, e) in &kept {
        out.push(b'/');
        out.extend_from_slice(&decoded[s..e]);
    }
    if trailing || kept.is_empty() {
        out.push(b'/');
    }
    Ok(out)
}

/// Panics unless every normal form of `input` (under each set of rules) starts with `/`, holds no
/// dot segment and nothing its rules refuse, and is a fixed point. For the fuzz target and the
/// mutation test; not for the data plane.
#[doc(hidden)]
pub fn assert_normal_form(input: &[u8]) {
    for merge_slashes in [true, false] {
        for escaped_slashes in [EscapedSlashes::Reject, EscapedSlashes::Keep, EscapedSlashes::Decode] {
            for allow_semicolons in [true, false] {
                let rules = PathRules { merge_slashes, escaped_slashes, allow_semicolons };
                let Ok(normal) = normalize(input, &rules) else { continue };
                let out = match normal {
                    Normal::Unchanged => input.to_vec(),
                    Normal::Changed(v) => v,
                };
                assert!(out.starts_with(b"/"), "{input:?}");
                for segment in out.split(|&b| b == b'/') {
                    assert!(segment != b"." && segment != b"..", "dot segment left in {out:?} from {input:?}");
                }
                assert!(!out.contains(&b'\\'));
                if merge_slashes {
                    assert!(!out.windows(2).any(|w| w == b"//"), "{out:?}");
                }
                if !allow_semicolons {
                    assert!(!out.contains(&b';'));
                }
                if escaped_slashes != EscapedSlashes::Keep {
                    let upper = out.to_ascii_uppercase();
                    assert!(!upper.windows(3).any(|w| w == b"%2F" || w == b"%5C"), "{out:?}");
                }
                // The normal form is a fixed point.
                assert_eq!(normalize(&out, &rules), Ok(Normal::Unchanged), "{out:?} from {input:?} under {rules:?}");
            }
        }
    }
}

#[cfg(test)]
mod tests;
