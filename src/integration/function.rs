//! Function integrations (AWS's Lambda proxy, `AWS_PROXY`): the request becomes the event the
//! route's payload format asks for, the function is invoked through [`crate::function`], and what
//! it returned becomes the response — or AWS's error: a function error or an answer API Gateway
//! cannot read is 502 (REST) / 500 (HTTP API), a body that is not the base64 it claims 500, a
//! function that cannot be invoked 500, no answer within the timeout 504 / 503. The reason goes
//! to the log and `$context.integrationErrorMessage`, never to the client.
//!
//! What the function sees of the request: its headers but hop-by-hop ones, path overrides,
//! client-certificate headers and (from a peer outside `trusted_proxies`) forwarding headers,
//! with `X-Forwarded-For/-Proto/-Port` added as AWS adds them; the whole body (the route buffers
//! it), base64-encoded when it is binary — by the API's `binary_media_types` for REST APIs, by
//! its content type for HTTP APIs, and always when it is not UTF-8 (JSON cannot carry it).
//!
//! Cost: the header list, path parameters and the forwarding values live on the stack; the event
//! is written into the connection's reused buffer after the request head; the function's
//! headers are encoded inline in the response (spilling to a `Vec` past a few lines).

use std::borrow::Cow;
use std::time::Duration;

use crate::conn::ClientConn;
use crate::context::Context;
use crate::error::{GatewayError, ResponseType};
use crate::function::request::{self, Caller};
use crate::function::{invoke, result};
use crate::http::head::RequestHead;
use crate::http::is_hop_by_hop;
use crate::loaded::LoadedTable;
use crate::outbound::Outbound;
use crate::response::{Body, Flow, Headers, Response, write};
use crate::table::{FunctionIntegration, Protocol};

const NO_HOST: GatewayError =
    GatewayError::new(ResponseType::FunctionUnavailable, "the function's local host could not start");
const FUNCTION_ERROR: GatewayError =
    GatewayError::new(ResponseType::FunctionError, "Lambda execution failed due to customer function error");
const BAD_BASE64: GatewayError =
    GatewayError::new(ResponseType::Internal, "the function's body is marked isBase64Encoded but is not base64");
const BAD_HEADER: GatewayError = GatewayError::new(
    ResponseType::FunctionError,
    "Malformed Lambda proxy response: a header name or value cannot be sent",
);

/// What the client gets from a function's answer, before framing.
pub struct Answer<'p> {
    pub status: u16,
    /// Checked to be sendable; framing headers (which the writer sets) left out.
    pub headers: Vec<(Cow<'p, str>, Cow<'p, str>)>,
    pub body: Cow<'p, [u8]>,
}

/// Step 7 for a function route, whose body the pipeline has received whole; `flow` is what the
/// connection does after the response.
pub async fn invoke(
    outbound: Outbound<'_>,
    table: &LoadedTable,
    conn: &mut ClientConn,
    (head, ctx): (&RequestHead, &mut Context),
    integration: &FunctionIntegration,
    flow: Flow,
) -> Result<Flow, GatewayError> {
    let target = target(table, integration)?;
    let request_id = ctx.id();
    ctx.record.integration_started = Some(quanta::Instant::now());
    ctx.record.function = Some(integration.function);
    let mut out = std::mem::take(&mut conn.wbuf);
    let timeout = Duration::from_millis(integration.timeout_ms);
    let caller = caller(conn);
    let settings = &table.table.settings;
    let sources = request::Sources { table: &table.table, mtls_header_names: &table.mtls_header_names };
    let event = |out: &mut Vec<u8>| {
        request::write_event(out, &sources, (head, ctx), &caller, request_id.as_str(), integration.format)
    };
    let invoked = crate::function::invoke::invoke(outbound, settings, &target, timeout, &mut out, event).await;
    conn.wbuf = out;
    ctx.record.function_throttled = invoked.as_ref().err() == Some(&invoke::THROTTLED);
    let invoked = invoked?;
    ctx.record.integration_answered(invoked.status);
    let answer = answer(table, (head, &*ctx), integration, &invoked)?;
    ctx.record.integration_status = Some(answer.status);
    let mut response = Response::new(answer.status, Headers::Encoded(b""), Body::Static(&answer.body));
    for (name, value) in &answer.headers {
        response.extra.header(name.as_bytes(), value.as_bytes());
    }
    Ok(write::send(conn, ctx, &response, flow).await)
}

/// Where an integration's invocations go.
pub fn target<'t>(
    table: &'t LoadedTable,
    integration: &'t FunctionIntegration,
) -> Result<invoke::Target<'t>, GatewayError> {
    table.function_target(integration.function, integration.qualifier_query.as_deref()).ok_or(NO_HOST)
}

/// Reads what the function answered as API Gateway does: a function error, an answer that cannot
/// be read, a header that cannot be sent and a body that is not the base64 it claims are errors.
pub fn answer<'p>(
    table: &LoadedTable,
    (head, ctx): (&RequestHead, &Context),
    integration: &FunctionIntegration,
    invoked: &'p invoke::Invoked,
) -> Result<Answer<'p>, GatewayError> {
    if invoked.function_error {
        return Err(FUNCTION_ERROR);
    }
    let api = &table.table.apis[ctx.api_stage.unwrap_or_default().0 as usize];
    let rest = api.protocol == Protocol::Rest;
    let read = result::read(integration.format, &invoked.payload)
        .map_err(|m| GatewayError::new(ResponseType::FunctionError, m.0))?;
    // HTTP APIs always decode; REST APIs when the client accepts a binary media type.
    let decode = !rest || accepts_binary(head, &api.binary_media_types, &read.headers);
    let body = match read.body(decode).map_err(|_| BAD_BASE64)? {
        Cow::Borrowed(_) => match read.body {
            Cow::Borrowed(text) => Cow::Borrowed(text.as_bytes()),
            Cow::Owned(text) => Cow::Owned(text.into_bytes()),
        },
        Cow::Owned(decoded) => Cow::Owned(decoded),
    };
    let mut headers = Vec::with_capacity(read.headers.len());
    for (name, value) in read.headers {
        if !crate::http::is_token(name.as_bytes()) || crate::http::breaks_header(value.as_bytes()) {
            return Err(BAD_HEADER);
        }
        // The writer frames the response: a function's framing and hop-by-hop headers go.
        if !is_hop_by_hop(name.as_bytes()) {
            headers.push((name, value));
        }
    }
    Ok(Answer { status: read.status, headers, body })
}

/// REST: whether the function's base64 body is decoded — the client's first `Accept` type is a
/// binary media type, or (without `Accept`) the response's content type is.
fn accepts_binary(head: &RequestHead, binary: &[String], headers: &[(Cow<'_, str>, Cow<'_, str>)]) -> bool {
    if binary.is_empty() {
        return false;
    }
    match head.first(b"accept") {
        Some(accept) => {
            let first = accept.split(|&b| b == b',').next().unwrap_or_default();
            request::media_type_matches(binary, first)
        }
        None => headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case("content-type"))
            .is_some_and(|(_, v)| request::media_type_matches(binary, v.as_bytes())),
    }
}

/// Who sent the request on `conn`.
pub fn caller(conn: &ClientConn) -> Caller<'_> {
    Caller {
        peer: conn.peer.ip().to_canonical(),
        local_port: conn.local_port,
        tls: conn.stream.is_tls(),
        client_cert: conn.stream.identity().map(|i| &i.client_cert),
    }
}
