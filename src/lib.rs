//! Portico: a self-hosted API gateway with Amazon API Gateway's semantics, built on thread-per-core
//! io_uring workers.
//!
//! The tree follows a request: [`runtime`] owns the per-core workers and their listeners, [`http`] is
//! the HTTP/1.1 codec, [`pipeline`] is the one function that orders the steps — [`stage`] (which API
//! and stage a request is for), [`route`] (which route), [`integration`] (mock or HTTP proxy) — and
//! [`response`] renders what goes back, including AWS's gateway responses. [`config`] turns the TOML
//! file into the validated model and [`table`] is the compiled, flat routing table that workers load.
//! The compiler never imports the runtime.

pub mod access_log;
pub mod admin;
pub mod auth;
pub mod cache;
pub mod config;
pub mod conn;
pub mod context;
pub mod error;
pub mod http;
pub mod integration;
pub mod log;
pub mod metrics;
pub mod pipeline;
pub mod response;
pub mod route;
pub mod runtime;
pub mod stage;
pub mod table;
pub mod throttle;
pub mod tls;
pub mod top;
pub mod trace;
