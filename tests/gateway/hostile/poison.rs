//! Cache poisoning and leaks: what a shared cache must not store (RFC 9111; nginx's and Varnish's
//! defaults), requests whose body is not in the key, and client-forged forwarding headers that an
//! upstream could reflect into a cached response.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use crate::support::*;

fn config(upstream: std::net::SocketAddr, server_extra: &str) -> String {
    format!(
        r#"
[server]
listen = ["127.0.0.1:{{port}}"]
workers = 1
{server_extra}
[[api]]
name = "shop"
protocol = "http"
[[api.stage]]
name = "prod"
cache = {{ capacity_mb = 4, ttl_s = 60 }}
[[api.route]]
key = "ANY /c/{{proxy+}}"
integration = {{ type = "http_proxy", uri = "http://{upstream}/c/{{proxy}}" }}
cache = {{ key_headers = ["accept-language"], methods = ["GET", "POST"] }}
"#
    )
}

/// An upstream whose answers carry the headers the path names and a serial number, and that
/// reflects `X-Forwarded-Host` into its body as a link generator would.
fn upstream() -> (Upstream, Arc<AtomicUsize>) {
    let count = Arc::new(AtomicUsize::new(0));
    let c = count.clone();
    let up = Upstream::start(move |seen| {
        let n = c.fetch_add(1, Ordering::SeqCst) + 1;
        let name = seen.target.trim_start_matches("/c/");
        let extra = match name {
            "nostore" => "Cache-Control: no-store\r\n",
            "nostore-upper" => "cache-control: max-age=60, NO-STORE\r\n",
            "private" => "Cache-Control: private, max-age=60\r\n",
            "private-field" => "Cache-Control: private=\"set-cookie\", max-age=60\r\n",
            "nocache" => "Cache-Control: no-cache\r\n",
            "cookie" => "Set-Cookie: session=victim-session\r\n",
            "cookie-lower" => "set-cookie: a=b; HttpOnly\r\n",
            "vary-star" => "Vary: *\r\n",
            "vary-unkeyed" => "Vary: Accept-Encoding\r\n",
            "vary-mixed" => "Vary: Accept-Language, Cookie\r\n",
            "vary-keyed" => "Vary: accept-language\r\n",
            "public" => "Cache-Control: public, max-age=60\r\n",
            _ => "",
        };
        let host = seen.header("x-forwarded-host").unwrap_or("-");
        let body = format!("{n} {} link=https://{host}/x", String::from_utf8_lossy(&seen.body));
        Reply::Raw(format!("HTTP/1.1 200 OK\r\n{extra}Content-Length: {}\r\n\r\n{body}", body.len()).into_bytes())
    });
    (up, count)
}

#[test]
fn responses_a_shared_cache_must_not_replay_are_not_stored() {
    let not_stored = [
        "nostore",
        "nostore-upper",
        "private",
        "private-field",
        "nocache",
        "cookie",
        "cookie-lower",
        "vary-star",
        "vary-unkeyed",
        "vary-mixed",
    ];
    for driver in DRIVERS {
        let (up, count) = upstream();
        let gw = Gateway::start(&config(up.addr, ""), driver);
        for name in not_stored {
            let before = count.load(Ordering::SeqCst);
            let first = gw.get(&format!("/prod/c/{name}"));
            let second = gw.get(&format!("/prod/c/{name}"));
            assert_eq!((first.status, second.status), (200, 200), "{name}");
            assert_eq!(count.load(Ordering::SeqCst), before + 2, "{name} was replayed from the cache ({driver:?})");
            assert_ne!(first.text(), second.text(), "{name}");
        }
        // Controls: these are stored (one upstream request for two client requests).
        for name in ["plain", "public", "vary-keyed"] {
            let before = count.load(Ordering::SeqCst);
            let first = gw.get(&format!("/prod/c/{name}"));
            let second = gw.get(&format!("/prod/c/{name}"));
            assert_eq!(count.load(Ordering::SeqCst), before + 1, "{name} should be cached ({driver:?})");
            assert_eq!(first.text(), second.text(), "{name}");
        }
        // A cookie of one client never reaches another.
        let other = gw.get("/prod/c/cookie");
        assert!(other.header("set-cookie").is_some(), "the client that caused it gets its own cookie");
        assert!(!other.text().starts_with("1 "), "and a fresh response");
    }
}

#[test]
fn a_request_body_is_never_answered_from_the_cache() {
    for driver in DRIVERS {
        let (up, count) = upstream();
        let gw = Gateway::start(&config(up.addr, ""), driver);
        let with_body = |method: &str, body: &str| {
            gw.send(
                format!("{method} /prod/c/search HTTP/1.1\r\nHost: x\r\nContent-Length: {}\r\n\r\n{body}", body.len())
                    .as_bytes(),
            )
        };
        for method in ["GET", "POST"] {
            let a = with_body(method, "alice");
            let b = with_body(method, "bob");
            assert!(a.text().contains("alice"), "{method}: {}", a.text());
            assert!(
                b.text().contains("bob"),
                "{method}: {} — another body's answer was replayed ({driver:?})",
                b.text()
            );
        }
        // Nor is a body request's answer stored for requests without one.
        let before = count.load(Ordering::SeqCst);
        let plain = gw.get("/prod/c/search");
        assert!(!plain.text().contains("alice") && !plain.text().contains("bob"), "{}", plain.text());
        assert_eq!(count.load(Ordering::SeqCst), before + 1);
    }
}

#[test]
fn forged_forwarding_headers_never_reach_the_upstream() {
    let forged = "X-Forwarded-Host: evil.example\r\nX-Forwarded-Proto: https\r\nX-Forwarded-Port: 1\r\nX-Forwarded-For: 6.6.6.6\r\nForwarded: for=6.6.6.6;host=evil.example\r\nX-Real-IP: 6.6.6.6\r\nX-Forwarded-Server: evil\r\nX-Forwarded-Prefix: /evil\r\nTrue-Client-IP: 6.6.6.6\r\nX-Original-URL: /admin\r\nX-Rewrite-URL: /admin\r\nX-Original-Host: evil.example\r\n";
    for driver in DRIVERS {
        let (up, _) = upstream();
        let gw = Gateway::start(&config(up.addr, ""), driver);
        let poisoned = gw.send(format!("GET /prod/c/page HTTP/1.1\r\nHost: x\r\n{forged}\r\n").as_bytes());
        assert!(!poisoned.text().contains("evil"), "{}", poisoned.text());
        let seen = up.last();
        for name in [
            "x-forwarded-host",
            "forwarded",
            "x-real-ip",
            "x-forwarded-server",
            "x-forwarded-prefix",
            "true-client-ip",
            "x-original-url",
            "x-rewrite-url",
            "x-original-host",
        ] {
            assert!(!seen.has(name), "{name} was forwarded ({driver:?})");
        }
        assert_eq!(seen.header("x-forwarded-for"), Some("127.0.0.1"));
        assert_eq!(seen.header("x-forwarded-proto"), Some("http"));
        assert_eq!(seen.header("x-forwarded-port"), Some(gw.port.to_string().as_str()));
        // The entry other clients get is clean.
        assert!(!gw.get("/prod/c/page").text().contains("evil"));

        // A trusted proxy's headers are kept, and its X-Forwarded-For extended.
        let gw = Gateway::start(&config(up.addr, r#"trusted_proxies = ["127.0.0.0/8"]"#), driver);
        gw.send(format!("GET /prod/c/trusted HTTP/1.1\r\nHost: x\r\n{forged}\r\n").as_bytes());
        let seen = up.last();
        assert_eq!(seen.header("x-forwarded-host"), Some("evil.example"));
        assert_eq!(seen.header("x-forwarded-for"), Some("6.6.6.6, 127.0.0.1"));
        assert_eq!(seen.header("x-forwarded-proto"), Some("https"));
        assert_eq!(seen.header("forwarded"), Some("for=6.6.6.6;host=evil.example"));
        assert!(!seen.has("x-original-url"), "path overrides are dropped even from a trusted proxy");
    }
}
