//! The request side of a non-proxy integration: the body the backend gets — rendered by the
//! template for the request's content type, passed through, or refused with 415 by the
//! passthrough behaviour, converted between text and binary as `content_handling` says — and
//! what the template put in `$context.requestOverride`.
//!
//! AWS's content handling for a request (its payload-encodings table): a text body stays text
//! unless `convert_to_binary` base64-decodes it (after the template, if one applies); a body
//! whose content type is one of the API's `binary_media_types` is binary: it passes as it came,
//! no template applied, unless `convert_to_text` base64-encodes it — then it is text, templates
//! and all (`$input.body` is the base64).
//!
//! Must not: send anything. Cost: one template render (one output string) when a template
//! applies; a passed-through body is shared, not copied.

use std::borrow::Cow;

use base64::Engine;
use bytes::Bytes;

use super::super::template_input as input;
use crate::context::{Context, RequestBody};
use crate::error::{GatewayError, ResponseType};
use crate::function::request::media_type_matches;
use crate::http::head::RequestHead;
use crate::loaded::LoadedTable;
use crate::table::templates::{ContentHandling, Mapped, Passthrough};
use crate::vars::Fields;
use crate::vtl;

const UNSUPPORTED: GatewayError =
    GatewayError::new(ResponseType::UnsupportedMediaType, "no request template for the content type");
pub(crate) const TEMPLATE_FAILED: GatewayError = GatewayError::new(
    ResponseType::ApiConfiguration,
    "Execution failed due to configuration error: a mapping template failed",
);
const NOT_BASE64: GatewayError = GatewayError::new(
    ResponseType::BadRequest,
    "the body is not base64, which content_handling = convert_to_binary needs",
);
const RENDERED_NOT_BASE64: GatewayError = GatewayError::new(
    ResponseType::ApiConfiguration,
    "Execution failed due to configuration error: the request template's output is not base64 (convert_to_binary)",
);

/// A body: shared with the request or the backend's answer when it passes through, owned when
/// a template or a conversion made it (an owned `Vec` needs no shared header the way a `Bytes`
/// made from one does).
pub enum Payload {
    Shared(Bytes),
    Owned(Vec<u8>),
}

impl std::ops::Deref for Payload {
    type Target = [u8];
    fn deref(&self) -> &[u8] {
        match self {
            Payload::Shared(b) => b,
            Payload::Owned(v) => v,
        }
    }
}

impl Drop for Payload {
    /// A body the gateway made goes back to the render buffers.
    fn drop(&mut self) {
        if let Payload::Owned(v) = self {
            super::buffers::give(std::mem::take(v));
        }
    }
}

impl From<Vec<u8>> for Payload {
    fn from(v: Vec<u8>) -> Self {
        Payload::Owned(v)
    }
}

impl From<String> for Payload {
    fn from(s: String) -> Self {
        Payload::Owned(s.into_bytes())
    }
}

/// What the backend gets, before the backend's own framing; `'r`: the request's head.
pub struct Prepared<'r> {
    pub body: Payload,
    /// The body's content type: the request's (its media type, when a template rendered it),
    /// borrowed from the request unless it had to be lower-cased or was not UTF-8.
    pub content_type: Option<Cow<'r, str>>,
    /// `$context.requestOverride.{header,querystring,path}`.
    pub header_overrides: Vec<(String, String)>,
    pub query_overrides: Vec<(String, String)>,
    pub path_overrides: Vec<(String, String)>,
    /// The template that rendered the body, if one did.
    pub template: Option<u32>,
}

/// A body as text: borrowed when it is UTF-8 (the common case, checked with SIMD: a 1 KB body
/// in about a third of the time `std`'s check takes), else with U+FFFD for what is not.
pub(crate) fn text(bytes: &[u8]) -> Cow<'_, str> {
    match simdutf8::basic::from_utf8(bytes) {
        Ok(s) => Cow::Borrowed(s),
        Err(_) => String::from_utf8_lossy(bytes),
    }
}

/// The media type of a `Content-Type` value, lower-case (borrowed when it already is); AWS
/// reads a request without one as `application/json`.
pub(crate) fn media_type(value: Option<&[u8]>) -> Cow<'_, str> {
    let media = value.map(|v| v.split(|&b| b == b';').next().unwrap_or_default().trim_ascii()).unwrap_or_default();
    if media.is_empty() {
        return Cow::Borrowed("application/json");
    }
    match text(media) {
        Cow::Borrowed(m) if !m.bytes().any(|b| b.is_ascii_uppercase()) => Cow::Borrowed(m),
        other => Cow::Owned(other.to_ascii_lowercase()),
    }
}

/// Renders `template` over `body` into a new string; a failure is logged and is AWS's 500.
pub(crate) fn render<'a>(
    limits: &vtl::Limits,
    template: &'a vtl::Template,
    body: &'a str,
    params: vtl::Params<'a>,
    context: &vtl::Value<'a>,
    stage_variables: &'a [(String, String)],
) -> Result<String, GatewayError> {
    // Only a template that reads them gets the stage's variables.
    let stage_variables =
        if template.usage().stage_variables { input::stage_variables(stage_variables) } else { vtl::Value::Null };
    let req = vtl::Request { body, params, context: context.clone(), stage_variables };
    // A reused buffer, or room for a typical output, so small renders do not grow the string
    // step by step. (An empty buffer is always UTF-8.)
    let mut out = String::from_utf8(super::buffers::take(512)).unwrap_or_default();
    match template.render(req, limits, &mut out) {
        Ok(()) => Ok(out),
        Err(e) => {
            log::warn!("mapping template failed at byte {}: {e}", e.at);
            Err(TEMPLATE_FAILED)
        }
    }
}

pub(crate) fn limits(mapped: &Mapped) -> vtl::Limits {
    vtl::Limits { max_foreach: mapped.max_foreach as usize, ..vtl::Limits::default() }
}

/// The stage's variables of a routed request.
pub(crate) fn stage_variables<'t>(
    table: &'t LoadedTable,
    ctx: &Context,
) -> Result<&'t [(String, String)], GatewayError> {
    let (api, stage) = ctx.api_stage.ok_or(super::NO_FIELDS)?;
    Ok(&table.table.apis[api as usize].stages[stage as usize].variables)
}

/// Whether a `Content-Type` (or `Accept` item) is one of the API's binary media types.
pub(crate) fn is_binary(table: &LoadedTable, ctx: &Context, content_type: Option<&[u8]>) -> bool {
    let Some((api, _)) = ctx.api_stage else { return false };
    let binary = &table.table.apis[api as usize].binary_media_types;
    !binary.is_empty() && content_type.is_some_and(|t| media_type_matches(binary, t))
}

/// The request side of `mapped` for a routed request whose body was received whole.
pub fn prepare<'r>(
    table: &LoadedTable,
    fields: &Fields<'_>,
    head: &'r RequestHead,
    ctx: &Context,
    mapped: &Mapped,
) -> Result<Prepared<'r>, GatewayError> {
    let body: Bytes = match &ctx.body {
        RequestBody::Buffered(b) => b.clone(),
        _ => Bytes::new(),
    };
    let content_type = head.first(b"content-type");
    let handling = mapped.request.content_handling;
    // The client's content type goes along when the body passes through.
    let passed_type = || content_type.map(text);
    let mut prepared = Prepared {
        body: Payload::Shared(body),
        content_type: None,
        header_overrides: Vec::new(),
        query_overrides: Vec::new(),
        path_overrides: Vec::new(),
        template: None,
    };
    if is_binary(table, ctx, content_type) {
        if handling != Some(ContentHandling::ConvertToText) {
            // Binary passes as it came: templates are for text.
            prepared.content_type = passed_type();
            return Ok(prepared);
        }
        prepared.body = base64::engine::general_purpose::STANDARD.encode(&*prepared.body).into();
    }
    let media = media_type(content_type);
    let Some(template_index) = mapped.request.find(&media) else {
        let passes = match mapped.request.passthrough {
            Passthrough::WhenNoMatch => true,
            Passthrough::WhenNoTemplates => mapped.request.templates.is_empty(),
            Passthrough::Never => false,
        };
        if !passes {
            return Err(UNSUPPORTED);
        }
        if handling == Some(ContentHandling::ConvertToBinary) {
            prepared.body = decode(&prepared.body).ok_or(NOT_BASE64)?.into();
        }
        prepared.content_type = passed_type();
        return Ok(prepared);
    };
    let template = &table.templates[template_index as usize];
    let context = input::context(Some(fields), template.usage());
    let names = crate::request_vars::route_params(table, ctx);
    let source = input::ParamSource { head, ctx, names };
    let params = input::params(&source, template.usage());
    let body_text = text(&prepared.body);
    let rendered = render(&limits(mapped), template, &body_text, params, &context, stage_variables(table, ctx)?)?;
    if template.usage().needs_context("requestOverride") {
        prepared.header_overrides = input::overrides(&context, "requestOverride", "header");
        prepared.query_overrides = input::overrides(&context, "requestOverride", "querystring");
        prepared.path_overrides = input::overrides(&context, "requestOverride", "path");
    }
    prepared.body = if handling == Some(ContentHandling::ConvertToBinary) {
        decode(rendered.as_bytes()).ok_or(RENDERED_NOT_BASE64)?.into()
    } else {
        rendered.into()
    };
    prepared.content_type = Some(media);
    prepared.template = Some(template_index);
    Ok(prepared)
}

/// Base64 (standard alphabet, padding optional, surrounding whitespace ignored) to bytes.
pub(crate) fn decode(text: &[u8]) -> Option<Vec<u8>> {
    let engine = base64::engine::GeneralPurpose::new(
        &base64::alphabet::STANDARD,
        base64::engine::GeneralPurposeConfig::new()
            .with_decode_padding_mode(base64::engine::DecodePaddingMode::Indifferent),
    );
    engine.decode(text.trim_ascii()).ok()
}
