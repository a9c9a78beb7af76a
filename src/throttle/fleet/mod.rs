//! Fleet mode (`[cluster] redis = "redis://..."`): usage-plan quotas counted once for every node
//! that shares one Redis.
//!
//! Redis is never on the per-request path. A node leases quota from Redis in blocks on a thread
//! of its own (the fleet thread, blocking I/O with timeouts); workers lease from the node's
//! allowance ([`super::quota::QuotaCell`]) and from their own counters. Blocks start at one
//! request and double while demand lasts (up to 1% of the limit, at most 1,000), and the next
//! block is asked for when half of the last is left, so a busy key rarely waits and an idle one
//! holds almost nothing.
//!
//! Bounds (docs/throttling.md): while Redis is reachable the fleet admits at most the limit, since
//! every grant is made atomically in Redis. While it is not, a fail-open plan lets each node admit
//! up to the limit minus the fleet's count it last saw, and reports what it admitted when Redis
//! is back; a fail-closed plan spends what was leased and then answers 503.
//!
//! Must not: block a worker, or hold a lock while talking to Redis.

pub mod redis;

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant};

use super::quota::QuotaCell;
use super::quota_store::QuotaStore;
use crate::metrics::cell::Counter;
use crate::table::Cluster;

/// How often an unreachable Redis is tried again.
pub const RETRY: Duration = Duration::from_secs(1);
/// How often counts made without Redis are looked for and reported.
const REPORT_EVERY: Duration = Duration::from_millis(100);

/// A refill queued for the fleet thread, for a quota cell or a global limit's reservoir. One left
/// unanswered for long is asked for again, so a lost ask (a fleet thread that restarted) cannot
/// leave a cell or a limit waiting for good.
#[derive(Debug, Default)]
pub struct Ask {
    pending: bool,
    at: u64,
}

impl Ask {
    /// Whether to queue a refill at `now`, noting it when so; `again_after` is in `now`'s unit.
    pub fn due(&mut self, now: u64, again_after: u64) -> bool {
        let due = !self.pending || now >= self.at.saturating_add(again_after);
        if due {
            self.pending = true;
            self.at = now;
        }
        due
    }

    pub fn pending(&self) -> bool {
        self.pending
    }

    /// The fleet thread answered (or could not): the next ask is due at once.
    pub fn answered(&mut self) {
        self.pending = false;
    }
}

pub struct Fleet {
    settings: Cluster,
    metrics: Arc<crate::metrics::Metrics>,
    up: AtomicBool,
    /// Cells whose allowance needs a refill.
    asked: Mutex<Vec<Arc<QuotaCell>>>,
    /// Global rate limits whose reservoir needs a refill. The limit itself, not where it sits in
    /// a table: a refill can only land in the limit that asked, whatever was reloaded meanwhile.
    rates_asked: Mutex<Vec<Arc<super::limit::Limit>>>,
    thread: OnceLock<std::thread::Thread>,
}

impl Fleet {
    /// Starts the fleet thread. Redis counts as reachable until a call says otherwise, so the
    /// first requests wait for the first lease rather than fail over at once.
    pub fn start(settings: Cluster, store: Arc<QuotaStore>, metrics: Arc<crate::metrics::Metrics>) -> Arc<Fleet> {
        let fleet = Arc::new(Fleet {
            settings,
            metrics,
            up: AtomicBool::new(true),
            asked: Mutex::new(Vec::new()),
            rates_asked: Mutex::new(Vec::new()),
            thread: OnceLock::new(),
        });
        let runner = fleet.clone();
        let supervised = move || {
            // A panic here is a bug; it must not leave workers waiting on a thread that is gone.
            loop {
                let run = std::panic::AssertUnwindSafe(|| runner.run(&store));
                if std::panic::catch_unwind(run).is_err() {
                    log::error!(
                        "BUG: the fleet thread panicked; Redis counts as unreachable for a second, then it starts again"
                    );
                    runner.up.store(false, Ordering::Relaxed);
                    runner.metrics.gateway.fleet_redis_up.set(0);
                    std::thread::sleep(RETRY);
                }
            }
        };
        match std::thread::Builder::new().name("portico-fleet".into()).spawn(supervised) {
            Ok(handle) => {
                let _ = fleet.thread.set(handle.thread().clone());
            }
            Err(e) => {
                log::error!("cannot start the fleet thread: {e}; quotas follow on_redis_failure");
                fleet.up.store(false, Ordering::Relaxed);
            }
        }
        fleet
    }

    pub fn is_up(&self) -> bool {
        self.up.load(Ordering::Relaxed)
    }

    /// How long a request waits for a refill before its plan's failure mode decides.
    pub fn wait_limit(&self) -> Duration {
        Duration::from_millis(2 * self.settings.timeout_ms + 50)
    }

    /// Queues a refill of `cell`'s allowance.
    pub fn ask(&self, cell: &Arc<QuotaCell>) {
        self.asked.lock().unwrap_or_else(|p| p.into_inner()).push(cell.clone());
        self.wake();
    }

    /// Queues a refill of global limit `limit`'s reservoir.
    pub fn ask_rate(&self, limit: &Arc<super::limit::Limit>) {
        self.rates_asked.lock().unwrap_or_else(|p| p.into_inner()).push(limit.clone());
        self.wake();
    }

    fn wake(&self) {
        if let Some(thread) = self.thread.get() {
            thread.unpark();
        }
    }

    /// The fleet's per-day counts of each of `cells`, read on one connection of the caller's own
    /// (the admin thread's), so a usage query never delays a refill.
    pub fn days(&self, cells: &[Arc<QuotaCell>], days: std::ops::RangeInclusive<u64>) -> Result<Vec<Vec<u64>>, String> {
        let mut c = redis::Conn::connect(&self.settings).map_err(|e| e.to_string())?;
        cells.iter().map(|cell| c.days(cell, days.clone()).map_err(|e| e.to_string())).collect()
    }

    fn run(&self, store: &QuotaStore) {
        let url = self.settings.redacted_url();
        let mut conn: Option<redis::Conn> = None;
        let mut retry_at = Instant::now();
        let mut ever = false;
        let mut reported_at = Instant::now();
        loop {
            let asked = std::mem::take(&mut *self.asked.lock().unwrap_or_else(|p| p.into_inner()));
            let mut limits = std::mem::take(&mut *self.rates_asked.lock().unwrap_or_else(|p| p.into_inner()));
            // Several workers may have asked for the same limit.
            limits.sort_by_key(|l| Arc::as_ptr(l) as usize);
            limits.dedup_by(|a, b| Arc::ptr_eq(a, b));
            if conn.is_none() && Instant::now() >= retry_at {
                conn = self.connect(&url, &mut ever);
                if conn.is_none() {
                    retry_at = Instant::now() + RETRY;
                }
            }
            let report = reported_at.elapsed() >= REPORT_EVERY;
            if report {
                reported_at = Instant::now();
            }
            let calls = &self.metrics.gateway.fleet_redis_calls;
            let result = match conn.as_mut() {
                Some(c) => round(c, calls, &asked, report.then_some(store), &limits),
                None => Ok(()),
            };
            if let Err(e) = &result {
                conn = None;
                self.went_down(&url, e);
                retry_at = Instant::now() + RETRY;
            }
            if conn.is_none() {
                // Waiting workers see Redis down and follow their plan's failure mode.
                for cell in &asked {
                    cell.refill_failed();
                }
                for global in limits.iter().filter_map(|l| l.global.as_ref()) {
                    global.refill_failed();
                }
            }
            // Woken by `ask`; otherwise look for unreported counts (and retry Redis) now and then.
            std::thread::park_timeout(Duration::from_millis(100));
        }
    }

    fn connect(&self, url: &str, ever: &mut bool) -> Option<redis::Conn> {
        match redis::Conn::connect(&self.settings) {
            Ok(c) => {
                if *ever {
                    log::warn!("fleet: Redis at {url} is reachable again; reporting what was counted meanwhile");
                } else {
                    log::info!("fleet: quotas and global limits are counted in Redis at {url}");
                }
                *ever = true;
                self.up.store(true, Ordering::Relaxed);
                self.metrics.gateway.fleet_redis_up.set(1);
                Some(c)
            }
            Err(e) => {
                self.went_down(url, &e);
                None
            }
        }
    }

    fn went_down(&self, url: &str, e: &::redis::RedisError) {
        self.metrics.gateway.fleet_redis_failures.inc();
        self.metrics.gateway.fleet_redis_up.set(0);
        if self.up.swap(false, Ordering::Relaxed) {
            log::error!(
                "fleet: Redis at {url} is unreachable ({e}); plans with on_redis_failure = \"open\" count on this node \
                 alone, \"closed\" ones answer 503 once their leased quota is spent; retrying every second"
            );
        }
    }
}

/// One round trip: refills the cells and global limits that asked, and reports what any cell
/// counted without Redis (when `store` is given).
fn round(
    c: &mut redis::Conn,
    calls: &Counter,
    asked: &[Arc<QuotaCell>],
    store: Option<&QuotaStore>,
    limits: &[Arc<super::limit::Limit>],
) -> ::redis::RedisResult<()> {
    use redis::{Op, Reply};
    let now = super::wall_s();
    let reporting = store.map(QuotaStore::all).unwrap_or_default();
    let mut ops = Vec::new();
    for cell in asked {
        if let Some((period, want)) = cell.refill_request(now) {
            ops.push(Op::Lease { cell, period, unix_s: now, want });
        }
    }
    for cell in &reporting {
        if let Some((period, n)) = cell.unreported() {
            ops.push(Op::Report { cell, period, unix_s: now, n });
        }
    }
    // The global limit of each `Op::Rate`, in the same order.
    let mut refilling = Vec::new();
    for limit in limits {
        if let Some(global) = &limit.global
            && let Some(want) = global.refill_request()
        {
            let (emission_ns, tolerance_ns) = limit.shape_ns();
            ops.push(Op::Rate { name: &global.name, emission_ns, tolerance_ns, want });
            refilling.push(global);
        }
    }
    calls.add(ops.len() as u64);
    let replies = c.batch(&ops)?;
    let mut refilling = refilling.into_iter();
    for (op, reply) in ops.iter().zip(replies) {
        match (op, reply) {
            (Op::Lease { cell, period, want, .. }, Reply::Lease { granted, used }) => {
                cell.refilled(now, *period, *want, granted, used);
            }
            (Op::Report { cell, period, n, .. }, Reply::Report { used }) => cell.reported(*period, *n, used),
            (Op::Rate { want, .. }, Reply::Rate { granted, retry_after_ns }) => {
                if let Some(global) = refilling.next() {
                    global.refilled(super::now_ns(), *want, granted, retry_after_ns);
                }
            }
            // `batch` answers each op with its own kind of reply.
            _ => {}
        }
    }
    Ok(())
}
