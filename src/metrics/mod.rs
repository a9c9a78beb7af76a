//! Metrics: per-core counting, aggregated only when scraped.
//!
//! Each worker owns a [`Shard`] (its per-worker counters and its per-route series) and is the only
//! thread that writes it; the admin thread sums the shards when `/metrics` is scraped ([`expose`]).
//! The hot path does a handful of relaxed loads and stores on cache lines no other core writes: no
//! lock, no read-modify-write atomic, no allocation. Adding a metric is one line in a [`counters!`](crate::counters)
//! block; the exposition picks it up from there.
//!
//! This module must not know about sockets or HTTP; callers hand it numbers.

pub mod cell;
pub mod expose;
pub mod histogram;
pub mod series;

use std::sync::Arc;

use series::{FunctionSeries, Labels, Registry, SeriesStore};

use crate::table::Table;

crate::counters! {
    /// Per-worker counters and gauges (label `worker`).
    pub struct WorkerCounters {
        connections_open: Gauge, "portico_connections_open", "Client connections open.";
        connections_accepted: Counter, "portico_connections_accepted_total", "Client connections accepted.";
        tls_handshakes: Counter, "portico_tls_handshakes_total", "TLS handshakes completed.";
        tls_handshake_failures: Counter, "portico_tls_handshake_failures_total", "TLS handshakes that failed or timed out.";
        upstream_idle: Gauge, "portico_upstream_connections_idle", "Idle keep-alive connections in the upstream pool.";
        upstream_connected: Counter, "portico_upstream_connections_created_total", "Upstream connections opened.";
        upstream_reused: Counter, "portico_upstream_connections_reused_total", "Upstream requests sent on a pooled connection.";
        access_log_lines: Counter, "portico_access_log_lines_total", "Access log lines handed to the log writer.";
        access_log_dropped: Counter, "portico_access_log_dropped_lines_total", "Access log lines dropped because the writer fell behind.";
        websocket_open: Gauge, "portico_websocket_connections_open", "WebSocket connections open.";
        websocket_connections: Counter, "portico_websocket_connections_total", "WebSocket connections opened ($connect said yes; AWS ConnectCount).";
        websocket_messages_in: Counter, "portico_websocket_messages_received_total", "WebSocket messages received from clients (AWS MessageCount, inbound).";
        websocket_messages_out: Counter, "portico_websocket_messages_sent_total", "WebSocket messages sent to clients: route responses, error messages and pushes.";
        websocket_pushes: Counter, "portico_websocket_pushes_total", "@connections POSTs carried out on a connection of this worker.";
        websocket_gone: Counter, "portico_websocket_gone_total", "@connections calls answered 410 GoneException by this worker.";
    }
}

crate::counters! {
    /// Gateway-wide counters; each has one writer (the control thread, the log writer thread, or
    /// the fleet thread).
    pub struct GatewayCounters {
        reloads_ok: Counter, "portico_config_reloads_succeeded_total", "Reloads that swapped in a new table.";
        reloads_failed: Counter, "portico_config_reloads_failed_total", "Reloads rejected (errors logged).";
        access_log_lines_lost: Counter, "portico_access_log_write_failed_lines_total", "Access log lines lost to write errors (the writer thread counts these).";
        fleet_redis_up: Gauge, "portico_fleet_redis_up", "Fleet mode: 1 while Redis is reachable, 0 while it is not or without [cluster].";
        fleet_redis_calls: Counter, "portico_fleet_redis_calls_total", "Fleet mode: calls to Redis (quota leases and reports, token refills).";
        fleet_redis_failures: Counter, "portico_fleet_redis_failures_total", "Fleet mode: connections to Redis and calls that failed.";
    }
}

/// One worker's metrics. Written by that worker only.
#[derive(Default)]
pub struct Shard {
    pub worker: WorkerCounters,
    pub series: SeriesStore,
    pub functions: SeriesStore<FunctionSeries>,
}

/// Every shard and the series registry; shared by the control thread, the workers and the admin
/// thread.
pub struct Metrics {
    pub shards: Vec<Arc<Shard>>,
    pub registry: Registry,
    /// Function names by series id (id 0 unused).
    pub function_registry: Registry<String>,
    pub gateway: GatewayCounters,
    /// Unix time the process started, for `process_start_time_seconds`.
    pub started_unix_s: u64,
}

impl Metrics {
    pub fn new(workers: usize) -> Arc<Metrics> {
        let shards: Vec<Arc<Shard>> = (0..workers).map(|_| Arc::new(Shard::default())).collect();
        let registry = Registry::default();
        // The unmatched series exists from the start.
        for shard in &shards {
            shard.series.ensure_unmatched();
        }
        let started_unix_s =
            std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_secs());
        let function_registry = Registry::starting_with(String::new());
        Arc::new(Metrics { shards, registry, function_registry, gateway: GatewayCounters::default(), started_unix_s })
    }

    /// Series ids for a table: per API, `stages × (routes + 1)` ids, row-major by stage, the last of
    /// each row counting requests for that stage that matched no route. Allocates every shard's
    /// storage for them, so call it before the table is published.
    pub fn assign(&self, table: &Table) -> Vec<Vec<u32>> {
        table
            .apis
            .iter()
            .map(|api| {
                let mut ids = Vec::with_capacity(api.stages.len() * (api.routes.len() + 1));
                for stage in &api.stages {
                    let keys = api.routes.iter().map(|r| r.key.as_str()).chain(["(no route)"]);
                    for key in keys {
                        let labels = Labels { api: api.name.clone(), stage: stage.name.clone(), route: key.to_owned() };
                        ids.push(self.series_id(labels));
                    }
                }
                ids
            })
            .collect()
    }

    /// The id of a route series, its storage made on every shard.
    pub fn series_id(&self, labels: Labels) -> u32 {
        self.registry.id(labels, |id| self.shards.iter().for_each(|s| s.series.ensure(id)))
    }

    /// Series ids for a table's functions, same index (storage made on every shard first).
    pub fn assign_functions(&self, table: &Table) -> Vec<u32> {
        let ensure = |id| self.shards.iter().for_each(|s| s.functions.ensure(id));
        table.functions.iter().map(|f| self.function_registry.id(f.name.clone(), ensure)).collect()
    }
}
