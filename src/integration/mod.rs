//! Step 7, integrations: what answers a routed request. [`mock`] answers from the table;
//! [`http_proxy`] forwards to an upstream through the outbound [`client`] (over the per-worker
//! keep-alive [`pool`]) and [`relay`]s the answer.

pub mod client;
pub mod http_proxy;
pub mod mock;
pub mod pool;
pub mod relay;

/// What an integration that calls out uses of its worker: the upstream pool, the counters of
/// upstream connections, and whether the worker is draining (responses then close; looked at
/// when the response starts, which may be long after the request did).
#[derive(Clone, Copy)]
pub struct Outbound<'a> {
    pub pool: &'a pool::Pool,
    pub counters: &'a crate::metrics::WorkerCounters,
    pub draining: &'a std::cell::Cell<bool>,
}
