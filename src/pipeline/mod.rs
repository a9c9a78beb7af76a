//! The request pipeline: the one function that decides the order of the steps (`run`), the one
//! failure exit (`fail`), and the last step every request ends in ([`observe`]).
//!
//! ```text
//! head ─▶ 1 stage ─▶ mTLS ─▶ 1b cors ─▶ 2 route ─▶ 3a authorize ─▶ 3b api key ─▶ 4 throttle
//!      ─▶ 5 body ─▶ 5b validate ─▶ 6 cache ─▶ 7 integration ─▶ observe
//!
//! answered early:  1b a preflight ─▶ Response      6 a fresh entry ─▶ Response
//! integrations:    7 mock ─▶ Response   proxy ─▶ relay   function ─▶ Response
//! any step's Err ─▶ fail ─▶ gateway response (the stage's customisation, or AWS's) ─▶ observe
//! ```
//!
//! Each step is a plain function in its own module over concrete types: it reads and fills the
//! request's [`Context`] and returns `Ok` to go on or a [`GatewayError`], which `fail` renders
//! (the stage's customised gateway response for the error's type, or AWS's default). Which of steps 3–6
//! a route runs, and up to what size its body is buffered, was decided by the compiler
//! ([`crate::table::RouteSteps`]): a plain proxy route pays for nothing it does not use.
//! Authorization is step 3a (`crate::auth::authorize`), before the API key. Every response — mock, cache hit, error, relay —
//! is written by [`crate::response::write`]. This module allocates nothing itself.

mod body;
pub mod observe;

use crate::cache::capture::Capture;
use crate::cache::lookup::{self, Decision, Lookup};
use crate::cache::respond;
use crate::conn::ClientConn;
use crate::context::Context;
use crate::context::record::CacheOutcome;
use crate::error::{GatewayError, ResponseType, Side};
use crate::http::head::RequestHead;
use crate::integration;
use crate::loaded::LoadedTable;
use crate::response::{Flow, custom, gateway, write};
use crate::table::Integration;
use crate::worker::Worker;
use crate::{auth, route, stage, throttle};

const TOO_LARGE: GatewayError = GatewayError::new(ResponseType::RequestTooLarge, "request body over the limit");
const CACHE_DENIED: GatewayError =
    GatewayError::new(ResponseType::CacheInvalidationDenied, "cache invalidation not authorised");

/// What serving a request came to.
pub enum Handled {
    /// Answered; the connection stays open or closes.
    Flow(Flow),
    /// The request opened a WebSocket connection: the connection is its session's from now on
    /// ([`crate::websocket::live`]).
    WebSocket(Box<crate::websocket::Upgraded>),
}

/// Serves one request whose head has been read.
pub async fn handle(worker: &Worker, table: &LoadedTable, conn: &mut ClientConn, mut head: RequestHead) -> Handled {
    let mut ctx = Context::new(&head, stage::listener_protocol(table, conn.listener));
    let mut upgraded = None;
    let flow = match run(worker, table, conn, (&mut head, &mut ctx), &mut upgraded).await {
        Ok(flow) => flow,
        // Boxed: an error's rendering (a customised response, a template) is not what every
        // connection task should be sized for.
        Err(error) => Box::pin(fail(conn, table, Some(&head), &mut ctx, error)).await,
    };
    if let Some(connection) = upgraded {
        // Its `$connect` was counted and logged; its other events will be.
        return Handled::WebSocket(Box::new(crate::websocket::Upgraded { head, ctx, connection }));
    }
    observe::request(worker, table, conn, &head, &ctx);
    Handled::Flow(flow)
}

/// A request whose head could not be parsed: answered, counted with the unmatched requests; the
/// connection closes.
pub async fn malformed(worker: &Worker, table: &LoadedTable, conn: &mut ClientConn, error: GatewayError) {
    let mut ctx = Context::malformed(stage::listener_protocol(table, conn.listener));
    fail(conn, table, None, &mut ctx, error).await;
    observe::malformed(worker, table, conn, &ctx);
}

/// The steps, in order.
async fn run(
    worker: &Worker,
    table: &LoadedTable,
    conn: &mut ClientConn,
    (head, ctx): (&mut RequestHead, &mut Context),
    upgraded: &mut Option<crate::function::websocket::Connection>,
) -> Result<Flow, GatewayError> {
    // 1 — stage: the path's one normal form, which API and stage. Everything after this sees only
    // the normal form. A mutual-TLS domain needs a connection verified for it.
    stage::step(table, conn.listener, head, ctx)?;
    if ctx.api_stage.is_some_and(|(api, _)| table.table.apis[api as usize].websocket.is_some()) {
        // A WebSocket upgrade's head lives as long as its connection.
        head.compact();
    }
    let head = &*head;
    auth::mtls::check(&table.table, ctx.domain, conn.stream.identity())?;
    let (api, stage) = ctx.api_stage.unwrap_or_default();

    // A WebSocket API's stage: the upgrade, the session and its events (`crate::websocket`).
    if let Some(ws) = &table.table.apis[api as usize].websocket {
        // `@connections` requests are SigV4-signed over their body: received whole first.
        let limits = &table.table.settings.limits;
        body::receive(conn, head, ctx, limits, limits.max_body_bytes).await?;
        if ctx.body_unread(head) {
            return Err(TOO_LARGE.closing());
        }
        // Boxed, here and below for what few routes use: a future's size is that of its largest
        // state, and every connection task holds the pipeline's (an idle connection too).
        if let Some(id) = crate::websocket::manage::connection_path(ctx.routed_path(head)) {
            return Box::pin(crate::websocket::manage::handle(worker, table, conn, (head, ctx), &id)).await;
        }
        // 2 (WebSocket) — an upgrade at the stage's root, whose route is `$connect`: it is
        // admitted (authorizer, API key, throttle) as an HTTP route's request is.
        let opening = crate::websocket::open(worker, table, conn, head, ctx)?;
        if let Some(route) = ws.connect {
            ctx.route = Some(route);
            admit(worker, table, conn, (head, ctx), (api, stage, route), Some(&opening.connection)).await?;
        }
        return match Box::pin(crate::websocket::accept(worker, table, conn, (head, ctx), ws, opening)).await? {
            crate::websocket::Accepted::Refused(flow) => Ok(flow),
            crate::websocket::Accepted::Open(connection) => {
                *upgraded = Some(connection);
                Ok(Flow::Close)
            }
        };
    }

    // 1b — CORS (APIs with a `cors` table): a preflight is answered here, before routing and
    // authorization; other requests from an allowed origin carry the headers on every response.
    if let Some(cors) = &table.table.apis[api as usize].cors
        && let Some(preflight) = crate::cors::step(cors, ctx.protocol, head, ctx)
    {
        let flow = body::settle(conn, head, ctx, &table.table.settings.limits).await?;
        return Ok(write::send(conn, ctx, &preflight, flow).await);
    }

    // 2 — route.
    let route = route::step(&table.routers[api as usize], head, ctx)?;
    let stage_table = &table.table.apis[api as usize].stages[stage as usize];
    let steps = stage_table.steps[route as usize];

    // 3, 4 — authorization, API key, throttle.
    admit(worker, table, conn, (head, ctx), (api, stage, route), None).await?;

    // 5 — body: within the limit; received whole up to the route's bound.
    let limits = &table.table.settings.limits;
    body::receive(conn, head, ctx, limits, steps.buffer_body_bytes).await?;

    // 5b — validation (REST routes with a validator): required parameters, then the body against
    // its model; the integration is never called for an invalid request.
    if steps.validate
        && let Some(v) = &table.table.apis[api as usize].route_validation[route as usize]
    {
        crate::validate::step(v, &table.schemas[api as usize], head, ctx)?;
    }

    // 6 — cache (routes of a caching stage): a fresh entry answers here; a miss is fetched below
    // and may be stored.
    let decision = match steps.cache {
        true => {
            let store = worker.cache.store(table, worker.generation(), api, stage, worker.control().workers);
            let cache_route = stage_table.route_caches.get(route as usize).and_then(Option::as_ref);
            let routed_path = ctx.routed_path(head);
            Box::pin(lookup::decide(Lookup { cache: &worker.cache, store, route: cache_route, head, routed_path }))
                .await
        }
        false => Decision::Off,
    };
    let (mut capture, fill) = match decision {
        Decision::Off => (None, None),
        Decision::Bypass { status_header } => (Some(Capture::new(None, "bypass", status_header, false)), None),
        Decision::Hit { entry, body, status_header, collapsed, warning } => {
            ctx.record.cache = CacheOutcome::Hit;
            let now_ms = crate::cache::now_ms();
            let hit = respond::Hit { entry: &entry, body, now_ms, status_header, collapsed, warning };
            let flow = body::settle(conn, head, ctx, limits).await.unwrap_or(Flow::Close);
            return Ok(write::send(conn, ctx, &respond::response(&hit), flow).await);
        }
        Decision::Refused => return Err(CACHE_DENIED),
        Decision::Fill(fill) => {
            ctx.record.cache = CacheOutcome::Miss;
            (Some(fill.capture()), Some(fill))
        }
    };

    // 7 — integration: a mock answers from the table; an HTTP proxy's upstream response is
    // relayed as it arrives (and stored, when the cache step asked for it).
    match &stage_table.integrations[route as usize] {
        Integration::Mock(mock) => {
            let flow = body::settle(conn, head, ctx, limits).await?;
            Ok(write::send(conn, ctx, &integration::mock::response(mock), flow).await)
        }
        Integration::HttpProxy(proxy) => {
            let outbound = worker.outbound();
            let outcome =
                integration::http_proxy::forward(outbound, table, conn, (head, ctx), proxy, capture.as_mut()).await;
            if let (Some(fill), Some(capture)) = (fill, capture) {
                fill.finish(capture);
            }
            outcome
        }
        Integration::Function(function) => {
            // The route buffers bodies up to the request limit: one still unread is over it.
            if ctx.body_unread(head) {
                return Err(TOO_LARGE.closing());
            }
            let flow = body::settle(conn, head, ctx, limits).await?;
            Box::pin(integration::function::invoke(worker.outbound(), table, conn, (head, ctx), function, flow)).await
        }
        Integration::Mapped(mapped) => {
            if ctx.body_unread(head) {
                return Err(TOO_LARGE.closing());
            }
            let flow = body::settle(conn, head, ctx, limits).await?;
            // Inline, not boxed: no larger than the proxy's step (a boxed 5 KB future was a
            // copy and an aligned allocation per request).
            integration::mapped::call(worker.outbound(), table, conn, (head, ctx), mapped, flow).await
        }
    }
}

/// The one failure exit: renders `error` as the gateway response of the request's API kind (an
/// unread small body is dropped first, so the connection can stay open).
async fn fail(
    conn: &mut ClientConn,
    table: &LoadedTable,
    head: Option<&RequestHead>,
    ctx: &mut Context,
    mut error: GatewayError,
) -> Flow {
    let mut flow = if ctx.keep_alive && !error.closes_connection() { Flow::KeepAlive } else { Flow::Close };
    if flow == Flow::KeepAlive
        && let Some(head) = head
    {
        match body::settle(conn, head, ctx, &table.table.settings.limits).await {
            Ok(settled) => flow = settled,
            Err(bad_body) => {
                error = bad_body;
                flow = Flow::Close;
            }
        }
    }
    if error.side() != Side::Client {
        log::warn!("request {:?} from {}: {error}", ctx.id(), conn.peer);
    }
    ctx.record.error = Some(error);
    // Made now, so a customised response can show it (`$context.requestId`).
    ctx.id();
    let mut response = error_response(conn, table, head, ctx);
    // A stage that debugs its authorization says why it refused (never a secret: see
    // `auth::authorize`).
    let debug = ctx.api_stage.is_some_and(|(a, s)| table.table.apis[a as usize].stages[s as usize].auth_debug);
    if debug && let Some(reason) = &ctx.record.auth_reason {
        response.extra.line(b"x-portico-auth-reason: ");
        for &b in reason.as_bytes() {
            response.extra.line(if (b' '..=b'~').contains(&b) { std::slice::from_ref(&b) } else { b"?" });
        }
        response.extra.line(b"\r\n");
    }
    write::send(conn, ctx, &response, flow).await
}

/// The gateway response for the error in `ctx`'s record: the stage's customisation of its type,
/// if it has one, else AWS's default.
fn error_response(
    conn: &ClientConn,
    table: &LoadedTable,
    head: Option<&RequestHead>,
    ctx: &Context,
) -> crate::response::Response<'static> {
    let Some(error) = &ctx.record.error else {
        return gateway::response(ctx.protocol, &GatewayError::new(ResponseType::Internal, "no error to render"));
    };
    let Some(((api, stage), head)) = ctx.api_stage.zip(head) else {
        return gateway::response(ctx.protocol, error);
    };
    let api = &table.table.apis[api as usize];
    let Some(custom) = custom::find(&api.stages[stage as usize].gateway_responses, api.protocol, error) else {
        return gateway::response(ctx.protocol, error);
    };
    let status = custom.status.unwrap_or(gateway::lookup(api.protocol, error.kind).status);
    let Some(fields) = crate::request_vars::so_far(table, crate::request_vars::Peer::of(conn), head, ctx, status)
    else {
        return gateway::response(ctx.protocol, error);
    };
    let params = crate::request_vars::route_params(table, ctx);
    let request = crate::mapping::Request { head, ctx, params, fields: &fields, response: None };
    custom::response(api.protocol, error, custom, &request)
}

/// Steps 3 and 4 for `route` (of `api` in `stage`): its authorizer (or SigV4), its API key, its
/// limits and quota, as the compiler's steps say; `websocket` is the connection a `$connect`
/// route's authorizer is asked about.
async fn admit(
    worker: &Worker,
    table: &LoadedTable,
    conn: &mut ClientConn,
    (head, ctx): (&RequestHead, &mut Context),
    (api, stage, route): (u32, u32, u32),
    websocket: Option<&crate::function::websocket::Connection>,
) -> Result<(), GatewayError> {
    let steps = table.table.apis[api as usize].stages[stage as usize].steps[route as usize];

    // 3a — authorization: the route's authorizer, as AWS orders it before the API key.
    if steps.auth {
        // SigV4 covers the body's hash: an AWS_IAM route receives it whole first.
        if table.table.apis[api as usize].route_auth[route as usize].iam {
            let limits = &table.table.settings.limits;
            body::receive(conn, head, ctx, limits, limits.max_body_bytes).await?;
            if ctx.body_unread(head) {
                return Err(TOO_LARGE.closing());
            }
        }
        let target = |function: u32| table.function_target(function, None);
        let functions = auth::authorize::FunctionInputs {
            target: &target,
            validations: &table.authorizer_validations[api as usize],
            outbound: worker.outbound(),
            sources: crate::function::request::Sources {
                table: &table.table,
                mtls_header_names: &table.mtls_header_names,
            },
            caller: integration::function::caller(conn),
            shared: &table.authorizer_answers,
            local: &worker.authorizer_answers,
            websocket,
        };
        let inputs = auth::authorize::Inputs {
            api: &table.table.apis[api as usize],
            api_index: api,
            route,
            keyrings: &table.keyrings[api as usize],
            algorithms: &table.jwt_algorithms[api as usize],
            verdicts: &worker.verdicts,
            generation: worker.generation(),
            functions,
            iam_credentials: &table.table.iam_credentials,
        };
        Box::pin(auth::authorize::step(inputs, head, ctx)).await?;
    }

    // 3b — API key (REST routes and WebSocket `$connect` routes with `api_key_required`).
    if steps.api_key {
        let api_table = &table.table.apis[api as usize];
        let from_authorizer = api_table.api_key_from_authorizer.then(|| ctx.authorized.usage_key().map(str::as_bytes));
        ctx.identity = auth::api_key::step(&table.api_keys, &table.table, head, (api, stage), from_authorizer)?;
    }

    // 4 — throttle, in AWS's order: the key's usage plan, the route's limit (or the stage
    // default), the gateway-wide one; then the key's quota.
    if steps.throttle {
        let key = ctx.identity.plan.zip(ctx.identity.api_key);
        throttle::step(&worker.throttles(table), key, api, stage, route).await?;
    }
    Ok(())
}

#[cfg(test)]
mod tests;
