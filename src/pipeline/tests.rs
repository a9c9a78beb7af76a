//! The steps without sockets: each over a compiled table, a parsed head and a context.

use bytes::Bytes;

use super::*;
use crate::http::head::{self, HeadLimits};
use crate::table::Protocol;

const CONFIG: &str = r#"
[server]
listen = ["127.0.0.1:0"]

[[api]]
name = "shop"
protocol = "rest"
[[api.stage]]
name = "prod"
throttle = { rate = 0.01, burst = 1 }
[[api.route]]
key = "GET /items/{id}"
integration = { type = "mock", status = 201, body = "item", headers = { "X-Mock" = "1" } }
[[api.route]]
key = "GET /keyed"
api_key_required = true
integration = { type = "mock", body = "keyed" }
[[api.route]]
key = "GET /plain"
integration = { type = "http_proxy", uri = "http://127.0.0.1:9/plain" }

[[api_key]]
name = "k"
value = "0123456789abcdefghij"

[[usage_plan]]
name = "p"
api_stages = [{ api = "shop", stage = "prod" }]
keys = ["k"]
"#;

fn table() -> LoadedTable {
    let table = crate::config::compile_str("test.toml", CONFIG).unwrap();
    LoadedTable::load(table).unwrap()
}

fn head(raw: &str) -> RequestHead {
    let limits = HeadLimits { max_header_bytes: 10240, max_header_count: 100, max_uri_bytes: 8192 };
    let index = head::parse(raw.as_bytes(), &limits).unwrap().unwrap();
    index.into_head(Bytes::copy_from_slice(raw.as_bytes()))
}

/// Steps 1 and 2 on a request: the context they leave, or the error.
fn routed(table: &LoadedTable, raw: &str) -> (Result<u32, GatewayError>, Context) {
    let mut head = head(raw);
    let mut ctx = Context::new(&head, Protocol::Http);
    let routed = stage::step(table, 0, &mut head, &mut ctx)
        .and_then(|()| route::step(&table.routers[ctx.api_stage.unwrap().0 as usize], &head, &mut ctx));
    (routed, ctx)
}

#[test]
fn stage_and_route_fill_the_context() {
    let table = table();
    let (route, ctx) = routed(&table, "GET /prod/items/%37 HTTP/1.1\r\nHost: a\r\n\r\n");
    assert_eq!(route, Ok(0));
    assert_eq!((ctx.api_stage, ctx.route, ctx.protocol), (Some((0, 0)), Some(0), Protocol::Rest));
    // The path is in its normal form (`%37` is `7`) and the capture points into the routed path.
    let normal = head("GET /prod/items/7 HTTP/1.1\r\nHost: a\r\n\r\n");
    let (s, e) = ctx.captures[0];
    assert_eq!(&ctx.routed_path(&normal)[s as usize..e as usize], b"7");
    let (route, ctx) = routed(&table, "GET /prod/nothing HTTP/1.1\r\nHost: a\r\n\r\n");
    assert_eq!((route.unwrap_err(), ctx.route), (GatewayError::NO_MATCH, None));
    let mut bad = head("GET /prod/%2e%2e/%2e%2e/x HTTP/1.1\r\nHost: a\r\n\r\n");
    let mut ctx = Context::new(&bad, Protocol::Http);
    let error = stage::step(&table, 0, &mut bad, &mut ctx).unwrap_err();
    assert_eq!((error.kind, ctx.protocol), (ResponseType::BadRequest, Protocol::Rest));
}

#[test]
fn the_compiler_plans_only_the_steps_a_route_uses() {
    let table = table();
    let steps = &table.table.apis[0].stages[0].steps;
    assert!(!steps[0].api_key && steps[0].throttle && !steps[0].cache && steps[0].buffer_body_bytes == 0);
    assert!(steps[1].api_key && steps[1].throttle);
    assert_eq!(steps[2].buffer_body_bytes, table.table.settings.limits.buffer_body_bytes);
}

#[test]
fn the_api_key_step_names_the_caller() {
    let table = table();
    let keyed = head("GET /prod/keyed HTTP/1.1\r\nHost: a\r\nx-api-key: 0123456789abcdefghij\r\n\r\n");
    let identity = auth::api_key::step(&table.api_keys, &table.table, &keyed, (0, 0), None).unwrap();
    assert_eq!((identity.api_key, identity.plan), (Some(0), Some(0)));
    let twice = head("GET /prod/keyed HTTP/1.1\r\nHost: a\r\nx-api-key: 0123456789abcdefghij\r\nx-api-key: x\r\n\r\n");
    let error = auth::api_key::step(&table.api_keys, &table.table, &twice, (0, 0), None).unwrap_err();
    assert_eq!(error.kind, ResponseType::InvalidApiKey);
    assert!(auth::mtls::check(&table.table, None, None).is_ok());
}

/// Runs a future that must not wait (no fleet: the throttle step never sleeps).
fn ready<T>(f: impl Future<Output = T>) -> T {
    let mut f = std::pin::pin!(f);
    match f.as_mut().poll(&mut std::task::Context::from_waker(std::task::Waker::noop())) {
        std::task::Poll::Ready(v) => v,
        std::task::Poll::Pending => panic!("the step waited"),
    }
}

#[test]
fn the_throttle_step_says_when_to_retry() {
    let table = table();
    let leases = crate::throttle::local::LocalLeases::default();
    let t = crate::throttle::Throttles {
        index: &table.throttles,
        quota_cells: &table.quota_cells,
        leases: &leases,
        fleet: None,
        worker: 0,
        workers: 1,
    };
    assert_eq!(ready(throttle::step(&t, None, 0, 0, 0)), Ok(()));
    let error = ready(throttle::step(&t, None, 0, 0, 0)).unwrap_err();
    // One token per 100 s: retry in 100 s.
    assert_eq!((error.kind, error.retry_after_s), (ResponseType::Throttled, 100));
}

#[test]
fn answers_are_response_values() {
    let table = table();
    let Integration::Mock(mock) = &table.table.apis[0].stages[0].integrations[0] else { panic!("a mock") };
    let r = integration::mock::response(mock);
    assert_eq!(r.status, 201);
    assert_eq!(r.extra.as_bytes(), b"Content-Type: application/json\r\n");
    let error = GatewayError::throttled(3);
    let r = gateway::response(Protocol::Rest, &error);
    assert_eq!(r.status, 429);
    let extra = std::str::from_utf8(r.extra.as_bytes()).unwrap();
    assert!(extra.contains("x-amzn-ErrorType: TooManyRequestsException\r\n") && extra.contains("Retry-After: 3\r\n"));
    let crate::response::Body::Static(body) = r.body else { panic!("a static body") };
    assert_eq!(body, br#"{"message":"Too Many Requests"}"#);
}
