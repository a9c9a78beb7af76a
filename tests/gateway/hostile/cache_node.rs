//! The cache across workers: one cold key costs one upstream fetch per node, not one per worker,
//! and a client's invalidation (`Cache-Control: max-age=0`) reaches every worker's copy.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Barrier};
use std::time::Duration;

use crate::support::*;

const CLIENTS: usize = 16;

fn start(driver: Driver) -> (AdminNode, Arc<AtomicUsize>) {
    let count = Arc::new(AtomicUsize::new(0));
    let c = count.clone();
    // Slow enough that every client's miss arrives while the first one is being fetched.
    let up = Upstream::start(move |_| {
        let n = c.fetch_add(1, Ordering::SeqCst) + 1;
        Reply::After(Duration::from_millis(300), Box::new(ok_json(&format!("version {n}"))))
    });
    let dir = temp_path("cache-node");
    std::fs::create_dir_all(&dir).unwrap();
    let node = AdminNode::start_in(
        &dir,
        |admin| {
            format!(
                r#"
[server]
listen = ["127.0.0.1:{{port}}"]
workers = 2
[admin]
listen = "127.0.0.1:{admin}"
[[api]]
name = "a"
[[api.stage]]
name = "prod"
cache = {{ ttl_s = 300, require_authorization = false }}
[[api.route]]
key = "GET /items/{{id}}"
integration = {{ type = "http_proxy", uri = "http://{}/items/{{id}}" }}
"#,
                up.addr
            )
        },
        driver,
        &[],
    );
    std::mem::forget(up);
    (node, count)
}

/// `CLIENTS` connections (spread over both workers by the kernel) each send `request` at once;
/// returns the bodies.
fn all_at_once(gw: &Gateway, request: &'static [u8]) -> Vec<String> {
    let mut clients: Vec<Client> = (0..CLIENTS).map(|_| gw.connect()).collect();
    // Each connection first does one request, so it is accepted and owned by a worker.
    for c in &mut clients {
        c.send(b"GET /prod/nowhere HTTP/1.1\r\nHost: x\r\n\r\n");
        assert_eq!(c.read_response().expect("warm-up").status, 404);
    }
    let barrier = Arc::new(Barrier::new(CLIENTS));
    let threads: Vec<_> = clients
        .into_iter()
        .map(|mut c| {
            let barrier = barrier.clone();
            std::thread::spawn(move || {
                barrier.wait();
                c.send(request);
                c.read_response().expect("response").text()
            })
        })
        .collect();
    threads.into_iter().map(|t| t.join().unwrap()).collect()
}

fn workers_used(node: &AdminNode) -> usize {
    let (_, text) = http_get(node.admin, "/metrics");
    (0..2)
        .filter(|w| {
            sample(&text, &format!("portico_connections_accepted_total{{worker=\"{w}\"}}")).unwrap_or(0.0) > 0.0
        })
        .count()
}

#[test]
fn a_cold_key_is_fetched_once_per_node_and_a_refresh_reaches_every_worker() {
    for driver in DRIVERS {
        let (node, count) = start(driver);
        let bodies = all_at_once(&node.gw, b"GET /prod/items/1 HTTP/1.1\r\nHost: x\r\n\r\n");
        assert_eq!(workers_used(&node), 2, "the test needs both workers to see the key ({driver:?})");
        assert_eq!(count.load(Ordering::SeqCst), 1, "one fetch for the node ({driver:?})");
        assert!(bodies.iter().all(|b| b == "version 1"), "{bodies:?}");

        // New connections, wherever they land, copy the node's entry instead of fetching.
        for _ in 0..CLIENTS {
            assert_eq!(node.gw.get("/prod/items/1").text(), "version 1");
        }
        assert_eq!(count.load(Ordering::SeqCst), 1, "{driver:?}");

        // A refresh on one connection replaces every worker's copy.
        let r = node.gw.send(b"GET /prod/items/1 HTTP/1.1\r\nHost: x\r\nCache-Control: max-age=0\r\n\r\n");
        assert_eq!(r.text(), "version 2");
        let bodies = all_at_once(&node.gw, b"GET /prod/items/1 HTTP/1.1\r\nHost: x\r\n\r\n");
        assert!(bodies.iter().all(|b| b == "version 2"), "a worker kept the old copy ({driver:?}): {bodies:?}");
        assert_eq!(count.load(Ordering::SeqCst), 2, "{driver:?}");

        // Requests that arrive during a refresh wait for it rather than serving the old copy.
        let gw = &node.gw;
        let refresh = std::thread::scope(|s| {
            let refresh = s
                .spawn(|| gw.send(b"GET /prod/items/1 HTTP/1.1\r\nHost: x\r\nCache-Control: max-age=0\r\n\r\n").text());
            std::thread::sleep(Duration::from_millis(100));
            let during = all_at_once(gw, b"GET /prod/items/1 HTTP/1.1\r\nHost: x\r\n\r\n");
            assert!(during.iter().all(|b| b == "version 3"), "{during:?}");
            refresh.join().unwrap()
        });
        assert_eq!(refresh, "version 3");
        assert_eq!(count.load(Ordering::SeqCst), 3, "{driver:?}");

        // An admin purge empties the node layer too.
        let (status, _) = http_request(node.admin, "POST", "/cache/purge?api=a&stage=prod&path=/items/1");
        assert_eq!(status, 200);
        assert_eq!(node.gw.get("/prod/items/1").text(), "version 4");
    }
}

/// Coalescing must not serialise a key the cache cannot store: after one such response, misses
/// on it are fetched side by side again (Varnish's hit-for-miss).
#[test]
fn an_uncacheable_key_is_not_fetched_one_request_at_a_time() {
    let (now, max) = (Arc::new(AtomicUsize::new(0)), Arc::new(AtomicUsize::new(0)));
    let (n, m) = (now.clone(), max.clone());
    let up = Upstream::start(move |_| {
        let inflight = n.fetch_add(1, Ordering::SeqCst) + 1;
        m.fetch_max(inflight, Ordering::SeqCst);
        std::thread::sleep(Duration::from_millis(200));
        n.fetch_sub(1, Ordering::SeqCst);
        Reply::Raw(b"HTTP/1.1 200 OK\r\nCache-Control: no-store\r\nContent-Length: 2\r\n\r\nok".to_vec())
    });
    let config = format!(
        "[server]\nlisten = [\"127.0.0.1:{{port}}\"]\nworkers = 1\n[[api]]\nname = \"a\"\n[[api.stage]]\nname = \"prod\"\ncache = {{ ttl_s = 300 }}\n[[api.route]]\nkey = \"GET /live\"\nintegration = {{ type = \"http_proxy\", uri = \"http://{}/live\" }}\n",
        up.addr
    );
    let gw = Gateway::start(&config, Driver::Uring);
    assert_eq!(gw.get("/prod/live").text(), "ok");
    max.store(0, Ordering::SeqCst);
    let bodies = all_at_once(&gw, b"GET /prod/live HTTP/1.1\r\nHost: x\r\n\r\n");
    assert!(bodies.iter().all(|b| b == "ok"));
    assert!(max.load(Ordering::SeqCst) >= 4, "at most {} upstream requests at once", max.load(Ordering::SeqCst));
}
