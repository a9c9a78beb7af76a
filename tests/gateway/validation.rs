//! Request validation (REST) over real sockets: the seed's signup schema (required, minLength,
//! maxLength, `format: email`, an integer with minimum and maximum) from a model file, required
//! query strings and headers, models chosen by content type; AWS's 400 bodies, the reason in
//! `$context.error.validationErrorString`, and the upstream never called for an invalid request.

use crate::support::*;

const SIGNUP: &str = r#"{
  "$schema": "http://json-schema.org/draft-04/schema#",
  "title": "Signup",
  "type": "object",
  "required": ["name", "email"],
  "properties": {
    "name": {"type": "string", "minLength": 1, "maxLength": 40},
    "email": {"type": "string", "format": "email"},
    "age": {"type": "integer", "minimum": 13, "maximum": 120}
  }
}"#;

fn config(upstream: std::net::SocketAddr) -> String {
    format!(
        r#"
[server]
listen = ["127.0.0.1:{{port}}"]
workers = 1

[[api]]
name = "accounts"
protocol = "rest"

[[api.model]]
name = "Signup"
schema_file = "models/signup.json"

[[api.model]]
name = "Note"
schema = '{{"type":"object","required":["text"],"properties":{{"text":{{"type":"string"}}}}}}'

[[api.gateway_response]]
type = "BAD_REQUEST_BODY"
templates = {{ "application/json" = '{{"message":$context.error.messageString,"why":"$context.error.validationErrorString"}}' }}

[[api.stage]]
name = "prod"
access_log = {{ destination = "access.log", format = "$context.status $context.error.responseType $context.error.validationErrorString" }}

[[api.route]]
key = "POST /signup"
request_model = "Signup"
integration = {{ type = "http_proxy", uri = "http://{upstream}/signup" }}

[[api.route]]
key = "GET /search"
required_parameters = ["method.request.querystring.q", "method.request.header.x-client"]
integration = {{ type = "http_proxy", uri = "http://{upstream}/search" }}

[[api.route]]
key = "POST /notes"
request_validator = "body"
request_models = {{ "application/json" = "Note", "application/x-signup" = "Signup" }}
integration = {{ type = "http_proxy", uri = "http://{upstream}/notes" }}
"#
    )
}

fn post(gw: &Gateway, path: &str, content_type: &str, body: &str) -> Response {
    let ct = if content_type.is_empty() { String::new() } else { format!("Content-Type: {content_type}\r\n") };
    gw.send(
        format!("POST {path} HTTP/1.1\r\nHost: localhost\r\n{ct}Content-Length: {}\r\n\r\n{body}", body.len())
            .as_bytes(),
    )
}

#[test]
fn invalid_requests_never_reach_the_integration() {
    for driver in DRIVERS {
        let upstream = Upstream::start(|_| ok_json(r#"{"created":true}"#));
        let dir = temp_path("validation");
        std::fs::create_dir_all(dir.join("models")).unwrap();
        std::fs::write(dir.join("models/signup.json"), SIGNUP).unwrap();
        let gw = Gateway::start_in(&dir, &config(upstream.addr), driver, &[]);

        let good = r#"{"name":"Ada","email":"ada@example.com","age":36}"#;
        let r = post(&gw, "/prod/signup", "application/json", good);
        assert_eq!((r.status, r.text().as_str()), (200, r#"{"created":true}"#), "{driver:?}");
        assert_eq!(upstream.seen().len(), 1);
        assert_eq!(upstream.last().body, good.as_bytes());

        for bad in [
            r#"{"email":"ada@example.com"}"#,
            r#"{"name":"","email":"ada@example.com"}"#,
            r#"{"name":"Ada","email":"not-an-email"}"#,
            r#"{"name":"Ada","email":"ada@example.com","age":12}"#,
            r#"{"name":"Ada","email":"ada@example.com","age":121}"#,
            r#"{"name":"Ada","email":"ada@example.com","age":"36"}"#,
            r#"{"name":"This name is far longer than forty characters","email":"a@example.com"}"#,
            "{not json",
            "",
        ] {
            let r = post(&gw, "/prod/signup", "application/json", bad);
            assert_eq!(r.status, 400, "{bad}");
            assert_eq!(r.header("x-amzn-ErrorType"), Some("BadRequestException"));
            let body: serde_json::Value = serde_json::from_slice(&r.body).unwrap();
            assert_eq!(body["message"], "Invalid request body", "{bad}");
            let why = body["why"].as_str().unwrap();
            assert!(why.starts_with('[') && why.len() > 2, "{bad}: {why}");
        }
        // The model applies whatever the content type says (a route with one `request_model`).
        assert_eq!(post(&gw, "/prod/signup", "text/plain", "{}").status, 400);
        assert_eq!(post(&gw, "/prod/signup", "", r#"{"name":"x"}"#).status, 400);
        assert_eq!(upstream.seen().len(), 1, "no invalid request reached the upstream");

        // Required parameters: AWS's message names what is missing; blank counts as missing.
        let search = |target: &str, extra: &str| {
            gw.send(format!("GET {target} HTTP/1.1\r\nHost: localhost\r\n{extra}\r\n").as_bytes())
        };
        let r = search("/prod/search", "");
        assert_eq!(r.status, 400);
        assert_eq!(r.text(), r#"{"message":"Missing required request parameters: [q, x-client]"}"#);
        let r = search("/prod/search?q=", "X-Client: app\r\n");
        assert_eq!(r.text(), r#"{"message":"Missing required request parameters: [q]"}"#);
        let r = search("/prod/search?q=cats", "X-Client:  \r\n");
        assert_eq!(r.text(), r#"{"message":"Missing required request parameters: [x-client]"}"#);
        assert_eq!(upstream.seen().len(), 1);
        let r = search("/prod/search?q=cats", "X-Client: app\r\n");
        assert_eq!(r.status, 200);
        assert_eq!(upstream.seen().len(), 2);

        // Models by content type: each type its own; an unlisted type is not validated (AWS).
        assert_eq!(post(&gw, "/prod/notes", "application/json", r#"{"text":"hi"}"#).status, 200);
        assert_eq!(post(&gw, "/prod/notes", "application/json; charset=utf-8", r#"{"txt":"hi"}"#).status, 400);
        assert_eq!(post(&gw, "/prod/notes", "application/x-signup", r#"{"text":"hi"}"#).status, 400);
        assert_eq!(post(&gw, "/prod/notes", "application/x-signup", good).status, 200);
        assert_eq!(post(&gw, "/prod/notes", "text/plain", "anything").status, 200);
        assert_eq!(upstream.seen().len(), 5);

        // Every request above is a line (1 + 9 + 2 + 4 + 5).
        let log = eventually(std::time::Duration::from_secs(5), || {
            std::fs::read_to_string(dir.join("access.log")).ok().filter(|t| t.lines().count() >= 21)
        })
        .expect("access log lines");
        assert!(log.lines().any(|l| l.starts_with("400 BAD_REQUEST_BODY [")), "{log}");
        assert!(
            log.lines().any(|l| l == "400 BAD_REQUEST_PARAMETERS Missing required request parameters: [q, x-client]"),
            "{log}"
        );
        assert!(log.lines().any(|l| l == "200 - -"), "{log}");
    }
}

#[test]
fn check_reports_bad_models_and_validators() {
    let base = |api: &str, extra: &str, route: &str| {
        format!(
            "[server]\nlisten = [\"127.0.0.1:0\"]\n[[api]]\nname = \"a\"\nprotocol = \"{api}\"\n{extra}\n[[api.stage]]\nname = \"prod\"\n[[api.route]]\nkey = \"POST /x/{{id}}\"\nintegration = {{ type = \"mock\" }}\n{route}\n"
        )
    };
    let model = "[[api.model]]\nname = \"M\"\nschema = '{\"type\":\"object\"}'";
    let (ok, err) = check(&base("rest", model, "request_model = \"M\""));
    assert!(ok, "{err}");
    for (api, extra, route, expected) in [
        (
            "rest",
            "[[api.model]]\nname = \"M\"\nschema = '{\"type\":\"strin\"}'",
            "",
            "model `M` is not a valid JSON Schema",
        ),
        ("rest", "[[api.model]]\nname = \"M\"\nschema = '''{\n\"type\": }'''", "", "not JSON (line 2"),
        ("rest", "[[api.model]]\nname = \"M\"\nschema_file = \"nope.json\"", "", "cannot read"),
        ("rest", "[[api.model]]\nname = \"my-model\"\nschema = '{}'", "", "alphanumeric"),
        ("rest", model, "request_model = \"N\"", "this API has no model `N`"),
        ("rest", model, "request_model = \"m\"", "did you mean `M`"),
        ("rest", model, "request_validator = \"everything\"", "unknown request_validator"),
        ("rest", model, "required_parameters = [\"method.request.body.x\"]", "not a request parameter"),
        ("rest", model, "required_parameters = [\"method.request.path.name\"]", "no path parameter `name`"),
        ("http", "", "request_model = \"M\"", "HTTP APIs have no request validation"),
        ("http", model, "", "HTTP APIs have no models"),
    ] {
        let (ok, err) = check(&base(api, extra, route));
        assert!(!ok && err.contains(expected), "{extra} {route}: {err}");
    }
}
