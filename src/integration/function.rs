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

use smallvec::SmallVec;

use crate::conn::ClientConn;
use crate::context::request_id::RequestId;
use crate::context::{Context, RequestBody};
use crate::error::{GatewayError, ResponseType};
use crate::function::{event, invoke, result};
use crate::http::head::RequestHead;
use crate::http::{is_forwarding_header, is_hop_by_hop, is_path_override, named_in_connection};
use crate::loaded::LoadedTable;
use crate::outbound::Outbound;
use crate::response::{Body, Flow, Headers, Response, write};
use crate::table::{FunctionIntegration, FunctionTarget, Protocol};

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

/// Who sent the request, as the event tells it.
pub struct Caller<'a> {
    pub peer: std::net::IpAddr,
    /// The port the request came in on (`X-Forwarded-Port`).
    pub local_port: u16,
    pub tls: bool,
    pub client_cert: Option<&'a crate::tls::client_cert::ClientCert>,
}

impl<'a> Caller<'a> {
    pub fn of(conn: &'a ClientConn) -> Caller<'a> {
        Caller {
            peer: conn.peer.ip().to_canonical(),
            local_port: conn.local_port,
            tls: conn.stream.is_tls(),
            client_cert: conn.stream.identity().map(|i| &i.client_cert),
        }
    }
}

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
    let caller = Caller::of(conn);
    let settings = &table.table.settings;
    let event =
        |out: &mut Vec<u8>| write_event(out, table, (head, ctx), &caller, request_id.as_str(), integration.format);
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
    let function = &table.table.functions[integration.function as usize];
    let Some(endpoint) = &table.function_endpoints[integration.function as usize] else {
        return Err(NO_HOST);
    };
    let signing = match &function.target {
        FunctionTarget::Lambda { region, credentials, .. } => Some(invoke::Signing { region, credentials }),
        _ => None,
    };
    Ok(invoke::Target {
        upstream: &endpoint.target,
        authority: &endpoint.authority,
        path: &endpoint.path,
        query: integration.qualifier_query.as_deref(),
        signing,
        slots: &table.function_slots[integration.function as usize],
        queue: Duration::from_millis(function.queue_timeout_ms),
    })
}

/// Writes the event for the routed request `head` (its API, stage, route and body in `ctx`) in
/// `format`.
pub fn write_event(
    out: &mut Vec<u8>,
    table: &LoadedTable,
    (head, ctx): (&RequestHead, &Context),
    caller: &Caller<'_>,
    request_id: &str,
    format: crate::table::PayloadFormat,
) {
    let (api_index, stage_index) = ctx.api_stage.unwrap_or_default();
    let api = &table.table.apis[api_index as usize];
    let stage = &api.stages[stage_index as usize];
    let route = ctx.route.map_or(&api.routes[0], |r| &api.routes[r as usize]);
    let settings = &table.table.settings;
    let peer = caller.peer;
    let trusted = settings.trusted_proxies.iter().any(|net| net.contains(&peer));
    let client_cert_header =
        |name: &[u8]| table.mtls_header_names.iter().any(|h| h.as_bytes().eq_ignore_ascii_case(name));
    let rest = api.protocol == Protocol::Rest;
    let mut forwarded_for: SmallVec<[u8; 48]> = SmallVec::new();
    crate::http::encode::ip(&mut forwarded_for, peer);
    let mut port = itoa::Buffer::new();
    let mut headers: SmallVec<[(&[u8], &[u8]); 32]> = SmallVec::new();
    for (name, value) in head.headers() {
        // HTTP APIs keep the request's length in the event; REST APIs leave it out (as AWS does).
        let length = name.eq_ignore_ascii_case(b"content-length");
        let dropped = ((rest || !length) && is_hop_by_hop(name))
            || is_path_override(name)
            || client_cert_header(name)
            || (!trusted && is_forwarding_header(name))
            || named_in_connection(name, head.values(b"connection"));
        if !dropped {
            headers.push((name, value));
        }
    }
    if !headers.iter().any(|(n, _)| n.eq_ignore_ascii_case(b"x-forwarded-for")) {
        headers.push((b"X-Forwarded-For", &forwarded_for));
    }
    if !headers.iter().any(|(n, _)| n.eq_ignore_ascii_case(b"x-forwarded-port")) {
        headers.push((b"X-Forwarded-Port", port.format(caller.local_port).as_bytes()));
    }
    if !headers.iter().any(|(n, _)| n.eq_ignore_ascii_case(b"x-forwarded-proto")) {
        headers.push((b"X-Forwarded-Proto", if caller.tls { b"https" } else { b"http" }));
    }

    let routed_path = ctx.routed_path(head);
    let path_parameters: SmallVec<[(&str, &[u8]); 4]> = route
        .params
        .iter()
        .zip(&ctx.captures)
        .map(|(name, &(s, e))| (name.as_str(), &routed_path[s as usize..e as usize]))
        .collect();
    let body = match &ctx.body {
        RequestBody::Buffered(b) if !b.is_empty() => Some(&b[..]),
        _ => None,
    };
    let content_type = head.first(b"content-type");
    let base64 = body.is_some_and(|b| {
        std::str::from_utf8(b).is_err()
            || match rest {
                true => content_type.is_some_and(|t| media_type_matches(&api.binary_media_types, t)),
                false => content_type.is_some_and(|t| !is_text(t)),
            }
    });
    let extended = RequestId::new(Protocol::Http);
    let time_ms =
        std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_millis() as u64);
    let api_key = ctx
        .identity
        .api_key
        .and_then(|k| table.table.api_keys.get(k as usize))
        .map(|k| (k.name.as_str(), k.value.as_str()));
    let request = event::Request {
        format,
        rest,
        method: head.method_bytes(),
        full_path: head.raw_path(),
        path: routed_path,
        query: head.query(),
        headers: &headers,
        route_key: &route.key,
        path_parameters: &path_parameters,
        stage: &stage.name,
        stage_variables: &stage.variables,
        body,
        base64,
        request_id,
        extended_request_id: extended.as_str(),
        time_ms,
        source_ip: peer,
        api_id: &api.name,
        domain_name: head.host_name().unwrap_or_default(),
        api_key,
        client_cert: caller.client_cert,
        protocol: if head.version_minor == 0 { "HTTP/1.0" } else { "HTTP/1.1" },
        jwt: match &ctx.authorized {
            crate::context::auth::Authorized::Jwt(claims) => Some(claims),
            crate::context::auth::Authorized::None => None,
        },
    };
    event::write(out, &request);
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
        let name_ok =
            !name.is_empty() && name.bytes().all(|b| b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b));
        if !name_ok || value.bytes().any(|b| b == b'\r' || b == b'\n' || b == 0) {
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
            media_type_matches(binary, first)
        }
        None => headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case("content-type"))
            .is_some_and(|(_, v)| media_type_matches(binary, v.as_bytes())),
    }
}

/// Whether `value` (a content type, parameters allowed) matches one of `patterns` (`*/*`,
/// `image/*`, `image/png`; lower-case).
fn media_type_matches(patterns: &[String], value: &[u8]) -> bool {
    let essence = value.split(|&b| b == b';').next().unwrap_or_default().trim_ascii();
    let Some(slash) = essence.iter().position(|&b| b == b'/') else { return false };
    let (kind, sub) = (&essence[..slash], &essence[slash + 1..]);
    patterns.iter().any(|p| {
        let (pk, ps) = p.split_once('/').unwrap_or((p, ""));
        (pk == "*" || kind.eq_ignore_ascii_case(pk.as_bytes()))
            && (ps == "*" || sub.eq_ignore_ascii_case(ps.as_bytes()))
    })
}

/// HTTP APIs: content types whose bodies a function gets as text; anything else is base64.
fn is_text(value: &[u8]) -> bool {
    let essence = value.split(|&b| b == b';').next().unwrap_or_default().trim_ascii();
    let lower: SmallVec<[u8; 64]> = essence.iter().map(u8::to_ascii_lowercase).collect();
    let lower = &lower[..];
    lower.starts_with(b"text/")
        || lower.ends_with(b"/json")
        || lower.ends_with(b"+json")
        || lower.ends_with(b"/xml")
        || lower.ends_with(b"+xml")
        || lower == b"application/javascript"
        || lower == b"application/ecmascript"
        || lower == b"application/graphql"
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn media_types_match_with_wildcards_and_parameters() {
        let patterns = ["image/*".to_owned(), "application/octet-stream".to_owned()];
        assert!(media_type_matches(&patterns, b"image/png"));
        assert!(media_type_matches(&patterns, b"Application/Octet-Stream; charset=x"));
        assert!(!media_type_matches(&patterns, b"text/plain"));
        assert!(!media_type_matches(&patterns, b"garbage"));
        assert!(media_type_matches(&["*/*".to_owned()], b"text/html"));
    }

    #[test]
    fn text_types_of_http_apis() {
        for t in ["text/plain", "application/json; charset=utf-8", "application/vnd.api+json", "application/xml"] {
            assert!(is_text(t.as_bytes()), "{t}");
        }
        for t in ["image/png", "application/octet-stream", "application/x-www-form-urlencoded"] {
            assert!(!is_text(t.as_bytes()), "{t}");
        }
    }
}
