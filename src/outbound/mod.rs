//! Calling out: the outbound HTTP/1.1 [`client`] over the per-worker keep-alive [`pool`]. HTTP
//! proxy integrations and function targets use it; authorizers and service integrations will.
//!
//! Must not: know what a request is for (the caller writes it).

pub mod client;
pub mod fetch;
pub mod pool;

/// What a call out uses of its worker: the upstream pool, the counters of upstream connections,
/// and whether the worker is draining (responses then close; looked at when the response starts,
/// which may be long after the request did).
#[derive(Clone, Copy)]
pub struct Outbound<'a> {
    pub pool: &'a pool::Pool,
    pub counters: &'a crate::metrics::WorkerCounters,
    pub draining: &'a std::cell::Cell<bool>,
}
