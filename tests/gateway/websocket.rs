//! WebSocket APIs over loopback, driven by real clients: Python's `websockets` (through
//! `tests/fixtures/ws_client.py`), a raw socket where a client must misbehave, and the Autobahn
//! TestSuite's cases (kosoku) against an echoing `$default` route.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::process::Command;
use std::time::Duration;

use crate::support::*;

/// The backend: `$connect` refuses `token=bad` with 403 and names `chat` as the subprotocol;
/// `/echo` and `/default` answer with their route's name before the message.
fn backend() -> Upstream {
    Upstream::start(|seen| {
        let target = seen.target.as_str();
        if target.starts_with("/connect") && target.contains("token=bad") {
            let body = r#"{"message":"denied"}"#;
            return Reply::Raw(
                format!("HTTP/1.1 403 Forbidden\r\nContent-Length: {}\r\n\r\n{body}", body.len()).into_bytes(),
            );
        }
        if target.starts_with("/connect") {
            return Reply::Raw(
                b"HTTP/1.1 200 OK\r\nSec-WebSocket-Protocol: chat\r\nContent-Length: 0\r\n\r\n".to_vec(),
            );
        }
        let name = target.trim_start_matches('/').split('?').next().unwrap_or("").to_owned();
        let mut body = format!("{name}:").into_bytes();
        body.extend_from_slice(&seen.body);
        let mut reply = format!("HTTP/1.1 200 OK\r\nContent-Length: {}\r\n\r\n", body.len()).into_bytes();
        reply.extend_from_slice(&body);
        Reply::Raw(reply)
    })
}

/// A WebSocket API on `{port}`: `$connect`, `$disconnect`, `$default` (with a route response,
/// when `with_default`) and `echo`, all on `backend`; `limits` is the `[api.websocket]` table.
fn config(backend: SocketAddr, with_default: bool, limits: &str) -> String {
    let default = match with_default {
        true => format!(
            "[[api.route]]\nkey = \"$default\"\nroute_response = true\n\
             integration = {{ type = \"http_proxy\", uri = \"http://{backend}/default\" }}\n"
        ),
        false => String::new(),
    };
    format!(
        r#"
[server]
listen = ["127.0.0.1:{{port}}"]
drain_timeout_ms = 3000
[workers]
count = 2

[[api]]
name = "chat"
protocol = "websocket"
route_selection_expression = "$request.body.action"
websocket = {{ {limits} }}

[[api.stage]]
name = "prod"

[[api.route]]
key = "$connect"
integration = {{ type = "http_proxy", uri = "http://{backend}/connect" }}

[[api.route]]
key = "$disconnect"
integration = {{ type = "http_proxy", uri = "http://{backend}/disconnect" }}

[[api.route]]
key = "echo"
route_response = true
integration = {{ type = "http_proxy", uri = "http://{backend}/echo" }}
{default}"#
    )
}

/// Runs the Python client on `url` with `args`; its JSON lines.
pub(crate) fn client(url: &str, args: &[&str]) -> Vec<serde_json::Value> {
    let script = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/ws_client.py");
    let out = Command::new("python3").arg(script).arg(url).args(args).output().expect("python3 runs");
    assert!(out.status.success(), "ws_client failed: {}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|_| panic!("not JSON: {l}")))
        .collect()
}

pub(crate) fn url(gw: &Gateway, query: &str) -> String {
    format!("ws://127.0.0.1:{}/prod{query}", gw.port)
}

fn count(upstream: &Upstream, prefix: &str) -> usize {
    upstream.seen().iter().filter(|s| s.target.starts_with(prefix)).count()
}

/// Waits until the backend has seen `n` `$disconnect`s (they run after the socket closed).
fn disconnects(upstream: &Upstream, n: usize) -> usize {
    let _ = eventually(Duration::from_secs(5), || (count(upstream, "/disconnect") >= n).then_some(()));
    std::thread::sleep(Duration::from_millis(200));
    count(upstream, "/disconnect")
}

#[test]
fn messages_take_their_routes_and_answers_come_back() {
    for driver in DRIVERS {
        let up = backend();
        let gw = Gateway::start(&config(up.addr, true, ""), driver);
        let lines = client(
            &url(&gw, "?token=a"),
            &[
                "--subprotocol",
                "chat",
                r#"send:{"action":"echo","n":1}"#,
                "recv",
                "send:not json",
                "recv",
                r#"send:{"action":"nope"}"#,
                "recv",
                r#"send:{"action":["echo"]}"#,
                "recv",
                "sendb:00ff",
                "recv",
                "close:1000",
            ],
        );
        let texts: Vec<String> =
            lines.iter().filter_map(|l| l.get("text")).map(|t| t.as_str().unwrap().to_owned()).collect();
        assert_eq!(lines[0]["subprotocol"], "chat", "{driver:?}: {lines:?}");
        assert_eq!(
            texts,
            [
                r#"echo:{"action":"echo","n":1}"#,
                "default:not json",
                r#"default:{"action":"nope"}"#,
                r#"default:{"action":["echo"]}"#
            ],
            "{driver:?}"
        );
        // A binary message is answered in binary.
        assert!(lines.iter().any(|l| l["binary"] == hex(b"default:\x00\xff")), "{lines:?}");
        assert_eq!(lines.last().unwrap()["closed"], 1000);
        // `$connect` saw the client's query and headers; the message routes saw the message.
        let connect = up.seen().into_iter().find(|s| s.target.starts_with("/connect")).expect("$connect called");
        assert_eq!(connect.target, "/connect?token=a");
        assert!(connect.header("user-agent").is_some_and(|ua| ua.contains("websockets")));
        assert!(!connect.has("sec-websocket-key") && !connect.has("upgrade"));
        let echo = up.seen().into_iter().find(|s| s.target == "/echo").expect("echo called");
        assert_eq!(echo.body, br#"{"action":"echo","n":1}"#);
        assert_eq!(echo.header("content-type"), Some("text/plain; charset=utf-8"));
        assert_eq!(disconnects(&up, 1), 1, "{driver:?}");
    }
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

#[test]
fn connect_decides_the_upgrade_and_the_subprotocol() {
    let up = backend();
    let gw = Gateway::start(&config(up.addr, true, ""), Driver::Uring);
    let refused = client(&url(&gw, "?token=bad"), &[]);
    assert_eq!(refused[0]["refused"], 403, "{refused:?}");
    assert_eq!(refused[0]["body"], r#"{"message":"denied"}"#);
    // The backend names `chat`; a client that did not offer it gets no subprotocol.
    let other = client(&url(&gw, ""), &["--subprotocol", "other", "close:1000"]);
    assert_eq!(other[0]["subprotocol"], serde_json::Value::Null, "{other:?}");
    // Only the connection that opened gets a `$disconnect`.
    assert_eq!(disconnects(&up, 1), 1);
    assert_eq!(count(&up, "/connect"), 2);
    // A plain request, and an upgrade below the stage's root, are refused.
    assert_eq!(gw.get("/prod").status, 400);
    let below = b"GET /prod/room HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
                  Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n";
    assert_eq!(gw.send(below).status, 404);
}

#[test]
fn without_a_default_route_an_unmatched_message_is_forbidden() {
    let up = backend();
    let gw = Gateway::start(&config(up.addr, false, ""), Driver::Uring);
    let lines = client(&url(&gw, ""), &[r#"send:{"action":"other"}"#, "recv", "close:1000"]);
    let error: serde_json::Value = serde_json::from_str(lines[2]["text"].as_str().expect("a text answer")).unwrap();
    assert_eq!(error["message"], "Forbidden");
    assert_eq!(error["connectionId"].as_str().map(str::len), Some(16), "{error}");
    assert!(error["requestId"].as_str().is_some_and(|id| !id.is_empty()));
    assert_eq!(count(&up, "/default") + count(&up, "/echo"), 0);
}

/// A raw client: the handshake by hand, then frames as written.
fn raw_upgrade(gw: &Gateway) -> TcpStream {
    let mut s = TcpStream::connect(gw.addr()).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    s.write_all(
        b"GET /prod HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
          Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n",
    )
    .unwrap();
    let mut reader = BufReader::new(s.try_clone().unwrap());
    let mut status = String::new();
    reader.read_line(&mut status).unwrap();
    assert!(status.starts_with("HTTP/1.1 101"), "{status}");
    let mut accept = None;
    loop {
        let mut line = String::new();
        reader.read_line(&mut line).unwrap();
        if line == "\r\n" {
            break;
        }
        if let Some(v) = line.strip_prefix("Sec-WebSocket-Accept: ") {
            accept = Some(v.trim().to_owned());
        }
    }
    assert_eq!(accept.as_deref(), Some("s3pPLMBiTxaQ9kYGzzhZRbK+xOo="), "RFC 6455's example accept key");
    s
}

/// The frames a raw client reads until the server closes: (opcode, payload).
fn frames_until_close(s: &mut TcpStream) -> Vec<(u8, Vec<u8>)> {
    let mut all = Vec::new();
    let _ = s.read_to_end(&mut all);
    let mut frames = Vec::new();
    let mut at = 0;
    while at + 2 <= all.len() {
        let opcode = all[at] & 0x0f;
        let len = (all[at + 1] & 0x7f) as usize;
        frames.push((opcode, all[at + 2..(at + 2 + len).min(all.len())].to_vec()));
        at += 2 + len;
    }
    frames
}

#[test]
fn every_way_a_connection_ends_runs_disconnect_once() {
    for driver in DRIVERS {
        let up = backend();
        let limits = "ping_interval_ms = 200, idle_timeout_ms = 700, max_message_bytes = 1000, max_frame_bytes = 1000";
        let gw = Gateway::start(&config(up.addr, true, limits), driver);
        // 1. The client closes.
        assert_eq!(client(&url(&gw, ""), &["close:4000"]).last().unwrap()["closed"], 4000);
        // 2. The client drops the TCP connection.
        assert_eq!(client(&url(&gw, ""), &["drop"]).last().unwrap()["dropped"], true);
        // 3. A message over the limit: 1009.
        let big = format!("send:{}", "x".repeat(1500));
        assert_eq!(client(&url(&gw, ""), &[&big, "wait_close"]).last().unwrap()["closed"], 1009);
        // 4. A protocol violation (an unmasked frame): 1002.
        let mut raw = raw_upgrade(&gw);
        raw.write_all(&[0x81, 0x02, b'h', b'i']).unwrap();
        let frames = frames_until_close(&mut raw);
        assert_eq!(
            frames.last().map(|f| (f.0, f.1[..2].to_vec())),
            Some((8, 1002u16.to_be_bytes().to_vec())),
            "{frames:?}"
        );
        // 5. A client that never answers pings: pinged, then closed for idleness (1001).
        let mut silent = raw_upgrade(&gw);
        let frames = frames_until_close(&mut silent);
        assert_eq!(frames.first().map(|f| f.0), Some(0x9), "a ping first: {frames:?}");
        assert_eq!(frames.last().map(|f| (f.0, f.1[..2].to_vec())), Some((8, 1001u16.to_be_bytes().to_vec())));
        // 6. A client that answers pings stays open past the idle timeout.
        let held = client(&url(&gw, ""), &["hold:1.5", r#"send:{"action":"echo"}"#, "recv", "close:1000"]);
        assert_eq!(held[3]["text"], r#"echo:{"action":"echo"}"#, "{held:?}");
        // 7. The gateway shuts down: 1001 to the client, then `$disconnect`.
        let script = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/ws_client.py");
        let holding = Command::new("python3")
            .arg(script)
            .arg(url(&gw, ""))
            .arg("wait_close")
            .stdout(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        eventually(Duration::from_secs(5), || (count(&up, "/connect") >= 7).then_some(())).expect("7th connection");
        std::thread::sleep(Duration::from_millis(200));
        let mut gw = gw;
        gw.signal(libc::SIGTERM);
        let out = holding.wait_with_output().unwrap();
        let last: serde_json::Value =
            serde_json::from_str(String::from_utf8_lossy(&out.stdout).lines().last().unwrap()).unwrap();
        assert_eq!(last["closed"], 1001, "{last}");
        assert!(gw.wait_exit(Duration::from_secs(10)).is_some(), "the gateway exits after draining");
        assert_eq!(count(&up, "/connect"), 7, "{driver:?}");
        assert_eq!(disconnects(&up, 7), 7, "{driver:?}: one $disconnect per connection");
    }
}

/// An HTTP backend that answers every request with its body, recording nothing (the Autobahn
/// cases send megabytes).
fn echo_backend() -> SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    std::thread::spawn(move || {
        for stream in listener.incoming().flatten() {
            std::thread::spawn(move || {
                let mut reader = BufReader::new(stream);
                loop {
                    let mut length = 0usize;
                    let mut line = String::new();
                    loop {
                        line.clear();
                        if reader.read_line(&mut line).unwrap_or(0) == 0 {
                            return;
                        }
                        if line == "\r\n" {
                            break;
                        }
                        if let Some((n, v)) = line.split_once(':')
                            && n.eq_ignore_ascii_case("content-length")
                        {
                            length = v.trim().parse().unwrap_or(0);
                        }
                    }
                    let mut body = vec![0; length];
                    if reader.read_exact(&mut body).is_err() {
                        return;
                    }
                    let mut reply = format!("HTTP/1.1 200 OK\r\nContent-Length: {length}\r\n\r\n").into_bytes();
                    reply.extend_from_slice(&body);
                    if reader.get_mut().write_all(&reply).is_err() {
                        return;
                    }
                }
            });
        }
    });
    addr
}

/// RFC 6455 conformance: the Autobahn TestSuite's cases 1–7, 9 and 10 (12 and 13 are
/// permessage-deflate, which Portico does not offer) against a `$default` route that echoes,
/// run by kosoku (`pip install kosoku`). Every case must be OK, NON-STRICT or INFORMATIONAL.
#[test]
fn autobahn_cases_pass() {
    let echo = echo_backend();
    let config = format!(
        r#"
[server]
listen = ["127.0.0.1:{{port}}"]
[workers]
count = 2
[limits]
max_body_bytes = 20000000

[[api]]
name = "echo"
protocol = "websocket"
websocket = {{ max_frame_bytes = 20000000, max_message_bytes = 20000000 }}
[[api.stage]]
name = "prod"
[[api.route]]
key = "$default"
route_response = true
integration = {{ type = "http_proxy", uri = "http://{echo}/echo", timeout_ms = 60000 }}
"#
    );
    for (driver, cases) in [
        (Driver::Uring, &["1.*", "2.*", "3.*", "4.*", "5.*", "6.*", "7.*", "9.*", "10.*"][..]),
        (Driver::Legacy, &["1.*", "2.*", "3.*", "4.*", "5.*", "6.*", "7.*", "10.*"][..]),
    ] {
        let gw = Gateway::start(&config, driver);
        let reports = temp_path("autobahn");
        let mut cmd = Command::new("kosoku");
        cmd.arg("-o").arg(&reports).args(["-p", "4"]);
        for c in cases {
            cmd.args(["-i", c]);
        }
        let out = cmd.arg(url(&gw, "")).output().expect("kosoku runs (pip install kosoku)");
        let index: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(reports.join("index.json")).unwrap_or_else(|_| {
                panic!("no report: {}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr))
            }))
            .unwrap();
        let agent = index.as_object().unwrap().values().next().unwrap().as_object().unwrap();
        let accepted = ["OK", "NON-STRICT", "INFORMATIONAL"];
        let failed: Vec<String> = agent
            .iter()
            .filter(|(_, r)| {
                !accepted.contains(&r["behavior"].as_str().unwrap_or(""))
                    || !accepted.contains(&r["behaviorClose"].as_str().unwrap_or(""))
            })
            .map(|(case, r)| format!("{case}: {} / {}", r["behavior"], r["behaviorClose"]))
            .collect();
        assert!(agent.len() > 200, "{driver:?}: only {} cases ran", agent.len());
        assert!(failed.is_empty(), "{driver:?}: {failed:#?}");
    }
}

#[test]
fn check_explains_websocket_mistakes() {
    let base = |route: &str, api_extra: &str| {
        format!(
            "[server]\nlisten = [\"127.0.0.1:1\"]\n[[api]]\nname = \"c\"\nprotocol = \"websocket\"\n{api_extra}\n\
             [[api.stage]]\nname = \"prod\"\n[[api.route]]\n{route}\n"
        )
    };
    let proxy = "integration = { type = \"http_proxy\", uri = \"http://127.0.0.1:9/x\" }";
    let cases = [
        (base(&format!("key = \"$other\"\n{proxy}"), ""), "is not a WebSocket route key"),
        (
            base("key = \"$default\"\nintegration = { type = \"http\", uri = \"http://127.0.0.1:9/x\" }", ""),
            "no non-proxy integrations",
        ),
        (
            base(&format!("key = \"a\"\n{proxy}"), "route_selection_expression = \"$request.header.x\""),
            "not a route selection variable",
        ),
        (
            base(&format!("key = \"a\"\n{proxy}"), "websocket = { ping_interval_ms = 5000, idle_timeout_ms = 1000 }"),
            "longer than ping_interval_ms",
        ),
        (base(&format!("key = \"a\"\n{proxy}\n[[api.route]]\nkey = \"a\"\n{proxy}"), ""), "is defined twice"),
        (base(&format!("key = \"a\"\nauthorizer = \"x\"\n{proxy}"), ""), "applies to the `$connect` route only"),
        (base(&format!("key = \"a\"\ncache = {{ ttl_s = 5 }}\n{proxy}"), ""), "not supported on WebSocket routes"),
    ];
    for (config, expected) in cases {
        let (ok, out) = check(&config);
        assert!(!ok && out.contains(expected), "expected {expected:?} in:\n{out}");
    }
    let http = "[server]\nlisten = [\"127.0.0.1:1\"]\n[[api]]\nname = \"h\"\n[[api.stage]]\nname = \"p\"\n\
                [[api.route]]\nkey = \"GET /a\"\nroute_response = true\nintegration = { type = \"mock\" }\n";
    let (ok, out) = check(http);
    assert!(!ok && out.contains("`route_response` is for WebSocket routes"), "{out}");
}

/// `wss://` on a TLS listener: the same session over TLS, pings answered, `$disconnect` once.
#[test]
fn sessions_run_over_tls_listeners() {
    let dir = temp_path("ws-certs");
    std::fs::create_dir_all(&dir).unwrap();
    let (cert, key, _) = crate::tls::make_cert(&dir, "ws", &["localhost"], false);
    let up = backend();
    let tls_port = free_port();
    let plain = config(up.addr, true, "ping_interval_ms = 200, idle_timeout_ms = 700");
    let config = plain.replacen(
        "drain_timeout_ms = 3000",
        &format!(
            "drain_timeout_ms = 3000\nlisten_tls = [\"127.0.0.1:{tls_port}\"]\n[tls]\ndefault_certificate = {{ cert = \"{}\", key = \"{}\" }}",
            cert.display(),
            key.display()
        ),
        1,
    );
    for driver in DRIVERS {
        let _gw = Gateway::start(&config, driver);
        let url = format!("wss://127.0.0.1:{tls_port}/prod");
        let lines =
            client(&url, &[r#"send:{"action":"echo"}"#, "recv", "hold:1.2", "sendb:0102", "recv", "close:1000"]);
        assert_eq!(lines[2]["text"], r#"echo:{"action":"echo"}"#, "{driver:?}: {lines:?}");
        assert_eq!(lines[5]["binary"], hex(b"default:\x01\x02"), "{lines:?}");
        assert_eq!(lines[6]["closed"], 1000);
    }
    assert_eq!(disconnects(&up, 2), 2);
}

/// The requestContext keys of one of AWS's recorded events (`../shared/fixtures/lambda/`).
fn recorded_keys(fixture: &str) -> (Vec<String>, Vec<String>) {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/fixtures/lambda").join(fixture);
    let event: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    let mut top: Vec<String> = event.as_object().unwrap().keys().cloned().collect();
    let mut context: Vec<String> = event["requestContext"].as_object().unwrap().keys().cloned().collect();
    top.sort();
    context.sort();
    (top, context)
}

fn keys(v: &serde_json::Value) -> Vec<String> {
    let mut k: Vec<String> = v.as_object().map(|o| o.keys().cloned().collect()).unwrap_or_default();
    k.sort();
    k
}

/// Function integrations get AWS's CONNECT, MESSAGE and DISCONNECT events, and their answers
/// decide the upgrade and are the route responses.
#[test]
fn functions_get_aws_events() {
    let function = Upstream::start(|seen| {
        let event: serde_json::Value = serde_json::from_slice(&seen.body).unwrap_or_default();
        let answer = match event["requestContext"]["eventType"].as_str() {
            Some("CONNECT") if event["queryStringParameters"]["token"] == "bad" => {
                serde_json::json!({"statusCode": 401})
            }
            Some("CONNECT") => serde_json::json!({"statusCode": 200, "headers": {"Sec-WebSocket-Protocol": "chat"}}),
            Some("MESSAGE") => serde_json::json!({"statusCode": 200, "body": event.to_string()}),
            _ => serde_json::json!({"statusCode": 200}),
        };
        function_answer(&answer.to_string(), "")
    });
    let config = format!(
        r#"
[server]
listen = ["127.0.0.1:{{port}}"]
[[function]]
name = "chat"
url = "http://{}/invoke"
[[api]]
name = "chat"
protocol = "websocket"
[[api.stage]]
name = "prod"
[[api.route]]
key = "$connect"
integration = {{ type = "function", target = "chat" }}
[[api.route]]
key = "$disconnect"
integration = {{ type = "function", target = "chat" }}
[[api.route]]
key = "send"
route_response = true
integration = {{ type = "function", target = "chat" }}
[[api.route]]
key = "$default"
route_response = true
integration = {{ type = "function", target = "chat" }}
"#,
        function.addr
    );
    let gw = Gateway::start(&config, Driver::Uring);
    assert_eq!(client(&url(&gw, "?token=bad"), &[])[0]["refused"], 401);
    let lines = client(
        &url(&gw, "?token=a&room=7"),
        &["--subprotocol", "chat", r#"send:{"action":"send","n":1}"#, "recv", "sendb:0001ff", "recv", "close:1000"],
    );
    assert_eq!(lines[0]["subprotocol"], "chat", "{lines:?}");
    let message: serde_json::Value = serde_json::from_str(lines[2]["text"].as_str().expect("the event back")).unwrap();
    let (top, context) = recorded_keys("aws-lambda-go__apigw-websocket-request-send-message.json");
    assert_eq!((keys(&message), keys(&message["requestContext"])), (top, context), "{message}");
    let rc = &message["requestContext"];
    assert_eq!(
        (rc["routeKey"].as_str(), rc["eventType"].as_str(), rc["messageDirection"].as_str()),
        (Some("send"), Some("MESSAGE"), Some("IN"))
    );
    assert_eq!(
        (rc["stage"].as_str(), rc["apiId"].as_str(), rc["domainName"].as_str()),
        (Some("prod"), Some("chat"), Some("127.0.0.1"))
    );
    assert_eq!(rc["identity"]["sourceIp"], "127.0.0.1");
    assert!(rc["identity"]["userAgent"].as_str().is_some_and(|ua| ua.contains("websockets")));
    for id in ["connectionId", "messageId", "requestId", "extendedRequestId"] {
        assert_eq!(rc[id].as_str().map(str::len), Some(16), "{id}: {rc}");
    }
    assert!(
        rc["requestTimeEpoch"].as_u64() >= rc["connectedAt"].as_u64()
            && rc["connectedAt"].as_u64() > Some(1_700_000_000_000)
    );
    assert_eq!(
        (message["body"].as_str(), message["isBase64Encoded"].as_bool()),
        (Some(r#"{"action":"send","n":1}"#), Some(false))
    );
    // A binary message goes to `$default` base64-encoded.
    let binary: serde_json::Value = serde_json::from_str(lines[4]["text"].as_str().unwrap()).unwrap();
    assert_eq!(binary["requestContext"]["routeKey"], "$default");
    assert_eq!((binary["body"].as_str(), binary["isBase64Encoded"].as_bool()), (Some("AAH/"), Some(true)));
    let connection_id = rc["connectionId"].as_str().unwrap().to_owned();
    // A raw client closes without a status code: AWS's 1005 and its reason.
    let mut raw = raw_upgrade(&gw);
    raw.write_all(&[0x88, 0x80, 1, 2, 3, 4]).unwrap();
    let _ = frames_until_close(&mut raw);
    let events = || -> Vec<serde_json::Value> {
        function.seen().iter().filter_map(|s| serde_json::from_slice(&s.body).ok()).collect()
    };
    let disconnects = eventually(Duration::from_secs(5), || {
        let d: Vec<serde_json::Value> =
            events().into_iter().filter(|e| e["requestContext"]["eventType"] == "DISCONNECT").collect();
        (d.len() == 2).then_some(d)
    })
    .expect("two $disconnect events");
    let (top, context) =
        recorded_keys("aws-lambda-rust-runtime__example-apigw-websocket-request-disconnect-route.json");
    let by_client = disconnects.iter().find(|e| e["requestContext"]["connectionId"] == connection_id.as_str()).unwrap();
    assert_eq!((keys(by_client), keys(&by_client["requestContext"])), (top, context));
    assert_eq!(by_client["requestContext"]["disconnectStatusCode"], 1000);
    let unset = disconnects.iter().find(|e| e["requestContext"]["connectionId"] != connection_id.as_str()).unwrap();
    assert_eq!(unset["requestContext"]["disconnectStatusCode"], 1005);
    assert_eq!(unset["requestContext"]["disconnectReason"], "Client-side close frame status not set");
    // The CONNECT event carries the upgrade's headers and query.
    let connect = events()
        .into_iter()
        .find(|e| {
            e["requestContext"]["connectionId"] == connection_id.as_str()
                && e["requestContext"]["eventType"] == "CONNECT"
        })
        .expect("the CONNECT event");
    assert_eq!(connect["requestContext"]["routeKey"], "$connect");
    assert_eq!(connect["queryStringParameters"]["room"], "7");
    assert_eq!(connect["multiValueQueryStringParameters"]["token"], serde_json::json!(["a"]));
    assert_eq!(connect["headers"]["Sec-WebSocket-Version"], "13");
    assert!(connect.get("body").is_none() && connect["requestContext"].get("messageId").is_none());
}

pub(crate) const KEY: &str = "AKIDEXAMPLEWSMANAGE1";
pub(crate) const SECRET: &str = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY";

/// botocore's management client, unchanged, against the gateway: `(status, result or error)`.
pub(crate) fn manage(gw: &Gateway, args: &[&str], secret: &str) -> serde_json::Value {
    let script = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/ws_manage.py");
    let out = Command::new("python3")
        .arg(script)
        .arg(format!("http://127.0.0.1:{}/prod", gw.port))
        .args(args)
        .env("AWS_ACCESS_KEY_ID", KEY)
        .env("AWS_SECRET_ACCESS_KEY", secret)
        .env_remove("AWS_SESSION_TOKEN")
        .output()
        .expect("python3 runs (pip install botocore)");
    let line = String::from_utf8_lossy(&out.stdout);
    serde_json::from_str(line.trim()).unwrap_or_else(|_| panic!("{line} {}", String::from_utf8_lossy(&out.stderr)))
}

/// The `@connections` API with the AWS SDK's client: pushes reach connections on either worker
/// (a push lands on whichever worker accepted it), GET reports the connection, DELETE closes it
/// (and `$disconnect` runs), a closed or unknown id is 410, a malformed one 400, and a wrongly
/// signed call 403.
#[test]
fn the_management_api_reaches_connections_on_every_worker() {
    // A function that tells a client its connection id.
    let function = Upstream::start(|seen| {
        let event: serde_json::Value = serde_json::from_slice(&seen.body).unwrap_or_default();
        let body = match event["requestContext"]["eventType"].as_str() {
            Some("MESSAGE") => event["requestContext"]["connectionId"].clone(),
            _ => serde_json::Value::Null,
        };
        function_answer(&serde_json::json!({"statusCode": 200, "body": body}).to_string(), "")
    });
    let config = format!(
        r#"
[server]
listen = ["127.0.0.1:{{port}}"]
[workers]
count = 2
[[function]]
name = "who"
url = "http://{}/invoke"
[[iam_credential]]
access_key_id = "{KEY}"
secret_access_key_env = "PORTICO_TEST_WS_SECRET"
principal_arn = "arn:aws:iam::123456789012:user/pusher"
[[api]]
name = "chat"
protocol = "websocket"
[[api.stage]]
name = "prod"
[[api.route]]
key = "$default"
route_response = true
integration = {{ type = "function", target = "who" }}
[[api.route]]
key = "$disconnect"
integration = {{ type = "function", target = "who" }}
"#,
        function.addr
    );
    for driver in DRIVERS {
        let dir = temp_path("ws-manage");
        std::fs::create_dir_all(&dir).unwrap();
        let gw = Gateway::start_in(&dir, &config, driver, &[("PORTICO_TEST_WS_SECRET", SECRET.to_owned())]);
        let script = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/ws_client.py");
        let mut clients: Vec<(std::process::Child, BufReader<std::process::ChildStdout>)> = (0..12)
            .map(|_| {
                let mut child = Command::new("python3")
                    .arg(&script)
                    .arg(url(&gw, ""))
                    .args(["send:whoami", "recv", "recv:120", "wait_close:120"])
                    .stdout(std::process::Stdio::piped())
                    .spawn()
                    .unwrap();
                let out = BufReader::new(child.stdout.take().unwrap());
                (child, out)
            })
            .collect();
        let mut next = |i: usize| -> serde_json::Value {
            let mut line = String::new();
            clients[i].1.read_line(&mut line).unwrap();
            serde_json::from_str(&line).unwrap_or_else(|_| panic!("client {i}: {line:?}"))
        };
        let mut ids = Vec::new();
        for i in 0..12 {
            let (_open, _sent, id) = (next(i), next(i), next(i));
            ids.push(id["text"].as_str().expect("the client's id").to_owned());
        }
        // The connections are held by both workers (the id names its worker).
        let owners: std::collections::BTreeSet<u8> = ids
            .iter()
            .map(|id| {
                use base64::Engine;
                base64::engine::general_purpose::URL_SAFE.decode(id).unwrap()[0]
            })
            .collect();
        assert_eq!(owners.len(), 2, "{driver:?}: 12 connections on one worker? {ids:?}");
        for (i, id) in ids.iter().enumerate() {
            let pushed = manage(&gw, &["post", id, &format!("hello {i}")], SECRET);
            assert_eq!(pushed["status"], 200, "{driver:?}: {id}: {pushed}");
            assert_eq!(next(i)["text"], format!("hello {i}"), "{driver:?}");
        }
        let got = manage(&gw, &["get", &ids[0]], SECRET);
        assert_eq!(got["status"], 200, "{got}");
        assert_eq!(got["result"]["identity"]["SourceIp"], "127.0.0.1", "{got}");
        assert!(got["result"]["identity"]["UserAgent"].as_str().is_some_and(|ua| ua.contains("websockets")), "{got}");
        assert!(got["result"]["lastActiveAt"].as_str() >= got["result"]["connectedAt"].as_str(), "{got}");
        assert_eq!(manage(&gw, &["post", &ids[0], "x"], "wrong-secret")["status"], 403);
        for (i, id) in ids.iter().enumerate() {
            assert_eq!(manage(&gw, &["delete", id], SECRET)["status"], 204);
            assert_eq!(next(i)["closed"], 1000, "{driver:?}");
        }
        let gone = manage(&gw, &["post", &ids[1], "late"], SECRET);
        assert_eq!((gone["status"].as_u64(), gone["error"].as_str()), (Some(410), Some("GoneException")), "{gone}");
        let never = manage(&gw, &["get", "AAAAAAAAAAAAAAA="], SECRET);
        assert_eq!((never["status"].as_u64(), never["error"].as_str()), (Some(410), Some("GoneException")));
        let bad = manage(&gw, &["post", "not-an-id", "x"], SECRET);
        assert_eq!((bad["status"].as_u64(), bad["error"].as_str()), (Some(400), Some("BadRequestException")), "{bad}");
        for (child, _) in &mut clients {
            let _ = child.wait();
        }
    }
    let disconnects = eventually(Duration::from_secs(5), || {
        let n = function.seen().iter().filter(|s| String::from_utf8_lossy(&s.body).contains("\"DISCONNECT\"")).count();
        (n == 24).then_some(n)
    });
    assert_eq!(disconnects, Some(24), "one $disconnect per deleted connection");
}

/// AWS's MOCK on WebSocket routes: its status decides `$connect`, its body is the route response.
#[test]
fn mock_routes_answer_without_a_backend() {
    let config = |connect_status: u16| {
        format!(
            r#"
[server]
listen = ["127.0.0.1:{{port}}"]
[[api]]
name = "chat"
protocol = "websocket"
route_selection_expression = "$request.body.action"
[[api.stage]]
name = "prod"
[[api.route]]
key = "$connect"
integration = {{ type = "mock", status = {connect_status} }}
[[api.route]]
key = "ping"
route_response = true
integration = {{ type = "mock", body = "pong" }}
[[api.route]]
key = "$default"
integration = {{ type = "mock" }}
"#
        )
    };
    let gw = Gateway::start(&config(200), Driver::Uring);
    let lines = client(&url(&gw, ""), &[r#"send:{"action":"ping"}"#, "recv", "send:other", "recv:0.5"]);
    assert_eq!(lines[0]["open"], true, "{lines:?}");
    assert_eq!(lines[2]["text"], "pong", "{lines:?}");
    assert!(lines[4].get("timeout").is_some(), "no route response on $default: {lines:?}");
    let refused = Gateway::start(&config(403), Driver::Legacy);
    let lines = client(&url(&refused, ""), &["send:x"]);
    assert_eq!(lines[0]["refused"], 403, "{lines:?}");
}
