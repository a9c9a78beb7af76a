//! Step 6, cache: what a routed request does with its stage's cache.
//!
//! ```text
//! stage caches? route caches this method (and the request has no body)? ──no──▶ Off (or Bypass)
//!      │ yes
//! Cache-Control: max-age=0? ──authorised──▶ Refresh: fetch and replace (`fwd=request`)
//!      │                    └─not──▶ FAIL_WITH_403: Refused │ SUCCEED_*: go on (warning header?)
//! entry fresh? ──yes──▶ Hit
//!      │ no
//! same key being fetched on this worker? ──yes──▶ wait for it, then Hit (`collapsed`)
//!      │ no (or it stored nothing)
//! node layer has it? ──yes──▶ copy into this worker's store, Hit
//! another worker fetching it? ──yes──▶ wait (looking again every ms), then Hit (`collapsed`)
//!      │ no
//! Miss: fetch, store here and in the node layer if the response qualifies, wake the waiters
//! ```
//!
//! An authorised refresh invalidates the key node-wide ([`super::shared`]) before it fetches, so
//! every worker's next request for it waits for the refreshed response.
//!
//! Who may invalidate is decided by [`may_invalidate`]: today a configured `x-api-key` value or a
//! header secret; an authorizer's verdict plugs in there when authorizers land.

use std::rc::Rc;
use std::time::Duration;

use bytes::Bytes;

use super::shared::{Look, Ticket};
use super::store::{Inserted, Stored};
use super::{StageStore, WorkerCache, capture::Capture, key};
use crate::event::LocalEvent;
use crate::http::head::RequestHead;
use crate::table::{RouteCache, RouteMethod, StageCache, Unauthorized};

/// Longest a miss waits for another request fetching the same key before fetching itself.
const COLLAPSE_WAIT: Duration = Duration::from_secs(30);
/// How often a miss waiting for another worker's fetch looks at the node layer again.
const NODE_POLL: Duration = Duration::from_millis(1);

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
    /// Set when this request is the one fetching for its key on this worker (others wait on it).
    _leader: Option<Leader<'a>>,
    /// Set when it fetches for the node (the key is marked in the node layer until filled).
    ticket: Option<Ticket>,
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

    /// Stores what was captured, if it qualified and arrived whole (here, and for the node when
    /// this request fetched for it); then wakes the waiters.
    pub fn finish(mut self, capture: Capture<'_>) -> bool {
        if !(capture.storing && capture.complete) {
            // A whole response the cache must not keep: others fetch it freely for a while.
            if let (Some(ticket), true) = (self.ticket.take(), capture.complete) {
                ticket.pass(super::now_ms() + super::shared::PASS_MS);
            }
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
        if let Some(ticket) = self.ticket.take() {
            ticket.fill(stored.deep_copy());
        }
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
    // Invalidations made on other workers reach this worker's copies first.
    store.catch_up();
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
            let ticket = Some(store.shared.invalidate(hash, super::now_ms()));
            store.store.borrow_mut().remove(hash);
            let key = l.cache.key_buf.borrow().clone().into_boxed_slice();
            let fwd = "request";
            return Decision::Fill(Fill { store, route, key, hash, path_hash, fwd, warning, _leader: None, ticket });
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
    // A miss: the key is copied, since the worker's key buffer is reused while this request waits.
    let key = l.cache.key_buf.borrow().clone().into_boxed_slice();
    let mut collapsed = false;
    let waiting_on = l.cache.inflight.borrow().get(&hash).cloned();
    if let Some(event) = waiting_on {
        let _ = monoio::time::timeout(COLLAPSE_WAIT, event.wait()).await;
        collapsed = true;
        let found = store.store.borrow_mut().get(hash, &key, super::now_ms());
        if let Some((entry, body)) = found.and_then(|e| readable(&store, hash, e)) {
            return Decision::Hit { entry, body, status_header, collapsed, warning };
        }
    }
    // The node layer: another worker's copy, or its fetch to wait for, or this request fetches.
    let deadline = std::time::Instant::now() + COLLAPSE_WAIT;
    let (ticket, coalesce) = loop {
        match store.shared.look(hash, &key, super::now_ms()) {
            Look::Entry(node_copy) => {
                store.store.borrow_mut().insert(hash, node_copy.deep_copy());
                let found = store.store.borrow_mut().get(hash, &key, super::now_ms());
                if let Some((entry, body)) = found.and_then(|e| readable(&store, hash, e)) {
                    return Decision::Hit { entry, body, status_header, collapsed, warning };
                }
                // Too large for this worker's share of the capacity: fetch without the node.
                break (None, true);
            }
            Look::Wait if std::time::Instant::now() < deadline => {
                collapsed = true;
                monoio::time::sleep(NODE_POLL).await;
            }
            Look::Wait => break (None, true),
            Look::Lead(ticket) => break (Some(ticket), true),
            // Uncacheable lately: every miss fetches, none waits for another.
            Look::Pass => break (None, false),
        }
    };
    // Misses on this worker that arrive while this one fetches wait for it.
    let _leader = if !coalesce || l.cache.inflight.borrow().contains_key(&hash) {
        None
    } else {
        let event = Rc::new(LocalEvent::default());
        l.cache.inflight.borrow_mut().insert(hash, event.clone());
        Some(Leader { cache: l.cache, hash, event })
    };
    Decision::Fill(Fill { store, route, key, hash, path_hash, fwd: "miss", warning, _leader, ticket })
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
    let key_ok = head.only(b"x-api-key").is_some_and(|given| {
        config.invalidate_api_keys.iter().any(|k| crate::auth::constant_time_eq(k.as_bytes(), given))
    });
    let secret_ok = config.invalidate_header.as_ref().is_some_and(|(name, secret)| {
        head.first(name.as_bytes()).is_some_and(|v| crate::auth::constant_time_eq(secret.as_bytes(), v))
    });
    key_ok | secret_ok
}
