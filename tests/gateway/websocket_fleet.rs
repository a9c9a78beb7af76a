//! WebSocket connections across a fleet: gateway processes sharing one real `redis-server` reach
//! each other's connections through the `@connections` API (botocore's client, unchanged, on any
//! node), and a node that exits or dies has its connections reported gone.

use std::io::{BufRead, BufReader};
use std::process::{Child, ChildStdout, Command, Stdio};
use std::time::{Duration, Instant};

use crate::fleet::Redis;
use crate::support::*;
use crate::websocket::{KEY, SECRET, manage, url};

/// A Python `websockets` client that asks for its id, then prints the pushes it receives and how
/// it was closed.
struct Held {
    child: Child,
    out: BufReader<ChildStdout>,
    id: String,
}

impl Held {
    fn open(gw: &Gateway, pushes: usize) -> Held {
        let script = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/ws_client.py");
        let mut child = Command::new("python3")
            .arg(&script)
            .arg(url(gw, ""))
            .args(["send:whoami", "recv"])
            .args(std::iter::repeat_n("recv:60", pushes))
            .arg("wait_close:60")
            .stdout(Stdio::piped())
            .spawn()
            .unwrap();
        let out = BufReader::new(child.stdout.take().unwrap());
        let mut held = Held { child, out, id: String::new() };
        let (_open, _sent, id) = (held.next(), held.next(), held.next());
        held.id = id["text"].as_str().unwrap_or_else(|| panic!("the client's id: {id}")).to_owned();
        held
    }

    fn next(&mut self) -> serde_json::Value {
        let mut line = String::new();
        self.out.read_line(&mut line).unwrap();
        serde_json::from_str(&line).unwrap_or_else(|_| panic!("client: {line:?}"))
    }
}

impl Drop for Held {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn config(function: std::net::SocketAddr, redis: u16) -> String {
    format!(
        r#"
[server]
listen = ["127.0.0.1:{{port}}"]
[workers]
count = 2
[cluster]
redis = "redis://127.0.0.1:{redis}/0"
prefix = "portico-ws-test"
[[function]]
name = "who"
url = "http://{function}/invoke"
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
"#
    )
}

fn status_and_error(v: &serde_json::Value) -> (Option<u64>, Option<&str>) {
    (v["status"].as_u64(), v["error"].as_str())
}

/// Three nodes on one Redis, on both I/O drivers: pushes, GET and DELETE through any node reach a
/// connection on another; an id no node gave out is 410; a node that exits cleanly has its
/// connections gone at once, and one killed with SIGKILL within its registry key's TTL (4 s).
#[test]
fn pushes_reach_connections_on_other_nodes_and_dead_nodes_are_gone() {
    // A function that tells a client its connection id.
    let function = Upstream::start(|seen| {
        let event: serde_json::Value = serde_json::from_slice(&seen.body).unwrap_or_default();
        let body = event["requestContext"]["connectionId"].clone();
        function_answer(&serde_json::json!({"statusCode": 200, "body": body}).to_string(), "")
    });
    let dir = temp_path("ws-fleet");
    std::fs::create_dir_all(&dir).unwrap();
    let redis = Redis::start(&dir, free_port());
    let config = config(function.addr, redis.port);
    let env = [("PORTICO_TEST_WS_SECRET", SECRET.to_owned())];
    let mut a = Gateway::start_in(&dir, &config, Driver::Uring, &env);
    let b = Gateway::start_in(&dir, &config, Driver::Legacy, &env);
    let mut c = Gateway::start_in(&dir, &config, Driver::Uring, &env);

    // Six connections on A (on either of its workers), one on B.
    let mut on_a: Vec<Held> = (0..6).map(|_| Held::open(&a, 1)).collect();
    let mut on_b = Held::open(&b, 2);
    for (i, held) in on_a.iter_mut().enumerate() {
        let pushed = manage(&b, &["post", &held.id, &format!("from b {i}")], SECRET);
        assert_eq!(pushed["status"], 200, "{}: {pushed}\n{}", held.id, b.log());
        assert_eq!(held.next()["text"], format!("from b {i}"));
    }
    let pushed = manage(&a, &["post", &on_b.id, "from a"], SECRET);
    assert_eq!(pushed["status"], 200, "{pushed}");
    assert_eq!(on_b.next()["text"], "from a");

    let got = manage(&c, &["get", &on_a[0].id], SECRET);
    assert_eq!(got["status"], 200, "{got}");
    assert_eq!(got["result"]["identity"]["SourceIp"], "127.0.0.1", "{got}");
    assert!(got["result"]["identity"]["UserAgent"].as_str().is_some_and(|ua| ua.contains("websockets")), "{got}");

    assert_eq!(manage(&b, &["delete", &on_a[1].id], SECRET)["status"], 204);
    assert_eq!(on_a[1].next()["closed"], 1000);
    let closed = manage(&b, &["post", &on_a[1].id, "late"], SECRET);
    assert_eq!(status_and_error(&closed), (Some(410), Some("GoneException")), "{closed}");
    let never = manage(&b, &["get", "AAAAAAAAAAAAAAA="], SECRET);
    assert_eq!(status_and_error(&never), (Some(410), Some("GoneException")), "{never}");

    // A clean exit deletes the node's registry key (so its connections are 410 at once, without
    // waiting for the key to expire): three nodes registered, then two.
    let nodes = || {
        let out = Command::new("redis-cli")
            .args(["-p", &redis.port.to_string(), "--scan", "--pattern", "portico-ws-test:ws:node:*"])
            .output()
            .expect("redis-cli (apt-get install -y redis-server)");
        String::from_utf8_lossy(&out.stdout).lines().count()
    };
    assert_eq!(nodes(), 3);
    let on_c = Held::open(&c, 0);
    c.signal(libc::SIGTERM);
    assert!(c.wait_exit(Duration::from_secs(10)).is_some(), "{}", c.log());
    assert_eq!(nodes(), 2, "a node that exits leaves the registry");
    let gone = manage(&b, &["post", &on_c.id, "x"], SECRET);
    assert_eq!(status_and_error(&gone), (Some(410), Some("GoneException")), "{gone}");

    // Killed: its key outlives it by at most 4 s, during which asks for its connections are
    // retried; then they are gone. (A 429 meanwhile would be botocore giving up on retries.)
    let victim = on_a[0].id.clone();
    a.signal(libc::SIGKILL);
    let _ = a.wait_exit(Duration::from_secs(5));
    let killed = Instant::now();
    let gone = eventually(Duration::from_secs(15), || {
        let r = manage(&b, &["post", &victim, "x"], SECRET);
        (r["status"] == 410).then_some(r)
    });
    assert!(gone.is_some_and(|r| r["error"] == "GoneException"), "{}", b.log());
    eprintln!("a killed node's connection was gone {:?} after the kill", killed.elapsed());
    assert!(killed.elapsed() < Duration::from_secs(12), "gone after {:?}", killed.elapsed());
    // B's own connection still works.
    assert_eq!(manage(&b, &["post", &on_b.id, "still here"], SECRET)["status"], 200);
    assert_eq!(on_b.next()["text"], "still here");
}
