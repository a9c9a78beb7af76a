//! State shared between the control thread and the workers: the current table, its generation, and
//! the shutdown flag. Written rarely (reload, SIGTERM), read with relaxed or acquire loads.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};

use arc_swap::ArcSwap;

use crate::loaded::LoadedTable;
use crate::metrics::Metrics;

pub struct Control {
    pub table: ArcSwap<LoadedTable>,
    pub generation: AtomicU64,
    pub shutdown: AtomicBool,
    pub metrics: Arc<Metrics>,
    /// Workers whose runtime is up and serving; `/readyz` wants all of them.
    pub workers_running: AtomicU64,
    pub workers: usize,
    /// Cache flush and purge requests from the admin listener to the workers.
    pub cache_commands: crate::cache::command::Commands,
    /// The node's layer of the response cache, behind every worker's own stores.
    pub shared_cache: Arc<crate::cache::shared::SharedCache>,
    /// Usage-plan quota counts, kept across reloads and saved to the state file.
    pub quotas: Arc<crate::throttle::quota_store::QuotaStore>,
    /// Fleet mode (`[cluster]`): the thread that leases quota from Redis.
    pub fleet: Option<Arc<crate::throttle::fleet::Fleet>>,
    /// The hosts of local functions, kept across reloads while their definitions stand.
    pub functions: crate::function::host::Hosts,
    /// WebSocket connections' inboxes, one per worker (`@connections` across workers).
    pub websocket_hub: Arc<crate::connections::Hub>,
}

impl Control {
    pub fn new(mut table: LoadedTable, workers: usize) -> Arc<Control> {
        let metrics = Metrics::new(workers);
        if table.table.settings.admin.is_some() {
            table.series = metrics.assign(&table.table);
            table.function_series = metrics.assign_functions(&table.table);
        }
        let quotas = Arc::new(match &table.table.quota_state_file {
            Some(path) => crate::throttle::quota_store::QuotaStore::open(path),
            None => Default::default(),
        });
        quotas.start_saver();
        table.quota_cells = quotas.cells_for(&table.table, workers);
        let table_cluster = table.table.settings.cluster.clone();
        let fleet =
            table_cluster.clone().map(|c| crate::throttle::fleet::Fleet::start(c, quotas.clone(), metrics.clone()));
        let functions = crate::function::host::Hosts::default();
        table.attach_hosts(functions.assign(&table.table.functions, table.table.settings.limits.max_body_bytes));
        table.start_keyrings();
        Arc::new(Control {
            functions,
            table: ArcSwap::from_pointee(table),
            generation: AtomicU64::new(1),
            shutdown: AtomicBool::new(false),
            metrics,
            workers_running: AtomicU64::new(0),
            workers,
            cache_commands: crate::cache::command::Commands::new(workers),
            shared_cache: Default::default(),
            quotas,
            fleet,
            websocket_hub: crate::connections::Hub::new(workers, table_cluster.as_ref()),
        })
    }

    /// Publishes a new table: workers pick it up on their next request. Its metric series are
    /// allocated first, so no worker ever sees a table whose series do not exist.
    pub fn swap(&self, mut table: LoadedTable) -> u64 {
        if table.table.settings.admin.is_some() {
            table.series = self.metrics.assign(&table.table);
            table.function_series = self.metrics.assign_functions(&table.table);
        }
        if let Some(path) = &table.table.quota_state_file {
            self.quotas.attach(path);
        }
        table.quota_cells = self.quotas.cells_for(&table.table, self.workers);
        // Rate limits that did not change keep their buckets: a reload must not refill them.
        let old = self.table.load();
        table.throttles.adopt(&old.throttles);
        table.adopt_function_slots(&old);
        table.adopt_keyrings(&old);
        table.start_keyrings();
        table.attach_hosts(self.functions.assign(&table.table.functions, table.table.settings.limits.max_body_bytes));
        self.table.store(Arc::new(table));
        self.generation.fetch_add(1, Ordering::AcqRel) + 1
    }

    pub fn is_shutting_down(&self) -> bool {
        self.shutdown.load(Ordering::Relaxed)
    }
}
