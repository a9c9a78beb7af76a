//! Usage-plan quotas over real sockets: AWS's 429 `Limit Exceeded`, the usage endpoint, reset at
//! the UTC period boundary (with the clock shifted by PORTICO_CLOCK_OFFSET_S), counts that survive
//! a clean restart and `kill -9`, and a corrupt state file that does not stop the start.

use std::path::Path;
use std::time::Duration;

use crate::support::*;

const KEY: &str = "quota-key-0123456789abcdef";

fn config(admin: u16, limit: u64) -> String {
    let plan = format!(
        r#"
[[api_key]]
name = "k"
value = "{KEY}"

[[usage_plan]]
name = "metered"
api_stages = [{{ api = "shop", stage = "prod" }}]
keys = ["k"]
quota = {{ limit = {limit}, period = "DAY" }}
"#
    );
    shop_config(admin, "", &plan)
}

type Node = AdminNode;

fn start(dir: &Path, limit: u64, env: &[(&str, String)]) -> Node {
    AdminNode::start_in(dir, |admin| config(admin, limit), Driver::Uring, env)
}

fn call(n: &Node) -> Response {
    n.get_with_key("/prod/items", KEY)
}

fn admitted(n: &Node, tries: usize) -> usize {
    (0..tries).filter(|_| call(n).status == 200).count()
}

#[test]
fn quota_exhaustion_is_a_429_limit_exceeded_and_usage_reports_it() {
    let dir = temp_path("quota-a");
    std::fs::create_dir_all(&dir).unwrap();
    let n = start(&dir, 3, &[]);
    assert_eq!(admitted(&n, 3), 3);
    let r = call(&n);
    assert_eq!(r.status, 429);
    assert_eq!(r.text(), r#"{"message":"Limit Exceeded"}"#);
    assert_eq!(r.header("x-amzn-errortype"), Some("LimitExceededException"));
    let (status, body) = http_get(n.admin, "/usage?plan=metered");
    assert_eq!(status, 200);
    let v: serde_json::Value = serde_json::from_str(&body).unwrap();
    // AWS's GetUsage shape: per key, per day, [used, remaining]; today when no dates are given.
    assert_eq!(v["usagePlanId"], "metered");
    assert_eq!(v["items"]["k"], serde_json::json!([[3, 0]]));
    assert_eq!(v["startDate"], v["endDate"]);
    assert_eq!(v["current"][0]["key"], "k");
    assert_eq!((v["current"][0]["used"].as_u64(), v["current"][0]["remaining"].as_u64()), (Some(3), Some(0)));
    assert_eq!(v["current"][0]["period"], "DAY");
    assert_eq!(v["source"], "local");
    // A range: days without requests are [0, limit]; the range ends today.
    let today = v["endDate"].as_str().unwrap().to_owned();
    let (status, body) = http_get(n.admin, "/usage?plan=metered&startDate=2020-01-01&endDate=2020-01-03");
    assert_eq!(status, 200, "{body}");
    let v: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert_eq!(v["items"]["k"], serde_json::json!([[0, 3], [0, 3], [0, 3]]));
    let (_, body) = http_get(n.admin, &format!("/usage?plan=metered&startDate={today}&endDate={today}&keyId=k"));
    assert!(body.contains(r#""k":[[3,0]]"#), "{body}");
    assert_eq!(http_get(n.admin, "/usage?plan=metered&startDate=2020-01-01&endDate=2020-06-01").0, 400);
    assert_eq!(http_get(n.admin, "/usage?plan=metered&startDate=2020-02-30&endDate=2020-03-01").0, 400);
    assert_eq!(http_get(n.admin, "/usage?plan=nope").0, 404);
}

#[test]
fn usage_counts_requests_served_not_blocks_leased() {
    let dir = temp_path("quota-d");
    std::fs::create_dir_all(&dir).unwrap();
    // A large quota: workers lease blocks of 64 of it.
    let n = start(&dir, 100_000, &[]);
    assert_eq!(admitted(&n, 5), 5);
    let (_, body) = http_get(n.admin, "/usage?plan=metered");
    let v: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert_eq!(v["items"]["k"], serde_json::json!([[5, 99_995]]), "{body}");
    assert_eq!(v["current"][0]["used"], 5, "{body}");
}

#[test]
fn quota_resets_at_the_utc_day_boundary() {
    let dir = temp_path("quota-b");
    std::fs::create_dir_all(&dir).unwrap();
    // Shift the gateway's clock to 3 seconds before the next UTC midnight.
    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_secs();
    let midnight = (now / 86_400 + 1) * 86_400;
    let offset = (midnight - 3) as i64 - now as i64;
    let n = start(&dir, 2, &[("PORTICO_CLOCK_OFFSET_S", offset.to_string())]);
    assert_eq!(admitted(&n, 3), 2, "the day's quota");
    std::thread::sleep(Duration::from_millis(3500));
    assert_eq!(admitted(&n, 3), 2, "a new day, a new quota");
}

#[test]
fn counts_survive_a_clean_restart_and_kill_9_and_a_corrupt_file_is_not_fatal() {
    let dir = temp_path("quota-c");
    std::fs::create_dir_all(&dir).unwrap();
    let mut n = start(&dir, 10, &[]);
    assert_eq!(admitted(&n, 4), 4);
    // Counts are saved every second: after that, kill -9 loses nothing.
    std::thread::sleep(Duration::from_millis(1500));
    n.gw.child.kill().unwrap();
    let _ = n.gw.child.wait();
    let mut n = start(&dir, 10, &[]);
    assert!(n.gw.log().contains("1 counts restored"), "{}", n.gw.log());
    assert_eq!(admitted(&n, 2), 2);
    // A clean stop saves what was counted since the last save.
    n.gw.signal(libc::SIGTERM);
    assert_eq!(n.gw.wait_exit(Duration::from_secs(10)), Some(0));
    let n = start(&dir, 10, &[]);
    assert_eq!(admitted(&n, 10), 4, "10 − 4 − 2 left");
    drop(n);

    std::fs::write(dir.join("quota.json"), "{ not json").unwrap();
    let n = start(&dir, 10, &[]);
    assert!(n.gw.log().contains("not a valid state file"), "{}", n.gw.log());
    assert!(dir.join("quota.json.corrupt").exists());
    assert_eq!(admitted(&n, 2), 2, "counting from zero");
}

#[test]
fn a_quota_first_added_by_a_reload_is_saved_too() {
    let dir = temp_path("quota-e");
    std::fs::create_dir_all(&dir).unwrap();
    let quota_line = "quota = { limit = 5, period = \"DAY\" }\n";
    let without = |admin| config(admin, 5).replace(quota_line, "");
    let mut n = AdminNode::start_in(&dir, without, Driver::Uring, &[]);
    assert_eq!(http_get(n.admin, "/usage?plan=metered").0, 404, "no quota yet");
    let text = std::fs::read_to_string(&n.gw.config_path).unwrap();
    std::fs::write(&n.gw.config_path, text.replace("keys = [\"k\"]\n", &format!("keys = [\"k\"]\n{quota_line}")))
        .unwrap();
    n.gw.signal(libc::SIGHUP);
    let reloaded =
        eventually(Duration::from_secs(5), || (http_get(n.admin, "/usage?plan=metered").0 == 200).then_some(()));
    assert!(reloaded.is_some(), "{}", n.gw.log());
    assert_eq!(admitted(&n, 3), 3);
    std::thread::sleep(Duration::from_millis(1500));
    n.gw.child.kill().unwrap();
    let _ = n.gw.child.wait();
    let n = start(&dir, 5, &[]);
    assert_eq!(admitted(&n, 5), 2, "5 − 3 saved before the kill");
}
