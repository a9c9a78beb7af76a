//! Fleet mode over real sockets: two gateway processes sharing one real `redis-server` on a free
//! loopback port enforce one quota exactly; Redis killed mid-test makes fail-open plans count
//! alone and fail-closed plans answer 503; when Redis is back (restarted with its append-only
//! file) the counts made meanwhile are reported and fail-closed plans serve again.

use std::net::{SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use crate::support::*;

/// A real redis-server on loopback, killed with SIGKILL on drop.
pub(crate) struct Redis {
    child: Child,
    pub(crate) port: u16,
    dir: PathBuf,
}

impl Redis {
    pub(crate) fn start(dir: &Path, port: u16) -> Redis {
        let child = Command::new("redis-server")
            .args(["--port", &port.to_string(), "--bind", "127.0.0.1", "--save", ""])
            // Every write reaches the disk, so a kill -9 and a restart keep every count.
            .args(["--appendonly", "yes", "--appendfsync", "always", "--dir", dir.to_str().unwrap()])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("redis-server is needed for the fleet tests (apt-get install -y redis-server; .ci/run does it)");
        let addr = SocketAddr::from(([127, 0, 0, 1], port));
        let up = eventually(Duration::from_secs(10), || TcpStream::connect(addr).ok());
        assert!(up.is_some(), "redis-server did not start on {addr}");
        Redis { child, port, dir: dir.to_owned() }
    }

    fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    fn restart(&mut self) {
        self.kill();
        *self = Redis::start(&self.dir.clone(), self.port);
    }
}

impl Drop for Redis {
    fn drop(&mut self) {
        self.kill();
    }
}

/// Redis's timeout in these tests: short, so the tests that kill Redis see it go quickly.
const REDIS_TIMEOUT_MS: u64 = 200;

fn config(admin: u16, redis: u16, plans: &str, timeout_ms: u64) -> String {
    let cluster = format!(
        "[cluster]\nredis = \"redis://127.0.0.1:{redis}/0\"\nprefix = \"portico-test\"\ntimeout_ms = {timeout_ms}\n"
    );
    shop_config(admin, &cluster, plans)
}

fn plan(name: &str, key: &str, limit: u64, on_failure: &str) -> String {
    format!(
        r#"
[[api_key]]
name = "{key}"
value = "{key}-value-0123456789abcdef"

[[usage_plan]]
name = "{name}"
api_stages = [{{ api = "shop", stage = "prod" }}]
keys = ["{key}"]
quota = {{ limit = {limit}, period = "DAY" }}
on_redis_failure = "{on_failure}"
"#
    )
}

type Node = AdminNode;

fn start(redis: &Redis, plans: &str) -> Node {
    start_with(redis, plans, REDIS_TIMEOUT_MS)
}

fn start_with(redis: &Redis, plans: &str, timeout_ms: u64) -> Node {
    let dir = temp_path("fleet-node");
    std::fs::create_dir_all(&dir).unwrap();
    AdminNode::start_in(&dir, |admin| config(admin, redis.port, plans, timeout_ms), Driver::Uring, &[])
}

fn call(n: &Node, key: &str) -> Response {
    n.get_with_key("/prod/items", &format!("{key}-value-0123456789abcdef"))
}

/// The fleet's count of `key` today, as the usage endpoint reads it from Redis.
fn fleet_used(n: &Node, plan: &str, key: &str) -> Option<u64> {
    let (status, body) = http_get(n.admin, &format!("/usage?plan={plan}&keyId={key}"));
    let v: serde_json::Value = serde_json::from_str(&body).ok()?;
    (status == 200 && v["source"] == "redis").then(|| v["items"][key][0][0].as_u64()).flatten()
}

#[test]
fn two_gateways_sharing_one_redis_enforce_one_quota_exactly() {
    let dir = temp_path("fleet-redis-a");
    std::fs::create_dir_all(&dir).unwrap();
    let redis = Redis::start(&dir, free_port());
    let plans = plan("shared", "k", 3000, "open");
    let nodes = [start(&redis, &plans), start(&redis, &plans)];
    // Both nodes at once, 4 clients each (so requests on one worker wait for a refill together),
    // far more tries than the quota: every node drains what it leased.
    let admitted: Vec<(usize, usize)> = std::thread::scope(|s| {
        let handles: Vec<_> = nodes
            .iter()
            .flat_map(|n| std::iter::repeat_n(n, 4))
            .map(|n| {
                s.spawn(move || {
                    let mut ok = 0;
                    let mut limited = 0;
                    for _ in 0..1000 {
                        let r = call(n, "k");
                        match r.status {
                            200 => ok += 1,
                            429 => {
                                assert_eq!(r.text(), r#"{"message":"Limit Exceeded"}"#);
                                limited += 1;
                            }
                            other => panic!("unexpected {other}: {}", r.text()),
                        }
                    }
                    (ok, limited)
                })
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    });
    let total: usize = admitted.iter().map(|a| a.0).sum();
    assert_eq!(total, 3000, "one quota across the fleet: {admitted:?}");
    let per_node: Vec<usize> = admitted.chunks(4).map(|c| c.iter().map(|a| a.0).sum()).collect();
    assert!(per_node.iter().all(|n| *n > 0), "both nodes served: {per_node:?}");
    // Redis holds the fleet's count, which either node reports.
    assert_eq!(fleet_used(&nodes[0], "shared", "k"), Some(3000));
    assert_eq!(fleet_used(&nodes[1], "shared", "k"), Some(3000));
    assert!(nodes[0].gw.log().contains("counted in Redis"), "{}", nodes[0].gw.log());
}

#[test]
fn redis_killed_mid_test_fails_open_or_closed_per_plan_and_recovers() {
    let dir = temp_path("fleet-redis-b");
    std::fs::create_dir_all(&dir).unwrap();
    let mut redis = Redis::start(&dir, free_port());
    let plans = plan("lenient", "ko", 10_000, "open") + &plan("strict", "kc", 10_000, "closed");
    let n = start(&redis, &plans);
    for key in ["ko", "kc"] {
        for _ in 0..5 {
            assert_eq!(call(&n, key).status, 200);
        }
    }

    redis.kill();
    // Fail-closed: what the node had leased is spent, then 503 (never a 429: the quota is not
    // used up).
    let mut statuses = Vec::new();
    let closed = eventually(Duration::from_secs(5), || {
        let r = call(&n, "kc");
        statuses.push(r.status);
        (r.status == 503).then_some(r)
    })
    .unwrap_or_else(|| panic!("no 503 from the fail-closed plan: {statuses:?}"));
    assert!(statuses.iter().all(|s| *s == 200 || *s == 503), "{statuses:?}");
    assert_eq!(closed.text(), r#"{"message":"Service Unavailable"}"#);
    assert_eq!(closed.header("retry-after"), Some("1"));
    // Fail-open: the node counts alone and admits.
    let mut open_admitted = 5;
    for _ in 0..40 {
        assert_eq!(call(&n, "ko").status, 200);
        open_admitted += 1;
    }
    assert!(n.gw.log().contains("is unreachable"), "{}", n.gw.log());
    let metric = |series: &str| sample(&http_get(n.admin, "/metrics").1, series);
    assert_eq!(metric("portico_fleet_redis_up"), Some(0.0));
    assert!(metric("portico_fleet_redis_failures_total") >= Some(1.0));
    let (_, usage) = http_get(n.admin, "/usage?plan=lenient");
    assert!(usage.contains(r#""source":"local""#), "{usage}");

    // Redis comes back with its data: the node reconnects by itself and reports what it counted.
    redis.restart();
    // Exactly what was served: the node takes what it leased and has not served off its report.
    let reported = eventually(Duration::from_secs(10), || {
        fleet_used(&n, "lenient", "ko").filter(|used| *used == open_admitted as u64)
    });
    assert!(
        reported.is_some(),
        "not reported: {:?} for {open_admitted}\n{}",
        fleet_used(&n, "lenient", "ko"),
        n.gw.log()
    );
    assert!(n.gw.log().contains("reachable again"), "{}", n.gw.log());
    assert_eq!(metric("portico_fleet_redis_up"), Some(1.0));
    assert!(metric("portico_fleet_redis_calls_total") > Some(5.0));
    let served = eventually(Duration::from_secs(5), || (call(&n, "kc").status == 200).then_some(()));
    assert!(served.is_some(), "the fail-closed plan serves again");
}

#[test]
fn redis_down_at_start_does_not_stop_the_gateway() {
    let dir = temp_path("fleet-redis-c");
    std::fs::create_dir_all(&dir).unwrap();
    let port = free_port();
    let plans = plan("lenient", "ko", 3, "open") + &plan("strict", "kc", 3, "closed");
    let started = Instant::now();
    let n = AdminNode::start_in(&dir, |admin| config(admin, port, &plans, REDIS_TIMEOUT_MS), Driver::Legacy, &[]);
    assert!(started.elapsed() < Duration::from_secs(5));
    // Fail-open still enforces the quota on this node alone.
    let statuses: Vec<u16> = (0..5).map(|_| call(&n, "ko").status).collect();
    assert_eq!(statuses, [200, 200, 200, 429, 429]);
    assert_eq!(call(&n, "kc").status, 503);
    // Redis appears: the fail-closed plan serves, and the fleet counts what the node admitted.
    let redis = Redis::start(&dir, port);
    let served = eventually(Duration::from_secs(5), || (call(&n, "kc").status == 200).then_some(()));
    assert!(served.is_some(), "{}", n.gw.log());
    assert_eq!(eventually(Duration::from_secs(5), || fleet_used(&n, "lenient", "ko").filter(|u| *u == 3)), Some(3));
    drop(redis);
}

/// Requests per second a node admits from `clients` threads hammering it for `for_`.
fn hammer(n: &Node, key: Option<&str>, clients: usize, for_: Duration) -> (usize, Vec<u16>) {
    let request = match key {
        Some(key) => format!("GET /prod/items HTTP/1.1\r\nHost: x\r\nx-api-key: {key}-value-0123456789abcdef\r\n\r\n"),
        None => "GET /prod/open HTTP/1.1\r\nHost: x\r\n\r\n".to_owned(),
    };
    let results: Vec<Vec<u16>> = std::thread::scope(|s| {
        let handles: Vec<_> = (0..clients)
            .map(|_| {
                let request = request.as_bytes();
                s.spawn(move || {
                    let end = Instant::now() + for_;
                    let mut statuses = Vec::new();
                    while Instant::now() < end {
                        statuses.push(n.gw.send(request).status);
                    }
                    statuses
                })
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    });
    let statuses: Vec<u16> = results.into_iter().flatten().collect();
    (statuses.iter().filter(|s| **s == 200).count(), statuses)
}

#[test]
fn a_global_rate_is_one_bucket_for_the_fleet_and_falls_back_when_redis_dies() {
    let dir = temp_path("fleet-redis-d");
    std::fs::create_dir_all(&dir).unwrap();
    let mut redis = Redis::start(&dir, free_port());
    // 100 requests/s with a burst of 50 for the whole fleet on `GET /open`; a fail-closed plan
    // whose per-key rate is global too.
    let extra = r#"throttle = { rate = 100, burst = 50, global = true }
[[api.route]]
key = "GET /open"
integration = { type = "mock", body = "open" }
"#;
    let plans = plan("strict", "kc", 1_000_000, "closed") + "rate = 1000\nburst = 100\nglobal_rate = true\n";
    // A request that waits longer than twice Redis's timeout for a refill counts Redis as
    // unreachable and falls back to its node's own bucket, whose burst is then spent on top of
    // the fleet's (docs/throttling.md). On a loaded CI box a refill has taken longer than the
    // 200 ms the other tests use; this test is about the bound while Redis answers, so it gives
    // Redis seconds. (Killing Redis below is seen at once: its connection is refused.)
    let nodes: Vec<Node> = (0..2)
        .map(|_| {
            let n = start_with(&redis, &plans, 3000);
            let cfg = std::fs::read_to_string(&n.gw.config_path).unwrap();
            let cfg = cfg.replace("name = \"prod\"\n", &format!("name = \"prod\"\n{extra}"));
            std::fs::write(&n.gw.config_path, cfg).unwrap();
            n.gw.signal(libc::SIGHUP);
            n
        })
        .collect();
    // The reload above added the route; wait until both nodes serve it.
    for n in &nodes {
        let ok = eventually(Duration::from_secs(5), || (n.gw.get("/prod/open").status != 403).then_some(()));
        assert!(ok.is_some(), "{}", n.gw.log());
    }
    std::thread::sleep(Duration::from_millis(600)); // let the bucket refill to its burst

    let window = Duration::from_millis(2000);
    let admitted: Vec<(usize, Vec<u16>)> = std::thread::scope(|s| {
        let handles: Vec<_> = nodes.iter().map(|n| s.spawn(move || hammer(n, None, 2, window))).collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    });
    let total: usize = admitted.iter().map(|a| a.0).sum();
    let tried: usize = admitted.iter().map(|a| a.1.len()).sum();
    // One bucket: rate × time + burst = 250, plus what the bound allows (docs/throttling.md:
    // 100 ms of rate for tokens in flight, 1.5 tokens per node's reservoir) and a few ms of
    // client threads ending: 265. Two separate buckets would admit about 500.
    eprintln!("global rate 100/s, burst 50, 2 nodes, 2 s: admitted {total} of {tried}");
    assert!(tried > 1000, "the clients must outrun the limit: {tried} tries");
    assert!((200..=265).contains(&total), "admitted {total} of {tried}");
    assert!(admitted.iter().all(|a| a.1.iter().all(|s| *s == 200 || *s == 429)));

    // Redis dies: each node falls back to its own bucket (so the route still answers, 200s and
    // 429s), and the fail-closed plan's global rate answers 503.
    redis.kill();
    let (ok, statuses) = hammer(&nodes[0], None, 1, Duration::from_millis(1000));
    assert!(ok > 0 && statuses.iter().all(|s| *s == 200 || *s == 429), "{ok} {statuses:?}");
    let r = eventually(Duration::from_secs(5), || {
        let r = call(&nodes[0], "kc");
        (r.status == 503).then_some(r)
    });
    assert!(r.is_some(), "{}", nodes[0].gw.log());
}
