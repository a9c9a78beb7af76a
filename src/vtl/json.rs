//! JSON in and out the way AWS's template engine does it: bodies parse into json-smart's
//! objects (a `LinkedHashMap` per object, a `JSONArray` per array, `Integer`/`Long`/
//! `BigInteger` for integers, `Double` for the rest) and print with json-smart's writer
//! (`/` escaped as `\/`, control and U+007F–U+009F, U+2000–U+20FF as `\uXXXX`, other
//! non-ASCII as is).
//!
//! Strings without escapes borrow from the body. Owns: the parser and the writer. Must not:
//! evaluate paths. Costs: one pass over the body per `$input.path`/`$input.json` call; with
//! [`parse_keys`] the top-level entries a template never reads build nothing.

use super::value::{ListKind, Str, Value};

const MAX_DEPTH: usize = 512;

/// json-smart's end-of-input marker, which a 0x1A char in the text also reads as.
const EOI: u8 = 0x1a;

/// json-smart 2.2's `MODE_PERMISSIVE` parser (Jayway's JsonSmartJsonProvider uses it), ported
/// branch for branch: unquoted and single-quoted strings, leading zeros, `NaN`, useless
/// commas and trailing data are accepted, so a body that is not JSON at all reads as one
/// string. `None` where json-smart throws.
pub fn parse(text: &str) -> Option<Value<'_>> {
    run(text, None)
}

/// As [`parse`], except that a top-level object keeps only the entries named in `keys`: the
/// others are read (so the same texts fail) but build nothing. For a template that reads the
/// document only through those properties (`super::usage`).
pub fn parse_keys<'a>(text: &'a str, keys: &[Box<str>]) -> Option<Value<'a>> {
    run(text, Some(keys))
}

fn run<'a>(text: &'a str, keep: Option<&[Box<str>]>) -> Option<Value<'a>> {
    let mut p = P { s: text, b: text.as_bytes(), pos: 0, c: 0, keep, skipping: false };
    p.set();
    p.first()
}

struct P<'a, 'k> {
    s: &'a str,
    b: &'a [u8],
    pos: usize,
    c: u8,
    /// The top-level keys to keep (`parse_keys`).
    keep: Option<&'k [Box<str>]>,
    /// Inside a value that is not kept: containers are read, not built (they read as null).
    skipping: bool,
}

#[derive(Clone, Copy)]
enum Stop {
    /// Only the end: a top-level value.
    X,
    Key,
    Value,
    Array,
}

fn stops(stop: Stop, c: u8) -> bool {
    c == EOI
        || match stop {
            Stop::X => false,
            Stop::Key => c == b':',
            Stop::Value => c == b',' || c == b'}',
            Stop::Array => c == b',' || c == b']',
        }
}

impl<'a> P<'a, '_> {
    fn set(&mut self) {
        self.c = self.b.get(self.pos).copied().unwrap_or(EOI);
    }

    fn read(&mut self) {
        self.pos += 1;
        self.set();
    }

    fn skip_space(&mut self) {
        while self.c <= b' ' && self.c != EOI {
            self.read();
        }
    }

    fn skip_nq(&mut self, stop: Stop) {
        while !stops(stop, self.c) {
            self.read();
        }
    }

    /// `extractStringTrim`: Java's `trim` of `[start, stop)`.
    fn trimmed(&self, start: usize, stop: usize) -> &'a str {
        let stop = stop.min(self.s.len());
        let start = start.min(stop);
        // a multi-byte char never stops a scan, so these are char boundaries
        super::text::java_trim(&self.s[start..stop])
    }

    fn nq_string(&mut self, stop: Stop) -> &'a str {
        let start = self.pos;
        self.skip_nq(stop);
        self.trimmed(start, self.pos)
    }

    fn first(&mut self) -> Option<Value<'a>> {
        self.main(Stop::X, 0)
    }

    fn main(&mut self, stop: Stop, depth: usize) -> Option<Value<'a>> {
        if depth > MAX_DEPTH {
            return None;
        }
        loop {
            match self.c {
                b' ' | b'\r' | b'\n' | b'\t' => self.read(),
                b':' | b'}' | b']' => return None,
                b'{' => return self.object(depth + 1),
                b'[' => return self.array(depth + 1),
                b'"' | b'\'' => return self.string().map(Value::Str),
                b'n' | b'f' | b't' | b'N' => {
                    let w = self.nq_string(stop);
                    return Some(match w {
                        "null" => Value::Null,
                        "false" => Value::Bool(false),
                        "true" => Value::Bool(true),
                        "NaN" => Value::Double(f64::NAN),
                        w => Value::str(w),
                    });
                }
                b'0'..=b'9' | b'-' => return self.number(stop),
                _ => return Some(Value::str(self.nq_string(stop))),
            }
        }
    }

    fn array(&mut self, depth: usize) -> Option<Value<'a>> {
        let mut items = Vec::with_capacity(if self.skipping { 0 } else { 4 });
        self.read();
        loop {
            match self.c {
                b' ' | b'\r' | b'\n' | b'\t' | b',' => self.read(),
                b']' => {
                    self.read();
                    if self.skipping {
                        return Some(Value::Null);
                    }
                    return Some(Value::list(ListKind::Json, items));
                }
                b':' | b'}' | EOI => return None,
                _ => {
                    let item = self.main(Stop::Array, depth)?;
                    if !self.skipping {
                        items.push(item);
                    }
                }
            }
        }
    }

    fn object(&mut self, depth: usize) -> Option<Value<'a>> {
        let mut entries: Vec<(Value<'a>, Value<'a>)> = Vec::with_capacity(if self.skipping { 0 } else { 8 });
        let mut accept_data = true;
        // The top-level object of `parse_keys`: only its kept entries are built.
        let keep = self.keep.filter(|_| depth == 1);
        let built = |p: &Self, entries| if p.skipping { Value::Null } else { Value::map(entries) };
        loop {
            self.read();
            match self.c {
                b' ' | b'\r' | b'\t' | b'\n' => continue,
                b':' | b']' | b'[' | b'{' => return None,
                b'}' => {
                    self.read();
                    return Some(built(self, entries));
                }
                b',' => {
                    accept_data = true;
                    continue;
                }
                _ => {}
            }
            let key = if self.c == b'"' || self.c == b'\'' {
                self.string()?
            } else {
                Str::Borrowed(self.nq_string(Stop::Key))
            };
            if !accept_data {
                return None;
            }
            self.skip_space();
            if self.c != b':' {
                return None;
            }
            self.read();
            if self.skipping || keep.is_some_and(|k| !k.iter().any(|k| **k == *key.as_str())) {
                let outer = std::mem::replace(&mut self.skipping, true);
                self.main(Stop::Value, depth)?;
                self.skipping = outer;
            } else {
                let value = self.main(Stop::Value, depth)?;
                // LinkedHashMap.put: a repeated key keeps its first place, takes the last value
                if let Some(slot) = entries.iter_mut().find(|(k, _)| k.as_str() == Some(key.as_str())) {
                    slot.1 = value;
                } else {
                    entries.push((Value::Str(key), value));
                }
            }
            self.skip_space();
            match self.c {
                b'}' => {
                    self.read();
                    return Some(built(self, entries));
                }
                b',' => accept_data = true,
                _ => return None,
            }
        }
    }

    /// `readString`: up to the next same quote when nothing is escaped (control chars kept),
    /// else `readString2` (escapes decoded, control chars dropped, unknown escapes dropped).
    fn string(&mut self) -> Option<Str<'a>> {
        let q = self.c;
        let start = self.pos + 1;
        // The closing quote with no escape before it: the string as it is, borrowed.
        let stop = start + quote_or_escape(self.b.get(start..)?, q)?;
        if self.b[stop] == q {
            self.pos = stop;
            self.read();
            return Some(Str::Borrowed(&self.s[start..stop]));
        }
        let mut out = String::new();
        let mut units: Vec<u16> = Vec::new();
        loop {
            self.read();
            let c = self.c;
            if c != b'\\' || !matches!(self.b.get(self.pos + 1), Some(b'u' | b'x')) {
                flush(&mut units, &mut out);
            }
            match c {
                EOI => return None,
                b'"' | b'\'' if c == q => {
                    self.read();
                    flush(&mut units, &mut out);
                    return Some(Str::from(out));
                }
                b'\\' => {
                    self.read();
                    match self.c {
                        b't' => out.push('\t'),
                        b'n' => out.push('\n'),
                        b'r' => out.push('\r'),
                        b'f' => out.push('\u{c}'),
                        b'b' => out.push('\u{8}'),
                        b'\\' => out.push('\\'),
                        b'/' => out.push('/'),
                        b'\'' => out.push('\''),
                        b'"' => out.push('"'),
                        b'u' | b'x' => {
                            let n = if self.c == b'u' { 4 } else { 2 };
                            let mut v: u16 = 0;
                            for _ in 0..n {
                                self.read();
                                let d = (self.c as char).to_digit(16)?;
                                v = v * 16 + d as u16;
                            }
                            units.push(v);
                        }
                        EOI => return None,
                        _ => {}
                    }
                }
                0..=8 | 0x0b | 0x0e..=0x1f | 0x7f | b'\t' | b'\n' | 0x0c | b'\r' => {}
                _ => {
                    let len = super::text::char_len(c);
                    out.push_str(self.s.get(self.pos..self.pos + len)?);
                    self.pos += len - 1;
                }
            }
        }
    }

    /// `readNumber`: digits, then `.` digits, then an exponent; anything else before the
    /// stop makes the whole run an unquoted string.
    fn number(&mut self, stop: Stop) -> Option<Value<'a>> {
        let start = self.pos;
        self.read();
        self.skip_digits();
        let not_number = |p: &mut Self| {
            p.skip_space();
            if p.c < 126 && !stops(stop, p.c) {
                p.skip_nq(stop);
                return true;
            }
            false
        };
        if self.c != b'.' && self.c != b'E' && self.c != b'e' {
            if not_number(self) {
                return Some(Value::str(self.trimmed(start, self.pos)));
            }
            return Some(integer(self.trimmed(start, self.pos)));
        }
        if self.c == b'.' {
            self.read();
            self.skip_digits();
        }
        if self.c != b'E' && self.c != b'e' {
            if not_number(self) {
                return Some(Value::str(self.trimmed(start, self.pos)));
            }
            return Some(float(self.trimmed(start, self.pos)));
        }
        self.read();
        if self.c == b'+' || self.c == b'-' || self.c.is_ascii_digit() {
            self.read();
            self.skip_digits();
            if not_number(self) {
                return Some(Value::str(self.trimmed(start, self.pos)));
            }
            return Some(float(self.trimmed(start, self.pos)));
        }
        self.skip_nq(stop);
        Some(Value::str(self.trimmed(start, self.pos)))
    }

    fn skip_digits(&mut self) {
        while self.c.is_ascii_digit() {
            self.read();
        }
    }
}

/// Where the first `q` or backslash in `b` is. Most keys and values are short: a byte loop
/// finds their end before a vector search would have set up; a longer string gets one
/// `memchr2` pass (not a search for the quote, then another for a backslash before it).
fn quote_or_escape(b: &[u8], q: u8) -> Option<usize> {
    const SHORT: usize = 16;
    let head = &b[..b.len().min(SHORT)];
    if let Some(i) = head.iter().position(|&c| c == q || c == b'\\') {
        return Some(i);
    }
    memchr::memchr2(q, b'\\', b.get(SHORT..)?).map(|i| i + SHORT)
}

/// `parseNumber` with integer storage: Integer, Long, or BigInteger by size.
fn integer(text: &str) -> Value<'_> {
    let digits = text.strip_prefix('-').unwrap_or(text);
    if digits.is_empty() {
        // json-smart reads a lone `-` as 0
        return Value::Int(0);
    }
    if let Ok(i) = text.parse::<i32>() {
        return Value::Int(i);
    }
    if let Ok(l) = text.parse::<i64>() {
        return Value::Long(l);
    }
    let trimmed = digits.trim_start_matches('0');
    let sign = if text.starts_with('-') { "-" } else { "" };
    Value::BigInt(format!("{sign}{}", if trimmed.is_empty() { "0" } else { trimmed }).into())
}

/// `extractFloat` with high precision: a Double, or a BigDecimal past 18 chars (kept as
/// written when it has no exponent; BigDecimal prints those unchanged).
fn float(text: &str) -> Value<'_> {
    if text.len() > 18 && !text.contains(['e', 'E']) {
        return Value::BigInt(text.into());
    }
    text.parse().map(Value::Double).unwrap_or(Value::Null)
}

/// `\u` escapes collect as UTF-16 units so surrogate pairs join; a lone one prints as `?`,
/// as Java's UTF-8 encoder writes it.
fn flush(units: &mut Vec<u16>, out: &mut String) {
    if !units.is_empty() {
        out.extend(char::decode_utf16(units.drain(..)).map(|c| c.unwrap_or('?')));
    }
}

/// json-smart's `JSONValue.toJSONString`, appended to `out`.
pub fn write(v: &Value, out: &mut String) {
    write_depth(v, out, 0);
}

fn write_depth(v: &Value, out: &mut String, depth: usize) {
    if depth > MAX_DEPTH {
        out.push_str("null");
        return;
    }
    match v {
        Value::Null => out.push_str("null"),
        Value::Str(s) => write_string(s.as_str(), out),
        Value::Double(d) if !d.is_finite() => out.push_str("null"),
        Value::Bool(_) | Value::Int(_) | Value::Long(_) | Value::BigInt(_) | Value::Double(_) => v.write_java(out),
        Value::List(l) => {
            out.push('[');
            for (i, item) in l.borrow().items.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                write_depth(item, out, depth + 1);
            }
            out.push(']');
        }
        Value::Map(m) => {
            out.push('{');
            for (i, (k, val)) in m.borrow().entries.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                match k {
                    Value::Str(s) => write_string(s.as_str(), out),
                    other => write_string(&other.to_java_string(), out),
                }
                out.push(':');
                write_depth(val, out, depth + 1);
            }
            out.push('}');
        }
        Value::Entry(e) => {
            out.push('{');
            write_string(&e.0.to_java_string(), out);
            out.push(':');
            write_depth(&e.1, out, depth + 1);
            out.push('}');
        }
        Value::Foreach(_) | Value::Input | Value::Util => out.push_str("{}"),
    }
}

pub fn write_string(s: &str, out: &mut String) {
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '/' => out.push_str("\\/"),
            '\u{8}' => out.push_str("\\b"),
            '\u{c}' => out.push_str("\\f"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '\u{0}'..='\u{1f}' | '\u{7f}'..='\u{9f}' | '\u{2000}'..='\u{20ff}' => {
                use std::fmt::Write as _;
                let _ = write!(out, "\\u{:04X}", c as u32);
            }
            c => out.push(c),
        }
    }
    out.push('"');
}

#[cfg(test)]
mod tests {
    use super::*;

    fn round(s: &str) -> String {
        let mut out = String::new();
        write(&parse(s).expect("parses"), &mut out);
        out
    }

    #[test]
    fn prints_as_json_smart_does() {
        assert_eq!(
            round(r#"["a/b","\u00e9\u2028",1.0,1e20,-0,12345678901]"#),
            "[\"a\\/b\",\"é\\u2028\",1.0,1.0E20,0,12345678901]"
        );
        assert_eq!(round(r#"{"k":"v","n":[1,{"x":null}]}"#), r#"{"k":"v","n":[1,{"x":null}]}"#);
        assert_eq!(round(r#""\ud83d\ude00""#), "\"😀\"");
    }

    /// `parse_keys` keeps exactly the named top-level entries of an object, as `parse` reads
    /// them, fails where `parse` fails, and is `parse` for any other document.
    #[test]
    fn parse_keys_keeps_only_the_named_entries() {
        let keys: Vec<Box<str>> = vec!["name".into(), "tags".into(), "gone".into()];
        let docs = [
            r#"{"name":"Ada","age":36,"bio":"x\"y","tags":["a",{"b":[1,2]}],"deep":{"a":[{"b":{}}]}}"#,
            r#"{"name":"first","skip":[1,[2,{"x":"y"}]],"name":"last"}"#,
            r#"{"a":{"b":"c"},"tags":null}"#,
            r#"{'name':unquoted words,skip:{nested:'v'},}"#,
            r#"{"skip":{"bad":],"name":"x"}"#,
            r#"{"skip":[1,2,"name":"x"}"#,
            r#"{"skip":{"a" "b"},"name":"x"}"#,
            r#"["name",{"name":"in an array","other":1}]"#,
            r#""name""#,
            "42",
            "not json at all",
            "{}",
            "",
        ];
        for doc in docs {
            let (full, kept) = (parse(doc), parse_keys(doc, &keys));
            assert_eq!(full.is_some(), kept.is_some(), "{doc}");
            let (Some(full), Some(kept)) = (full, kept) else { continue };
            match (&full, &kept) {
                (Value::Map(f), Value::Map(k)) => {
                    let (f, k) = (f.borrow(), k.borrow());
                    let names: Vec<_> = k.entries.iter().filter_map(|(n, _)| n.as_str()).collect();
                    let expected: Vec<_> = f
                        .entries
                        .iter()
                        .filter_map(|(n, _)| n.as_str())
                        .filter(|n| keys.iter().any(|k| **k == **n))
                        .collect();
                    assert_eq!(names, expected, "{doc}");
                    for key in &keys {
                        let print = |v: Option<&Value>| v.map(|v| v.to_java_string());
                        assert_eq!(print(f.get_str(key)), print(k.get_str(key)), "{doc}: {key}");
                    }
                }
                _ => assert_eq!(full.to_java_string(), kept.to_java_string(), "{doc}"),
            }
        }
    }

    #[test]
    fn reads_what_json_smart_reads() {
        assert_eq!(parse("hello, world").map(|v| v.to_java_string()).as_deref(), Some("hello, world"));
        assert_eq!(
            parse("{'a':1, b: \"x\", c: y z}").map(|v| v.to_java_string()).as_deref(),
            Some("{a=1, b=x, c=y z}")
        );
        assert_eq!(parse("[1,2,]").map(|v| v.to_java_string()).as_deref(), Some("[1,2]"));
        assert_eq!(parse("007").map(|v| v.to_java_string()).as_deref(), Some("7"));
        assert_eq!(parse("{\"a\":1} trailing").map(|v| v.to_java_string()).as_deref(), Some("{a=1}"));
        for bad in ["{bad", "[1,", "{\"a\"}", "\"open", "}"] {
            assert!(parse(bad).is_none(), "{bad:?}");
        }
    }

    #[test]
    fn strings_end_at_the_first_unescaped_quote_on_both_sides_of_the_short_scan() {
        // Lengths around the byte loop's 16, an escape before and after it, a quote never
        // closed with and without an escape.
        let text = |json: &str| parse(json).map(|v| v.to_java_string());
        for n in [0, 1, 15, 16, 17, 40] {
            let plain = "x".repeat(n);
            assert_eq!(text(&format!("\"{plain}\"")), Some(plain.clone()));
            assert_eq!(text(&format!("\"{plain}\" ")), Some(plain.clone()));
            for at in [0, n / 2, n] {
                let (a, b) = plain.split_at(at);
                assert_eq!(text(&format!("\"{a}\\\"{b}\"")), Some(format!("{a}\"{b}")));
                assert_eq!(text(&format!("'{a}\\'{b}'")), Some(format!("{a}'{b}")));
                assert_eq!(text(&format!("\"{a}'{b}\"")), Some(format!("{a}'{b}")));
            }
            assert_eq!(text(&format!("\"{plain}")), None);
            assert_eq!(text(&format!("\"{plain}\\n")), None);
        }
    }
}
