use super::*;

fn stored(key: &str, body_len: usize, expires_at_ms: u64) -> Stored {
    Stored {
        key: key.as_bytes().into(),
        path_hash: 7,
        status: 200,
        headers: Bytes::from_static(b"Content-Type: text/plain\r\n"),
        body: Bytes::from(vec![b'x'; body_len]),
        sealed: false,
        stored_at_ms: 0,
        expires_at_ms,
    }
}

fn hash(key: &str) -> u64 {
    key.bytes().fold(14695981039346656037u64, |h, b| (h ^ u64::from(b)).wrapping_mul(1099511628211))
}

fn put(s: &mut Store, key: &str, body_len: usize) {
    assert_eq!(s.insert(hash(key), stored(key, body_len, u64::MAX)), Inserted::Stored);
}

#[test]
fn hits_until_expiry_and_checks_the_full_key() {
    let mut s: Store = Store::new(1 << 20);
    assert_eq!(s.insert(hash("a"), stored("a", 10, 1000)), Inserted::Stored);
    assert_eq!(s.get(hash("a"), b"a", 999).map(|e| e.body.len()), Some(10));
    assert!(s.get(hash("a"), b"other key, same hash", 10).is_none());
    assert!(s.get(hash("a"), b"a", 1000).is_none(), "expired at its deadline");
    assert!(s.is_empty(), "expired entries are dropped when looked up");
    assert_eq!(s.bytes(), 0);
}

#[test]
fn bytes_stay_within_capacity_and_oversize_is_refused() {
    let mut s: Store = Store::new(10_000);
    for i in 0..100 {
        put(&mut s, &format!("k{i}"), 500);
        assert!(s.bytes() <= 10_000, "{}", s.bytes());
    }
    assert!(s.len() < 100);
    assert_eq!(s.insert(hash("big"), stored("big", 20_000, u64::MAX)), Inserted::TooLarge);
}

#[test]
fn a_scan_does_not_evict_the_hot_set() {
    let mut s: Store = Store::new(100 * (100 + 1 + 26 + ENTRY_OVERHEAD_BYTES));
    let hot: Vec<String> = (0..50).map(|i| format!("hot{i}")).collect();
    for k in &hot {
        put(&mut s, k, 100);
    }
    for _ in 0..3 {
        for k in &hot {
            assert!(s.get(hash(k), k.as_bytes(), 0).is_some());
        }
    }
    // A scan of 1,000 keys, each seen once.
    for i in 0..1000 {
        put(&mut s, &format!("scan{i}"), 100);
        if i % 10 == 0 {
            for k in &hot {
                s.get(hash(k), k.as_bytes(), 0);
            }
        }
    }
    let survivors = hot.iter().filter(|k| s.get(hash(k), k.as_bytes(), 0).is_some()).count();
    assert!(survivors >= 45, "only {survivors} of 50 hot entries survived the scan");
}

#[test]
fn replace_flush_and_purge() {
    let mut s: Store = Store::new(1 << 20);
    put(&mut s, "a", 10);
    put(&mut s, "a", 20);
    assert_eq!(s.len(), 1);
    assert_eq!(s.get(hash("a"), b"a", 0).unwrap().body.len(), 20);
    put(&mut s, "b", 10);
    let mut other = stored("c", 10, u64::MAX);
    other.path_hash = 9;
    s.insert(hash("c"), other);
    assert_eq!(s.purge_path(7), 2);
    assert_eq!(s.len(), 1);
    assert_eq!(s.flush(), 1);
    assert!(s.is_empty());
}

#[test]
fn replacing_one_key_forever_keeps_the_queues_bounded() {
    let mut s: Store = Store::new(1 << 20);
    for _ in 0..100_000 {
        put(&mut s, "same", 10);
    }
    assert_eq!(s.len(), 1);
    assert!(s.small.len() + s.main.len() <= 2 + 1024 + 1);
    // Only stale slots in the queues and nothing live: eviction ends.
    s.remove(hash("same"));
    assert!(!s.evict_one());
}
