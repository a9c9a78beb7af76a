//! Non-proxy function integrations (AWS's `AWS` type with a Lambda function) and what every
//! non-proxy integration shares, over real sockets on both I/O drivers: the request template's
//! output is the function's event byte for byte; a function error's `errorMessage` chooses the
//! integration response by selection pattern (multi-line messages too), and an error no pattern
//! matches takes the default response, as on AWS; content handling converts text and binary on
//! both sides as AWS's payload-encodings tables say; a status no method response declares is
//! AWS's 500.

use serde_json::Value;

use crate::support::*;

/// A function endpoint that answers by the event's `item`: `missing` and `bad` fail with
/// messages the patterns know, `crash` with one they do not; anything else succeeds, echoing
/// the event.
fn function() -> Upstream {
    Upstream::start(|seen| {
        let event: Value = serde_json::from_slice(&seen.body).unwrap_or(Value::Null);
        let fail = |message: &str| {
            let payload =
                serde_json::json!({"errorMessage": message, "errorType": "Error", "stackTrace": ["at handler"]});
            function_answer(&payload.to_string(), "X-Amz-Function-Error: Unhandled\r\n")
        };
        match event["item"].as_str() {
            Some("missing") => fail("Order Not Found: 7"),
            Some("bad") => fail("validation:\nInvalid item"),
            Some("crash") => fail("boom"),
            _ => function_answer(
                &serde_json::json!({"saved": true, "event": String::from_utf8_lossy(&seen.body)}).to_string(),
                "",
            ),
        }
    })
}

/// An HTTP backend that echoes the body it got with the content type it got, or (under
/// `/bytes`) answers the raw bytes `\x89PNG\xff` as `image/png`, or (under `/b64`) base64 text.
fn echo() -> Upstream {
    Upstream::start(|seen| {
        let (ct, body): (String, Vec<u8>) = if seen.target.starts_with("/bytes") {
            ("image/png".into(), b"\x89PNG\xff".to_vec())
        } else if seen.target.starts_with("/b64") {
            ("text/plain".into(), b"iVBOR/8=".to_vec())
        } else {
            (seen.header("content-type").unwrap_or("none").to_owned(), seen.body.clone())
        };
        let mut raw =
            format!("HTTP/1.1 200 OK\r\nContent-Type: {ct}\r\nContent-Length: {}\r\n\r\n", body.len()).into_bytes();
        raw.extend_from_slice(&body);
        Reply::Raw(raw)
    })
}

pub fn config(function: std::net::SocketAddr, backend: std::net::SocketAddr) -> String {
    format!(
        r#"
[server]
listen = ["127.0.0.1:{{port}}"]
workers = 1

[[function]]
name = "orders"
url = "http://{function}/invoke"

[[api]]
name = "shop"
protocol = "rest"
hosts = ["shop.test"]
binary_media_types = ["image/png", "application/octet-stream"]
[[api.stage]]
name = "prod"

[[api.route]]
key = "POST /orders/{{id}}"
[api.route.integration]
type = "function"
proxy = false
target = "orders"
[api.route.integration.request_templates]
"application/json" = '''{{"id": "$input.params('id')", "item": $input.json('$.item')}}'''
[[api.route.integration.responses]]
status = 200
[api.route.integration.responses.templates]
"application/json" = '''#set($r = $input.path('$'))
{{"saved": $r.saved, "message": "$util.escapeJavaScript($!r.errorMessage)"}}'''
[[api.route.integration.responses]]
selection_pattern = ".*Not Found.*"
status = 404
[api.route.integration.responses.templates]
"application/json" = '''{{"error": "$input.path('$.errorMessage')"}}'''
[[api.route.integration.responses]]
selection_pattern = "(\n|.)*Invalid(\n|.)*"
status = 400

[[api.route]]
key = "POST /raw"
integration = {{ type = "function", proxy = false, target = "orders" }}

[[api.route]]
key = "POST /upload"
integration = {{ type = "http", uri = "http://{backend}/echo" }}

[[api.route]]
key = "POST /upload/text"
integration = {{ type = "http", uri = "http://{backend}/echo", content_handling = "convert_to_text", request_templates = {{ "image/png" = '{{"png": "$input.body"}}' }} }}

[[api.route]]
key = "POST /upload/binary"
integration = {{ type = "http", uri = "http://{backend}/echo", content_handling = "convert_to_binary" }}

[[api.route]]
key = "GET /image"
integration = {{ type = "http", uri = "http://{backend}/bytes" }}

[[api.route]]
key = "GET /image/text"
[api.route.integration]
type = "http"
uri = "http://{backend}/bytes"
[[api.route.integration.responses]]
status = 200
content_handling = "convert_to_text"

[[api.route]]
key = "GET /encoded"
integration = {{ type = "http", uri = "http://{backend}/b64" }}

[[api.route]]
key = "GET /declared"
[api.route.integration]
type = "http"
uri = "http://{backend}/echo"
method_responses = [200]
[[api.route.integration.responses]]
status = 200
[api.route.integration.responses.templates]
"application/json" = '#if($input.params("to") != "")#set($context.responseOverride.status = $input.params("to"))#end ok'
"#
    )
}

fn post(gw: &Gateway, target: &str, content_type: &str, body: &[u8], extra: &str) -> Response {
    let mut raw = format!(
        "POST {target} HTTP/1.1\r\nHost: shop.test\r\nContent-Type: {content_type}\r\nContent-Length: {}\r\n{extra}\r\n",
        body.len()
    )
    .into_bytes();
    raw.extend_from_slice(body);
    gw.send(&raw)
}

fn get(gw: &Gateway, target: &str, extra: &str) -> Response {
    gw.send(format!("GET {target} HTTP/1.1\r\nHost: shop.test\r\n{extra}\r\n").as_bytes())
}

#[test]
fn functions_get_the_rendered_event_and_errors_choose_the_response() {
    for driver in DRIVERS {
        let f = function();
        let gw = Gateway::start(&config(f.addr, f.addr), driver);

        let r = post(&gw, "/prod/orders/7", "application/json", br#"{"item":{"sku":"a-1","n":2}}"#, "");
        assert_eq!(r.status, 200, "{driver:?}: {}", r.text());
        // The template's output is the event, byte for byte.
        let event = String::from_utf8_lossy(&f.last().body).into_owned();
        assert_eq!(event, r#"{"id": "7", "item": {"sku":"a-1","n":2}}"#);
        assert_eq!(f.last().header("content-type"), Some("application/json"));
        assert_eq!(r.text(), r#"{"saved": true, "message": ""}"#);
        assert_eq!(r.header("content-type"), Some("application/json"));

        // A function error: its errorMessage against the selection patterns.
        let r = post(&gw, "/prod/orders/7", "application/json", br#"{"item":"missing"}"#, "");
        assert_eq!((r.status, r.text().as_str()), (404, r#"{"error": "Order Not Found: 7"}"#));
        // Multi-line messages need AWS's `(\n|.)*`.
        let r = post(&gw, "/prod/orders/7", "application/json", br#"{"item":"bad"}"#, "");
        assert_eq!(r.status, 400, "{}", r.text());
        // No pattern matches: the default response, with the error object as its input (AWS).
        let r = post(&gw, "/prod/orders/7", "application/json", br#"{"item":"crash"}"#, "");
        assert_eq!((r.status, r.text().as_str()), (200, r#"{"saved": , "message": "boom"}"#));

        // No templates: the body passes through as the event, the payload back as the body.
        let r = post(&gw, "/prod/raw", "application/json", br#"{"item":"x"}"#, "");
        assert_eq!(r.status, 200);
        assert_eq!(f.last().body, br#"{"item":"x"}"#);
        let answer: Value = serde_json::from_slice(&r.body).unwrap();
        assert_eq!(answer["event"], r#"{"item":"x"}"#);
    }
}

#[test]
fn content_handling_converts_binary_and_text() {
    for driver in DRIVERS {
        let b = echo();
        let gw = Gateway::start(&config(b.addr, b.addr), driver);
        let png: &[u8] = b"\x89PNG\r\n\x1a\n\x00\xff";

        // A binary body passes as it came.
        let r = post(&gw, "/prod/upload", "image/png", png, "Accept: image/png\r\n");
        assert_eq!(r.status, 200, "{driver:?}: {}", r.text());
        assert_eq!(b.last().body, png);
        assert_eq!(r.body, png, "binary back to a client that accepts it");
        // convert_to_text: base64, and the template sees it.
        let r = post(&gw, "/prod/upload/text", "image/png", png, "Accept: application/json\r\n");
        assert_eq!(r.status, 200);
        assert_eq!(String::from_utf8_lossy(&b.last().body), r#"{"png": "iVBORw0KGgoA/w=="}"#);
        // convert_to_binary: base64 text is decoded; text that is not base64 is refused.
        let r = post(&gw, "/prod/upload/binary", "text/plain", b"aGk=", "");
        assert_eq!(r.status, 200);
        assert_eq!(b.last().body, b"hi");
        let r = post(&gw, "/prod/upload/binary", "text/plain", b"not base64!", "");
        assert_eq!(r.status, 400, "{}", r.text());

        // Responses: binary to a client that accepts text is base64; to one that accepts the
        // binary type, bytes; convert_to_text always base64.
        assert_eq!(get(&gw, "/prod/image", "Accept: application/json\r\n").text(), "iVBOR/8=");
        assert_eq!(get(&gw, "/prod/image", "Accept: image/png\r\n").body, b"\x89PNG\xff");
        assert_eq!(get(&gw, "/prod/image/text", "Accept: image/png\r\n").text(), "iVBOR/8=");
        // Base64 text to a client whose first Accept type is binary: decoded.
        assert_eq!(get(&gw, "/prod/encoded", "Accept: image/png, text/plain\r\n").body, b"\x89PNG\xff");
        assert_eq!(get(&gw, "/prod/encoded", "Accept: text/plain\r\n").text(), "iVBOR/8=");
    }
}

#[test]
fn a_status_without_a_method_response_is_aws_500() {
    let b = echo();
    let gw = Gateway::start(&config(b.addr, b.addr), Driver::Legacy);
    let r = get(&gw, "/prod/declared", "");
    assert_eq!((r.status, r.text().as_str()), (200, " ok"));
    let r = get(&gw, "/prod/declared?to=201", "");
    assert_eq!((r.status, r.text().as_str()), (500, r#"{"message":"Internal server error"}"#));
    assert_eq!(r.header("x-amzn-errortype"), Some("InternalServerErrorException"));

    // An integration response for an undeclared status is refused at check.
    let bad = config(b.addr, b.addr).replace("method_responses = [200]", "method_responses = [201]");
    let (ok, out) = check(&bad);
    assert!(!ok && out.contains("status 200 is not one of the method responses [201]"), "{out}");
    let bad = config(b.addr, b.addr).replace("content_handling = \"convert_to_text\"", "content_handling = \"text\"");
    let (ok, out) = check(&bad);
    assert!(!ok && out.contains("unknown content handling `text`"), "{out}");
}
