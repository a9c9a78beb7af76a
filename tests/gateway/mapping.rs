//! Parameter mapping over real sockets: HTTP APIs' `request_parameters` (append, overwrite and
//! remove of headers and query parameters, `overwrite:path`) from each source — request header,
//! query and path parameters, `$context`, stage variables, literals and `${...}` inside them —
//! and `response_parameters` by integration status (headers from the response, the status);
//! REST APIs' `integration.request.*` and `method.response.header.*` forms; values that would
//! split a header or climb out of a path refused; `check` refusing what cannot work.

use crate::support::*;

fn config(upstream: std::net::SocketAddr) -> String {
    format!(
        r#"
[server]
listen = ["127.0.0.1:{{port}}"]
workers = 1

[[api]]
name = "modern"
hosts = ["http.test"]
[[api.stage]]
name = "prod"
variables = {{ color = "blue" }}
[[api.route]]
key = "GET /items/{{id}}"
[api.route.integration]
type = "http_proxy"
uri = "http://{upstream}/items/{{id}}?fixed=1"
request_parameters = {{ "append:header.x-from" = "gateway", "overwrite:header.x-user" = "$request.header.x-name", "remove:header.cookie" = "", "overwrite:querystring.page" = "$request.querystring.p", "append:querystring.tag" = "${{stageVariables.color}}", "remove:querystring.secret" = "", "overwrite:header.x-item" = "$request.path.id", "overwrite:header.x-req" = "$context.requestId", "overwrite:header.x-combo" = "id-${{request.path.id}}-${{context.stage}}", "overwrite:header.x-q" = "$request.querystring.q" }}
response_parameters = {{ "200" = {{ "overwrite:header.x-cache" = "$response.header.x-upstream-cache", "remove:header.server" = "", "append:header.x-route" = "$context.routeKey" }}, "404" = {{ "overwrite:statuscode" = "410" }}, "204" = {{ "overwrite:statuscode" = "200" }} }}
[[api.route]]
key = "GET /v1/{{proxy+}}"
integration = {{ type = "http_proxy", uri = "http://{upstream}/unused", request_parameters = {{ "overwrite:path" = "/v2/${{request.path.proxy}}" }} }}
[[api.route]]
key = "GET /files"
integration = {{ type = "http_proxy", uri = "http://{upstream}/files", request_parameters = {{ "overwrite:path" = "/files/${{request.header.x-name}}" }} }}

[[api]]
name = "classic"
protocol = "rest"
hosts = ["rest.test"]
[[api.stage]]
name = "prod"
variables = {{ color = "green" }}
[[api.route]]
key = "GET /things"
[api.route.integration]
type = "http_proxy"
uri = "http://{upstream}/things"
request_parameters = {{ "integration.request.header.x-user" = "method.request.header.x-name", "integration.request.header.x-static" = "'v 1'", "integration.request.querystring.q" = "method.request.querystring.term", "integration.request.header.x-stage" = "stageVariables.color", "integration.request.header.x-id" = "context.requestId" }}
response_parameters = {{ "method.response.header.x-etag" = "integration.response.header.etag", "method.response.header.x-fixed" = "'yes'" }}
"#
    )
}

fn get(gw: &Gateway, host: &str, target: &str, extra: &str) -> Response {
    gw.send(format!("GET {target} HTTP/1.1\r\nHost: {host}\r\n{extra}\r\n").as_bytes())
}

#[test]
fn requests_and_responses_are_mapped() {
    for driver in DRIVERS {
        let upstream = Upstream::start(|seen| {
            if seen.target.contains("empty") {
                return Reply::Raw(b"HTTP/1.1 204 No Content\r\nServer: up/1\r\n\r\n".to_vec());
            }
            let status = if seen.target.contains("missing") { "404 Not Found" } else { "200 OK" };
            Reply::Raw(format!("HTTP/1.1 {status}\r\nContent-Length: 2\r\nServer: up/1\r\nx-upstream-cache: HIT\r\nETag: \"e1\"\r\n\r\nok").into_bytes())
        });
        let gw = Gateway::start(&config(upstream.addr), driver);

        let r = get(
            &gw,
            "http.test",
            "/prod/items/42?p=3&page=9&secret=s&keep=k&q=a%20b",
            "x-name: ada\r\nX-User: forged\r\nCookie: c=1\r\nx-from: client\r\n",
        );
        assert_eq!(r.status, 200, "{driver:?}");
        let seen = upstream.last();
        assert_eq!(seen.target, "/items/42?fixed=1&p=3&keep=k&q=a%20b&page=3&tag=blue");
        assert_eq!(seen.header("x-user"), Some("ada"));
        assert_eq!(seen.headers.iter().filter(|(n, _)| n.eq_ignore_ascii_case("x-user")).count(), 1);
        assert!(!seen.has("cookie"));
        let from: Vec<&str> =
            seen.headers.iter().filter(|(n, _)| n.eq_ignore_ascii_case("x-from")).map(|(_, v)| v.as_str()).collect();
        assert_eq!(from, ["client", "gateway"], "append keeps the client's");
        assert_eq!(seen.header("x-item"), Some("42"));
        assert_eq!(seen.header("x-combo"), Some("id-42-prod"));
        assert_eq!(seen.header("x-q"), Some("a b"), "decoded in a header");
        assert_eq!(seen.header("x-req"), r.header("apigw-requestid"));
        // The response: a header from the integration's, its `Server` removed, a context value.
        assert_eq!(r.header("x-cache"), Some("HIT"));
        assert_eq!(r.header("server"), None);
        assert_eq!(r.header("x-route"), Some("GET /items/{id}"));
        // Another status, another mapping: 404 becomes 410.
        let r = get(&gw, "http.test", "/prod/items/missing", "");
        assert_eq!(r.status, 410);
        assert_eq!(r.header("server"), Some("up/1"), "the 200 mappings do not apply");
        // A bodyless 204 mapped to 200 gets an empty, framed body (the connection stays usable).
        let mut c = gw.connect();
        c.send(b"GET /prod/items/empty HTTP/1.1\r\nHost: http.test\r\n\r\nGET /prod/items/1 HTTP/1.1\r\nHost: http.test\r\n\r\n");
        let first = c.read_response().expect("the mapped 204");
        assert_eq!((first.status, first.header("content-length")), (200, Some("0")));
        assert_eq!(c.read_response().expect("the next response on the connection").status, 200);

        // A value that would split the head is left out; a source the request lacks too.
        let r = get(&gw, "http.test", "/prod/items/1?q=a%0d%0aX-Injected:%201", "");
        assert_eq!(r.status, 200);
        let seen = upstream.last();
        assert!(!seen.has("x-q") && !seen.has("x-injected") && !seen.has("x-user"), "{:?}", seen.headers);

        // The path, rewritten; a mapped value cannot climb out of it.
        assert_eq!(get(&gw, "http.test", "/prod/v1/a/b%20c", "").status, 200);
        assert_eq!(upstream.last().target, "/v2/a/b%20c");
        assert_eq!(get(&gw, "http.test", "/prod/files", "x-name: report 1\r\n").status, 200);
        assert_eq!(upstream.last().target, "/files/report%201");
        let before = upstream.seen().len();
        assert_eq!(get(&gw, "http.test", "/prod/files", "x-name: ..\r\n").status, 400);
        assert_eq!(upstream.seen().len(), before, "never forwarded");
        // An encoded one is text, and stays text: its `%` is encoded in turn.
        assert_eq!(get(&gw, "http.test", "/prod/files", "x-name: %2e%2E\r\n").status, 200);
        assert_eq!(upstream.last().target, "/files/%252e%252E");

        // REST spellings.
        let r = get(&gw, "rest.test", "/prod/things?term=cats", "x-name: bob\r\n");
        assert_eq!(r.status, 200);
        let seen = upstream.last();
        assert_eq!(seen.target, "/things?term=cats&q=cats");
        assert_eq!(seen.header("x-user"), Some("bob"));
        assert_eq!(seen.header("x-static"), Some("v 1"));
        assert_eq!(seen.header("x-stage"), Some("green"));
        assert_eq!(seen.header("x-id"), r.header("x-amzn-RequestId"));
        assert_eq!(r.header("x-etag"), Some("\"e1\""));
        assert_eq!(r.header("x-fixed"), Some("yes"));
    }
}

#[test]
fn check_refuses_mappings_that_cannot_work() {
    let base = |protocol: &str, key: &str, integration: &str| {
        format!(
            "[server]\nlisten = [\"127.0.0.1:0\"]\n[[api]]\nname = \"a\"\nprotocol = \"{protocol}\"\n[[api.stage]]\nname = \"prod\"\n[[api.route]]\nkey = \"{key}\"\nintegration = {{ type = \"http_proxy\", uri = \"http://127.0.0.1:9/x\", {integration} }}\n"
        )
    };
    let (ok, err) =
        check(&base("http", "GET /x/{id}", "request_parameters = { \"overwrite:path\" = \"/y/${request.path.id}\" }"));
    assert!(ok, "{err}");
    for (protocol, key, integration, expected) in [
        (
            "http",
            "GET /x",
            "request_parameters = { \"overwrite:header.authorization\" = \"x\" }",
            "`authorization` cannot be set",
        ),
        ("http", "GET /x", "request_parameters = { \"overwrite:header.x-amz-date\" = \"x\" }", "cannot be set"),
        (
            "rest",
            "GET /x",
            "request_parameters = { \"integration.request.header.content-length\" = \"'1'\" }",
            "cannot be set",
        ),
        ("http", "GET /x", "request_parameters = { \"append:path\" = \"/y\" }", "can only be overwritten"),
        ("http", "GET /x", "request_parameters = { \"overwrite:path\" = \"y\" }", "starts with `/`"),
        ("http", "GET /x", "request_parameters = { \"overwrite:path\" = \"/a b\" }", "cannot hold spaces"),
        (
            "http",
            "GET /x",
            "request_parameters = { \"overwrite:header.x\" = \"${stageVariables.nope}\" }",
            "has no variable `nope`",
        ),
        (
            "http",
            "GET /x",
            "request_parameters = { \"overwrite:header.x\" = \"$request.path.id\" }",
            "no path parameter `id`",
        ),
        (
            "http",
            "GET /x",
            "request_parameters = { \"overwrite:header.x\" = \"$response.header.y\" }",
            "no response to read",
        ),
        (
            "http",
            "GET /x",
            "response_parameters = { \"200\" = { \"overwrite:statuscode\" = \"abc\" } }",
            "takes a status",
        ),
        ("http", "GET /x", "response_parameters = { \"2xx\" = { } }", "not a status code"),
        (
            "http",
            "GET /x",
            "response_parameters = { \"200\" = { \"overwrite:body\" = \"x\" } }",
            "not a response mapping target",
        ),
        (
            "rest",
            "GET /x",
            "request_parameters = { \"integration.request.header.x\" = \"unquoted\" }",
            "not a mapping expression",
        ),
        ("rest", "GET /x", "request_parameters = { \"integration.request.header.x\" = \"'a\\nb'\" }", "CR, LF or NUL"),
    ] {
        let (ok, err) = check(&base(protocol, key, integration));
        assert!(!ok && err.contains(expected), "{integration}: {err}");
    }
}
