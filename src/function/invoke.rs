//! Invoking a function: one event in, one JSON payload out, whatever the target. Integrations,
//! and authorizers and WebSocket routes after them, call [`invoke`] with the event's writer.
//!
//! Every target is reached the same way: the event as the body of a `POST` over the worker's
//! keep-alive pool, the payload back as the answer's body — `200`, with `X-Amz-Function-Error`
//! when the function failed, as the Lambda Invoke API marks it; any other status means the
//! function could not be invoked. An HTTP endpoint (`url`) is that as it is; a local function's
//! host ([`super::host`]) and the Lambda Invoke API itself (SigV4-signed, [`crate::sigv4`]) speak
//! the Invoke API's shape.
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
use smallvec::SmallVec;

use super::limit::Slots;
use crate::error::{GatewayError, ResponseType};
use crate::http::encode;
use crate::outbound::{Outbound, client};
use crate::sigv4;
use crate::table::{AwsCredentials, Settings};

/// The function's concurrency was used up past its queue time.
pub const THROTTLED: GatewayError =
    GatewayError::new(ResponseType::FunctionUnavailable, "function concurrency exhausted past the queue time");
const REFUSED: GatewayError =
    GatewayError::new(ResponseType::FunctionUnavailable, "function endpoint answered with a status other than 200");
const TIMEOUT: GatewayError = GatewayError::new(ResponseType::IntegrationTimeout, "function timed out");

/// Where an invocation goes, borrowed from the loaded table.
pub struct Target<'a> {
    pub upstream: &'a client::Target,
    /// The `Host` header.
    pub authority: &'a str,
    /// Path (and fixed query) of the request.
    pub path: &'a str,
    /// A query added to the path (the Invoke API's `Qualifier`).
    pub query: Option<&'a str>,
    /// Sign the request (the Lambda Invoke API).
    pub signing: Option<Signing<'a>>,
    pub slots: &'a Slots,
    pub queue: Duration,
}

/// How a request to the Lambda Invoke API is signed.
#[derive(Clone, Copy)]
pub struct Signing<'a> {
    pub region: &'a str,
    pub credentials: &'a AwsCredentials,
}

/// What the function answered.
pub struct Invoked {
    /// The invocation's own status (200 when it happened).
    pub status: u16,
    pub payload: Bytes,
    /// The function failed (an unhandled error); `payload` is its error object.
    pub function_error: bool,
}

/// Writes the request: its head, then the event, then what depends on the event — its length
/// and, for the Invoke API, the signature over its hash — patched into room kept in the head.
fn write_request(out: &mut Vec<u8>, target: &Target<'_>, write_event: impl FnOnce(&mut Vec<u8>)) {
    out.clear();
    out.extend_from_slice(b"POST ");
    out.extend_from_slice(target.path.as_bytes());
    if let Some(q) = target.query {
        out.push(b'?');
        out.extend_from_slice(q.as_bytes());
    }
    out.extend_from_slice(b" HTTP/1.1\r\n");
    encode::header(out, b"Host", target.authority.as_bytes());
    out.extend_from_slice(b"Content-Type: application/json\r\n");
    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_secs());
    let amz_date = target.signing.map(|_| sigv4::amz_date(now));
    let mut authorization_at = None;
    if let (Some(signing), Some(date)) = (target.signing, &amz_date) {
        encode::header(out, b"X-Amz-Date", date.as_bytes());
        if let Some(token) = &signing.credentials.session_token {
            encode::header(out, b"X-Amz-Security-Token", token.as_bytes());
        }
        // The signature's length does not depend on what is signed: room for it now.
        let room = signed(target, signing, date, |credentials, scope, request| {
            sigv4::authorization_len(credentials, scope, request.headers)
        });
        out.extend_from_slice(b"Authorization: ");
        authorization_at = Some((out.len(), room));
        out.extend(std::iter::repeat_n(b' ', room));
        out.extend_from_slice(b"\r\n");
    }
    out.extend_from_slice(b"Content-Length: ");
    let length_at = out.len();
    out.extend_from_slice(&[b' '; LENGTH_WIDTH]);
    out.extend_from_slice(b"\r\n\r\n");
    let body_at = out.len();
    write_event(out);
    let mut digits = itoa::Buffer::new();
    let length = digits.format(out.len() - body_at).as_bytes();
    out[length_at..length_at + length.len()].copy_from_slice(length);
    if let (Some(signing), Some(date), Some((at, room))) = (target.signing, &amz_date, authorization_at) {
        let hash = sigv4::payload_hash(&out[body_at..]);
        let value = signed(target, signing, date, |credentials, scope, request| {
            sigv4::sign(credentials, scope, &sigv4::Request { payload_hash: &hash, ..*request })
        });
        debug_assert_eq!(value.len(), room);
        out[at..at + value.len().min(room)].copy_from_slice(&value.as_bytes()[..value.len().min(room)]);
    }
}

/// Calls `with` on what an Invoke API request is signed with: its credentials, scope and request
/// (the payload hash left for `with` to fill in).
fn signed<T>(
    target: &Target<'_>,
    signing: Signing<'_>,
    amz_date: &str,
    with: impl FnOnce(sigv4::Credentials<'_>, &sigv4::Scope<'_>, &sigv4::Request<'_>) -> T,
) -> T {
    let mut headers: SmallVec<[(&str, &str); 3]> =
        smallvec::smallvec![("host", target.authority), ("x-amz-date", amz_date)];
    if let Some(token) = &signing.credentials.session_token {
        headers.push(("x-amz-security-token", token));
    }
    let request = sigv4::Request {
        method: "POST",
        path: target.path,
        query: target.query.unwrap_or(""),
        headers: &headers,
        payload_hash: "",
    };
    let scope = sigv4::Scope { amz_date, region: signing.region, service: "lambda" };
    let credentials = sigv4::Credentials {
        access_key_id: &signing.credentials.access_key_id,
        secret_access_key: &signing.credentials.secret_access_key,
    };
    with(credentials, &scope, &request)
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
    write_request(out, target, write_event);

    // An invocation runs the function: never sent twice (`new` makes it not idempotent).
    let call = client::Call::new(target.upstream, deadline, settings);
    let max_idle = settings.upstream.pool_idle_max_per_upstream;
    let max_answer = super::max_payload(settings.limits.max_body_bytes);
    let fetched =
        client::fetch(outbound.pool, outbound.counters, &call, out, max_answer, max_idle).await.map_err(|e| match e
            .kind
        {
            ResponseType::IntegrationTimeout => TIMEOUT,
            _ => GatewayError::new(ResponseType::FunctionUnavailable, e.detail),
        })?;
    if fetched.status != 200 {
        return Err(REFUSED);
    }
    let function_error = fetched.header(b"x-amz-function-error").is_some();
    Ok(Invoked { status: fetched.status, payload: fetched.body, function_error })
}
