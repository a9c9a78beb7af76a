//! Slow and broken request bodies: a body up to `buffer_body_bytes` is received whole before the
//! upstream hears of the request, so one answered with 400 (broken framing) or 408 (slower than
//! its deadline) never reaches it, in part or whole; a trickled body cannot hold a connection
//! past the deadline; larger bodies still stream.

use std::io::Write;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use crate::support::*;

fn config(upstream: std::net::SocketAddr) -> String {
    proxy_config("http", upstream, "").replace(
        "header_timeout_ms = 1000",
        "header_timeout_ms = 1000\nbody_deadline_ms = 800\nbody_timeout_ms = 10000",
    )
}

fn echo() -> Upstream {
    Upstream::start(|seen| ok_json(&format!("got {} bytes", seen.body.len())))
}

/// Sends `parts` with `pause` between them; returns the response (None if the connection closed
/// without one) and how long it took.
fn trickle(gw: &Gateway, head: &str, parts: &[&[u8]], pause: Duration) -> (Option<Response>, Duration) {
    let started = Instant::now();
    let mut c = gw.connect();
    c.send(head.as_bytes());
    for part in parts {
        std::thread::sleep(pause);
        // Stop once the gateway has answered (or closed).
        c.reader.get_ref().set_read_timeout(Some(Duration::from_millis(1))).unwrap();
        let answered = c.reader.get_ref().peek(&mut [0u8; 1]).is_ok();
        c.reader.get_ref().set_read_timeout(Some(Duration::from_secs(10))).unwrap();
        if answered || c.reader.get_mut().write_all(part).is_err() {
            break;
        }
    }
    (c.read_response(), started.elapsed())
}

#[test]
fn refused_bodies_never_reach_the_upstream() {
    let cases: &[(&str, &[&[u8]], u16)] = &[
        // Stalls after part of a Content-Length body.
        ("POST /prod/up HTTP/1.1\r\nHost: x\r\nContent-Length: 10\r\n\r\nabc", &[], 408),
        // One byte every 150 ms: each read is quick, the whole is too slow.
        ("POST /prod/up HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\n", &[&b"a"[..]; 20], 408),
        // Chunked, broken after a valid first chunk.
        ("POST /prod/up HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\nzz\r\n", &[], 400),
        ("POST /prod/up HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhelloXX\r\n", &[], 400),
        (
            "POST /prod/up HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\nbad trailer\r\n\r\n",
            &[],
            400,
        ),
        // Chunked, trickled.
        ("POST /prod/up HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n", &[&b"1\r\na\r\n"[..]; 20], 408),
        // Chunked, stalls before its last chunk.
        ("POST /prod/up HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n", &[], 408),
    ];
    for driver in DRIVERS {
        let up = echo();
        let gw = Gateway::start(&config(up.addr), driver);
        for &(head, parts, status) in cases {
            let (r, took) = trickle(&gw, head, parts, Duration::from_millis(150));
            let r = r.unwrap_or_else(|| panic!("no response to {head:?} ({driver:?})"));
            assert_eq!(r.status, status, "{head:?} ({driver:?}): {}", r.text());
            assert_eq!(r.header("connection"), Some("close"), "{head:?}");
            assert!(took < Duration::from_secs(5), "{head:?} held the connection for {took:?}");
            assert_eq!(up.connections.load(Ordering::SeqCst), 0, "{head:?} reached the upstream ({driver:?})");
        }
        // A client that closes mid-body: nothing reaches the upstream either.
        let mut c = gw.connect();
        c.send(b"POST /prod/up HTTP/1.1\r\nHost: x\r\nContent-Length: 10\r\n\r\nabc");
        drop(c);
        std::thread::sleep(Duration::from_millis(100));
        assert_eq!(up.connections.load(Ordering::SeqCst), 0, "a truncated body reached the upstream ({driver:?})");
        // Bodies that arrive whole are forwarded whole: at once, in pieces, chunked, after 100-continue.
        let (r, _) = trickle(
            &gw,
            "POST /prod/up HTTP/1.1\r\nHost: x\r\nContent-Length: 6\r\n\r\nab",
            &[b"cd", b"ef"],
            Duration::from_millis(50),
        );
        assert_eq!(r.map(|r| r.text()), Some("got 6 bytes".into()));
        let r = gw.send(
            b"POST /prod/up HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n2\r\nde\r\n0\r\n\r\n",
        );
        assert_eq!(r.text(), "got 5 bytes");
        let mut c = gw.connect();
        c.send(b"POST /prod/up HTTP/1.1\r\nHost: x\r\nContent-Length: 4\r\nExpect: 100-continue\r\n\r\n");
        let interim = c.read_response().expect("100 Continue");
        assert_eq!(interim.status, 100);
        c.send(b"wxyz");
        assert_eq!(c.read_response().expect("the response").text(), "got 4 bytes");
        assert_eq!(up.seen().len(), 3, "{driver:?}");
    }
}

#[test]
fn bodies_above_the_buffering_limit_stream_and_are_still_bounded() {
    let up = echo();
    let gw = Gateway::start(
        &config(up.addr).replace("body_deadline_ms = 800", "body_deadline_ms = 800\nbuffer_body_bytes = 1024"),
        Driver::Uring,
    );
    // Over the limit, whole: streamed through.
    let body = vec![b'z'; 200_000];
    let mut c = gw.connect();
    c.send(format!("POST /prod/up HTTP/1.1\r\nHost: x\r\nContent-Length: {}\r\n\r\n", body.len()).as_bytes());
    c.send(&body);
    assert_eq!(c.read_response().expect("response").text(), "got 200000 bytes");
    // Over the limit and trickled: cut off at the deadline (the upstream saw the head by then).
    let parts: Vec<&[u8]> = vec![&body[..2000]; 20];
    let (r, took) = trickle(
        &gw,
        "POST /prod/up HTTP/1.1\r\nHost: x\r\nContent-Length: 40000\r\n\r\n",
        &parts,
        Duration::from_millis(150),
    );
    assert!(took < Duration::from_secs(5), "{took:?}");
    if let Some(r) = r {
        assert_eq!(r.status, 408, "{}", r.text());
    }
    assert_eq!(up.seen().len(), 1, "the trickled body never completed upstream");
}
