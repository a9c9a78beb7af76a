//! Latency histograms with fixed buckets suited to an edge gateway: most requests take tens to
//! hundreds of microseconds, a slow upstream takes seconds.
//!
//! Buckets are stored non-cumulative (one cell per bucket, one increment per observation); the
//! exposition adds them up. Observing is a branch-free-ish scan over 18 bounds and three cell
//! updates, no allocation.

use super::cell::Counter;

/// Upper bounds in microseconds; the last bucket (`+Inf`) is implicit.
pub const BOUNDS_US: [u64; 18] = [
    50, 100, 250, 500, 1_000, 2_500, 5_000, 10_000, 25_000, 50_000, 100_000, 250_000, 500_000, 1_000_000, 2_500_000,
    5_000_000, 10_000_000, 30_000_000,
];

#[derive(Default, Debug)]
pub struct Histogram {
    /// One cell per bound, then `+Inf`.
    buckets: [Counter; BOUNDS_US.len() + 1],
    sum_us: Counter,
    count: Counter,
}

impl Histogram {
    /// Records one observation. Only the owning worker may call this.
    #[inline]
    pub fn observe_us(&self, us: u64) {
        let i = BOUNDS_US.iter().position(|&b| us <= b).unwrap_or(BOUNDS_US.len());
        self.buckets[i].inc();
        self.sum_us.add(us);
        self.count.inc();
    }

    pub fn snapshot(&self) -> Snapshot {
        let mut s = Snapshot::default();
        s.add(self);
        s
    }
}

/// A histogram's values summed over workers.
#[derive(Default, Debug, Clone, PartialEq)]
pub struct Snapshot {
    pub buckets: [u64; BOUNDS_US.len() + 1],
    pub sum_us: u64,
    pub count: u64,
}

impl Snapshot {
    pub fn add(&mut self, h: &Histogram) {
        for (total, cell) in self.buckets.iter_mut().zip(&h.buckets) {
            *total += cell.get();
        }
        self.sum_us += h.sum_us.get();
        self.count += h.count.get();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn observations_land_in_the_first_bucket_that_holds_them() {
        let h = Histogram::default();
        h.observe_us(0);
        h.observe_us(50);
        h.observe_us(51);
        h.observe_us(30_000_000);
        h.observe_us(30_000_001);
        let s = h.snapshot();
        assert_eq!(s.buckets[0], 2);
        assert_eq!(s.buckets[1], 1);
        assert_eq!(s.buckets[BOUNDS_US.len() - 1], 1);
        assert_eq!(s.buckets[BOUNDS_US.len()], 1);
        assert_eq!(s.count, 5);
        assert_eq!(s.sum_us, 60_000_102);
    }
}
