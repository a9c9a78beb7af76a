//! A WebSocket connection's events as an operator sees them: each event's request to an HTTP
//! backend carries the values its `request_parameters` map (`context.connectionId`,
//! `context.eventType`, `context.messageId`, the upgrade's own headers); each event is one
//! access-log line with the WebSocket `$context` variables; and each is counted in its route's
//! series and in the WebSocket metrics.

use std::time::Duration;

use crate::support::*;
use crate::websocket::{client, url};

fn config(backend: std::net::SocketAddr, dead: u16, admin: u16, log: &std::path::Path) -> String {
    let mappings = r#"request_parameters = { "integration.request.header.x-connection-id" = "context.connectionId", "integration.request.header.x-message-id" = "context.messageId", "integration.request.header.x-client" = "route.request.header.x-client", "integration.request.querystring.event" = "context.eventType", "integration.request.header.x-tier" = "stageVariables.tier" }"#;
    let format = r#"{"conn":"$context.connectionId","event":"$context.eventType","route":"$context.routeKey","msg":"$context.messageId","req":"$context.requestId","status":$context.status,"at":$context.connectedAt,"dir":"$context.messageDirection","ilat":"$context.integrationLatency"}"#;
    format!(
        r#"
[server]
listen = ["127.0.0.1:{{port}}"]
[workers]
count = 2
[admin]
listen = "127.0.0.1:{admin}"

[[api]]
name = "chat"
protocol = "websocket"
route_selection_expression = "$request.body.action"

[[api.stage]]
name = "prod"
variables = {{ tier = "gold" }}
access_log = {{ destination = "{log}", format = '{format}' }}

[[api.route]]
key = "$connect"
integration = {{ type = "http_proxy", uri = "http://{backend}/connect", {mappings} }}

[[api.route]]
key = "$disconnect"
integration = {{ type = "http_proxy", uri = "http://{backend}/disconnect", {mappings} }}

[[api.route]]
key = "$default"
route_response = true
integration = {{ type = "http_proxy", uri = "http://{backend}/default", {mappings} }}

[[api.route]]
key = "fail"
route_response = true
integration = {{ type = "http_proxy", uri = "http://127.0.0.1:{dead}/gone", timeout_ms = 2000 }}
"#,
        log = log.display()
    )
}

fn metric(text: &str, name: &str) -> f64 {
    text.lines()
        .filter(|l| l.starts_with(name) && l[name.len()..].starts_with(['{', ' ']))
        .filter_map(|l| l.rsplit(' ').next()?.parse::<f64>().ok())
        .sum()
}

#[test]
fn events_carry_mapped_values_and_are_logged_and_counted_one_by_one() {
    // The backend answers a message with the connection id and message id it was sent.
    let backend = Upstream::start(|seen| {
        let id = seen.header("x-connection-id").unwrap_or("none").to_owned();
        let message = seen.header("x-message-id").unwrap_or("none").to_owned();
        let body = format!("{id} {message}");
        Reply::Raw(format!("HTTP/1.1 200 OK\r\nContent-Length: {}\r\n\r\n{body}", body.len()).into_bytes())
    });
    for driver in DRIVERS {
        let log = temp_path("ws-events.log");
        let admin = free_port();
        let dir = temp_path("ws-events");
        std::fs::create_dir_all(&dir).unwrap();
        let gw = Gateway::start_in(&dir, &config(backend.addr, free_port(), admin, &log), driver, &[]);
        let seen_before = backend.seen().len();
        let lines = client(
            &url(&gw, "?token=abc"),
            &["--header", "x-client:tester", "send:hello", "recv", r#"send:{"action":"fail"}"#, "recv", "close:1000"],
        );
        assert_eq!(lines.len(), 6, "{driver:?}: {lines:?}\n{}", gw.log());
        // The $default backend got the connection's id and the message's id, mapped.
        let reply = lines[2]["text"].as_str().unwrap_or_default().to_owned();
        let (id, message_id) = reply.split_once(' ').unwrap_or_default();
        assert_eq!(id.len(), 16, "{driver:?}: {reply}");
        assert!(message_id.len() == 16 && message_id != id, "{driver:?}: {reply}");
        let failed: serde_json::Value = serde_json::from_str(lines[4]["text"].as_str().unwrap_or("{}")).unwrap();
        assert_eq!(
            (failed["message"].as_str(), failed["connectionId"].as_str()),
            (Some("Internal server error"), Some(id))
        );

        let _ = eventually(Duration::from_secs(5), || (backend.seen().len() >= seen_before + 3).then_some(()));
        let seen = &backend.seen()[seen_before..];
        let by = |path: &str| {
            seen.iter().find(|s| s.target.starts_with(path)).unwrap_or_else(|| panic!("{path}: {seen:?}")).clone()
        };
        let (connect, message, disconnect) = (by("/connect"), by("/default"), by("/disconnect"));
        assert_eq!(connect.target, "/connect?token=abc&event=CONNECT", "{driver:?}");
        assert_eq!(message.target, "/default?event=MESSAGE");
        assert_eq!(disconnect.target, "/disconnect?event=DISCONNECT");
        for s in [&connect, &message, &disconnect] {
            assert_eq!(s.header("x-connection-id"), Some(id), "{driver:?}: {s:?}");
            assert_eq!(s.header("x-client"), Some("tester"), "the upgrade's header, on every event");
            assert_eq!(s.header("x-tier"), Some("gold"));
        }
        assert_eq!(connect.header("x-message-id"), None, "only a message has an id of its own");

        // One line per event: CONNECT (the upgrade, 101), two messages, DISCONNECT; no line for
        // the upgrade request when the connection ends.
        let lines = eventually(Duration::from_secs(5), || {
            let text = std::fs::read_to_string(&log).unwrap_or_default();
            let lines: Vec<serde_json::Value> = text.lines().filter_map(|l| serde_json::from_str(l).ok()).collect();
            (lines.len() >= 4).then_some(lines)
        })
        .unwrap_or_else(|| panic!("{driver:?}: four lines: {}", gw.log()));
        std::thread::sleep(Duration::from_millis(300));
        let text = std::fs::read_to_string(&log).unwrap();
        assert_eq!(text.lines().count(), 4, "{driver:?}: {text}");
        let event = |e: &str, route: &str| {
            lines
                .iter()
                .find(|l| l["event"] == e && l["route"] == route)
                .unwrap_or_else(|| panic!("{driver:?}: {e} {route}: {text}"))
        };
        let (c, m, f, d) = (
            event("CONNECT", "$connect"),
            event("MESSAGE", "$default"),
            event("MESSAGE", "fail"),
            event("DISCONNECT", "$disconnect"),
        );
        for l in [c, m, f, d] {
            assert_eq!(l["conn"], id, "{text}");
            assert_eq!(l["at"], c["at"]);
            assert_eq!(l["dir"], "IN");
        }
        assert_eq!(
            (c["status"].as_u64(), m["status"].as_u64(), d["status"].as_u64()),
            (Some(101), Some(200), Some(200))
        );
        assert!(f["status"].as_u64().is_some_and(|s| s >= 500), "{text}");
        assert_eq!(m["msg"], message_id, "the message id the backend got is the one logged");
        assert!(c["msg"] == "-" && d["msg"] == "-" && f["msg"] != "-");
        assert_ne!(m["req"], m["msg"], "a message's request id and message id differ, as on AWS");
        assert_eq!(failed["requestId"], f["req"], "the error message names the event's request id");

        let metrics = eventually(Duration::from_secs(5), || {
            let (_, text) = http_get(std::net::SocketAddr::from(([127, 0, 0, 1], admin)), "/metrics");
            (metric(&text, "portico_websocket_connections_open") == 0.0
                && metric(&text, "portico_websocket_connections_total") == 1.0)
                .then_some(text)
        })
        .unwrap_or_else(|| panic!("{driver:?}: metrics"));
        assert_eq!(metric(&metrics, "portico_websocket_messages_received_total"), 2.0, "{metrics}");
        assert_eq!(metric(&metrics, "portico_websocket_messages_sent_total"), 2.0, "{metrics}");
        let route = |name: &str, key: &str| {
            let series = format!("{name}{{api=\"chat\",stage=\"prod\",route=\"{key}\"}}");
            sample(&metrics, &series).unwrap_or_else(|| panic!("{series}: {metrics}"))
        };
        assert_eq!(route("portico_requests_total", "$default"), 1.0);
        assert_eq!(route("portico_requests_total", "$connect"), 1.0);
        assert_eq!(route("portico_requests_total", "$disconnect"), 1.0);
        assert_eq!(route("portico_requests_5xx_total", "fail"), 1.0);
    }
}

#[test]
fn check_refuses_mappings_a_websocket_route_cannot_have() {
    let base = |integration: &str| {
        format!(
            "[server]\nlisten = [\"127.0.0.1:1\"]\n[[api]]\nname = \"c\"\nprotocol = \"websocket\"\n[[api.stage]]\nname = \"p\"\n\
             [[api.route]]\nkey = \"$default\"\nintegration = {integration}\n"
        )
    };
    for (integration, expect) in [
        (
            r#"{ type = "http_proxy", uri = "http://127.0.0.1:9/x", request_parameters = { "integration.request.header.x" = "route.request.path.id" } }"#,
            "route.request.header.*",
        ),
        (
            r#"{ type = "http_proxy", uri = "http://127.0.0.1:9/x", request_parameters = { "overwrite:header.x" = "$context.connectionId" } }"#,
            "not a request mapping target",
        ),
        (
            r#"{ type = "http_proxy", uri = "http://127.0.0.1:9/x", request_parameters = { "integration.request.header.x" = "context.connectionid" } }"#,
            "did you mean `context.connectionId`",
        ),
        (
            r#"{ type = "http_proxy", uri = "http://127.0.0.1:9/x", response_parameters = { "200" = { "overwrite:header.x" = "'y'" } } }"#,
            "response parameter mapping is not supported",
        ),
    ] {
        let (ok, out) = check(&base(integration));
        assert!(!ok && out.contains(expect), "{integration}: {out}");
    }
    let good = r#"{ type = "http_proxy", uri = "http://127.0.0.1:9/x", request_parameters = { "integration.request.header.x-id" = "context.connectionId", "integration.request.querystring.q" = "'literal'" } }"#;
    let (ok, out) = check(&base(good));
    assert!(ok, "{out}");
}
