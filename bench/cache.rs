//! The cache store: a hit (lookup with full key comparison), a miss, and an insert that evicts,
//! in a store of 10,000 entries.

use criterion::{Criterion, black_box, criterion_group, criterion_main};
use portico::cache::key;
use portico::cache::store::{Store, Stored};

fn entry(k: &[u8], body: &bytes::Bytes) -> Stored {
    Stored {
        key: k.into(),
        path_hash: 1,
        status: 200,
        headers: bytes::Bytes::from_static(b"Content-Type: application/json\r\n"),
        body: body.clone(),
        sealed: false,
        stored_at_ms: 0,
        expires_at_ms: u64::MAX,
    }
}

fn store(c: &mut Criterion) {
    let body = bytes::Bytes::from(vec![b'x'; 512]);
    let keys: Vec<Vec<u8>> = (0..10_000).map(|i| format!("GET\0/pets/{i}\0type=dog&").into_bytes()).collect();
    // Room for about 10,000 entries: the insert bench evicts as it goes.
    let mut s: Store = Store::new(10_000 * (512 + 64 + 32 + 160));
    for k in &keys {
        s.insert(key::hash(k), entry(k, &body));
    }
    let hot = &keys[4321];
    let hot_hash = key::hash(hot);
    c.bench_function("cache_store/hit", |b| b.iter(|| s.get(black_box(hot_hash), black_box(hot), 1).is_some()));
    let missing = b"GET\0/nope\0".to_vec();
    let missing_hash = key::hash(&missing);
    c.bench_function("cache_store/miss", |b| b.iter(|| s.get(black_box(missing_hash), black_box(&missing), 1)));
    let mut i = 0u64;
    c.bench_function("cache_store/insert_evicting", |b| {
        b.iter(|| {
            i += 1;
            let k = format!("GET\0/new/{i}\0").into_bytes();
            s.insert(key::hash(&k), entry(&k, &body))
        })
    });
    c.bench_function("cache_key/hash", |b| b.iter(|| key::hash(black_box(hot))));
}

/// The two ways to make a key cost one fetch per node (decision 0007): a worker's own store (a
/// `RefCell`, `Rc` entries) checked after one atomic load of the node's invalidation count, as
/// Portico does; or one store shared by every worker behind a mutex (what owning shards by key
/// hash, or a shared cache, costs per hit), alone and with another core hitting the same key.
fn hit_paths(c: &mut Criterion) {
    use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
    use std::sync::{Arc, Mutex};
    let body = bytes::Bytes::from(vec![b'x'; 512]);
    let k = b"GET\0/pets/7\0".to_vec();
    let h = key::hash(&k);
    let own: std::cell::RefCell<Store> = std::cell::RefCell::new(Store::new(1 << 20));
    own.borrow_mut().insert(h, entry(&k, &body));
    let invalidations = AtomicU64::new(0);
    c.bench_function("cache_hit/own_store_and_invalidation_check", |b| {
        b.iter(|| {
            black_box(invalidations.load(Ordering::Acquire));
            let e = own.borrow_mut().get(black_box(h), black_box(&k), 1);
            e.map(|e| e.body.clone())
        })
    });
    let shared: Arc<Mutex<Store<Arc<Stored>>>> = Arc::new(Mutex::new(Store::new(1 << 20)));
    shared.lock().unwrap().insert(h, entry(&k, &body));
    let hit = |s: &Mutex<Store<Arc<Stored>>>| s.lock().unwrap().get(h, &k, 1).map(|e| e.body.clone());
    c.bench_function("cache_hit/shared_mutex_store", |b| b.iter(|| hit(black_box(&shared))));
    let stop = Arc::new(AtomicBool::new(false));
    let other = {
        let (shared, stop, k) = (shared.clone(), stop.clone(), k.clone());
        std::thread::spawn(move || {
            while !stop.load(Ordering::Relaxed) {
                black_box(shared.lock().unwrap().get(h, &k, 1).map(|e| e.body.clone()));
            }
        })
    };
    c.bench_function("cache_hit/shared_mutex_store_contended", |b| b.iter(|| hit(black_box(&shared))));
    stop.store(true, Ordering::Relaxed);
    let _ = other.join();
}

criterion_group!(benches, store, hit_paths);
criterion_main!(benches);
