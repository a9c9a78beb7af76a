//! `portico invoke`: the local test loop `sam local invoke` gives, on the real gateway code — one
//! request described on the command line is parsed by the codec, routed by the API's router, made
//! into the event its route's function integration sends, the function is invoked through its
//! target (a URL, local handler processes, the Lambda Invoke API), and its answer is read as the
//! gateway reads it. [`run`] returns all three for printing: the event as sent, the payload as
//! received, and what a client would get.
//!
//! Must not: serve anything, or differ from the gateway in how it builds or reads (it calls the
//! integration's own functions). Costs do not matter here: it runs once.

use bytes::Bytes;

use crate::context::{Context, RequestBody};
use crate::error::GatewayError;
use crate::function::request::{self, Caller};
use crate::http::head::{self, HeadLimits};
use crate::integration::function;
use crate::loaded::LoadedTable;
use crate::table::{Integration, PayloadFormat, RouteKey};

/// The request to try.
pub struct Request {
    /// An API by name; needed only when several have the route.
    pub api: Option<String>,
    /// A stage by name; the API's first by default.
    pub stage: Option<String>,
    /// A route key as configured (`GET /pets/{id}`); by default the route `path` matches.
    pub route: Option<String>,
    /// The path after the stage (`/pets/7`), with a query if wanted.
    pub path: String,
    /// Default: the route key's method, or `GET`.
    pub method: Option<String>,
    /// `Name: value` each.
    pub headers: Vec<String>,
    pub body: Vec<u8>,
}

/// What a client gets from the function: status, headers, body.
pub type ClientResponse = (u16, Vec<(String, String)>, Vec<u8>);

/// A gateway error as the client gets it: status, body, and the reason (for the log).
pub type GatewayAnswer = (u16, String, &'static str);

/// What happened, for printing.
pub struct Report {
    pub api: String,
    pub stage: String,
    pub route: String,
    pub function: String,
    pub format: PayloadFormat,
    /// The event as sent.
    pub event: Vec<u8>,
    /// The payload as received, and whether it was marked as a function error.
    pub payload: Option<(Bytes, bool)>,
    /// What a client gets: status, headers, body — or the gateway's error response and its reason.
    pub response: Result<ClientResponse, GatewayAnswer>,
}

/// A request routed in one API.
pub(crate) struct Routed {
    pub api: usize,
    pub stage: usize,
    pub route: u32,
    pub head: crate::http::head::RequestHead,
    pub ctx: Context,
}

/// The route `request` reaches in the one API meant, when its integration is what `wants`
/// accepts (`what` names it for the error otherwise).
pub(crate) fn find_route(
    table: &LoadedTable,
    request: &Request,
    wants: fn(&Integration) -> bool,
    what: &str,
) -> Result<Routed, String> {
    let apis = &table.table.apis;
    let candidates: Vec<usize> = apis
        .iter()
        .enumerate()
        .filter(|(_, a)| request.api.as_ref().is_none_or(|name| &a.name == name))
        .filter(|(_, a)| request.route.as_ref().is_none_or(|key| a.routes.iter().any(|r| &r.key == key)))
        .map(|(i, _)| i)
        .collect();
    if candidates.is_empty() {
        return Err(match (&request.api, &request.route) {
            (Some(api), _) if !apis.iter().any(|a| &a.name == api) => format!("no API is named `{api}`"),
            _ => "no API has that route (see `portico routes`)".into(),
        });
    }
    // Where the path routes to such an integration: the one API meant.
    let mut routed: Vec<Result<Routed, String>> =
        candidates.iter().map(|&api| route(table, api, request, wants, what)).collect();
    match routed.iter().filter(|r| r.is_ok()).count() {
        0 => Err(routed.swap_remove(0).err().unwrap_or_default()),
        1 => routed.into_iter().find_map(Result::ok).ok_or_else(|| "no route".to_owned()),
        _ => Err(format!("the path reaches {what} in several APIs: name one with --api")),
    }
}

/// As if from this machine: loopback, no client certificate.
pub(crate) const LOCAL_PEER: crate::request_vars::Peer<'static> =
    crate::request_vars::Peer { ip: std::net::IpAddr::V4(std::net::Ipv4Addr::LOCALHOST), client_cert: None };

/// What the outbound client needs outside a worker, for one command's calls.
#[derive(Default)]
pub(crate) struct OneShot {
    pool: crate::outbound::pool::Pool,
    counters: crate::metrics::WorkerCounters,
    draining: std::cell::Cell<bool>,
}

impl OneShot {
    pub(crate) fn outbound(&self) -> crate::outbound::Outbound<'_> {
        crate::outbound::Outbound { pool: &self.pool, counters: &self.counters, draining: &self.draining }
    }

    pub(crate) fn runtime() -> Result<monoio::Runtime<monoio::time::TimeDriver<monoio::LegacyDriver>>, String> {
        monoio::RuntimeBuilder::<monoio::LegacyDriver>::new()
            .enable_timer()
            .build()
            .map_err(|e| format!("cannot start a runtime: {e}"))
    }
}

/// Builds the event for `request`, invokes the function and reads its answer.
pub fn run(table: &LoadedTable, request: &Request) -> Result<Report, String> {
    let apis = &table.table.apis;
    let is_function: fn(&Integration) -> bool = |i| matches!(i, Integration::Function(_));
    let Routed { api: api_index, stage: stage_index, route, head, mut ctx } =
        find_route(table, request, is_function, "a function")?;
    let api = &apis[api_index];
    let stage = &api.stages[stage_index];
    let route_key = &api.routes[route as usize].key;
    let Integration::Function(integration) = &stage.integrations[route as usize] else {
        return Err(format!("route `{route_key}` does not invoke a function in stage `{}`", stage.name));
    };
    ctx.body = RequestBody::Buffered(Bytes::copy_from_slice(&request.body));
    let function = &table.table.functions[integration.function as usize];

    let mut runtime = OneShot::runtime()?;
    let one_shot = OneShot::default();
    let outbound = one_shot.outbound();
    let mut event = Vec::new();
    let invoked = runtime.block_on(async {
        let target = function::target(table, integration)?;
        let request_id = ctx.id();
        // As if from this machine to the API's first listener.
        let local_port = table.table.listeners.first().map_or(80, |l| l.addr.port());
        let caller = Caller { peer: std::net::Ipv4Addr::LOCALHOST.into(), local_port, tls: false, client_cert: None };
        let write = |out: &mut Vec<u8>| {
            let at = out.len();
            let sources = request::Sources { table: &table.table, mtls_header_names: &table.mtls_header_names };
            request::write_event(out, &sources, (&head, &ctx), &caller, request_id.as_str(), integration.format);
            event.extend_from_slice(&out[at..]);
        };
        let timeout = std::time::Duration::from_millis(integration.timeout_ms);
        let mut out = Vec::new();
        crate::function::invoke::invoke(outbound, &table.table.settings, &target, timeout, &mut out, write).await
    });
    let rendered = |e: &GatewayError| {
        let r = crate::response::gateway::lookup(api.protocol, e.kind);
        (r.status, r.body.to_owned(), e.detail)
    };
    let (payload, response) = match &invoked {
        Ok(invoked) => {
            let response = function::answer(table, (&head, &ctx), integration, invoked)
                .map(|a| {
                    let headers = a.headers.iter().map(|(n, v)| (n.to_string(), v.to_string())).collect();
                    (a.status, headers, a.body.into_owned())
                })
                .map_err(|e| rendered(&e));
            (Some((invoked.payload.clone(), invoked.function_error)), response)
        }
        Err(e) => (None, Err(rendered(e))),
    };
    Ok(Report {
        api: api.name.clone(),
        stage: stage.name.clone(),
        route: route_key.clone(),
        function: function.name.clone(),
        format: integration.format,
        event,
        payload,
        response,
    })
}

/// Parses `request` as the codec does and routes it in API `api_index`; `Ok` only when it reaches
/// an integration `wants` accepts.
fn route(
    table: &LoadedTable,
    api_index: usize,
    request: &Request,
    wants: fn(&Integration) -> bool,
    what: &str,
) -> Result<Routed, String> {
    let api = &table.table.apis[api_index];
    let stage_index = match &request.stage {
        Some(name) => api
            .stages
            .iter()
            .position(|s| &s.name == name)
            .ok_or(format!("API `{}` has no stage `{name}`", api.name))?,
        None => 0,
    };
    let stage = &api.stages[stage_index];
    let keyed = request.route.as_ref().and_then(|key| api.routes.iter().find(|r| &r.key == key));
    let method = match (&request.method, keyed.map(|r| &r.parsed)) {
        (Some(m), _) => m.to_ascii_uppercase(),
        (None, Some(RouteKey::Path { method, .. })) if *method != crate::table::RouteMethod::Any => {
            format!("{method:?}").to_ascii_uppercase()
        }
        _ => "GET".into(),
    };
    if !request.path.starts_with('/') {
        return Err(format!("the path `{}` does not start with `/`", request.path));
    }
    let prefix = if stage.is_default() { String::new() } else { format!("/{}", stage.name) };
    let mut raw = format!("{method} {prefix}{} HTTP/1.1\r\n", request.path).into_bytes();
    if !request.headers.iter().any(|h| h.to_ascii_lowercase().starts_with("host:")) {
        // A host the API answers: its first (a wildcard's own domain), else any.
        let host = api.hosts.first().map_or("localhost", |h| h.strip_prefix("*.").unwrap_or(h));
        raw.extend_from_slice(format!("Host: {host}\r\n").as_bytes());
    }
    for h in &request.headers {
        if !h.contains(':') {
            return Err(format!("`{h}` is not a header: give `Name: value`"));
        }
        raw.extend_from_slice(h.as_bytes());
        raw.extend_from_slice(b"\r\n");
    }
    if !request.body.is_empty() {
        raw.extend_from_slice(format!("Content-Length: {}\r\n", request.body.len()).as_bytes());
    }
    raw.extend_from_slice(b"\r\n");
    let limits = &table.table.settings.limits;
    let head_limits = HeadLimits {
        max_header_bytes: limits.max_header_bytes,
        max_header_count: limits.max_header_count,
        max_uri_bytes: limits.max_uri_bytes,
    };
    let index = match head::parse(&raw, &head_limits) {
        Ok(Some(index)) => index,
        Ok(None) => return Err("the request is incomplete".into()),
        Err(e) => return Err(format!("the request is not valid HTTP: {}", e.detail)),
    };
    let len = index.len;
    let head = index.into_head(Bytes::copy_from_slice(&raw[..len]));

    let mut ctx = Context::new(&head, api.protocol);
    ctx.api_stage = Some((api_index as u32, stage_index as u32));
    ctx.path_offset = prefix.len();
    let route = crate::route::step(&table.routers[api_index], &head, &mut ctx)
        .map_err(|_| format!("{method} {} matches no route of API `{}`", request.path, api.name))?;
    let route_key = &api.routes[route as usize].key;
    if let Some(wanted) = &request.route
        && wanted != route_key
    {
        return Err(format!("{method} {} matches route `{route_key}`, not `{wanted}`", request.path));
    }
    if !wants(&stage.integrations[route as usize]) {
        return Err(format!("route `{route_key}` does not reach {what} in stage `{}`", stage.name));
    }
    Ok(Routed { api: api_index, stage: stage_index, route, head, ctx })
}
