//! State shared between the control thread and the workers: the current table, its generation, and
//! the shutdown flag. Written rarely (reload, SIGTERM), read with relaxed or acquire loads.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};

use arc_swap::ArcSwap;

use crate::table::loaded::LoadedTable;

pub struct Control {
    pub table: ArcSwap<LoadedTable>,
    pub generation: AtomicU64,
    pub shutdown: AtomicBool,
}

impl Control {
    pub fn new(table: LoadedTable) -> Arc<Control> {
        Arc::new(Control {
            table: ArcSwap::from_pointee(table),
            generation: AtomicU64::new(1),
            shutdown: AtomicBool::new(false),
        })
    }

    /// Publishes a new table: workers pick it up on their next request.
    pub fn swap(&self, table: LoadedTable) -> u64 {
        self.table.store(Arc::new(table));
        self.generation.fetch_add(1, Ordering::AcqRel) + 1
    }

    pub fn is_shutting_down(&self) -> bool {
        self.shutdown.load(Ordering::Relaxed)
    }
}
