//! A function's answer as Amazon API Gateway reads it for a Lambda proxy integration
//! (`../shared/aws-behaviour.md` §1.2), in both payload formats.
//!
//! Format 1.0 (REST APIs, and HTTP APIs that ask for it): a JSON object with only `statusCode`,
//! `headers`, `multiValueHeaders`, `body`, `isBase64Encoded`, each optional. A missing status is
//! 200; a status may be an integer-valued string; header values may be strings, numbers or
//! booleans; a name in both header maps keeps both values, the multi-value ones first, under the
//! multi-value key's spelling. Anything else — another key, a status that is not a number, a
//! multi-value entry that is not a list, JSON that is not an object, no JSON at all — is
//! [`Malformed`]: the gateway answers 502 (REST) or 500 (HTTP API) and the reason goes to the log
//! and `$context.integrationErrorMessage`, never to the client.
//!
//! Format 2.0 (HTTP APIs): an object with `statusCode` is read like 1.0, plus `cookies` (each a
//! `Set-Cookie`); any other valid JSON is the body itself, 200, `content-type: application/json` —
//! a JSON string gives its text. `multiValueHeaders` is not in AWS's 2.0 documentation, but the
//! official Rust runtime's 2.0 response type always sends it (empty), so AWS must take it: it is
//! read as in 1.0.
//!
//! Must not: decide the status of a failure (the caller knows the API kind) or whether a base64
//! body is decoded (REST decides by its binary media types: [`FunctionResult::body`]). Cost:
//! strings without escapes are borrowed from the payload; the header list is one `Vec`.

use std::borrow::Cow;
use std::fmt;

use base64::Engine;
use serde::Deserialize;
use serde::de::{self, MapAccess, SeqAccess, Visitor};

pub use crate::table::PayloadFormat;

/// What the client gets, before framing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FunctionResult<'a> {
    pub status: u16,
    /// In the order the function gave them; `Set-Cookie` for each 2.0 cookie last.
    pub headers: Vec<(Cow<'a, str>, Cow<'a, str>)>,
    /// The body as the function wrote it (base64 text when `base64`).
    pub body: Cow<'a, str>,
    pub base64: bool,
}

/// Why a function's answer cannot be used (for the log; the client gets the generic error).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Malformed(pub &'static str);

/// `isBase64Encoded` was true and the body is not base64 (AWS answers 500).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BadBase64;

impl<'a> FunctionResult<'a> {
    /// The body bytes: decoded when `decode` (and the function said it is base64), else as text.
    pub fn body(&self, decode: bool) -> Result<Cow<'_, [u8]>, BadBase64> {
        if !(decode && self.base64) {
            return Ok(Cow::Borrowed(self.body.as_bytes()));
        }
        base64::engine::general_purpose::STANDARD.decode(self.body.as_bytes()).map(Cow::Owned).map_err(|_| BadBase64)
    }
}

/// Reads a function's answer.
pub fn read(format: PayloadFormat, payload: &[u8]) -> Result<FunctionResult<'_>, Malformed> {
    let text = std::str::from_utf8(payload).map_err(|_| Malformed("the payload is not UTF-8"))?;
    let parsed = serde_json::from_str::<Raw<'_>>(text);
    // 2.0: parsed once on the common path; only an answer that does not read as the explicit
    // form is looked at again, to tell a body from a broken explicit answer.
    if format == PayloadFormat::V2 {
        match &parsed {
            Ok(raw) if raw.status_code.is_some() => {}
            Ok(_) => return inferred(text),
            Err(_) if !looks_like_explicit(text) => return inferred(text),
            Err(_) => {}
        }
    }
    let raw = parsed.map_err(|e| {
        if e.is_data() { Malformed("Malformed Lambda proxy response") } else { Malformed("the payload is not JSON") }
    })?;
    if format == PayloadFormat::V1 && raw.cookies.is_some() {
        return Err(Malformed("Malformed Lambda proxy response: `cookies` is a 2.0 key"));
    }
    let status = match raw.status_code {
        None => 200,
        Some(Status(s)) if (100..=599).contains(&s) => s as u16,
        Some(_) => return Err(Malformed("statusCode out of range")),
    };
    let mut headers = Vec::new();
    let mut multi = raw.multi_value_headers.map(|m| m.0).unwrap_or_default();
    for (name, values) in &mut multi {
        for v in values.0.drain(..) {
            headers.push((name.clone(), v));
        }
    }
    for (name, Text(value)) in raw.headers.map(|h| h.0).unwrap_or_default() {
        // Under the multi-value key's spelling when both maps name it.
        let name = multi.iter().find(|(m, _)| m.eq_ignore_ascii_case(&name)).map_or(name, |(m, _)| m.clone());
        headers.push((name, value));
    }
    for cookie in raw.cookies.map(|c| c.0).unwrap_or_default() {
        headers.push((Cow::Borrowed("Set-Cookie"), cookie));
    }
    Ok(FunctionResult {
        status,
        headers,
        body: raw.body.map(|b| b.0).unwrap_or_default(),
        base64: raw.is_base64_encoded.unwrap_or(false),
    })
}

/// 2.0: an object that names `statusCode` is the explicit form; anything else is a body.
fn looks_like_explicit(text: &str) -> bool {
    #[derive(Deserialize)]
    struct Probe {
        #[serde(rename = "statusCode")]
        status_code: Option<de::IgnoredAny>,
    }
    serde_json::from_str::<Probe>(text).is_ok_and(|p| p.status_code.is_some())
}

/// 2.0 without `statusCode`: valid JSON is the body, a JSON string its text.
fn inferred(text: &str) -> Result<FunctionResult<'_>, Malformed> {
    let json = Cow::Borrowed("application/json");
    let headers = vec![(Cow::Borrowed("content-type"), json)];
    if let Ok(s) = serde_json::from_str::<Cow<'_, str>>(text) {
        return Ok(FunctionResult { status: 200, headers, body: s, base64: false });
    }
    serde_json::from_str::<de::IgnoredAny>(text).map_err(|_| Malformed("the payload is not JSON"))?;
    Ok(FunctionResult { status: 200, headers, body: Cow::Borrowed(text.trim()), base64: false })
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Raw<'a> {
    #[serde(rename = "statusCode", default)]
    status_code: Option<Status>,
    #[serde(borrow, default)]
    headers: Option<Entries<'a, Text<'a>>>,
    #[serde(rename = "multiValueHeaders", borrow, default)]
    multi_value_headers: Option<Entries<'a, Strings<'a>>>,
    #[serde(borrow, default)]
    body: Option<Text<'a>>,
    #[serde(rename = "isBase64Encoded", default)]
    is_base64_encoded: Option<bool>,
    #[serde(borrow, default)]
    cookies: Option<Strings<'a>>,
}

/// `statusCode`: an integer, or a string holding one.
struct Status(i64);

impl<'de> Deserialize<'de> for Status {
    fn deserialize<D: de::Deserializer<'de>>(d: D) -> Result<Status, D::Error> {
        struct V;
        impl Visitor<'_> for V {
            type Value = Status;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("an integer status")
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<Status, E> {
                Ok(Status(v))
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<Status, E> {
                i64::try_from(v).map(Status).map_err(|_| E::custom("status out of range"))
            }
            fn visit_f64<E: de::Error>(self, v: f64) -> Result<Status, E> {
                if v.fract() == 0.0 && v.abs() < 1e6 { Ok(Status(v as i64)) } else { Err(E::custom("not an integer")) }
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Status, E> {
                v.trim().parse().map(Status).map_err(|_| E::custom("not an integer"))
            }
        }
        d.deserialize_any(V)
    }
}

/// A header value: a string, or a number or boolean written as text.
struct Text<'a>(Cow<'a, str>);

impl<'de: 'a, 'a> Deserialize<'de> for Text<'a> {
    fn deserialize<D: de::Deserializer<'de>>(d: D) -> Result<Text<'a>, D::Error> {
        struct V<'a>(std::marker::PhantomData<&'a ()>);
        impl<'de: 'a, 'a> Visitor<'de> for V<'a> {
            type Value = Text<'a>;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a string, number or boolean")
            }
            fn visit_borrowed_str<E: de::Error>(self, v: &'de str) -> Result<Text<'a>, E> {
                Ok(Text(Cow::Borrowed(v)))
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Text<'a>, E> {
                Ok(Text(Cow::Owned(v.to_owned())))
            }
            fn visit_string<E: de::Error>(self, v: String) -> Result<Text<'a>, E> {
                Ok(Text(Cow::Owned(v)))
            }
            fn visit_bool<E: de::Error>(self, v: bool) -> Result<Text<'a>, E> {
                Ok(Text(Cow::Borrowed(if v { "true" } else { "false" })))
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<Text<'a>, E> {
                Ok(Text(Cow::Owned(v.to_string())))
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<Text<'a>, E> {
                Ok(Text(Cow::Owned(v.to_string())))
            }
            fn visit_f64<E: de::Error>(self, v: f64) -> Result<Text<'a>, E> {
                Ok(Text(Cow::Owned(v.to_string())))
            }
        }
        d.deserialize_any(V(std::marker::PhantomData))
    }
}

/// `headers` (values [`Text`]) and `multiValueHeaders` (values [`Strings`]): an object of
/// name → value, in order.
struct Entries<'a, V>(Vec<(Cow<'a, str>, V)>);

impl<'de: 'a, 'a, V: Deserialize<'de>> Deserialize<'de> for Entries<'a, V> {
    fn deserialize<D: de::Deserializer<'de>>(d: D) -> Result<Entries<'a, V>, D::Error> {
        struct Of<'a, V>(std::marker::PhantomData<(&'a (), V)>);
        impl<'de: 'a, 'a, V: Deserialize<'de>> Visitor<'de> for Of<'a, V> {
            type Value = Entries<'a, V>;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("an object of header values")
            }
            fn visit_map<M: MapAccess<'de>>(self, mut m: M) -> Result<Entries<'a, V>, M::Error> {
                let mut entries = Vec::new();
                while let Some((name, value)) = m.next_entry::<Text<'a>, V>()? {
                    entries.push((name.0, value));
                }
                Ok(Entries(entries))
            }
        }
        d.deserialize_map(Of(std::marker::PhantomData))
    }
}

/// A list of values (multi-value headers, cookies).
struct Strings<'a>(Vec<Cow<'a, str>>);

impl<'de: 'a, 'a> Deserialize<'de> for Strings<'a> {
    fn deserialize<D: de::Deserializer<'de>>(d: D) -> Result<Strings<'a>, D::Error> {
        struct V<'a>(std::marker::PhantomData<&'a ()>);
        impl<'de: 'a, 'a> Visitor<'de> for V<'a> {
            type Value = Strings<'a>;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a list of values")
            }
            fn visit_seq<S: SeqAccess<'de>>(self, mut s: S) -> Result<Strings<'a>, S::Error> {
                let mut values = Vec::new();
                while let Some(v) = s.next_element::<Text<'a>>()? {
                    values.push(v.0);
                }
                Ok(Strings(values))
            }
        }
        d.deserialize_seq(V(std::marker::PhantomData))
    }
}

#[cfg(test)]
mod tests;
