//! Usage-plan quotas: requests per key per UTC calendar period (DAY, WEEK, MONTH), as AWS counts
//! them, shared by the workers and saved to a state file so a restart or a crash loses a bounded
//! number of counted requests.
//!
//! A worker does not touch the shared count per request: it leases a block of quota and spends it
//! from its own counter (like the rate limits). A lease is counted as used when it is taken, so the
//! saved count is never below what was admitted: a crash can only lose what was leased after the
//! last save. Plain data: periods are computed from wall-clock UTC seconds passed in; the clock and
//! the per-worker glue live in [`super`].

use std::sync::Mutex;

use serde::{Deserialize, Serialize};

use crate::table::QuotaPeriod;

/// The period a UTC time falls in, as a number that changes exactly at the boundary. WEEK starts on
/// Monday 00:00 UTC.
pub fn period_of(period: QuotaPeriod, unix_s: u64) -> u64 {
    let days = unix_s / 86_400;
    match period {
        QuotaPeriod::Day => days,
        // 1970-01-01 was a Thursday: shift so weeks start on Monday.
        QuotaPeriod::Week => (days + 3) / 7,
        QuotaPeriod::Month => {
            let (y, m, _) = crate::access_log::civil_date(days);
            y * 12 + (m - 1)
        }
    }
}

/// One key's quota under one plan.
#[derive(Debug)]
pub struct QuotaCell {
    pub limit: u64,
    pub period: QuotaPeriod,
    state: Mutex<Count>,
}

/// What is saved: the period and how much of it was used (leased).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Count {
    pub period: u64,
    pub used: u64,
}

impl QuotaCell {
    pub fn new(limit: u64, period: QuotaPeriod, restored: Option<Count>) -> QuotaCell {
        QuotaCell { limit, period, state: Mutex::new(restored.unwrap_or_default()) }
    }

    /// Leases up to `want` requests at `unix_s`; 0 when the quota of this period is used up.
    pub fn lease(&self, unix_s: u64, want: u64) -> u64 {
        let now = period_of(self.period, unix_s);
        let mut s = self.state.lock().unwrap_or_else(|p| p.into_inner());
        if s.period != now {
            *s = Count { period: now, used: 0 };
        }
        let n = want.min(self.limit.saturating_sub(s.used));
        s.used += n;
        n
    }

    /// The count as of `unix_s` (a new period reads as unused).
    pub fn count(&self, unix_s: u64) -> Count {
        let now = period_of(self.period, unix_s);
        let s = *self.state.lock().unwrap_or_else(|p| p.into_inner());
        if s.period == now { s } else { Count { period: now, used: 0 } }
    }

    /// A block to lease: small next to the limit, so leased-but-unspent quota stays small.
    pub fn block(&self, workers: usize) -> u64 {
        (self.limit / (64 * workers.max(1) as u64)).clamp(1, 64)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const DAY: u64 = 86_400;

    #[test]
    fn periods_change_at_utc_boundaries() {
        let t = 1_795_564_800; // 2026-11-25 00:00:00 UTC, a Wednesday
        assert_eq!(period_of(QuotaPeriod::Day, t - 1) + 1, period_of(QuotaPeriod::Day, t));
        let monday = t - 2 * DAY;
        assert_eq!(period_of(QuotaPeriod::Week, monday - 1) + 1, period_of(QuotaPeriod::Week, monday));
        assert_eq!(period_of(QuotaPeriod::Week, monday), period_of(QuotaPeriod::Week, monday + 6 * DAY + DAY - 1));
        let december = t + 6 * DAY; // 2026-12-01
        assert_eq!(period_of(QuotaPeriod::Month, december - 1) + 1, period_of(QuotaPeriod::Month, december));
    }

    #[test]
    fn leases_stop_at_the_limit_and_reset_with_the_period() {
        let q = QuotaCell::new(5, QuotaPeriod::Day, None);
        let t = 1_795_564_800;
        assert_eq!(q.lease(t, 3), 3);
        assert_eq!(q.lease(t, 3), 2);
        assert_eq!(q.lease(t, 1), 0);
        assert_eq!(q.count(t), Count { period: t / DAY, used: 5 });
        assert_eq!(q.lease(t + DAY, 1), 1, "a new day");
        let restored = QuotaCell::new(5, QuotaPeriod::Day, Some(Count { period: t / DAY, used: 4 }));
        assert_eq!(restored.lease(t, 5), 1);
    }
}
