//! Observability over real sockets: Prometheus metrics on the admin listener, access log lines,
//! W3C trace context towards upstreams, log rotation, a blocked log sink, the admin endpoints.

use std::io::{Read, Write};
use std::net::SocketAddr;
use std::path::Path;
use std::time::Duration;

use crate::support::*;

const CONFIG: &str = r#"
[server]
listen = ["127.0.0.1:{port}"]
workers = 2
drain_timeout_ms = 3000

[admin]
listen = "127.0.0.1:{admin}"

[access_log]
buffer_bytes = {buffer}

[[api]]
name = "shop"
protocol = "http"

[[api.stage]]
name = "prod"
variables = { backend = "{upstream}", version = "v7" }
access_log = { destination = "{log}", format = '{format}' }

[[api.route]]
key = "GET /items/{id}"
integration = { type = "http_proxy", uri = "http://${stageVariables.backend}/items/{id}", timeout_ms = 2000 }

[[api.route]]
key = "GET /ping"
integration = { type = "mock", body = "pong" }
"#;

const JSON_FORMAT: &str = r#"{"id":"$context.requestId","ip":"$context.identity.sourceIp","method":"$context.httpMethod","route":"$context.routeKey","path":"$context.path","status":$context.status,"len":$context.responseLength,"lat":$context.responseLatency,"ilat":"$context.integrationLatency","istatus":"$context.integrationStatus","ierr":"$context.integrationErrorMessage","err":"$context.error.message","etype":"$context.error.responseType","stage":"$context.stage","api":"$context.apiId","host":"$context.domainName","ua":"$context.identity.userAgent","trace":"$context.traceId","time":"$context.requestTime","epoch":$context.requestTimeEpoch,"caller":"$context.identity.caller","v":"$stageVariables.version"}"#;

struct Setup {
    gw: Gateway,
    admin: SocketAddr,
    log: std::path::PathBuf,
    upstream: Upstream,
}

fn upstream() -> Upstream {
    Upstream::start(|seen| match seen.target.as_str() {
        "/items/404" => Reply::Raw(b"HTTP/1.1 404 Not Found\r\nContent-Length: 9\r\n\r\nnot found".to_vec()),
        "/items/close" => Reply::Close,
        _ => ok_json(r#"{"item":1}"#),
    })
}

fn start(driver: Driver, log: &Path, format: &str, buffer_bytes: usize) -> Setup {
    let upstream = upstream();
    let admin_port = free_port();
    let config = CONFIG
        .replace("{admin}", &admin_port.to_string())
        .replace("{upstream}", &upstream.addr.to_string())
        .replace("{log}", log.to_str().unwrap())
        .replace("{format}", format)
        .replace("{buffer}", &buffer_bytes.to_string());
    let gw = Gateway::start(&config, driver);
    let admin = SocketAddr::from(([127, 0, 0, 1], admin_port));
    Setup { gw, admin, log: log.to_owned(), upstream }
}

fn route(name: &str, route: &str) -> String {
    format!("{name}{{api=\"shop\",stage=\"prod\",route=\"{route}\"}}")
}

fn worker_sum(text: &str, name: &str) -> f64 {
    (0..2).filter_map(|w| sample(text, &format!("{name}{{worker=\"{w}\"}}"))).sum()
}

#[test]
fn metrics_follow_each_outcome_and_parse_as_prometheus_text() {
    for driver in DRIVERS {
        let s = start(driver, &temp_path("access.log"), "clf", 256 * 1024);
        for _ in 0..3 {
            assert_eq!(s.gw.get("/prod/items/1").status, 200);
        }
        assert_eq!(s.gw.get("/prod/items/404").status, 404);
        assert_eq!(s.gw.get("/prod/items/close").status, 502);
        assert_eq!(s.gw.get("/prod/ping").status, 200);
        assert_eq!(s.gw.get("/prod/ping").status, 200);
        assert_eq!(s.gw.get("/prod/nothing").status, 404);
        assert_eq!(s.gw.get("/elsewhere").status, 404);

        // A request is counted just after its response is written, by the worker that served it:
        // with two workers the last request can be counted before an earlier one, so wait until
        // every request is, by the series each request updates last (its integration's latency,
        // else its own).
        let unmatched = r#"portico_requests_total{api="",stage="",route=""}"#;
        let items = "GET /items/{id}";
        let counted = |text: &str| {
            [
                (route("portico_integration_duration_seconds_count", items), 5.0),
                (route("portico_request_duration_seconds_count", "GET /ping"), 2.0),
                (route("portico_request_duration_seconds_count", "(no route)"), 1.0),
                (r#"portico_request_duration_seconds_count{api="",stage="",route=""}"#.to_string(), 1.0),
            ]
            .iter()
            .all(|(name, n)| sample(text, name) == Some(*n))
        };
        let text = eventually(Duration::from_secs(5), || {
            let (status, text) = http_get(s.admin, "/metrics");
            (status == 200 && counted(&text)).then_some(text)
        })
        .expect("every request counted");
        let v = |name: &str, r: &str| sample(&text, &route(name, r)).unwrap_or_else(|| panic!("{name} {r}\n{text}"));
        assert_eq!(v("portico_requests_total", items), 5.0, "{driver:?}");
        assert_eq!(v("portico_requests_4xx_total", items), 1.0);
        assert_eq!(v("portico_requests_5xx_total", items), 1.0);
        assert_eq!(v("portico_request_duration_seconds_count", items), 5.0);
        assert_eq!(v("portico_integration_duration_seconds_count", items), 5.0);
        assert!(v("portico_request_duration_seconds_sum", items) > 0.0);
        assert!(v("portico_request_bytes_total", items) > 5.0 * 30.0);
        assert!(v("portico_response_bytes_total", items) > 3.0 * 10.0);
        assert_eq!(v("portico_requests_total", "GET /ping"), 2.0);
        assert_eq!(v("portico_requests_4xx_total", "GET /ping"), 0.0);
        assert_eq!(v("portico_integration_duration_seconds_count", "GET /ping"), 0.0);
        assert_eq!(v("portico_requests_total", "(no route)"), 1.0);
        assert_eq!(v("portico_requests_4xx_total", "(no route)"), 1.0);
        assert_eq!(sample(&text, unmatched), Some(1.0));
        let le = |b: &str| {
            format!(
                "portico_request_duration_seconds_bucket{{api=\"shop\",stage=\"prod\",route=\"GET /ping\",le=\"{b}\"}}"
            )
        };
        assert_eq!(sample(&text, &le("+Inf")), Some(2.0));
        assert!(sample(&text, &le("0.00005")).unwrap() <= sample(&text, &le("1")).unwrap());
        assert!(worker_sum(&text, "portico_connections_accepted_total") >= 9.0);
        assert!(worker_sum(&text, "portico_upstream_connections_created_total") >= 1.0);
        assert_eq!(sample(&text, "portico_config_generation"), Some(1.0));
        assert_eq!(sample(&text, "portico_workers"), Some(2.0));

        let families = prometheus_families(&text);
        assert!(families.contains("portico_request_duration_seconds histogram"), "{families}");
        assert!(families.contains("portico_requests counter"), "{families}");
    }
}

fn log_lines(path: &Path, n: usize) -> Vec<serde_json::Value> {
    eventually(Duration::from_secs(5), || {
        let text = std::fs::read_to_string(path).ok()?;
        let lines: Vec<_> = text.lines().map(|l| serde_json::from_str(l).expect("each line is JSON")).collect();
        (lines.len() >= n).then_some(lines)
    })
    .unwrap_or_else(|| panic!("{n} lines in {}", path.display()))
}

#[test]
fn access_log_lines_match_the_configured_format_field_by_field() {
    let s = start(Driver::Uring, &temp_path("access.log"), JSON_FORMAT, 256 * 1024);
    let trace = "4bf92f3577b34da6a3ce929d0e0e4736";
    let ok = s.gw.send(
        format!("GET /prod/items/1 HTTP/1.1\r\nHost: api.example.com\r\nUser-Agent: evil\"agent\r\ntraceparent: 00-{trace}-00f067aa0ba902b7-01\r\n\r\n")
            .as_bytes(),
    );
    assert_eq!(ok.status, 200);
    let lines = log_lines(&s.log, 1);
    let l = &lines[0];
    assert_eq!(l["id"], ok.header("apigw-requestid").unwrap());
    assert_eq!(l["ip"], "127.0.0.1");
    assert_eq!(l["method"], "GET");
    assert_eq!(l["route"], "GET /items/{id}");
    assert_eq!(l["path"], "/prod/items/1");
    assert_eq!(l["status"], 200);
    assert_eq!(l["len"], ok.body.len());
    assert!(l["lat"].as_u64().is_some());
    assert!(l["ilat"].as_str().unwrap().parse::<u64>().is_ok(), "{l}");
    assert_eq!(l["istatus"], "200");
    assert_eq!(l["ierr"], "-");
    assert_eq!(l["err"], "-");
    assert_eq!(l["etype"], "-");
    assert_eq!((l["stage"].as_str(), l["api"].as_str(), l["v"].as_str()), (Some("prod"), Some("shop"), Some("v7")));
    assert_eq!(l["host"], "api.example.com");
    assert_eq!(l["ua"], "evil\"agent");
    assert_eq!(l["trace"], trace);
    assert_eq!(l["caller"], "-");
    let epoch = l["epoch"].as_u64().unwrap();
    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_millis() as u64;
    assert!(now - epoch < 10_000, "{epoch} vs {now}");
    assert!(l["time"].as_str().unwrap().ends_with(" +0000"), "{l}");

    let bad = s.gw.get("/prod/items/close");
    assert_eq!(bad.status, 502);
    let missing = s.gw.get("/prod/nothing");
    assert_eq!(missing.status, 404);
    let lines = log_lines(&s.log, 3);
    let by_path = |p: &str| lines.iter().find(|l| l["path"] == p).unwrap_or_else(|| panic!("{p}: {lines:?}"));
    let l = by_path("/prod/items/close");
    assert_eq!(l["status"], 502);
    assert_ne!(l["ierr"], "-");
    assert_eq!(l["istatus"], "-");
    let message: serde_json::Value = serde_json::from_slice(&bad.body).unwrap();
    assert_eq!(l["err"], message["message"]);
    assert_eq!(l["etype"], "INTEGRATION_FAILURE");
    let l = by_path("/prod/nothing");
    assert_eq!((l["status"].as_u64(), l["route"].as_str()), (Some(404), Some("-")));
    assert_eq!((l["err"].as_str(), l["etype"].as_str()), (Some("Not Found"), Some("MISSING_AUTHENTICATION_TOKEN")));
    assert_eq!(l["ilat"], "-");
}

#[test]
fn traceparent_continues_the_clients_trace_or_starts_one() {
    let s = start(Driver::Uring, &temp_path("access.log"), "clf", 256 * 1024);
    let incoming = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";
    let r = s.gw.send(
        format!("GET /prod/items/1 HTTP/1.1\r\nHost: x\r\ntraceparent: {incoming}\r\ntracestate: vendor=1\r\n\r\n")
            .as_bytes(),
    );
    assert_eq!(r.status, 200);
    let seen = s.upstream.last();
    let sent = seen.header("traceparent").expect("traceparent forwarded");
    assert_eq!(&sent[..36], &incoming[..36], "same version and trace id");
    assert_ne!(&sent[36..52], &incoming[36..52], "Portico is the new parent");
    assert!(sent.ends_with("-01"));
    assert_eq!(seen.header("tracestate"), Some("vendor=1"));
    assert_eq!(seen.headers.iter().filter(|(n, _)| n.eq_ignore_ascii_case("traceparent")).count(), 1);

    for header in ["", "traceparent: garbage\r\ntracestate: vendor=1\r\n"] {
        let r = s.gw.send(format!("GET /prod/items/2 HTTP/1.1\r\nHost: x\r\n{header}\r\n").as_bytes());
        assert_eq!(r.status, 200);
        let seen = s.upstream.last();
        let sent = seen.header("traceparent").expect("a new trace");
        let fields: Vec<&str> = sent.split('-').collect();
        assert_eq!(fields.iter().map(|f| f.len()).collect::<Vec<_>>(), [2, 32, 16, 2], "{sent}");
        assert!(fields.iter().all(|f| f.bytes().all(|b| b.is_ascii_hexdigit() && !b.is_ascii_uppercase())));
        assert!(!seen.has("tracestate"), "the old trace's state is dropped");
    }
}

#[test]
fn a_blocked_log_sink_drops_and_counts_lines_instead_of_stalling_requests() {
    let fifo = temp_path("blocked.fifo");
    let c = std::ffi::CString::new(fifo.to_str().unwrap()).unwrap();
    // SAFETY: a valid NUL-terminated path.
    assert_eq!(unsafe { libc::mkfifo(c.as_ptr(), 0o600) }, 0);
    // Nobody ever reads the pipe: the log writer blocks opening it, for good.
    let mut s = start(Driver::Uring, &fifo, JSON_FORMAT, 4096);
    let mut client = s.gw.connect();
    for i in 0..3000 {
        client.send(b"GET /prod/ping HTTP/1.1\r\nHost: x\r\n\r\n");
        let r = client.read_response().unwrap_or_else(|| panic!("request {i} got no response"));
        assert_eq!(r.status, 200);
    }
    // A request is logged just after its response is written: wait for the last one.
    let text = eventually(Duration::from_secs(2), || {
        let (_, text) = http_get(s.admin, "/metrics");
        let total = worker_sum(&text, "portico_access_log_dropped_lines_total")
            + worker_sum(&text, "portico_access_log_lines_total");
        (total == 3000.0).then_some(text)
    })
    .expect("every request logged or counted as dropped");
    assert!(worker_sum(&text, "portico_access_log_dropped_lines_total") > 0.0, "{text}");
    s.gw.signal(libc::SIGTERM);
    assert_eq!(s.gw.wait_exit(Duration::from_secs(15)), Some(0), "{}", s.gw.log());
    assert!(s.gw.log().contains("access log writer still blocked"), "{}", s.gw.log());
}

#[test]
fn sigusr1_reopens_access_log_files_for_rotation() {
    let log = temp_path("rotate.log");
    let s = start(Driver::Uring, &log, "clf", 256 * 1024);
    assert_eq!(s.gw.get("/prod/ping").status, 200);
    let count = |p: &Path| std::fs::read_to_string(p).map_or(0, |t| t.lines().count());
    assert!(eventually(Duration::from_secs(5), || (count(&log) == 1).then_some(())).is_some());
    let rotated = log.with_extension("log.1");
    std::fs::rename(&log, &rotated).unwrap();
    s.gw.signal(libc::SIGUSR1);
    assert!(eventually(Duration::from_secs(5), || s.gw.log().contains("reopening").then_some(())).is_some());
    assert_eq!(s.gw.get("/prod/ping").status, 200);
    assert!(eventually(Duration::from_secs(5), || (count(&log) == 1).then_some(())).is_some(), "a new file");
    assert_eq!(count(&rotated), 1, "the old file got nothing more");
    let line = std::fs::read_to_string(&log).unwrap();
    assert!(line.starts_with("127.0.0.1 - - ["), "{line}");
    assert!(line.contains("\"GET GET /ping HTTP/1.1\" 200 4 "), "{line}");
}

#[test]
fn admin_endpoints_report_health_readiness_and_the_loaded_config() {
    let s = start(Driver::Legacy, &temp_path("access.log"), "json", 256 * 1024);
    assert_eq!(http_get(s.admin, "/healthz"), (200, "ok\n".into()));
    let (status, body) = http_get(s.admin, "/readyz");
    assert_eq!(status, 200, "{body}");
    let (status, body) = http_get(s.admin, "/config");
    assert_eq!(status, 200);
    let config: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert_eq!(config["generation"], 1);
    assert_eq!(config["table"]["apis"][0]["routes"][0]["key"], "GET /items/{id}");
    assert_eq!(http_get(s.admin, "/nope").0, 404);
    assert_eq!(http_request(s.admin, "POST", "/metrics").0, 405);

    // A reload bumps the generation and the success counter; a broken config bumps the failures.
    let original = std::fs::read_to_string(&s.gw.config_path).unwrap();
    std::fs::write(&s.gw.config_path, original.replace("body = \"pong\"", "body = \"pong2\"")).unwrap();
    s.gw.signal(libc::SIGHUP);
    let gen2 = eventually(Duration::from_secs(5), || {
        let (_, body) = http_get(s.admin, "/config");
        let v: serde_json::Value = serde_json::from_str(&body).ok()?;
        (v["generation"] == 2).then_some(())
    });
    assert!(gen2.is_some());
    std::fs::write(&s.gw.config_path, "not toml [").unwrap();
    s.gw.signal(libc::SIGHUP);
    let counted = eventually(Duration::from_secs(5), || {
        let (_, text) = http_get(s.admin, "/metrics");
        (sample(&text, "portico_config_reloads_failed_total") == Some(1.0)).then_some(text)
    })
    .expect("the failed reload is counted");
    assert_eq!(sample(&counted, "portico_config_reloads_succeeded_total"), Some(1.0));
    assert_eq!(sample(&counted, "portico_config_generation"), Some(2.0));

    // HEAD gets the headers a GET would.
    let mut c = std::net::TcpStream::connect(s.admin).unwrap();
    c.write_all(b"HEAD /healthz HTTP/1.1\r\nHost: a\r\n\r\n").unwrap();
    let mut text = String::new();
    c.read_to_string(&mut text).unwrap();
    assert!(
        text.starts_with("HTTP/1.1 200 OK\r\n") && text.contains("Content-Length: 3\r\n") && text.ends_with("\r\n\r\n")
    );
}

#[test]
fn top_shows_live_rates_per_route() {
    let s = start(Driver::Uring, &temp_path("access.log"), "clf", 256 * 1024);
    let addr = s.gw.addr();
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let flag = stop.clone();
    let load = std::thread::spawn(move || {
        let mut c = Client::connect(addr);
        while !flag.load(std::sync::atomic::Ordering::Relaxed) {
            c.send(b"GET /prod/ping HTTP/1.1\r\nHost: x\r\n\r\n");
            assert_eq!(c.read_response().expect("response").status, 200);
        }
    });
    let out = portico(&["top", "--admin", &s.admin.to_string(), "--interval", "0.5", "--once"]);
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    load.join().unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let ping = text.lines().find(|l| l.contains("GET /ping")).unwrap_or_else(|| panic!("{text}"));
    let rps: f64 = ping.split_whitespace().nth(4).and_then(|v| v.parse().ok()).unwrap_or_else(|| panic!("{ping}"));
    assert!(rps > 0.0, "{text}");
    assert!(text.lines().next().unwrap().starts_with("portico top"), "{text}");

    let down = portico(&["top", "--admin", &format!("127.0.0.1:{}", free_port()), "--once"]);
    assert!(!down.status.success());
    assert!(String::from_utf8_lossy(&down.stderr).contains("cannot reach the admin listener"));
}

#[test]
fn a_clean_exit_writes_every_buffered_line() {
    let log = temp_path("exit.log");
    let mut s = start(Driver::Uring, &log, "clf", 256 * 1024);
    let mut c = s.gw.connect();
    for _ in 0..500 {
        c.send(b"GET /prod/ping HTTP/1.1\r\nHost: x\r\n\r\n");
        assert_eq!(c.read_response().expect("response").status, 200);
    }
    drop(c);
    s.gw.signal(libc::SIGTERM);
    assert_eq!(s.gw.wait_exit(Duration::from_secs(10)), Some(0));
    assert!(!s.gw.log().contains("still blocked"), "{}", s.gw.log());
    assert_eq!(std::fs::read_to_string(&log).unwrap().lines().count(), 500);
}
