//! The response side of a non-proxy integration: the integration response for the backend's
//! answer — the first whose selection pattern matches the answer's whole selector, else the
//! default — gives the client's status, the headers its `response_parameters` map, and the body:
//! its template for the client's `Accept` (which may set `$context.responseOverride.status` and
//! `.header.X`), or the backend's body, converted between text and binary as AWS's
//! payload-encodings table says. A status no method response declares is AWS's 500.
//!
//! No integration response for the answer, or a template that fails, is AWS's 500 `Internal
//! server error` (API_CONFIGURATION_ERROR). An integration without `responses` passes the
//! backend's status, content type and body through (AWS requires at least one; Portico makes the
//! common case one line shorter).
//!
//! Must not: send anything. Cost: a render (one output string) when a template applies; the
//! backend's body is shared, not copied, when it passes through.

use std::borrow::Cow;

use base64::Engine;
use bytes::Bytes;

use super::super::template_input as input;
use super::backend::Answer;
use super::request::{self, Payload, is_binary, render, text};
use crate::context::Context;
use crate::error::{GatewayError, ResponseType};
use crate::http::head::RequestHead;
use crate::http::{breaks_header, is_hop_by_hop, is_token};
use crate::loaded::LoadedTable;
use crate::mapping::{self, Form};
use crate::request_vars::Peer;
use crate::table::mapping::Target;
use crate::table::templates::{ContentHandling, IntegrationResponse, Mapped};

const NO_RESPONSE: GatewayError = GatewayError::new(
    ResponseType::ApiConfiguration,
    "Execution failed due to configuration error: no integration response matches the backend's answer",
);
const NO_METHOD_RESPONSE: GatewayError = GatewayError::new(
    ResponseType::ApiConfiguration,
    "Execution failed due to configuration error: Output mapping refers to an invalid method response",
);
const NOT_BASE64: GatewayError = GatewayError::new(
    ResponseType::ApiConfiguration,
    "Execution failed due to configuration error: the body is not base64, which convert_to_binary needs",
);

/// What the client gets, before framing: headers checked to be sendable, framing left out.
/// Names and content types borrow from the table and the answer (no copy per request).
pub struct ClientResponse<'t> {
    pub status: u16,
    pub headers: Vec<(Cow<'t, str>, Cow<'t, str>)>,
    pub body: Payload,
    /// The integration response chosen (its index), if any.
    pub chosen: Option<usize>,
}

/// The integration response for `answer`: by its selector, else the default.
pub fn choose<'m>(
    table: &LoadedTable,
    mapped: &'m Mapped,
    answer: &Answer,
) -> Result<Option<(usize, &'m IntegrationResponse)>, GatewayError> {
    if mapped.responses.is_empty() {
        return Ok(None);
    }
    let mut digits = itoa::Buffer::new();
    let by_pattern = answer.selector(&mut digits).and_then(|selector| {
        mapped
            .responses
            .iter()
            .enumerate()
            .find(|(_, r)| r.selection_pattern.is_some_and(|p| table.patterns[p as usize].is_match(selector)))
    });
    by_pattern
        .or_else(|| mapped.responses.iter().enumerate().find(|(_, r)| r.selection_pattern.is_none()))
        .map(Some)
        .ok_or(NO_RESPONSE)
}

/// Maps the backend's answer to the client's response.
pub fn map<'t>(
    table: &LoadedTable,
    peer: Peer<'_>,
    (head, ctx): (&RequestHead, &Context),
    mapped: &'t Mapped,
    answer: &'t Answer,
) -> Result<ClientResponse<'t>, GatewayError> {
    let accept = head.first(b"accept").unwrap_or_default();
    // AWS reads only the first `Accept` type for the encoding.
    let first_accept =
        accept.split(|&b| b == b',').next().map(|a| a.split(|&b| b == b';').next().unwrap_or_default().trim_ascii());
    let accept_binary = is_binary(table, ctx, first_accept);
    let payload_binary = is_binary(table, ctx, answer.content_type.as_deref());
    let Some((chosen, r)) = choose(table, mapped, answer)? else {
        let body = convert(answer.body.clone(), payload_binary, accept_binary, None)?;
        let headers = answer.content_type().into_iter().map(|ct| (Cow::Borrowed("Content-Type"), ct)).collect();
        return checked(mapped, ClientResponse { status: answer.status, headers, body, chosen: None });
    };
    let template = r.template_for(accept).map(|(ct, t)| (ct, &table.templates[*t as usize]));
    // The `$context` values, only for header mappings or a template that reads them.
    let fields = match !r.headers.is_empty() || template.is_some_and(|(_, t)| t.usage().uses_context()) {
        true => Some(crate::request_vars::so_far(table, peer, head, ctx, r.status).ok_or(super::NO_FIELDS)?),
        false => None,
    };
    let names = crate::request_vars::route_params(table, ctx);
    let mut headers: Vec<(Cow<'t, str>, Cow<'t, str>)> = Vec::new();
    if let Some(fields) = &fields {
        let mr = mapping::Request {
            head,
            ctx,
            params: names,
            fields,
            response: answer.head.as_ref().map(|(parsed, bytes)| (parsed, &bytes[..])),
        };
        let mut value = mapping::Value::new();
        for m in &r.headers {
            if let Target::Header(name) = &m.target
                && mapping::value(&m.value, &mr, Form::Header, &mut value)
            {
                headers.push((Cow::Borrowed(name.as_str()), Cow::Owned(String::from_utf8_lossy(&value).into_owned())));
            }
        }
    }
    let mut status = r.status;
    let (body, content_type) = match template {
        Some((ct, template)) => {
            // A template reads text: binary is its base64 when asked for, else as it came.
            let source: Payload = if payload_binary && r.content_handling == Some(ContentHandling::ConvertToText) {
                base64::engine::general_purpose::STANDARD.encode(&answer.body).into()
            } else {
                Payload::Shared(answer.body.clone())
            };
            let body_text = text(&source);
            let context = input::context(fields.as_ref(), template.usage());
            let source = input::ParamSource { head, ctx, names };
            let params = input::params(&source, template.usage());
            let stage_vars = request::stage_variables(table, ctx)?;
            let rendered = render(&request::limits(mapped), template, &body_text, params, &context, stage_vars)?;
            if let Some(s) = input::status_override(&context) {
                status = s;
            }
            for (name, value) in input::overrides(&context, "responseOverride", "header") {
                if is_token(name.as_bytes()) && !breaks_header(value.as_bytes()) {
                    headers.retain(|(n, _)| !n.eq_ignore_ascii_case(&name));
                    headers.push((Cow::Owned(name), Cow::Owned(value)));
                }
            }
            let body: Payload = if r.content_handling == Some(ContentHandling::ConvertToBinary) {
                request::decode(rendered.as_bytes()).ok_or(NOT_BASE64)?.into()
            } else {
                rendered.into()
            };
            (body, Some(Cow::Borrowed(ct.as_str())))
        }
        None => {
            let body = convert(answer.body.clone(), payload_binary, accept_binary, r.content_handling)?;
            (body, answer.content_type())
        }
    };
    if let Some(ct) = content_type.filter(|_| !headers.iter().any(|(n, _)| n.eq_ignore_ascii_case("content-type"))) {
        headers.insert(0, (Cow::Borrowed("Content-Type"), ct));
    }
    // The writer frames the response and dates it.
    headers.retain(|(n, _)| !is_hop_by_hop(n.as_bytes()) && !n.eq_ignore_ascii_case("date"));
    checked(mapped, ClientResponse { status, headers, body, chosen: Some(chosen) })
}

/// AWS's 500 for a status no method response declares.
fn checked<'t>(mapped: &Mapped, response: ClientResponse<'t>) -> Result<ClientResponse<'t>, GatewayError> {
    if !mapped.method_responses.is_empty() && !mapped.method_responses.contains(&response.status) {
        return Err(NO_METHOD_RESPONSE);
    }
    Ok(response)
}

/// AWS's payload-encodings table for a response without a template: a text payload is
/// base64-decoded for a client that accepts a binary type (unless `convert_to_text`) or when
/// `convert_to_binary` says so; a binary payload is base64-encoded for a client that accepts
/// text (unless `convert_to_binary`) or when `convert_to_text` says so. Without binary media
/// types every payload is text.
pub fn convert(
    body: Bytes,
    payload_binary: bool,
    accept_binary: bool,
    handling: Option<ContentHandling>,
) -> Result<Payload, GatewayError> {
    let decode = !payload_binary
        && match handling {
            Some(ContentHandling::ConvertToBinary) => true,
            Some(ContentHandling::ConvertToText) => false,
            None => accept_binary,
        };
    let encode = payload_binary
        && match handling {
            Some(ContentHandling::ConvertToText) => true,
            Some(ContentHandling::ConvertToBinary) => false,
            None => !accept_binary,
        };
    if decode {
        return Ok(request::decode(&body).ok_or(NOT_BASE64)?.into());
    }
    if encode {
        return Ok(base64::engine::general_purpose::STANDARD.encode(&body).into());
    }
    Ok(Payload::Shared(body))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every row of AWS's response payload-encodings table.
    #[test]
    fn conversions_follow_aws_table() {
        let text = || Bytes::from_static(b"aGk=");
        let bin = || Bytes::from_static(b"hi");
        let ok = |b: Result<Payload, GatewayError>| b.ok().map(|b| b.to_vec());
        use ContentHandling::*;
        // Text payload, text Accept.
        assert_eq!(ok(convert(text(), false, false, None)), Some(b"aGk=".to_vec()));
        assert_eq!(ok(convert(text(), false, false, Some(ConvertToBinary))), Some(b"hi".to_vec()));
        assert_eq!(ok(convert(text(), false, false, Some(ConvertToText))), Some(b"aGk=".to_vec()));
        // Text payload, binary Accept.
        assert_eq!(ok(convert(text(), false, true, None)), Some(b"hi".to_vec()));
        assert_eq!(ok(convert(text(), false, true, Some(ConvertToBinary))), Some(b"hi".to_vec()));
        assert_eq!(ok(convert(text(), false, true, Some(ConvertToText))), Some(b"aGk=".to_vec()));
        // Binary payload, text Accept.
        assert_eq!(ok(convert(bin(), true, false, None)), Some(b"aGk=".to_vec()));
        assert_eq!(ok(convert(bin(), true, false, Some(ConvertToBinary))), Some(b"hi".to_vec()));
        assert_eq!(ok(convert(bin(), true, false, Some(ConvertToText))), Some(b"aGk=".to_vec()));
        // Binary payload, binary Accept.
        assert_eq!(ok(convert(bin(), true, true, None)), Some(b"hi".to_vec()));
        assert_eq!(ok(convert(bin(), true, true, Some(ConvertToBinary))), Some(b"hi".to_vec()));
        assert_eq!(ok(convert(bin(), true, true, Some(ConvertToText))), Some(b"aGk=".to_vec()));
        // Text that is not base64 cannot become binary.
        assert!(convert(Bytes::from_static(b"not base64!"), false, true, None).is_err());
    }
}
