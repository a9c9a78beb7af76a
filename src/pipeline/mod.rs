//! The request pipeline: the one function that decides the order of the steps.
//!
//! ```text
//! head ─▶ path + stage ─▶ Router::find ─▶ api key ─▶ throttle ─▶ body limit, receive ─▶ cache ─▶ integration ─▶ observe
//!              │                 │            │          │            │                  │ hit
//!              │                 │            │          │            │                  └─▶ cache::respond
//!              └─────────────────┴────────────┴──────────┴────────────┴──────────────────┴──▶ response::gateway
//! ```
//!
//! Authorizers will join the API key step (`crate::auth`) between routing and the throttle. Each step
//! is a plain function over concrete types that yields the next step's input or a [`GatewayError`]; the
//! error is rendered in one place. Every request, whatever its outcome, ends in [`observe`], which
//! reads what the steps left in the connection's [`record::Record`]. This function allocates nothing
//! itself.

pub mod observe;
pub mod record;

use crate::cache::capture::Capture;
use crate::cache::lookup::{self, Decision, Lookup};
use crate::cache::respond;
use crate::error::{GatewayError, ResponseType};
use crate::http::Method;
use crate::http::conn::ClientConn;
use crate::http::head::{Framing, RequestHead};
use crate::integration;
use crate::response::Flow;
use crate::response::request_id::RequestId;
use crate::route::Captures;
use crate::runtime::worker::Worker;
use crate::stage;
use crate::table::loaded::LoadedTable;
use crate::table::{Integration, Limits, Protocol};
use crate::throttle::{self, QuotaVerdict, Throttled};
use record::{CacheOutcome, Record};

/// What the integration step needs to know about the request.
pub struct Request<'a> {
    pub head: &'a RequestHead,
    pub id: RequestId,
    pub protocol: Protocol,
    /// The path the router saw (after stage or base path).
    pub routed_path: &'a [u8],
    pub captures: &'a Captures,
    pub limits: &'a Limits,
}

/// Where a request landed, for metrics and the access log.
#[derive(Debug, Default, Clone, Copy)]
pub struct Place {
    /// API and stage; `None` when no API or stage matched.
    pub api_stage: Option<(u32, u32)>,
    pub route: Option<u32>,
}

pub async fn handle(worker: &Worker, table: &LoadedTable, conn: &mut ClientConn, mut head: RequestHead) -> Flow {
    let started = quanta::Instant::now();
    conn.record = Record::default();
    let mut place = Place::default();
    let flow = steps(worker, table, conn, &mut head, &mut place).await;
    observe::request(worker, table, conn, &head, place, started);
    flow
}

async fn steps(
    worker: &Worker,
    table: &LoadedTable,
    conn: &mut ClientConn,
    head: &mut RequestHead,
    place: &mut Place,
) -> Flow {
    let limits = &table.table.settings.limits;
    let keep_alive = if head.keep_alive { Flow::KeepAlive } else { Flow::Close };
    let head_only = head.method == Method::Head;

    // Step 1 — path and stage: the path's one normal form, which API and stage, and the path left
    // for the router. Everything after this sees only the normal form.
    let target = match normalize_and_select(table, conn.listener, head) {
        Ok(target) => target,
        Err(Unselected::NoStage(protocol)) => {
            return reject(conn, head, limits, protocol, ResponseType::MissingAuthenticationToken).await;
        }
        Err(Unselected::BadPath(protocol, detail)) => {
            let error = GatewayError::new(ResponseType::BadRequest, detail);
            return reject_with(conn, head, limits, protocol, error).await;
        }
    };
    let head = &*head;
    place.api_stage = Some((target.api, target.stage));
    // A mutual-TLS domain is reachable only on a connection whose client certificate was verified
    // for it: its SNI must have named this domain.
    if let Some(d) = target.domain
        && let Some(domain) = table.table.domains.get(d as usize)
        && domain.mtls
        && conn.stream.identity().is_none_or(|id| id.domain != domain.name)
    {
        let protocol = table.table.apis[target.api as usize].protocol;
        return reject(conn, head, limits, protocol, ResponseType::MisdirectedRequest).await;
    }
    let api = &table.table.apis[target.api as usize];
    let protocol = api.protocol;
    let routed_path = stage::routed_path(head.path(), target.path_offset);

    // Step 2 — route: most specific route key wins, `$default` last.
    let Some(matched) = table.routers[target.api as usize].find(head.method, routed_path) else {
        return reject(conn, head, limits, protocol, ResponseType::MissingAuthenticationToken).await;
    };
    place.route = Some(matched.route);

    // Step 3 — API key (REST routes with `api_key_required`): an enabled key in a usage plan of this
    // stage, or 403.
    let mut plan_key = None;
    if api.api_key_required.get(matched.route as usize) == Some(&true) {
        match table.api_keys.check(&table.table, head, target.api, target.stage) {
            Ok(admitted) => {
                conn.record.api_key = Some(admitted.key);
                plan_key = Some(admitted);
            }
            Err(detail) => {
                let error = GatewayError::new(ResponseType::InvalidApiKey, detail);
                return reject_with(conn, head, limits, protocol, error).await;
            }
        }
    }

    // Step 4 — throttle, in AWS's order: the key's usage plan, the route's limit (or the stage
    // default), the gateway-wide one.
    let key = plan_key.map(|k| (k.plan, k.key));
    let throttled = throttle::admit_request(worker, table, key, target.api, target.stage, matched.route).await;
    if let Err(refused) = throttled {
        let error = match refused {
            Throttled::Denied(retry_after_ns) => {
                let retry_after_s = retry_after_ns.div_ceil(1_000_000_000).max(1).min(u64::from(u32::MAX)) as u32;
                GatewayError::throttled(retry_after_s)
            }
            // `admit_request` waits `Wait` out itself.
            Throttled::Wait | Throttled::Unavailable => GatewayError::fleet_unavailable(),
        };
        return reject_with(conn, head, limits, protocol, error).await;
    }
    // The key's usage-plan quota for this period.
    if let Some(k) = plan_key {
        let error = match throttle::admit_quota(worker, table, k.plan, k.key).await {
            QuotaVerdict::Admitted => None,
            QuotaVerdict::Exceeded => {
                Some(GatewayError::new(ResponseType::QuotaExceeded, "usage plan quota exhausted"))
            }
            QuotaVerdict::Unavailable => Some(GatewayError::fleet_unavailable()),
        };
        if let Some(error) = error {
            return reject_with(conn, head, limits, protocol, error).await;
        }
    }

    // Bodies within the limit (10 MB by default, like AWS).
    let id = RequestId::new(protocol);
    conn.record.request_id = Some(id);
    if let Framing::Length(n) = head.framing
        && n > limits.max_body_bytes
    {
        let error = GatewayError::new(ResponseType::RequestTooLarge, "request body over the limit");
        return conn.send_error(protocol, &error, &id, Flow::Close, head_only).await;
    }
    let request = Request { head, id, protocol, routed_path, captures: &matched.captures, limits };
    let stage = &api.stages[target.stage as usize];
    let integration = &stage.integrations[matched.route as usize];

    // A body up to `buffer_body_bytes` is received whole, its framing checked, before an upstream
    // hears of the request (a slow or broken body is answered here and never forwarded).
    if let Integration::HttpProxy(_) = integration
        && let Err(error) = crate::http::request_body::receive(conn, head, limits).await
    {
        return conn.send_error(protocol, &error, &id, Flow::Close, head_only).await;
    }

    // Step 5 — cache: a fresh entry answers here; a miss is fetched below and may be stored.
    let decision = match integration {
        Integration::HttpProxy(_) => {
            let store =
                worker.cache.store(table, worker.generation(), target.api, target.stage, worker.control().workers);
            let route = stage.route_caches.get(matched.route as usize).and_then(Option::as_ref);
            lookup::decide(Lookup { cache: &worker.cache, store, route, head, routed_path }).await
        }
        // Mocks are answered from the table already.
        Integration::Mock(_) => Decision::Off,
    };
    let (mut capture, fill) = match decision {
        Decision::Off => (None, None),
        Decision::Bypass { status_header } => (Some(Capture::new(None, "bypass", status_header, false)), None),
        Decision::Hit { entry, body, status_header, collapsed, warning } => {
            conn.record.cache = CacheOutcome::Hit;
            let now_ms = crate::cache::now_ms();
            let hit = respond::Hit { entry: &entry, body, now_ms, status_header, collapsed, warning };
            return respond::write(conn, &request, hit).await;
        }
        Decision::Refused => {
            return reject(conn, head, limits, protocol, ResponseType::CacheInvalidationDenied).await;
        }
        Decision::Fill(fill) => {
            conn.record.cache = CacheOutcome::Miss;
            (Some(fill.capture()), Some(fill))
        }
    };

    // Step 6 — integration.
    let outcome = match integration {
        Integration::Mock(mock) => integration::mock::respond(conn, &request, mock).await,
        Integration::HttpProxy(proxy) => {
            integration::http_proxy::forward(worker, table, conn, &request, proxy, capture.as_mut()).await
        }
    };
    if let (Some(fill), Some(capture)) = (fill, capture) {
        fill.finish(capture);
    }

    // Step 7 — response: integrations write their own; failures become gateway responses here.
    match outcome {
        Ok(flow) => flow,
        Err(error) => conn.send_error(protocol, &error, &id, keep_alive, head_only).await,
    }
}

/// Why no API and stage could be selected, with the API kind whose error shape to use.
enum Unselected {
    NoStage(Protocol),
    BadPath(Protocol, &'static str),
}

/// Normalises the path with the gateway's rules and selects API and stage. When that API has
/// rules of its own, the path as received is normalised again with them and must select the same
/// API: an API's rules cannot be used to reach another API. When the gateway's rules refuse the
/// path, an API whose own rules accept it and select that API serves it (the rare path: at most
/// one try per distinct set of rules).
fn normalize_and_select(
    table: &LoadedTable,
    listener: u32,
    head: &mut RequestHead,
) -> Result<stage::Target, Unselected> {
    let gateway_rules = &table.table.settings.paths;
    if let Err(detail) = head.normalize(gateway_rules) {
        let apis = &table.table.apis;
        for (i, api) in apis.iter().enumerate() {
            let rules = &api.paths;
            if rules == gateway_rules || apis[..i].iter().any(|a| a.paths == *rules) {
                continue;
            }
            if head.normalize(rules).is_ok()
                && let Ok(target) = stage::select(table, listener, head.host_name(), head.path())
                && apis[target.api as usize].paths == *rules
            {
                return Ok(target);
            }
        }
        return Err(Unselected::BadPath(listener_protocol(table, listener), detail));
    }
    let target = stage::select(table, listener, head.host_name(), head.path()).map_err(Unselected::NoStage)?;
    let api = &table.table.apis[target.api as usize];
    if api.paths == *gateway_rules {
        return Ok(target);
    }
    let bad = |detail| Unselected::BadPath(api.protocol, detail);
    head.normalize(&api.paths).map_err(bad)?;
    match stage::select(table, listener, head.host_name(), head.path()) {
        Ok(again) if again.api == target.api => Ok(again),
        _ => Err(bad("the path selects another API under this API's path rules")),
    }
}

/// Answers with a gateway error before any integration ran, dropping a small unread body so the
/// connection can stay open.
async fn reject(
    conn: &mut ClientConn,
    head: &RequestHead,
    limits: &Limits,
    protocol: Protocol,
    kind: ResponseType,
) -> Flow {
    let detail = match kind {
        ResponseType::CacheInvalidationDenied => "cache invalidation not authorised",
        ResponseType::MisdirectedRequest => "mutual-TLS domain on a connection not verified for it",
        _ => "no API, stage or route matched",
    };
    reject_with(conn, head, limits, protocol, GatewayError::new(kind, detail)).await
}

/// Answers `error` before any integration ran, dropping a small unread body so the connection can
/// stay open.
async fn reject_with(
    conn: &mut ClientConn,
    head: &RequestHead,
    limits: &Limits,
    protocol: Protocol,
    error: GatewayError,
) -> Flow {
    let id = RequestId::new(protocol);
    let (error, flow) = if head.keep_alive {
        match conn.discard_body(head, limits).await {
            Ok(flow) => (error, flow),
            Err(bad_body) => (bad_body, Flow::Close),
        }
    } else {
        (error, Flow::Close)
    };
    conn.send_error(protocol, &error, &id, flow, head.method == Method::Head).await
}

/// The API kind whose error shapes a listener uses before any API is known (malformed requests).
pub fn listener_protocol(table: &LoadedTable, listener: u32) -> Protocol {
    let t = &table.table;
    let Some(l) = t.listeners.get(listener as usize) else {
        return Protocol::Http;
    };
    let api = l.apis.first().copied().or_else(|| {
        let domain = &t.domains[*l.domains.first()? as usize];
        Some(domain.mappings.first()?.api)
    });
    api.map_or(Protocol::Http, |a| t.apis[a as usize].protocol)
}
