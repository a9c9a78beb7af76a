//! Response caching over real sockets: hits, misses, expiry, key parameters, client invalidation
//! under AWS's three strategies, size and method limits, stampede coalescing, admin flush and purge.

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use crate::support::*;

const CONFIG: &str = r#"
[server]
listen = ["127.0.0.1:{port}"]
workers = 1

[admin]
listen = "127.0.0.1:{admin}"

[[api]]
name = "shop"
protocol = "http"

[[api.stage]]
name = "prod"
variables = { backend = "{upstream}" }
cache = { capacity_mb = 4, ttl_s = 1, max_entry_bytes = 4000, invalidate_api_keys = ["k-1"], invalidate_header = "x-invalidate", invalidate_secret = "s3cret", unauthorized = "{strategy}" }

[[api.stage]]
name = "quiet"
variables = { backend = "{upstream}" }
cache = { status_header = false }

[[api.route]]
key = "GET /secret"
integration = { type = "http_proxy", uri = "http://${stageVariables.backend}/secret" }
cache = { encrypt = true }

[[api.route]]
key = "GET /items/{id}"
integration = { type = "http_proxy", uri = "http://${stageVariables.backend}/items/{id}" }
cache = { key_query = ["type"], key_headers = ["accept-language"], ttl_s = 30 }

[[api.route]]
key = "ANY /any/{proxy+}"
integration = { type = "http_proxy", uri = "http://${stageVariables.backend}/any/{proxy}" }

[[api.route]]
key = "GET /nocache"
integration = { type = "http_proxy", uri = "http://${stageVariables.backend}/nocache" }
cache = { enabled = false }
"#;

struct Setup {
    gw: Gateway,
    admin: SocketAddr,
    seen: Arc<AtomicUsize>,
}

/// The upstream numbers its answers, so a hit (same number) is told from a miss.
fn start(driver: Driver, strategy: &str) -> Setup {
    let seen = Arc::new(AtomicUsize::new(0));
    let counter = seen.clone();
    let upstream = Upstream::start(move |req| {
        let n = counter.fetch_add(1, Ordering::SeqCst) + 1;
        match req.target.as_str() {
            "/any/slow" => Reply::After(Duration::from_millis(400), Box::new(ok_json(&format!("{{\"n\":{n}}}")))),
            "/any/big" => ok_json(&format!("{{\"n\":{n},\"pad\":\"{}\"}}", "x".repeat(5000))),
            "/any/chunked" => Reply::Raw(
                format!("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nContent-Type: text/plain\r\n\r\n3\r\nn={n}\r\n3\r\n;ok\r\n0\r\n\r\n")
                    .into_bytes(),
            ),
            "/any/missing" => Reply::Raw(b"HTTP/1.1 404 Not Found\r\nContent-Length: 2\r\n\r\nno".to_vec()),
            _ => ok_json(&format!("{{\"n\":{n}}}")),
        }
    });
    let admin_port = free_port();
    let config = CONFIG
        .replace("{admin}", &admin_port.to_string())
        .replace("{upstream}", &upstream.addr.to_string())
        .replace("{strategy}", strategy);
    let gw = Gateway::start(&config, driver);
    std::mem::forget(upstream);
    Setup { gw, admin: SocketAddr::from(([127, 0, 0, 1], admin_port)), seen }
}

fn get(gw: &Gateway, path: &str, headers: &str) -> Response {
    gw.send(format!("GET {path} HTTP/1.1\r\nHost: x\r\n{headers}\r\n").as_bytes())
}

#[test]
fn hit_miss_and_expiry_with_cache_status() {
    for driver in DRIVERS {
        let s = start(driver, "FAIL_WITH_403");
        let first = get(&s.gw, "/prod/any/thing", "");
        assert_eq!(first.status, 200);
        assert_eq!(first.header("cache-status"), Some("portico; fwd=miss; stored"), "{driver:?}");
        let second = get(&s.gw, "/prod/any/thing", "");
        assert_eq!(second.body, first.body, "served from the cache");
        let status = second.header("cache-status").unwrap();
        assert!(status.starts_with("portico; hit; ttl="), "{status}");
        assert_eq!(second.header("age"), Some("0"));
        assert_eq!(second.header("content-type"), Some("application/json"));
        assert!(second.header("apigw-requestid").is_some());
        assert_ne!(second.header("apigw-requestid"), first.header("apigw-requestid"));
        assert_eq!(s.seen.load(Ordering::SeqCst), 1);
        // The stage TTL is 1 s.
        std::thread::sleep(Duration::from_millis(1100));
        let third = get(&s.gw, "/prod/any/thing", "");
        assert_eq!(third.header("cache-status"), Some("portico; fwd=miss; stored"));
        assert_ne!(third.body, first.body);
        assert_eq!(s.seen.load(Ordering::SeqCst), 2);

        // A route can opt out.
        let nocache = get(&s.gw, "/prod/nocache", "");
        assert_eq!(nocache.header("cache-status"), Some("portico; fwd=bypass"));
        let _ = get(&s.gw, "/prod/nocache", "");
        assert_eq!(s.seen.load(Ordering::SeqCst), 4);

        let (_, metrics) = http_get(s.admin, "/metrics");
        let series = |name: &str| format!("{name}{{api=\"shop\",stage=\"prod\",route=\"ANY /any/{{proxy+}}\"}}");
        assert_eq!(sample(&metrics, &series("portico_cache_hits_total")), Some(1.0));
        assert_eq!(sample(&metrics, &series("portico_cache_misses_total")), Some(2.0));
    }
}

#[test]
fn declared_key_parameters_split_entries_and_undeclared_ones_share_them() {
    let s = start(Driver::Uring, "FAIL_WITH_403");
    let a = get(&s.gw, "/prod/items/1?type=admin&department=A", "");
    let b = get(&s.gw, "/prod/items/1?department=B&type=admin", "");
    assert_eq!(a.body, b.body, "AWS: undeclared `department` is not in the key");
    let c = get(&s.gw, "/prod/items/1?type=user", "");
    assert_ne!(a.body, c.body);
    let en = get(&s.gw, "/prod/items/1?type=admin", "Accept-Language: en\r\n");
    let fr = get(&s.gw, "/prod/items/1?type=admin", "Accept-Language: fr\r\n");
    assert_ne!(en.body, fr.body);
    assert_eq!(get(&s.gw, "/prod/items/1?type=admin", "Accept-Language: en\r\n").body, en.body);
    let other_item = get(&s.gw, "/prod/items/2?type=admin", "");
    assert_ne!(other_item.body, a.body, "path parameters are always in the key");
    assert_eq!(s.seen.load(Ordering::SeqCst), 5);
}

#[test]
fn invalidation_follows_each_of_awss_three_strategies() {
    // FAIL_WITH_403: unauthorised invalidation is refused; an API key or the header secret refreshes.
    let s = start(Driver::Uring, "FAIL_WITH_403");
    let cached = get(&s.gw, "/prod/any/x", "");
    let refused = get(&s.gw, "/prod/any/x", "Cache-Control: max-age=0\r\n");
    assert_eq!(refused.status, 403);
    assert_eq!(refused.text(), r#"{"message":"Forbidden"}"#);
    assert_eq!(s.seen.load(Ordering::SeqCst), 1);
    let wrong_key = get(&s.gw, "/prod/any/x", "Cache-Control: max-age=0\r\nx-api-key: k-2\r\n");
    assert_eq!(wrong_key.status, 403);
    let refreshed = get(&s.gw, "/prod/any/x", "Cache-Control: no-cache, max-age=0\r\nx-api-key: k-1\r\n");
    assert_eq!(refreshed.status, 200);
    assert_eq!(refreshed.header("cache-status"), Some("portico; fwd=request; stored"));
    assert_ne!(refreshed.body, cached.body);
    assert_eq!(get(&s.gw, "/prod/any/x", "").body, refreshed.body, "the entry was replaced");
    let by_secret = get(&s.gw, "/prod/any/x", "Cache-Control: max-age=0\r\nX-Invalidate: s3cret\r\n");
    assert_eq!(by_secret.header("cache-status"), Some("portico; fwd=request; stored"));
    assert_eq!(s.seen.load(Ordering::SeqCst), 3);

    // SUCCEED_WITH_RESPONSE_HEADER: the cached response, with a warning.
    let s = start(Driver::Uring, "SUCCEED_WITH_RESPONSE_HEADER");
    let cached = get(&s.gw, "/prod/any/x", "");
    let r = get(&s.gw, "/prod/any/x", "Cache-Control: max-age=0\r\n");
    assert_eq!((r.status, &r.body), (200, &cached.body));
    assert!(r.header("warning").is_some_and(|w| w.contains("unauthorized cache invalidation")), "{:?}", r.headers);
    assert_eq!(s.seen.load(Ordering::SeqCst), 1);

    // SUCCEED_WITHOUT_RESPONSE_HEADER: the cached response, nothing said.
    let s = start(Driver::Uring, "SUCCEED_WITHOUT_RESPONSE_HEADER");
    let cached = get(&s.gw, "/prod/any/x", "");
    let r = get(&s.gw, "/prod/any/x", "Cache-Control: max-age=0\r\n");
    assert_eq!((r.status, &r.body), (200, &cached.body));
    assert!(r.header("warning").is_none());
    assert_eq!(s.seen.load(Ordering::SeqCst), 1);
}

#[test]
fn oversize_error_and_non_get_responses_are_not_stored() {
    let s = start(Driver::Uring, "FAIL_WITH_403");
    let big = get(&s.gw, "/prod/any/big", "");
    assert_eq!(big.status, 200);
    assert!(big.body.len() > 4000);
    assert_eq!(big.header("cache-status"), Some("portico; fwd=miss"), "over max_entry_bytes");
    assert_ne!(get(&s.gw, "/prod/any/big", "").body, big.body);
    let missing = get(&s.gw, "/prod/any/missing", "");
    assert_eq!((missing.status, missing.header("cache-status")), (404, Some("portico; fwd=miss")));
    let _ = get(&s.gw, "/prod/any/missing", "");
    let post = s.gw.send(b"POST /prod/any/x HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\n\r\nhi");
    assert_eq!(post.header("cache-status"), Some("portico; fwd=bypass"));
    let _ = s.gw.send(b"POST /prod/any/x HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\n\r\nhi");
    assert_eq!(s.seen.load(Ordering::SeqCst), 6, "every one reached the upstream");

    // A chunked response is stored whole and replayed with a length.
    let chunked = get(&s.gw, "/prod/any/chunked", "");
    assert_eq!(chunked.text(), "n=7;ok");
    let replay = get(&s.gw, "/prod/any/chunked", "");
    assert_eq!(replay.text(), "n=7;ok");
    assert_eq!(replay.header("content-length"), Some("6"));
    assert!(replay.header("cache-status").unwrap().contains("hit"));
}

#[test]
fn concurrent_misses_on_one_key_reach_the_upstream_once() {
    for driver in DRIVERS {
        let s = start(driver, "FAIL_WITH_403");
        let addr = s.gw.addr();
        let clients: Vec<_> = (0..10)
            .map(|_| {
                std::thread::spawn(move || {
                    let mut c = Client::connect(addr);
                    c.send(b"GET /prod/any/slow HTTP/1.1\r\nHost: x\r\n\r\n");
                    c.read_response().expect("response")
                })
            })
            .collect();
        let responses: Vec<Response> = clients.into_iter().map(|c| c.join().unwrap()).collect();
        assert_eq!(s.seen.load(Ordering::SeqCst), 1, "{driver:?}: the upstream saw one request for 10 clients");
        assert!(responses.iter().all(|r| r.status == 200 && r.body == responses[0].body));
        let collapsed =
            responses.iter().filter(|r| r.header("cache-status").is_some_and(|c| c.contains("collapsed"))).count();
        assert_eq!(collapsed, 9);
    }
}

#[test]
fn admin_purges_a_path_and_flushes_a_stage() {
    let s = start(Driver::Legacy, "FAIL_WITH_403");
    let _ = get(&s.gw, "/prod/any/a", "");
    let _ = get(&s.gw, "/prod/any/b", "");
    let _ = get(&s.gw, "/prod/items/1?type=t", "");
    let _ = get(&s.gw, "/prod/items/1?type=u", "");
    assert_eq!(s.seen.load(Ordering::SeqCst), 4);
    let (status, body) = http_request(s.admin, "POST", "/cache/purge?api=shop&stage=prod&path=%2Fitems%2F1");
    assert_eq!((status, body.trim()), (200, r#"{"removed_entries":2}"#), "both key variants of the path");
    assert!(get(&s.gw, "/prod/items/1?type=t", "").header("cache-status").unwrap().contains("fwd=miss"));
    assert!(get(&s.gw, "/prod/any/a", "").header("cache-status").unwrap().contains("hit"));
    let (status, body) = http_request(s.admin, "POST", "/cache/flush?api=shop&stage=prod");
    assert_eq!((status, body.trim()), (200, r#"{"removed_entries":3}"#));
    assert!(get(&s.gw, "/prod/any/a", "").header("cache-status").unwrap().contains("fwd=miss"));
    assert_eq!(http_request(s.admin, "POST", "/cache/flush?api=shop&stage=nope").0, 404);
    assert_eq!(http_request(s.admin, "POST", "/cache/purge?api=shop&stage=prod").0, 400);
    assert_eq!(http_request(s.admin, "GET", "/cache/flush?api=shop&stage=prod").0, 405);
    // Secrets stay out of the config view.
    let (_, config) = http_get(s.admin, "/config");
    assert!(!config.contains("s3cret") && !config.contains("k-1"), "{config}");
}

#[test]
fn encrypted_entries_replay_and_the_status_header_can_be_turned_off() {
    let s = start(Driver::Uring, "FAIL_WITH_403");
    let first = get(&s.gw, "/prod/secret", "");
    let second = get(&s.gw, "/prod/secret", "");
    assert_eq!(second.body, first.body);
    assert!(second.header("cache-status").unwrap().contains("hit"));
    assert_eq!(s.seen.load(Ordering::SeqCst), 1);

    let quiet = get(&s.gw, "/quiet/any/q", "");
    let again = get(&s.gw, "/quiet/any/q", "");
    assert_eq!(again.body, quiet.body, "cached");
    assert!(quiet.header("cache-status").is_none() && again.header("cache-status").is_none());
    assert_eq!(s.seen.load(Ordering::SeqCst), 2);
}
