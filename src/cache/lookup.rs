//! The cache step: what a routed request does with its stage's cache.
//!
//! ```text
//! stage caches? route caches this method (and the request has no body)? ──no──▶ Off (or Bypass)
//!      │ yes
//! Cache-Control: max-age=0? ──authorised──▶ Refresh: fetch and replace (`fwd=request`)
//!      │                    └─not──▶ FAIL_WITH_403: Refused │ SUCCEED_*: go on (warning header?)
//! entry fresh? ──yes──▶ Hit
//!      │ no
//! same key being fetched on this worker? ──yes──▶ wait for it, then Hit (`collapsed`) or fetch
//!      │ no
//! Miss: fetch, store if the response qualifies, wake the waiters
//! ```
//!
//! Who may invalidate is decided by [`may_invalidate`]: today a configured `x-api-key` value or a
//! header secret; an authorizer's verdict plugs in there when authorizers land.

use std::rc::Rc;
use std::time::Duration;

use bytes::Bytes;

use super::store::{Inserted, Stored};
use super::{StageStore, WorkerCache, capture::Capture, key};
use crate::http::head::RequestHead;
use crate::runtime::event::LocalEvent;
use crate::table::{RouteCache, RouteMethod, StageCache, Unauthorized};

/// Longest a miss waits for another request fetching the same key before fetching itself.
const COLLAPSE_WAIT: Duration = Duration::from_secs(30);

pub enum Decision<'a> {
    /// The stage does not cache.
    Off,
    /// The stage caches, this request is not cached (method or route not cacheable).
    Bypass { status_header: bool },
    /// `body` is the entry's body, opened if it was sealed.
    Hit { entry: Rc<Stored>, body: Bytes, status_header: bool, collapsed: bool, warning: bool },
    /// Fetch, and store the answer if it qualifies.
    Fill(Fill<'a>),
    /// An unauthorised invalidation under FAIL_WITH_403.
    Refused,
}

pub struct Fill<'a> {
    store: Rc<StageStore>,
    route: &'a RouteCache,
    key: Box<[u8]>,
    hash: u64,
    path_hash: u64,
    /// `request` for a client refresh, `miss` otherwise.
    pub fwd: &'static str,
    pub warning: bool,
    /// Set when this request is the one fetching for its key (others wait on it).
    _leader: Option<Leader<'a>>,
}

struct Leader<'a> {
    cache: &'a WorkerCache,
    hash: u64,
    event: Rc<LocalEvent>,
}

impl Drop for Leader<'_> {
    fn drop(&mut self) {
        self.cache.inflight.borrow_mut().remove(&self.hash);
        self.event.notify();
    }
}

impl<'a> Fill<'a> {
    pub fn capture(&self) -> Capture<'a> {
        Capture::new(Some(self.route), self.fwd, self.store.config.status_header, self.warning)
    }

    /// Stores what was captured, if it qualified and arrived whole; then wakes the waiters.
    pub fn finish(self, capture: Capture<'_>) -> bool {
        if !(capture.storing && capture.complete) {
            return false;
        }
        let now = super::now_ms();
        let body = if self.route.encrypt {
            match super::seal::seal(&capture.body) {
                Some(sealed) => sealed,
                None => return false,
            }
        } else {
            capture.body.freeze()
        };
        let stored = Stored {
            key: self.key,
            path_hash: self.path_hash,
            status: capture.status,
            headers: capture.headers.into(),
            body,
            sealed: self.route.encrypt,
            stored_at_ms: now,
            expires_at_ms: now + self.route.ttl_ms,
        };
        self.store.store.borrow_mut().insert(self.hash, stored) == Inserted::Stored
    }
}

pub struct Lookup<'a> {
    pub cache: &'a WorkerCache,
    pub store: Option<Rc<StageStore>>,
    pub route: Option<&'a RouteCache>,
    pub head: &'a RequestHead,
    pub routed_path: &'a [u8],
}

pub async fn decide(l: Lookup<'_>) -> Decision<'_> {
    let Some(store) = l.store else { return Decision::Off };
    let config = &store.config;
    // A request with a body is never answered from, or stored in, the cache: the body is not part
    // of the key, so its answer could belong to another body.
    let has_body = l.head.framing != crate::http::head::Framing::None;
    let method_ok = |route: &RouteCache| !has_body && route.methods.iter().any(|m| method_matches(*m, l.head));
    let Some(route) = l.route.filter(|r| method_ok(r)) else {
        return Decision::Bypass { status_header: config.status_header };
    };
    let (hash, path_hash) = key::build(&mut l.cache.key_buf.borrow_mut(), l.head, l.routed_path, route);
    let mut warning = false;
    if wants_refresh(l.head) {
        if may_invalidate(config, l.head) {
            let key = l.cache.key_buf.borrow().clone().into_boxed_slice();
            return Decision::Fill(Fill { store, route, key, hash, path_hash, fwd: "request", warning, _leader: None });
        }
        match config.unauthorized {
            Unauthorized::FailWith403 => return Decision::Refused,
            Unauthorized::SucceedWithResponseHeader => warning = true,
            Unauthorized::SucceedWithoutResponseHeader => {}
        }
    }
    let status_header = config.status_header;
    let now = super::now_ms();
    let found = store.store.borrow_mut().get(hash, &l.cache.key_buf.borrow(), now);
    if let Some((entry, body)) = found.and_then(|e| readable(&store, hash, e)) {
        return Decision::Hit { entry, body, status_header, collapsed: false, warning };
    }
    let waiting_on = l.cache.inflight.borrow().get(&hash).cloned();
    if let Some(event) = waiting_on {
        let _ = monoio::time::timeout(COLLAPSE_WAIT, event.wait()).await;
        // The key buffer may have been reused meanwhile: rebuild before looking again.
        key::build(&mut l.cache.key_buf.borrow_mut(), l.head, l.routed_path, route);
        let found = store.store.borrow_mut().get(hash, &l.cache.key_buf.borrow(), super::now_ms());
        if let Some((entry, body)) = found.and_then(|e| readable(&store, hash, e)) {
            return Decision::Hit { entry, body, status_header, collapsed: true, warning };
        }
        let key = l.cache.key_buf.borrow().clone().into_boxed_slice();
        return Decision::Fill(Fill { store, route, key, hash, path_hash, fwd: "miss", warning, _leader: None });
    }
    let event = Rc::new(LocalEvent::default());
    l.cache.inflight.borrow_mut().insert(hash, event.clone());
    let _leader = Some(Leader { cache: l.cache, hash, event });
    let key = l.cache.key_buf.borrow().clone().into_boxed_slice();
    Decision::Fill(Fill { store, route, key, hash, path_hash, fwd: "miss", warning, _leader })
}

/// The entry with its body opened; an entry that does not open (cannot happen with our own key) is
/// dropped and the request fetches as on a miss.
fn readable(store: &StageStore, hash: u64, entry: Rc<Stored>) -> Option<(Rc<Stored>, Bytes)> {
    if !entry.sealed {
        let body = entry.body.clone();
        return Some((entry, body));
    }
    match super::seal::open(&entry.body) {
        Some(body) => Some((entry, body)),
        None => {
            store.store.borrow_mut().remove(hash);
            None
        }
    }
}

fn method_matches(m: RouteMethod, head: &RequestHead) -> bool {
    use crate::http::Method;
    matches!(
        (m, head.method),
        (RouteMethod::Get, Method::Get)
            | (RouteMethod::Head, Method::Head)
            | (RouteMethod::Post, Method::Post)
            | (RouteMethod::Put, Method::Put)
            | (RouteMethod::Delete, Method::Delete)
            | (RouteMethod::Options, Method::Options)
            | (RouteMethod::Patch, Method::Patch)
    )
}

/// `Cache-Control: max-age=0` (AWS's invalidation request).
fn wants_refresh(head: &RequestHead) -> bool {
    head.values(b"cache-control").flat_map(|v| v.split(|&b| b == b',')).any(|directive| {
        let d = crate::http::trim(directive);
        d.eq_ignore_ascii_case(b"max-age=0")
    })
}

/// Whether the client may invalidate: anyone when authorisation is not required; otherwise a
/// configured API key in `x-api-key` or the configured header secret.
pub fn may_invalidate(config: &StageCache, head: &RequestHead) -> bool {
    if !config.require_authorization {
        return true;
    }
    // Exactly one x-api-key: two are ambiguous credentials.
    let key_ok = head.values(b"x-api-key").count() == 1
        && head.first(b"x-api-key").is_some_and(|given| {
            config.invalidate_api_keys.iter().any(|k| crate::auth::constant_time_eq(k.as_bytes(), given))
        });
    let secret_ok = config.invalidate_header.as_ref().is_some_and(|(name, secret)| {
        head.first(name.as_bytes()).is_some_and(|v| crate::auth::constant_time_eq(secret.as_bytes(), v))
    });
    key_ok | secret_ok
}
