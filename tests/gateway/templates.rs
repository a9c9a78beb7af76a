//! Non-proxy HTTP integrations over real sockets (both I/O drivers): the seed's request
//! template rendered byte for byte into what the backend receives, passthrough behaviours
//! (`when_no_match`, `when_no_templates`, `never` → 415), integration responses chosen by a
//! selection pattern on the backend's status (and AWS's 500 when none matches), response
//! templates chosen by `Accept`, response headers from the backend's, `$context` overrides;
//! `check` pointing at a template's own line and column inside the TOML file.

use crate::support::*;

const SEED: &str = r#"#set($inputRoot = $input.path('$'))
{
"customer_name": "$inputRoot.name",
"customer_email": "$inputRoot.email",
"request_id": "$context.requestId"
}"#;

fn config(upstream: std::net::SocketAddr) -> String {
    format!(
        r#"
[server]
listen = ["127.0.0.1:{{port}}"]
workers = 1

[[api]]
name = "shop"
protocol = "rest"
hosts = ["shop.test"]
[[api.stage]]
name = "prod"
variables = {{ table = "orders" }}

[[api.route]]
key = "POST /customers/{{id}}"
[api.route.integration]
type = "http"
uri = "http://{upstream}/backend/customers/{{id}}?v=1"
method = "PUT"
passthrough = "when_no_templates"
request_parameters = {{ "integration.request.header.x-source" = "'portico'", "integration.request.querystring.trace" = "method.request.header.x-trace" }}
[api.route.integration.request_templates]
"application/json" = '''
{SEED}'''
[[api.route.integration.responses]]
status = 201
response_parameters = {{ "method.response.header.x-backend-id" = "integration.response.header.x-id" }}
[api.route.integration.responses.templates]
"application/json" = '''
#set($r = $input.path('$'))
{{"saved": $r.ok, "table": "$stageVariables.table", "id": "$input.params('id')"}}'''
"text/plain" = 'saved $input.path("$.ok")'
[[api.route.integration.responses]]
selection_pattern = "4\\d{{2}}"
status = 400
[api.route.integration.responses.templates]
"application/json" = '''
#set($e = $input.path('$'))
{{"error": "$util.escapeJavaScript($e.message)", "backend_status": "$input.params('id')"}}'''

[[api.route]]
key = "POST /plain"
integration = {{ type = "http", uri = "http://{upstream}/plain", passthrough = "when_no_match", request_templates = {{ "application/json" = '{{"wrapped": $input.json("$")}}' }} }}

[[api.route]]
key = "POST /strict"
integration = {{ type = "http", uri = "http://{upstream}/strict", passthrough = "never", request_templates = {{ "application/json" = '{{}}' }} }}

[[api.route]]
key = "POST /open"
integration = {{ type = "http", uri = "http://{upstream}/open", passthrough = "when_no_templates" }}

[[api.route]]
key = "GET /loop/default"
integration = {{ type = "http", uri = "http://{upstream}/loop", request_templates = {{ "application/json" = '#foreach($i in [1..1500])x#end' }} }}

[[api.route]]
key = "GET /loop/raised"
integration = {{ type = "http", uri = "http://{upstream}/loop", max_foreach_iterations = 2000, request_templates = {{ "application/json" = '#foreach($i in [1..1500])x#end' }} }}

[[api.route]]
key = "GET /override"
[api.route.integration]
type = "http"
uri = "http://{upstream}/override"
[api.route.integration.request_templates]
"application/json" = '#set($context.requestOverride.header.x-injected = "yes")#set($context.requestOverride.querystring.page = "a b")'
[[api.route.integration.responses]]
status = 200
[api.route.integration.responses.templates]
"application/json" = '#set($context.responseOverride.status = 418)#set($context.responseOverride.header.x-teapot = "short and stout"){{"teapot": true}}'
"#
    )
}

fn post(gw: &Gateway, target: &str, content_type: &str, body: &str, extra: &str) -> Response {
    gw.send(
        format!(
            "POST {target} HTTP/1.1\r\nHost: shop.test\r\nContent-Type: {content_type}\r\nContent-Length: {}\r\n{extra}\r\n{body}",
            body.len()
        )
        .as_bytes(),
    )
}

fn backend() -> Upstream {
    Upstream::start(|seen| {
        let reply = |status: &str, headers: &str, body: &str| {
            Reply::Raw(
                format!("HTTP/1.1 {status}\r\nContent-Length: {}\r\n{headers}\r\n{body}", body.len()).into_bytes(),
            )
        };
        if seen.target.starts_with("/backend/customers/404") {
            return reply(
                "404 Not Found",
                "Content-Type: application/json\r\n",
                r#"{"message":"no such \"customer\""}"#,
            );
        }
        if seen.target.starts_with("/backend/customers/500") {
            return reply("500 Internal Server Error", "", "boom");
        }
        if seen.target.starts_with("/backend") {
            return reply("201 Created", "Content-Type: application/json\r\nX-Id: c-77\r\n", r#"{"ok":true}"#);
        }
        reply("200 OK", "Content-Type: text/plain\r\nX-Upstream: 1\r\n", "upstream says hi")
    })
}

#[test]
fn the_seed_template_reaches_the_backend_byte_for_byte() {
    for driver in DRIVERS {
        let upstream = backend();
        let gw = Gateway::start(&config(upstream.addr), driver);
        let r = post(
            &gw,
            "/prod/customers/42?secret=1",
            "application/json",
            r#"{"name":"Ada","email":"ada@example.com","extra":[1,2]}"#,
            "X-Trace: t-9\r\nCookie: c=1\r\nX-Amzn-RequestId: forged\r\n",
        );
        assert_eq!(r.status, 201, "{driver:?} {}", r.text());
        let seen = upstream.last();
        assert_eq!(seen.method, "PUT");
        // The fixed query and the mapped parameter; the client's query is not forwarded.
        assert_eq!(seen.target, "/backend/customers/42?v=1&trace=t-9");
        let request_id = r.header("x-amzn-requestid").expect("a request id").to_owned();
        assert_ne!(request_id, "forged");
        let expected = format!(
            "{{\n\"customer_name\": \"Ada\",\n\"customer_email\": \"ada@example.com\",\n\"request_id\": \"{request_id}\"\n}}"
        );
        assert_eq!(String::from_utf8_lossy(&seen.body), expected);
        assert_eq!(seen.header("content-type"), Some("application/json"));
        assert_eq!(seen.header("x-source"), Some("portico"));
        // Non-proxy integrations send only what is mapped.
        assert!(!seen.has("cookie") && !seen.has("x-trace"), "{:?}", seen.headers);
        // The default integration response: its status, its header from the backend's, its
        // template (with the stage variables and the method request's path parameter).
        assert_eq!(r.header("x-backend-id"), Some("c-77"));
        assert_eq!(r.header("content-type"), Some("application/json"));
        assert_eq!(r.text(), r#"{"saved": true, "table": "orders", "id": "42"}"#);

        // `Accept` picks the response template.
        let r = post(&gw, "/prod/customers/7", "application/json", "{}", "Accept: text/plain\r\n");
        assert_eq!((r.status, r.text().as_str()), (201, "saved true"));
        assert_eq!(r.header("content-type"), Some("text/plain"));
    }
}

#[test]
fn selection_patterns_choose_the_integration_response() {
    for driver in DRIVERS {
        let upstream = backend();
        let gw = Gateway::start(&config(upstream.addr), driver);
        let r = post(&gw, "/prod/customers/404", "application/json", r#"{"name":"x"}"#, "");
        assert_eq!(r.status, 400, "{driver:?}");
        assert_eq!(r.text(), r#"{"error": "no such \"customer\"", "backend_status": "404"}"#);
        // A status no pattern matches goes to the default response; with none, AWS's 500.
        let r = post(&gw, "/prod/customers/500", "application/json", "{}", "");
        assert_eq!(r.status, 201, "the default response takes a 500 the patterns do not match");
        let r = post(&gw, "/prod/override", "application/json", "{}", "");
        assert_eq!(r.status, 403, "POST is not a route here");
    }
}

#[test]
fn passthrough_behaviours() {
    for driver in DRIVERS {
        let upstream = backend();
        let gw = Gateway::start(&config(upstream.addr), driver);
        // when_no_match: a content type without a template goes through as it came.
        let r = post(&gw, "/prod/plain", "text/plain", "just text", "");
        assert_eq!((r.status, r.text().as_str()), (200, "upstream says hi"), "{driver:?}");
        assert_eq!(r.header("content-type"), Some("text/plain"));
        let seen = upstream.last();
        assert_eq!((seen.body.as_slice(), seen.header("content-type")), (&b"just text"[..], Some("text/plain")));
        // A request without Content-Type is application/json, and gets the template.
        let r = gw.send(b"POST /prod/plain HTTP/1.1\r\nHost: shop.test\r\nContent-Length: 7\r\n\r\n[1,2,3]");
        assert_eq!(r.status, 200);
        assert_eq!(String::from_utf8_lossy(&upstream.last().body), r#"{"wrapped": [1,2,3]}"#);
        // never: 415 for anything without a template.
        let r = post(&gw, "/prod/strict", "text/plain", "x", "");
        assert_eq!((r.status, r.text().as_str()), (415, r#"{"message":"Unsupported Media Type"}"#));
        let before = upstream.seen().len();
        // when_no_templates with templates: 415; without any: through.
        let r = post(&gw, "/prod/customers/1", "text/xml", "<a/>", "");
        assert_eq!(r.status, 415);
        assert_eq!(upstream.seen().len(), before, "a refused request never reaches the backend");
        let r = post(&gw, "/prod/open", "text/xml", "<a/>", "");
        assert_eq!(r.status, 200);
        assert_eq!(upstream.last().body, b"<a/>");
    }
}

#[test]
fn foreach_stops_at_aws_limit_unless_raised() {
    let upstream = backend();
    let gw = Gateway::start(&config(upstream.addr), Driver::Uring);
    let r = gw.send(b"GET /prod/loop/default HTTP/1.1\r\nHost: shop.test\r\n\r\n");
    assert_eq!(r.status, 200);
    assert_eq!(upstream.last().body.len(), 1000, "AWS's 1,000 iterations");
    let r = gw.send(b"GET /prod/loop/raised HTTP/1.1\r\nHost: shop.test\r\n\r\n");
    assert_eq!(r.status, 200);
    assert_eq!(upstream.last().body.len(), 1500, "max_foreach_iterations = 2000 lets all 1,500 run");
}

#[test]
fn templates_override_the_request_and_the_response() {
    for driver in DRIVERS {
        let upstream = backend();
        let gw = Gateway::start(&config(upstream.addr), driver);
        let r = gw.send(b"GET /prod/override HTTP/1.1\r\nHost: shop.test\r\n\r\n");
        assert_eq!(r.status, 418, "{driver:?} {}", r.text());
        assert_eq!(r.header("x-teapot"), Some("short and stout"));
        assert_eq!(r.text(), r#"{"teapot": true}"#);
        let seen = upstream.last();
        assert_eq!(seen.target, "/override?page=a%20b");
        assert_eq!(seen.header("x-injected"), Some("yes"));
    }
}

#[test]
fn check_points_at_the_template_line_and_column() {
    let config = r#"
[server]
listen = ["127.0.0.1:8080"]

[[api]]
name = "shop"
protocol = "rest"
[[api.stage]]
name = "prod"
[[api.route]]
key = "POST /orders"
[api.route.integration]
type = "http"
uri = "http://127.0.0.1:9/orders"
[api.route.integration.request_templates]
"application/json" = '''
#set($a = 1)
#if($a == 1)
  ok
'''
"#;
    let (ok, out) = check(config);
    assert!(!ok, "{out}");
    // The template starts on line 17; its `#if` is never closed, which Velocity reports at the
    // end of the template: line 20.
    assert!(out.contains(":20:") && out.contains("#end"), "{out}");

    // `#set($b = )`: the value is missing where the `)` stands, line 18, column 11.
    let bad_expr = config.replace("#if($a == 1)\n  ok\n", "#set($b = )\n");
    let (ok, out) = check(&bad_expr);
    assert!(!ok && out.contains(":18:11"), "{out}");

    let http_api = config.replace("protocol = \"rest\"\n", "").replace("#if($a == 1)\n  ok\n", "");
    let (ok, out) = check(&http_api);
    assert!(!ok && out.contains("HTTP APIs have no non-proxy integrations"), "{out}");

    let bad_pattern = format!(
        "{}\n[[api.route.integration.responses]]\nselection_pattern = \"4(\"\n",
        config.replace("#if($a == 1)\n  ok\n", "")
    );
    let (ok, out) = check(&bad_pattern);
    assert!(!ok && out.contains("not a regular expression"), "{out}");
}

/// configs/templates.toml works as its comment says: the seed's template from a file, a mock
/// route of the same gateway as the backend.
#[test]
fn the_example_config_works() {
    let root = env!("CARGO_MANIFEST_DIR");
    // The listener and the backend address both become the test's port.
    let config = std::fs::read_to_string(format!("{root}/configs/templates.toml"))
        .unwrap()
        .replace("127.0.0.1:8080", "127.0.0.1:{port}")
        .replace("\"templates/customer.vm\"", &format!("\"{root}/configs/templates/customer.vm\""));
    let gw = Gateway::start(&config, Driver::Uring);
    let body = r#"{"name":"Ada","email":"ada@example.com"}"#;
    let r = gw.send(
        format!(
            "POST /prod/customers/42 HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
            body.len()
        )
        .as_bytes(),
    );
    // The mock answers 200, which only the default integration response takes.
    assert_eq!((r.status, r.text().as_str()), (201, r#"{"saved": true, "customer": "42", "stage": "prod"}"#));
    assert_eq!(r.header("x-backend"), Some("mock"));
}
