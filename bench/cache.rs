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
    let mut s = Store::new(10_000 * (512 + 64 + 32 + 160));
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

criterion_group!(benches, store);
criterion_main!(benches);
