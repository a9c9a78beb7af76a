//! The last step of every request: count it in the worker's metrics shard and write its access log
//! line, from what the steps left in the request's [`Context`].
//!
//! Cost: a few relaxed stores into this worker's cache lines; with an access log, one line rendered
//! into the worker's log buffer and one `clock_gettime` for the request time. No allocation, no
//! syscall beyond that, no lock.

use crate::access_log::format;
use crate::access_log::sink::Appended;
use crate::conn::ClientConn;
use crate::context::Context;
use crate::context::record::{CacheOutcome, Record};
use crate::http::head::RequestHead;
use crate::loaded::LoadedTable;
use crate::metrics::series::{RouteSeries, UNMATCHED};
use crate::worker::Worker;

pub fn request(worker: &Worker, table: &LoadedTable, conn: &mut ClientConn, head: &RequestHead, ctx: &Context) {
    if ctx.record.observed {
        return;
    }
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
    let progress = crate::request_vars::Progress {
        status: record.status,
        response_length: bytes_out.saturating_sub(record.head_bytes),
        latency_us,
        integration_us,
    };
    let Some(fields) = crate::request_vars::fields(table, crate::request_vars::Peer::of(conn), head, ctx, progress)
    else {
        return;
    };
    let max = table.table.settings.access_log.buffer_bytes;
    let counters = &worker.metrics.worker;
    match worker.log.append(&log.destination, max, |out| format::render(out, &log.format, log.json, &fields)) {
        Appended::Buffered => counters.access_log_lines.inc(),
        Appended::Dropped => counters.access_log_dropped.inc(),
    }
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
