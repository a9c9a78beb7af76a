//! Invoking a function: one event in, one JSON payload out, whatever the target. Integrations,
//! and authorizers and WebSocket routes after them, call [`invoke`] with the event's writer.
//!
//! Targets today: an HTTP endpoint (`url`), which gets the event as a `POST` body over the
//! worker's keep-alive pool and answers with the payload as its body — `200`, with
//! `X-Amz-Function-Error` when the function failed (as the Lambda Invoke API marks it). Any other
//! status means the function could not be invoked.
//!
//! The function's concurrency slot is taken before anything is sent and given back when the
//! answer is read. The timeout covers the wait for a slot, connect, send and the whole answer.
//!
//! Must not: know what the event is for, or read the payload (that is [`super::result`]). Cost:
//! the request head and the event are written once into the caller's buffer (the length is
//! patched in place afterwards); the answer is read whole into one `Bytes`.

use std::time::Duration;

use bytes::Bytes;
use monoio::time::Instant;

use super::limit::Slots;
use crate::error::{GatewayError, ResponseType};
use crate::http::encode;
use crate::outbound::{Outbound, client};
use crate::table::Settings;

const THROTTLED: GatewayError =
    GatewayError::new(ResponseType::FunctionUnavailable, "function concurrency exhausted past the queue time");
const REFUSED: GatewayError =
    GatewayError::new(ResponseType::FunctionUnavailable, "function endpoint answered with a status other than 200");
const TIMEOUT: GatewayError = GatewayError::new(ResponseType::IntegrationTimeout, "function timed out");

/// Where an invocation goes, borrowed from the loaded table.
pub struct Target<'a> {
    pub upstream: &'a client::Target,
    /// The `Host` header.
    pub authority: &'a str,
    /// Path and query of the request.
    pub path: &'a str,
    pub slots: &'a Slots,
    pub queue: Duration,
}

/// What the function answered.
pub struct Invoked {
    /// The invocation's own status (200 when it happened).
    pub status: u16,
    pub payload: Bytes,
    /// The function failed (an unhandled error); `payload` is its error object.
    pub function_error: bool,
}

/// Width kept for the `Content-Length` value, patched once the event is written: enough for any
/// length a `usize` holds. The digits are padded with spaces, which HTTP allows after a value.
const LENGTH_WIDTH: usize = 20;

/// Invokes the function at `target` with the event `write_event` appends, within `timeout`.
/// `out` is a reusable buffer, left empty.
pub async fn invoke(
    outbound: Outbound<'_>,
    settings: &Settings,
    target: &Target<'_>,
    timeout: Duration,
    out: &mut Vec<u8>,
    write_event: impl FnOnce(&mut Vec<u8>),
) -> Result<Invoked, GatewayError> {
    let deadline = Instant::now() + timeout;
    let _permit = match monoio::time::timeout_at(deadline, target.slots.acquire(target.queue)).await {
        Ok(Ok(permit)) => permit,
        Ok(Err(_)) => return Err(THROTTLED),
        Err(_) => return Err(TIMEOUT),
    };
    out.clear();
    out.extend_from_slice(b"POST ");
    out.extend_from_slice(target.path.as_bytes());
    out.extend_from_slice(b" HTTP/1.1\r\n");
    encode::header(out, b"Host", target.authority.as_bytes());
    out.extend_from_slice(b"Content-Type: application/json\r\nContent-Length: ");
    let length_at = out.len();
    out.extend_from_slice(&[b' '; LENGTH_WIDTH]);
    out.extend_from_slice(b"\r\n\r\n");
    let body_at = out.len();
    write_event(out);
    let mut digits = itoa::Buffer::new();
    let length = digits.format(out.len() - body_at).as_bytes();
    out[length_at..length_at + length.len()].copy_from_slice(length);

    let call = client::Call {
        target: target.upstream,
        deadline,
        connect_timeout_ms: settings.upstream.connect_timeout_ms,
        pool_idle_timeout: Duration::from_millis(settings.upstream.pool_idle_timeout_ms),
        buffer_bytes: settings.workers.upstream_buffer_bytes,
        // An invocation runs the function: never sent twice.
        idempotent: false,
        head_request: false,
        whole: true,
    };
    let max_idle = settings.upstream.pool_idle_max_per_upstream;
    let fetched = client::fetch(outbound.pool, outbound.counters, &call, out, settings.limits.max_body_bytes, max_idle)
        .await
        .map_err(|e| match e.kind {
            ResponseType::IntegrationTimeout => TIMEOUT,
            _ => GatewayError::new(ResponseType::FunctionUnavailable, e.detail),
        })?;
    if fetched.status != 200 {
        return Err(REFUSED);
    }
    let function_error = fetched.header(b"x-amz-function-error").is_some();
    Ok(Invoked { status: fetched.status, payload: fetched.body, function_error })
}
