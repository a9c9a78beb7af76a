//! A function's concurrency limit (AWS's reserved concurrency): at most `limit` invocations in
//! flight at once, across every worker; past it an invocation waits for a free slot up to the
//! function's queue time, then is refused (AWS's throttled answer).
//!
//! One atomic counter shared by the workers: taking a slot is one compare-and-swap, giving it
//! back one subtraction. A waiting invocation looks again every millisecond (a slot freed on
//! another worker cannot wake this one's task without a cross-thread waker on every task), so
//! a queued invocation starts at most about a millisecond after a slot frees. No allocation, no
//! lock.

use std::sync::atomic::{AtomicU32, AtomicU64, Ordering};
use std::time::Duration;

#[derive(Debug)]
pub struct Slots {
    limit: u32,
    in_flight: AtomicU32,
    /// Invocations refused after waiting, for the metrics.
    pub throttled: AtomicU64,
}

/// A slot taken; given back when dropped.
pub struct Permit<'a>(Option<&'a Slots>);

impl Drop for Permit<'_> {
    fn drop(&mut self) {
        if let Some(slots) = self.0 {
            slots.in_flight.fetch_sub(1, Ordering::AcqRel);
        }
    }
}

/// No slot freed within the queue time.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Throttled;

impl Slots {
    /// `limit` 0: no limit (nothing is counted).
    pub fn new(limit: u32) -> Slots {
        Slots { limit, in_flight: AtomicU32::new(0), throttled: AtomicU64::new(0) }
    }

    pub fn limit(&self) -> u32 {
        self.limit
    }

    /// Invocations running now (0 when there is no limit: they are not counted).
    pub fn in_flight(&self) -> u32 {
        self.in_flight.load(Ordering::Relaxed)
    }

    /// Takes a slot if one is free.
    pub fn try_acquire(&self) -> Option<Permit<'_>> {
        if self.limit == 0 {
            return Some(Permit(None));
        }
        let mut now = self.in_flight.load(Ordering::Relaxed);
        loop {
            if now >= self.limit {
                return None;
            }
            match self.in_flight.compare_exchange_weak(now, now + 1, Ordering::AcqRel, Ordering::Relaxed) {
                Ok(_) => return Some(Permit(Some(self))),
                Err(seen) => now = seen,
            }
        }
    }

    /// Takes a slot, waiting up to `queue` for one.
    pub async fn acquire(&self, queue: Duration) -> Result<Permit<'_>, Throttled> {
        if let Some(permit) = self.try_acquire() {
            return Ok(permit);
        }
        let deadline = monoio::time::Instant::now() + queue;
        loop {
            let now = monoio::time::Instant::now();
            if now >= deadline {
                self.throttled.fetch_add(1, Ordering::Relaxed);
                return Err(Throttled);
            }
            monoio::time::sleep(Duration::from_millis(1).min(deadline - now)).await;
            if let Some(permit) = self.try_acquire() {
                return Ok(permit);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn never_more_than_the_limit() {
        let slots = Slots::new(2);
        let a = slots.try_acquire().expect("first");
        let b = slots.try_acquire().expect("second");
        assert!(slots.try_acquire().is_none());
        assert_eq!(slots.in_flight(), 2);
        drop(a);
        let c = slots.try_acquire().expect("freed");
        assert!(slots.try_acquire().is_none());
        drop((b, c));
        assert_eq!(slots.in_flight(), 0);
    }

    #[test]
    fn no_limit_counts_nothing() {
        let slots = Slots::new(0);
        let permits: Vec<_> = (0..1000).map(|_| slots.try_acquire().expect("unlimited")).collect();
        assert_eq!(slots.in_flight(), 0);
        drop(permits);
        assert_eq!(slots.in_flight(), 0);
    }

    #[test]
    fn threads_never_exceed_the_limit() {
        let slots = std::sync::Arc::new(Slots::new(3));
        let peak = std::sync::Arc::new(AtomicU32::new(0));
        let threads: Vec<_> = (0..4)
            .map(|_| {
                let (slots, peak) = (slots.clone(), peak.clone());
                std::thread::spawn(move || {
                    for _ in 0..20_000 {
                        if let Some(p) = slots.try_acquire() {
                            peak.fetch_max(slots.in_flight(), Ordering::Relaxed);
                            drop(p);
                        }
                    }
                })
            })
            .collect();
        for t in threads {
            t.join().unwrap();
        }
        assert!(peak.load(Ordering::Relaxed) <= 3);
        assert_eq!(slots.in_flight(), 0);
    }

    #[test]
    fn a_full_function_refuses_after_the_queue_time() {
        let mut rt = monoio::RuntimeBuilder::<monoio::LegacyDriver>::new().enable_timer().build().unwrap();
        rt.block_on(async {
            let slots = Slots::new(1);
            let held = slots.try_acquire().unwrap();
            assert_eq!(slots.acquire(Duration::from_millis(5)).await.err(), Some(Throttled));
            assert_eq!(slots.throttled.load(Ordering::Relaxed), 1);
            drop(held);
            assert!(slots.acquire(Duration::ZERO).await.is_ok());
        });
    }
}
