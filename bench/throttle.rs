//! Throttling on the hot path: a token from the worker's lease (the common case), and a lease
//! from the shared limit (once per batch).

use criterion::{Criterion, black_box, criterion_group, criterion_main};
use portico::throttle::limit::Limit;
use portico::throttle::local::{FleetCtx, LocalLeases};

fn throttle(c: &mut Criterion) {
    // A limit that never runs out, so every iteration is admitted.
    let limit = std::sync::Arc::new(Limit::new(1e12, u32::MAX, 2));
    let leases = LocalLeases::default();
    let mut now = 1_000_000_000_000u64;
    let ctx = FleetCtx { fleet: None, patient: true };
    c.bench_function("throttle/take_from_lease", |b| {
        b.iter(|| {
            now += 1;
            leases.take(0, black_box(&limit), now, ctx).is_ok()
        })
    });
    c.bench_function("throttle/lease_batch", |b| {
        b.iter(|| {
            now += 1;
            limit.lease(now, black_box(limit.batch))
        })
    });
}

criterion_group!(benches, throttle);
criterion_main!(benches);
