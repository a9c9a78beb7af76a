//! API keys and usage plans over real sockets: AWS's 403 for each bad-key case, keys from a file,
//! case-insensitive `x-api-key`, the plan's per-key throttle, the key's id in the access log, key
//! values redacted from `/config`.

use std::net::SocketAddr;
use std::time::Duration;

use crate::support::*;

const GOLD: &str = "gold-key-0123456789abcdef";
const FILE_KEY: &str = "file-key-0123456789abcdef";
const OFF: &str = "disabled-key-0123456789abc";
const LONER: &str = "no-plan-key-0123456789abc";
const BETA: &str = "beta-only-key-0123456789a";

#[test]
fn api_keys_are_checked_like_aws_and_usage_plans_throttle_per_key() {
    let dir = temp_path("keys");
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join("key.txt"), format!("{FILE_KEY}\n")).unwrap();
    let admin_port = free_port();
    let config = format!(
        r#"
[server]
listen = ["127.0.0.1:{{port}}"]
workers = 2
[admin]
listen = "127.0.0.1:{admin_port}"

[[api]]
name = "shop"
protocol = "rest"
[[api.stage]]
name = "prod"
access_log = {{ destination = "access.log", format = "$context.identity.apiKeyId $context.status" }}
[[api.stage]]
name = "beta"
[[api.route]]
key = "GET /items"
api_key_required = true
integration = {{ type = "mock", body = "items" }}
[[api.route]]
key = "GET /public"
integration = {{ type = "mock", body = "public" }}
[[api.route]]
key = "GET /limited"
api_key_required = true
integration = {{ type = "mock", body = "limited" }}

[[api_key]]
name = "gold-partner"
value = "{GOLD}"
[[api_key]]
name = "from-file"
value_file = "key.txt"
[[api_key]]
name = "switched-off"
value = "{OFF}"
enabled = false
[[api_key]]
name = "loner"
value = "{LONER}"
[[api_key]]
name = "beta-tester"
value = "{BETA}"

[[usage_plan]]
name = "gold"
rate = 1
burst = 2
api_stages = [{{ api = "shop", stage = "prod", route_throttle = {{ "GET /limited" = {{ rate = 1, burst = 1 }} }} }}]
keys = ["gold-partner", "from-file", "switched-off"]

[[usage_plan]]
name = "beta"
api_stages = [{{ api = "shop", stage = "beta" }}]
keys = ["beta-tester"]
"#
    );
    let gw = Gateway::start_in(&dir, &config, Driver::Uring, &[]);
    let admin = SocketAddr::from(([127, 0, 0, 1], admin_port));
    let get = |path: &str, key: Option<&str>| {
        let header = key.map_or(String::new(), |k| format!("X-API-KEY: {k}\r\n"));
        gw.send(format!("GET {path} HTTP/1.1\r\nHost: x\r\n{header}\r\n").as_bytes())
    };

    for (case, key) in [
        ("missing", None),
        ("unknown", Some("not-a-key-0123456789abcdef")),
        ("disabled", Some(OFF)),
        ("in no plan", Some(LONER)),
        ("plan of another stage", Some(BETA)),
    ] {
        let r = get("/prod/items", key);
        assert_eq!(r.status, 403, "{case}");
        assert_eq!(r.text(), r#"{"message":"Forbidden"}"#, "{case}");
        assert_eq!(r.header("x-amzn-errortype"), Some("ForbiddenException"), "{case}");
    }
    assert_eq!(get("/beta/items", Some(BETA)).status, 200, "its own stage");
    assert_eq!(get("/prod/public", None).status, 200, "routes without api_key_required need none");
    assert_eq!(get("/prod/items", Some(FILE_KEY)).status, 200, "a key read from a file");

    // The plan's throttle is per key: burst 2, then 429; the other key of the plan is unaffected.
    let statuses: Vec<u16> = (0..3).map(|_| get("/prod/items", Some(GOLD)).status).collect();
    assert_eq!(statuses, [200, 200, 429]);
    assert_eq!(get("/prod/items", Some(FILE_KEY)).status, 200);
    // The plan's override for one route: burst 1 there, whatever the plan's own limit.
    assert_eq!(get("/prod/limited", Some(FILE_KEY)).status, 200);
    assert_eq!(get("/prod/limited", Some(FILE_KEY)).status, 429);

    let log = dir.join("access.log");
    let lines =
        eventually(Duration::from_secs(5), || std::fs::read_to_string(&log).ok().filter(|t| t.lines().count() >= 11))
            .expect("access log lines");
    assert!(lines.lines().any(|l| l == "gold-partner 200"), "{lines}");
    assert!(lines.lines().any(|l| l == "- 403"), "{lines}");

    let (_, config) = http_get(admin, "/config");
    assert!(!config.contains(GOLD) && config.contains("gold-partner"), "key values are redacted");
}

#[test]
fn key_configuration_errors() {
    let (passed, err) = check(
        "[[api]]\nname = \"h\"\nprotocol = \"http\"\n[[api.stage]]\nname = \"$default\"\n[[api.route]]\nkey = \"GET /\"\napi_key_required = true\nintegration = { type = \"mock\" }\n\n[[api_key]]\nname = \"short\"\nvalue = \"abc\"\n\n[[usage_plan]]\nname = \"p\"\napi_stages = [{ api = \"h\", stage = \"$default\" }]\nkeys = [\"shrot\"]\n",
    );
    assert!(!passed);
    assert!(err.contains("HTTP APIs have no API keys"), "{err}");
    assert!(err.contains("has a value AWS would refuse"), "{err}");
    assert!(err.contains("no API key is named `shrot`"), "{err}");
}
