//! Throttling over real sockets: AWS's 429 body, error type and `Retry-After`; route limits over
//! the stage default; the gateway-wide limit; refill over time; metrics; config errors.

use std::net::SocketAddr;
use std::time::Duration;

use crate::support::*;

const CONFIG: &str = r#"
[server]
listen = ["127.0.0.1:{port}"]
workers = 2

[admin]
listen = "127.0.0.1:{admin}"

{account}

[[api]]
name = "shop"
protocol = "{protocol}"
[[api.stage]]
name = "prod"
throttle = { rate = 2, burst = 3 }
route_throttle = { "GET /strict" = { rate = 1, burst = 1 } }
[[api.route]]
key = "GET /items"
integration = { type = "mock", body = "items" }
[[api.route]]
key = "GET /strict"
integration = { type = "mock", body = "strict" }
"#;

fn start(protocol: &str, account: &str) -> (Gateway, SocketAddr) {
    let admin = free_port();
    let config =
        CONFIG.replace("{admin}", &admin.to_string()).replace("{protocol}", protocol).replace("{account}", account);
    (Gateway::start(&config, Driver::Uring), SocketAddr::from(([127, 0, 0, 1], admin)))
}

#[test]
fn stage_and_route_limits_answer_429_like_aws_and_refill() {
    for protocol in ["http", "rest"] {
        let (gw, admin) = start(protocol, "");
        let statuses: Vec<u16> = (0..5).map(|_| gw.get("/prod/items").status).collect();
        assert_eq!(statuses, [200, 200, 200, 429, 429], "{protocol}: burst 3 of the stage default");
        let r = gw.get("/prod/items");
        assert_eq!(r.status, 429);
        assert_eq!(r.text(), r#"{"message":"Too Many Requests"}"#);
        assert_eq!(r.header("retry-after"), Some("1"));
        let error_type = if protocol == "rest" { Some("TooManyRequestsException") } else { None };
        assert_eq!(r.header("x-amzn-errortype"), error_type);
        // The route's own limit (burst 1) applies instead of the stage default.
        assert_eq!(gw.get("/prod/strict").status, 200);
        assert_eq!(gw.get("/prod/strict").status, 429);
        // 2 tokens per second come back.
        std::thread::sleep(Duration::from_millis(1100));
        let refilled: Vec<u16> = (0..3).map(|_| gw.get("/prod/items").status).collect();
        assert_eq!(refilled.iter().filter(|&&s| s == 200).count(), 2, "{protocol}: {refilled:?}");
        // A request is counted just after its response is written: wait for the last one.
        let series = r#"portico_requests_throttled_total{api="shop",stage="prod",route="GET /items"}"#;
        let throttled = eventually(Duration::from_secs(2), || {
            let (_, metrics) = http_get(admin, "/metrics");
            sample(&metrics, series).filter(|&v| v >= 4.0)
        });
        assert_eq!(throttled, Some(4.0), "{protocol}");
    }
}

#[test]
fn the_gateway_wide_limit_covers_every_route() {
    let (gw, _) = start("http", "[throttle]\nrate = 1\nburst = 2");
    assert_eq!(gw.get("/prod/items").status, 200);
    assert_eq!(gw.get("/prod/strict").status, 200);
    assert_eq!(gw.get("/prod/items").status, 429, "the account bucket is empty though the stage's is not");
}

#[test]
fn route_throttle_must_name_a_route() {
    let (passed, err) = check(
        "[[api]]\nname = \"a\"\n[[api.stage]]\nname = \"$default\"\nroute_throttle = { \"GET /item\" = { rate = 1, burst = 1 } }\n[[api.route]]\nkey = \"GET /items\"\nintegration = { type = \"mock\" }\n",
    );
    assert!(!passed);
    assert!(err.contains("`route_throttle` names `GET /item`") && err.contains("did you mean `GET /items`?"), "{err}");
}

#[test]
fn a_reload_keeps_what_the_buckets_hold() {
    let config = r#"
[server]
listen = ["127.0.0.1:{port}"]
workers = 2

[[api]]
name = "shop"
[[api.stage]]
name = "prod"
throttle = { rate = 0.01, burst = 2 }
[[api.route]]
key = "GET /items"
integration = { type = "mock", body = "one" }
"#;
    let gw = Gateway::start(config, Driver::Uring);
    let statuses: Vec<u16> = (0..3).map(|_| gw.get("/prod/items").status).collect();
    assert_eq!(statuses, [200, 200, 429], "burst 2, and no token back for 100 s");
    let reload = |text: String| {
        let before = gw.log().matches("reloaded").count();
        std::fs::write(&gw.config_path, text).unwrap();
        gw.signal(libc::SIGHUP);
        let reloaded =
            eventually(Duration::from_secs(10), || (gw.log().matches("reloaded").count() > before).then_some(()));
        assert!(reloaded.is_some(), "{}", gw.log());
    };
    // A reload that leaves the limit as it was keeps its bucket: still empty.
    let current = std::fs::read_to_string(&gw.config_path).unwrap();
    reload(current.replace("body = \"one\"", "body = \"two\""));
    let r = gw.get("/prod/items");
    assert_eq!((r.status, r.header("retry-after").is_some()), (429, true), "{}", r.text());
    // A limit whose setting changed is a new bucket, full.
    let current = std::fs::read_to_string(&gw.config_path).unwrap();
    reload(current.replace("burst = 2", "burst = 1"));
    let r = gw.get("/prod/items");
    assert_eq!((r.status, r.text().as_str()), (200, "two"));
    assert_eq!(gw.get("/prod/items").status, 429);
}
