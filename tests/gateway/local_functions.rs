//! Local handler processes over the Lambda Runtime API: unmodified handlers on AWS's own runtime
//! interface clients — Python's `awslambdaric` (PyPI) and Rust's `lambda_runtime` (a fixture
//! crate) — started, restarted and killed by Portico, over real sockets.

use std::path::{Path, PathBuf};
use std::time::Duration;

use serde_json::Value;

use crate::support::*;

/// A fresh directory for the gateway's config.
fn dir() -> PathBuf {
    let dir = temp_path("fn");
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures")
}

/// A config whose `ANY /{proxy+}` invokes `hello`, a local function of `command` (TOML array).
fn config(protocol: &str, command: &str, function_extra: &str, integration_extra: &str) -> String {
    format!(
        r#"
[server]
listen = ["127.0.0.1:{{port}}"]
workers = 2

[[function]]
name = "hello"
command = {command}
working_dir = "{dir}"
env = {{ GREETING = "hi" }}
{function_extra}

[[api]]
name = "shop"
protocol = "{protocol}"

[[api.stage]]
name = "prod"

[[api.route]]
key = "ANY /{{proxy+}}"
integration = {{ type = "function", target = "hello" {integration_extra} }}
"#,
        dir = fixtures().join("python-handler").display()
    )
}

const PYTHON: &str = r#"["python3", "-m", "awslambdaric", "app.handler"]"#;

fn json(r: &Response) -> Value {
    serde_json::from_slice(&r.body).unwrap_or_else(|e| panic!("{e}: {} {}", r.status, r.text()))
}

/// Checks that the Python runtime interface client is installed (`.ci/run` installs it): a
/// missing one must fail the suite, not skip it.
fn require_awslambdaric() {
    let ok =
        std::process::Command::new("python3").args(["-c", "import awslambdaric"]).status().is_ok_and(|s| s.success());
    assert!(ok, "python3 -m pip install awslambdaric (the README's test set-up does)");
}

#[test]
fn an_awslambdaric_handler_runs_unchanged() {
    require_awslambdaric();
    for driver in DRIVERS {
        for (protocol, format) in [("rest", ""), ("http", ""), ("http", ", payload_format = \"1.0\"")] {
            let gw = Gateway::start_in(
                &dir(),
                &config(protocol, PYTHON, "memory_mb = 256", format),
                driver,
                &[("PORTICO_TEST_SECRET", "leak".into())],
            );
            let r = gw.send(
                b"POST /prod/pets/7 HTTP/1.1\r\nHost: h\r\nContent-Type: text/plain\r\nContent-Length: 5\r\n\r\nhello",
            );
            assert_eq!(r.status, 200, "{protocol}{format} {driver:?}: {}", r.text());
            assert_eq!(r.header("x-handler"), Some("python"));
            let e = json(&r);
            assert_eq!(e["path"], "/pets/7");
            assert_eq!(e["body"], "hello");
            assert_eq!(e["function"], "hello");
            assert_eq!(e["memory"], "256");
            assert_eq!(e["arn"], "arn:aws:lambda:us-east-1:123456789012:function:hello");
            assert_eq!(e["greeting"], "hi", "the function's env");
            assert_eq!(e["secret"], Value::Null, "the gateway's own environment stays out");
            assert!(e["remaining_ms"].as_i64().is_some_and(|ms| ms > 0 && ms <= 3000), "{}", e["remaining_ms"]);
            assert_eq!(e["request_id"].as_str().map(str::len), Some(36));
            if format.is_empty() && protocol == "http" {
                assert_eq!(e["version"], "2.0");
                assert_eq!(r.header("set-cookie"), Some("session=1"));
            } else {
                assert_eq!(r.header_count("x-multi"), 2);
            }
        }
    }
}

#[test]
fn failures_are_aws_answers_and_processes_come_back() {
    require_awslambdaric();
    for driver in DRIVERS {
        let gw = Gateway::start_in(&dir(), &config("rest", PYTHON, "timeout_ms = 1000", ""), driver, &[]);
        let pid = |gw: &Gateway| json(&gw.get("/prod/pid"))["pid"].as_u64().expect("a pid");
        let first = pid(&gw);
        // An exception: a function error.
        let r = gw.get("/prod/raise");
        assert_eq!((r.status, r.text().as_str()), (502, r#"{"message":"Internal server error"}"#), "{driver:?}");
        // A crash fails the invocation it held; the process is started again.
        assert_eq!(gw.get("/prod/crash").status, 502);
        // A hang past the function's timeout: killed, a function error, another process.
        let started = std::time::Instant::now();
        assert_eq!(gw.get("/prod/hang").status, 502);
        assert!(started.elapsed() < Duration::from_secs(30));
        let after = eventually(Duration::from_secs(20), || {
            let r = gw.get("/prod/pid");
            (r.status == 200).then(|| json(&r)["pid"].as_u64()).flatten()
        })
        .expect("a process answers again");
        assert!(first != after || gw.log().contains("exited"), "processes were replaced");
        let log = gw.log();
        assert!(log.contains("handler process") && log.contains("exited"), "{log}");
    }
}

#[test]
fn the_integration_timeout_is_504_before_the_function_timeout() {
    require_awslambdaric();
    let gw = Gateway::start_in(
        &dir(),
        &config("rest", PYTHON, "timeout_ms = 60000", ", timeout_ms = 300"),
        Driver::Uring,
        &[],
    );
    let r = gw.get("/prod/hang");
    assert_eq!((r.status, r.text().as_str()), (504, r#"{"message":"Endpoint request timed out"}"#));
}

#[test]
fn a_handler_that_cannot_start_answers_with_errors() {
    require_awslambdaric();
    for command in [
        r#"["python3", "-m", "awslambdaric", "app.nothing_here"]"#,
        r#"["/nonexistent/handler"]"#,
        r#"["python3", "-c", "import sys; sys.exit(1)"]"#,
    ] {
        let gw = Gateway::start_in(&dir(), &config("http", command, "", ", timeout_ms = 20000"), Driver::Legacy, &[]);
        let started = std::time::Instant::now();
        let r = gw.get("/prod/x");
        assert_eq!((r.status, r.text().as_str()), (500, r#"{"message":"Internal Server Error"}"#), "{command}");
        assert!(started.elapsed() < Duration::from_secs(15), "{command}: answered, not left to time out");
    }
}

#[test]
fn handler_processes_die_with_the_gateway_and_survive_reloads() {
    require_awslambdaric();
    let dir = dir();
    let mut gw = Gateway::start_in(&dir, &config("http", PYTHON, "concurrency = 2", ""), Driver::Uring, &[]);
    let pid = json(&gw.get("/prod/x"))["pid"].as_u64().unwrap();
    // A reload with the function unchanged keeps its warm processes.
    std::fs::write(&gw.config_path, std::fs::read_to_string(&gw.config_path).unwrap() + "\n# touched\n").unwrap();
    gw.signal(libc::SIGHUP);
    std::thread::sleep(Duration::from_millis(500));
    let pids: std::collections::BTreeSet<u64> =
        (0..6).map(|_| json(&gw.get("/prod/x"))["pid"].as_u64().unwrap()).collect();
    assert!(pids.contains(&pid) || pids.len() == 2, "warm processes kept across the reload: {pid} vs {pids:?}");
    let alive = |pid: u64| Path::new(&format!("/proc/{pid}")).exists();
    assert!(alive(pid));
    gw.signal(libc::SIGKILL);
    gw.wait_exit(Duration::from_secs(5));
    assert!(
        eventually(Duration::from_secs(5), || (!alive(pid)).then_some(())).is_some(),
        "handler {pid} outlived the gateway"
    );
}

/// Builds the `lambda_runtime` fixture (once per run; cargo makes it a no-op when it is fresh).
fn rust_handler() -> PathBuf {
    let manifest = fixtures().join("rust-handler/Cargo.toml");
    let target = Path::new(env!("CARGO_MANIFEST_DIR")).join("target/rust-handler");
    let status = std::process::Command::new(env!("CARGO"))
        .args(["build", "--release", "--locked", "--manifest-path"])
        .arg(&manifest)
        .env("CARGO_TARGET_DIR", &target)
        .status()
        .expect("run cargo");
    assert!(status.success(), "the lambda_runtime fixture builds");
    target.join("release/portico-rust-handler")
}

#[test]
fn a_lambda_runtime_handler_runs_unchanged() {
    let binary = rust_handler();
    for driver in DRIVERS {
        let command = format!("[\"{}\"]", binary.display());
        let gw = Gateway::start_in(&dir(), &config("http", &command, "", ""), driver, &[]);
        let r = gw.send(b"PUT /prod/items/9?q=search HTTP/1.1\r\nHost: h\r\nContent-Type: application/json\r\nContent-Length: 7\r\n\r\n{\"a\":1}");
        assert_eq!(r.status, 200, "{driver:?}: {}", r.text());
        let e = json(&r);
        assert_eq!(e["runtime"], "lambda_runtime");
        assert_eq!(e["path"], "/items/9");
        assert_eq!(e["method"], "PUT");
        assert_eq!(e["query"], "search");
        assert_eq!(e["id"], "items/9");
        assert_eq!(e["body"], "{\"a\":1}");
        assert_eq!(e["function"], "hello");
        assert_eq!(e["requestId"].as_str().map(str::len), Some(36));
        // An error returned by the handler is a function error.
        let r = gw.get("/prod/fail");
        assert_eq!((r.status, r.text().as_str()), (500, r#"{"message":"Internal Server Error"}"#));
    }
}

/// The README's quickstart function, as `portico invoke` runs it (no fixed ports needed).
#[test]
fn the_quickstart_function_answers() {
    require_awslambdaric();
    let config = concat!(env!("CARGO_MANIFEST_DIR"), "/configs/quickstart.toml");
    let out = portico(&["invoke", "-c", config, "--path", "/hello?name=you"]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{stdout}{}", String::from_utf8_lossy(&out.stderr));
    assert!(stdout.contains("route `GET /hello` -> function hello (payload 2.0)"), "{stdout}");
    assert!(stdout.contains("HTTP/1.1 200") && stdout.contains(r#""message": "hello, you""#), "{stdout}");
}

#[test]
fn cold_starts_are_counted() {
    require_awslambdaric();
    let admin = free_port();
    let config =
        config("http", PYTHON, "concurrency = 2", "") + &format!("\n[admin]\nlisten = \"127.0.0.1:{admin}\"\n");
    let gw = Gateway::start_in(&dir(), &config, Driver::Uring, &[]);
    assert_eq!(gw.get("/prod/x").status, 200);
    let admin = std::net::SocketAddr::from(([127, 0, 0, 1], admin));
    let starts = || sample(&http_get(admin, "/metrics").1, "portico_function_cold_starts_total{function=\"hello\"}");
    assert_eq!(starts(), Some(2.0), "two warm processes");
    assert_eq!(gw.get("/prod/crash").status, 500);
    assert!(eventually(Duration::from_secs(10), || (starts() == Some(3.0)).then_some(())).is_some(), "{:?}", starts());
    let errors = || sample(&http_get(admin, "/metrics").1, "portico_function_errors_total{function=\"hello\"}");
    assert!(eventually(Duration::from_secs(5), || (errors() == Some(1.0)).then_some(())).is_some(), "{:?}", errors());
    let text = http_get(admin, "/metrics").1;
    assert_eq!(sample(&text, "portico_function_concurrency{function=\"hello\"}"), Some(0.0));
}

/// A handler that never gets ready: requests time out, and what they queued goes with them.
#[test]
fn a_handler_that_never_gets_ready_does_not_pile_up_invocations() {
    let admin = free_port();
    let never = r#"["python3", "-c", "import time; time.sleep(600)"]"#;
    let config = config("http", never, "queue_timeout_ms = 0", ", timeout_ms = 300")
        + &format!("\n[admin]\nlisten = \"127.0.0.1:{admin}\"\n");
    let gw = Gateway::start_in(&dir(), &config, Driver::Uring, &[]);
    for _ in 0..5 {
        let r = gw.get("/prod/x");
        assert_eq!((r.status, r.text().as_str()), (503, r#"{"message":"Service Unavailable"}"#));
    }
    let admin = std::net::SocketAddr::from(([127, 0, 0, 1], admin));
    let queued = || sample(&http_get(admin, "/metrics").1, "portico_function_queued{function=\"hello\"}");
    assert!(eventually(Duration::from_secs(5), || (queued() == Some(0.0)).then_some(())).is_some(), "{:?}", queued());
}
