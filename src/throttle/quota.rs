//! Usage-plan quotas: requests per key per UTC calendar period (DAY, WEEK, MONTH), as AWS counts
//! them, shared by the workers and saved to a state file so a restart or a crash loses a bounded
//! number of counted requests.
//!
//! A worker does not touch the shared count per request: it leases a block of quota and spends it
//! from its own counter (like the rate limits). A lease is counted as used when it is taken, so the
//! saved count is never below what was admitted: a crash can only lose what was leased after the
//! last save.
//!
//! In fleet mode ([`super::fleet`]) the cell does not own the count: Redis does. The cell then
//! holds the node's *allowance*, quota Redis granted to this node and no worker has leased yet,
//! refilled by the fleet thread before it runs out. While Redis is unreachable a plan either
//! counts on this node alone (`Open`, reported to Redis when it is back) or stops once the
//! allowance is spent (`Closed`).
//!
//! Plain data: periods are computed from wall-clock UTC seconds passed in, and whether Redis is
//! up is passed in; the clock, the worker glue and the Redis calls live elsewhere.

use std::collections::VecDeque;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};

use serde::{Deserialize, Serialize};

use super::fleet::Ask;
use crate::table::{FailureMode, QuotaPeriod};

/// Days of per-day usage kept for the usage endpoint (AWS's GetUsage reaches 90 days back).
pub const DAYS_KEPT: usize = 90;

/// The period a UTC time falls in, as a number that changes exactly at the boundary. WEEK starts on
/// Monday 00:00 UTC.
pub fn period_of(period: QuotaPeriod, unix_s: u64) -> u64 {
    let days = unix_s / 86_400;
    match period {
        QuotaPeriod::Day => days,
        // 1970-01-01 was a Thursday: shift so weeks start on Monday.
        QuotaPeriod::Week => (days + 3) / 7,
        QuotaPeriod::Month => {
            let (y, m, _) = crate::request_time::civil(days);
            y * 12 + (m - 1)
        }
    }
}

/// One key's quota under one plan.
#[derive(Debug)]
pub struct QuotaCell {
    pub plan: String,
    pub key: String,
    pub limit: u64,
    pub period: QuotaPeriod,
    /// Requests counted as used in the first period (AWS's `offset`).
    pub offset: u64,
    /// `Some` in fleet mode: what to do while Redis is unreachable.
    pub fleet: Option<FailureMode>,
    state: Mutex<State>,
    /// Per worker: the block it leased and has not spent yet.
    slots: Box<[WorkerSlot]>,
}

/// A worker's lease of one cell: what it may still admit, and in which period. Only that worker
/// writes it (relaxed loads and stores, no read-modify-write, its own cache line); the usage
/// endpoint reads it to tell served requests from leased ones.
#[derive(Debug, Default)]
#[repr(align(64))]
pub struct WorkerSlot {
    period: AtomicU64,
    left: AtomicU64,
}

impl WorkerSlot {
    /// Takes one request if the worker holds a lease for `period`.
    #[inline]
    pub fn take(&self, period: u64) -> bool {
        let left = self.left.load(Relaxed);
        if left == 0 || self.period.load(Relaxed) != period {
            return false;
        }
        self.left.store(left - 1, Relaxed);
        true
    }

    /// Adds `n` leased requests of `period` (a lease of an older period is dropped).
    pub fn add(&self, period: u64, n: u64) {
        if self.period.load(Relaxed) != period {
            self.left.store(0, Relaxed);
            self.period.store(period, Relaxed);
        }
        self.left.store(self.left.load(Relaxed) + n, Relaxed);
    }

    fn unspent(&self, period: u64) -> u64 {
        if self.period.load(Relaxed) == period { self.left.load(Relaxed) } else { 0 }
    }
}

/// What is saved: the period and how much of it was used (leased).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Count {
    pub period: u64,
    pub used: u64,
}

/// A cell's saved state: its count, what fleet mode has not reported to Redis yet, and per-day use.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Saved {
    pub count: Count,
    pub unreported: u64,
    pub days: Vec<(u64, u64)>,
}

#[derive(Debug, Default)]
struct State {
    /// Local mode: the count. Fleet mode: the fleet's count as Redis last said, plus what this
    /// node admitted without Redis since.
    count: Count,
    /// Fleet: granted by Redis to this node, not leased to a worker yet.
    allowance: u64,
    /// Fleet: admitted while Redis was unreachable (in `count.period`), not reported yet.
    unreported: u64,
    /// Fleet: Redis granted less than asked, so the period's quota is used up fleet-wide.
    exhausted: bool,
    /// Fleet: a refill queued for the fleet thread (UTC seconds).
    asked: Ask,
    /// Fleet: the next refill's size; doubles while refills keep coming, halves for every idle
    /// second.
    block: u64,
    last_refill_s: u64,
    /// Per UTC day (days since the epoch): requests this node leased that day, oldest first.
    days: VecDeque<(u64, u64)>,
}

/// How long a queued refill may go unanswered before it is asked for again (seconds).
pub const ASK_AGAIN_S: u64 = 2;

/// The answer to a worker's lease.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Leased {
    Granted(u64),
    /// The period's quota is used up.
    Exhausted,
    /// Fleet: the allowance is empty and a refill from Redis is on its way.
    Wait,
    /// Fleet, fail-closed: Redis is unreachable and the allowance is spent.
    Unavailable,
}

impl QuotaCell {
    pub fn new(
        names: (String, String),
        quota: &crate::table::Quota,
        fleet: Option<FailureMode>,
        restored: Option<Saved>,
        workers: usize,
    ) -> QuotaCell {
        let restored = restored.unwrap_or_default();
        let state = State {
            count: restored.count,
            unreported: if fleet.is_some() { restored.unreported } else { 0 },
            days: restored.days.into_iter().collect(),
            block: 1,
            ..Default::default()
        };
        QuotaCell {
            plan: names.0,
            key: names.1,
            limit: quota.limit,
            period: quota.period,
            offset: quota.offset,
            fleet,
            state: Mutex::new(state),
            slots: (0..workers).map(|_| WorkerSlot::default()).collect(),
        }
    }

    /// Worker `index`'s lease of this cell.
    pub fn slot(&self, index: usize) -> Option<&WorkerSlot> {
        self.slots.get(index)
    }

    /// Leased by this node and not served yet, in the period of `unix_s`: the node's allowance
    /// and what the workers hold.
    pub fn unspent(&self, unix_s: u64) -> u64 {
        let now = period_of(self.period, unix_s);
        let allowance = {
            let s = self.state();
            if s.count.period == now { s.allowance } else { 0 }
        };
        allowance + self.slots.iter().map(|slot| slot.unspent(now)).sum::<u64>()
    }

    fn state(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Leases up to `want` requests at `unix_s`. The flag asks the caller to queue a refill for
    /// the fleet thread (fleet mode only; `redis_up` is ignored otherwise).
    pub fn lease(&self, unix_s: u64, want: u64, redis_up: bool) -> (Leased, bool) {
        let now = period_of(self.period, unix_s);
        let mut s = self.state();
        if s.count.period != now {
            // A new period: what was granted or owed for the old one no longer matters.
            s.count = Count { period: now, used: 0 };
            s.allowance = 0;
            s.unreported = 0;
            s.exhausted = false;
            s.block = 1;
        }
        let Some(mode) = self.fleet else {
            return (self.count_here(&mut s, unix_s, want), false);
        };
        if s.allowance > 0 {
            let n = want.min(s.allowance);
            s.allowance -= n;
            let ask = !s.exhausted && redis_up && s.allowance * 2 <= s.block && s.asked.due(unix_s, ASK_AGAIN_S);
            return (Leased::Granted(n), ask);
        }
        if s.exhausted {
            return (Leased::Exhausted, false);
        }
        if redis_up {
            let ask = s.asked.due(unix_s, ASK_AGAIN_S);
            return (Leased::Wait, ask);
        }
        match mode {
            FailureMode::Closed => (Leased::Unavailable, false),
            FailureMode::Open => {
                let leased = self.count_here(&mut s, unix_s, want);
                if let Leased::Granted(n) = leased {
                    s.unreported += n;
                }
                (leased, false)
            }
        }
    }

    /// Leases up to `want` requests from the count this node keeps itself (local mode, or fleet
    /// mode failing open), never beyond the limit.
    fn count_here(&self, s: &mut State, unix_s: u64, want: u64) -> Leased {
        let n = want.min(self.limit.saturating_sub(s.count.used));
        if n == 0 {
            return Leased::Exhausted;
        }
        s.count.used += n;
        record_day(&mut s.days, unix_s / 86_400, n);
        Leased::Granted(n)
    }

    /// Fleet: the refill to ask Redis for, as (period, requests); `None` when none is needed.
    pub fn refill_request(&self, unix_s: u64) -> Option<(u64, u64)> {
        let now = period_of(self.period, unix_s);
        let mut s = self.state();
        if !s.asked.pending() || s.exhausted || s.count.period != now {
            s.asked.answered();
            return None;
        }
        // Halved for every idle second beyond the first: a steady key settles near a block per
        // second or two, an idle one comes back to 1.
        let idle_s = unix_s.saturating_sub(s.last_refill_s + 1);
        s.block = (s.block >> idle_s.min(63)).max(1);
        let want = s.block;
        s.block = (s.block * 2).min(self.max_block());
        s.last_refill_s = unix_s;
        Some((now, want))
    }

    /// Fleet: Redis granted `granted` of the `wanted` requests for `period`, and the fleet has now
    /// used `fleet_used` of it.
    pub fn refilled(&self, unix_s: u64, period: u64, wanted: u64, granted: u64, fleet_used: u64) {
        let mut s = self.state();
        s.asked.answered();
        if s.count.period != period {
            return;
        }
        s.allowance += granted;
        s.exhausted = granted < wanted;
        s.count.used = fleet_used + s.unreported;
        if granted > 0 {
            record_day(&mut s.days, unix_s / 86_400, granted);
        }
    }

    /// Fleet: the refill could not be made (Redis failed); waiting workers look again.
    pub fn refill_failed(&self) {
        self.state().asked.answered();
    }

    /// Fleet: what was admitted without Redis and is not reported yet, as (period, requests).
    pub fn unreported(&self) -> Option<(u64, u64)> {
        let s = self.state();
        (s.unreported > 0).then_some((s.count.period, s.unreported))
    }

    /// Fleet: `n` requests of `period` were added to Redis's count, which is now `fleet_used`.
    pub fn reported(&self, period: u64, n: u64, fleet_used: u64) {
        let mut s = self.state();
        if s.count.period == period {
            s.unreported = s.unreported.saturating_sub(n);
            s.count.used = fleet_used + s.unreported;
            s.exhausted |= s.count.used >= self.limit;
        }
    }

    /// The count as of `unix_s` (a new period reads as unused).
    pub fn count(&self, unix_s: u64) -> Count {
        self.saved_count(&self.state(), unix_s).0
    }

    /// Everything saved to the state file.
    pub fn saved(&self, unix_s: u64) -> Saved {
        let s = self.state();
        let (count, unreported) = self.saved_count(&s, unix_s);
        Saved { count, unreported, days: s.days.iter().copied().collect() }
    }

    /// The count and what is unreported of it, as of `unix_s` (a new period: none of either).
    fn saved_count(&self, s: &State, unix_s: u64) -> (Count, u64) {
        let now = period_of(self.period, unix_s);
        if s.count.period == now { (s.count, s.unreported) } else { (Count { period: now, used: 0 }, 0) }
    }

    /// Requests this node leased per UTC day, oldest first.
    pub fn days(&self) -> Vec<(u64, u64)> {
        self.state().days.iter().copied().collect()
    }

    /// A block for a worker to lease: small next to the limit, so leased-but-unspent quota stays
    /// small.
    pub fn block(&self, workers: usize) -> u64 {
        (self.limit / (64 * workers.max(1) as u64)).clamp(1, 64)
    }

    /// Fleet: the largest refill asked of Redis, which bounds what a node can hold unspent.
    pub fn max_block(&self) -> u64 {
        (self.limit / 100).clamp(1, 1000)
    }
}

fn record_day(days: &mut VecDeque<(u64, u64)>, day: u64, n: u64) {
    match days.back_mut() {
        Some((d, used)) if *d == day => *used += n,
        _ => {
            days.push_back((day, n));
            if days.len() > DAYS_KEPT {
                days.pop_front();
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::table::Quota;

    const DAY: u64 = 86_400;
    const T: u64 = 1_795_564_800; // 2026-11-25 00:00:00 UTC, a Wednesday

    fn cell(limit: u64, fleet: Option<FailureMode>, restored: Option<Saved>) -> QuotaCell {
        let quota = Quota { limit, period: QuotaPeriod::Day, offset: 0 };
        QuotaCell::new(("plan".into(), "key".into()), &quota, fleet, restored, 2)
    }

    #[test]
    fn periods_change_at_utc_boundaries() {
        assert_eq!(period_of(QuotaPeriod::Day, T - 1) + 1, period_of(QuotaPeriod::Day, T));
        let monday = T - 2 * DAY;
        assert_eq!(period_of(QuotaPeriod::Week, monday - 1) + 1, period_of(QuotaPeriod::Week, monday));
        assert_eq!(period_of(QuotaPeriod::Week, monday), period_of(QuotaPeriod::Week, monday + 6 * DAY + DAY - 1));
        let december = T + 6 * DAY; // 2026-12-01
        assert_eq!(period_of(QuotaPeriod::Month, december - 1) + 1, period_of(QuotaPeriod::Month, december));
    }

    #[test]
    fn leases_stop_at_the_limit_and_reset_with_the_period() {
        let q = cell(5, None, None);
        assert_eq!(q.lease(T, 3, false), (Leased::Granted(3), false));
        assert_eq!(q.lease(T, 3, false), (Leased::Granted(2), false));
        assert_eq!(q.lease(T, 1, false), (Leased::Exhausted, false));
        assert_eq!(q.count(T), Count { period: T / DAY, used: 5 });
        assert_eq!(q.lease(T + DAY, 1, false), (Leased::Granted(1), false), "a new day");
        assert_eq!(q.days(), vec![(T / DAY, 5), (T / DAY + 1, 1)]);
        let saved = Saved { count: Count { period: T / DAY, used: 4 }, ..Default::default() };
        let restored = cell(5, None, Some(saved));
        assert_eq!(restored.lease(T, 5, false), (Leased::Granted(1), false));
    }

    #[test]
    fn fleet_cells_wait_for_refills_that_grow_while_demand_lasts() {
        let q = cell(10_000, Some(FailureMode::Closed), None);
        assert_eq!(q.lease(T, 8, true), (Leased::Wait, true), "nothing granted yet: ask");
        assert_eq!(q.lease(T, 8, true), (Leased::Wait, false), "asked already");
        assert_eq!(q.lease(T + ASK_AGAIN_S, 8, true), (Leased::Wait, true), "an ask left unanswered is made again");
        let (period, want) = q.refill_request(T).unwrap();
        assert_eq!(want, 1);
        q.refilled(T, period, want, 1, 1);
        assert_eq!(q.lease(T, 8, true), (Leased::Granted(1), true), "allowance spent: ask ahead");
        let (_, want) = q.refill_request(T).unwrap();
        assert_eq!(want, 2);
        q.refilled(T, period, want, 2, 3);
        let (_, want) = {
            assert_eq!(q.lease(T, 1, true), (Leased::Granted(1), true));
            q.refill_request(T).unwrap()
        };
        assert_eq!(want, 4, "doubling");
        q.refilled(T, period, want, 4, 7);
        assert_eq!(q.lease(T, 8, true), (Leased::Granted(5), true));
        assert_eq!(q.refill_request(T + 2).unwrap().1, 4, "one idle second: halved");
        q.refilled(T + 2, period, 4, 4, 11);
        q.lease(T + 2, 100, true);
        assert_eq!(q.refill_request(T + 12).unwrap().1, 1, "after a long pause, small again");
    }

    #[test]
    fn fleet_cells_stop_when_redis_grants_less_than_asked() {
        let q = cell(3, Some(FailureMode::Open), None);
        q.lease(T, 1, true);
        let (period, _) = q.refill_request(T).unwrap();
        q.refilled(T, period, 4, 2, 3);
        assert_eq!(q.lease(T, 5, true), (Leased::Granted(2), false));
        assert_eq!(q.lease(T, 1, true), (Leased::Exhausted, false));
        assert_eq!(q.lease(T, 1, false), (Leased::Exhausted, false), "even with Redis down");
        assert_eq!(q.lease(T + DAY, 1, true), (Leased::Wait, true), "a new period asks again");
    }

    #[test]
    fn redis_down_fails_open_counting_locally_or_closed() {
        let closed = cell(10, Some(FailureMode::Closed), None);
        assert_eq!(closed.lease(T, 1, false), (Leased::Unavailable, false));
        let open = cell(10, Some(FailureMode::Open), None);
        assert_eq!(open.lease(T, 4, false), (Leased::Granted(4), false));
        assert_eq!(open.lease(T, 8, false), (Leased::Granted(6), false), "up to the plan's limit");
        assert_eq!(open.lease(T, 1, false), (Leased::Exhausted, false));
        assert_eq!(open.unreported(), Some((T / DAY, 10)));
        assert_eq!(open.saved(T).unreported, 10, "saved, so a restart still reports it");
        open.reported(T / DAY, 10, 25);
        assert_eq!(open.unreported(), None);
        assert_eq!(open.count(T).used, 25, "the fleet's count");
    }

    #[test]
    fn worker_slots_tell_served_from_leased() {
        let q = cell(100, None, None);
        let period = T / DAY;
        let (Leased::Granted(n), _) = q.lease(T, 10, false) else { panic!() };
        let slot = q.slot(1).unwrap();
        slot.add(period, n);
        assert!(slot.take(period) && slot.take(period));
        assert_eq!(q.unspent(T), 8, "10 leased, 2 served");
        assert!(!slot.take(period + 1), "a lease of another period is not spent");
        slot.add(period + 1, 3);
        assert_eq!(q.unspent(T), 0, "the old lease was dropped");
        assert!(q.slot(2).is_none());
    }
}
