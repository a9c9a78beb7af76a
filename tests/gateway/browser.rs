//! CORS in a real browser: headless Chromium (Debian's `chromium`, driven by Playwright through
//! `tests/fixtures/cors_browser.py`) on a page served from one origin calls APIs on another. An
//! allowed origin's calls succeed — a simple GET with credentials reading an exposed header, a
//! preflighted PUT with a custom header, a REST API's 403 readable as a 403 — and the browser
//! itself blocks a method the preflight did not allow and every call from an origin not allowed.

use std::process::Command;

use crate::support::*;

fn config(site: u16, rest: u16) -> String {
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
    let (site, rest) = (free_port(), free_port());
    let gw = Gateway::start(&config(site, rest), Driver::Uring);
    let api = format!("http://127.0.0.1:{}", gw.port);
    let legacy = format!("http://127.0.0.1:{rest}/prod");
    let calls = serde_json::json!([
        {"name": "get", "url": format!("{api}/items"), "credentials": "include"},
        {"name": "put", "url": format!("{api}/items"), "method": "PUT",
         "headers": {"x-custom": "1", "content-type": "application/json"}, "body": "{}"},
        {"name": "delete", "url": format!("{api}/items"), "method": "DELETE"},
        {"name": "rest_error", "url": format!("{legacy}/things")},
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

    // The same page from an origin the API does not allow (another host name for loopback).
    let refused = browse(&format!("http://localhost:{site}/"), calls);
    for name in ["get", "put", "delete", "rest_error"] {
        assert!(refused[name]["blocked"].is_string(), "{name} from a refused origin: {refused}");
    }
}
