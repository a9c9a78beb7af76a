use super::*;
use crate::response::Lines;

fn text(r: &Response<'_>, protocol: Protocol, flow: Flow, http10: bool) -> String {
    let id = RequestId::new(protocol);
    let mut out = Vec::new();
    let len = head(&mut out, r, Common { protocol, id: &id, flow, http10, added: b"", drop_cors: false });
    assert_eq!(len, out.len());
    String::from_utf8(out).unwrap()
}

fn lines(list: &[(&str, &str)]) -> Lines {
    let mut l = Lines::default();
    for (n, v) in list {
        l.header(n.as_bytes(), v.as_bytes());
    }
    l
}

#[test]
fn in_memory_bodies_get_their_length_and_the_common_headers() {
    let pairs = [("X-Mock".to_owned(), "1".to_owned())];
    let r = Response::new(200, Headers::Pairs(&pairs), Body::Static(b"{\"ok\":true}"));
    let t = text(&r, Protocol::Rest, Flow::KeepAlive, false);
    assert!(t.starts_with("HTTP/1.1 200 OK\r\nX-Mock: 1\r\nContent-Length: 11\r\nx-amzn-RequestId: "), "{t}");
    assert!(t.contains("\r\nDate: ") && t.ends_with("\r\n\r\n") && !t.contains("Connection"));
    let t = text(&r, Protocol::Http, Flow::Close, false);
    assert!(t.contains("\r\napigw-requestid: ") && t.contains("\r\nConnection: close\r\n"));
    let t = text(&r, Protocol::Http, Flow::KeepAlive, true);
    assert!(t.contains("\r\nConnection: keep-alive\r\n"));
}

#[test]
fn bodyless_statuses_carry_no_length() {
    for status in [204, 304, 101] {
        let r = Response::new(status, Headers::Encoded(b""), Body::Static(b""));
        assert!(!text(&r, Protocol::Http, Flow::KeepAlive, false).contains("Content-Length"), "{status}");
    }
}

#[test]
fn streamed_bodies_are_framed_as_the_relay_says() {
    let framed = |f: Framing<'static>| {
        let mut r = Response::new(200, Headers::Encoded(b"A: 1\r\n"), Body::Stream(f));
        r.extra = lines(&[("Cache-Status", "portico; fwd=miss")]);
        text(&r, Protocol::Http, Flow::KeepAlive, false)
    };
    let t = framed(Framing::Length(5));
    assert!(
        t.starts_with("HTTP/1.1 200 OK\r\nA: 1\r\nCache-Status: portico; fwd=miss\r\nContent-Length: 5\r\n"),
        "{t}"
    );
    assert!(framed(Framing::Chunked).contains("\r\nTransfer-Encoding: chunked\r\n"));
    assert!(framed(Framing::HeadOf(Some(b"42"))).contains("\r\nContent-Length: 42\r\n"));
    let bare = framed(Framing::Unframed);
    assert!(!bare.contains("Content-Length") && !bare.contains("Transfer-Encoding"));
}

#[test]
fn reasons_are_kept_when_given() {
    let mut r = Response::new(599, Headers::Encoded(b""), Body::Static(b""));
    r.reason = b"Odd";
    assert!(text(&r, Protocol::Http, Flow::KeepAlive, false).starts_with("HTTP/1.1 599 Odd\r\n"));
}

#[test]
fn lines_outgrow_their_inline_room_without_losing_any() {
    let mut l = Lines::default();
    let mut expected = Vec::new();
    for i in 0..20u64 {
        l.header_u64(b"X-Line", i);
        expected.extend_from_slice(format!("X-Line: {i}\r\n").as_bytes());
    }
    assert!(expected.len() > Lines::INLINE);
    assert_eq!(l.as_bytes(), &expected[..]);
}
