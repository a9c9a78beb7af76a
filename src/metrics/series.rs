//! Per-route series: the counters and histograms kept for each (API, stage, route), and the registry
//! that gives each label set a stable id across reloads.
//!
//! The registry lives on the control thread and is touched only when a table loads and when the
//! admin thread renders a scrape. A series id never changes meaning, so counters stay monotonic
//! across reloads; a route that disappears keeps its last values until restart. Each worker stores
//! its series in fixed chunks that are allocated by the control thread before the table that uses
//! them is published, so the hot path finds them with one acquire load and never allocates.

use std::sync::{Mutex, OnceLock};

use ahash::AHashMap;

use super::histogram::Histogram;

crate::counters! {
    /// The counters kept per route (AWS's Count, 4XXError, 5XXError, and bytes).
    pub struct RouteCounters {
        requests: Counter, "portico_requests_total", "Requests answered (AWS Count).";
        errors_4xx: Counter, "portico_requests_4xx_total", "Requests answered with a 4xx status (AWS 4XXError).";
        errors_5xx: Counter, "portico_requests_5xx_total", "Requests answered with a 5xx status (AWS 5XXError).";
        bytes_in: Counter, "portico_request_bytes_total", "Bytes received from clients (heads and bodies).";
        bytes_out: Counter, "portico_response_bytes_total", "Bytes sent to clients (heads and bodies).";
        throttled: Counter, "portico_requests_throttled_total", "Requests refused with 429 by a rate limit.";
        cache_hits: Counter, "portico_cache_hits_total", "Requests answered from the cache (AWS CacheHitCount).";
        cache_misses: Counter, "portico_cache_misses_total", "Cacheable requests fetched from the integration (AWS CacheMissCount).";
    }
}

crate::counters! {
    /// The counters kept per function (AWS Lambda's Invocations, Errors, Throttles).
    pub struct FunctionCounters {
        invocations: Counter, "portico_function_invocations_total", "Function invocations attempted (AWS Lambda Invocations).";
        errors: Counter, "portico_function_errors_total", "Invocations that failed: a function error, an answer that cannot be read, a timeout, a target that cannot be reached (AWS Lambda Errors).";
        throttled: Counter, "portico_function_throttles_total", "Invocations refused because the function's concurrency was used up past its queue time (AWS Lambda Throttles).";
        timeouts: Counter, "portico_function_timeouts_total", "Invocations that got no answer within the integration timeout.";
    }
}

/// Everything kept for one function on one worker.
#[derive(Default, Debug)]
#[repr(align(128))]
pub struct FunctionSeries {
    pub counters: FunctionCounters,
    /// Invocation sent to its answer read (AWS Lambda Duration, as the gateway sees it).
    pub duration: Histogram,
}

/// Everything kept for one series on one worker. Aligned so two series never share a cache line.
#[derive(Default, Debug)]
#[repr(align(128))]
pub struct RouteSeries {
    pub counters: RouteCounters,
    /// Head received to response written (AWS Latency).
    pub latency: Histogram,
    /// Request sent to upstream to its response head received (AWS IntegrationLatency).
    pub integration_latency: Histogram,
}

/// The labels of one series.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Labels {
    pub api: String,
    pub stage: String,
    pub route: String,
}

/// Series per chunk, and chunks per worker: at most 65,536 series for the life of the process.
const CHUNK: usize = 64;
const CHUNKS: usize = 1024;
pub const MAX_SERIES: usize = CHUNK * CHUNKS;
/// Requests that matched no API or stage, or were malformed before routing.
pub const UNMATCHED: u32 = 0;

/// One worker's series (per route by default; per function too).
pub struct SeriesStore<T = RouteSeries> {
    chunks: Box<[OnceLock<Box<[T]>>]>,
}

impl<T> Default for SeriesStore<T> {
    fn default() -> Self {
        Self { chunks: (0..CHUNKS).map(|_| OnceLock::new()).collect() }
    }
}

impl<T: Default> SeriesStore<T> {
    #[inline]
    pub fn get(&self, id: u32) -> Option<&T> {
        let id = id as usize;
        self.chunks.get(id / CHUNK)?.get().map(|chunk| &chunk[id % CHUNK])
    }

    pub(super) fn ensure_unmatched(&self) {
        self.ensure(UNMATCHED);
    }

    /// Makes sure the chunk holding `id` exists (control thread, before publishing a table).
    pub(super) fn ensure(&self, id: u32) {
        if let Some(slot) = self.chunks.get(id as usize / CHUNK) {
            slot.get_or_init(|| (0..CHUNK).map(|_| T::default()).collect());
        }
    }
}

/// Label sets by id (routes' [`Labels`], or function names). Grows only.
pub struct Registry<L = Labels> {
    inner: Mutex<RegistryInner<L>>,
}

struct RegistryInner<L> {
    labels: Vec<L>,
    ids: AHashMap<L, u32>,
}

impl Default for Registry {
    fn default() -> Self {
        Registry::starting_with(Labels { api: String::new(), stage: String::new(), route: String::new() })
    }
}

impl<L: Clone + Eq + std::hash::Hash> Registry<L> {
    /// A registry whose id 0 ([`UNMATCHED`]) is `first`.
    pub fn starting_with(first: L) -> Registry<L> {
        let mut ids = AHashMap::new();
        ids.insert(first.clone(), UNMATCHED);
        Registry { inner: Mutex::new(RegistryInner { labels: vec![first], ids }) }
    }

    /// The id of a label set, new or known (`ensure` makes its storage on every shard); past
    /// [`MAX_SERIES`] everything shares [`UNMATCHED`].
    pub fn id(&self, labels: L, ensure: impl Fn(u32)) -> u32 {
        let mut inner = self.inner.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(&id) = inner.ids.get(&labels) {
            return id;
        }
        if inner.labels.len() >= MAX_SERIES {
            return UNMATCHED;
        }
        let id = inner.labels.len() as u32;
        ensure(id);
        inner.ids.insert(labels.clone(), id);
        inner.labels.push(labels);
        id
    }

    pub fn labels(&self) -> Vec<L> {
        self.inner.lock().unwrap_or_else(|p| p.into_inner()).labels.clone()
    }
}
