//! Test support: start the real `portico` binary on loopback, a scriptable upstream, raw HTTP clients.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

static COUNTER: AtomicUsize = AtomicUsize::new(0);

pub fn temp_path(name: &str) -> PathBuf {
    let n = COUNTER.fetch_add(1, Ordering::Relaxed);
    let dir = std::env::temp_dir().join(format!("portico-test-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    dir.join(format!("{n}-{name}"))
}

/// Which I/O driver the gateway runs on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Driver {
    Uring,
    Legacy,
}

pub const DRIVERS: [Driver; 2] = [Driver::Uring, Driver::Legacy];

pub struct Gateway {
    pub child: Child,
    pub port: u16,
    pub config_path: PathBuf,
    pub log_path: PathBuf,
}

impl Gateway {
    /// Starts `portico serve` on `config` (with `{port}` replaced by a free port) and waits for it.
    pub fn start(config: &str, driver: Driver) -> Gateway {
        let dir = temp_path("gateway");
        std::fs::create_dir_all(&dir).unwrap();
        Self::start_in(&dir, config, driver, &[])
    }

    /// As [`Gateway::start`], with the config written into `dir` (so relative paths in it resolve
    /// there) and extra environment variables for the process.
    pub fn start_in(dir: &std::path::Path, config: &str, driver: Driver, env: &[(&str, String)]) -> Gateway {
        let port = free_port();
        let config_path = dir.join(format!("portico-{port}.toml"));
        std::fs::write(&config_path, config.replace("{port}", &port.to_string())).unwrap();
        let shown = config_path.to_str().unwrap().to_owned();
        Self::start_env(&["serve", "-c", &shown], port, config_path, driver, env)
    }

    pub fn start_args(args: &[&str], port: u16, config_path: PathBuf, driver: Driver) -> Gateway {
        Self::start_env(args, port, config_path, driver, &[])
    }

    /// As [`Gateway::start_args`], with extra environment variables for the process.
    pub fn start_env(
        args: &[&str],
        port: u16,
        config_path: PathBuf,
        driver: Driver,
        env: &[(&str, String)],
    ) -> Gateway {
        let log_path = temp_path("portico.log");
        let log = std::fs::File::create(&log_path).unwrap();
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_portico"));
        cmd.args(args).stdout(Stdio::null()).stderr(log);
        for (k, v) in env {
            cmd.env(k, v);
        }
        if driver == Driver::Legacy {
            cmd.env("MONOIO_FORCE_LEGACY_DRIVER", "1");
        }
        let child = cmd.spawn().expect("start portico");
        let gw = Gateway { child, port, config_path, log_path };
        gw.wait_ready();
        gw
    }

    fn wait_ready(&self) {
        let deadline = Instant::now() + Duration::from_secs(20);
        while Instant::now() < deadline {
            if TcpStream::connect(("127.0.0.1", self.port)).is_ok() && self.log().contains("serving") {
                return;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        panic!("gateway did not start:\n{}", self.log());
    }

    pub fn addr(&self) -> SocketAddr {
        SocketAddr::from(([127, 0, 0, 1], self.port))
    }

    pub fn log(&self) -> String {
        std::fs::read_to_string(&self.log_path).unwrap_or_default()
    }

    pub fn signal(&self, sig: i32) {
        // SAFETY: sending a signal to our own child process.
        unsafe {
            libc::kill(self.child.id() as i32, sig);
        }
    }

    /// Waits for the process to exit; returns its exit code.
    pub fn wait_exit(&mut self, within: Duration) -> Option<i32> {
        let deadline = Instant::now() + within;
        while Instant::now() < deadline {
            if let Some(status) = self.child.try_wait().unwrap() {
                return status.code();
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        None
    }

    pub fn connect(&self) -> Client {
        Client::connect(self.addr())
    }

    /// One request on a new connection.
    pub fn send(&self, raw: &[u8]) -> Response {
        let mut c = self.connect();
        c.send(raw);
        c.read_response().expect("a response")
    }

    pub fn get(&self, path: &str) -> Response {
        self.send(format!("GET {path} HTTP/1.1\r\nHost: localhost\r\n\r\n").as_bytes())
    }
}

impl Drop for Gateway {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[derive(Debug, Clone)]
pub struct Response {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl Response {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.iter().find(|(n, _)| n.eq_ignore_ascii_case(name)).map(|(_, v)| v.as_str())
    }
    pub fn header_count(&self, name: &str) -> usize {
        self.headers.iter().filter(|(n, _)| n.eq_ignore_ascii_case(name)).count()
    }
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }
}

pub struct Client {
    pub reader: BufReader<TcpStream>,
}

impl Client {
    pub fn connect(addr: SocketAddr) -> Client {
        let stream = TcpStream::connect(addr).expect("connect");
        stream.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
        Client { reader: BufReader::new(stream) }
    }

    pub fn send(&mut self, raw: &[u8]) {
        self.reader.get_mut().write_all(raw).expect("send");
    }

    /// Reads one response (not for HEAD requests); `None` if the connection closed first.
    pub fn read_response(&mut self) -> Option<Response> {
        self.read_response_for(false)
    }

    pub fn read_response_for(&mut self, head_request: bool) -> Option<Response> {
        let mut line = String::new();
        if self.reader.read_line(&mut line).ok()? == 0 {
            return None;
        }
        let status: u16 = line.split(' ').nth(1)?.parse().ok()?;
        let mut headers = Vec::new();
        loop {
            let mut h = String::new();
            self.reader.read_line(&mut h).ok()?;
            let h = h.trim_end();
            if h.is_empty() {
                break;
            }
            let (n, v) = h.split_once(':')?;
            headers.push((n.to_owned(), v.trim().to_owned()));
        }
        let find = |name: &str| {
            headers.iter().find(|(n, _)| n.eq_ignore_ascii_case(name)).map(|(_, v): &(String, String)| v.clone())
        };
        let mut body = Vec::new();
        if head_request || status == 204 || status == 304 || (100..200).contains(&status) {
        } else if find("transfer-encoding").is_some_and(|t| t.eq_ignore_ascii_case("chunked")) {
            loop {
                let mut size = String::new();
                self.reader.read_line(&mut size).ok()?;
                let n = usize::from_str_radix(size.trim().split(';').next()?, 16).ok()?;
                if n == 0 {
                    let mut end = String::new();
                    self.reader.read_line(&mut end).ok()?;
                    break;
                }
                let mut chunk = vec![0; n + 2];
                self.reader.read_exact(&mut chunk).ok()?;
                body.extend_from_slice(&chunk[..n]);
            }
        } else if let Some(len) = find("content-length") {
            body = vec![0; len.parse().ok()?];
            self.reader.read_exact(&mut body).ok()?;
        } else {
            self.reader.read_to_end(&mut body).ok()?;
        }
        Some(Response { status, headers, body })
    }

    /// True if the server closed the connection (EOF or reset) within `within`.
    pub fn is_closed(&mut self, within: Duration) -> bool {
        if !self.reader.buffer().is_empty() {
            return false;
        }
        self.reader.get_ref().set_read_timeout(Some(within)).unwrap();
        let mut buf = [0u8; 1];
        // Peek, so a response that does arrive is left for `read_response`.
        match self.reader.get_ref().peek(&mut buf) {
            Ok(0) => true,
            Ok(_) => false,
            Err(e) => !matches!(e.kind(), std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut),
        }
    }
}

/// A request as the upstream saw it.
#[derive(Debug, Clone)]
pub struct Seen {
    #[allow(dead_code)]
    pub method: String,
    pub target: String,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
    /// Which accepted connection (0-based) it came on.
    pub connection: usize,
}

impl Seen {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.iter().find(|(n, _)| n.eq_ignore_ascii_case(name)).map(|(_, v)| v.as_str())
    }
    pub fn has(&self, name: &str) -> bool {
        self.header(name).is_some()
    }
}

/// What the upstream does with a request.
pub enum Reply {
    /// Raw bytes to write, then keep the connection open.
    Raw(Vec<u8>),
    /// Raw bytes, then close.
    RawClose(Vec<u8>),
    /// Sleep, then reply.
    After(Duration, Box<Reply>),
    /// Close without answering.
    Close,
    /// Each in turn (e.g. a response, then after a pause bytes nobody asked for).
    Seq(Vec<Reply>),
}

pub fn ok_json(body: &str) -> Reply {
    Reply::Raw(format!("HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: {}\r\nServer: test-upstream\r\n\r\n{body}", body.len()).into_bytes())
}

type Handler = Arc<dyn Fn(&Seen) -> Reply + Send + Sync>;

/// A real HTTP/1.1 upstream on loopback, one thread per connection, recording what it sees.
pub struct Upstream {
    pub addr: SocketAddr,
    pub seen: Arc<Mutex<Vec<Seen>>>,
    #[allow(dead_code)]
    pub connections: Arc<AtomicUsize>,
}

impl Upstream {
    pub fn start(handler: impl Fn(&Seen) -> Reply + Send + Sync + 'static) -> Upstream {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        let seen = Arc::new(Mutex::new(Vec::new()));
        let connections = Arc::new(AtomicUsize::new(0));
        let handler: Handler = Arc::new(handler);
        let (s, c) = (seen.clone(), connections.clone());
        std::thread::spawn(move || {
            for stream in listener.incoming() {
                let Ok(stream) = stream else { continue };
                let index = c.fetch_add(1, Ordering::SeqCst);
                let (s, h) = (s.clone(), handler.clone());
                std::thread::spawn(move || serve_upstream(stream, index, s, h));
            }
        });
        Upstream { addr, seen, connections }
    }

    pub fn seen(&self) -> Vec<Seen> {
        self.seen.lock().unwrap().clone()
    }

    pub fn last(&self) -> Seen {
        self.seen().last().cloned().expect("the upstream saw a request")
    }
}

fn serve_upstream(stream: TcpStream, connection: usize, seen: Arc<Mutex<Vec<Seen>>>, handler: Handler) {
    let mut reader = BufReader::new(stream);
    loop {
        let mut line = String::new();
        if reader.read_line(&mut line).unwrap_or(0) == 0 {
            return;
        }
        let mut parts = line.trim_end().splitn(3, ' ');
        let (method, target) = (parts.next().unwrap_or("").to_owned(), parts.next().unwrap_or("").to_owned());
        let mut headers = Vec::new();
        loop {
            let mut h = String::new();
            if reader.read_line(&mut h).unwrap_or(0) == 0 {
                return;
            }
            let h = h.trim_end();
            if h.is_empty() {
                break;
            }
            if let Some((n, v)) = h.split_once(':') {
                headers.push((n.to_owned(), v.trim().to_owned()));
            }
        }
        let find = |name: &str| {
            headers.iter().find(|(n, _): &&(String, String)| n.eq_ignore_ascii_case(name)).map(|(_, v)| v.clone())
        };
        let mut body = Vec::new();
        if find("transfer-encoding").is_some() {
            loop {
                let mut size = String::new();
                reader.read_line(&mut size).unwrap();
                let n = usize::from_str_radix(size.trim(), 16).unwrap();
                let mut chunk = vec![0; n + 2];
                reader.read_exact(&mut chunk).unwrap();
                if n == 0 {
                    break;
                }
                body.extend_from_slice(&chunk[..n]);
            }
        } else if let Some(len) = find("content-length") {
            body = vec![0; len.parse().unwrap()];
            reader.read_exact(&mut body).unwrap();
        }
        let request = Seen { method, target, headers, body, connection };
        seen.lock().unwrap().push(request.clone());
        if !perform(reader.get_mut(), handler(&request)) {
            return;
        }
    }
}

/// Carries out a reply; false when the connection is done.
fn perform(stream: &mut TcpStream, reply: Reply) -> bool {
    match reply {
        Reply::After(d, next) => {
            std::thread::sleep(d);
            perform(stream, *next)
        }
        Reply::Raw(bytes) => stream.write_all(&bytes).is_ok(),
        Reply::RawClose(bytes) => {
            let _ = stream.write_all(&bytes);
            let _ = stream.shutdown(Shutdown::Both);
            false
        }
        Reply::Close => {
            let _ = stream.shutdown(Shutdown::Both);
            false
        }
        Reply::Seq(replies) => replies.into_iter().all(|r| perform(stream, r)),
    }
}

/// A config with one API of `protocol` on `{port}`, stage `prod`, proxying to `upstream`.
pub fn proxy_config(protocol: &str, upstream: SocketAddr, extra_routes: &str) -> String {
    format!(
        r#"
[server]
listen = ["127.0.0.1:{{port}}"]
workers = 1
drain_timeout_ms = 3000

[limits]
header_timeout_ms = 1000
max_body_bytes = 1000000

[[api]]
name = "test"
protocol = "{protocol}"

[[api.stage]]
name = "prod"
variables = {{ backend = "{upstream}" }}

[[api.route]]
key = "GET /pets/{{id}}"
integration = {{ type = "http_proxy", uri = "http://${{stageVariables.backend}}/pets/{{id}}?from=gw" }}

[[api.route]]
key = "ANY /{{proxy+}}"
integration = {{ type = "http_proxy", uri = "http://${{stageVariables.backend}}/{{proxy}}", timeout_ms = 500 }}

[[api.route]]
key = "GET /ping"
integration = {{ type = "mock", body = '{{"pong":true}}' }}
{extra_routes}
"#
    )
}

/// Runs the `portico` binary with `args` and waits for it.
pub fn portico(args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_portico")).args(args).output().expect("run portico")
}

/// `portico check` on `config` (written to a fresh file): whether it passed, and what it printed on
/// stderr.
pub fn check(config: &str) -> (bool, String) {
    let path = temp_path("check.toml");
    std::fs::write(&path, config).unwrap();
    let out = portico(&["check", "-c", path.to_str().unwrap()]);
    (out.status.success(), String::from_utf8_lossy(&out.stderr).into_owned())
}

/// A GET to a plain HTTP/1.1 server (the admin listener), read to the end; (status, body).
pub fn http_get(addr: SocketAddr, path: &str) -> (u16, String) {
    http_request(addr, "GET", path)
}

pub fn http_request(addr: SocketAddr, method: &str, path: &str) -> (u16, String) {
    let mut s = TcpStream::connect(addr).expect("connect");
    s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    write!(s, "{method} {path} HTTP/1.1\r\nHost: admin\r\n\r\n").unwrap();
    let mut text = String::new();
    s.read_to_string(&mut text).expect("read the response");
    let status = text.get(9..12).and_then(|c| c.parse().ok()).unwrap_or(0);
    let body = text.split_once("\r\n\r\n").map_or(String::new(), |(_, b)| b.to_owned());
    (status, body)
}

/// The value of one sample in a Prometheus exposition: `series` is the name with its labels exactly
/// as exposed, e.g. `portico_requests_total{api="a",stage="prod",route="GET /x"}`.
pub fn sample(text: &str, series: &str) -> Option<f64> {
    text.lines().find_map(|l| l.strip_prefix(series)?.strip_prefix(' ')?.parse().ok())
}

/// Waits until `f` returns `Some`, at most `within`.
pub fn eventually<T>(within: Duration, mut f: impl FnMut() -> Option<T>) -> Option<T> {
    let deadline = Instant::now() + within;
    loop {
        if let Some(v) = f() {
            return Some(v);
        }
        if Instant::now() >= deadline {
            return None;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// A gateway with an admin listener on a port of its own.
pub struct AdminNode {
    pub gw: Gateway,
    pub admin: SocketAddr,
}

impl AdminNode {
    /// Starts the config `config(admin_port)` in `dir` (see [`Gateway::start_in`]).
    pub fn start_in(
        dir: &std::path::Path,
        config: impl FnOnce(u16) -> String,
        driver: Driver,
        env: &[(&str, String)],
    ) -> AdminNode {
        let admin = free_port();
        let gw = Gateway::start_in(dir, &config(admin), driver, env);
        AdminNode { gw, admin: SocketAddr::from(([127, 0, 0, 1], admin)) }
    }

    /// `GET path` with an `x-api-key`.
    pub fn get_with_key(&self, path: &str, key: &str) -> Response {
        self.gw.send(format!("GET {path} HTTP/1.1\r\nHost: x\r\nx-api-key: {key}\r\n\r\n").as_bytes())
    }
}

/// A REST API `shop` with stage `prod` and `GET /items` (a mock that needs an API key), 2 workers,
/// an admin listener and a quota state file in the config's folder; `extra` goes before the API
/// (e.g. `[cluster]`), `keys_and_plans` after it.
pub fn shop_config(admin: u16, extra: &str, keys_and_plans: &str) -> String {
    format!(
        r#"
[server]
listen = ["127.0.0.1:{{port}}"]
workers = 2
[admin]
listen = "127.0.0.1:{admin}"
[quota]
state_file = "quota.json"
{extra}
[[api]]
name = "shop"
protocol = "rest"
[[api.stage]]
name = "prod"
[[api.route]]
key = "GET /items"
api_key_required = true
integration = {{ type = "mock", body = "items" }}
{keys_and_plans}
"#
    )
}

/// Parses a scrape with a strict parser, the Prometheus Python client's (which raises on any
/// malformed line); returns `name type samples` per family.
pub fn prometheus_families(text: &str) -> String {
    let mut python = Command::new("python3")
        .args(["-c", PARSE])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("python3 (install prometheus-client: .ci/run does)");
    python.stdin.take().unwrap().write_all(text.as_bytes()).unwrap();
    let out = python.wait_with_output().unwrap();
    assert!(out.status.success(), "prometheus_client rejected the scrape: {}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8_lossy(&out.stdout).into_owned()
}

const PARSE: &str = r#"
import sys
from prometheus_client.parser import text_string_to_metric_families
for f in text_string_to_metric_families(sys.stdin.read()):
    print(f.name, f.type, len(f.samples))
"#;

/// A function endpoint's side of an invocation: 200 with `payload` as the body (plus `extra` head
/// lines, `X-Amz-Function-Error: Unhandled\r\n` for a function error).
pub fn function_answer(payload: &str, extra: &str) -> Reply {
    Reply::Raw(
        format!(
            "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: {}\r\n{extra}\r\n{payload}",
            payload.len()
        )
        .into_bytes(),
    )
}

/// A function endpoint that answers every invocation with the event it got as the response body,
/// so a test reads what the function saw from what the client gets.
pub fn event_echo() -> Upstream {
    Upstream::start(|seen| {
        let body = serde_json::json!({"statusCode": 200, "body": String::from_utf8_lossy(&seen.body)}).to_string();
        function_answer(&body, "")
    })
}

/// A Python stand-in for an AWS API (`tests/fixtures/SCRIPT`), started with its arguments; it
/// prints `ready PORT` once it listens, and is killed when dropped.
pub struct PyStub {
    child: Child,
    pub addr: SocketAddr,
}

impl PyStub {
    pub fn start(script: &str, args: &[&str]) -> PyStub {
        let script = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures").join(script);
        let mut child = Command::new("python3")
            .arg(script)
            .args(args)
            .stdout(Stdio::piped())
            .spawn()
            .expect("python3 runs the stub (pip install botocore)");
        let mut line = String::new();
        BufReader::new(child.stdout.take().unwrap()).read_line(&mut line).unwrap();
        let port: u16 = line
            .trim()
            .strip_prefix("ready ")
            .and_then(|p| p.parse().ok())
            .unwrap_or_else(|| panic!("the stub did not start: {line:?} (pip install botocore)"));
        PyStub { child, addr: SocketAddr::from(([127, 0, 0, 1], port)) }
    }
}

impl Drop for PyStub {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
