//! A JWT authorizer's keys, shared by every worker: the last key set fetched, swapped in whole
//! (workers load it without a lock), and the keeper thread that fetches it — at start, every
//! `refresh_s`, and when a worker meets a `kid` it does not know (such fetches at most once per
//! [`MIN_DEMAND_GAP_MS`], so tokens with made-up `kid`s cannot make the gateway hammer the
//! issuer). The keys come from `jwks_uri`, or from OIDC discovery of the issuer, within AWS's
//! limits (1.5 s per fetch, 150 000 bytes). A fetch that fails keeps the keys there were.
//!
//! Must not: block a worker (fetches run on the keeper thread, [`crate::outbound::fetch`]).
//! Cost on the request path: one atomic load of the set; a worker that must wait for a fetch
//! polls a counter every millisecond.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, OnceLock, Weak};
use std::time::Duration;

use arc_swap::ArcSwap;

use super::keys::{self, Alg, Key};
use crate::outbound::fetch::{self, Url};
use crate::table::auth::JwksSource;

/// AWS's JWKS and discovery fetch timeout.
pub const FETCH_TIMEOUT_MS: u64 = 1500;
/// AWS's largest JWKS response.
pub const MAX_JWKS_BYTES: u64 = 150_000;
/// Fetches a worker may ask for (an unknown `kid`) are at least this far apart.
pub const MIN_DEMAND_GAP_MS: u64 = 10_000;

/// The keys as last fetched.
#[derive(Debug, Default)]
pub struct KeySet {
    pub keys: Vec<Key>,
    /// Bumped when the fetched document changes: verdicts made with another generation are
    /// checked again.
    pub generation: u64,
    /// Why the last fetch failed (kept until one succeeds).
    pub error: Option<String>,
    /// A set was fetched at least once.
    pub loaded: bool,
}

pub struct Keyring {
    source: JwksSource,
    allowed: Vec<Alg>,
    refresh: Duration,
    limits: fetch::Limits,
    set: ArcSwap<KeySet>,
    /// Fetches finished, successful or not.
    attempts: AtomicU64,
    /// When a worker last asked for a fetch (ms since the keyring was made, plus 1; 0: never).
    last_demand_ms: AtomicU64,
    wanted: AtomicBool,
    born: std::time::Instant,
    keeper: OnceLock<std::thread::Thread>,
    /// The document last fetched, by hash: an unchanged one keeps the generation.
    last_hash: AtomicU64,
}

impl std::fmt::Debug for Keyring {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Keyring({:?})", self.source)
    }
}

impl Keyring {
    pub fn new(source: JwksSource, allowed: Vec<Alg>, refresh: Duration, limits: fetch::Limits) -> Keyring {
        Keyring {
            source,
            allowed,
            refresh,
            limits,
            set: ArcSwap::from_pointee(KeySet::default()),
            attempts: AtomicU64::new(0),
            last_demand_ms: AtomicU64::new(0),
            wanted: AtomicBool::new(false),
            born: std::time::Instant::now(),
            keeper: OnceLock::new(),
            last_hash: AtomicU64::new(0),
        }
    }

    /// The same keys, fetched the same way: a reload keeps the keyring (and its keys).
    pub fn same_as(&self, other: &Keyring) -> bool {
        self.source == other.source && self.allowed == other.allowed && self.refresh == other.refresh
    }

    pub fn keys(&self) -> arc_swap::Guard<Arc<KeySet>> {
        self.set.load()
    }

    pub fn attempts(&self) -> u64 {
        self.attempts.load(Ordering::Acquire)
    }

    fn now_ms(&self) -> u64 {
        self.born.elapsed().as_millis() as u64
    }

    /// Asks the keeper for a fetch now (a worker met an unknown `kid`). `false` when one started
    /// too recently: the worker answers with what it has.
    pub fn demand(&self) -> bool {
        let now = self.now_ms() + 1;
        let last = self.last_demand_ms.load(Ordering::Relaxed);
        if last != 0 && now < last + MIN_DEMAND_GAP_MS {
            return false;
        }
        // One worker wins the slot; the others wait for its fetch.
        if self.last_demand_ms.compare_exchange(last, now, Ordering::AcqRel, Ordering::Relaxed).is_err() {
            return true;
        }
        if !self.wanted.swap(true, Ordering::AcqRel)
            && let Some(t) = self.keeper.get()
        {
            t.unpark();
        }
        true
    }

    /// Starts the keeper thread (once; a keyring adopted by a reload already has one). It ends
    /// when the last table holding the keyring is gone.
    pub fn start(self: &Arc<Self>, name: &str) {
        if self.keeper.get().is_some() {
            return;
        }
        let weak = Arc::downgrade(self);
        let spawned = std::thread::Builder::new().name(format!("jwks-{name}")).spawn(move || keep(weak));
        match spawned {
            Ok(handle) => {
                let _ = self.keeper.set(handle.thread().clone());
            }
            Err(e) => log::error!("JWT authorizer {name}: cannot start its key fetcher: {e}"),
        }
    }

    /// One fetch: discovery if configured, then the key set.
    fn fetch(&self) -> Result<(Vec<Key>, u64), String> {
        let jwks_url = match &self.source {
            JwksSource::Uri(u) => Url::parse(u).ok_or_else(|| format!("`{u}` is not a URL"))?,
            JwksSource::Discovery(issuer) => {
                let at = format!("{}/.well-known/openid-configuration", issuer.trim_end_matches('/'));
                let url = Url::parse(&at).ok_or_else(|| format!("`{at}` is not a URL"))?;
                let doc = fetch::get(&url, &self.limits).map_err(|e| format!("OIDC discovery at {at}: {e}"))?;
                let value: serde_json::Value =
                    serde_json::from_slice(&doc).map_err(|_| format!("OIDC discovery at {at}: not JSON"))?;
                let uri = value
                    .get("jwks_uri")
                    .and_then(serde_json::Value::as_str)
                    .ok_or_else(|| format!("OIDC discovery at {at}: no jwks_uri"))?;
                Url::parse(uri).ok_or_else(|| format!("OIDC discovery at {at}: jwks_uri `{uri}` is not a URL"))?
            }
        };
        let body = fetch::get(&jwks_url, &self.limits)
            .map_err(|e| format!("JWKS at {}{}: {e}", jwks_url.host, jwks_url.path))?;
        let (keys, skipped) = keys::parse_set(&body, &self.allowed)?;
        if keys.is_empty() {
            return Err(format!("the JWKS has no usable key ({skipped} skipped)"));
        }
        Ok((keys, ahash::RandomState::with_seeds(1, 2, 3, 4).hash_one(&body)))
    }
}

impl Drop for Keyring {
    fn drop(&mut self) {
        if let Some(t) = self.keeper.get() {
            t.unpark();
        }
    }
}

fn keep(weak: Weak<Keyring>) {
    let mut failures = 0u32;
    loop {
        let Some(ring) = weak.upgrade() else { return };
        ring.wanted.store(false, Ordering::Release);
        let old = ring.set.load_full();
        let next = match ring.fetch() {
            Ok((keys, hash)) => {
                failures = 0;
                let changed = !old.loaded || ring.last_hash.swap(hash, Ordering::Relaxed) != hash;
                let generation = if changed { old.generation + 1 } else { old.generation };
                if changed {
                    log::info!("JWT keys from {:?}: {} keys, generation {generation}", ring.source, keys.len());
                }
                KeySet { keys, generation, error: None, loaded: true }
            }
            Err(error) => {
                failures += 1;
                log::warn!("JWT keys from {:?} not fetched: {error}", ring.source);
                // The keys there were stay in use.
                KeySet { keys: old.keys.clone(), generation: old.generation, error: Some(error), loaded: old.loaded }
            }
        };
        ring.set.store(Arc::new(next));
        ring.attempts.fetch_add(1, Ordering::AcqRel);
        // Without keys, try again soon (1 s, doubling to the refresh interval).
        let wait = match ring.set.load().loaded && failures == 0 {
            true => ring.refresh,
            false => Duration::from_secs(1 << failures.min(5)).min(ring.refresh),
        };
        drop(ring);
        std::thread::park_timeout(wait);
    }
}
