//! Each WebSocket event counted and logged as AWS does for WebSocket APIs: one access-log line per
//! event (`$connect`, each message, `$disconnect`) with the WebSocket `$context` variables
//! (`connectionId`, `eventType`, `messageId`, `connectedAt`, `routeKey`, `status`, latencies),
//! and the event in its route's metric series (requests, 4xx/5xx, bytes, latency, integration
//! latency). The upgrade request itself is not counted again when the connection ends.
//!
//! Must not: send anything to the client. Cost: as an HTTP request's observation: a few relaxed
//! stores into the worker's series; with an access log, one line rendered into its buffer.

use super::Scope;
use crate::access_log::format;
use crate::access_log::sink::Appended;
use crate::conn::ClientConn;
use crate::error::GatewayError;
use crate::function::websocket::EventIds;
use crate::request_vars::{Peer, Progress};
use crate::vars::{Fields, WebSocketEvent};
use crate::worker::Worker;

/// What one event came to.
pub struct Outcome<'a> {
    /// `CONNECT`, `MESSAGE` or `DISCONNECT`.
    pub event_type: &'static str,
    /// Its route (`None`: a message no route took).
    pub route: Option<u32>,
    pub ids: &'a EventIds,
    /// The status AWS logs: the integration's for `$connect`, 200 for an event handled, the
    /// gateway's error otherwise.
    pub status: u16,
    pub started: quanta::Instant,
    pub integration_us: Option<u64>,
    pub integration_status: Option<u16>,
    pub error: Option<&'a GatewayError>,
}

/// The route key of an event on `route` (`-`: none).
pub(super) fn route_key<'t>(s: &Scope<'t>, route: Option<u32>) -> &'t str {
    let (api, _) = s.ctx.api_stage.unwrap_or_default();
    let routes = &s.table.table.apis[api as usize].routes;
    route.and_then(|r| routes.get(r as usize)).map_or("-", |r| r.key.as_str())
}

/// The `$context` values of an event (for its log line and its integration's parameter mappings).
pub fn fields<'a>(
    s: &'a Scope<'a>,
    event_type: &'static str,
    route: Option<u32>,
    ids: &'a EventIds,
    progress: Progress,
) -> Option<Fields<'a>> {
    let peer = Peer { ip: s.c.source_ip, client_cert: None };
    let mut f = crate::request_vars::fields(s.table, peer, s.head, s.ctx, progress)?;
    let key = route_key(s, route);
    f.route_key = key;
    f.resource_path = key;
    f.request_id = &ids.request_id;
    f.websocket = Some(WebSocketEvent {
        connection_id: &s.c.id,
        event_type,
        message_id: ids.message_id.as_deref(),
        connected_at_ms: s.c.connected_at_ms,
    });
    Some(f)
}

/// Counts event `o` in its route's series and writes its access-log line.
pub fn event(worker: &Worker, s: &Scope<'_>, conn: &mut ClientConn, o: &Outcome<'_>) {
    let latency_us = o.started.elapsed().as_micros() as u64;
    let (bytes_in, bytes_out) = conn.take_bytes();
    let Some((api, stage)) = s.ctx.api_stage else { return };
    if let Some(series) = s.table.series_of(api, stage, o.route).and_then(|id| worker.metrics.series.get(id)) {
        let c = &series.counters;
        c.requests.inc();
        match o.status {
            400..=499 => c.errors_4xx.inc(),
            500..=599 => c.errors_5xx.inc(),
            _ => {}
        }
        c.bytes_in.add(bytes_in);
        c.bytes_out.add(bytes_out);
        series.latency.observe_us(latency_us);
        if let Some(us) = o.integration_us {
            series.integration_latency.observe_us(us);
        }
    }
    let stage_table = &s.table.table.apis[api as usize].stages[stage as usize];
    let Some(log) = &stage_table.access_log else { return };
    let progress =
        Progress { status: o.status, response_length: bytes_out, latency_us, integration_us: o.integration_us };
    let Some(mut f) = fields(s, o.event_type, o.route, o.ids, progress) else { return };
    f.integration_status = o.integration_status;
    (f.error, f.integration_error) =
        crate::request_vars::error_values(s.table.table.apis[api as usize].protocol, o.error);
    let max = s.table.table.settings.access_log.buffer_bytes;
    let counters = &worker.metrics.worker;
    match worker.log.append(&log.destination, max, |out| format::render(out, &log.format, log.json, &f)) {
        Appended::Buffered => counters.access_log_lines.inc(),
        Appended::Dropped => counters.access_log_dropped.inc(),
    }
}
