//! Malformed and hostile requests: each gets its status and a closed connection, never a crash, and
//! never disturbs other connections.

use std::io::Write;
use std::time::{Duration, Instant};

use crate::support::*;

const CONFIG: &str = r#"
[server]
listen = ["127.0.0.1:{port}"]
workers = 1

[limits]
header_timeout_ms = 500
max_body_bytes = 1000
max_uri_bytes = 200
max_header_bytes = 2048
max_header_count = 20

[[api]]
name = "a"
protocol = "rest"
[[api.stage]]
name = "$default"
[[api.route]]
key = "ANY /{proxy+}"
integration = { type = "mock", body = "fine" }
"#;

fn expect(gw: &Gateway, raw: &[u8], status: u16) {
    let mut c = gw.connect();
    c.send(raw);
    let r = c.read_response().unwrap_or_else(|| panic!("no response to {:?}", String::from_utf8_lossy(raw)));
    assert_eq!(r.status, status, "{:?}", String::from_utf8_lossy(raw));
    assert_eq!(r.header("connection"), Some("close"), "{:?}", String::from_utf8_lossy(raw));
    assert!(r.text().starts_with("{\"message\":"), "{}", r.text());
    assert!(c.is_closed(Duration::from_secs(3)), "connection must close after {:?}", String::from_utf8_lossy(raw));
}

#[test]
fn each_malformed_request_gets_400_and_close() {
    for driver in DRIVERS {
        let gw = Gateway::start(CONFIG, driver);
        // A healthy keep-alive connection that must survive everything below.
        let mut healthy = gw.connect();
        let cases: &[&[u8]] = &[
            b"POST /x HTTP/1.1\r\nHost: a\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n",
            b"POST /x HTTP/1.1\r\nHost: a\r\nContent-Length: 3\r\nContent-Length: 4\r\n\r\nabcd",
            b"GET /x HTTP/1.1\r\nHost: a\r\nX: a\r\n b\r\n\r\n",
            b"GET /x HTTP/1.1\r\nHost : a\r\n\r\n",
            b"GET /x HTTP/1.1\r\nHost: a\r\nX: a\rb\r\n\r\n",
            b"GET /x HTTP/1.1\r\nHost: a\r\nX: a\0b\r\n\r\n",
            b"GET /x HTTP/1.1\nHost: a\n\n",
            b"GET /x HTTP/1.1\r\n\r\n",
            b"GET /x HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n",
            b"GET /x#frag HTTP/1.1\r\nHost: a\r\n\r\n",
            b"GET /caf\xc3\xa9 HTTP/1.1\r\nHost: a\r\n\r\n",
            b"POST /x HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n",
            b"POST /x HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n\r\n",
            b"GARBAGE\r\n\r\n",
        ];
        for raw in cases {
            expect(&gw, raw, 400);
            healthy.send(b"GET /ok HTTP/1.1\r\nHost: a\r\n\r\n");
            assert_eq!(healthy.read_response().unwrap().text(), "fine", "{driver:?}");
        }
    }
}

#[test]
fn limits_give_414_431_413_501() {
    let gw = Gateway::start(CONFIG, Driver::Uring);
    expect(&gw, format!("GET /{} HTTP/1.1\r\nHost: a\r\n\r\n", "u".repeat(300)).as_bytes(), 414);
    expect(&gw, format!("GET / HTTP/1.1\r\nHost: a\r\nX: {}\r\n\r\n", "h".repeat(3000)).as_bytes(), 431);
    let many: String = (0..25).map(|i| format!("X{i}: y\r\n")).collect();
    expect(&gw, format!("GET / HTTP/1.1\r\nHost: a\r\n{many}\r\n").as_bytes(), 431);
    expect(&gw, b"POST /x HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: gzip, chunked\r\n\r\n", 501);
    // The body limit holds for every integration, mocks included, before any body byte is read.
    expect(&gw, b"POST /x HTTP/1.1\r\nHost: a\r\nContent-Length: 5000\r\n\r\n", 413);
}

#[test]
fn proxy_rejects_oversized_bodies_with_413() {
    let up = Upstream::start(|_| ok_json("{}"));
    let cfg = proxy_config("rest", up.addr, "").replace("max_body_bytes = 1000000", "max_body_bytes = 100");
    let gw = Gateway::start(&cfg, Driver::Uring);
    expect(
        &gw,
        format!("POST /prod/x HTTP/1.1\r\nHost: a\r\nContent-Length: 101\r\n\r\n{}", "b".repeat(101)).as_bytes(),
        413,
    );
    let r = {
        let mut c = gw.connect();
        c.send(b"POST /prod/x HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n");
        c.send(format!("64\r\n{}\r\n1\r\nx\r\n0\r\n\r\n", "c".repeat(100)).as_bytes());
        c.read_response().unwrap()
    };
    assert_eq!((r.status, r.text().as_str()), (413, r#"{"message":"Request Too Long"}"#));
    assert_eq!(r.header("x-amzn-ErrorType"), Some("RequestTooLargeException"));
    assert!(up.seen().is_empty() || up.seen().iter().all(|s| s.body.len() <= 100));
}

#[test]
fn slow_headers_are_cut_off_at_the_header_timeout() {
    for driver in DRIVERS {
        let gw = Gateway::start(CONFIG, driver);
        let mut slow = gw.connect();
        let start = Instant::now();
        slow.send(b"GET /x HTTP/1.1\r\n");
        let mut closed = false;
        for _ in 0..30 {
            std::thread::sleep(Duration::from_millis(100));
            if slow.reader.get_mut().write_all(b"X-Drip: 1\r\n").is_err() {
                closed = true;
                break;
            }
        }
        closed = closed || slow.is_closed(Duration::from_secs(2));
        assert!(closed, "a dripping client must be cut off ({driver:?})");
        assert!(start.elapsed() < Duration::from_secs(4));
        // Others are served meanwhile.
        assert_eq!(gw.get("/fine").text(), "fine");
    }
}

#[test]
fn many_garbage_connections_do_not_hurt() {
    let gw = Gateway::start(CONFIG, Driver::Uring);
    let mut state = 0x1234_5678u64;
    for i in 0..200 {
        let mut c = gw.connect();
        let len = 1 + (i * 37) % 600;
        let junk: Vec<u8> = (0..len)
            .map(|_| {
                state ^= state << 13;
                state ^= state >> 7;
                state ^= state << 17;
                state as u8
            })
            .collect();
        c.send(&junk);
        let _ = c.is_closed(Duration::from_millis(20));
    }
    assert_eq!(gw.get("/still").text(), "fine");
    assert!(!gw.log().contains("panicked"), "{}", gw.log());
}
