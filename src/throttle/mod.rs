//! Throttling: AWS's token-bucket limits, exact within a stated bound across workers.
//!
//! Levels, checked in AWS's order: the route's limit in its stage (AWS's per-method setting) or else
//! the stage's default, then the gateway-wide "account" limit (10,000 requests/s, burst 5,000 by
//! default, as AWS). Each limit is one shared [`limit::Limit`]; each worker spends tokens it leased
//! in batches ([`local::LocalLeases`]), so the request path touches shared memory once per batch.
//! Exceeded: `429 {"message":"Too Many Requests"}` with `Retry-After`.

pub mod fleet;
pub mod limit;
pub mod local;
pub mod quota;
pub mod quota_store;

use std::sync::OnceLock;

use limit::Limit;
use local::LocalLeases;

use crate::table::{Table, ThrottleSetting};

/// The limits of one loaded table and which apply where.
#[derive(Debug, Default)]
pub struct ThrottleIndex {
    pub limits: Vec<Limit>,
    pub account: Option<usize>,
    /// Per API, per stage, per route: the route's limit or the stage default.
    by_route: Vec<Vec<Vec<Option<usize>>>>,
    /// (usage plan, API key) → that key's limit under the plan (AWS: per key, across the plan's
    /// stages).
    by_key: ahash::AHashMap<(u32, u32), usize>,
    /// (usage plan, API key, api, stage, route) → the key's limit on that route (the plan's
    /// per-route override).
    by_key_route: ahash::AHashMap<(u32, u32, u32, u32, u32), usize>,
}

impl ThrottleIndex {
    pub fn build(table: &Table, workers: usize) -> ThrottleIndex {
        let mut limits = Vec::new();
        let mut add = |s: &ThrottleSetting| {
            limits.push(Limit::new(s.rate, s.burst, workers));
            limits.len() - 1
        };
        let account = table.settings.throttle.as_ref().map(&mut add);
        let by_route = table
            .apis
            .iter()
            .map(|api| {
                api.stages
                    .iter()
                    .map(|stage| {
                        let stage_default = stage.throttle.as_ref().map(&mut add);
                        (0..api.routes.len())
                            .map(|r| match stage.route_throttles.get(r).and_then(Option::as_ref) {
                                Some(s) => Some(add(s)),
                                None => stage_default,
                            })
                            .collect()
                    })
                    .collect()
            })
            .collect();
        let mut by_key = ahash::AHashMap::new();
        for (p, plan) in table.usage_plans.iter().enumerate() {
            if let Some(setting) = &plan.throttle {
                for &key in &plan.keys {
                    limits.push(Limit::new(setting.rate, setting.burst, workers));
                    by_key.insert((p as u32, key), limits.len() - 1);
                }
            }
        }
        let mut by_key_route = ahash::AHashMap::new();
        for (p, plan) in table.usage_plans.iter().enumerate() {
            for (api, stage, route, setting) in &plan.route_throttles {
                for &key in &plan.keys {
                    limits.push(Limit::new(setting.rate, setting.burst, workers));
                    by_key_route.insert((p as u32, key, *api, *stage, *route), limits.len() - 1);
                }
            }
        }
        ThrottleIndex { limits, account, by_route, by_key, by_key_route }
    }

    /// Takes a token from a key's usage-plan limit on this route: the plan's override for the route,
    /// else the plan's per-key limit, if it has one.
    #[inline]
    pub fn admit_key(
        &self,
        leases: &LocalLeases,
        plan: u32,
        key: u32,
        api: u32,
        stage: u32,
        route: u32,
    ) -> Result<(), u64> {
        let id = self.by_key_route.get(&(plan, key, api, stage, route)).or_else(|| self.by_key.get(&(plan, key)));
        match id {
            Some(&id) => leases.take(id, &self.limits[id], now_ns()),
            None => Ok(()),
        }
    }

    /// Takes a token from every limit that applies; `Err(retry_after_ns)` from the first exhausted.
    #[inline]
    pub fn admit(&self, leases: &LocalLeases, api: u32, stage: u32, route: u32) -> Result<(), u64> {
        if self.limits.is_empty() {
            return Ok(());
        }
        let now = now_ns();
        let route_limit =
            self.by_route.get(api as usize).and_then(|s| s.get(stage as usize)).and_then(|r| *r.get(route as usize)?);
        if let Some(id) = route_limit {
            leases.take(id, &self.limits[id], now)?;
        }
        if let Some(id) = self.account {
            leases.take(id, &self.limits[id], now)?;
        }
        Ok(())
    }
}

/// Wall-clock UTC seconds for quota periods. `PORTICO_CLOCK_OFFSET_S` (read once) shifts it, so
/// tests can cross a period boundary without waiting a day.
pub fn wall_s() -> u64 {
    static OFFSET: std::sync::OnceLock<i64> = std::sync::OnceLock::new();
    let offset =
        *OFFSET.get_or_init(|| std::env::var("PORTICO_CLOCK_OFFSET_S").ok().and_then(|v| v.parse().ok()).unwrap_or(0));
    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_secs()) as i64;
    (now + offset).max(0) as u64
}

/// What a key's quota says of one request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum QuotaVerdict {
    Admitted,
    /// The period's quota is used up: 429 Limit Exceeded.
    Exceeded,
    /// Fleet mode, fail-closed, Redis unreachable: 503.
    Unavailable,
}

/// Spends one request of a key's quota on this worker, leasing a block from the shared cell when
/// its own is spent. In fleet mode an empty node allowance waits (without blocking the worker)
/// for the fleet thread's refill, at most [`fleet::Fleet::wait_limit`]; then, or at once while
/// Redis is down, the plan's failure mode decides.
pub async fn admit_quota(
    worker: &crate::runtime::worker::Worker,
    table: &crate::table::loaded::LoadedTable,
    plan: u32,
    key: u32,
) -> QuotaVerdict {
    let Some(cell) = table.quota_cells.get(&(plan, key)) else { return QuotaVerdict::Admitted };
    let now = wall_s();
    let period = quota::period_of(cell.period, now);
    let id = std::sync::Arc::as_ptr(cell) as usize;
    {
        let mut leases = worker.quota.borrow_mut();
        let slot = leases.entry(id).or_insert((period, 0));
        if slot.0 != period {
            *slot = (period, 0);
        }
        if slot.1 > 0 {
            slot.1 -= 1;
            return QuotaVerdict::Admitted;
        }
    }
    let control = worker.control();
    let fleet = control.fleet.as_deref();
    let want = cell.block(control.workers);
    let started = std::time::Instant::now();
    loop {
        let up = fleet.is_some_and(|f| f.is_up() && started.elapsed() < f.wait_limit());
        let now = wall_s();
        let (leased, ask) = cell.lease(now, want, up);
        if ask && let Some(f) = fleet {
            f.ask(cell);
        }
        match leased {
            quota::Leased::Granted(n) => {
                worker.quota.borrow_mut().insert(id, (quota::period_of(cell.period, now), n - 1));
                return QuotaVerdict::Admitted;
            }
            quota::Leased::Exhausted => return QuotaVerdict::Exceeded,
            quota::Leased::Unavailable => return QuotaVerdict::Unavailable,
            quota::Leased::Wait => monoio::time::sleep(std::time::Duration::from_micros(200)).await,
        }
    }
}

/// Nanoseconds on a monotonic clock shared by every thread.
pub fn now_ns() -> u64 {
    static START: OnceLock<quanta::Instant> = OnceLock::new();
    // Start well above zero so "the bucket was full long ago" needs no special case.
    START.get_or_init(quanta::Instant::now).elapsed().as_nanos() as u64 + 1_000_000_000_000
}
