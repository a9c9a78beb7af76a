//! Functions: what a Lambda proxy integration invokes, built as a piece of its own so that
//! integrations, authorizers and WebSocket routes can all call functions through it.
//!
//! [`event`] writes the event for a request exactly as Amazon API Gateway builds it, [`invoke`]
//! sends it to the function's target and returns its payload, within the function's concurrency
//! limit ([`limit`]), and [`result`] reads the payload exactly as API Gateway reads it, in both
//! payload formats.
//!
//! Must not: know about the client connection or the pipeline (callers hand in what the event is
//! made of).

pub mod event;
pub mod host;
pub mod invoke;
pub mod limit;
pub mod request;
pub mod result;
pub mod websocket;

/// The largest event or answer a function exchanges, for a gateway whose request body limit is
/// `max_body`: such a body base64-encoded (4/3 larger) with the headers and context around it.
pub fn max_payload(max_body: u64) -> u64 {
    max_body.saturating_mul(4) / 3 + 1024 * 1024
}
