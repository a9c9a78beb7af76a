//! `$connect` authorization over real sockets, as AWS does it for WebSocket APIs: a function
//! (REQUEST) authorizer gets AWS's WebSocket authorizer event and its answer decides the upgrade
//! (a refusal is the client's 401 or 403, and no connection); its principal and context reach every
//! later event; `AWS_IAM` takes a URL presigned by botocore; `api_key_required` takes an API key
//! of a usage plan.

use std::collections::BTreeSet;
use std::process::Command;
use std::sync::{Arc, Mutex};

use serde_json::{Value, json};

use crate::support::*;
use crate::websocket::{KEY, SECRET, client, url};

fn refused(lines: &[Value]) -> Option<u64> {
    lines.first().and_then(|l| l["refused"].as_u64())
}

/// A function that answers a MESSAGE with what its event says of the connection and the caller.
fn who() -> Upstream {
    Upstream::start(|seen| {
        let event: Value = serde_json::from_slice(&seen.body).unwrap_or_default();
        let context = &event["requestContext"];
        let body = json!({"connectionId": context["connectionId"], "authorizer": context["authorizer"]}).to_string();
        function_answer(&json!({"statusCode": 200, "body": body}).to_string(), "")
    })
}

fn config(extra: &str, connect: &str, who: std::net::SocketAddr) -> String {
    format!(
        r#"
[server]
listen = ["127.0.0.1:{{port}}"]
[workers]
count = 2
[[function]]
name = "who"
url = "http://{who}/invoke"
{extra}
[[api]]
name = "chat"
protocol = "websocket"
{{authorizers}}
[[api.stage]]
name = "prod"
variables = {{ tier = "gold" }}
[[api.route]]
key = "$connect"
integration = {{ type = "function", target = "who" }}
{connect}
[[api.route]]
key = "$default"
route_response = true
integration = {{ type = "function", target = "who" }}
"#
    )
}

/// The keys of an object, as a set.
fn keys(v: &Value) -> BTreeSet<String> {
    v.as_object().map(|o| o.keys().cloned().collect()).unwrap_or_default()
}

#[test]
fn a_function_authorizer_decides_the_upgrade_and_its_context_reaches_every_event() {
    let seen: Arc<Mutex<Vec<Value>>> = Arc::default();
    let events = seen.clone();
    let authorizer = Upstream::start(move |s| {
        let event: Value = serde_json::from_slice(&s.body).unwrap_or_default();
        events.lock().unwrap().push(event.clone());
        let token = event["queryStringParameters"]["token"].as_str().unwrap_or_default().to_owned();
        let arn = event["methodArn"].as_str().unwrap_or_default().to_owned();
        let policy = |effect: &str| {
            json!({"principalId": format!("user-{token}"),
                   "policyDocument": {"Version": "2012-10-17", "Statement": [
                       {"Action": "execute-api:Invoke", "Effect": effect, "Resource": arn}]},
                   "context": {"tier": "gold", "n": 3}})
        };
        match token.as_str() {
            "deny" => function_answer(&policy("Deny").to_string(), ""),
            "nope" => function_answer(
                r#"{"errorMessage":"Unauthorized","errorType":"Error"}"#,
                "X-Amz-Function-Error: Unhandled\r\n",
            ),
            _ => function_answer(&policy("Allow").to_string(), ""),
        }
    });
    let who = who();
    let extra = format!("[[function]]\nname = \"gate\"\nurl = \"http://{}/invoke\"\n", authorizer.addr);
    let authorizers = r#"[[api.authorizer]]
name = "gate"
type = "function"
function = "gate"
identity_source = ["route.request.querystring.token"]
ttl_s = 0"#;
    let config = config(&extra, "authorizer = \"gate\"", who.addr).replace("{authorizers}", authorizers);
    for driver in DRIVERS {
        seen.lock().unwrap().clear();
        let gw = Gateway::start(&config, driver);
        let lines = client(&url(&gw, "?token=good"), &["--header", "x-client:t", "send:hi", "recv"]);
        assert_eq!(lines.first().and_then(|l| l["open"].as_bool()), Some(true), "{driver:?}: {lines:?}\n{}", gw.log());
        let answer: Value = serde_json::from_str(lines[2]["text"].as_str().unwrap_or("{}")).unwrap();
        assert_eq!(answer["authorizer"], json!({"principalId": "user-good", "tier": "gold", "n": 3}), "{driver:?}");

        // AWS's WebSocket REQUEST authorizer event, for this connection.
        let event = seen.lock().unwrap()[0].clone();
        assert_eq!(event["type"], "REQUEST");
        assert!(event["methodArn"].as_str().is_some_and(|a| a.ends_with(":chat/prod/$connect")), "{event}");
        assert_eq!(event["requestContext"]["connectionId"], answer["connectionId"], "the connection it opens");
        assert_eq!(
            (event["requestContext"]["eventType"].as_str(), event["requestContext"]["routeKey"].as_str()),
            (Some("CONNECT"), Some("$connect"))
        );
        assert_eq!(event["headers"]["x-client"], "t");
        assert_eq!(event["stageVariables"]["tier"], "gold");
        let fixture = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../shared/fixtures/lambda/aws-lambda-rust-runtime__example-apigw-v2-custom-authorizer-websocket-request.json");
        let recorded: Value = serde_json::from_str(&std::fs::read_to_string(&fixture).unwrap()).unwrap();
        // The fixture's own additions (the Rust runtime's invocation context) are not AWS's event.
        let runtime = [
            "version",
            "context",
            "deadline",
            "invoked_function_arn",
            "xray_trace_id",
            "client_context",
            "identity",
            "env_config",
            "memory",
            "log_stream",
            "log_group",
        ];
        let expected: BTreeSet<String> =
            keys(&recorded).into_iter().filter(|k| !runtime.contains(&k.as_str())).collect();
        assert_eq!(keys(&event), expected, "{event}");
        assert_eq!(keys(&event["requestContext"]), keys(&recorded["requestContext"]), "{event}");

        let denied = client(&url(&gw, "?token=deny"), &["send:hi"]);
        assert_eq!(refused(&denied), Some(403), "{driver:?}: {denied:?}");
        let unauthorized = client(&url(&gw, "?token=nope"), &["send:hi"]);
        assert_eq!(refused(&unauthorized), Some(401), "{driver:?}: {unauthorized:?}");
        let missing = client(&url(&gw, ""), &["send:hi"]);
        assert_eq!(refused(&missing), Some(401), "{driver:?}: {missing:?}");
        assert_eq!(seen.lock().unwrap().len(), 3, "no identity, no call");
        // Neither refused connection reached `$connect`'s integration.
        let connects = who.seen().iter().filter(|s| String::from_utf8_lossy(&s.body).contains("\"CONNECT\"")).count();
        assert_eq!(connects, if driver == Driver::Uring { 1 } else { 2 });
    }
}

#[test]
fn aws_iam_connect_takes_a_presigned_url() {
    let who = who();
    let extra = format!(
        "[[iam_credential]]\naccess_key_id = \"{KEY}\"\nsecret_access_key_env = \"PORTICO_TEST_WS_SECRET\"\nprincipal_arn = \"arn:aws:iam::123456789012:user/ws\"\n"
    );
    let config = config(&extra, "authorization = \"AWS_IAM\"", who.addr).replace("{authorizers}", "");
    let dir = temp_path("ws-iam");
    std::fs::create_dir_all(&dir).unwrap();
    let gw = Gateway::start_in(&dir, &config, Driver::Uring, &[("PORTICO_TEST_WS_SECRET", SECRET.to_owned())]);
    let presign = |secret: &str| {
        let script = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/ws_presign.py");
        let out = Command::new("python3")
            .arg(script)
            .arg(format!("http://127.0.0.1:{}/prod", gw.port))
            .env("AWS_ACCESS_KEY_ID", KEY)
            .env("AWS_SECRET_ACCESS_KEY", secret)
            .output()
            .expect("python3 runs (pip install botocore)");
        String::from_utf8_lossy(&out.stdout).trim().to_owned()
    };
    let signed = presign(SECRET);
    assert!(signed.contains("X-Amz-Signature="), "{signed}");
    let lines = client(&signed, &["send:hi", "recv"]);
    assert_eq!(lines.first().and_then(|l| l["open"].as_bool()), Some(true), "{lines:?}\n{}", gw.log());
    assert_eq!(refused(&client(&url(&gw, ""), &[])), Some(403), "unsigned");
    assert_eq!(refused(&client(&presign("not-the-secret"), &[])), Some(403), "signed with another secret");
    let tampered = signed.replacen("X-Amz-Expires=", "extra=1&X-Amz-Expires=", 1);
    assert_eq!(refused(&client(&tampered, &[])), Some(403), "a parameter added after signing");
}

#[test]
fn api_key_required_on_connect_takes_a_plans_key() {
    let who = who();
    let extra = r#"[[api_key]]
name = "partner"
value = "partner-key-0123456789abcdef"
[[usage_plan]]
name = "partners"
api_stages = [{ api = "chat", stage = "prod" }]
keys = ["partner"]
"#;
    let config = config(extra, "api_key_required = true", who.addr).replace("{authorizers}", "");
    let gw = Gateway::start(&config, Driver::Legacy);
    let lines = client(&url(&gw, ""), &["--header", "x-api-key:partner-key-0123456789abcdef", "send:hi", "recv"]);
    assert_eq!(lines.first().and_then(|l| l["open"].as_bool()), Some(true), "{lines:?}\n{}", gw.log());
    let missing = client(&url(&gw, ""), &[]);
    assert_eq!(refused(&missing), Some(403), "{missing:?}");
    assert!(missing[0]["body"].as_str().is_some_and(|b| b.contains("Forbidden")), "{missing:?}");
    let wrong = client(&url(&gw, ""), &["--header", "x-api-key:not-a-key-0123456789abcdef"]);
    assert_eq!(refused(&wrong), Some(403), "{wrong:?}");
}

#[test]
fn check_keeps_authorization_on_connect_and_function_authorizers() {
    let base = |authorizers: &str, routes: &str| {
        format!(
            "[server]\nlisten = [\"127.0.0.1:1\"]\n[[function]]\nname = \"f\"\nurl = \"http://127.0.0.1:9/i\"\n[[api]]\nname = \"c\"\nprotocol = \"websocket\"\n{authorizers}\n[[api.stage]]\nname = \"p\"\n{routes}"
        )
    };
    let route = |key: &str, extra: &str| {
        format!("[[api.route]]\nkey = \"{key}\"\nintegration = {{ type = \"function\", target = \"f\" }}\n{extra}\n")
    };
    let (ok, out) = check(&base("", &route("$default", "authorization = \"AWS_IAM\"")));
    assert!(!ok && out.contains("applies to the `$connect` route only"), "{out}");
    let (ok, out) = check(&base("", &route("$default", "api_key_required = true")));
    assert!(!ok && out.contains("applies to the `$connect` route only"), "{out}");
    let jwt = "[[api.authorizer]]\nname = \"j\"\ntype = \"jwt\"\nissuer = \"https://example.com\"\naudience = [\"a\"]";
    let (ok, out) = check(&base(jwt, &route("$connect", "authorizer = \"j\"")));
    assert!(!ok && out.contains("WebSocket APIs take function authorizers"), "{out}");
    let function = "[[api.authorizer]]\nname = \"g\"\ntype = \"function\"\nfunction = \"f\"\nidentity_source = [\"route.request.header.Auth\"]";
    let (ok, out) = check(&base(function, &route("$connect", "authorizer = \"g\"")));
    assert!(ok, "{out}");
    let (ok, out) =
        check(&base(&format!("{function}\npayload_format = \"2.0\""), &route("$connect", "authorizer = \"g\"")));
    assert!(!ok && out.contains("has no `payload_format`"), "{out}");
}
