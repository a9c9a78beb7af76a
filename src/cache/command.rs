//! Flush and purge requests from the admin listener to the workers that own the stores.
//!
//! The admin thread queues a command for every worker and waits (bounded) until each has applied
//! it; workers drain their queue on their 50 ms tick. The mutex is taken by the admin thread and by
//! a worker's tick only — never on a request.

use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// Drop a whole stage's entries (`path` = `None`), or those of one path.
#[derive(Debug)]
pub struct Command {
    pub api: String,
    pub stage: String,
    /// The path as the router sees it (after the stage), e.g. `/pets/7`.
    pub path: Option<String>,
    /// Entries removed, summed over workers.
    pub removed: AtomicUsize,
}

/// A command and its sequence number.
type Queued = (u64, Arc<Command>);

pub struct Commands {
    queues: Vec<Mutex<Vec<Queued>>>,
    /// The last command sequence number each worker applied.
    applied: Vec<AtomicU64>,
    next: AtomicU64,
}

impl Commands {
    pub fn new(workers: usize) -> Commands {
        Commands {
            queues: (0..workers).map(|_| Mutex::new(Vec::new())).collect(),
            applied: (0..workers).map(|_| AtomicU64::new(0)).collect(),
            next: AtomicU64::new(0),
        }
    }

    /// Queues `command` for every worker and waits until all applied it, at most `timeout`.
    /// Returns the entries removed, or `None` on timeout.
    pub fn run(&self, command: Command, timeout: Duration) -> Option<usize> {
        let command = Arc::new(command);
        let seq = self.next.fetch_add(1, Ordering::AcqRel) + 1;
        for queue in &self.queues {
            queue.lock().unwrap_or_else(|p| p.into_inner()).push((seq, command.clone()));
        }
        let deadline = Instant::now() + timeout;
        while self.applied.iter().any(|a| a.load(Ordering::Acquire) < seq) {
            if Instant::now() >= deadline {
                return None;
            }
            std::thread::sleep(Duration::from_millis(2));
        }
        Some(command.removed.load(Ordering::Acquire))
    }

    /// A worker's tick: applies its queued commands with `apply`.
    pub fn drain(&self, worker: usize, apply: impl Fn(&Command) -> usize) {
        let Some(queue) = self.queues.get(worker) else { return };
        let pending = std::mem::take(&mut *queue.lock().unwrap_or_else(|p| p.into_inner()));
        for (seq, command) in pending {
            command.removed.fetch_add(apply(&command), Ordering::AcqRel);
            self.applied[worker].store(seq, Ordering::Release);
        }
    }
}
