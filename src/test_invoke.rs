//! `portico test-invoke`: AWS's TestInvokeMethod, locally, on the real code — one request
//! described on the command line is parsed by the codec and routed by the API's router to a
//! non-proxy integration; its request mapping runs ([`crate::integration::mapped::request`]), the
//! integration request is written as the gateway writes it (signed, for an AWS service), the
//! integration is called unless told not to, and its answer is mapped as the gateway maps it.
//! [`run`] returns each stage for printing.
//!
//! Must not: serve anything, or differ from the gateway in how it maps (it calls the
//! integration's own functions). Costs do not matter here: it runs once.

use bytes::Bytes;

use crate::context::RequestBody;
use crate::error::GatewayError;
use crate::integration::mapped::{backend, request, response};
use crate::invoke_cli::{self, LOCAL_PEER, OneShot, Routed};
use crate::loaded::LoadedTable;
use crate::table::templates::Backend;
use crate::table::{Integration, RouteKey};

/// The request to try.
pub struct Request {
    pub api: Option<String>,
    pub stage: Option<String>,
    /// A route key as configured (`POST /orders/{id}`).
    pub route: Option<String>,
    /// The path after the stage; by default the route key's, when it has no parameters.
    pub path: Option<String>,
    pub headers: Vec<String>,
    pub body: Vec<u8>,
    /// Show the integration request and stop.
    pub no_call: bool,
}

/// What the backend answered, as read.
pub struct Answered {
    pub status: u16,
    pub content_type: Option<String>,
    pub selector: Option<String>,
    pub body: Bytes,
}

/// What happened, for printing.
pub struct Report {
    pub api: String,
    pub stage: String,
    pub route: String,
    /// What the integration calls, for humans.
    pub backend: String,
    /// The integration request as written (for a function: its event), or the gateway's error
    /// response and its reason when the request mapping failed.
    pub integration_request: Result<Vec<u8>, invoke_cli::GatewayAnswer>,
    pub integration_response: Option<Result<Answered, invoke_cli::GatewayAnswer>>,
    /// The integration response chosen, by index and selection pattern.
    pub chosen: Option<(usize, Option<String>)>,
    /// What a client gets.
    pub method_response: Option<Result<invoke_cli::ClientResponse, invoke_cli::GatewayAnswer>>,
}

/// The default path for a route key without parameters.
fn default_path(table: &LoadedTable, request: &Request) -> Result<String, String> {
    if let Some(p) = &request.path {
        return Ok(p.clone());
    }
    let key = request.route.as_deref().ok_or("give --route or --path")?;
    let keyed = table.table.apis.iter().flat_map(|a| &a.routes).find(|r| r.key == key);
    match keyed.map(|r| &r.parsed) {
        Some(RouteKey::Path { .. }) if !key.contains('{') => Ok(key.split_once(' ').map_or(key, |(_, p)| p).to_owned()),
        Some(_) => Err(format!("route `{key}` has path parameters: give --path with their values")),
        None => Err(format!("no API has a route `{key}` (see `portico routes`)")),
    }
}

/// Maps `request` through its route's non-proxy integration, calls it unless `no_call`, maps the
/// answer back.
pub fn run(table: &LoadedTable, request: &Request) -> Result<Report, String> {
    let path = default_path(table, request)?;
    let method = request.route.as_deref().and_then(|k| k.split_once(' ')).map(|(m, _)| m).filter(|m| *m != "ANY");
    let routing = invoke_cli::Request {
        api: request.api.clone(),
        stage: request.stage.clone(),
        route: request.route.clone(),
        path,
        method: method.map(str::to_owned),
        headers: request.headers.clone(),
        body: request.body.clone(),
    };
    let wants: fn(&Integration) -> bool = |i| matches!(i, Integration::Mapped(_));
    let Routed { api, stage, route, head, mut ctx } = invoke_cli::find_route(
        table,
        &routing,
        wants,
        "a non-proxy integration (for function proxies: portico invoke)",
    )?;
    let api_t = &table.table.apis[api];
    let stage_t = &api_t.stages[stage];
    let Integration::Mapped(mapped) = &stage_t.integrations[route as usize] else {
        return Err("not a non-proxy integration".into());
    };
    ctx.body = RequestBody::Buffered(Bytes::copy_from_slice(&request.body));
    ctx.id();
    let rendered = |e: &GatewayError| {
        let r = crate::response::gateway::lookup(api_t.protocol, e.kind);
        (r.status, r.body.to_owned(), e.detail)
    };
    let mut report = Report {
        api: api_t.name.clone(),
        stage: stage_t.name.clone(),
        route: api_t.routes[route as usize].key.clone(),
        backend: describe(table, &mapped.backend),
        integration_request: Ok(Vec::new()),
        integration_response: None,
        chosen: None,
        method_response: None,
    };
    let Some(fields) = crate::request_vars::so_far(table, LOCAL_PEER, &head, &ctx, 0) else {
        return Err("the request has no API and stage".into());
    };
    let prepared = match request::prepare(table, &fields, &head, &ctx, mapped) {
        Ok(p) => p,
        Err(e) => {
            report.integration_request = Err(rendered(&e));
            return Ok(report);
        }
    };
    let mut out = Vec::new();
    let call = match backend::write(table, &fields, (&head, &ctx), mapped, &prepared, &mut out) {
        Ok(call) => call,
        Err(e) => {
            report.integration_request = Err(rendered(&e));
            return Ok(report);
        }
    };
    report.integration_request = Ok(match call {
        backend::Call::Function(_) => prepared.body.to_vec(),
        backend::Call::Http { .. } => out.clone(),
    });
    if request.no_call {
        return Ok(report);
    }
    let mut runtime = OneShot::runtime()?;
    let one_shot = OneShot::default();
    let answer = runtime.block_on(backend::exchange(one_shot.outbound(), table, mapped, call, &prepared, &mut out));
    let answer = match answer {
        Ok(a) => a,
        Err(e) => {
            report.integration_response = Some(Err(rendered(&e)));
            return Ok(report);
        }
    };
    report.integration_response = Some(Ok(Answered {
        status: answer.status,
        content_type: answer.content_type().map(std::borrow::Cow::into_owned),
        selector: answer.selector(&mut itoa::Buffer::new()).map(str::to_owned),
        body: answer.body.clone(),
    }));
    report.method_response = Some(match response::map(table, LOCAL_PEER, (&head, &ctx), mapped, &answer) {
        Ok(r) => {
            report.chosen = r.chosen.map(|i| {
                let pattern = mapped.responses[i].selection_pattern.map(|p| table.table.patterns[p as usize].clone());
                (i, pattern)
            });
            Ok((
                r.status,
                r.headers.into_iter().map(|(n, v)| (n.into_owned(), v.into_owned())).collect(),
                r.body.to_vec(),
            ))
        }
        Err(e) => Err(rendered(&e)),
    });
    Ok(report)
}

/// What a non-proxy backend is, for humans (here and in `portico routes`).
pub fn describe(table: &LoadedTable, backend: &Backend) -> String {
    match backend {
        Backend::Http(h) => format!("http {} {}", h.method.as_deref().unwrap_or("(the request's method)"), h.uri),
        Backend::Function { function, .. } => {
            format!("function {} (non-proxy)", table.table.functions[*function as usize].name)
        }
        Backend::Aws(a) => {
            format!("aws {} in {}: {} {}", a.service, a.region, a.http.method.as_deref().unwrap_or("POST"), a.http.uri)
        }
    }
}
