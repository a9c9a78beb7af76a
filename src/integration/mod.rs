//! Integrations: what answers a routed request. [`mock`] answers from the table; [`http_proxy`]
//! forwards to an upstream over a per-worker keep-alive [`pool`].

pub mod client;
pub mod http_proxy;
pub mod mock;
pub mod pool;
pub mod relay;
