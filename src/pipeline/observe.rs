//! The last step of every request: count it in the worker's metrics shard and write its access log
//! line, from what the steps left in the request's [`Context`].
//!
//! Cost: a few relaxed stores into this worker's cache lines; with an access log, one line rendered
//! into the worker's log buffer and one `clock_gettime` for the request time. No allocation, no
//! syscall beyond that, no lock.

use crate::access_log::format::{self, Fields};
use crate::access_log::sink::Appended;
use crate::conn::ClientConn;
use crate::context::Context;
use crate::context::record::{CacheOutcome, Record};
use crate::http::head::RequestHead;
use crate::loaded::LoadedTable;
use crate::metrics::series::{RouteSeries, UNMATCHED};
use crate::worker::Worker;

pub fn request(worker: &Worker, table: &LoadedTable, conn: &mut ClientConn, head: &RequestHead, ctx: &Context) {
    let latency_us = ctx.started.elapsed().as_micros() as u64;
    let mut integration_us = ctx.record.integration_us;
    if let (Some(start), None) = (ctx.record.integration_started, integration_us) {
        integration_us = Some(start.elapsed().as_micros() as u64);
    }
    let (bytes_in, bytes_out) = conn.take_bytes();
    let record = &ctx.record;

    let series = match ctx.api_stage {
        Some((api, stage)) => table.series_of(api, stage, ctx.route),
        None => (!table.series.is_empty()).then_some(UNMATCHED),
    };
    if let Some(series) = series.and_then(|id| worker.metrics.series.get(id)) {
        count(series, record.status, bytes_in, bytes_out, latency_us);
        if record.error.as_ref().is_some_and(|e| e.kind == crate::error::ResponseType::Throttled) {
            series.counters.throttled.inc();
        }
        match record.cache {
            CacheOutcome::Hit => series.counters.cache_hits.inc(),
            CacheOutcome::Miss => series.counters.cache_misses.inc(),
            CacheOutcome::None => {}
        }
        if let Some(us) = integration_us {
            series.integration_latency.observe_us(us);
        }
    }

    if let Some(function) = record.function {
        count_function(worker, table, function, record, integration_us);
    }

    let Some((api_index, stage_index)) = ctx.api_stage else { return };
    let stage = &table.table.apis[api_index as usize].stages[stage_index as usize];
    let Some(log) = &stage.access_log else { return };
    let progress = Progress {
        status: record.status,
        response_length: bytes_out.saturating_sub(record.head_bytes),
        latency_us,
        integration_us,
    };
    let Some(fields) = fields(table, conn, head, ctx, progress) else { return };
    let max = table.table.settings.access_log.buffer_bytes;
    let counters = &worker.metrics.worker;
    match worker.log.append(&log.destination, max, |out| format::render(out, &log.format, log.json, &fields)) {
        Appended::Buffered => counters.access_log_lines.inc(),
        Appended::Dropped => counters.access_log_dropped.inc(),
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
    conn: &'a ClientConn,
    head: &'a RequestHead,
    ctx: &'a Context,
    progress: Progress,
) -> Option<Fields<'a>> {
    let (api_index, stage_index) = ctx.api_stage?;
    let api = &table.table.apis[api_index as usize];
    let stage = &api.stages[stage_index as usize];
    let record = &ctx.record;
    let route_key = ctx.route.map_or("-", |r| api.routes[r as usize].key.as_str());
    let error = record.error.as_ref().map(|e| {
        let message = e.message.as_deref().unwrap_or(crate::response::gateway::lookup(api.protocol, e.kind).message);
        (message, e.kind.aws_name())
    });
    let integration_error =
        record.error.as_ref().filter(|e| e.side() == crate::error::Side::Upstream).map(|e| e.detail);
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
        source_ip: conn.peer.ip(),
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
        client_cert: conn.stream.identity().map(|i| &i.client_cert),
        api_key: ctx
            .identity
            .api_key
            .and_then(|k| table.table.api_keys.get(k as usize))
            .map(|k| (k.name.as_str(), k.value.as_str())),
        authorized: &ctx.authorized,
        authorizer_error,
        validation_error: record.validation_error.as_deref(),
    })
}

/// An invocation, in its function's series: refused (throttled), or attempted and perhaps failed.
fn count_function(worker: &Worker, table: &LoadedTable, function: u32, record: &Record, duration_us: Option<u64>) {
    use crate::error::ResponseType;
    let Some(series) = table.function_series.get(function as usize).and_then(|&id| worker.metrics.functions.get(id))
    else {
        return;
    };
    let c = &series.counters;
    if record.function_throttled {
        c.throttled.inc();
        return;
    }
    c.invocations.inc();
    match record.error.as_ref().map(|e| e.kind) {
        Some(ResponseType::IntegrationTimeout) => {
            c.errors.inc();
            c.timeouts.inc();
        }
        Some(ResponseType::FunctionError | ResponseType::FunctionUnavailable | ResponseType::Internal) => {
            c.errors.inc()
        }
        _ => {}
    }
    if let Some(us) = duration_us {
        series.duration.observe_us(us);
    }
}

/// A request that was malformed before it could be routed: counted with the unmatched requests.
pub fn malformed(worker: &Worker, table: &LoadedTable, conn: &mut ClientConn, ctx: &Context) {
    let (bytes_in, bytes_out) = conn.take_bytes();
    if table.series.is_empty() {
        return;
    }
    if let Some(series) = worker.metrics.series.get(UNMATCHED) {
        count(series, ctx.record.status, bytes_in, bytes_out, 0);
    }
}

fn count(series: &RouteSeries, status: u16, bytes_in: u64, bytes_out: u64, latency_us: u64) {
    let c = &series.counters;
    c.requests.inc();
    match status {
        400..=499 => c.errors_4xx.inc(),
        500..=599 => c.errors_5xx.inc(),
        _ => {}
    }
    c.bytes_in.add(bytes_in);
    c.bytes_out.add(bytes_out);
    series.latency.observe_us(latency_us);
}
