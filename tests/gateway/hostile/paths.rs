//! Path confusion: the router, the cache and the upstream must agree on the resource. With a
//! key-protected `ANY /admin` beside a keyless `ANY /{proxy+}`, no spelling of `/admin` may reach
//! the upstream without a key, and no `{proxy+}` value may climb out of an integration's base path.

use super::{Expect, get, run_cases, run_on_both_drivers};
use crate::support::*;
use Expect::{Forwarded, Refused};

fn config(upstream: std::net::SocketAddr, api_paths: &str) -> String {
    format!(
        r#"
[server]
listen = ["127.0.0.1:{{port}}"]
workers = 1
[[api]]
name = "shop"
protocol = "rest"
{api_paths}
[[api.stage]]
name = "prod"
[[api.route]]
key = "ANY /admin"
api_key_required = true
integration = {{ type = "http_proxy", uri = "http://{upstream}/admin" }}
[[api.route]]
key = "ANY /admin/{{proxy+}}"
api_key_required = true
integration = {{ type = "http_proxy", uri = "http://{upstream}/admin/{{proxy}}" }}
[[api.route]]
key = "ANY /files/{{proxy+}}"
integration = {{ type = "http_proxy", uri = "http://{upstream}/base/{{proxy}}" }}
[[api.route]]
key = "GET /users/{{id}}"
integration = {{ type = "http_proxy", uri = "http://{upstream}/users/{{id}}" }}
[[api.route]]
key = "ANY /{{proxy+}}"
integration = {{ type = "http_proxy", uri = "http://{upstream}/{{proxy}}" }}
[[api_key]]
name = "k"
value = "key-0123456789abcdefghij"
[[usage_plan]]
name = "p"
api_stages = [{{ api = "shop", stage = "prod" }}]
keys = ["k"]
"#
    )
}

#[test]
fn no_spelling_of_a_protected_path_reaches_the_upstream_without_a_key() {
    // 403 Forbidden: the key-protected route matched (the router saw `/admin`).
    let cases: Vec<(Vec<u8>, Expect)> = [
        "/prod/public/../admin",
        "/prod/public/%2e%2e/admin",
        "/prod/public/%2E%2E/admin",
        "/prod/public/.%2e/admin",
        "/prod/public/%2e./admin",
        "/prod/./admin",
        "/prod/%2e/admin",
        "/prod//admin",
        "/prod///admin//",
        "/prod/%61dmin",
        "/prod/%61%64%6D%69%6E",
        "/prod/admin/",
        "/prod/files/../admin",
        "/prod/files/a/../../admin",
        "/prod/admin/x/..",
        "/prod/admin/./x",
        "/prod/x/y/../../admin/z",
    ]
    .iter()
    .map(|p| (get(p), Refused(403)))
    .chain([
        (b"GET http://x/prod/public/../admin HTTP/1.1\r\nHost: x\r\n\r\n".to_vec(), Refused(403)),
        (b"GET http://x/prod/%2e%2e/prod/admin HTTP/1.1\r\nHost: x\r\n\r\n".to_vec(), Refused(403)),
    ])
    .collect();
    for driver in DRIVERS {
        let up = Upstream::start(|_| ok_json("{}"));
        let gw = Gateway::start(&config(up.addr, ""), driver);
        run_cases(&gw, &up, &cases, driver);
        // With the key, the same spelling reaches `/admin` and nothing else.
        let r = gw
            .send(b"GET /prod/public/%2e%2e/admin HTTP/1.1\r\nHost: x\r\nx-api-key: key-0123456789abcdefghij\r\n\r\n");
        assert_eq!(r.status, 200);
        assert_eq!(up.last().target, "/admin");
    }
}

#[test]
fn paths_that_cannot_be_normalised_safely_are_refused() {
    let refused = [
        // Encoded slashes and backslashes.
        "/prod/public%2F..%2Fadmin",
        "/prod/public%2f..%2fadmin",
        "/prod/files/..%2f..%2fadmin",
        "/prod/public%5C..%5Cadmin",
        "/prod/public\\..\\admin",
        "/prod/files/a%2Fb",
        // Path parameters, which Java servers strip.
        "/prod/admin;x=1",
        "/prod/public/..;/admin",
        "/prod/files/a;jsessionid=1",
        // Invalid percent-encoding, encoded NUL.
        "/prod/files/a%zz",
        "/prod/files/a%2",
        "/prod/files/%",
        "/prod/files/%00",
        "/prod/files/a%0",
        "/prod/files/x?q=%zz",
        "/prod/files/x?q=%4",
        // Dot segments above the root.
        "/prod/../../etc/passwd",
        "/prod/%2e%2e/%2e%2e/etc/passwd",
        "/../prod/files/x",
        "/%2e%2e/prod/files/x",
        "/prod/files/../../../x",
    ];
    let cases: Vec<(Vec<u8>, Expect)> = refused.iter().map(|p| (get(p), Refused(400))).collect();
    for driver in DRIVERS {
        let up = Upstream::start(|_| ok_json("{}"));
        let gw = Gateway::start(&config(up.addr, ""), driver);
        run_cases(&gw, &up, &cases, driver);
        // The gateway is still healthy.
        assert_eq!(gw.get("/prod/files/ok").status, 200);
    }
}

#[test]
fn the_upstream_gets_exactly_the_path_the_router_matched() {
    let forwarded: &[(&str, &'static str)] = &[
        ("/prod/files/sub/../doc.txt", "/base/doc.txt"),
        ("/prod/files/./doc.txt", "/base/doc.txt"),
        ("/prod/files///a//b", "/base/a/b"),
        ("/prod/files/%41%42c", "/base/ABc"),
        ("/prod/files/a%20b", "/base/a%20b"),
        ("/prod/files/a%3fb", "/base/a%3Fb"),
        ("/prod/files/caf%c3%a9", "/base/caf%C3%A9"),
        ("/prod/files/%7Euser", "/base/~user"),
        ("/prod/users/%37", "/users/7"),
        ("/prod/users/7/../8", "/users/8"),
        ("/prod/files/x?a=%41&b=%2F", "/base/x?a=%41&b=%2F"),
        ("/prod/files/.well-known/x", "/base/.well-known/x"),
        ("/prod/public/../files/x", "/base/x"),
    ];
    // Climbing out of `/base/` through `{proxy+}` lands on another route or nowhere, never on the
    // upstream above `/base/`.
    let contained: &[(&str, u16)] = &[("/prod/files/..", 403), ("/prod/files/%2e%2e", 403), ("/prod/files/../..", 403)];
    let cases: Vec<(Vec<u8>, Expect)> = forwarded
        .iter()
        .map(|&(p, t)| (get(p), Forwarded(t)))
        .chain(contained.iter().map(|&(p, s)| (get(p), Refused(s))))
        .collect();
    run_on_both_drivers(|up| config(up, ""), &cases);
}

#[test]
fn an_api_can_keep_slashes_and_encoded_slashes() {
    let keep = r#"paths = { merge_slashes = false, escaped_slashes = "keep", allow_semicolons = true }"#;
    let cases: &[(&[u8], Expect)] = &[
        (b"GET /prod/files/a//b HTTP/1.1\r\nHost: x\r\n\r\n", Forwarded("/base/a//b")),
        (b"GET /prod/files/a%2fb HTTP/1.1\r\nHost: x\r\n\r\n", Forwarded("/base/a%2Fb")),
        (b"GET /prod/files/a;v=1 HTTP/1.1\r\nHost: x\r\n\r\n", Forwarded("/base/a;v=1")),
        // Dot segments are still removed, and an encoded slash cannot hide one.
        (b"GET /prod/files/a/../b HTTP/1.1\r\nHost: x\r\n\r\n", Forwarded("/base/b")),
        (b"GET /prod/files/..%2Fadmin HTTP/1.1\r\nHost: x\r\n\r\n", Refused(400)),
        (b"GET /prod/files/x%2F..%2F..%2Fadmin HTTP/1.1\r\nHost: x\r\n\r\n", Refused(400)),
        (b"GET /prod/public/../admin HTTP/1.1\r\nHost: x\r\n\r\n", Refused(403)),
    ];
    let decode = r#"paths = { escaped_slashes = "decode" }"#;
    let decoded: &[(&[u8], Expect)] = &[
        (b"GET /prod/public%2F..%2Fadmin HTTP/1.1\r\nHost: x\r\n\r\n", Refused(403)),
        (b"GET /prod/files/a%2Fb HTTP/1.1\r\nHost: x\r\n\r\n", Forwarded("/base/a/b")),
        (b"GET /prod/files/..%2F..%2F..%2Fx HTTP/1.1\r\nHost: x\r\n\r\n", Refused(400)),
    ];
    for driver in DRIVERS {
        let up = Upstream::start(|_| ok_json("{}"));
        let gw = Gateway::start(&config(up.addr, keep), driver);
        run_cases(&gw, &up, cases, driver);
        let gw = Gateway::start(&config(up.addr, decode), driver);
        run_cases(&gw, &up, decoded, driver);
    }
}
