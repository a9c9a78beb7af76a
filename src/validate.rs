//! Step 5b — request validation (AWS's request validators, REST APIs): the route's required
//! parameters must be present and non-blank, then its body must match the model for its content
//! type (the `$default` model otherwise; no model, no check — AWS's pass). A failure is AWS's 400
//! (`BAD_REQUEST_PARAMETERS` / `BAD_REQUEST_BODY`) with the reason in
//! `$context.error.validationErrorString`; the integration is never called.
//!
//! Runs after step 5, so the body is whole (the compiler buffers validated routes' bodies up to
//! the request limit). Cost: only for routes that validate; a lookup per required parameter, and
//! one JSON parse and schema walk per body ([`crate::schema`]).

use crate::context::{Context, RequestBody};
use crate::error::{GatewayError, ResponseType};
use crate::http::head::RequestHead;
use crate::schema::Schema;
use crate::table::validation::{ParamFamily, RouteValidation};

pub fn step(
    v: &RouteValidation,
    schemas: &[Schema],
    head: &RequestHead,
    ctx: &mut Context,
) -> Result<(), GatewayError> {
    if v.params {
        let missing: Vec<&str> =
            v.required.iter().filter(|r| !present(r.family, &r.name, head)).map(|r| r.name.as_str()).collect();
        if !missing.is_empty() {
            let message = format!("Missing required request parameters: [{}]", missing.join(", "));
            ctx.record.validation_error = Some(message.clone().into_boxed_str());
            return Err(GatewayError::new(ResponseType::BadRequestParameters, "required parameters missing")
                .with_message(message));
        }
    }
    if v.body {
        let media = head
            .first(b"content-type")
            .map_or(&b"application/json"[..], |ct| ct.split(|&b| b == b';').next().unwrap_or_default().trim_ascii());
        let model = v
            .models
            .iter()
            .find(|(ct, _)| ct.as_bytes().eq_ignore_ascii_case(media))
            .or_else(|| v.models.iter().find(|(ct, _)| ct == "$default"));
        if let Some(schema) = model.and_then(|&(_, m)| schemas.get(m as usize)) {
            let body = match &ctx.body {
                RequestBody::Buffered(b) => &b[..],
                _ => &[],
            };
            if let Err(why) = crate::schema::check(schema, body) {
                ctx.record.validation_error = Some(why.into_boxed_str());
                return Err(GatewayError::new(ResponseType::BadRequestBody, "request body does not match its model"));
            }
        }
    }
    Ok(())
}

/// Present and not blank (AWS's rule).
fn present(family: ParamFamily, name: &str, head: &RequestHead) -> bool {
    let blank = |v: &[u8]| v.trim_ascii().is_empty();
    match family {
        ParamFamily::Header => head.values(name.as_bytes()).any(|v| !blank(v)),
        ParamFamily::Query => crate::http::query::pairs(head.query())
            .any(|(n, v)| !blank(v) && crate::http::query::decoded_is(n, name.as_bytes())),
        // The route matched, so its path parameters are there (a segment is never empty).
        ParamFamily::Path => true,
    }
}
