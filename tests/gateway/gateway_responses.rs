//! Customised gateway responses (AWS's `GatewayResponse`, REST APIs) over real sockets: a
//! customisation per family (4xx, 5xx, throttled, unauthorized) with its status, header values
//! from literals, stage variables, the request and `$context`, and body templates chosen by
//! `Accept`; unconfigured types falling back to `DEFAULT_4XX` / `DEFAULT_5XX`; a value that would
//! split the head left out; `portico check` refusing what cannot work.

use crate::support::*;

fn config(closed_port: u16) -> String {
    format!(
        r#"
[server]
listen = ["127.0.0.1:{{port}}"]
workers = 1

[[api]]
name = "shop"
protocol = "rest"

[[api.authorizer]]
name = "users"
type = "jwt"
issuer = "http://127.0.0.1:{closed_port}"
audience = ["shop"]
identity_source = "method.request.header.Authorization"

[[api.gateway_response]]
type = "DEFAULT_4XX"
headers = {{ "Access-Control-Allow-Origin" = "'*'", "x-stage" = "stageVariables.color", "x-caller" = "method.request.header.x-caller", "x-item" = "method.request.path.id", "x-q" = "method.request.querystring.q", "x-id" = "context.requestId" }}
templates = {{ "application/json" = '{{"error":$context.error.messageString,"type":"$context.error.responseType","stage":"$context.stage","agent":"$context.identity.userAgent"}}', "text/plain" = "no: $context.error.message" }}

[[api.gateway_response]]
type = "DEFAULT_5XX"
status = 503
headers = {{ "Retry-After" = "'7'" }}
templates = {{ "application/json" = '{{"oops":$context.error.messageString,"type":"$context.error.responseType"}}' }}

[[api.gateway_response]]
type = "THROTTLED"
status = 503
templates = {{ "text/plain" = "slow down ($context.error.responseType)" }}

[[api.gateway_response]]
type = "UNAUTHORIZED"
headers = {{ "WWW-Authenticate" = "'Bearer realm=\"shop\"'" }}

[[api.stage]]
name = "prod"
variables = {{ color = "blue" }}
route_throttle = {{ "GET /ok" = {{ rate = 0.01, burst = 1 }} }}

[[api.route]]
key = "GET /items/{{id}}"
api_key_required = true
integration = {{ type = "mock", body = "item" }}

[[api.route]]
key = "GET /broken"
integration = {{ type = "http_proxy", uri = "http://127.0.0.1:{closed_port}/x" }}

[[api.route]]
key = "GET /private"
authorizer = "users"
integration = {{ type = "mock", body = "secret" }}

[[api.route]]
key = "GET /ok"
integration = {{ type = "mock", body = "fine" }}
"#
    )
}

fn request(gw: &Gateway, path: &str, extra: &str) -> Response {
    gw.send(format!("GET {path} HTTP/1.1\r\nHost: localhost\r\nUser-Agent: t \"q\"\r\n{extra}\r\n").as_bytes())
}

#[test]
fn customised_gateway_responses_per_family() {
    for driver in DRIVERS {
        let closed = free_port();
        let gw = Gateway::start(&config(closed), driver);

        // 4xx: INVALID_API_KEY is not configured, so DEFAULT_4XX applies with the type's status.
        let r = request(&gw, "/prod/items/42?q=a%20b", "x-caller: alice\r\n");
        assert_eq!(r.status, 403, "{driver:?}");
        assert_eq!(r.header("access-control-allow-origin"), Some("*"));
        assert_eq!(r.header("x-stage"), Some("blue"));
        assert_eq!(r.header("x-caller"), Some("alice"));
        assert_eq!(r.header("x-item"), Some("42"));
        assert_eq!(r.header("x-q"), Some("a b"));
        assert_eq!(r.header("x-id"), r.header("x-amzn-RequestId"));
        assert_eq!(r.header("x-amzn-ErrorType"), Some("ForbiddenException"));
        assert_eq!(r.header("content-type"), Some("application/json"));
        let body: serde_json::Value = serde_json::from_slice(&r.body).expect("the template is valid JSON");
        assert_eq!(
            body,
            serde_json::json!({"error": "Forbidden", "type": "INVALID_API_KEY", "stage": "prod", "agent": "t \"q\""})
        );
        // The template a client accepts.
        let r = request(&gw, "/prod/items/42", "Accept: text/plain\r\n");
        assert_eq!((r.status, r.text().as_str()), (403, "no: Forbidden"));
        assert_eq!(r.header("content-type"), Some("text/plain"));
        // A header the request lacks is left out, not sent empty.
        assert_eq!(r.header("x-caller"), None);
        // A value that would split the head is left out.
        let r = request(&gw, "/prod/items/42?q=a%0d%0aX-Injected:%201", "");
        assert_eq!(r.status, 403);
        assert_eq!(r.header("x-q"), None);
        assert_eq!(r.header("x-injected"), None);
        // No route: MISSING_AUTHENTICATION_TOKEN through DEFAULT_4XX.
        let r = request(&gw, "/prod/nowhere", "");
        assert_eq!(r.status, 403);
        assert_eq!(r.header("access-control-allow-origin"), Some("*"));
        assert!(r.text().contains("\"type\":\"MISSING_AUTHENTICATION_TOKEN\""), "{}", r.text());

        // Unauthorized: its own customisation (headers only: AWS's default body).
        let r = request(&gw, "/prod/private", "");
        assert_eq!(r.status, 401);
        assert_eq!(r.header("www-authenticate"), Some("Bearer realm=\"shop\""));
        assert_eq!(r.text(), r#"{"message":"Unauthorized"}"#);
        assert_eq!(r.header("access-control-allow-origin"), None, "a specific type does not inherit DEFAULT_4XX");

        // 5xx: INTEGRATION_FAILURE through DEFAULT_5XX, whose status replaces the type's.
        let r = request(&gw, "/prod/broken", "");
        assert_eq!(r.status, 503);
        assert_eq!(r.header("retry-after"), Some("7"));
        assert_eq!(r.text(), r#"{"oops":"Internal server error","type":"INTEGRATION_FAILURE"}"#);

        // Throttled: the route allows one request per 100 s; the second is refused with the customised status and body.
        let first = request(&gw, "/prod/ok", "");
        let second = request(&gw, "/prod/ok", "");
        assert_eq!(first.status, 200);
        assert_eq!((second.status, second.text().as_str()), (503, "slow down (THROTTLED)"));
        assert_eq!(second.header("content-type"), Some("text/plain"));
    }
}

#[test]
fn check_refuses_gateway_responses_that_cannot_work() {
    let base = |api: &str, extra: &str| {
        format!(
            "[server]\nlisten = [\"127.0.0.1:0\"]\n[[api]]\nname = \"a\"\nprotocol = \"{api}\"\n{extra}\n[[api.stage]]\nname = \"prod\"\n[[api.route]]\nkey = \"GET /x\"\nintegration = {{ type = \"mock\" }}\n"
        )
    };
    let (ok, err) = check(&base("rest", "[[api.gateway_response]]\ntype = \"THROTTLED\"\nstatus = 503"));
    assert!(ok, "{err}");
    for (api, extra, expected) in [
        ("http", "[[api.gateway_response]]\ntype = \"DEFAULT_4XX\"", "HTTP APIs have no gateway responses"),
        ("rest", "[[api.gateway_response]]\ntype = \"THROTTLE\"", "did you mean `THROTTLED`"),
        (
            "rest",
            "[[api.gateway_response]]\ntype = \"DEFAULT_4XX\"\n[[api.gateway_response]]\ntype = \"DEFAULT_4XX\"",
            "customised twice",
        ),
        ("rest", "[[api.gateway_response]]\ntype = \"DEFAULT_4XX\"\nstatus = 700", "status"),
        (
            "rest",
            "[[api.gateway_response]]\ntype = \"DEFAULT_4XX\"\nheaders = { \"Content-Length\" = \"'1'\" }",
            "cannot be set",
        ),
        (
            "rest",
            "[[api.gateway_response]]\ntype = \"DEFAULT_4XX\"\nheaders = { \"x\" = \"method.request.body.a\" }",
            "not a request value",
        ),
        (
            "rest",
            "[[api.gateway_response]]\ntype = \"DEFAULT_4XX\"\nheaders = { \"x\" = \"unquoted\" }",
            "not a mapping expression",
        ),
        (
            "rest",
            "[[api.gateway_response]]\ntype = \"DEFAULT_4XX\"\nheaders = { \"x\" = \"'a\\r\\nb: c'\" }",
            "CR, LF or NUL",
        ),
        (
            "rest",
            "[[api.gateway_response]]\ntype = \"DEFAULT_4XX\"\ntemplates = { \"application/json\" = \"$context.requestid\" }",
            "did you mean `$context.requestId`",
        ),
        (
            "rest",
            "[[api.gateway_response]]\ntype = \"DEFAULT_4XX\"\ntemplates = { \"json\" = \"x\" }",
            "not a content type",
        ),
    ] {
        let (ok, err) = check(&base(api, extra));
        assert!(!ok && err.contains(expected), "{extra}: {err}");
    }
}
