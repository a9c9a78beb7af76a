//! Non-proxy HTTP integrations (AWS's `HTTP` type, REST APIs): the request goes through a
//! mapping template chosen by its content type (or passes through, or is refused with 415, by
//! the integration's passthrough behaviour), the rendered body goes to the backend with only
//! what is mapped (AWS forwards no client header or query parameter it was not told to), and
//! the backend's answer is mapped back: the first integration response whose selection pattern
//! matches the backend's whole status code (else the default one) gives the client's status,
//! headers (`response_parameters`) and body (its template for the client's `Accept`, or the
//! backend's body as it came). No integration response for the status, or a template that
//! fails to render, is AWS's 500 `Internal server error` (API_CONFIGURATION_ERROR).
//! `$context.requestOverride.*` and `$context.responseOverride.*`, set by a template, change
//! the backend request and the client response.
//!
//! An integration without `responses` passes the backend's status, content type and body
//! through (AWS requires at least one; Portico makes the common case one line shorter).
//!
//! Cost: the route receives its body whole; each template render builds the request's
//! `$input`/`$context` values and writes one output string; the backend's answer is read
//! whole (up to the body limit) before the client's response starts.

use std::borrow::Cow;
use std::time::Duration;

use bytes::Bytes;
use monoio::time::Instant;

use super::template_input as input;
use crate::conn::ClientConn;
use crate::context::{Context, RequestBody};
use crate::error::{GatewayError, ResponseType};
use crate::http::head::RequestHead;
use crate::http::{Method, breaks_header, encode, is_hop_by_hop, is_token};
use crate::loaded::LoadedTable;
use crate::mapping::{self, Form};
use crate::outbound::Outbound;
use crate::outbound::client::{self, Call};
use crate::response::{Body, Flow, Headers, Response, write};
use crate::table::UriPart;
use crate::table::mapping::Target;
use crate::table::templates::{HttpIntegration, Passthrough};
use crate::vtl;

const UNSUPPORTED: GatewayError =
    GatewayError::new(ResponseType::UnsupportedMediaType, "no request template for the content type");
const NO_RESPONSE: GatewayError = GatewayError::new(
    ResponseType::ApiConfiguration,
    "Execution failed due to configuration error: no integration response matches the backend's status",
);
const TEMPLATE_FAILED: GatewayError = GatewayError::new(
    ResponseType::ApiConfiguration,
    "Execution failed due to configuration error: a mapping template failed",
);
const NO_FIELDS: GatewayError = GatewayError::new(ResponseType::Internal, "a routed request without its API and stage");

/// The usage of no template: nothing built.
static NOTHING: std::sync::LazyLock<vtl::Usage> = std::sync::LazyLock::new(vtl::Usage::default);

/// A body as text: borrowed when it is UTF-8 (the common case, checked fast), else with
/// U+FFFD for what is not.
fn text(bytes: &[u8]) -> Cow<'_, str> {
    match std::str::from_utf8(bytes) {
        Ok(s) => Cow::Borrowed(s),
        Err(_) => String::from_utf8_lossy(bytes),
    }
}

/// The media type of a `Content-Type` value, lower-case; AWS reads a request without one as
/// `application/json`.
fn media_type(value: Option<&[u8]>) -> String {
    let media = value.map(|v| v.split(|&b| b == b';').next().unwrap_or_default().trim_ascii()).unwrap_or_default();
    if media.is_empty() { "application/json".to_owned() } else { String::from_utf8_lossy(media).to_ascii_lowercase() }
}

fn render<'a>(
    limits: &vtl::Limits,
    template: &'a vtl::Template,
    body: &'a str,
    params: vtl::Value<'a>,
    context: &vtl::Value<'a>,
    stage_variables: &'a [(String, String)],
) -> Result<String, GatewayError> {
    let req = vtl::Request {
        body,
        params,
        context: context.clone(),
        stage_variables: input::stage_variables(stage_variables),
    };
    let mut out = String::new();
    match template.render(req, limits, &mut out) {
        Ok(()) => Ok(out),
        Err(e) => {
            log::warn!("mapping template failed at byte {}: {e}", e.at);
            Err(TEMPLATE_FAILED)
        }
    }
}

/// Step 7 for a non-proxy HTTP route, whose body the pipeline has received whole; `flow` is
/// what the connection does after the response.
pub async fn call(
    outbound: Outbound<'_>,
    table: &LoadedTable,
    conn: &mut ClientConn,
    (head, ctx): (&RequestHead, &mut Context),
    integration: &HttpIntegration,
    flow: Flow,
) -> Result<Flow, GatewayError> {
    ctx.id();
    ctx.record.integration_started = Some(quanta::Instant::now());
    let (api, stage) = ctx.api_stage.ok_or(NO_FIELDS)?;
    let stage_vars = &table.table.apis[api as usize].stages[stage as usize].variables;
    let names = crate::request_vars::route_params(table, ctx);
    let body: Bytes = match &ctx.body {
        RequestBody::Buffered(b) => b.clone(),
        _ => Bytes::new(),
    };
    let limits = vtl::Limits { max_foreach: integration.max_foreach as usize, ..vtl::Limits::default() };
    let body_text = text(&body);
    let media = media_type(head.first(b"content-type"));
    let request_template = integration.request.find(&media).map(|t| &table.templates[t as usize]);
    // The connection's write buffer carries the backend request (a failure before it is
    // sent leaves the connection a fresh one).
    let mut out = std::mem::take(&mut conn.wbuf);
    out.clear();
    let fields = crate::request_vars::so_far(table, conn, head, ctx, 0).ok_or(NO_FIELDS)?;
    let context = input::context(Some(&fields), request_template.map_or(&*NOTHING, |t| t.usage()));

    // The request: rendered by its content type's template, passed through, or refused.
    let (sent, sent_type): (Cow<'_, [u8]>, Option<String>) = match request_template {
        Some(template) => {
            let params = input::params(head, ctx, names, template.usage());
            let text = render(&limits, template, &body_text, params, &context, stage_vars)?;
            (Cow::Owned(text.into_bytes()), Some(media))
        }
        None => {
            let passes = match integration.request.passthrough {
                Passthrough::WhenNoMatch => true,
                Passthrough::WhenNoTemplates => integration.request.templates.is_empty(),
                Passthrough::Never => false,
            };
            if !passes {
                return Err(UNSUPPORTED);
            }
            (Cow::Borrowed(&body[..]), head.first(b"content-type").map(|c| String::from_utf8_lossy(c).into_owned()))
        }
    };

    let settings = &table.table.settings;
    let target = &table.upstream_targets[integration.upstream as usize];
    let method = integration.method.as_deref().map_or(head.method_bytes(), str::as_bytes);
    {
        let mr = mapping::Request { head, ctx, params: names, fields: &fields, response: None };
        write_head(
            &mut out,
            method,
            integration,
            &mr,
            &table.upstream_authorities[integration.upstream as usize],
            &context,
        );
    }
    if let Some(ct) = &sent_type {
        encode::header(&mut out, b"Content-Type", ct.as_bytes());
    }
    encode::header_u64(&mut out, b"Content-Length", sent.len() as u64);
    out.extend_from_slice(b"\r\n");
    out.extend_from_slice(&sent);
    let backend_method = Method::from_bytes(method);
    let call = Call {
        target,
        deadline: Instant::now() + Duration::from_millis(integration.timeout_ms),
        connect_timeout_ms: settings.upstream.connect_timeout_ms,
        pool_idle_timeout: Duration::from_millis(settings.upstream.pool_idle_timeout_ms),
        buffer_bytes: settings.workers.upstream_buffer_bytes,
        idempotent: backend_method.is_idempotent(),
        head_request: backend_method == Method::Head,
        whole: true,
    };
    let max_idle = settings.upstream.pool_idle_max_per_upstream;
    let fetched =
        client::fetch(outbound.pool, outbound.counters, &call, &mut out, settings.limits.max_body_bytes, max_idle)
            .await;
    conn.wbuf = out;
    let fetched = fetched?;
    ctx.record.integration_answered(fetched.status);

    // The response: the integration response for the backend's status.
    let chosen = if integration.responses.is_empty() {
        None
    } else {
        let status = fetched.status.to_string();
        let matched = integration
            .responses
            .iter()
            .find(|r| r.selection_pattern.is_some_and(|p| table.patterns[p as usize].is_match(&status)));
        Some(
            matched
                .or_else(|| integration.responses.iter().find(|r| r.selection_pattern.is_none()))
                .ok_or(NO_RESPONSE)?,
        )
    };
    let backend_type = fetched.header(b"content-type").map(|c| String::from_utf8_lossy(c).into_owned());
    let mut headers: Vec<(String, String)> = Vec::new();
    let mut status_override = None;
    let (mut status, body, content_type): (u16, Cow<'_, [u8]>, Option<String>) = match chosen {
        None => (fetched.status, Cow::Borrowed(&fetched.body[..]), backend_type),
        Some(r) => {
            let fields = crate::request_vars::so_far(table, conn, head, ctx, r.status).ok_or(NO_FIELDS)?;
            let mr = mapping::Request {
                head,
                ctx,
                params: names,
                fields: &fields,
                response: Some((&fetched.parsed, &fetched.head)),
            };
            let mut value = mapping::Value::new();
            for m in &r.headers {
                if let Target::Header(name) = &m.target
                    && mapping::value(&m.value, &mr, Form::Header, &mut value)
                {
                    headers.push((name.clone(), String::from_utf8_lossy(&value).into_owned()));
                }
            }
            match r.template_for(head.first(b"accept").unwrap_or_default()) {
                Some((ct, t)) => {
                    let template = &table.templates[*t as usize];
                    let text = text(&fetched.body);
                    // Its own `$context`: values borrowed from the backend's body live shorter
                    // than the request's.
                    let context = input::context(Some(&fields), template.usage());
                    let params = input::params(head, ctx, names, template.usage());
                    let rendered = render(&limits, template, &text, params, &context, stage_vars)?;
                    status_override = input::status_override(&context);
                    for (name, value) in input::overrides(&context, "responseOverride", "header") {
                        if is_token(name.as_bytes()) && !breaks_header(value.as_bytes()) {
                            headers.retain(|(n, _)| !n.eq_ignore_ascii_case(&name));
                            headers.push((name, value));
                        }
                    }
                    (r.status, Cow::Owned(rendered.into_bytes()), Some(ct.clone()))
                }
                None => (r.status, Cow::Borrowed(&fetched.body[..]), backend_type),
            }
        }
    };
    if let Some(s) = status_override {
        status = s;
    }
    ctx.record.integration_status = Some(fetched.status);
    let mut response = Response::new(status, Headers::Encoded(b""), Body::Static(&body));
    if let Some(ct) = content_type.filter(|_| !headers.iter().any(|(n, _)| n.eq_ignore_ascii_case("content-type"))) {
        response.extra.header(b"Content-Type", ct.as_bytes());
    }
    for (name, value) in &headers {
        // The writer frames the response and dates it.
        if !is_hop_by_hop(name.as_bytes()) && !name.eq_ignore_ascii_case("date") {
            response.extra.header(name.as_bytes(), value.as_bytes());
        }
    }
    Ok(write::send(conn, ctx, &response, flow).await)
}

/// The backend request's line and headers but the body's: the integration's method and URI
/// (path parameters as received), its fixed query and the mapped query parameters, `Host`,
/// the mapped headers, and what a request template put in `$context.requestOverride`.
fn write_head(
    out: &mut Vec<u8>,
    method: &[u8],
    integration: &HttpIntegration,
    r: &mapping::Request<'_>,
    authority: &str,
    context: &vtl::Value<'_>,
) {
    out.extend_from_slice(method);
    out.push(b' ');
    let routed = r.ctx.routed_path(r.head);
    let path_overrides = input::overrides(context, "requestOverride", "path");
    for part in &integration.path {
        match part {
            UriPart::Literal(l) => out.extend_from_slice(l.as_bytes()),
            UriPart::Param(i) => {
                let name = r.params.get(*i as usize);
                match name.and_then(|n| path_overrides.iter().find(|(k, _)| k == n)) {
                    Some((_, v)) => {
                        out.extend(percent_encoding::utf8_percent_encode(v, mapping::COMPONENT).flat_map(str::bytes))
                    }
                    None => {
                        if let Some(&(s, e)) = r.ctx.captures.get(*i as usize) {
                            out.extend_from_slice(&routed[s as usize..e as usize]);
                        }
                    }
                }
            }
        }
    }
    let mut first = true;
    let mut sep = |out: &mut Vec<u8>| {
        out.push(if first { b'?' } else { b'&' });
        first = false;
    };
    if let Some(q) = &integration.query {
        sep(out);
        out.extend_from_slice(q.as_bytes());
    }
    let mut value = mapping::Value::new();
    let query_overrides = input::overrides(context, "requestOverride", "querystring");
    for m in &integration.request_mappings {
        if let Target::Query(name) = &m.target
            && !query_overrides.iter().any(|(k, _)| k == name)
            && mapping::value(&m.value, r, Form::Url, &mut value)
        {
            sep(out);
            out.extend(percent_encoding::utf8_percent_encode(name, mapping::COMPONENT).flat_map(str::bytes));
            out.push(b'=');
            out.extend_from_slice(&value);
        }
    }
    for (name, v) in &query_overrides {
        sep(out);
        out.extend(percent_encoding::utf8_percent_encode(name, mapping::COMPONENT).flat_map(str::bytes));
        out.push(b'=');
        out.extend(percent_encoding::utf8_percent_encode(v, mapping::COMPONENT).flat_map(str::bytes));
    }
    out.extend_from_slice(b" HTTP/1.1\r\nHost: ");
    out.extend_from_slice(authority.as_bytes());
    out.extend_from_slice(b"\r\n");
    let header_overrides = input::overrides(context, "requestOverride", "header");
    // What the gateway writes itself: the host, the body's type, the framing.
    const OWN: [&str; 5] = ["host", "content-length", "content-type", "transfer-encoding", "connection"];
    let sendable = |name: &str, value: &[u8]| {
        is_token(name.as_bytes()) && !breaks_header(value) && !OWN.iter().any(|f| name.eq_ignore_ascii_case(f))
    };
    for m in &integration.request_mappings {
        if let Target::Header(name) = &m.target
            && !header_overrides.iter().any(|(k, _)| k.eq_ignore_ascii_case(name))
            && mapping::value(&m.value, r, Form::Header, &mut value)
            && sendable(name, &value)
        {
            encode::header(out, name.as_bytes(), &value);
        }
    }
    for (name, v) in &header_overrides {
        if sendable(name, v.as_bytes()) {
            encode::header(out, name.as_bytes(), v.as_bytes());
        }
    }
}
