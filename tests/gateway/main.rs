//! Black-box tests: the real `portico` binary on loopback, real sockets, a real upstream.
//! Behaviour tests run on both I/O drivers (io_uring and the epoll fallback).

mod api_keys;
mod browser;
mod cache;
mod cors;
mod fleet;
mod function_authorizers;
mod functions;
mod gateway_responses;
mod hostile;
mod iam;
mod jwt;
mod lambda_invoke;
mod lifecycle;
mod local_functions;
mod malformed;
mod mapping;
mod mtls;
mod nonproxy;
mod observability;
mod proxy;
mod quota;
mod resource_policy;
mod routing;
mod services;
mod support;
mod templates;
mod test_invoke;
mod throttle;
mod tls;
mod upstream_tls;
mod validation;
mod websocket;
mod websocket_auth;
mod websocket_events;
mod websocket_fleet;
