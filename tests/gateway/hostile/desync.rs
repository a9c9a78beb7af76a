//! Response desync on pooled upstream connections: bytes an upstream sends after a complete
//! response must never become the next request's response. Each variant poisons the connection
//! its request used; the next request, from another client, must get its own answer over another
//! upstream connection.

use std::time::Duration;

use crate::support::*;

const SMUGGLED: &[u8] = b"HTTP/1.1 200 OK\r\nContent-Length: 8\r\n\r\nsmuggled";

fn late(bytes: &[u8]) -> Reply {
    Reply::After(Duration::from_millis(30), Box::new(Reply::Raw(bytes.to_vec())))
}

fn poisoned(variant: &str) -> Reply {
    let raw = |b: &[u8]| Reply::Raw(b.to_vec());
    let both = |a: &[u8], b: &[u8]| Reply::Raw([a, b].concat());
    match variant {
        "204-late" => Reply::Seq(vec![raw(b"HTTP/1.1 204 No Content\r\n\r\n"), late(SMUGGLED)]),
        "204-at-once" => both(b"HTTP/1.1 204 No Content\r\n\r\n", SMUGGLED),
        "304-late" => Reply::Seq(vec![raw(b"HTTP/1.1 304 Not Modified\r\nETag: \"1\"\r\n\r\n"), late(b"stale body")]),
        "head-late" => Reply::Seq(vec![raw(b"HTTP/1.1 200 OK\r\nContent-Length: 8\r\n\r\n"), late(b"smuggled")]),
        "head-at-once" => both(b"HTTP/1.1 200 OK\r\nContent-Length: 8\r\n\r\n", b"smuggled"),
        "length-extra" => raw(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nokHTTP/1.1 200 OK\r\nContent-Length: 8\r\n\r\nsmuggled"),
        "length-late" => Reply::Seq(vec![raw(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok"), late(SMUGGLED)]),
        "chunked-late" => {
            Reply::Seq(vec![raw(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nok\r\n0\r\n\r\n"), late(SMUGGLED)])
        }
        "ambiguous" => raw(
            b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nok\r\n0\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 8\r\n\r\nsmuggled",
        ),
        "interim-then-204-late" => Reply::Seq(vec![
            raw(b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 204 No Content\r\n\r\n"),
            late(SMUGGLED),
        ]),
        _ => ok_json("fresh"),
    }
}

#[test]
fn bytes_after_a_complete_response_never_reach_another_request() {
    let variants: &[(&str, &str)] = &[
        ("GET", "204-late"),
        ("GET", "204-at-once"),
        ("GET", "304-late"),
        ("HEAD", "head-late"),
        ("HEAD", "head-at-once"),
        ("GET", "length-extra"),
        ("GET", "length-late"),
        ("GET", "chunked-late"),
        ("GET", "ambiguous"),
        ("POST", "204-late"),
        ("PUT", "length-late"),
        ("DELETE", "interim-then-204-late"),
        ("OPTIONS", "chunked-late"),
    ];
    for driver in DRIVERS {
        let up = Upstream::start(|seen| poisoned(seen.target.trim_start_matches("/x/")));
        let gw = Gateway::start(&proxy_config("http", up.addr, ""), driver);
        for &(method, variant) in variants {
            let mut a = gw.connect();
            let body = if method == "POST" || method == "PUT" { "Content-Length: 2\r\n\r\nhi" } else { "\r\n" };
            a.send(format!("{method} /prod/x/{variant} HTTP/1.1\r\nHost: x\r\n{body}").as_bytes());
            let first = a.read_response_for(method == "HEAD").expect("the poisoned request gets an answer");
            assert!(first.status < 300 || first.status == 304 || first.status >= 500, "{variant}: {}", first.status);
            // The late bytes arrive while the connection sits in the pool.
            std::thread::sleep(Duration::from_millis(120));
            let before = up.seen().len();
            for next_method in ["GET", "POST"] {
                let next = gw.send(
                    format!("{next_method} /prod/fresh HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n\r\n").as_bytes(),
                );
                assert_eq!(next.status, 200, "after {method} {variant} ({driver:?})");
                assert_eq!(
                    next.text(),
                    "fresh",
                    "after {method} {variant}, {next_method} got another response ({driver:?})"
                );
            }
            let seen = up.seen();
            let poisoned_conn = seen[before - 1].connection;
            assert_ne!(
                seen[before].connection, poisoned_conn,
                "{method} {variant}: the poisoned connection was reused"
            );
        }
    }
}
