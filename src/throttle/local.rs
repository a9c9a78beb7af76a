//! A worker's side of the shared limits: tokens it has leased and not spent yet, per limit.
//!
//! The request path touches only this worker's `Vec` (no atomics) until a lease runs out; then one
//! [`Limit::lease`] takes the next batch. Leases not spent within [`LEASE_TTL_NS`] are dropped, so
//! a worker that went quiet cannot spend old tokens later (that would let the gateway admit more
//! than the limit over a window).

use std::cell::RefCell;

use super::limit::{Lease, Limit};

/// How long leased tokens stay spendable.
pub const LEASE_TTL_NS: u64 = 100_000_000;

#[derive(Default)]
pub struct LocalLeases {
    /// Per limit id: (tokens left, spendable until).
    slots: RefCell<Vec<(u32, u64)>>,
}

impl LocalLeases {
    /// Takes one token of limit `id`; `Err(retry_after_ns)` when the limit is exhausted.
    pub fn take(&self, id: usize, limit: &Limit, now_ns: u64) -> Result<(), u64> {
        let mut slots = self.slots.borrow_mut();
        if slots.len() <= id {
            slots.resize(id + 1, (0, 0));
        }
        let slot = &mut slots[id];
        if slot.0 > 0 && now_ns < slot.1 {
            slot.0 -= 1;
            return Ok(());
        }
        match limit.lease(now_ns, limit.batch) {
            Lease::Granted(n) => {
                *slot = (n - 1, now_ns + LEASE_TTL_NS);
                Ok(())
            }
            Lease::Denied { retry_after_ns } => {
                *slot = (0, 0);
                Err(retry_after_ns)
            }
        }
    }

    /// Forgets every lease (a new table brings new limits).
    pub fn reset(&self) {
        self.slots.borrow_mut().clear();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spends_a_lease_locally_and_drops_it_when_stale() {
        let limit = Limit::new(1000.0, 100, 1);
        let leases = LocalLeases::default();
        let t = 1_000_000_000;
        for _ in 0..limit.batch {
            assert!(leases.take(0, &limit, t).is_ok());
        }
        // Another worker drains the bucket: the lease holder's next take needs the bucket.
        while let Lease::Granted(_) = limit.lease(t, 1000) {}
        assert!(leases.take(0, &limit, t).is_err());
        // A stale lease is not spent: after the TTL the bucket decides again.
        let later = t + 10 * LEASE_TTL_NS;
        assert!(leases.take(0, &limit, later).is_ok());
    }
}
