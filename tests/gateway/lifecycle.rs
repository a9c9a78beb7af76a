//! The binary's modes and the process lifecycle: check, compile, routes, serve --table, SIGHUP
//! reload, SIGTERM drain, driver selection.

use std::time::Duration;

use crate::support::*;

const MOCK: &str = r#"
[server]
listen = ["127.0.0.1:{port}"]
workers = 2
drain_timeout_ms = 5000

[[api]]
name = "a"
[[api.stage]]
name = "$default"
[[api.route]]
key = "GET /v"
integration = { type = "mock", body = "one" }
"#;

#[test]
fn check_reports_all_errors_with_positions() {
    let path = temp_path("bad.toml");
    std::fs::write(&path, "[server]\nlisten = [\"x\"]\n\n[[api]]\nname = \"a\"\nprotocl = \"http\"\n").unwrap();
    let out = portico(&["check", "-c", path.to_str().unwrap()]);
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    let p = path.display();
    assert!(err.contains(&format!("--> {p}:2:11")), "{err}");
    assert!(err.contains("`x` is not an address and port"), "{err}");
    assert!(err.contains(&format!("--> {p}:6:1")), "{err}");
    assert!(err.contains("hint: did you mean `protocol`?"), "{err}");
    assert!(err.contains("this API has no stage"), "{err}");
    assert!(err.contains("errors found"), "{err}");

    let ok = portico(&["check", "-c", concat!(env!("CARGO_MANIFEST_DIR"), "/configs/quickstart.toml")]);
    assert!(ok.status.success(), "{}", String::from_utf8_lossy(&ok.stderr));
    assert!(String::from_utf8_lossy(&ok.stdout).contains("ok — 2 APIs, 7 routes"));
}

#[test]
fn compiled_table_serves_without_the_config() {
    let port = free_port();
    let config = temp_path("c.toml");
    std::fs::write(&config, MOCK.replace("{port}", &port.to_string())).unwrap();
    let table = temp_path("table.json");
    let out = portico(&["compile", "-c", config.to_str().unwrap(), "-o", table.to_str().unwrap()]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    std::fs::remove_file(&config).unwrap();
    let routes = portico(&["routes", "--table", table.to_str().unwrap()]);
    let text = String::from_utf8_lossy(&routes.stdout);
    assert!(text.contains("GET /v") && text.contains("mock 200"), "{text}");
    let gw = Gateway::start_args(&["serve", "--table", table.to_str().unwrap()], port, config, Driver::Uring);
    assert_eq!(gw.get("/v").text(), "one");
    // A corrupted table is refused clearly.
    std::fs::write(&table, "{\"format\":\"portico-table\",\"version\":99}").unwrap();
    let out = portico(&["routes", "--table", table.to_str().unwrap()]);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("version 99"));
}

#[test]
fn routes_prints_priority_order() {
    let out = portico(&["routes", "-c", concat!(env!("CARGO_MANIFEST_DIR"), "/configs/quickstart.toml")]);
    let text = String::from_utf8_lossy(&out.stdout);
    let ping = text.find("GET /prod/ping").expect("ping route");
    let greedy = text.find("ANY /prod/{proxy+}").expect("greedy route");
    assert!(ping < greedy, "literal routes print before greedy ones:\n{text}");
}

#[test]
fn sighup_swaps_the_table_and_keeps_it_on_errors() {
    let mut gw = Gateway::start(MOCK, Driver::Uring);
    let mut kept = gw.connect();
    kept.send(b"GET /v HTTP/1.1\r\nHost: a\r\n\r\n");
    assert_eq!(kept.read_response().unwrap().text(), "one");

    let good = std::fs::read_to_string(&gw.config_path).unwrap().replace("body = \"one\"", "body = \"two\"");
    std::fs::write(&gw.config_path, &good).unwrap();
    gw.signal(libc::SIGHUP);
    wait_for(|| gw.log().contains("reloaded"));
    assert_eq!(gw.get("/v").text(), "two");
    kept.send(b"GET /v HTTP/1.1\r\nHost: a\r\n\r\n");
    assert_eq!(kept.read_response().unwrap().text(), "two", "open connections see the new table on their next request");

    std::fs::write(&gw.config_path, good.replace("key = \"GET /v\"", "key = \"BAD /v\"")).unwrap();
    gw.signal(libc::SIGHUP);
    wait_for(|| gw.log().contains("reload rejected"));
    assert!(gw.log().contains("`BAD` is not a route method"), "{}", gw.log());
    assert_eq!(gw.get("/v").text(), "two", "a failing config leaves the old table");
    gw.signal(libc::SIGTERM);
    assert_eq!(gw.wait_exit(Duration::from_secs(10)), Some(0));
}

#[test]
fn sigterm_drains_in_flight_requests_and_exits_zero() {
    for driver in DRIVERS {
        let up = Upstream::start(|_| Reply::After(Duration::from_millis(700), Box::new(ok_json("slow"))));
        let mut gw = Gateway::start(&proxy_config("http", up.addr, ""), driver);
        let mut idle = gw.connect();
        idle.send(b"GET /prod/ping HTTP/1.1\r\nHost: a\r\n\r\n");
        assert_eq!(idle.read_response().unwrap().status, 200);
        let mut busy = gw.connect();
        busy.send(b"GET /prod/pets/slow HTTP/1.1\r\nHost: a\r\n\r\n");
        std::thread::sleep(Duration::from_millis(150));
        gw.signal(libc::SIGTERM);
        let r = busy.read_response().expect("the in-flight request completes");
        assert_eq!((r.status, r.text().as_str()), (200, "slow"), "{driver:?}");
        assert_eq!(r.header("connection"), Some("close"));
        assert!(idle.is_closed(Duration::from_secs(3)), "idle keep-alive connections are closed");
        assert_eq!(gw.wait_exit(Duration::from_secs(10)), Some(0), "{}", gw.log());
        assert!(std::net::TcpStream::connect(gw.addr()).is_err(), "no longer accepting");
    }
}

#[test]
fn logs_the_driver_it_runs_on() {
    let gw = Gateway::start(MOCK, Driver::Uring);
    assert!(gw.log().contains("driver io_uring (COOP_TASKRUN)"), "{}", gw.log());
    assert!(gw.log().contains("2 workers"));
    let legacy = Gateway::start(MOCK, Driver::Legacy);
    assert!(legacy.log().contains("driver EPOLL"), "{}", legacy.log());
    assert!(legacy.log().contains("WARN"));
}

fn wait_for(mut cond: impl FnMut() -> bool) {
    for _ in 0..200 {
        if cond() {
            return;
        }
        std::thread::sleep(Duration::from_millis(25));
    }
    panic!("condition not reached");
}

#[test]
fn in_flight_requests_finish_on_the_old_table() {
    let up = Upstream::start(|_| Reply::After(Duration::from_millis(600), Box::new(ok_json("from upstream"))));
    let gw = Gateway::start(&proxy_config("http", up.addr, ""), Driver::Uring);
    let mut busy = gw.connect();
    busy.send(b"GET /prod/pets/1 HTTP/1.1\r\nHost: a\r\n\r\n");
    std::thread::sleep(Duration::from_millis(150));
    // The new table answers the same route with a mock.
    let config = std::fs::read_to_string(&gw.config_path).unwrap().replace(
        "integration = { type = \"http_proxy\", uri = \"http://${stageVariables.backend}/pets/{id}?from=gw\" }",
        "integration = { type = \"mock\", body = \"from new table\" }",
    );
    assert!(config.contains("from new table"));
    std::fs::write(&gw.config_path, config).unwrap();
    gw.signal(libc::SIGHUP);
    wait_for(|| gw.log().contains("reloaded"));
    assert_eq!(gw.get("/prod/pets/1").text(), "from new table");
    let r = busy.read_response().unwrap();
    assert_eq!(r.text(), "from upstream", "the request in flight during the reload finishes on the old table");
}
