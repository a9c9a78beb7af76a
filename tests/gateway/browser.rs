//! CORS in a real browser: headless Chromium (Debian's `chromium`, driven by Playwright through
//! `tests/fixtures/cors_browser.py`) on a page served from one origin calls APIs on another. An
//! allowed origin's calls succeed — a simple GET with credentials reading an exposed header, a
//! preflighted PUT with a custom header, a REST API's 403 readable as a 403, AWS's OPTIONS
//! mock-method pattern on a REST API without the table — and the browser itself blocks a method the preflight did not allow and every call from an origin not allowed.

use std::process::Command;

use crate::support::*;

fn config(site: u16, rest: u16, hand: u16) -> String {
    format!(
        r#"
[server]
listen = ["127.0.0.1:{{port}}"]
workers = 1

# The page's origin: a blank HTML page.
[[api]]
name = "site"
listen = ["127.0.0.1:{site}"]
[[api.stage]]
name = "$default"
[[api.route]]
key = "GET /"
integration = {{ type = "mock", headers = {{ "content-type" = "text/html" }}, body = "<!doctype html><title>app</title><p>app</p>" }}

[[api]]
name = "web"
cors = {{ allow_origins = ["http://127.0.0.1:{site}"], allow_methods = ["GET", "PUT"], allow_headers = ["x-custom", "content-type"], expose_headers = ["x-total"], max_age_s = 5, allow_credentials = true }}
[[api.stage]]
name = "$default"
[[api.route]]
key = "GET /items"
integration = {{ type = "mock", headers = {{ "x-total" = "3" }}, body = "items" }}
[[api.route]]
key = "PUT /items"
integration = {{ type = "mock", status = 201, body = "stored" }}
[[api.route]]
key = "DELETE /items"
integration = {{ type = "mock", body = "deleted" }}

[[api]]
name = "legacy"
protocol = "rest"
listen = ["127.0.0.1:{rest}"]
cors = {{ allow_origins = ["http://127.0.0.1:{site}"], allow_methods = ["GET"] }}
[[api.stage]]
name = "prod"
[[api.route]]
key = "GET /things"
api_key_required = true
integration = {{ type = "mock", body = "t" }}

# AWS's REST pattern, without the table: an OPTIONS mock method and the header on the method.
[[api]]
name = "by-hand"
protocol = "rest"
listen = ["127.0.0.1:{hand}"]
[[api.stage]]
name = "prod"
[[api.route]]
key = "OPTIONS /things"
integration = {{ type = "mock", headers = {{ "Access-Control-Allow-Origin" = "http://127.0.0.1:{site}", "Access-Control-Allow-Methods" = "PUT", "Access-Control-Allow-Headers" = "x-custom" }} }}
[[api.route]]
key = "PUT /things"
integration = {{ type = "mock", headers = {{ "Access-Control-Allow-Origin" = "http://127.0.0.1:{site}" }}, body = "by hand" }}
"#
    )
}

fn browse(page: &str, calls: serde_json::Value) -> serde_json::Value {
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/cors_browser.py");
    let out = Command::new("python3")
        .args([script, page, &calls.to_string()])
        .output()
        .expect("python3 runs the browser driver (pip install playwright; apt-get install chromium)");
    assert!(out.status.success(), "the browser driver failed: {}", String::from_utf8_lossy(&out.stderr));
    serde_json::from_slice(&out.stdout).expect("the driver's JSON")
}

#[test]
fn a_browser_on_another_origin_is_allowed_and_blocked_as_configured() {
    let (site, rest, hand) = (free_port(), free_port(), free_port());
    let gw = Gateway::start(&config(site, rest, hand), Driver::Uring);
    let api = format!("http://127.0.0.1:{}", gw.port);
    let legacy = format!("http://127.0.0.1:{rest}/prod");
    let calls = serde_json::json!([
        {"name": "get", "url": format!("{api}/items"), "credentials": "include"},
        {"name": "put", "url": format!("{api}/items"), "method": "PUT",
         "headers": {"x-custom": "1", "content-type": "application/json"}, "body": "{}"},
        {"name": "delete", "url": format!("{api}/items"), "method": "DELETE"},
        {"name": "rest_error", "url": format!("{legacy}/things")},
        {"name": "by_hand", "url": format!("http://127.0.0.1:{hand}/prod/things"), "method": "PUT",
         "headers": {"x-custom": "1"}, "body": "x"},
    ]);

    let allowed = browse(&format!("http://127.0.0.1:{site}/"), calls.clone());
    assert_eq!(allowed["get"]["status"], 200, "{allowed}");
    assert_eq!(allowed["get"]["body"], "items");
    assert_eq!(allowed["get"]["headers"]["x-total"], "3", "the exposed header is readable: {allowed}");
    assert_eq!(allowed["put"]["status"], 201, "the preflighted PUT: {allowed}");
    assert_eq!(allowed["put"]["body"], "stored");
    assert!(allowed["delete"]["blocked"].is_string(), "DELETE is not an allowed method: {allowed}");
    assert_eq!(allowed["rest_error"]["status"], 403, "the error is readable, not a CORS error: {allowed}");
    assert_eq!(allowed["rest_error"]["body"], r#"{"message":"Forbidden"}"#);
    assert_eq!(allowed["by_hand"]["status"], 200, "AWS's OPTIONS mock pattern: {allowed}");
    assert_eq!(allowed["by_hand"]["body"], "by hand");

    // The same page from an origin the API does not allow (another host name for loopback).
    let refused = browse(&format!("http://localhost:{site}/"), calls);
    for name in ["get", "put", "delete", "rest_error", "by_hand"] {
        assert!(refused[name]["blocked"].is_string(), "{name} from a refused origin: {refused}");
    }
}

/// The example config (`configs/web.toml`), on free ports, from its own page's origin: the HTTP
/// API's GET and preflighted PUT, and the REST API's validation 400 readable by the page.
#[test]
fn the_web_example_works_from_a_browser() {
    let root = env!("CARGO_MANIFEST_DIR");
    let mut config = std::fs::read_to_string(format!("{root}/configs/web.toml")).unwrap();
    let ports: Vec<(u16, u16)> = [8081, 8090, 9000].iter().map(|&p| (p, free_port())).collect();
    for (old, new) in &ports {
        config = config.replace(&format!("127.0.0.1:{old}"), &format!("127.0.0.1:{new}"));
    }
    let config = config
        .replace("127.0.0.1:8080", "127.0.0.1:{port}")
        .replace("schema_file = \"models/", &format!("schema_file = \"{root}/configs/models/"));
    let gw = Gateway::start(&config, Driver::Uring);
    let (web, site) = (ports[0].1, ports[1].1);
    let calls = serde_json::json!([
        {"name": "get", "url": format!("http://127.0.0.1:{web}/prod/hello")},
        {"name": "put", "url": format!("http://127.0.0.1:{web}/prod/hello"), "method": "PUT",
         "headers": {"x-custom": "1", "content-type": "application/json"}, "body": "{}"},
        {"name": "invalid", "url": format!("http://127.0.0.1:{}/prod/signup", gw.port), "method": "POST",
         "headers": {"content-type": "application/json"}, "body": r#"{"name":""}"#},
        {"name": "valid", "url": format!("http://127.0.0.1:{}/prod/signup", gw.port), "method": "POST",
         "headers": {"content-type": "application/json"}, "body": r#"{"name":"Ada","email":"ada@example.com"}"#},
    ]);
    let got = browse(&format!("http://127.0.0.1:{site}/"), calls);
    assert_eq!(got["get"]["status"], 200, "{got}");
    assert_eq!(got["put"]["status"], 200, "{got}");
    assert_eq!(got["invalid"]["status"], 400, "{got}");
    let body: serde_json::Value = serde_json::from_str(got["invalid"]["body"].as_str().unwrap()).unwrap();
    assert_eq!(body["type"], "BAD_REQUEST_BODY");
    assert!(body["detail"].as_str().unwrap().contains("email"), "{body}");
    assert_eq!(got["valid"]["status"], 200, "{got}");
    assert_eq!(got["valid"]["body"], r#"{"backend":"got it"}"#);
}
