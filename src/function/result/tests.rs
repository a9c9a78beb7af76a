//! Every row of AWS's table of what a Lambda proxy answer gives the client (aws-behaviour §1.2).

use super::*;

fn v1(payload: &str) -> Result<FunctionResult<'_>, Malformed> {
    read(PayloadFormat::V1, payload.as_bytes())
}

fn v2(payload: &str) -> Result<FunctionResult<'_>, Malformed> {
    read(PayloadFormat::V2, payload.as_bytes())
}

fn headers(r: &FunctionResult<'_>) -> Vec<(String, String)> {
    r.headers.iter().map(|(n, v)| (n.to_string(), v.to_string())).collect()
}

fn pair(n: &str, v: &str) -> (String, String) {
    (n.to_owned(), v.to_owned())
}

#[test]
fn a_missing_status_is_200_and_a_numeric_string_is_a_status() {
    let r = v1(r#"{"statusCode":200}"#).unwrap();
    assert_eq!((r.status, r.body.as_ref(), r.headers.len()), (200, "", 0));
    let r = v1(r#"{"headers":{"x-a":"1"}}"#).unwrap();
    assert_eq!((r.status, headers(&r)), (200, vec![pair("x-a", "1")]));
    assert_eq!(v1(r#"{"statusCode":"201"}"#).unwrap().status, 201);
    assert_eq!(v1(r#"{"statusCode":404.0,"body":"gone"}"#).unwrap().status, 404);
}

#[test]
fn header_values_may_be_numbers_or_booleans() {
    let r = v1(r#"{"headers":{"x-true":true,"x-n":42,"x-s":"s"}}"#).unwrap();
    assert_eq!(headers(&r), [pair("x-true", "true"), pair("x-n", "42"), pair("x-s", "s")]);
}

#[test]
fn a_name_in_both_maps_keeps_both_values_under_the_multi_value_spelling() {
    let r =
        v1(r#"{"headers":{"x-dup":"value-solo","x-only":"o"},"multiValueHeaders":{"X-Dup":["value-multi"]}}"#).unwrap();
    assert_eq!(headers(&r), [pair("X-Dup", "value-multi"), pair("X-Dup", "value-solo"), pair("x-only", "o")]);
}

#[test]
fn base64_bodies_are_decoded_only_when_asked() {
    let r = v1(r#"{"body":"aGVsbG8=","isBase64Encoded":true}"#).unwrap();
    assert_eq!(r.body(true).unwrap().as_ref(), b"hello");
    // REST without a matching binary media type: the text as the function wrote it.
    assert_eq!(r.body(false).unwrap().as_ref(), b"aGVsbG8=");
    let bad = v1(r#"{"body":"not base64!","isBase64Encoded":true}"#).unwrap();
    assert_eq!(bad.body(true), Err(BadBase64));
    let plain = v1(r#"{"body":"not base64!"}"#).unwrap();
    assert_eq!(plain.body(true).unwrap().as_ref(), b"not base64!");
}

#[test]
fn anything_else_is_malformed() {
    for payload in [
        r#"{"statusCode":200,"wrongValue":1}"#,
        r#"{"statusCode":"test"}"#,
        r#"{"statusCode":99}"#,
        r#"{"multiValueHeaders":{"x":"not a list"}}"#,
        r#"{"headers":{"x":{"nested":1}}}"#,
        r#"{"headers":["x"]}"#,
        r#""justAString""#,
        "[1,2]",
        "{not json",
        "",
        r#"{"errorMessage":"boom","errorType":"Error"}"#,
        r#"{"statusCode":200,"cookies":["a=b"]}"#,
    ] {
        assert!(v1(payload).is_err(), "{payload:?}");
    }
    assert!(read(PayloadFormat::V1, b"\xff\xfe").is_err());
}

#[test]
fn format_2_infers_a_json_body_without_a_status() {
    let r = v2(r#"{"message":"hi"}"#).unwrap();
    assert_eq!((r.status, r.body.as_ref()), (200, r#"{"message":"hi"}"#));
    assert_eq!(headers(&r), [pair("content-type", "application/json")]);
    let r = v2(r#""just a string""#).unwrap();
    assert_eq!(r.body.as_ref(), "just a string");
    assert_eq!(v2("[1, 2]").unwrap().body.as_ref(), "[1, 2]");
    assert!(v2("{not json").is_err());
    assert!(v2("").is_err());
}

#[test]
fn format_2_explicit_answers_set_cookies() {
    let r = v2(r#"{"statusCode":201,"headers":{"x":"1"},"cookies":["a=1; Path=/","b=2"],"body":"made"}"#).unwrap();
    assert_eq!((r.status, r.body.as_ref()), (201, "made"));
    assert_eq!(headers(&r), [pair("x", "1"), pair("Set-Cookie", "a=1; Path=/"), pair("Set-Cookie", "b=2")]);
    // The official Rust runtime's 2.0 responses carry `multiValueHeaders` (empty, or not).
    let r = v2(r#"{"statusCode":200,"multiValueHeaders":{"x":["1"]},"cookies":[]}"#).unwrap();
    assert_eq!(headers(&r), [pair("x", "1")]);
    assert!(v2(r#"{"statusCode":200,"extra":1}"#).is_err());
}

#[test]
fn strings_without_escapes_are_borrowed() {
    let payload = r#"{"headers":{"x":"plain"},"body":"plain body"}"#;
    let r = v1(payload).unwrap();
    assert!(matches!(r.body, Cow::Borrowed(_)) && matches!(r.headers[0].1, Cow::Borrowed(_)));
    let escaped = v1(r#"{"body":"line\nbreak"}"#).unwrap();
    assert_eq!(escaped.body.as_ref(), "line\nbreak");
}
