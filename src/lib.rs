//! Portico: a self-hosted API gateway with Amazon API Gateway's semantics, built on thread-per-core
//! io_uring workers.
//!
//! The tree follows a request: [`runtime`] owns the per-core workers, their listeners and the
//! connection loop; [`pipeline`] is the one function that orders the steps — 1 [`stage`] (which API
//! and stage), 2 [`route`], 3 [`auth`] (API keys; authorizers to come), 4 [`throttle`], 5 the body,
//! 6 [`cache`], 7 [`integration`] (mock or HTTP proxy, over the outbound client) — and has the one
//! failure exit; [`response`] is what goes back, as a value with one writer, including AWS's
//! gateway responses. Each request carries a [`context::Context`].
//!
//! Dependencies point one way, and no module reaches itself through others: the runtime uses the
//! pipeline; the pipeline the steps and the per-worker state ([`worker`]); the steps use
//! [`loaded`] (the table made ready), [`conn`] (the client transport), [`context`], [`error`] and
//! the codec, and get only the pieces of the worker they need. [`config`] turns the TOML file into
//! the validated model and compiles the flat [`table`], plain data, without ever reaching the
//! runtime; [`http`], the HTTP/1.1 codec, imports nothing above it (`tests/layers.rs` holds these
//! rules).

pub mod access_log;
pub mod admin;
pub mod alloc;
pub mod auth;
pub mod cache;
pub mod clock;
pub mod config;
pub mod conn;
pub mod connections;
pub mod context;
pub mod control;
pub mod cors;
pub mod error;
pub mod event;
pub mod function;
pub mod http;
pub mod integration;
pub mod invoke_cli;
pub mod json;
pub mod loaded;
pub mod log;
pub mod mapping;
pub mod metrics;
pub mod outbound;
pub mod pipeline;
pub mod random;
pub mod request_time;
pub mod request_vars;
pub mod response;
pub mod route;
pub mod runtime;
pub mod schema;
pub mod sigv4;
pub mod stage;
pub mod table;
pub mod test_invoke;
pub mod threads;
pub mod throttle;
pub mod tls;
pub mod top;
pub mod trace;
pub mod unwind;
pub mod validate;
pub mod vars;
pub mod vtl;
pub mod websocket;
pub mod worker;
pub mod ws;
