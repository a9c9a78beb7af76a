//! HTTP proxy integration: what the upstream receives, what the client gets back, failures, pooling.

use std::time::Duration;

use crate::support::*;

fn start(protocol: &str, upstream: &Upstream, driver: Driver) -> Gateway {
    Gateway::start(&proxy_config(protocol, upstream.addr, ""), driver)
}

#[test]
fn proxies_path_params_query_and_forwarding_headers() {
    for driver in DRIVERS {
        let up = Upstream::start(|_| ok_json(r#"{"id":7}"#));
        let gw = start("http", &up, driver);
        let r = gw.send(
            b"GET /prod/pets/a%20b?x=1&y=%2F HTTP/1.1\r\nHost: api.test\r\nX-Forwarded-For: 10.0.0.1\r\nConnection: keep-alive, X-Secret\r\nX-Secret: hop\r\nKeep-Alive: timeout=5\r\nTE: trailers\r\nX-Custom: kept\r\n\r\n",
        );
        assert_eq!(r.status, 200, "{driver:?}");
        assert_eq!(r.text(), r#"{"id":7}"#);
        assert_eq!(r.header("server"), Some("test-upstream"), "end-to-end response headers pass through (HTTP API)");
        assert_eq!(r.header("apigw-requestid").map(str::len), Some(16));
        let seen = up.last();
        assert_eq!(seen.target, "/pets/a%20b?from=gw&x=1&y=%2F", "path parameter kept encoded, queries joined");
        assert_eq!(seen.header("host"), Some(up.addr.to_string().as_str()));
        assert_eq!(seen.header("x-forwarded-for"), Some("127.0.0.1"), "a forged X-Forwarded-For is replaced");
        assert_eq!(seen.header("x-forwarded-proto"), Some("http"));
        assert_eq!(seen.header("x-forwarded-port"), Some(gw.port.to_string().as_str()));
        assert_eq!(seen.header("x-custom"), Some("kept"));
        for hop in ["connection", "keep-alive", "te", "x-secret"] {
            assert!(!seen.has(hop), "{hop} must not be forwarded ({driver:?})");
        }
    }
}

#[test]
fn greedy_proxy_and_request_bodies() {
    for driver in DRIVERS {
        let up = Upstream::start(|s| {
            let body = String::from_utf8_lossy(&s.body).into_owned();
            Reply::Raw(format!("HTTP/1.1 201 Created\r\nContent-Length: {}\r\n\r\n{body}", body.len()).into_bytes())
        });
        let gw = start("http", &up, driver);
        let mut c = gw.connect();
        // Content-Length body.
        c.send(b"POST /prod/orders/1/items HTTP/1.1\r\nHost: a\r\nContent-Length: 11\r\n\r\nhello world");
        let r = c.read_response().unwrap();
        assert_eq!((r.status, r.text().as_str()), (201, "hello world"));
        assert_eq!(up.last().target, "/orders/1/items");
        // Chunked body, sent in pieces, on the same connection.
        c.send(b"PUT /prod/x HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n");
        std::thread::sleep(Duration::from_millis(50));
        c.send(b"6;ext=1\r\n world\r\n0\r\nTrailer: x\r\n\r\n");
        let r = c.read_response().unwrap();
        assert_eq!(r.text(), "hello world");
        assert_eq!(up.last().header("transfer-encoding"), Some("chunked"));
        // A large body streamed across many reads.
        let big = "z".repeat(300_000);
        c.send(format!("POST /prod/big HTTP/1.1\r\nHost: a\r\nContent-Length: {}\r\n\r\n{big}", big.len()).as_bytes());
        let r = c.read_response().unwrap();
        assert_eq!(r.body.len(), 300_000, "{driver:?}");
        // Expect: 100-continue gets an interim response before the body is sent.
        c.send(b"POST /prod/e HTTP/1.1\r\nHost: a\r\nContent-Length: 2\r\nExpect: 100-continue\r\n\r\n");
        let interim = c.read_response().unwrap();
        assert_eq!(interim.status, 100);
        c.send(b"ok");
        assert_eq!(c.read_response().unwrap().text(), "ok");
        assert!(!up.last().has("expect"));
    }
}

#[test]
fn response_framings_are_relayed() {
    for driver in DRIVERS {
        let up = Upstream::start(|s| match s.target.as_str() {
            "/chunked" => Reply::Raw(
                b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n4\r\ndefg\r\n0\r\n\r\n".to_vec(),
            ),
            "/close" => Reply::RawClose(b"HTTP/1.1 200 OK\r\n\r\nuntil close".to_vec()),
            "/204" => Reply::Raw(b"HTTP/1.1 204 No Content\r\n\r\n".to_vec()),
            "/interim" => {
                Reply::Raw(b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nhi".to_vec())
            }
            "/big" => {
                let body = "y".repeat(1_000_000);
                Reply::Raw(format!("HTTP/1.1 200 OK\r\nContent-Length: {}\r\n\r\n{body}", body.len()).into_bytes())
            }
            _ => ok_json("{}"),
        });
        let gw = start("http", &up, driver);
        let mut c = gw.connect();
        for (path, want) in [
            ("/chunked", "abcdefg"),
            ("/close", "until close"),
            ("/204", ""),
            ("/interim", "hi"),
            ("/chunked", "abcdefg"),
        ] {
            c.send(format!("GET /prod{path} HTTP/1.1\r\nHost: a\r\n\r\n").as_bytes());
            let r = c.read_response().unwrap();
            assert_eq!(r.text(), want, "{path} {driver:?}");
            if path == "/close" || path == "/chunked" {
                assert_eq!(r.header("transfer-encoding"), Some("chunked"), "{path}: re-framed for HTTP/1.1");
            }
        }
        let r = gw.get("/prod/big");
        assert_eq!(r.body.len(), 1_000_000);
        // HTTP/1.0 client: a close-delimited body, not chunks.
        let r = gw.send(b"GET /prod/chunked HTTP/1.0\r\n\r\n");
        assert_eq!(r.text(), "abcdefg");
        assert!(r.header("transfer-encoding").is_none());
        // HEAD: headers only.
        let mut c = gw.connect();
        c.send(b"HEAD /prod/big HTTP/1.1\r\nHost: a\r\n\r\n");
        let r = c.read_response_for(true).unwrap();
        assert_eq!(r.header("content-length"), Some("1000000"));
    }
}

#[test]
fn upstream_failures_map_to_aws_errors() {
    for (protocol, timeout_status, timeout_body, failure_body) in [
        ("rest", 504, r#"{"message":"Endpoint request timed out"}"#, r#"{"message":"Internal server error"}"#),
        ("http", 503, r#"{"message":"Service Unavailable"}"#, r#"{"message":"Bad Gateway"}"#),
    ] {
        let up = Upstream::start(|s| match s.target.as_str() {
            "/slow" => Reply::After(Duration::from_millis(2000), Box::new(ok_json("{}"))),
            "/reset" => Reply::Close,
            "/garbage" => Reply::RawClose(b"SSH-2.0-nope\r\n\r\n".to_vec()),
            _ => ok_json("{}"),
        });
        let gw = start(protocol, &up, Driver::Uring);
        let r = gw.get("/prod/slow");
        assert_eq!((r.status, r.text().as_str()), (timeout_status, timeout_body), "{protocol}");
        if protocol == "rest" {
            assert_eq!(r.header("x-amzn-ErrorType"), Some("InternalServerErrorException"));
            assert_eq!(r.header("x-amzn-RequestId").map(str::len), Some(36));
        } else {
            assert!(r.header("x-amzn-ErrorType").is_none());
        }
        for path in ["/prod/reset", "/prod/garbage"] {
            let r = gw.get(path);
            assert_eq!((r.status, r.text().as_str()), (502, failure_body), "{protocol} {path}");
        }
        // Nothing listens on the upstream port: connection refused.
        let dead = free_port();
        let cfg = proxy_config(protocol, format!("127.0.0.1:{dead}").parse().unwrap(), "");
        let gw2 = Gateway::start(&cfg, Driver::Uring);
        let r = gw2.get("/prod/anything");
        assert_eq!((r.status, r.text().as_str()), (502, failure_body));
    }
}

#[test]
fn keep_alive_pool_reuses_and_retries_stale_connections() {
    for driver in DRIVERS {
        // The upstream closes every connection after its second response (like a server with a
        // short keep-alive limit), without saying so.
        let up = Upstream::start(|s| {
            let n = s.target.trim_start_matches("/n").parse::<usize>().unwrap_or(0);
            let body = "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok".to_string();
            if n % 2 == 1 { Reply::RawClose(body.into_bytes()) } else { Reply::Raw(body.into_bytes()) }
        });
        let gw = start("http", &up, driver);
        for n in 0..6 {
            let r = gw.get(&format!("/prod/n{n}"));
            assert_eq!(r.status, 200, "request {n} {driver:?}: {}", r.text());
            std::thread::sleep(Duration::from_millis(20));
        }
        let seen = up.seen();
        let conns: std::collections::BTreeSet<usize> = seen.iter().map(|s| s.connection).collect();
        assert_eq!(conns.len(), 3, "two requests per upstream connection: the pool reused them ({driver:?})");
        // A POST cannot be retried, so a pooled connection the upstream closed is detected before
        // use: the POST goes out once, on a live connection, and succeeds.
        std::thread::sleep(Duration::from_millis(50));
        let before = up.seen().len();
        let r = gw.send(b"POST /prod/n1 HTTP/1.1\r\nHost: a\r\nContent-Length: 1\r\n\r\nx");
        assert_eq!(r.status, 200, "{driver:?}: {}", r.text());
        assert_eq!(up.seen().len(), before + 1);
    }
}

#[test]
fn rest_api_remaps_upstream_headers() {
    let up = Upstream::start(|_| {
        Reply::Raw(
            b"HTTP/1.1 200 OK\r\nServer: nginx\r\nDate: Mon, 01 Jan 2024 00:00:00 GMT\r\nContent-Length: 2\r\n\r\nhi"
                .to_vec(),
        )
    });
    let gw = start("rest", &up, Driver::Uring);
    let r = gw.get("/prod/x");
    assert_eq!(r.header("x-amzn-Remapped-Server"), Some("nginx"));
    assert_eq!(r.header("x-amzn-Remapped-Date"), Some("Mon, 01 Jan 2024 00:00:00 GMT"));
    assert_eq!(r.header("Content-Type"), Some("application/json"), "REST adds a default content type");
    assert_eq!(r.header_count("date"), 1);
    assert_eq!(r.text(), "hi");
}

#[test]
fn hop_by_hop_response_headers_are_not_relayed() {
    let up = Upstream::start(|_| {
        Reply::Raw(
            b"HTTP/1.1 200 OK\r\nConnection: keep-alive, X-Internal\r\nX-Internal: secret\r\nKeep-Alive: timeout=5\r\nProxy-Authenticate: Basic\r\nTrailer: X-T\r\nUpgrade: h2c\r\nX-Public: yes\r\nContent-Length: 2\r\n\r\nhi"
                .to_vec(),
        )
    });
    let gw = start("http", &up, Driver::Uring);
    let r = gw.get("/prod/x");
    assert_eq!(r.text(), "hi");
    assert_eq!(r.header("x-public"), Some("yes"));
    for hop in ["x-internal", "keep-alive", "proxy-authenticate", "trailer", "upgrade"] {
        assert!(r.header(hop).is_none(), "{hop} must not reach the client");
    }
    assert!(r.header("connection").is_none(), "the upstream's Connection header is not relayed");
}

/// Regression: an upstream failing while the request body was still streaming left the unread rest
/// of the body on a keep-alive client connection, to be misread as the next request.
#[test]
fn upstream_failure_mid_body_closes_the_client_connection() {
    for driver in DRIVERS {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        std::thread::spawn(move || {
            for stream in listener.incoming().flatten() {
                let mut stream = stream;
                let mut buf = [0u8; 512];
                let _ = std::io::Read::read(&mut stream, &mut buf);
                // Dies after reading a little of the request.
                drop(stream);
            }
        });
        let gw = Gateway::start(&proxy_config("http", addr, ""), driver);
        let mut c = gw.connect();
        c.send(b"POST /prod/upload HTTP/1.1\r\nHost: a\r\nContent-Length: 900000\r\n\r\n");
        for _ in 0..10 {
            std::thread::sleep(Duration::from_millis(30));
            if std::io::Write::write_all(c.reader.get_mut(), &[b'q'; 10_000]).is_err() {
                break;
            }
        }
        let r = c.read_response().expect("an error response");
        assert_eq!(r.status, 502, "{driver:?}");
        assert_eq!(r.header("connection"), Some("close"), "{driver:?}");
    }
}

#[test]
fn connect_timeout_is_bounded() {
    // A listener that never accepts, with its accept queue filled: the kernel drops further SYNs,
    // so connecting to it hangs until our connect timeout.
    let socket = socket2::Socket::new(socket2::Domain::IPV4, socket2::Type::STREAM, None).unwrap();
    socket.bind(&"127.0.0.1:0".parse::<std::net::SocketAddr>().unwrap().into()).unwrap();
    socket.listen(0).unwrap();
    let addr = socket.local_addr().unwrap().as_socket().unwrap();
    let mut fillers = Vec::new();
    for _ in 0..4 {
        if let Ok(s) = std::net::TcpStream::connect_timeout(&addr, Duration::from_millis(200)) {
            fillers.push(s);
        }
    }
    let cfg = proxy_config("rest", addr, "").replace("[limits]", "[upstream]\nconnect_timeout_ms = 300\n\n[limits]");
    let gw = Gateway::start(&cfg, Driver::Uring);
    let started = std::time::Instant::now();
    let r = gw.get("/prod/pets/1");
    let took = started.elapsed();
    assert_eq!((r.status, r.text().as_str()), (502, r#"{"message":"Internal server error"}"#));
    assert!(took >= Duration::from_millis(250) && took < Duration::from_secs(3), "took {took:?}");
    drop(socket);
}

/// A client that stops reading a response is cut off after `body_timeout_ms` instead of holding its
/// connection (and an upstream connection) forever.
#[test]
fn slow_reader_is_cut_off() {
    const SIZE: usize = 20_000_000;
    let up = Upstream::start(|_| {
        let mut reply = format!("HTTP/1.1 200 OK\r\nContent-Length: {SIZE}\r\n\r\n").into_bytes();
        reply.resize(reply.len() + SIZE, b'z');
        Reply::Raw(reply)
    });
    let cfg = proxy_config("http", up.addr, "").replace("[limits]", "[limits]\nbody_timeout_ms = 400");
    for driver in DRIVERS {
        let gw = Gateway::start(&cfg, driver);
        let socket = socket2::Socket::new(socket2::Domain::IPV4, socket2::Type::STREAM, None).unwrap();
        socket.set_recv_buffer_size(4096).unwrap();
        socket.connect(&gw.addr().into()).unwrap();
        let mut stream: std::net::TcpStream = socket.into();
        std::io::Write::write_all(&mut stream, b"GET /prod/big HTTP/1.1\r\nHost: a\r\n\r\n").unwrap();
        std::thread::sleep(Duration::from_millis(1500));
        stream.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
        let mut received = 0usize;
        let mut buf = vec![0u8; 65536];
        loop {
            match std::io::Read::read(&mut stream, &mut buf) {
                Ok(0) | Err(_) => break,
                Ok(n) => received += n,
            }
        }
        assert!(received < SIZE, "{driver:?}: the gateway should have given up on the slow reader");
    }
}
