//! Function ("Lambda") authorizers over real sockets: an authorizer function on an HTTP endpoint
//! (a scripted loopback server that reads the event and answers as a handler would), REST TOKEN
//! and REQUEST authorizers and an HTTP API's simple responses; AWS's answers for each outcome;
//! the cache (hits, per-method re-evaluation, expiry, one call for 100 concurrent requests);
//! context values in the function event and the access log; the API key from the authorizer.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde_json::{Value, json};

use crate::support::*;

/// The authorizer function: what it does depends on the token (or `X-User`), and it counts its
/// calls per token.
fn authorizer(calls: Arc<Mutex<HashMap<String, usize>>>) -> Upstream {
    Upstream::start(move |seen| {
        let event: Value = serde_json::from_slice(&seen.body).unwrap_or(Value::Null);
        let token = event["authorizationToken"]
            .as_str()
            .map(str::to_owned)
            .or_else(|| event["identitySource"][0].as_str().map(str::to_owned))
            .or_else(|| event["headers"]["x-user"].as_str().map(str::to_owned))
            .or_else(|| event["headers"]["X-User"].as_str().map(str::to_owned))
            .unwrap_or_default();
        *calls.lock().unwrap().entry(token.clone()).or_default() += 1;
        let arn = event["methodArn"].as_str().or(event["routeArn"].as_str()).unwrap_or("").to_owned();
        let policy = |effect: &str, resource: &str| {
            json!({"principalId": "user-1",
                   "policyDocument": {"Version": "2012-10-17", "Statement": [
                       {"Action": "execute-api:Invoke", "Effect": effect, "Resource": resource}]},
                   "context": {"tier": "gold", "n": 3, "vip": true}})
        };
        let json_answer = |v: Value| function_answer(&v.to_string(), "");
        match token.trim_start_matches("Bearer ") {
            "allow-get" => json_answer(policy("Allow", "arn:aws:execute-api:*:*:shop/prod/GET/*")),
            "deny" => json_answer(policy("Deny", &arn)),
            "unauthorized" => answer_error(r#"{"errorMessage":"Unauthorized","errorType":"Error"}"#),
            "crash" => answer_error(r#"{"errorMessage":"boom","errorType":"TypeError"}"#),
            "garbage" => function_answer("not json at all", ""),
            "nested-context" => {
                let mut p = policy("Allow", "*");
                p["context"] = json!({"o": {"no": "objects"}});
                json_answer(p)
            }
            "slow" => Reply::After(Duration::from_millis(300), Box::new(json_answer(policy("Allow", "*")))),
            "hang" => Reply::After(Duration::from_secs(20), Box::new(json_answer(policy("Allow", "*")))),
            "keyed" => {
                let mut p = policy("Allow", "*");
                p["usageIdentifierKey"] = json!("partner-key-0123456789");
                json_answer(p)
            }
            "yes" => json_answer(json!({"isAuthorized": true, "context": {"user": "ann", "roles": ["a", "b"]}})),
            "no" => json_answer(json!({"isAuthorized": false})),
            _ => json_answer(policy("Allow", "*")),
        }
    })
}

fn answer_error(payload: &str) -> Reply {
    function_answer(payload, "X-Amz-Function-Error: Unhandled\r\n")
}

fn rest_config(auth: std::net::SocketAddr, backend: std::net::SocketAddr, log: &std::path::Path) -> String {
    format!(
        r#"
[server]
listen = ["127.0.0.1:{{port}}"]
workers = 2

[[function]]
name = "authorize"
url = "http://{auth}/"

[[function]]
name = "backend"
url = "http://{backend}/"

[[api]]
name = "shop"
protocol = "rest"
api_key_source = "AUTHORIZER"

[[api.authorizer]]
name = "tokens"
type = "function"
function = "authorize"
identity_validation_expression = "^Bearer [a-z-]+$"
timeout_ms = 1000

[[api.authorizer]]
name = "users"
type = "function"
function = "authorize"
event = "request"
identity_source = ["method.request.header.X-User", "method.request.querystring.tenant"]
ttl_s = 0

[[api.authorizer]]
name = "tenants"
type = "function"
function = "authorize"
event = "request"
identity_source = ["method.request.header.X-User", "method.request.querystring.tenant"]

[[api.stage]]
name = "prod"
auth_debug = true
access_log = {{ destination = "{log}", format = "$context.status $context.authorizer.principalId $context.authorizer.tier $context.authorizer.n" }}

[[api.route]]
key = "GET /pets"
authorizer = "tokens"
integration = {{ type = "mock", body = "pets" }}

[[api.route]]
key = "DELETE /pets"
authorizer = "tokens"
integration = {{ type = "mock", body = "deleted" }}

[[api.route]]
key = "GET /req"
authorizer = "users"
integration = {{ type = "mock", body = "req" }}

[[api.route]]
key = "GET /tenant"
authorizer = "tenants"
integration = {{ type = "mock", body = "tenant" }}

[[api.route]]
key = "GET /orders"
authorizer = "tokens"
integration = {{ type = "function", target = "backend" }}

[[api.route]]
key = "GET /partner"
authorizer = "tokens"
api_key_required = true
integration = {{ type = "mock", body = "partner" }}

[[api_key]]
name = "partner"
value = "partner-key-0123456789"

[[usage_plan]]
name = "partners"
api_stages = [{{ api = "shop", stage = "prod" }}]
keys = ["partner"]
"#,
        log = log.display()
    )
}

fn get(gw: &Gateway, method: &str, path: &str, headers: &str) -> Response {
    gw.send(format!("{method} {path} HTTP/1.1\r\nHost: localhost\r\n{headers}\r\n").as_bytes())
}

fn bearer(token: &str) -> String {
    format!("Authorization: Bearer {token}\r\n")
}

fn calls(map: &Arc<Mutex<HashMap<String, usize>>>, token: &str) -> usize {
    map.lock().unwrap().get(token).copied().unwrap_or(0)
}

#[test]
fn rest_token_authorizers_answer_as_aws_and_cache_policies_per_method() {
    for driver in DRIVERS {
        let counts = Arc::new(Mutex::new(HashMap::new()));
        let auth = authorizer(counts.clone());
        let backend = event_echo();
        let log = temp_path("fn-auth.log");
        let gw = Gateway::start(&rest_config(auth.addr, backend.addr, &log), driver);

        // No token, or one the expression refuses: 401, the function is not called.
        let r = get(&gw, "GET", "/prod/pets", "");
        assert_eq!((r.status, r.text().as_str()), (401, r#"{"message":"Unauthorized"}"#));
        assert_eq!(r.header("x-amzn-ErrorType"), Some("UnauthorizedException"));
        assert!(r.header("x-portico-auth-reason").unwrap().contains("identity source header authorization missing"));
        let r = get(&gw, "GET", "/prod/pets", "Authorization: Basic dXNlcg==\r\n");
        assert_eq!(r.status, 401);
        assert!(r.header("x-portico-auth-reason").unwrap().contains("identity_validation_expression"));
        let r = get(&gw, "GET", "/prod/pets", &format!("{}{}", bearer("allow-get"), bearer("admin")));
        assert_eq!(r.status, 401, "two tokens: the authorizer would see one, the integration another");
        assert!(
            r.header("x-portico-auth-reason").unwrap().contains("given more than once"),
            "{:?}",
            r.header("x-portico-auth-reason")
        );
        assert!(auth.seen().is_empty(), "nothing invoked");

        // A policy for GET only: GET passes, DELETE is denied from the same cached policy.
        let r = get(&gw, "GET", "/prod/pets", &bearer("allow-get"));
        assert_eq!((r.status, r.text().as_str()), (200, "pets"));
        let event: Value = serde_json::from_slice(&auth.last().body).unwrap();
        assert_eq!(
            event,
            json!({"type": "TOKEN", "authorizationToken": "Bearer allow-get",
                   "methodArn": "arn:aws:execute-api:us-east-1:123456789012:shop/prod/GET/pets"})
        );
        assert_eq!(get(&gw, "GET", "/prod/pets", &bearer("allow-get")).status, 200);
        let r = get(&gw, "DELETE", "/prod/pets", &bearer("allow-get"));
        assert_eq!(
            (r.status, r.text().as_str()),
            (403, r#"{"message":"User is not authorized to access this resource"}"#)
        );
        assert_eq!(r.header("x-amzn-ErrorType"), Some("AccessDeniedException"));
        assert!(r.header("x-portico-auth-reason").unwrap().contains("shop/prod/DELETE/pets"));
        // Two workers may each have asked the node's cache once; the function ran once.
        assert_eq!(calls(&counts, "Bearer allow-get"), 1, "cached across methods and workers");

        // Explicit deny, Unauthorized, other failures.
        let r = get(&gw, "GET", "/prod/pets", &bearer("deny"));
        assert_eq!(
            (r.status, r.text().as_str()),
            (403, r#"{"message":"User is not authorized to access this resource with an explicit deny"}"#)
        );
        let r = get(&gw, "GET", "/prod/pets", &bearer("unauthorized"));
        assert_eq!((r.status, r.text().as_str()), (401, r#"{"message":"Unauthorized"}"#));
        for (token, why) in [
            ("crash", "the function failed: boom"),
            ("garbage", "unreadable answer"),
            ("nested-context", "is not a string, number or boolean"),
            ("hang", "no answer within 1000 ms"),
        ] {
            let r = get(&gw, "GET", "/prod/pets", &bearer(token));
            assert_eq!((r.status, r.text().as_str()), (500, r#"{"message":null}"#), "{token}");
            assert_eq!(r.header("x-amzn-ErrorType"), Some("AuthorizerConfigurationException"));
            let reason = r.header("x-portico-auth-reason").unwrap();
            assert!(reason.contains(why), "{token}: {reason}");
        }

        // The authorizer's principal and context reach the function and the access log.
        let r = get(&gw, "GET", "/prod/orders", &bearer("allow-get"));
        assert_eq!(r.status, 200, "{}", r.text());
        let event: Value = serde_json::from_str(&r.text()).unwrap();
        let seen = &event["requestContext"]["authorizer"];
        assert_eq!(
            (seen["principalId"].as_str(), seen["tier"].as_str(), seen["n"].as_i64()),
            (Some("user-1"), Some("gold"), Some(3))
        );
        assert_eq!(seen["vip"], json!(true));
        let text = eventually(Duration::from_secs(5), || {
            std::fs::read_to_string(&log).ok().filter(|t| t.contains("200 user-1 gold 3"))
        });
        assert!(text.is_some(), "{:?}", std::fs::read_to_string(&log));

        // The API key is the authorizer's usageIdentifierKey (api_key_source = AUTHORIZER).
        assert_eq!(get(&gw, "GET", "/prod/partner", &bearer("keyed")).status, 200);
        let r =
            get(&gw, "GET", "/prod/partner", &format!("{}x-api-key: partner-key-0123456789\r\n", bearer("allow-get")));
        assert_eq!(r.status, 403, "the header does not count when the key source is the authorizer");
        drop(gw);
    }
}

#[test]
fn one_call_for_a_hundred_concurrent_requests_of_one_token() {
    let counts = Arc::new(Mutex::new(HashMap::new()));
    let auth = authorizer(counts.clone());
    let backend = event_echo();
    let log = temp_path("fn-auth-stampede.log");
    let gw = Gateway::start(&rest_config(auth.addr, backend.addr, &log), Driver::Uring);
    let addr = gw.addr();
    let threads: Vec<_> = (0..100)
        .map(|_| {
            std::thread::spawn(move || {
                let mut c = Client::connect(addr);
                c.send(b"GET /prod/pets HTTP/1.1\r\nHost: localhost\r\nAuthorization: Bearer slow\r\n\r\n");
                c.read_response().map(|r| r.status)
            })
        })
        .collect();
    let statuses: Vec<_> = threads.into_iter().map(|t| t.join().unwrap()).collect();
    assert!(statuses.iter().all(|s| *s == Some(200)), "{statuses:?}");
    assert_eq!(calls(&counts, "Bearer slow"), 1, "one call, the others waited for it");
}

#[test]
fn request_authorizers_get_the_request_and_uncached_ones_run_every_time() {
    let counts = Arc::new(Mutex::new(HashMap::new()));
    let auth = authorizer(counts.clone());
    let backend = event_echo();
    let log = temp_path("fn-auth-req.log");
    let gw = Gateway::start(&rest_config(auth.addr, backend.addr, &log), Driver::Legacy);
    for _ in 0..3 {
        assert_eq!(get(&gw, "GET", "/prod/req?tenant=acme", "X-User: bob\r\n").status, 200);
    }
    assert_eq!(calls(&counts, "bob"), 3, "ttl_s = 0: no cache");
    let event: Value = serde_json::from_slice(&auth.last().body).unwrap();
    assert_eq!(event["type"], "REQUEST");
    assert_eq!(event["methodArn"], "arn:aws:execute-api:us-east-1:123456789012:shop/prod/GET/req");
    assert_eq!(event["resource"], "/req");
    assert_eq!(event["httpMethod"], "GET");
    assert_eq!(event["queryStringParameters"]["tenant"], "acme");
    assert_eq!(event["headers"]["X-User"], "bob");
    assert_eq!(event["requestContext"]["stage"], "prod");
    assert!(event.get("body").is_none_or(Value::is_null), "no body");
    // Without caching, a REST REQUEST authorizer is invoked even when a source is missing.
    assert_eq!(get(&gw, "GET", "/prod/req", "X-User: bob\r\n").status, 200);
    assert_eq!(calls(&counts, "bob"), 4);
    // With caching, a repeated query identity would let the authorizer see one value while its
    // answer is kept under another: refused without invoking.
    let r = get(&gw, "GET", "/prod/tenant?tenant=victim&tenant=attacker", "X-User: eve\r\n");
    assert_eq!(r.status, 401);
    assert!(r.header("x-portico-auth-reason").unwrap().contains("query parameter tenant given more than once"));
    assert_eq!(calls(&counts, "eve"), 0);
    // Decoded as the event decodes it (`+` is a space): `a+b` and `a%2Bb` are two answers.
    assert_eq!(get(&gw, "GET", "/prod/tenant?tenant=a+b", "X-User: eve\r\n").status, 200);
    let event: Value = serde_json::from_slice(&auth.last().body).unwrap();
    assert_eq!(event["queryStringParameters"]["tenant"], "a b");
    assert_eq!(get(&gw, "GET", "/prod/tenant?tenant=a%2Bb", "X-User: eve\r\n").status, 200);
    assert_eq!(calls(&counts, "eve"), 2, "not one cached answer for both");
}

#[test]
fn http_api_simple_responses_and_expiry() {
    let counts = Arc::new(Mutex::new(HashMap::new()));
    let auth = authorizer(counts.clone());
    let backend = event_echo();
    let config = format!(
        r#"
[server]
listen = ["127.0.0.1:{{port}}"]
workers = 2

[[function]]
name = "authorize"
url = "http://{auth}/"

[[function]]
name = "backend"
url = "http://{backend}/"

[[api]]
name = "accounts"

[[api.authorizer]]
name = "simple"
type = "function"
function = "authorize"
identity_source = ["$request.header.Authorization"]
simple_responses = true
ttl_s = 1

[[api.stage]]
name = "$default"

[[api.route]]
key = "GET /me"
authorizer = "simple"
integration = {{ type = "function", target = "backend" }}
"#,
        auth = auth.addr,
        backend = backend.addr
    );
    let gw = Gateway::start(&config, Driver::Uring);
    let r = get(&gw, "GET", "/me", &bearer("yes"));
    assert_eq!(r.status, 200, "{}", r.text());
    let event: Value = serde_json::from_str(&r.text()).unwrap();
    assert_eq!(event["requestContext"]["authorizer"]["lambda"], json!({"user": "ann", "roles": ["a", "b"]}));
    let seen: Value = serde_json::from_slice(&auth.last().body).unwrap();
    assert_eq!((seen["version"].as_str(), seen["type"].as_str()), (Some("2.0"), Some("REQUEST")));
    assert_eq!(seen["routeArn"], "arn:aws:execute-api:us-east-1:123456789012:accounts/$default/GET/me");
    assert_eq!(seen["identitySource"], json!(["Bearer yes"]));
    assert_eq!(seen["routeKey"], "GET /me");

    let r = get(&gw, "GET", "/me", &bearer("no"));
    assert_eq!((r.status, r.text().as_str()), (403, r#"{"message":"Forbidden"}"#));
    let r = get(&gw, "GET", "/me", "");
    assert_eq!((r.status, r.text().as_str()), (401, r#"{"message":"Unauthorized"}"#));
    let r = get(&gw, "GET", "/me", &bearer("crash"));
    assert_eq!((r.status, r.text().as_str()), (500, r#"{"message":"Internal Server Error"}"#));

    // Cached for ttl_s = 1, then asked again.
    let before = calls(&counts, "Bearer yes");
    assert_eq!(get(&gw, "GET", "/me", &bearer("yes")).status, 200);
    assert_eq!(calls(&counts, "Bearer yes"), before, "a hit");
    std::thread::sleep(Duration::from_millis(1100));
    assert_eq!(get(&gw, "GET", "/me", &bearer("yes")).status, 200);
    assert_eq!(calls(&counts, "Bearer yes"), before + 1, "expired, asked again");
}

#[test]
fn bad_function_authorizer_configs_are_refused() {
    let base = |protocol: &str, authorizer: &str| {
        format!(
            "[server]\nlisten = [\"127.0.0.1:1\"]\n[[function]]\nname = \"authorize\"\nurl = \"http://127.0.0.1:9/\"\n[[api]]\nname = \"a\"\nprotocol = \"{protocol}\"\n[[api.authorizer]]\nname = \"f\"\ntype = \"function\"\n{authorizer}\n[[api.stage]]\nname = \"prod\"\n[[api.route]]\nkey = \"GET /x\"\nauthorizer = \"f\"\nintegration = {{ type = \"mock\" }}\n"
        )
    };
    assert!(check(&base("rest", "function = \"authorize\"")).0);
    assert!(check(&base("http", "function = \"authorize\"\nidentity_source = [\"$request.header.Authorization\"]")).0);
    for (protocol, authorizer, expected) in [
        ("rest", "function = \"authorise\"", "did you mean `authorize`"),
        ("rest", "function = \"authorize\"\nidentity_validation_expression = \"([\"", "not a regular expression"),
        (
            "rest",
            "function = \"authorize\"\nidentity_source = [\"method.request.querystring.t\"]",
            "exactly one header",
        ),
        (
            "rest",
            "function = \"authorize\"\nevent = \"request\"\nidentity_validation_expression = \".*\"",
            "for TOKEN authorizers",
        ),
        ("rest", "function = \"authorize\"\nsimple_responses = true", "simple responses are for HTTP API"),
        ("http", "function = \"authorize\"", "no identity source to key them by"),
        (
            "http",
            "function = \"authorize\"\nidentity_source = [\"$context.requestId\"]",
            "cannot be an identity source",
        ),
        ("rest", "function = \"authorize\"\nttl_s = 3601", "ttl_s"),
    ] {
        let (ok, errors) = check(&base(protocol, authorizer));
        assert!(!ok && errors.contains(expected), "{expected}: {errors}");
    }
}

/// The example config's authorizer: an unmodified Python Lambda handler on AWS's runtime
/// interface client, invoked over the Runtime API, deciding by policy.
#[test]
fn the_example_config_runs_a_python_authorizer() {
    let ok =
        std::process::Command::new("python3").args(["-c", "import awslambdaric"]).status().is_ok_and(|s| s.success());
    assert!(ok, "python3 -m pip install awslambdaric (the README's test set-up does)");
    let root = env!("CARGO_MANIFEST_DIR");
    let jwt_port = free_port();
    let config = std::fs::read_to_string(format!("{root}/configs/authorizers.toml"))
        .unwrap()
        .replace("127.0.0.1:8080", "127.0.0.1:{port}")
        .replace("127.0.0.1:8081", &format!("127.0.0.1:{jwt_port}"))
        .replace(
            "working_dir = \"functions/authorize\"",
            &format!("working_dir = \"{root}/configs/functions/authorize\""),
        );
    let dir = temp_path("example-auth");
    std::fs::create_dir_all(&dir).unwrap();
    let gw = Gateway::start_in(&dir, &config, Driver::Uring, &[("ALICE_SECRET", "demo-secret-0000".to_owned())]);
    let r = get(&gw, "GET", "/prod/pets", &bearer("allow-ann"));
    assert_eq!((r.status, r.text().as_str()), (200, r#"{"pets":[]}"#), "{:?}", r.header("x-portico-auth-reason"));
    let r = get(&gw, "DELETE", "/prod/pets", &bearer("allow-ann"));
    assert_eq!(r.status, 403, "the cached GET-only policy does not allow DELETE");
    assert_eq!(get(&gw, "DELETE", "/prod/pets", &bearer("admin-bob")).status, 200);
    let r = get(&gw, "GET", "/prod/pets", &bearer("nope-1"));
    assert_eq!((r.status, r.text().as_str()), (401, r#"{"message":"Unauthorized"}"#));
    assert!(r.header("x-portico-auth-reason").unwrap().contains("the function answered Unauthorized"));
    let r = get(&gw, "GET", "/prod/orders", "");
    assert_eq!((r.status, r.text().as_str()), (403, r#"{"message":"Missing Authentication Token"}"#));
    let jwt = std::net::SocketAddr::from(([127, 0, 0, 1], jwt_port));
    let mut c = Client::connect(jwt);
    c.send(b"GET /me HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer a.b.c\r\n\r\n");
    let r = c.read_response().unwrap();
    assert_eq!(r.status, 401);
}

/// HTTP APIs' payload 1.0 authorizer event, keyed by two sources (one from the route).
#[test]
fn http_api_payload_1_0_events_carry_the_identity_values() {
    let counts = Arc::new(Mutex::new(HashMap::new()));
    let auth = authorizer(counts.clone());
    let config = format!(
        r#"
[server]
listen = ["127.0.0.1:{{port}}"]

[[function]]
name = "authorize"
url = "http://{auth}/"

[[api]]
name = "accounts"

[[api.authorizer]]
name = "v1"
type = "function"
function = "authorize"
payload_format = "1.0"
identity_source = ["$request.header.Authorization", "$context.routeKey"]

[[api.stage]]
name = "$default"

[[api.route]]
key = "GET /a"
authorizer = "v1"
integration = {{ type = "mock", body = "a" }}

[[api.route]]
key = "GET /b"
authorizer = "v1"
integration = {{ type = "mock", body = "b" }}
"#,
        auth = auth.addr
    );
    let gw = Gateway::start(&config, Driver::Legacy);
    assert_eq!(get(&gw, "GET", "/a", &bearer("any")).status, 200);
    let event: Value = serde_json::from_slice(&auth.last().body).unwrap();
    assert_eq!((event["version"].as_str(), event["type"].as_str()), (Some("1.0"), Some("REQUEST")));
    assert_eq!(event["identitySource"], "Bearer any,GET /a");
    assert_eq!(event["authorizationToken"], "Bearer any");
    assert_eq!(event["methodArn"], "arn:aws:execute-api:us-east-1:123456789012:accounts/$default/GET/a");
    assert_eq!(get(&gw, "GET", "/a", &bearer("any")).status, 200);
    assert_eq!(get(&gw, "GET", "/b", &bearer("any")).status, 200);
    assert_eq!(calls(&counts, "Bearer any"), 2, "the route key is a source: one answer per route");
}

/// What the authorizer said reaches the upstream as headers (the header part of parameter
/// mapping), replacing what a client sent under the same names.
#[test]
fn authorizer_context_reaches_the_upstream_through_header_mappings() {
    let counts = Arc::new(Mutex::new(HashMap::new()));
    let auth = authorizer(counts);
    let upstream = Upstream::start(|_| ok_json("{}"));
    for protocol in ["rest", "http"] {
        let (t1, s1) = target_source(protocol, "x-user", "$context.authorizer.principalId");
        let (t2, s2) = target_source(protocol, "x-tier", "$context.authorizer.tier");
        let (t3, s3) = target_source(protocol, "x-missing", "$context.authorizer.nothing");
        let literal = if protocol == "rest" { "'from-gateway'" } else { "from-gateway" };
        let (t4, _) = target_source(protocol, "x-origin", "");
        let identity = if protocol == "rest" { "" } else { "identity_source = [\"$request.header.Authorization\"]\n" };
        let config = format!(
            r#"
[server]
listen = ["127.0.0.1:{{port}}"]

[[function]]
name = "authorize"
url = "http://{auth}/"

[[api]]
name = "shop"
protocol = "{protocol}"

[[api.authorizer]]
name = "tokens"
type = "function"
function = "authorize"
{identity}
[[api.stage]]
name = "prod"

[[api.route]]
key = "GET /pets"
authorizer = "tokens"
integration = {{ type = "http_proxy", uri = "http://{up}/pets", request_parameters = {{ "{t1}" = "{s1}", "{t2}" = "{s2}", "{t3}" = "{s3}", "{t4}" = "{literal}" }} }}
"#,
            auth = auth.addr,
            up = upstream.addr
        );
        let gw = Gateway::start(&config, Driver::Uring);
        let r = get(&gw, "GET", "/prod/pets", &format!("{}X-User: admin\r\n", bearer("anything")));
        assert_eq!(r.status, 200, "{protocol}: {}", r.text());
        let seen = upstream.last();
        assert_eq!(seen.header("x-user"), Some("user-1"), "{protocol}: the authorizer's principal, not the client's");
        assert_eq!(seen.headers.iter().filter(|(n, _)| n.eq_ignore_ascii_case("x-user")).count(), 1);
        assert_eq!(seen.header("x-tier"), Some("gold"));
        assert_eq!(seen.header("x-missing"), None, "a value the authorizer did not give is left out");
        assert_eq!(seen.header("x-origin"), Some("from-gateway"));
    }
    let (ok, errors) = check(
        "[[api]]\nname = \"a\"\n[[api.stage]]\nname = \"$default\"\n[[api.route]]\nkey = \"GET /x\"\nintegration = { type = \"http_proxy\", uri = \"http://127.0.0.1:9/\", request_parameters = { \"overwrite:header.host\" = \"x\", \"replace:querystring.q\" = \"y\", \"append:header.x-a\" = \"$request.body.q\" } }\n",
    );
    assert!(
        !ok && errors.contains("`host` cannot be set")
            && errors.contains("not a request mapping target")
            && errors.contains("is not a request value Portico maps"),
        "{errors}"
    );
}

fn target_source(protocol: &str, name: &str, source: &str) -> (String, String) {
    match protocol {
        "rest" => (format!("integration.request.header.{name}"), source.replace("$context.", "context.")),
        _ => (format!("overwrite:header.{name}"), source.to_owned()),
    }
}
