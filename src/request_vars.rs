//! The `$context` values of one request, gathered from where the steps left them (the loaded
//! table, the connection, the head, the context): for its access log line, its customised gateway
//! response, and its parameter mappings. Borrows everything; one `clock_gettime` for the request
//! time.

use crate::conn::ClientConn;
use crate::context::Context;
use crate::http::head::RequestHead;
use crate::loaded::LoadedTable;
use crate::vars::Fields;

/// Who sent the request: what `$context` tells of the connection.
#[derive(Clone, Copy)]
pub struct Peer<'a> {
    pub ip: std::net::IpAddr,
    pub client_cert: Option<&'a crate::tls::client_cert::ClientCert>,
}

impl<'a> Peer<'a> {
    pub fn of(conn: &'a ClientConn) -> Self {
        Peer { ip: conn.peer.ip(), client_cert: conn.stream.identity().map(|i| &i.client_cert) }
    }
}

/// How far a request has come, for its `$context` values.
pub struct Progress {
    pub status: u16,
    pub response_length: u64,
    pub latency_us: u64,
    pub integration_us: Option<u64>,
}

/// The `$context` values of a request whose API and stage are known (`None` otherwise), for its
/// access log line and its customised gateway response.
pub fn fields<'a>(
    table: &'a LoadedTable,
    peer: Peer<'a>,
    head: &'a RequestHead,
    ctx: &'a Context,
    progress: Progress,
) -> Option<Fields<'a>> {
    let (api_index, stage_index) = ctx.api_stage?;
    let api = &table.table.apis[api_index as usize];
    let stage = &api.stages[stage_index as usize];
    let record = &ctx.record;
    let route_key = ctx.route.map_or("-", |r| api.routes[r as usize].key.as_str());
    let (error, integration_error) = error_values(api.protocol, record.error.as_ref());
    // The reason is the operator's to see only on a stage that asked for it.
    let authorizer_error = match (&record.auth_reason, &record.error) {
        (Some(reason), _) if stage.auth_debug => Some(reason.as_str()),
        (Some(_), Some(e)) => Some(crate::response::gateway::lookup(api.protocol, e.kind).message),
        _ => None,
    };
    let now_ms = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_millis() as u64);
    let request_id = ctx.id_if_made().map_or("-", |id| id.as_str());
    Some(Fields {
        request_id,
        source_ip: peer.ip,
        user_agent: head.first(b"user-agent"),
        method: head.method_bytes(),
        route_key,
        resource_path: route_key.split_once(' ').map_or(route_key, |(_, path)| path),
        path: head.raw_path(),
        protocol: if head.version_minor == 0 { "HTTP/1.0" } else { "HTTP/1.1" },
        status: progress.status,
        response_length: progress.response_length,
        latency_us: progress.latency_us,
        integration_latency_us: progress.integration_us,
        integration_status: record.integration_status,
        integration_error,
        error,
        time_ms: now_ms.saturating_sub(progress.latency_us / 1000),
        stage: &stage.name,
        api: &api.name,
        host: head.host_name(),
        trace_id: record.trace.map(|t| t.trace_id_hex()),
        client_cert: peer.client_cert,
        api_key: ctx
            .identity
            .api_key
            .and_then(|k| table.table.api_keys.get(k as usize))
            .map(|k| (k.name.as_str(), k.value.as_str())),
        authorized: &ctx.authorized,
        authorizer_error,
        validation_error: record.validation_error.as_deref(),
        websocket: None,
    })
}

/// What `$context.error.*` and `$context.integrationErrorMessage` say of `error`: (the message the
/// client got and AWS's response type; the integration's error, when the fault was upstream).
pub fn error_values(
    protocol: crate::table::Protocol,
    error: Option<&crate::error::GatewayError>,
) -> (Option<(&str, &'static str)>, Option<&'static str>) {
    let message = error.map(|e| {
        let message = e.message.as_deref().unwrap_or(crate::response::gateway::lookup(protocol, e.kind).message);
        (message, e.kind.aws_name())
    });
    (message, error.filter(|e| e.side() == crate::error::Side::Upstream).map(|e| e.detail))
}

/// The values of a request still being answered (a gateway response, a mapping): its latency so
/// far and the status it is about to get.
pub fn so_far<'a>(
    table: &'a LoadedTable,
    peer: Peer<'a>,
    head: &'a RequestHead,
    ctx: &'a Context,
    status: u16,
) -> Option<Fields<'a>> {
    let progress = Progress {
        status,
        response_length: 0,
        latency_us: ctx.started.elapsed().as_micros() as u64,
        integration_us: ctx.record.integration_us,
    };
    fields(table, peer, head, ctx, progress)
}

/// The routed request's path-parameter names, in capture order (none before routing): what
/// mapped values name them by.
pub fn route_params<'t>(table: &'t LoadedTable, ctx: &Context) -> &'t [String] {
    match (ctx.api_stage, ctx.route) {
        (Some((api, _)), Some(route)) => &table.table.apis[api as usize].routes[route as usize].params,
        _ => &[],
    }
}
