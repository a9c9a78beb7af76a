//! Function integrations (AWS's Lambda proxy) on an HTTP-endpoint target: the event the function
//! gets, every row of AWS's response table, timeouts, unreachable targets, concurrency limits,
//! stage variables in the target — over real sockets, on both drivers.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde_json::Value;

use crate::support::*;

/// One API of `protocol` on `{port}` with stage `prod`: `ANY /fn/{proxy+}` invokes `orders`
/// (at `endpoint`) in the route's payload format.
fn config(protocol: &str, endpoint: std::net::SocketAddr, integration_extra: &str, extra: &str) -> String {
    format!(
        r#"
[server]
listen = ["127.0.0.1:{{port}}"]
workers = 2

[limits]
header_timeout_ms = 2000

[[function]]
name = "orders"
url = "http://{endpoint}/invoke?from=gw"
{extra}

[[api]]
name = "shop"
protocol = "{protocol}"
binary_media_types_placeholder

[[api.stage]]
name = "prod"
variables = {{ alias = "live" }}

[[api.route]]
key = "ANY /fn/{{proxy+}}"
integration = {{ type = "function", target = "orders" {integration_extra} }}
"#
    )
    .replace(
        "binary_media_types_placeholder\n",
        if protocol == "rest" { "binary_media_types = [\"image/*\"]\n" } else { "" },
    )
}

fn event_of(seen: &Seen) -> Value {
    serde_json::from_slice(&seen.body).expect("the event is JSON")
}

#[test]
fn rest_event_and_answer_round_trip() {
    for driver in DRIVERS {
        let up = Upstream::start(|_| {
            function_answer(
                r#"{"statusCode":"201","headers":{"X-Solo":"a","X-Both":"solo"},"multiValueHeaders":{"x-both":["m1","m2"]},"body":"created"}"#,
                "",
            )
        });
        let gw = Gateway::start(&config("rest", up.addr, "", ""), driver);
        let r = gw.send(
            b"POST /prod/fn/a/b%2Bc?q=1&q=2&plus=x+y HTTP/1.1\r\nHost: api.test:1234\r\nUser-Agent: t/1\r\nX-Forwarded-For: 6.6.6.6\r\nConnection: keep-alive\r\nContent-Type: application/json\r\nContent-Length: 9\r\n\r\n{\"n\":42}\n",
        );
        assert_eq!(r.status, 201, "{driver:?}: {}", r.text());
        assert_eq!(r.text(), "created");
        assert_eq!(r.header("x-solo"), Some("a"));
        // Both maps kept, the multi-value ones first, under the multi-value spelling.
        let both: Vec<_> = r
            .headers
            .iter()
            .filter(|(n, _)| n.eq_ignore_ascii_case("x-both"))
            .map(|(n, v)| (n.as_str(), v.as_str()))
            .collect();
        assert_eq!(both, [("x-both", "m1"), ("x-both", "m2"), ("x-both", "solo")]);
        assert_eq!(r.header("x-amzn-requestid").map(str::len), Some(36));

        let seen = up.last();
        assert_eq!((seen.method.as_str(), seen.target.as_str()), ("POST", "/invoke?from=gw"));
        assert_eq!(seen.header("content-type"), Some("application/json"));
        let e = event_of(&seen);
        assert!(e.get("version").is_none(), "REST events have no version");
        assert_eq!(e["resource"], "/fn/{proxy+}");
        assert_eq!(e["path"], "/fn/a/b%2Bc");
        assert_eq!(e["httpMethod"], "POST");
        assert_eq!(e["pathParameters"]["proxy"], "a/b%2Bc", "path parameters as received");
        assert_eq!(e["queryStringParameters"]["q"], "2");
        assert_eq!(e["multiValueQueryStringParameters"]["q"], serde_json::json!(["1", "2"]));
        assert_eq!(e["queryStringParameters"]["plus"], "x y");
        assert_eq!(e["headers"]["User-Agent"], "t/1");
        assert_eq!(e["headers"]["X-Forwarded-For"], "127.0.0.1", "a forged X-Forwarded-For is replaced");
        assert_eq!(e["headers"]["X-Forwarded-Port"], gw.port.to_string());
        assert!(e["headers"].get("Connection").is_none() && e["headers"].get("Content-Length").is_none());
        assert_eq!(e["multiValueHeaders"]["Host"], serde_json::json!(["api.test:1234"]));
        assert_eq!(e["stageVariables"]["alias"], "live");
        assert_eq!(e["body"], "{\"n\":42}\n");
        assert_eq!(e["isBase64Encoded"], false);
        let c = &e["requestContext"];
        assert_eq!(c["requestId"].as_str(), r.header("x-amzn-requestid"), "the event's request id is the response's");
        assert_eq!(c["path"], "/prod/fn/a/b%2Bc");
        assert_eq!(c["stage"], "prod");
        assert_eq!(c["resourcePath"], "/fn/{proxy+}");
        assert_eq!(c["domainName"], "api.test");
        assert_eq!(c["identity"]["sourceIp"], "127.0.0.1");
        assert_eq!(c["identity"]["userAgent"], "t/1");
        assert_eq!(c["identity"]["apiKey"], Value::Null);
        assert!(c["requestTimeEpoch"].as_u64().is_some_and(|t| t > 1_700_000_000_000));
    }
}

#[test]
fn http_api_event_and_answer_round_trip() {
    for driver in DRIVERS {
        let up = Upstream::start(|_| {
            function_answer(
                r#"{"statusCode":200,"cookies":["a=1","b=2; Path=/"],"headers":{"content-type":"text/plain"},"body":"hi"}"#,
                "",
            )
        });
        let gw = Gateway::start(&config("http", up.addr, "", ""), driver);
        let r =
            gw.send(b"GET /prod/fn/x?k=1&k=2 HTTP/1.1\r\nHost: h\r\nCookie: s=1; t=2\r\nX-Dup: a\r\nX-Dup: b\r\n\r\n");
        assert_eq!((r.status, r.text().as_str()), (200, "hi"), "{driver:?}");
        let cookies: Vec<_> =
            r.headers.iter().filter(|(n, _)| n.eq_ignore_ascii_case("set-cookie")).map(|(_, v)| v.as_str()).collect();
        assert_eq!(cookies, ["a=1", "b=2; Path=/"]);
        let e = event_of(&up.last());
        assert_eq!(e["version"], "2.0");
        assert_eq!(e["routeKey"], "ANY /fn/{proxy+}");
        assert_eq!(e["rawPath"], "/fn/x");
        assert_eq!(e["rawQueryString"], "k=1&k=2");
        assert_eq!(e["queryStringParameters"]["k"], "1,2");
        assert_eq!(e["cookies"], serde_json::json!(["s=1", "t=2"]));
        assert_eq!(e["headers"]["x-dup"], "a,b");
        assert!(e["headers"].get("cookie").is_none());
        assert_eq!(e["requestContext"]["http"]["method"], "GET");
        assert_eq!(e["requestContext"]["requestId"].as_str(), r.header("apigw-requestid"));
        assert!(e.get("body").is_none());
    }
}

/// (payload, extra head lines, status, body) in format 2.0.
type Row = (&'static str, &'static str, u16, &'static str);

const REST_INTERNAL: &str = r#"{"message":"Internal server error"}"#;
const HTTP_INTERNAL: &str = r#"{"message":"Internal Server Error"}"#;

/// What a client gets: status and body.
type Got = (u16, &'static str);

/// (payload, extra head lines, what a REST client gets, what an HTTP API client gets).
const FORMAT_1_ROWS: &[(&str, &str, Got, Got)] = &[
    (r#"{"statusCode":200}"#, "", (200, ""), (200, "")),
    (r#"{"headers":{"x":"1"}}"#, "", (200, ""), (200, "")),
    (r#"{"statusCode":"201","body":"ok"}"#, "", (201, "ok"), (201, "ok")),
    (r#"{"statusCode":200,"wrongValue":1}"#, "", (502, REST_INTERNAL), (500, HTTP_INTERNAL)),
    (r#"{"statusCode":"test"}"#, "", (502, REST_INTERNAL), (500, HTTP_INTERNAL)),
    (r#"{"multiValueHeaders":{"x":"notalist"}}"#, "", (502, REST_INTERNAL), (500, HTTP_INTERNAL)),
    (r#""justAString""#, "", (502, REST_INTERNAL), (500, HTTP_INTERNAL)),
    ("not json", "", (502, REST_INTERNAL), (500, HTTP_INTERNAL)),
    ("", "", (502, REST_INTERNAL), (500, HTTP_INTERNAL)),
    (
        r#"{"errorMessage":"boom","errorType":"Error"}"#,
        "X-Amz-Function-Error: Unhandled\r\n",
        (502, REST_INTERNAL),
        (500, HTTP_INTERNAL),
    ),
    (r#"{"body":"%%%","isBase64Encoded":true}"#, "", (200, "%%%"), (500, HTTP_INTERNAL)),
    (r#"{"body":"aGk=","isBase64Encoded":true}"#, "", (200, "aGk="), (200, "hi")),
    (r#"{"statusCode":200,"headers":{"bad\r\nname":"x"}}"#, "", (502, REST_INTERNAL), (500, HTTP_INTERNAL)),
    (r#"{"statusCode":200,"headers":{"x":"a\r\nInjected: 1"}}"#, "", (502, REST_INTERNAL), (500, HTTP_INTERNAL)),
];

const FORMAT_2_ROWS: &[Row] = &[
    (r#"{"a":1}"#, "", 200, r#"{"a":1}"#),
    (r#""just text""#, "", 200, "just text"),
    (r#"{"statusCode":204}"#, "", 204, ""),
    (r#"{"statusCode":200,"body":"aGk=","isBase64Encoded":true}"#, "", 200, "hi"),
    (r#"{"statusCode":200,"body":"%%%","isBase64Encoded":true}"#, "", 500, HTTP_INTERNAL),
    (r#"{"statusCode":200,"multiValueHeaders":{"x":["1"]},"body":"multi"}"#, "", 200, "multi"),
    ("not json", "", 500, HTTP_INTERNAL),
    (r#"{"errorMessage":"boom"}"#, "X-Amz-Function-Error: Unhandled\r\n", 500, HTTP_INTERNAL),
];

/// An endpoint that answers each request with the next row's payload.
fn scripted(rows: Vec<(&'static str, &'static str)>) -> Upstream {
    let next = Arc::new(Mutex::new(rows.into_iter()));
    Upstream::start(move |_| {
        let (payload, extra) = next.lock().unwrap().next().expect("one row per request");
        function_answer(payload, extra)
    })
}

#[test]
fn every_row_of_the_response_table() {
    for driver in DRIVERS {
        for (protocol, format) in [("rest", ""), ("http", ", payload_format = \"1.0\"")] {
            let up = scripted(FORMAT_1_ROWS.iter().map(|r| (r.0, r.1)).collect());
            let gw = Gateway::start(&config(protocol, up.addr, format, ""), driver);
            for (payload, _, rest, http) in FORMAT_1_ROWS {
                let (status, body) = if protocol == "rest" { *rest } else { *http };
                let r = gw.get("/prod/fn/row");
                assert_eq!((r.status, r.text().as_str()), (status, body), "{protocol} {driver:?}: {payload}");
                if protocol == "rest" && status >= 500 {
                    assert_eq!(r.header("x-amzn-errortype"), Some("InternalServerErrorException"));
                }
            }
            assert_eq!(up.seen().len(), FORMAT_1_ROWS.len());
            let log = gw.log();
            assert!(log.contains("Malformed Lambda proxy response"), "the reason goes to the log: {log}");
        }
        let up = scripted(FORMAT_2_ROWS.iter().map(|r| (r.0, r.1)).collect());
        let gw = Gateway::start(&config("http", up.addr, "", ""), driver);
        for (payload, _, status, body) in FORMAT_2_ROWS {
            let r = gw.get("/prod/fn/row");
            assert_eq!((r.status, r.text().as_str()), (*status, *body), "2.0 {driver:?}: {payload}");
            if *payload == r#"{"a":1}"# {
                assert_eq!(r.header("content-type"), Some("application/json"));
            }
        }
    }
}

#[test]
fn binary_bodies_travel_base64() {
    for driver in DRIVERS {
        let up = Upstream::start(|_| {
            function_answer(
                r#"{"statusCode":200,"headers":{"Content-Type":"image/png"},"body":"AAEC/w==","isBase64Encoded":true}"#,
                "",
            )
        });
        let gw = Gateway::start(&config("rest", up.addr, "", ""), driver);
        let mut raw = b"POST /prod/fn/img HTTP/1.1\r\nHost: h\r\nAccept: image/png\r\nContent-Type: image/png\r\nContent-Length: 4\r\n\r\n".to_vec();
        raw.extend_from_slice(&[0, 1, 2, 255]);
        let r = gw.send(&raw);
        assert_eq!(r.status, 200, "{driver:?}");
        assert_eq!(r.body, [0, 1, 2, 255], "decoded: the client accepts a binary media type");
        let e = event_of(&up.last());
        assert_eq!((e["body"].as_str(), e["isBase64Encoded"].as_bool()), (Some("AAEC/w=="), Some(true)));
        // Text the API does not call binary travels as text; the answer stays base64 without a
        // binary Accept.
        let r = gw.send(b"POST /prod/fn/txt HTTP/1.1\r\nHost: h\r\nAccept: application/json\r\nContent-Type: text/plain\r\nContent-Length: 2\r\n\r\nhi");
        assert_eq!(r.text(), "AAEC/w==");
        let e = event_of(&up.last());
        assert_eq!((e["body"].as_str(), e["isBase64Encoded"].as_bool()), (Some("hi"), Some(false)));
    }
}

#[test]
fn timeouts_are_504_for_rest_and_503_for_http_apis() {
    for driver in DRIVERS {
        for (protocol, status, body) in [
            ("rest", 504, r#"{"message":"Endpoint request timed out"}"#),
            ("http", 503, r#"{"message":"Service Unavailable"}"#),
        ] {
            let up =
                Upstream::start(|_| Reply::After(Duration::from_millis(1500), Box::new(function_answer("{}", ""))));
            let gw = Gateway::start(&config(protocol, up.addr, ", timeout_ms = 200", ""), driver);
            let r = gw.get("/prod/fn/slow");
            assert_eq!((r.status, r.text().as_str()), (status, body), "{protocol} {driver:?}");
        }
    }
}

#[test]
fn an_unreachable_or_refusing_target_is_500() {
    for driver in DRIVERS {
        let closed = std::net::SocketAddr::from(([127, 0, 0, 1], free_port()));
        let gw = Gateway::start(&config("rest", closed, "", ""), driver);
        let r = gw.get("/prod/fn/x");
        assert_eq!((r.status, r.text().as_str()), (500, REST_INTERNAL), "{driver:?}");
        let up =
            Upstream::start(|_| Reply::Raw(b"HTTP/1.1 503 Service Unavailable\r\nContent-Length: 0\r\n\r\n".to_vec()));
        let gw = Gateway::start(&config("http", up.addr, "", ""), driver);
        let r = gw.get("/prod/fn/x");
        assert_eq!((r.status, r.text().as_str()), (500, HTTP_INTERNAL), "{driver:?}");
    }
}

fn request(addr: std::net::SocketAddr, raw: &[u8]) -> Response {
    let mut c = Client::connect(addr);
    c.send(raw);
    c.read_response().expect("a response")
}

/// An endpoint whose every invocation waits until `release` is set.
fn gated() -> (Upstream, Arc<AtomicBool>) {
    let release = Arc::new(AtomicBool::new(false));
    let r = release.clone();
    let up = Upstream::start(move |_| {
        while !r.load(Ordering::SeqCst) {
            std::thread::sleep(Duration::from_millis(5));
        }
        function_answer(r#"{"statusCode":200,"body":"done"}"#, "")
    });
    (up, release)
}

#[test]
fn concurrency_is_limited_across_workers_and_waits_are_bounded() {
    for driver in DRIVERS {
        // No queue: the second invocation while one runs is refused at once, as AWS refuses a
        // throttled invoke (500).
        let (up, release) = gated();
        let gw = Gateway::start(&config("rest", up.addr, "", "concurrency = 1"), driver);
        let addr = gw.addr();
        let first = std::thread::spawn(move || request(addr, b"GET /prod/fn/1 HTTP/1.1\r\nHost: h\r\n\r\n"));
        eventually(Duration::from_secs(5), || (!up.seen().is_empty()).then_some(())).expect("the first is running");
        for _ in 0..3 {
            let r = gw.get("/prod/fn/2");
            assert_eq!((r.status, r.text().as_str()), (500, REST_INTERNAL), "{driver:?}");
        }
        assert_eq!(up.seen().len(), 1, "refused invocations never reach the function");
        release.store(true, Ordering::SeqCst);
        assert_eq!(first.join().unwrap().status, 200);
        assert_eq!(gw.get("/prod/fn/3").status, 200, "the slot is free again");

        // With a queue: the second waits for the first and then runs.
        let (up, release) = gated();
        let gw = Gateway::start(&config("http", up.addr, "", "concurrency = 1\nqueue_timeout_ms = 20000"), driver);
        let addr = gw.addr();
        let first = std::thread::spawn(move || request(addr, b"GET /prod/fn/1 HTTP/1.1\r\nHost: h\r\n\r\n"));
        eventually(Duration::from_secs(5), || (!up.seen().is_empty()).then_some(())).expect("the first is running");
        let second = std::thread::spawn(move || request(addr, b"GET /prod/fn/2 HTTP/1.1\r\nHost: h\r\n\r\n"));
        std::thread::sleep(Duration::from_millis(100));
        assert_eq!(up.seen().len(), 1, "the second waits for a slot");
        release.store(true, Ordering::SeqCst);
        assert_eq!(first.join().unwrap().status, 200);
        assert_eq!(second.join().unwrap().text(), "done");
    }
}

#[test]
fn stage_variables_choose_the_function() {
    let live = Upstream::start(|_| function_answer(r#"{"body":"live"}"#, ""));
    let beta = Upstream::start(|_| function_answer(r#"{"body":"beta"}"#, ""));
    let config = format!(
        r#"
[server]
listen = ["127.0.0.1:{{port}}"]
workers = 1

[[function]]
name = "orders:live"
url = "http://{}/"

[[function]]
name = "orders:beta"
url = "http://{}/"

[[api]]
name = "shop"
protocol = "rest"

[[api.stage]]
name = "prod"
variables = {{ alias = "live" }}

[[api.stage]]
name = "beta"
variables = {{ alias = "beta" }}

[[api.route]]
key = "GET /orders"
integration = {{ type = "function", target = "orders:${{stageVariables.alias}}" }}
"#,
        live.addr, beta.addr
    );
    let gw = Gateway::start(&config, Driver::Uring);
    assert_eq!(gw.get("/prod/orders").text(), "live");
    assert_eq!(gw.get("/beta/orders").text(), "beta");
    let (ok, err) = check(&config.replace("alias = \"beta\"", "alias = \"gamma\""));
    assert!(!ok);
    assert!(err.contains("no function is named `orders:gamma`"), "{err}");
}

#[test]
fn function_configs_are_checked() {
    let up = std::net::SocketAddr::from(([127, 0, 0, 1], 9));
    let config = |protocol, integration, extra| config(protocol, up, integration, extra).replace("{port}", "8080");
    let (ok, err) = check(&config("rest", ", payload_format = \"2.0\"", ""));
    assert!(!ok && err.contains("payload format 1.0 only"), "{err}");
    let (ok, err) = check(&config("http", ", payload_format = \"3.0\"", ""));
    assert!(!ok && err.contains("unknown payload format `3.0`"), "{err}");
    let (ok, err) = check(&config("http", "", "").replace("target = \"orders\"", "target = \"ordrs\""));
    assert!(!ok && err.contains("did you mean `orders`?"), "{err}");
    let (ok, err) = check(&config("http", "", "").replace("url = ", "nope = "));
    assert!(!ok && err.contains("has no target"), "{err}");
    let (ok, err) = check(&config("http", ", timeout_ms = 900001", ""));
    assert!(!ok && err.contains("timeout_ms"), "{err}");
    // No 29-second cap: up to Lambda's 15 minutes.
    let (ok, err) = check(&config("rest", ", timeout_ms = 900000", ""));
    assert!(ok, "{err}");
}

#[test]
fn integration_errors_reach_the_access_log() {
    let up = scripted(vec![(r#"{"statusCode":200,"wrongValue":1}"#, ""), (r#"{"statusCode":202}"#, "")]);
    let log = temp_path("access.log");
    let config = config("rest", up.addr, "", "").replace(
        "variables = { alias = \"live\" }",
        &format!(
            "variables = {{ alias = \"live\" }}\naccess_log = {{ destination = \"{}\", format = '$context.status $context.integrationStatus \"$context.integrationErrorMessage\"' }}",
            log.display()
        ),
    );
    let gw = Gateway::start(&config, Driver::Legacy);
    assert_eq!(gw.get("/prod/fn/a").status, 502);
    assert_eq!(gw.get("/prod/fn/b").status, 202);
    let lines = eventually(Duration::from_secs(5), || {
        let text = std::fs::read_to_string(&log).ok()?;
        (text.lines().count() >= 2).then_some(text)
    })
    .expect("two access log lines");
    // Two workers: the lines may come in either order.
    let mut lines: Vec<&str> = lines.lines().collect();
    lines.sort();
    assert_eq!(lines[0], "202 202 \"-\"");
    assert!(lines[1].starts_with("502 200 \"Malformed Lambda proxy response"), "{}", lines[1]);
}

#[test]
fn functions_have_metrics() {
    let ok = r#"{"statusCode":200}"#;
    let up = scripted(vec![(ok, ""), (ok, ""), ("not json", "")]);
    let admin = free_port();
    let config =
        config("http", up.addr, "", "concurrency = 1") + &format!("\n[admin]\nlisten = \"127.0.0.1:{admin}\"\n");
    let gw = Gateway::start(&config, Driver::Uring);
    let statuses: Vec<u16> = (0..3).map(|_| gw.get("/prod/fn/x").status).collect();
    assert_eq!(statuses, [200, 200, 500]);
    // A request is counted just after its response is written: wait for the last one.
    let series = |text: &str, name: &str| sample(text, &format!("{name}{{function=\"orders\"}}"));
    let text = eventually(Duration::from_secs(5), || {
        let (_, text) = http_get(std::net::SocketAddr::from(([127, 0, 0, 1], admin)), "/metrics");
        (series(&text, "portico_function_invocations_total") == Some(3.0)).then_some(text)
    })
    .expect("three invocations counted");
    let f = |name: &str| series(&text, name);
    assert_eq!(f("portico_function_errors_total"), Some(1.0));
    assert_eq!(f("portico_function_throttles_total"), Some(0.0));
    assert_eq!(f("portico_function_duration_seconds_count"), Some(3.0));
    assert_eq!(f("portico_function_concurrency"), Some(0.0), "nothing in flight now");
    let families = prometheus_families(&text);
    assert!(families.contains("portico_function_duration_seconds histogram"), "{families}");
    assert!(families.contains("portico_function_concurrency gauge"), "{families}");
}

#[test]
fn portico_invoke_prints_the_event_the_answer_and_the_response() {
    let up = scripted(vec![(r#"{"statusCode":201,"headers":{"x-made":"yes"},"body":"made"}"#, ""), ("not json", "")]);
    let path = temp_path("invoke.toml");
    std::fs::write(&path, config("rest", up.addr, "", "").replace("{port}", "8080")).unwrap();
    let config = path.to_str().unwrap();
    let out = portico(&[
        "invoke",
        "-c",
        config,
        "--route",
        "ANY /fn/{proxy+}",
        "--path",
        "/fn/pets/7?q=1",
        "-X",
        "POST",
        "-H",
        "X-Test: on",
        "-d",
        "hello",
    ]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{stdout}{}", String::from_utf8_lossy(&out.stderr));
    assert!(stdout.contains("route `ANY /fn/{proxy+}` -> function orders (payload 1.0)"), "{stdout}");
    assert!(stdout.contains("\"proxy\": \"pets/7\"") && stdout.contains("\"X-Test\": \"on\""), "{stdout}");
    assert!(stdout.contains("HTTP/1.1 201\nx-made: yes\n\nmade"), "{stdout}");
    // The event printed is the one the function got.
    let sent: Value = event_of(&up.last());
    assert_eq!(sent["body"], "hello");
    assert_eq!(sent["requestContext"]["path"], "/prod/fn/pets/7");
    // A malformed answer: the gateway's error, and its reason.
    let out = portico(&["invoke", "-c", config, "--path", "/fn/x"]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(!out.status.success());
    assert!(
        stdout.contains("the gateway's error (the payload is not JSON)") && stdout.contains("HTTP/1.1 502"),
        "{stdout}"
    );
    // A path no route matches.
    let out = portico(&["invoke", "-c", config, "--route", "GET /nope", "--path", "/x"]);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("no API has that route"));
}

#[test]
fn request_bodies_keys_and_binary_content_in_events() {
    for driver in DRIVERS {
        let up = Upstream::start(|_| function_answer(r#"{"statusCode":200,"body":"ok"}"#, ""));
        // REST with an API key on the route; a 1 MB body limit.
        let config = config("rest", up.addr, "", "")
            .replace("key = \"ANY /fn/{proxy+}\"", "key = \"ANY /fn/{proxy+}\"\napi_key_required = true")
            .replace("header_timeout_ms = 2000", "header_timeout_ms = 2000\nmax_body_bytes = 1000000")
            + "\n[[api_key]]\nname = \"partner\"\nvalue = \"partner-key-0123456789\"\n\n[[usage_plan]]\nname = \"plan\"\napi_stages = [{ api = \"shop\", stage = \"prod\" }]\nkeys = [\"partner\"]\n";
        let gw = Gateway::start(&config, driver);
        let key = "x-api-key: partner-key-0123456789\r\n";
        // A chunked body arrives whole in the event.
        let r = gw.send(format!("POST /prod/fn/c HTTP/1.1\r\nHost: h\r\n{key}Transfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n6\r\n world\r\n0\r\n\r\n").as_bytes());
        assert_eq!(r.status, 200, "{driver:?}: {}", r.text());
        let e = event_of(&up.last());
        assert_eq!(e["body"], "hello world");
        assert_eq!(e["requestContext"]["identity"]["apiKey"], "partner-key-0123456789");
        assert_eq!(e["requestContext"]["identity"]["apiKeyId"], "partner");
        // Over the limit: 413, and the function never hears of it.
        let seen = up.seen().len();
        let r = gw
            .send(format!("POST /prod/fn/big HTTP/1.1\r\nHost: h\r\n{key}Content-Length: 2000000\r\n\r\n").as_bytes());
        assert_eq!(r.status, 413);
        let big_chunk = "z".repeat(600_000);
        let r = gw.send(format!("POST /prod/fn/big HTTP/1.1\r\nHost: h\r\n{key}Transfer-Encoding: chunked\r\n\r\n927c0\r\n{big_chunk}\r\n927c0\r\n{big_chunk}\r\n0\r\n\r\n").as_bytes());
        assert_eq!(r.status, 413);
        assert_eq!(up.seen().len(), seen);
        // Without the key: 403 before any invocation.
        assert_eq!(gw.get("/prod/fn/nokey").status, 403);
        assert_eq!(up.seen().len(), seen);
    }
    // HTTP APIs: a non-text body travels base64, a text one as it is.
    let up = Upstream::start(|_| function_answer(r#"{"statusCode":200}"#, ""));
    let gw = Gateway::start(&config("http", up.addr, "", ""), Driver::Uring);
    let r = gw.send(b"POST /prod/fn/f HTTP/1.1\r\nHost: h\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: 3\r\n\r\na=b");
    assert_eq!(r.status, 200);
    let e = event_of(&up.last());
    assert_eq!((e["body"].as_str(), e["isBase64Encoded"].as_bool()), (Some("YT1i"), Some(true)));
    assert_eq!(e["headers"]["content-length"], "3", "HTTP APIs keep the length (REST APIs drop it)");
    let r = gw
        .send(b"POST /prod/fn/f HTTP/1.1\r\nHost: h\r\nContent-Type: application/json\r\nContent-Length: 2\r\n\r\n{}");
    assert_eq!(r.status, 200);
    let e = event_of(&up.last());
    assert_eq!((e["body"].as_str(), e["isBase64Encoded"].as_bool()), (Some("{}"), Some(false)));
}

#[test]
fn an_answer_over_the_limit_is_an_error_not_a_crash() {
    // Answers may be 4/3 of the body limit plus 1 MiB (a base64 body of the largest size): this is more.
    let big = format!(r#"{{"statusCode":200,"body":"{}"}}"#, "x".repeat(4_000_000));
    let up = Upstream::start(move |_| function_answer(&big, ""));
    let config = config("http", up.addr, "", "")
        .replace("header_timeout_ms = 2000", "header_timeout_ms = 2000\nmax_body_bytes = 1000000");
    let gw = Gateway::start(&config, Driver::Uring);
    let r = gw.get("/prod/fn/huge");
    assert_eq!((r.status, r.text().as_str()), (500, HTTP_INTERNAL));
    // The next request is unaffected.
    assert_eq!(gw.get("/prod/fn/huge").status, 500);
    assert!(gw.log().contains("FunctionUnavailable"), "{}", gw.log());
}
