//! Per-worker state: the worker's view of the table, its upstream pool, its connections, its metrics
//! shard and its access log buffers.
//!
//! Everything here is owned by one thread. The only shared memory a request touches is one relaxed
//! load of the table generation, a read-mostly cache line; a new table is picked up by the first
//! request after a reload, while requests already running keep the table they started with.

use std::cell::{Cell, RefCell};
use std::os::fd::RawFd;
use std::rc::Rc;
use std::sync::Arc;
use std::sync::atomic::Ordering;

use crate::access_log::sink::WorkerLog;
use crate::control::Control;
use crate::event::LocalEvent;
use crate::loaded::LoadedTable;
use crate::metrics::Shard;
use crate::outbound::pool::Pool;

pub struct Worker {
    pub index: usize,
    control: Arc<Control>,
    // `Rc` over the `Arc` on purpose: requests clone the `Rc` (a plain increment) instead of the
    // `Arc`, whose atomic count would be a cache line shared by every worker.
    #[allow(clippy::redundant_allocation)]
    current: RefCell<(u64, Rc<Arc<LoadedTable>>)>,
    pub pool: Pool,
    pub conns: ConnRegistry,
    /// Set once SIGTERM arrived: finish what is in flight, accept nothing new.
    pub draining: Cell<bool>,
    pub drain: LocalEvent,
    pub slot_freed: LocalEvent,
    /// This worker's metrics; only this thread writes them.
    pub metrics: Arc<Shard>,
    pub log: WorkerLog,
    pub cache: crate::cache::WorkerCache,
    /// Tokens this worker leased from the table's rate limits.
    pub throttle: crate::throttle::local::LocalLeases,
    /// JWT verdicts this worker made, by token.
    pub verdicts: crate::auth::jwt::Verdicts,
    /// Function authorizer answers this worker holds.
    pub authorizer_answers: crate::auth::function::cache::Local,
    /// The WebSocket connections this worker holds, and its answers from other workers.
    pub websockets: Rc<crate::connections::Local>,
}

impl Worker {
    pub fn new(index: usize, control: Arc<Control>, log: WorkerLog) -> Worker {
        let generation = control.generation.load(Ordering::Acquire);
        let table = control.table.load_full();
        let metrics = control.metrics.shards[index].clone();
        Worker {
            metrics,
            log,
            cache: crate::cache::WorkerCache::new(control.shared_cache.clone()),
            throttle: Default::default(),
            verdicts: Default::default(),
            authorizer_answers: Default::default(),
            websockets: Default::default(),
            index,
            control,
            current: RefCell::new((generation, Rc::new(table))),
            pool: Pool::default(),
            conns: ConnRegistry::default(),
            draining: Cell::new(false),
            drain: LocalEvent::default(),
            slot_freed: LocalEvent::default(),
        }
    }

    /// Picks up the newest table if a reload published one since this worker last looked (one
    /// acquire load when none did), and returns it. Taking a new table also drops the tokens
    /// leased from the old one's limits: lease slots are by limit index, which a new table
    /// reorders. (The buckets themselves carry over: `ThrottleIndex::adopt`.)
    #[allow(clippy::redundant_allocation)]
    pub fn refresh(&self) -> Rc<Arc<LoadedTable>> {
        let generation = self.control.generation.load(Ordering::Acquire);
        let mut current = self.current.borrow_mut();
        if current.0 != generation {
            *current = (generation, Rc::new(self.control.table.load_full()));
            self.throttle.reset();
        }
        current.1.clone()
    }

    /// The generation of the table this worker last picked up.
    pub fn generation(&self) -> u64 {
        self.current.borrow().0
    }

    pub fn control(&self) -> &Control {
        &self.control
    }

    /// What an integration that calls out needs of this worker.
    pub fn outbound(&self) -> crate::outbound::Outbound<'_> {
        crate::outbound::Outbound { pool: &self.pool, counters: &self.metrics.worker, draining: &self.draining }
    }

    /// What the throttle step needs of this worker, for `table`.
    pub fn throttles<'a>(&'a self, table: &'a LoadedTable) -> crate::throttle::Throttles<'a> {
        crate::throttle::Throttles {
            index: &table.throttles,
            quota_cells: &table.quota_cells,
            leases: &self.throttle,
            fleet: self.control.fleet.as_deref(),
            worker: self.index,
            workers: self.control.workers,
        }
    }
}

/// The worker's open client connections, so that draining can wake the idle ones.
#[derive(Default)]
pub struct ConnRegistry {
    slots: RefCell<Vec<Option<(RawFd, bool)>>>,
    free: RefCell<Vec<usize>>,
    count: Cell<usize>,
}

impl ConnRegistry {
    pub fn register(&self, fd: RawFd) -> usize {
        self.count.set(self.count.get() + 1);
        let mut slots = self.slots.borrow_mut();
        match self.free.borrow_mut().pop() {
            Some(i) => {
                slots[i] = Some((fd, false));
                i
            }
            None => {
                slots.push(Some((fd, false)));
                slots.len() - 1
            }
        }
    }

    pub fn unregister(&self, slot: usize) {
        if let Some(entry) = self.slots.borrow_mut().get_mut(slot)
            && entry.take().is_some()
        {
            self.count.set(self.count.get() - 1);
            self.free.borrow_mut().push(slot);
        }
    }

    pub fn set_idle(&self, slot: usize, idle: bool) {
        if let Some(Some(entry)) = self.slots.borrow_mut().get_mut(slot) {
            entry.1 = idle;
        }
    }

    pub fn len(&self) -> usize {
        self.count.get()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Ends the pending read of every idle connection (it sees end of stream and closes).
    pub fn shutdown_idle(&self) {
        for (fd, idle) in self.slots.borrow().iter().flatten() {
            if *idle {
                // SAFETY: `fd` belongs to a connection that is registered, so it is open; shutting down
                // its read side does not invalidate the descriptor.
                unsafe {
                    libc::shutdown(*fd, libc::SHUT_RD);
                }
            }
        }
    }
}
