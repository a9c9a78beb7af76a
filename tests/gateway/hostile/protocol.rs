//! Smaller protocol defects: Host validation (RFC 9112 §3.2), HTTP versions, ambiguous API keys,
//! an upstream body broken from its first byte, metadata addresses as integration targets.

use super::{Expect, run_on_both_drivers};
use crate::support::*;
use Expect::{Forwarded, Refused};

#[test]
fn hosts_and_versions_are_checked_before_anything_is_forwarded() {
    let cases: &[(&[u8], Expect)] = &[
        // Absolute form still needs a Host field in HTTP/1.1.
        (b"GET http://x/prod/pets/1 HTTP/1.1\r\n\r\n", Refused(400)),
        (b"GET http://x/prod/pets/1 HTTP/1.1\r\nHost: x\r\n\r\n", Forwarded("/pets/1?from=gw")),
        (b"GET http://a b/prod/pets/1 HTTP/1.1\r\nHost: x\r\n\r\n", Refused(400)),
        // Host values that are not host[:port].
        (b"GET /prod/pets/1 HTTP/1.1\r\nHost: a b\r\n\r\n", Refused(400)),
        (b"GET /prod/pets/1 HTTP/1.1\r\nHost: user@host\r\n\r\n", Refused(400)),
        (b"GET /prod/pets/1 HTTP/1.1\r\nHost: host:80:81\r\n\r\n", Refused(400)),
        (b"GET /prod/pets/1 HTTP/1.1\r\nHost: host:99999\r\n\r\n", Refused(400)),
        (b"GET /prod/pets/1 HTTP/1.1\r\nHost: host:\r\n\r\n", Refused(400)),
        (b"GET /prod/pets/1 HTTP/1.1\r\nHost: host/x\r\n\r\n", Refused(400)),
        (b"GET /prod/pets/1 HTTP/1.1\r\nHost: [::1\r\n\r\n", Refused(400)),
        (b"GET /prod/pets/1 HTTP/1.1\r\nHost: \r\n\r\n", Refused(400)),
        (b"GET /prod/pets/1 HTTP/1.1\r\nHost: a%20b\r\n\r\n", Refused(400)),
        (b"GET /prod/pets/1 HTTP/1.1\r\nHost: [::1]:8080\r\n\r\n", Forwarded("/pets/1?from=gw")),
        (b"GET /prod/pets/1 HTTP/1.1\r\nHost: api.example.com:443\r\n\r\n", Forwarded("/pets/1?from=gw")),
        // HTTP/1.x with x > 1 is HTTP/1.1; other versions are 505; garbage is 400.
        (b"GET /prod/pets/2 HTTP/1.2\r\nHost: x\r\n\r\n", Forwarded("/pets/2?from=gw")),
        (b"GET /prod/pets/9 HTTP/1.9\r\nHost: x\r\n\r\n", Forwarded("/pets/9?from=gw")),
        (b"GET /prod/pets/1 HTTP/2.0\r\nHost: x\r\n\r\n", Refused(505)),
        (b"GET /prod/pets/1 HTTP/3.0\r\nHost: x\r\n\r\n", Refused(505)),
        (b"GET /prod/pets/1 HTTP/0.9\r\nHost: x\r\n\r\n", Refused(505)),
        (b"GET /prod/pets/1 HTTQ/1.1\r\nHost: x\r\n\r\n", Refused(400)),
        (b"GET /prod/pets/1 HTTP/1.1x\r\nHost: x\r\n\r\n", Refused(400)),
        (b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n", Refused(505)),
    ];
    run_on_both_drivers(|up| proxy_config("http", up, ""), cases);
}

#[test]
fn two_api_keys_are_ambiguous_credentials() {
    let config = r#"
[server]
listen = ["127.0.0.1:{port}"]
workers = 1
[[api]]
name = "shop"
protocol = "rest"
[[api.stage]]
name = "prod"
[[api.route]]
key = "GET /items"
api_key_required = true
integration = { type = "mock", body = "items" }
[[api_key]]
name = "a"
value = "key-a-0123456789abcdefghij"
[[api_key]]
name = "b"
value = "key-b-0123456789abcdefghij"
[[usage_plan]]
name = "p"
api_stages = [{ api = "shop", stage = "prod" }]
keys = ["a", "b"]
"#;
    let gw = Gateway::start(config, Driver::Uring);
    let with = |keys: &[&str]| {
        let lines: String = keys.iter().map(|k| format!("x-api-key: {k}\r\n")).collect();
        gw.send(format!("GET /prod/items HTTP/1.1\r\nHost: x\r\n{lines}\r\n").as_bytes()).status
    };
    assert_eq!(with(&["key-a-0123456789abcdefghij"]), 200);
    assert_eq!(with(&["key-a-0123456789abcdefghij", "key-b-0123456789abcdefghij"]), 403);
    assert_eq!(with(&["key-a-0123456789abcdefghij", "key-a-0123456789abcdefghij"]), 403, "even the same key twice");
    assert_eq!(with(&["nonsense", "key-a-0123456789abcdefghij"]), 403);
}

#[test]
fn an_upstream_body_broken_before_any_byte_is_a_502() {
    for driver in DRIVERS {
        let up = Upstream::start(|seen| match seen.target.as_str() {
            "/garbage" => Reply::RawClose(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n".to_vec()),
            "/closed" => Reply::RawClose(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n".to_vec()),
            "/late-garbage" => Reply::Seq(vec![
                Reply::Raw(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n".to_vec()),
                Reply::After(std::time::Duration::from_millis(50), Box::new(Reply::RawClose(b"nope\r\n".to_vec()))),
            ]),
            _ => Reply::Raw(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nok\r\n0\r\n\r\n".to_vec()),
        });
        let gw = Gateway::start(&proxy_config("rest", up.addr, ""), driver);
        for path in ["/prod/garbage", "/prod/closed", "/prod/late-garbage"] {
            let r = gw.get(path);
            assert_eq!(r.status, 502, "{path} ({driver:?})");
            assert_eq!(r.text(), r#"{"message":"Internal server error"}"#);
        }
        let ok = gw.get("/prod/fine");
        assert_eq!((ok.status, ok.text().as_str()), (200, "ok"));
    }
}

#[test]
fn metadata_addresses_are_refused_as_integration_targets() {
    let target = |uri: &str, extra: &str| {
        format!(
            "{extra}\n[[api]]\nname = \"a\"\n[[api.stage]]\nname = \"prod\"\n[[api.route]]\nkey = \"GET /x\"\nintegration = {{ type = \"http_proxy\", uri = \"{uri}\" }}\n"
        )
    };
    for uri in [
        "http://169.254.169.254/latest/meta-data/",
        "http://169.254.0.1:8080/",
        "http://[fd00:ec2::254]/latest",
        "http://[fe80::1]/",
    ] {
        let (ok, err) = check(&target(uri, ""));
        assert!(!ok, "{uri}");
        assert!(err.contains("link-local or cloud metadata address"), "{uri}: {err}");
        assert!(err.contains("allow_link_local"), "{err}");
        let (ok, err) = check(&target(uri, "[upstream]\nallow_link_local = true"));
        assert!(ok, "{uri} allowed explicitly: {err}");
    }
    assert!(check(&target("http://127.0.0.1:9/", "")).0, "loopback is fine");
}
