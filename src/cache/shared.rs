//! The node's layer of the response cache, shared by every worker: what makes one cold key cost one
//! upstream fetch per node instead of one per worker, and a client's invalidation reach every
//! worker's copy ([decision 0007](../../docs/decisions/0007-cache-across-workers.md)).
//!
//! A worker still answers hits from its own store (no lock, no shared cache line). Only a miss in
//! it comes here, to one of [`SHARDS`] mutex-guarded shards by key hash, which holds:
//! - the node's copy of each entry (an S3-FIFO [`Store`] of `Arc`s, bounded by the stage's
//!   capacity), which a missing worker copies into its own store instead of fetching;
//! - which keys some worker is fetching right now, so others wait for it instead of fetching too.
//!
//! An invalidation (`Cache-Control: max-age=0`, allowed) drops the node's copy, marks the key as
//! being fetched by the refreshing request, and is written to a short log under a counter. Every
//! worker compares the counter with the one it saw (one relaxed load per lookup) and, when it
//! moved, drops the logged keys from its own store (all of the stage's, if the log overflowed).
//!
//! Must not: be touched on a worker's hit, or hold a lock across an await.

use std::collections::VecDeque;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};

use ahash::AHashMap;

use super::store::{Store, Stored};
use crate::table::StageCache;

/// Shards of a stage's node layer: a miss locks one, by key hash.
pub const SHARDS: usize = 16;
/// Invalidations remembered for workers that have not caught up; beyond it they flush the stage.
const LOG_MAX: usize = 4096;
/// A fetch older than this no longer makes others wait (its worker is stuck or gone).
const FILL_STALE_MS: u64 = 30_000;
/// How long a key whose response could not be stored is fetched without waiting on each other
/// (Varnish's hit-for-miss): an uncacheable hot key must not turn into one request at a time.
pub const PASS_MS: u64 = 10_000;
/// Keys remembered as uncacheable, per shard.
const PASSES_MAX: usize = 4096;

/// The node layers of every cached stage; looked up when a worker rebuilds its index (at start and
/// on reload), never per request.
#[derive(Default)]
pub struct SharedCache {
    stages: Mutex<Vec<Arc<SharedStage>>>,
}

impl SharedCache {
    /// The node layer of a stage: the same one for the same name and settings across reloads (its
    /// entries survive, like a worker's), a new one when the settings changed.
    pub fn stage(&self, api: &str, stage: &str, config: &StageCache) -> Arc<SharedStage> {
        let mut stages = lock(&self.stages);
        // Layers no worker uses any more (their stage went in a reload) are dropped here.
        stages.retain(|s| Arc::strong_count(s) > 1);
        if let Some(s) = stages.iter().find(|s| s.api == api && s.stage == stage && s.config == *config) {
            return s.clone();
        }
        let shard_bytes = (config.capacity_bytes as usize / SHARDS).max(1);
        let s = Arc::new(SharedStage {
            api: api.to_owned(),
            stage: stage.to_owned(),
            config: config.clone(),
            shards: (0..SHARDS)
                .map(|_| {
                    Mutex::new(Shard {
                        store: Store::new(shard_bytes),
                        filling: AHashMap::new(),
                        passes: AHashMap::new(),
                    })
                })
                .collect(),
            invalidations: AtomicU64::new(0),
            log: Mutex::new(VecDeque::new()),
            next_fill: AtomicU64::new(1),
        });
        stages.push(s.clone());
        s
    }

    /// An admin flush or purge of the node layer (each worker applies it to its own store).
    pub fn apply(&self, command: &super::command::Command) -> usize {
        let stages = lock(&self.stages);
        let path_hash = command.path.as_deref().map(|p| super::key::hash(p.as_bytes()));
        let mut removed = 0;
        for s in stages.iter().filter(|s| s.api == command.api && s.stage == command.stage) {
            for shard in s.shards.iter() {
                let mut shard = lock(shard);
                removed += match path_hash {
                    None => shard.store.flush(),
                    Some(h) => shard.store.purge_path(h),
                };
            }
        }
        removed
    }
}

pub struct SharedStage {
    pub api: String,
    pub stage: String,
    pub config: StageCache,
    shards: Box<[Mutex<Shard>]>,
    /// How many invalidations there have been; workers compare it with the count they saw.
    invalidations: AtomicU64,
    /// `(sequence number, key hash)` of the latest invalidations, oldest first.
    log: Mutex<VecDeque<(u64, u64)>>,
    next_fill: AtomicU64,
}

struct Shard {
    store: Store<Arc<Stored>>,
    /// Keys being fetched: the fetch's id and when it started.
    filling: AHashMap<u64, (u64, u64)>,
    /// Keys whose last response could not be stored, until when they are fetched freely.
    passes: AHashMap<u64, u64>,
}

/// What the node layer says about a key a worker does not have.
pub enum Look {
    /// The node has it: copy it.
    Entry(Arc<Stored>),
    /// Another request is fetching it: wait and look again.
    Wait,
    /// Fetch it; the ticket marks the key as being fetched until it is filled or dropped.
    Lead(Ticket),
    /// Its last response could not be stored: fetch it, without making anyone wait.
    Pass,
}

/// What a worker must drop from its own store to catch up with the node's invalidations.
pub enum Stale {
    Keys(Vec<u64>),
    /// Too many to list (the log overflowed): everything of the stage.
    All,
}

impl SharedStage {
    fn shard(&self, hash: u64) -> MutexGuard<'_, Shard> {
        lock(&self.shards[(hash as usize) % SHARDS])
    }

    /// The invalidation count a worker compares with (one relaxed load).
    pub fn invalidations(&self) -> u64 {
        self.invalidations.load(Ordering::Acquire)
    }

    /// The keys invalidated after the `seen`-th invalidation, and the count to remember.
    pub fn stale_since(&self, seen: u64) -> (u64, Stale) {
        let log = lock(&self.log);
        let now = self.invalidations.load(Ordering::Acquire);
        match log.front() {
            Some(&(oldest, _)) if oldest <= seen + 1 => {
                (now, Stale::Keys(log.iter().filter(|(seq, _)| *seq > seen).map(|&(_, h)| h).collect()))
            }
            _ if now == seen => (now, Stale::Keys(Vec::new())),
            _ => (now, Stale::All),
        }
    }

    /// Looks up a key a worker missed.
    pub fn look(self: &Arc<Self>, hash: u64, key: &[u8], now_ms: u64) -> Look {
        let mut shard = self.shard(hash);
        if let Some(entry) = shard.store.get(hash, key, now_ms) {
            return Look::Entry(entry);
        }
        if let Some(&(_, since)) = shard.filling.get(&hash)
            && now_ms.saturating_sub(since) < FILL_STALE_MS
        {
            return Look::Wait;
        }
        match shard.passes.get(&hash) {
            Some(&until) if now_ms < until => return Look::Pass,
            Some(_) => {
                shard.passes.remove(&hash);
            }
            None => {}
        }
        Look::Lead(self.lead(&mut shard, hash, now_ms))
    }

    /// A client refresh: the node's copy goes, every worker's copy goes (through the log), and the
    /// refreshing request fetches for everyone.
    pub fn invalidate(self: &Arc<Self>, hash: u64, now_ms: u64) -> Ticket {
        let ticket = {
            let mut shard = self.shard(hash);
            shard.store.remove(hash);
            self.lead(&mut shard, hash, now_ms)
        };
        let mut log = lock(&self.log);
        let seq = self.invalidations.load(Ordering::Relaxed) + 1;
        log.push_back((seq, hash));
        if log.len() > LOG_MAX {
            log.pop_front();
        }
        self.invalidations.store(seq, Ordering::Release);
        ticket
    }

    fn lead(self: &Arc<Self>, shard: &mut Shard, hash: u64, now_ms: u64) -> Ticket {
        let id = self.next_fill.fetch_add(1, Ordering::Relaxed);
        shard.filling.insert(hash, (id, now_ms));
        Ticket { stage: self.clone(), hash, id }
    }
}

/// A worker's fetch of a key for the node. Filling stores the response for every worker; dropping
/// it unfilled (the response was not storable, the fetch failed) lets the next request fetch.
pub struct Ticket {
    stage: Arc<SharedStage>,
    hash: u64,
    id: u64,
}

impl Ticket {
    /// The response could not be stored: the key is fetched freely until `until_ms`.
    pub fn pass(self, until_ms: u64) {
        let mut shard = self.stage.shard(self.hash);
        if shard.passes.len() >= PASSES_MAX {
            shard.passes.clear();
        }
        shard.passes.insert(self.hash, until_ms);
    }

    pub fn fill(self, stored: Stored) {
        let mut shard = self.stage.shard(self.hash);
        // A later invalidation may have taken the key over: then this response is already old.
        if shard.filling.get(&self.hash).is_some_and(|&(id, _)| id == self.id) {
            shard.filling.remove(&self.hash);
            shard.store.insert(self.hash, stored);
        }
    }
}

impl Drop for Ticket {
    fn drop(&mut self) {
        let mut shard = self.stage.shard(self.hash);
        if shard.filling.get(&self.hash).is_some_and(|&(id, _)| id == self.id) {
            shard.filling.remove(&self.hash);
        }
    }
}

/// A poisoned lock only means a panic elsewhere held it; the data is plain and still consistent
/// enough for a cache (the worst case is a lost entry).
fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config_of(capacity_bytes: u64) -> StageCache {
        StageCache {
            capacity_bytes,
            max_entry_bytes: 1 << 20,
            status_header: true,
            require_authorization: false,
            unauthorized: crate::table::Unauthorized::FailWith403,
            invalidate_api_keys: Vec::new(),
            invalidate_header: None,
            ttl_uncapped: false,
        }
    }

    fn config() -> StageCache {
        config_of(1 << 20)
    }

    fn stored(key: &[u8], body: &'static [u8]) -> Stored {
        Stored {
            key: key.into(),
            path_hash: 1,
            status: 200,
            headers: bytes::Bytes::new(),
            body: bytes::Bytes::from_static(body),
            sealed: false,
            stored_at_ms: 0,
            expires_at_ms: 1_000_000,
        }
    }

    #[test]
    fn one_fetch_per_key_and_the_rest_wait_then_copy() {
        let shared = SharedCache::default();
        let s = shared.stage("a", "prod", &config());
        let Look::Lead(ticket) = s.look(7, b"k", 10) else { panic!("the first miss fetches") };
        assert!(matches!(s.look(7, b"k", 11), Look::Wait), "the second waits");
        ticket.fill(stored(b"k", b"body"));
        let Look::Entry(e) = s.look(7, b"k", 12) else { panic!("then it is there") };
        assert_eq!(&e.body[..], b"body");
        assert!(matches!(s.look(7, b"other", 12), Look::Lead(_)), "a different key with the same hash is a miss");
    }

    #[test]
    fn a_dropped_or_stale_fetch_stops_the_waiting() {
        let s = SharedCache::default().stage("a", "prod", &config());
        let Look::Lead(ticket) = s.look(7, b"k", 10) else { panic!() };
        drop(ticket);
        let again = s.look(7, b"k", 11);
        assert!(matches!(again, Look::Lead(_)));
        assert!(matches!(s.look(7, b"k", 12), Look::Wait));
        assert!(matches!(s.look(7, b"k", 12 + FILL_STALE_MS), Look::Lead(_)), "a fetch stuck for 30 s is taken over");
    }

    #[test]
    fn an_uncacheable_key_is_fetched_without_waiting_for_a_while() {
        let s = SharedCache::default().stage("a", "prod", &config());
        let Look::Lead(t) = s.look(7, b"k", 10) else { panic!() };
        t.pass(10 + PASS_MS);
        let (a, b) = (s.look(7, b"k", 11), s.look(7, b"k", 12));
        assert!(matches!((a, b), (Look::Pass, Look::Pass)), "concurrent misses all fetch");
        assert!(matches!(s.look(7, b"k", 10 + PASS_MS), Look::Lead(_)), "then it is tried again");
    }

    #[test]
    fn invalidations_reach_workers_through_the_log() {
        let shared = SharedCache::default();
        let s = shared.stage("a", "prod", &config());
        let seen = s.invalidations();
        let Look::Lead(t) = s.look(7, b"k", 0) else { panic!() };
        t.fill(stored(b"k", b"old"));
        let refresh = s.invalidate(7, 1);
        assert!(matches!(s.look(7, b"k", 2), Look::Wait), "others wait for the refresh, not the old copy");
        assert_ne!(s.invalidations(), seen);
        let (now, stale) = s.stale_since(seen);
        assert!(matches!(stale, Stale::Keys(ref k) if k == &[7]));
        assert!(matches!(s.stale_since(now).1, Stale::Keys(ref k) if k.is_empty()));
        // A fill from before the refresh cannot overwrite it.
        refresh.fill(stored(b"k", b"new"));
        let Look::Entry(e) = s.look(7, b"k", 3) else { panic!() };
        assert_eq!(&e.body[..], b"new");
        for h in 0..(LOG_MAX as u64 + 10) {
            drop(s.invalidate(h, 4));
        }
        assert!(matches!(s.stale_since(now).1, Stale::All), "a worker that fell behind the log flushes");
    }

    #[test]
    fn stages_are_shared_by_name_and_settings_and_dropped_when_unused() {
        let shared = SharedCache::default();
        let a = shared.stage("a", "prod", &config());
        assert!(Arc::ptr_eq(&a, &shared.stage("a", "prod", &config())));
        let bigger = config_of(2 << 20);
        assert!(!Arc::ptr_eq(&a, &shared.stage("a", "prod", &bigger)));
        drop(a);
        shared.stage("b", "prod", &config());
        assert_eq!(lock(&shared.stages).len(), 1, "unused layers go");
    }
}
