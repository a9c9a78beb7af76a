//! Throttling: AWS's token-bucket limits, exact within a stated bound across workers.
//!
//! Levels, checked in AWS's order: the route's limit in its stage (AWS's per-method setting) or else
//! the stage's default, then the gateway-wide "account" limit (10,000 requests/s, burst 5,000 by
//! default, as AWS). Each limit is one shared [`limit::Limit`]; each worker spends tokens it leased
//! in batches ([`local::LocalLeases`]), so the request path touches shared memory once per batch.
//! Exceeded: `429 {"message":"Too Many Requests"}` with `Retry-After`.
//!
//! Usage-plan quotas ([`quota`], [`quota_store`]) are leased the same way. In fleet mode
//! ([`fleet`]) quotas, and limits marked `global`, are counted in Redis: a node's cell or reservoir
//! ([`global`]) is refilled by the fleet thread, and a request waits (on its worker's timer, never
//! blocking the worker) only when the node holds nothing yet.

pub mod fleet;
pub mod global;
pub mod limit;
pub mod local;
pub mod quota;
pub mod quota_store;

use std::collections::HashMap;
use std::sync::{Arc, OnceLock};

use limit::Limit;
use local::{FleetCtx, LocalLeases};

use crate::table::{Table, ThrottleSetting};

/// The limits of one loaded table and which apply where.
#[derive(Debug, Default)]
pub struct ThrottleIndex {
    /// Shared with the tables before and after this one when their settings match, so a reload
    /// keeps every bucket's state ([`ThrottleIndex::adopt`]).
    pub limits: Vec<Arc<Limit>>,
    /// What each limit is, by the same index: its name and setting.
    identities: Vec<(String, ThrottleSetting, Option<crate::table::FailureMode>)>,
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

/// Why a request may not pass its limits (yet).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Throttled {
    /// A bucket is empty: 429 with `Retry-After` from this many nanoseconds.
    Denied(u64),
    /// Fleet mode: a global limit's reservoir is being refilled; try again shortly.
    Wait,
    /// Fleet mode: Redis is unreachable and a fail-closed plan's global limit applies: 503.
    Unavailable,
}

impl ThrottleIndex {
    pub fn build(table: &Table, workers: usize) -> ThrottleIndex {
        let mut limits = Vec::new();
        let mut identities = Vec::new();
        let mut add = |s: &ThrottleSetting, name: &dyn Fn() -> String, on_failure| {
            let limit = Limit::new(s.rate, s.burst, workers);
            let name = name();
            limits.push(Arc::new(if s.global { limit.global(name.clone(), on_failure) } else { limit }));
            identities.push((name, s.clone(), on_failure));
            limits.len() - 1
        };
        let account = table.settings.throttle.as_ref().map(|s| add(s, &|| "account".into(), None));
        let by_route = table
            .apis
            .iter()
            .map(|api| {
                api.stages
                    .iter()
                    .map(|stage| {
                        let stage_name = || format!("{}/{}", api.name, stage.name);
                        let stage_default = stage.throttle.as_ref().map(|s| add(s, &stage_name, None));
                        (0..api.routes.len())
                            .map(|r| match stage.route_throttles.get(r).and_then(Option::as_ref) {
                                Some(s) => Some(add(s, &|| format!("{}/{}", stage_name(), api.routes[r].key), None)),
                                None => stage_default,
                            })
                            .collect()
                    })
                    .collect()
            })
            .collect();
        let mut by_key = ahash::AHashMap::new();
        let mut by_key_route = ahash::AHashMap::new();
        for (p, plan) in table.usage_plans.iter().enumerate() {
            let on_failure = Some(plan.on_redis_failure);
            for &key in &plan.keys {
                let key_name = || format!("plan/{}/{}", plan.name, table.api_keys[key as usize].name);
                if let Some(setting) = &plan.throttle {
                    by_key.insert((p as u32, key), add(setting, &key_name, on_failure));
                }
                for (api, stage, route, setting) in &plan.route_throttles {
                    let a = &table.apis[*api as usize];
                    let name = || {
                        format!(
                            "{}/{}/{}/{}",
                            key_name(),
                            a.name,
                            a.stages[*stage as usize].name,
                            a.routes[*route as usize].key
                        )
                    };
                    by_key_route.insert((p as u32, key, *api, *stage, *route), add(setting, &name, on_failure));
                }
            }
        }
        ThrottleIndex { limits, identities, account, by_route, by_key, by_key_route }
    }

    /// Takes over the buckets of `previous` (the table being replaced) for every limit that is the
    /// same there — same name, same rate, burst and fleet setting — so a reload refills nothing:
    /// tokens spent before it stay spent. A limit whose setting changed starts full.
    pub fn adopt(&mut self, previous: &ThrottleIndex) {
        let before: HashMap<&str, usize> =
            previous.identities.iter().enumerate().map(|(j, (name, ..))| (name.as_str(), j)).collect();
        for (i, identity) in self.identities.iter().enumerate() {
            if let Some(&j) = before.get(identity.0.as_str())
                && previous.identities[j] == *identity
            {
                self.limits[i] = previous.limits[j].clone();
            }
        }
    }

    /// Takes a token from every limit that applies, in AWS's order: the key's usage-plan limit on
    /// this route (the plan's override for the route, else its per-key limit), the route's limit
    /// or the stage default, the gateway-wide one. The first that says no decides; when one says
    /// `Wait`, the tokens already taken are given back, so trying again spends nothing twice.
    #[inline]
    pub fn admit(
        &self,
        leases: &LocalLeases,
        key: Option<(u32, u32)>,
        api: u32,
        stage: u32,
        route: u32,
        ctx: FleetCtx<'_>,
    ) -> Result<(), Throttled> {
        if self.limits.is_empty() {
            return Ok(());
        }
        let key_limit = key.and_then(|(plan, key)| {
            self.by_key_route.get(&(plan, key, api, stage, route)).or_else(|| self.by_key.get(&(plan, key))).copied()
        });
        let route_limit =
            self.by_route.get(api as usize).and_then(|s| s.get(stage as usize)).and_then(|r| *r.get(route as usize)?);
        let ids = [key_limit, route_limit, self.account];
        let now = now_ns();
        for (i, id) in ids.iter().enumerate() {
            let Some(id) = *id else { continue };
            if let Err(e) = leases.take(id, &self.limits[id], now, ctx) {
                if e == Throttled::Wait {
                    ids[..i].iter().flatten().for_each(|&taken| leases.refund(taken, now));
                }
                return Err(e);
            }
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

/// How long a request that waits for a refill from Redis sleeps before it looks again.
const WAIT_STEP: std::time::Duration = std::time::Duration::from_micros(200);

/// Whether a request that has waited since `since` may wait on: at most [`fleet::Fleet::wait_limit`],
/// after which Redis counts as unreachable for it.
fn patient(since: Option<std::time::Instant>, fleet: Option<&fleet::Fleet>) -> bool {
    match (since, fleet) {
        (Some(since), Some(f)) => since.elapsed() < f.wait_limit(),
        _ => true,
    }
}

/// What the throttle step reads of the worker and its table.
pub struct Throttles<'a> {
    pub index: &'a ThrottleIndex,
    pub quota_cells: &'a HashMap<(u32, u32), Arc<quota::QuotaCell>>,
    /// This worker's leased tokens.
    pub leases: &'a LocalLeases,
    pub fleet: Option<&'a fleet::Fleet>,
    pub worker: usize,
    pub workers: usize,
}

/// Step 4, throttle: the rate limits that apply, in AWS's order ([`ThrottleIndex::admit`]), then
/// the key's usage-plan quota. 429 with `Retry-After` when a bucket is empty, 429 Limit Exceeded
/// when the quota is used up, 503 when fleet mode cannot count and the plan fails closed.
pub async fn step(
    t: &Throttles<'_>,
    key: Option<(u32, u32)>,
    api: u32,
    stage: u32,
    route: u32,
) -> Result<(), crate::error::GatewayError> {
    use crate::error::{GatewayError, ResponseType};
    match admit_request(t, key, api, stage, route).await {
        Ok(()) => {}
        Err(Throttled::Denied(retry_after_ns)) => {
            let retry_after_s = retry_after_ns.div_ceil(1_000_000_000).clamp(1, u64::from(u32::MAX)) as u32;
            return Err(GatewayError::throttled(retry_after_s));
        }
        // `admit_request` waits `Wait` out itself.
        Err(Throttled::Wait | Throttled::Unavailable) => return Err(GatewayError::fleet_unavailable()),
    }
    let Some((plan, key)) = key else { return Ok(()) };
    match admit_quota(t, plan, key).await {
        QuotaVerdict::Admitted => Ok(()),
        QuotaVerdict::Exceeded => Err(GatewayError::new(ResponseType::QuotaExceeded, "usage plan quota exhausted")),
        QuotaVerdict::Unavailable => Err(GatewayError::fleet_unavailable()),
    }
}

/// Takes a token from every limit that applies ([`ThrottleIndex::admit`]). A global limit whose
/// reservoir is being refilled from Redis makes the request wait, on the worker's timer (other
/// requests go on), never returning [`Throttled::Wait`].
pub async fn admit_request(
    t: &Throttles<'_>,
    key: Option<(u32, u32)>,
    api: u32,
    stage: u32,
    route: u32,
) -> Result<(), Throttled> {
    let mut waiting_since = None;
    loop {
        let ctx = FleetCtx { fleet: t.fleet, patient: patient(waiting_since, t.fleet) };
        match t.index.admit(t.leases, key, api, stage, route, ctx) {
            Err(Throttled::Wait) => {
                waiting_since.get_or_insert_with(std::time::Instant::now);
                monoio::time::sleep(WAIT_STEP).await;
            }
            decided => return decided,
        }
    }
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
pub async fn admit_quota(t: &Throttles<'_>, plan: u32, key: u32) -> QuotaVerdict {
    let Some(cell) = t.quota_cells.get(&(plan, key)) else { return QuotaVerdict::Admitted };
    let slot = cell.slot(t.worker);
    let fleet = t.fleet;
    let mut waiting_since = None;
    loop {
        let now = wall_s();
        let period = quota::period_of(cell.period, now);
        // Looked at again after every wait: another request on this worker may have leased a
        // block meanwhile.
        if slot.is_some_and(|s| s.take(period)) {
            return QuotaVerdict::Admitted;
        }
        let up = patient(waiting_since, fleet) && fleet.is_some_and(fleet::Fleet::is_up);
        // Without a slot of its own (never: cells have one per worker) a worker leases one at a time.
        let want = if slot.is_some() { cell.block(t.workers) } else { 1 };
        let (leased, ask) = cell.lease(now, want, up);
        if ask && let Some(f) = fleet {
            f.ask(cell);
        }
        match leased {
            quota::Leased::Granted(n) => {
                // Added, not stored: what the slot holds now was leased too.
                if let Some(slot) = slot {
                    slot.add(period, n - 1);
                }
                return QuotaVerdict::Admitted;
            }
            quota::Leased::Exhausted => return QuotaVerdict::Exceeded,
            quota::Leased::Unavailable => return QuotaVerdict::Unavailable,
            quota::Leased::Wait => {
                waiting_since.get_or_insert_with(std::time::Instant::now);
                monoio::time::sleep(WAIT_STEP).await;
            }
        }
    }
}

/// Nanoseconds on a monotonic clock shared by every thread.
pub fn now_ns() -> u64 {
    static START: OnceLock<quanta::Instant> = OnceLock::new();
    // Start well above zero so "the bucket was full long ago" needs no special case.
    START.get_or_init(quanta::Instant::now).elapsed().as_nanos() as u64 + 1_000_000_000_000
}
