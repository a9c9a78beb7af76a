//! One worker's cache for one stage: a byte-bounded map of stored responses with S3-FIFO eviction.
//!
//! S3-FIFO (Yang et al., SOSP 2023) resists scans: a new entry goes to a small FIFO (10% of the
//! bytes); when it reaches the head it moves to the main FIFO only if it was hit meanwhile, else it
//! is evicted and remembered in a ghost list, and an entry whose key is in the ghost list goes
//! straight to the main FIFO next time. A one-off scan therefore flushes only the small FIFO. The
//! main FIFO gives each hit entry one more lap (a 2-bit frequency). Expiry is lazy: an entry past
//! its TTL is dropped when looked up or when eviction reaches it — no timer per entry.
//!
//! Plain data: time is passed in, nothing here touches a clock, a socket or another thread.
//! Cost: a hit is one hash-map lookup, a key comparison and an `Rc` clone; no allocation. The
//! pointer to an entry is a parameter: `Rc` in a worker's store, `Arc` in the node's shared layer
//! ([`super::shared`]), which a mutex guards.

use std::collections::VecDeque;
use std::rc::Rc;

use ahash::{AHashMap, AHashSet};
use bytes::Bytes;

/// Bookkeeping bytes charged per entry on top of its key, headers and body.
const ENTRY_OVERHEAD_BYTES: usize = 160;

/// A stored response.
#[derive(Debug)]
pub struct Stored {
    /// The full cache key, compared on every hit (the map is keyed by its hash).
    pub key: Box<[u8]>,
    /// Hash of the request path alone, for purging a path whatever its key parameters.
    pub path_hash: u64,
    pub status: u16,
    /// End-to-end header lines as the client gets them (`Name: value\r\n`...), without framing,
    /// `Date`, request id or `Connection`.
    pub headers: Bytes,
    pub body: Bytes,
    /// `body` is sealed ([`super::seal`]).
    pub sealed: bool,
    pub stored_at_ms: u64,
    pub expires_at_ms: u64,
}

impl Stored {
    fn size(&self) -> usize {
        self.key.len() + self.headers.len() + self.body.len() + ENTRY_OVERHEAD_BYTES
    }

    /// A copy that shares no buffer with `self`: a worker's copy of a node-wide entry, so that its
    /// hits never touch a reference count another core writes.
    pub fn deep_copy(&self) -> Stored {
        Stored {
            key: self.key.clone(),
            path_hash: self.path_hash,
            status: self.status,
            headers: Bytes::copy_from_slice(&self.headers),
            body: Bytes::copy_from_slice(&self.body),
            sealed: self.sealed,
            stored_at_ms: self.stored_at_ms,
            expires_at_ms: self.expires_at_ms,
        }
    }
}

struct Entry<P> {
    stored: P,
    id: u64,
    freq: u8,
    in_main: bool,
}

pub struct Store<P = Rc<Stored>> {
    capacity_bytes: usize,
    map: AHashMap<u64, Entry<P>>,
    /// `(hash, id)`: an id that no longer matches the map's entry is a stale slot, skipped.
    small: VecDeque<(u64, u64)>,
    main: VecDeque<(u64, u64)>,
    ghost: VecDeque<u64>,
    ghost_set: AHashSet<u64>,
    small_bytes: usize,
    main_bytes: usize,
    next_id: u64,
}

/// What an insert did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Inserted {
    Stored,
    /// Larger than the whole store.
    TooLarge,
}

impl<P: std::ops::Deref<Target = Stored> + From<Stored> + Clone> Store<P> {
    pub fn new(capacity_bytes: usize) -> Store<P> {
        Store {
            capacity_bytes,
            map: AHashMap::new(),
            small: VecDeque::new(),
            main: VecDeque::new(),
            ghost: VecDeque::new(),
            ghost_set: AHashSet::new(),
            small_bytes: 0,
            main_bytes: 0,
            next_id: 0,
        }
    }

    /// The live entry for `key`, counting the hit. Expired entries are dropped here.
    pub fn get(&mut self, hash: u64, key: &[u8], now_ms: u64) -> Option<P> {
        let entry = self.map.get_mut(&hash)?;
        if &*entry.stored.key != key {
            return None;
        }
        if now_ms >= entry.stored.expires_at_ms {
            self.remove(hash);
            return None;
        }
        entry.freq = (entry.freq + 1).min(3);
        Some(entry.stored.clone())
    }

    pub fn insert(&mut self, hash: u64, stored: Stored) -> Inserted {
        let size = stored.size();
        if size > self.capacity_bytes {
            return Inserted::TooLarge;
        }
        self.remove(hash);
        while self.small_bytes + self.main_bytes + size > self.capacity_bytes && self.evict_one() {}
        let id = self.next_id;
        self.next_id += 1;
        let in_main = self.ghost_set.remove(&hash);
        if in_main {
            self.main.push_back((hash, id));
            self.main_bytes += size;
        } else {
            self.small.push_back((hash, id));
            self.small_bytes += size;
        }
        self.map.insert(hash, Entry { stored: P::from(stored), id, freq: 0, in_main });
        self.compact_if_stale();
        Inserted::Stored
    }

    /// Drops one entry; its queue slot goes stale and is skipped when reached.
    pub fn remove(&mut self, hash: u64) -> bool {
        let Some(entry) = self.map.remove(&hash) else { return false };
        let size = entry.stored.size();
        if entry.in_main {
            self.main_bytes -= size;
        } else {
            self.small_bytes -= size;
        }
        true
    }

    /// Drops everything; returns how many entries there were.
    pub fn flush(&mut self) -> usize {
        let n = self.map.len();
        *self = Store::new(self.capacity_bytes);
        n
    }

    /// Drops every entry stored for a request path (whatever its other key parameters).
    pub fn purge_path(&mut self, path_hash: u64) -> usize {
        let hashes: Vec<u64> =
            self.map.iter().filter(|(_, e)| e.stored.path_hash == path_hash).map(|(h, _)| *h).collect();
        for h in &hashes {
            self.remove(*h);
        }
        hashes.len()
    }

    pub fn len(&self) -> usize {
        self.map.len()
    }

    pub fn is_empty(&self) -> bool {
        self.map.is_empty()
    }

    pub fn bytes(&self) -> usize {
        self.small_bytes + self.main_bytes
    }

    /// Evicts one entry (S3-FIFO); false when there is nothing left to evict.
    fn evict_one(&mut self) -> bool {
        loop {
            if self.small.is_empty() && self.main.is_empty() {
                return false;
            }
            let prefer_small = self.small_bytes > self.capacity_bytes / 10 || self.main_bytes == 0;
            let from_small = if prefer_small { !self.small.is_empty() } else { self.main.is_empty() };
            let queue = if from_small { &mut self.small } else { &mut self.main };
            let Some((hash, id)) = queue.pop_front() else { continue };
            let Some(entry) = self.map.get_mut(&hash).filter(|e| e.id == id) else { continue };
            let size = entry.stored.size();
            if from_small {
                self.small_bytes -= size;
                if entry.freq > 0 {
                    // Hit while on probation: promote.
                    entry.freq = 0;
                    entry.in_main = true;
                    self.main.push_back((hash, id));
                    self.main_bytes += size;
                    continue;
                }
                self.map.remove(&hash);
                self.remember(hash);
                return true;
            }
            if entry.freq > 0 {
                entry.freq -= 1;
                self.main.push_back((hash, id));
                continue;
            }
            self.main_bytes -= size;
            self.map.remove(&hash);
            return true;
        }
    }

    /// Replacing and removing leave stale queue slots that only eviction would clear; a store that
    /// never fills would grow them without bound, so drop them once they outnumber live entries.
    fn compact_if_stale(&mut self) {
        if self.small.len() + self.main.len() > 2 * self.map.len() + 1024 {
            let map = &self.map;
            let live = |&(h, id): &(u64, u64)| map.get(&h).is_some_and(|e| e.id == id);
            self.small.retain(live);
            self.main.retain(live);
        }
    }

    fn remember(&mut self, hash: u64) {
        if self.ghost_set.insert(hash) {
            self.ghost.push_back(hash);
        }
        let limit = self.map.len().max(1024);
        while self.ghost.len() > limit {
            if let Some(old) = self.ghost.pop_front() {
                self.ghost_set.remove(&old);
            }
        }
    }
}

#[cfg(test)]
#[path = "store_tests.rs"]
mod tests;
