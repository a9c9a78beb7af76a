//! Customised gateway responses (AWS's `GatewayResponse`, REST APIs): the stage's customisation
//! for an error's type (or its `DEFAULT_4XX` / `DEFAULT_5XX` family) rendered — status, header
//! values from mapping expressions, the body template chosen by the request's `Accept` — and
//! handed to [`gateway::customised`], which adds what every gateway response carries.
//!
//! Templates are AWS's simple substitution (not VTL): `$context.*` values, JSON-escaped in a
//! JSON template, a missing one rendering as nothing. Cost (error path only, and only for APIs
//! that customise): one body and a few header lines allocated.

use super::Response;
use super::gateway::{self, Custom};
use crate::error::GatewayError;
use crate::mapping::{self, Request};
use crate::table::Protocol;
use crate::table::mapping::GatewayResponse;
use crate::vars::Escape;

/// The customisation of `responses` that applies to `error`, if any.
pub fn find<'t>(
    responses: &'t [GatewayResponse],
    protocol: Protocol,
    error: &GatewayError,
) -> Option<&'t GatewayResponse> {
    let status = gateway::lookup(protocol, error.kind).status;
    crate::table::mapping::find(responses, error.kind.aws_name(), status)
}

pub fn response(protocol: Protocol, error: &GatewayError, g: &GatewayResponse, r: &Request<'_>) -> Response<'static> {
    let mut headers = Vec::new();
    let mut value = mapping::Value::new();
    for (name, source) in &g.headers {
        // A value the request lacks (or that could split the head) leaves the header out.
        if mapping::value(std::slice::from_ref(source), r, mapping::Form::Header, &mut value) {
            crate::http::encode::header(&mut headers, name.as_bytes(), &value);
        }
    }
    let body = choose(&g.templates, r.head.first(b"accept")).map(|(content_type, parts)| {
        let mut out = Vec::new();
        let how = if content_type.contains("json") { Escape::Json } else { Escape::Log };
        crate::vars::render(&mut out, parts, how, b"", r.fields);
        (content_type.as_str(), bytes::Bytes::from(out))
    });
    gateway::customised(protocol, error, Custom { status: g.status, body, headers: &headers })
}

/// The template for a client that accepts `accept`: the first one it names, else
/// `application/json`, else the first. (AWS does not document its choice: VERIFY.)
fn choose<'t, T>(templates: &'t [(String, T)], accept: Option<&[u8]>) -> Option<&'t (String, T)> {
    let accepted = |ct: &str| {
        accept.is_some_and(|a| {
            a.split(|&b| b == b',').any(|range| {
                let media = range.split(|&b| b == b';').next().unwrap_or_default().trim_ascii();
                media.eq_ignore_ascii_case(ct.as_bytes())
            })
        })
    };
    templates
        .iter()
        .find(|(ct, _)| accepted(ct))
        .or_else(|| templates.iter().find(|(ct, _)| ct == "application/json"))
        .or_else(|| templates.first())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn templates_by_accept_then_json_then_first() {
        let t = vec![("text/html".to_owned(), 1), ("application/json".to_owned(), 2), ("text/plain".to_owned(), 3)];
        assert_eq!(choose(&t, Some(b"text/plain;q=0.9, */*")).unwrap().1, 3);
        assert_eq!(choose(&t, Some(b"image/png")).unwrap().1, 2);
        assert_eq!(choose(&t, None).unwrap().1, 2);
        assert_eq!(choose(&t[..1], None).unwrap().1, 1);
        assert!(choose::<u8>(&[], None).is_none());
    }
}
