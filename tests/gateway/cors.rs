//! CORS over real sockets, on both API kinds: preflights answered by the gateway (before routing
//! and authorization; allowed and refused origins, wildcard subdomains, credentials), the headers
//! on every response of the API — integration responses, mocks, errors — with the integration's
//! own CORS headers ignored; REST's OPTIONS mock-method pattern without the table; `check`
//! refusing what browsers would. The browser itself is in `browser.rs`.

use crate::support::*;

fn config(upstream: std::net::SocketAddr) -> String {
    format!(
        r#"
[server]
listen = ["127.0.0.1:{{port}}"]
workers = 1

[[api]]
name = "web"
protocol = "http"
hosts = ["web.test"]
cors = {{ allow_origins = ["https://app.example.com", "https://*.example.org"], allow_methods = ["GET", "PUT"], allow_headers = ["x-custom", "content-type"], expose_headers = ["x-total"], max_age_s = 600, allow_credentials = true }}
[[api.stage]]
name = "$default"
[[api.route]]
key = "GET /items"
integration = {{ type = "http_proxy", uri = "http://{upstream}/items" }}
[[api.route]]
key = "GET /mock"
integration = {{ type = "mock", headers = {{ "Access-Control-Allow-Origin" = "*", "x-kept" = "yes" }}, body = "m" }}

[[api]]
name = "legacy"
protocol = "rest"
hosts = ["rest.test"]
cors = {{ allow_origins = ["*"], allow_methods = ["*"], allow_headers = ["*"] }}
[[api.stage]]
name = "prod"
[[api.route]]
key = "GET /things"
api_key_required = true
integration = {{ type = "mock", body = "t" }}

[[api]]
name = "by-hand"
protocol = "rest"
hosts = ["hand.test"]
[[api.stage]]
name = "prod"
[[api.route]]
key = "OPTIONS /things"
integration = {{ type = "mock", headers = {{ "Access-Control-Allow-Origin" = "*", "Access-Control-Allow-Methods" = "GET,PUT", "Access-Control-Allow-Headers" = "x-custom" }} }}
[[api.route]]
key = "GET /things"
integration = {{ type = "mock", headers = {{ "Access-Control-Allow-Origin" = "*" }}, body = "t" }}
"#
    )
}

fn send(gw: &Gateway, method: &str, host: &str, path: &str, extra: &str) -> Response {
    gw.send(format!("{method} {path} HTTP/1.1\r\nHost: {host}\r\n{extra}\r\n").as_bytes())
}

#[test]
fn the_gateway_answers_cors_on_both_api_kinds() {
    for driver in DRIVERS {
        let upstream = Upstream::start(|_| {
            Reply::Raw(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nAccess-Control-Allow-Origin: *\r\nAccess-Control-Allow-Credentials: false\r\nx-total: 2\r\n\r\n[]".to_vec())
        });
        let gw = Gateway::start(&config(upstream.addr), driver);
        let preflight = |origin: &str, host: &str, path: &str| {
            send(
                &gw,
                "OPTIONS",
                host,
                path,
                &format!(
                    "Origin: {origin}\r\nAccess-Control-Request-Method: PUT\r\nAccess-Control-Request-Headers: x-custom, content-type\r\n"
                ),
            )
        };

        // HTTP API preflight: answered (no OPTIONS route, no call upstream), 204.
        let r = preflight("https://app.example.com", "web.test", "/items");
        assert_eq!(r.status, 204, "{driver:?}");
        assert_eq!(r.header("access-control-allow-origin"), Some("https://app.example.com"));
        assert_eq!(r.header("access-control-allow-methods"), Some("GET, PUT"));
        assert_eq!(r.header("access-control-allow-headers"), Some("x-custom, content-type"));
        assert_eq!(r.header("access-control-max-age"), Some("600"));
        assert_eq!(r.header("access-control-allow-credentials"), Some("true"));
        assert_eq!(r.header("vary"), Some("Origin"));
        assert!(r.body.is_empty());
        // Wildcard subdomains, any depth; not the domain itself, nor look-alikes.
        let r = preflight("https://a.b.example.org", "web.test", "/anything");
        assert_eq!(r.header("access-control-allow-origin"), Some("https://a.b.example.org"));
        for refused in
            ["https://example.org", "https://evil.com", "http://app.example.com", "https://app.example.com.evil.com"]
        {
            let r = preflight(refused, "web.test", "/items");
            assert_eq!(r.status, 204);
            assert_eq!(r.header("access-control-allow-origin"), None, "{refused}");
            assert_eq!(r.header("access-control-allow-methods"), None, "{refused}");
        }
        assert!(upstream.seen().is_empty(), "preflights never reach the integration");

        // Actual requests: the headers on the integration's response, its own CORS headers gone.
        let origin = "Origin: https://app.example.com\r\n";
        let r = send(&gw, "GET", "web.test", "/items", origin);
        assert_eq!(r.status, 200);
        assert_eq!(r.header_count("access-control-allow-origin"), 1);
        assert_eq!(r.header("access-control-allow-origin"), Some("https://app.example.com"));
        assert_eq!(r.header("access-control-allow-credentials"), Some("true"));
        assert_eq!(r.header("access-control-expose-headers"), Some("x-total"));
        assert_eq!(r.header("x-total"), Some("2"));
        let r = send(&gw, "GET", "web.test", "/mock", origin);
        assert_eq!(r.header("access-control-allow-origin"), Some("https://app.example.com"));
        assert_eq!(r.header("x-kept"), Some("yes"));
        // Errors too.
        let r = send(&gw, "GET", "web.test", "/nowhere", origin);
        assert_eq!(r.status, 404);
        assert_eq!(r.header("access-control-allow-origin"), Some("https://app.example.com"));
        // No origin, or a refused one: no CORS headers at all (and none from the integration).
        for extra in ["", "Origin: https://evil.com\r\n"] {
            let r = send(&gw, "GET", "web.test", "/items", extra);
            assert_eq!(r.status, 200);
            assert_eq!(r.header("access-control-allow-origin"), None, "{extra:?}");
            assert_eq!(r.header("access-control-allow-credentials"), None, "{extra:?}");
        }
        // An OPTIONS that is not a preflight is routed like any request.
        assert_eq!(send(&gw, "OPTIONS", "web.test", "/items", origin).status, 404);

        // REST API with the shorthand: preflight 200, `*` echoes what was asked; errors (a
        // missing API key) carry the header.
        let r = preflight("https://whoever.test", "rest.test", "/prod/things");
        assert_eq!(r.status, 200);
        assert_eq!(r.header("access-control-allow-origin"), Some("*"));
        assert_eq!(r.header("access-control-allow-methods"), Some("PUT"));
        assert_eq!(r.header("access-control-allow-headers"), Some("x-custom, content-type"));
        assert_eq!(r.header("vary"), None);
        let r = send(&gw, "GET", "rest.test", "/prod/things", "Origin: https://whoever.test\r\n");
        assert_eq!(r.status, 403);
        assert_eq!(r.header("access-control-allow-origin"), Some("*"));

        // REST API without the table: AWS's OPTIONS mock method, headers as the mock has them.
        let r = preflight("https://whoever.test", "hand.test", "/prod/things");
        assert_eq!(r.status, 200);
        assert_eq!(r.header("access-control-allow-origin"), Some("*"));
        assert_eq!(r.header("access-control-allow-methods"), Some("GET,PUT"));
        assert_eq!(r.header("access-control-allow-headers"), Some("x-custom"));
        let r = send(&gw, "GET", "hand.test", "/prod/things", "Origin: https://whoever.test\r\n");
        assert_eq!(r.header("access-control-allow-origin"), Some("*"));
    }
}

#[test]
fn check_refuses_cors_browsers_would_not_honour() {
    let base = |cors: &str| {
        format!(
            "[server]\nlisten = [\"127.0.0.1:0\"]\n[[api]]\nname = \"a\"\ncors = {{ {cors} }}\n[[api.stage]]\nname = \"$default\"\n[[api.route]]\nkey = \"GET /x\"\nintegration = {{ type = \"mock\" }}\n"
        )
    };
    let (ok, err) = check(&base("allow_origins = [\"https://*.example.com\"], allow_credentials = true"));
    assert!(ok, "{err}");
    for (cors, expected) in [
        ("allow_origins = [\"*\"], allow_credentials = true", "cannot go with"),
        ("allow_origins = [\"example.com\"]", "no scheme"),
        ("allow_origins = [\"https://example.com/app\"]", "without a path"),
        ("allow_origins = [\"https://*\"]", "wildcard"),
        ("allow_methods = [\"FETCH\"]", "not a method"),
        ("allow_headers = [\"x y\"]", "not a header name"),
        ("max_age_s = 100000", "max_age_s"),
        ("allow_origin = [\"*\"]", "allow_origins"),
    ] {
        let (ok, err) = check(&base(cors));
        assert!(!ok && err.contains(expected), "{cors}: {err}");
    }
}
