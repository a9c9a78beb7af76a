//! One rate limit shared by every worker, as a GCRA cell (the "theoretical arrival time" form of a
//! token bucket: `rate` tokens per second, `burst` tokens at most) in a single atomic.
//!
//! Workers never ask it for one token: they lease a batch ([`Limit::lease`]) and spend it locally
//! ([`super::local`]), so the shared cache line is touched once per batch, not per request. The
//! lease is exact: it never grants a token the bucket does not have. Plain data with time passed
//! in (nanoseconds on a monotonic clock), so it is tested and benchmarked without clocks.

use std::sync::atomic::{AtomicU64, Ordering};

#[derive(Debug)]
pub struct Limit {
    /// When the bucket would be full again if nothing more were taken (ns).
    tat_ns: AtomicU64,
    /// Nanoseconds per token (1 / rate).
    emission_ns: u64,
    /// `burst × emission`: how far ahead of now the arrival time may run.
    tolerance_ns: u64,
    /// Tokens a worker leases at once.
    pub batch: u32,
    /// Fleet mode, `global = true`: the node's reservoir of tokens from the fleet's bucket in
    /// Redis. This limit's own bucket then serves only while Redis is unreachable.
    pub global: Option<super::global::Global>,
}

/// The answer to a lease.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Lease {
    Granted(u32),
    /// Empty: the next token is due in this many nanoseconds.
    Denied {
        retry_after_ns: u64,
    },
}

impl Limit {
    /// `rate` tokens per second (fractions allowed), `burst` tokens; `workers` share it. A batch
    /// is at most 5 ms of rate and a quarter of the burst per worker, so leased-but-unspent tokens
    /// stay small next to the limit (see docs/throttling.md for the bound).
    pub fn new(rate: f64, burst: u32, workers: usize) -> Limit {
        let emission_ns = (1e9 / rate.max(1e-6)).max(1.0) as u64;
        let burst = burst.max(1);
        let per_worker = (burst as usize / (4 * workers.max(1))).max(1) as u32;
        let five_ms = (rate * 0.005).floor().max(1.0) as u32;
        Limit {
            tat_ns: AtomicU64::new(0),
            emission_ns,
            tolerance_ns: emission_ns.saturating_mul(u64::from(burst)),
            batch: per_worker.min(five_ms).max(1),
            global: None,
        }
    }

    /// Makes the limit global (fleet mode): `name` is its key in Redis.
    pub fn global(mut self, name: String, on_failure: Option<crate::table::FailureMode>) -> Limit {
        let burst = (self.tolerance_ns / self.emission_ns) as u32;
        self.global = Some(super::global::Global::new(name, on_failure, self.emission_ns, burst));
        self
    }

    /// Nanoseconds per token and the burst's span, for the fleet's bucket in Redis.
    pub fn shape_ns(&self) -> (u64, u64) {
        (self.emission_ns, self.tolerance_ns)
    }

    /// Takes up to `want` tokens at `now_ns`.
    pub fn lease(&self, now_ns: u64, want: u32) -> Lease {
        let mut tat = self.tat_ns.load(Ordering::Acquire);
        loop {
            let base = tat.max(now_ns);
            let room_ns = (now_ns + self.tolerance_ns).saturating_sub(base);
            let available = room_ns / self.emission_ns;
            if available == 0 {
                return Lease::Denied { retry_after_ns: base + self.emission_ns - (now_ns + self.tolerance_ns) };
            }
            let n = available.min(u64::from(want.max(1)));
            let next = base + n * self.emission_ns;
            match self.tat_ns.compare_exchange_weak(tat, next, Ordering::AcqRel, Ordering::Acquire) {
                Ok(_) => return Lease::Granted(n as u32),
                Err(current) => tat = current,
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const S: u64 = 1_000_000_000;

    fn drain(l: &Limit, now: u64) -> u32 {
        let mut total = 0;
        while let Lease::Granted(n) = l.lease(now, 1) {
            total += n;
        }
        total
    }

    #[test]
    fn a_full_bucket_gives_its_burst_then_the_rate() {
        let l = Limit::new(10.0, 5, 1);
        let t0 = 10 * S;
        assert_eq!(drain(&l, t0), 5);
        assert!(matches!(l.lease(t0, 1), Lease::Denied { retry_after_ns } if retry_after_ns == S / 10));
        assert_eq!(drain(&l, t0 + S / 10), 1);
        assert_eq!(drain(&l, t0 + S / 10 + S), 5, "refilled to the burst, not beyond");
    }

    #[test]
    fn fractional_rates_and_batches() {
        let l = Limit::new(0.5, 1, 1);
        assert_eq!(drain(&l, 100 * S), 1);
        assert_eq!(drain(&l, 101 * S), 0);
        assert_eq!(drain(&l, 102 * S), 1);
        let l = Limit::new(10_000.0, 5_000, 2);
        assert_eq!(l.batch, 50, "5 ms of rate");
        assert_eq!(l.lease(S, 50), Lease::Granted(50));
    }

    #[test]
    fn never_more_than_rate_times_time_plus_burst() {
        // 2 workers leasing batches for 3 simulated seconds at 1 µs steps of demand.
        let l = Limit::new(1000.0, 100, 2);
        let mut granted = 0u64;
        let t0 = 5 * S;
        let mut t = t0;
        while t < t0 + 3 * S {
            for _ in 0..2 {
                if let Lease::Granted(n) = l.lease(t, l.batch) {
                    granted += u64::from(n);
                }
            }
            t += 1_000;
        }
        assert!(granted <= 3 * 1000 + 100, "{granted}");
        assert!(granted >= 3 * 1000, "{granted}");
    }
}
