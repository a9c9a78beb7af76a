use super::*;

const LIMITS: HeadLimits = HeadLimits { max_header_bytes: 10240, max_header_count: 100, max_uri_bytes: 8192 };

fn parse_all(raw: &[u8]) -> Result<RequestHead, Error> {
    match parse(raw, &LIMITS)? {
        Some(index) => {
            let len = index.len;
            Ok(index.into_head(Bytes::copy_from_slice(&raw[..len])))
        }
        None => panic!("partial head: {:?}", String::from_utf8_lossy(raw)),
    }
}

fn kind(raw: &[u8]) -> Fault {
    parse_all(raw).unwrap_err().fault
}

#[test]
fn parses_a_simple_get() {
    let head = parse_all(b"GET /pets/7?x=1&y=2 HTTP/1.1\r\nHost: example.com:8080\r\nAccept: */*\r\n\r\nBODY").unwrap();
    assert_eq!(head.bytes.len(), 69);
    assert_eq!(head.method, Method::Get);
    assert_eq!(head.path(), b"/pets/7");
    assert_eq!(head.query(), Some(&b"x=1&y=2"[..]));
    assert_eq!(head.host_name(), Some(&b"example.com"[..]));
    assert_eq!(head.first(b"ACCEPT"), Some(&b"*/*"[..]));
    assert!(head.keep_alive);
    assert_eq!(head.framing, Framing::None);
}

#[test]
fn partial_until_blank_line() {
    assert!(parse(b"GET / HTTP/1.1\r\nHost: a\r\n", &LIMITS).unwrap().is_none());
}

#[test]
fn framing_and_connection() {
    let h = parse_all(b"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\nConnection: close\r\n\r\n").unwrap();
    assert_eq!(h.framing, Framing::Length(5));
    assert!(!h.keep_alive);
    let h = parse_all(b"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n").unwrap();
    assert_eq!(h.framing, Framing::Chunked);
    let h = parse_all(b"GET / HTTP/1.0\r\n\r\n").unwrap();
    assert!(!h.keep_alive, "HTTP/1.0 closes by default");
    let h = parse_all(b"GET / HTTP/1.0\r\nConnection: keep-alive\r\n\r\n").unwrap();
    assert!(h.keep_alive);
    let h = parse_all(b"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 3, 3\r\nExpect: 100-continue\r\n\r\n").unwrap();
    assert_eq!(h.framing, Framing::Length(3));
    assert!(h.expect_continue);
}

#[test]
fn rejects_smuggling_shapes() {
    use Fault::*;
    let cases: &[(&[u8], Fault)] = &[
        (b"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n", BadRequest),
        (b"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\n", BadRequest),
        (b"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: +5\r\n\r\n", BadRequest),
        (b"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 99999999999999999999\r\n\r\n", BadRequest),
        (b"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked, gzip\r\n\r\n", BadRequest),
        (b"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: gzip, chunked\r\n\r\n", NotImplemented),
        (b"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n\r\n", BadRequest),
        (b"POST / HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n", BadRequest),
        (b"GET / HTTP/1.1\r\nHost: a\nX: y\r\n\r\n", BadRequest),
        (b"GET / HTTP/1.1\nHost: a\n\n", BadRequest),
        (b"GET / HTTP/1.1\r\nHost: a\r\nX: a\rb\r\n\r\n", BadRequest),
        (b"GET / HTTP/1.1\r\nHost: a\r\nX: a\0b\r\n\r\n", BadRequest),
        (b"GET / HTTP/1.1\r\nHost: a\r\nX: a\r\n b\r\n\r\n", BadRequest),
        (b"GET / HTTP/1.1\r\nHost : a\r\n\r\n", BadRequest),
        (b"GET / HTTP/1.1\r\n\r\n", BadRequest),
        (b"GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n", BadRequest),
        (b"GET /a#b HTTP/1.1\r\nHost: a\r\n\r\n", BadRequest),
        (b"GET /\xc3\xa9 HTTP/1.1\r\nHost: a\r\n\r\n", BadRequest),
        (b"GET http://a HTTP/1.1\r\nHost: a\r\n\r\n", BadRequest),
        (b"GET http://u@a/ HTTP/1.1\r\nHost: a\r\n\r\n", BadRequest),
        (b"GET *x HTTP/1.1\r\nHost: a\r\n\r\n", BadRequest),
        (b"GET / HTTP/2.0\r\nHost: a\r\n\r\n", VersionNotSupported),
        (b"GET / HTTP/0.9\r\nHost: a\r\n\r\n", VersionNotSupported),
        (b"GET / x HTTP/2.0\r\nHost: a\r\n\r\n", BadRequest),
        (b"a b HTTP\r\nHost: a\r\n\r\n", BadRequest),
        (b"a b c\r\n\r\n", BadRequest),
        (b"GET / HTTP/1.1\r\nHost: a b\r\n\r\n", BadRequest),
        (b"GET / HTTP/1.1\r\nHost: u@h\r\n\r\n", BadRequest),
        (b"GET / HTTP/1.1\r\nHost: h:x\r\n\r\n", BadRequest),
    ];
    for (raw, want) in cases {
        assert_eq!(kind(raw), *want, "{:?}", String::from_utf8_lossy(raw));
    }
}

#[test]
fn absolute_form_target_takes_its_host_from_the_authority() {
    let h = parse_all(b"GET http://api.example.com:8080/pets/7?x=1 HTTP/1.1\r\nHost: other\r\n\r\n").unwrap();
    assert_eq!(h.path(), b"/pets/7");
    assert_eq!(h.query(), Some(&b"x=1"[..]));
    assert_eq!(h.host_name(), Some(&b"api.example.com"[..]));
    // Regression (issue 11): RFC 9112 §3.2 wants a Host field in HTTP/1.1 requests, absolute form
    // included; the authority used to stand in for a missing one.
    assert_eq!(kind(b"GET http://a.test/ HTTP/1.1\r\n\r\n"), Fault::BadRequest);
    let h = parse_all(b"GET http://a.test/ HTTP/1.0\r\n\r\n").unwrap();
    assert_eq!(h.host_name(), Some(&b"a.test"[..]), "HTTP/1.0 needs no Host");
}

#[test]
fn newer_http_1_minor_versions_are_served_as_1_1() {
    for v in ["1.2", "1.5", "1.9"] {
        let raw = format!("GET /a?b HTTP/{v}\r\nHost: h:81\r\nX: y\r\n\r\n");
        let h = parse_all(raw.as_bytes()).unwrap();
        assert_eq!((h.version_minor, h.path(), h.query()), (1, &b"/a"[..], Some(&b"b"[..])), "{v}");
        assert_eq!(h.host_name(), Some(&b"h"[..]));
        assert!(h.keep_alive);
    }
}

#[test]
fn valid_hosts() {
    for host in ["a", "a.b-c_d~e", "127.0.0.1:8080", "[::1]", "[::1]:443", "[2001:db8::1]:1", "h:65535"] {
        assert!(valid_authority(host.as_bytes()), "{host}");
    }
    for host in ["", "a b", "u@h", "h:", "h:65536", "h:1:2", "[::1", "[]", "[::1]x", "a/b", "a%41", "h:-1", "a\\b"] {
        assert!(!valid_authority(host.as_bytes()), "{host}");
    }
}

#[test]
fn limits() {
    let long_uri = format!("GET /{} HTTP/1.1\r\nHost: a\r\n\r\n", "a".repeat(9000));
    assert_eq!(kind(long_uri.as_bytes()), Fault::UriTooLong);
    let unfinished = format!("GET /{}", "a".repeat(9000));
    assert_eq!(parse(unfinished.as_bytes(), &LIMITS).unwrap_err().fault, Fault::UriTooLong);
    let big = format!("GET / HTTP/1.1\r\nHost: a\r\nX: {}\r\n\r\n", "b".repeat(11000));
    assert_eq!(kind(big.as_bytes()), Fault::HeadersTooLarge);
    let many: String = (0..101).map(|i| format!("X{i}: y\r\n")).collect();
    let many = format!("GET / HTTP/1.1\r\nHost: a\r\n{many}\r\n");
    assert_eq!(kind(many.as_bytes()), Fault::HeadersTooLarge);
}
