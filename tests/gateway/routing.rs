//! Stage and route selection, AWS's not-found responses, mock integrations, keep-alive and pipelining.

use crate::support::*;

const CONFIG: &str = r#"
[server]
listen = ["127.0.0.1:{port}"]
workers = 2

[[api]]
name = "shop"
protocol = "rest"
hosts = ["shop.test"]
[[api.stage]]
name = "v1"
[[api.route]]
key = "GET /items/{id}"
integration = { type = "mock", body = "item" }
[[api.route]]
key = "GET /items/special"
integration = { type = "mock", body = "special" }

[[api]]
name = "web"
protocol = "http"
[[api.stage]]
name = "$default"
[[api.route]]
key = "GET /pets/dog/1"
integration = { type = "mock", body = "literal" }
[[api.route]]
key = "GET /pets/dog/{id}"
integration = { type = "mock", body = "param" }
[[api.route]]
key = "GET /pets/{proxy+}"
integration = { type = "mock", body = "greedy" }
[[api.route]]
key = "ANY /{proxy+}"
integration = { type = "mock", body = "any" }
[[api.route]]
key = "$default"
integration = { type = "mock", status = 418, body = "default", headers = { "x-mock" = "yes", "content-type" = "text/plain" } }

[[domain]]
name = "api.example.com"
[[domain.mapping]]
base_path = "shop"
api = "shop"
stage = "v1"
"#;

fn get_host(gw: &Gateway, host: &str, path: &str) -> Response {
    gw.send(format!("GET {path} HTTP/1.1\r\nHost: {host}\r\n\r\n").as_bytes())
}

#[test]
fn aws_route_priority_over_a_socket() {
    for driver in DRIVERS {
        let gw = Gateway::start(CONFIG, driver);
        for (method, path, want) in [
            ("GET", "/pets/dog/1", "literal"),
            ("GET", "/pets/dog/2", "param"),
            ("GET", "/pets/cat/1", "greedy"),
            ("POST", "/pets/dog/1", "any"),
            ("GET", "/", "default"),
        ] {
            let r =
                gw.send(format!("{method} {path} HTTP/1.1\r\nHost: any.test\r\nContent-Length: 0\r\n\r\n").as_bytes());
            assert_eq!(r.text(), want, "{method} {path} {driver:?}");
        }
        let r = gw.get("/");
        assert_eq!(r.status, 418);
        assert_eq!(r.header("x-mock"), Some("yes"));
        assert_eq!(r.header("content-type"), Some("text/plain"));
    }
}

#[test]
fn rest_not_found_is_403_missing_authentication_token() {
    let gw = Gateway::start(CONFIG, Driver::Uring);
    assert_eq!(get_host(&gw, "shop.test", "/v1/items/9").text(), "item");
    assert_eq!(get_host(&gw, "shop.test", "/v1/items/special").text(), "special");
    assert_eq!(
        get_host(&gw, "SHOP.test:8080", "/v1/items/9/").text(),
        "item",
        "REST ignores a trailing slash; host is case-insensitive"
    );
    for path in ["/v1/nope", "/v2/items/9", "/"] {
        let r = get_host(&gw, "shop.test", path);
        assert_eq!(r.status, 403, "{path}");
        assert_eq!(r.text(), r#"{"message":"Missing Authentication Token"}"#);
        assert_eq!(r.header("x-amzn-ErrorType"), Some("MissingAuthenticationTokenException"));
        assert_eq!(r.header("content-type"), Some("application/json"));
        assert_eq!(r.header("x-amzn-RequestId").map(str::len), Some(36));
    }
    // Wrong method on an existing REST resource: also 403, not 405.
    let r = gw.send(b"DELETE /v1/items/9 HTTP/1.1\r\nHost: shop.test\r\n\r\n");
    assert_eq!(r.status, 403);
}

#[test]
fn http_not_found_is_404() {
    let cfg = CONFIG.replace("[[api.route]]\nkey = \"$default\"", "[[api.route]]\nkey = \"GET /only\"");
    let gw = Gateway::start(&cfg, Driver::Uring);
    let r = gw.get("/");
    assert_eq!((r.status, r.text().as_str()), (404, r#"{"message":"Not Found"}"#));
    assert!(r.header("x-amzn-ErrorType").is_none());
    assert_eq!(r.header("apigw-requestid").map(str::len), Some(16));
    let r = gw.send(b"TRACE /pets HTTP/1.1\r\nHost: a\r\n\r\n");
    assert_eq!(r.status, 404, "ANY covers AWS's seven methods only");
}

#[test]
fn custom_domain_base_path_mapping() {
    let gw = Gateway::start(CONFIG, Driver::Uring);
    assert_eq!(get_host(&gw, "api.example.com", "/shop/items/3").text(), "item");
    let r = get_host(&gw, "api.example.com", "/other/items/3");
    assert_eq!(r.status, 403, "unmapped base path on a REST domain");
}

#[test]
fn keep_alive_pipelining_and_http10() {
    for driver in DRIVERS {
        let gw = Gateway::start(CONFIG, driver);
        let mut c = gw.connect();
        // Three pipelined requests in one write, one of them a not-found with a small body.
        c.send(b"GET /pets/dog/1 HTTP/1.1\r\nHost: a\r\n\r\nPOST /zzz HTTP/1.1\r\nHost: shop.test\r\nContent-Length: 3\r\n\r\nabcGET /pets/dog/7 HTTP/1.1\r\nHost: a\r\n\r\n");
        assert_eq!(c.read_response().unwrap().text(), "literal");
        assert_eq!(c.read_response().unwrap().status, 403);
        assert_eq!(c.read_response().unwrap().text(), "param");
        // HTTP/1.0 without keep-alive: answered, then closed.
        let mut c = gw.connect();
        c.send(b"GET /pets/dog/1 HTTP/1.0\r\n\r\n");
        let r = c.read_response().unwrap();
        assert_eq!(r.text(), "literal");
        assert_eq!(r.header("connection"), Some("close"));
        assert!(c.is_closed(std::time::Duration::from_secs(2)));
        // HTTP/1.0 asking for keep-alive: told so, and the connection serves a second request.
        let mut c = gw.connect();
        for _ in 0..2 {
            c.send(b"GET /pets/dog/1 HTTP/1.0\r\nConnection: keep-alive\r\n\r\n");
            let r = c.read_response().unwrap();
            assert_eq!((r.text().as_str(), r.header("connection")), ("literal", Some("keep-alive")), "{driver:?}");
        }
        // Connection: close on HTTP/1.1.
        let mut c = gw.connect();
        c.send(b"GET /pets/dog/1 HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n");
        assert_eq!(c.read_response().unwrap().header("connection"), Some("close"));
        assert!(c.is_closed(std::time::Duration::from_secs(2)));
    }
}

#[test]
fn connection_cap_and_idle_timeout() {
    let cfg = r#"
[server]
listen = ["127.0.0.1:{port}"]
workers = 1
[workers]
max_connections = 2
[limits]
idle_timeout_ms = 400
[[api]]
name = "a"
[[api.stage]]
name = "$default"
[[api.route]]
key = "GET /x"
integration = { type = "mock", body = "x" }
"#;
    for driver in DRIVERS {
        let gw = Gateway::start(cfg, driver);
        let mut a = gw.connect();
        let mut b = gw.connect();
        for c in [&mut a, &mut b] {
            c.send(b"GET /x HTTP/1.1\r\nHost: h\r\n\r\n");
            assert_eq!(c.read_response().unwrap().text(), "x");
        }
        // The third connection waits in the backlog while two are open...
        let mut third = gw.connect();
        third.send(b"GET /x HTTP/1.1\r\nHost: h\r\n\r\n");
        assert!(!third.is_closed(std::time::Duration::from_millis(150)), "{driver:?}");
        // ...and is served once the idle timeout closes the first two.
        third.reader.get_ref().set_read_timeout(Some(std::time::Duration::from_secs(5))).unwrap();
        assert_eq!(third.read_response().expect("served after a slot frees").text(), "x", "{driver:?}");
        assert!(a.is_closed(std::time::Duration::from_secs(2)), "idle connections close after idle_timeout_ms");
    }
}
