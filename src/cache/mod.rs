//! Response caching: per-worker, per-stage stores of responses, keyed as AWS keys them.
//!
//! Each worker answers hits from its own stores ([decision 0004](../../docs/decisions/0004-cache-shards.md)):
//! no lock, no cross-core traffic; a stage's capacity is split evenly between workers. Behind them,
//! [`shared`] is the node's layer ([decision 0007](../../docs/decisions/0007-cache-across-workers.md)):
//! a worker's miss copies the node's entry or waits for the one fetch of it, and invalidations
//! reach every worker. [`store`] is
//! the byte-bounded S3-FIFO map (plain data, time passed in); [`key`] builds keys; [`lookup`]
//! decides what a request does with the cache (hit, miss and fill, refresh, bypass, refuse);
//! [`respond`] writes a hit; [`capture`] collects a response on its way to the client so a miss
//! can be stored; [`command`] carries flush and purge requests from the admin listener.

pub mod capture;
pub mod command;
pub mod key;
pub mod lookup;
pub mod respond;
pub mod seal;
pub mod shared;
pub mod store;

use std::cell::{Cell, RefCell};
use std::rc::Rc;
use std::sync::Arc;

use ahash::AHashMap;

use crate::event::LocalEvent;
use crate::loaded::LoadedTable;
use crate::table::StageCache;
use store::Store;

/// One stage's store on one worker, and the stage's node layer behind it.
pub struct StageStore {
    pub api: String,
    pub stage: String,
    pub config: StageCache,
    pub store: RefCell<Store>,
    pub shared: Arc<shared::SharedStage>,
    /// The node's invalidation count this store has caught up with.
    seen: Cell<u64>,
}

impl StageStore {
    /// Drops what other workers invalidated since this store last looked: one atomic load when
    /// nothing was.
    pub fn catch_up(&self) {
        if self.shared.invalidations() == self.seen.get() {
            return;
        }
        let (now, stale) = self.shared.stale_since(self.seen.get());
        let mut store = self.store.borrow_mut();
        match stale {
            shared::Stale::Keys(hashes) => {
                for h in hashes {
                    store.remove(h);
                }
            }
            shared::Stale::All => {
                store.flush();
            }
        }
        self.seen.set(now);
    }
}

/// A worker's caches.
pub struct WorkerCache {
    /// The node's layer, shared by every worker.
    shared: Arc<shared::SharedCache>,
    stores: RefCell<Vec<Rc<StageStore>>>,
    /// Per API, per stage of the table of `generation`: the store, if the stage caches.
    by_index: RefCell<Vec<Vec<Option<Rc<StageStore>>>>>,
    generation: Cell<u64>,
    /// Misses being fetched, by key hash: later misses on the same key wait for them.
    pub inflight: RefCell<AHashMap<u64, Rc<LocalEvent>>>,
    /// Reused for building keys.
    pub key_buf: RefCell<Vec<u8>>,
}

impl WorkerCache {
    pub fn new(shared: Arc<shared::SharedCache>) -> WorkerCache {
        WorkerCache {
            shared,
            stores: RefCell::default(),
            by_index: RefCell::default(),
            generation: Cell::new(0),
            inflight: RefCell::default(),
            key_buf: RefCell::default(),
        }
    }

    /// The store of (api, stage) in `table`, rebuilding the index when the table changed. Stores of
    /// stages whose name and cache settings survive a reload keep their entries; a changed setting
    /// starts the stage empty (as AWS flushes a resized cache).
    pub fn store(
        &self,
        table: &LoadedTable,
        generation: u64,
        api: u32,
        stage: u32,
        workers: usize,
    ) -> Option<Rc<StageStore>> {
        if self.generation.get() != generation || self.by_index.borrow().is_empty() {
            self.reindex(table, workers);
            self.generation.set(generation);
        }
        self.by_index.borrow().get(api as usize)?.get(stage as usize)?.clone()
    }

    fn reindex(&self, table: &LoadedTable, workers: usize) {
        let old = std::mem::take(&mut *self.stores.borrow_mut());
        let mut stores = Vec::new();
        let index = table
            .table
            .apis
            .iter()
            .map(|api| {
                api.stages
                    .iter()
                    .map(|stage| {
                        let config = stage.cache.as_ref()?;
                        let kept = old
                            .iter()
                            .find(|s| s.api == api.name && s.stage == stage.name && s.config == *config)
                            .cloned();
                        let store = kept.unwrap_or_else(|| {
                            let capacity = (config.capacity_bytes / workers.max(1) as u64) as usize;
                            let shared = self.shared.stage(&api.name, &stage.name, config);
                            Rc::new(StageStore {
                                api: api.name.clone(),
                                stage: stage.name.clone(),
                                config: config.clone(),
                                store: RefCell::new(Store::new(capacity)),
                                seen: Cell::new(shared.invalidations()),
                                shared,
                            })
                        });
                        stores.push(store.clone());
                        Some(store)
                    })
                    .collect()
            })
            .collect();
        *self.by_index.borrow_mut() = index;
        *self.stores.borrow_mut() = stores;
    }

    /// Applies an admin command to this worker's stores; returns how many entries went.
    pub fn apply(&self, command: &command::Command) -> usize {
        let stores = self.stores.borrow();
        let matching = stores.iter().filter(|s| s.api == command.api && s.stage == command.stage);
        match &command.path {
            None => matching.map(|s| s.store.borrow_mut().flush()).sum(),
            Some(path) => {
                let path_hash = key::hash(path.as_bytes());
                matching.map(|s| s.store.borrow_mut().purge_path(path_hash)).sum()
            }
        }
    }
}

/// Milliseconds on the gateway's monotonic clock (cache times are only compared with each other).
pub use crate::clock::now_ms;
