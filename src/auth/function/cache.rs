//! Function authorizer answers kept for their TTL, keyed by the authorizer and every identity
//! value, in two layers ([decision 0011](../../../docs/decisions/0011-authorizer-cache.md)):
//!
//! - each worker's own map ([`Local`]), which answers a hit with no lock and no shared cache line;
//! - the node's map ([`Shared`], mutex-guarded shards by key), which a worker's miss looks in —
//!   an answer another worker got, or a call another worker is making for the same key, which it
//!   then waits for instead of calling too. One call per key per node, however many requests
//!   arrive together.
//!
//! A failed call is kept for a second, so the requests that waited for it get its error rather
//! than each calling again, one after another. Both maps are bounded; a full map drops what has
//! expired, then starts over.
//!
//! Pure of I/O: times are passed in (milliseconds on any monotonic clock). Must not: hold a lock
//! across an await (callers poll [`Shared::look`]).

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use super::policy::Answer;
use crate::error::GatewayError;

/// The key: a SHA-256 of the authorizer and its identity values.
pub type Key = [u8; 32];

const SHARDS: usize = 16;
/// How long a failure is replayed to the requests that waited for the call.
pub const FAILURE_MS: u64 = 1000;

/// Why a call gave no answer: the error to render and the reason for `auth_debug`.
#[derive(Debug, Clone)]
pub struct Failure {
    pub error: GatewayError,
    pub reason: String,
}

#[derive(Debug)]
enum Slot {
    Ready {
        answer: Arc<Answer>,
        expires_ms: u64,
    },
    /// A worker is calling; others wait until `stale_ms`, then call themselves.
    Pending {
        stale_ms: u64,
    },
    Failed {
        failure: Failure,
        until_ms: u64,
    },
}

/// What a worker does after looking in the node's map.
#[derive(Debug)]
pub enum Look {
    Hit(Arc<Answer>),
    /// The call failed moments ago: its error.
    Failed(Failure),
    /// Another worker is calling: look again shortly.
    Wait,
    /// Call; this worker now owns the key until it [`Shared::fill`]s it.
    Call,
}

#[derive(Debug)]
pub struct Shared {
    shards: Vec<Mutex<HashMap<Key, Slot>>>,
    per_shard: usize,
}

impl Shared {
    /// Room for about `capacity` answers.
    pub fn new(capacity: usize) -> Shared {
        Shared {
            shards: (0..SHARDS).map(|_| Mutex::new(HashMap::new())).collect(),
            per_shard: capacity.div_ceil(SHARDS).max(1),
        }
    }

    fn shard(&self, key: &Key) -> std::sync::MutexGuard<'_, HashMap<Key, Slot>> {
        let shard = &self.shards[key[0] as usize % SHARDS];
        // A poisoned shard only means a panic elsewhere mid-insert: the map is still usable.
        shard.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Looks `key` up at `now_ms`; `call_ms` bounds how long another worker's call is waited for.
    pub fn look(&self, key: &Key, now_ms: u64, call_ms: u64) -> Look {
        let mut map = self.shard(key);
        match map.get(key) {
            Some(Slot::Ready { answer, expires_ms }) if now_ms < *expires_ms => return Look::Hit(answer.clone()),
            Some(Slot::Pending { stale_ms }) if now_ms < *stale_ms => return Look::Wait,
            Some(Slot::Failed { failure, until_ms }) if now_ms < *until_ms => return Look::Failed(failure.clone()),
            _ => {}
        }
        if map.len() >= self.per_shard {
            map.retain(|_, slot| match slot {
                Slot::Ready { expires_ms, .. } => now_ms < *expires_ms,
                Slot::Pending { stale_ms } => now_ms < *stale_ms,
                Slot::Failed { until_ms, .. } => now_ms < *until_ms,
            });
            if map.len() >= self.per_shard {
                map.clear();
            }
        }
        map.insert(*key, Slot::Pending { stale_ms: now_ms + call_ms });
        Look::Call
    }

    /// The call for `key` ended: an answer kept for `ttl_ms` (0: not kept, only handed to those
    /// waiting), or a failure kept briefly.
    pub fn fill(&self, key: &Key, outcome: Result<Arc<Answer>, Failure>, ttl_ms: u64, now_ms: u64) {
        let mut map = self.shard(key);
        let slot = match outcome {
            Ok(answer) => Slot::Ready { answer, expires_ms: now_ms + ttl_ms.max(1) },
            Err(failure) => Slot::Failed { failure, until_ms: now_ms + FAILURE_MS },
        };
        map.insert(*key, slot);
    }

    pub fn len(&self) -> usize {
        self.shards.iter().map(|s| s.lock().map_or(0, |m| m.len())).sum()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// One worker's answers, each with its identity as the request context holds it (so a hit
/// clones an `Rc`, not the node's `Arc`, whose count every worker would share).
#[derive(Default)]
pub struct Local {
    map: std::cell::RefCell<HashMap<Key, LocalEntry>>,
    /// The table generation the answers belong to.
    table: std::cell::Cell<u64>,
}

/// Answers a worker keeps at most; when full it starts over.
pub const LOCAL_MAX: usize = 16 * 1024;

struct LocalEntry {
    answer: Arc<Answer>,
    identity: std::rc::Rc<crate::context::auth::FunctionIdentity>,
    expires_ms: u64,
}

impl Local {
    /// Calls `with` on a fresh answer for `key` (and its identity), if this worker has one.
    pub fn with<R>(
        &self,
        table: u64,
        key: &Key,
        now_ms: u64,
        with: impl FnOnce(&Arc<Answer>, &std::rc::Rc<crate::context::auth::FunctionIdentity>) -> R,
    ) -> Option<R> {
        if self.table.get() != table {
            self.map.borrow_mut().clear();
            self.table.set(table);
            return None;
        }
        let map = self.map.borrow();
        let entry = map.get(key).filter(|e| now_ms < e.expires_ms)?;
        Some(with(&entry.answer, &entry.identity))
    }

    pub fn get(&self, table: u64, key: &Key, now_ms: u64) -> Option<Arc<Answer>> {
        self.with(table, key, now_ms, |answer, _| answer.clone())
    }

    pub fn put(&self, key: Key, answer: Arc<Answer>, expires_ms: u64) {
        let mut map = self.map.borrow_mut();
        if map.len() >= LOCAL_MAX {
            map.clear();
        }
        let identity = std::rc::Rc::new(answer.identity.clone());
        map.insert(key, LocalEntry { answer, identity, expires_ms });
    }
}

#[cfg(test)]
mod tests {
    use super::super::policy::{Answer, Decision};
    use super::*;

    fn answer() -> Arc<Answer> {
        Arc::new(Answer { decision: Decision::Simple(true), identity: Default::default() })
    }

    #[test]
    fn one_call_per_key_and_the_others_wait_then_hit() {
        let shared = Shared::new(100);
        let key = [7; 32];
        assert!(matches!(shared.look(&key, 1000, 10_000), Look::Call));
        assert!(matches!(shared.look(&key, 1001, 10_000), Look::Wait));
        shared.fill(&key, Ok(answer()), 300_000, 1500);
        assert!(matches!(shared.look(&key, 2000, 10_000), Look::Hit(_)));
        // Expiry, by the clock given.
        assert!(matches!(shared.look(&key, 301_500, 10_000), Look::Call));
    }

    #[test]
    fn a_stuck_call_is_taken_over_and_failures_are_replayed_briefly() {
        let shared = Shared::new(100);
        let key = [1; 32];
        assert!(matches!(shared.look(&key, 0, 50), Look::Call));
        assert!(matches!(shared.look(&key, 49, 50), Look::Wait));
        assert!(matches!(shared.look(&key, 50, 50), Look::Call), "the first caller is stuck");
        let failure = Failure {
            error: GatewayError::new(crate::error::ResponseType::AuthorizerFailure, "x"),
            reason: "timed out".into(),
        };
        shared.fill(&key, Err(failure), 300_000, 100);
        assert!(matches!(shared.look(&key, 100 + FAILURE_MS - 1, 50), Look::Failed(f) if f.reason == "timed out"));
        assert!(matches!(shared.look(&key, 100 + FAILURE_MS, 50), Look::Call));
    }

    #[test]
    fn maps_stay_bounded() {
        let shared = Shared::new(32);
        for i in 0..10_000u32 {
            let mut key = [0; 32];
            key[..4].copy_from_slice(&i.to_le_bytes());
            let _ = shared.look(&key, 0, 1000);
        }
        assert!(shared.len() <= 32, "{}", shared.len());
        let local = Local::default();
        for i in 0..(LOCAL_MAX as u32 + 10) {
            let mut key = [0; 32];
            key[..4].copy_from_slice(&i.to_le_bytes());
            local.put(key, answer(), 10);
        }
        assert!(local.map.borrow().len() <= LOCAL_MAX);
        let key = [9; 32];
        local.put(key, answer(), 10);
        assert!(local.get(0, &key, 5).is_some());
        assert!(local.get(0, &key, 10).is_none(), "expired");
        local.put(key, answer(), 10);
        assert!(local.get(1, &key, 5).is_none(), "a new table starts empty");
    }
}
