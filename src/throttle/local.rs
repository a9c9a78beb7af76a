//! A worker's side of the shared limits: tokens it has leased and not spent yet, per limit.
//!
//! The request path touches only this worker's `Vec` (no atomics) until a lease runs out; then one
//! [`Limit::lease`] takes the next batch. Leases not spent within [`LEASE_TTL_NS`] are dropped, so
//! a worker that went quiet cannot spend old tokens later (that would let the gateway admit more
//! than the limit over a window).

use std::cell::RefCell;
use std::sync::Arc;

use super::Throttled;
use super::global::Drawn;
use super::limit::{Lease, Limit};
use crate::table::FailureMode;

/// How long leased tokens stay spendable.
pub const LEASE_TTL_NS: u64 = 100_000_000;

/// What a global limit needs to reach the fleet thread.
#[derive(Clone, Copy)]
pub struct FleetCtx<'a> {
    pub fleet: Option<&'a super::fleet::Fleet>,
    /// False once a request has waited long enough: Redis then counts as unreachable for it.
    pub patient: bool,
}

#[derive(Default)]
pub struct LocalLeases {
    /// Per limit id: (tokens left, spendable until).
    slots: RefCell<Vec<(u32, u64)>>,
}

impl LocalLeases {
    /// Takes one token of limit `id`.
    pub fn take(&self, id: usize, limit: &Arc<Limit>, now_ns: u64, ctx: FleetCtx<'_>) -> Result<(), Throttled> {
        let mut slots = self.slots.borrow_mut();
        if slots.len() <= id {
            slots.resize(id + 1, (0, 0));
        }
        let slot = &mut slots[id];
        if slot.0 > 0 && now_ns < slot.1 {
            slot.0 -= 1;
            return Ok(());
        }
        let local_expiry = now_ns + LEASE_TTL_NS;
        let (leased, expires_ns) = match &limit.global {
            None => (limit.lease(now_ns, limit.batch), local_expiry),
            Some(global) => {
                let up = ctx.patient && ctx.fleet.is_some_and(super::fleet::Fleet::is_up);
                let (drawn, ask) = global.draw(now_ns, limit.batch, up);
                if ask && let Some(fleet) = ctx.fleet {
                    fleet.ask_rate(limit);
                }
                match drawn {
                    Drawn::Granted(n, expires_ns) => (Lease::Granted(n), expires_ns.min(local_expiry)),
                    Drawn::Denied(retry_after_ns) => (Lease::Denied { retry_after_ns }, 0),
                    Drawn::Wait => return Err(Throttled::Wait),
                    Drawn::Down if global.on_failure == Some(FailureMode::Closed) => {
                        return Err(Throttled::Unavailable);
                    }
                    // The node's own bucket, at the full rate.
                    Drawn::Down => (limit.lease(now_ns, limit.batch), local_expiry),
                }
            }
        };
        match leased {
            Lease::Granted(n) => {
                *slot = (n - 1, expires_ns);
                Ok(())
            }
            Lease::Denied { retry_after_ns } => {
                *slot = (0, 0);
                Err(Throttled::Denied(retry_after_ns))
            }
        }
    }

    /// Gives back a token just taken from limit `id` (another limit made the request wait).
    pub fn refund(&self, id: usize, now_ns: u64) {
        if let Some(slot) = self.slots.borrow_mut().get_mut(id)
            && now_ns < slot.1
        {
            slot.0 += 1;
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
        let limit = Arc::new(Limit::new(1000.0, 100, 1));
        let leases = LocalLeases::default();
        let t = 1_000_000_000;
        let ctx = FleetCtx { fleet: None, patient: true };
        for _ in 0..limit.batch {
            assert!(leases.take(0, &limit, t, ctx).is_ok());
        }
        // Another worker drains the bucket: the lease holder's next take needs the bucket.
        while let Lease::Granted(_) = limit.lease(t, 1000) {}
        assert!(leases.take(0, &limit, t, ctx).is_err());
        leases.refund(0, t);
        assert!(leases.take(0, &limit, t, ctx).is_err(), "nothing to refund into: the lease was spent");
        // A stale lease is not spent: after the TTL the bucket decides again.
        let later = t + 10 * LEASE_TTL_NS;
        assert!(leases.take(0, &limit, later, ctx).is_ok());
        leases.refund(0, later);
        while let Lease::Granted(_) = limit.lease(later, 1000) {}
        for _ in 0..limit.batch {
            assert!(leases.take(0, &limit, later, ctx).is_ok(), "the refunded token and the rest of the batch");
        }
        assert!(leases.take(0, &limit, later, ctx).is_err());
    }
}
