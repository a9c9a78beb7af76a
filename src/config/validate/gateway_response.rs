//! `[[api.gateway_response]]`: a REST API's customised gateway responses (AWS's
//! `GatewayResponse`): the type, a status, headers from mapping expressions, body templates per
//! content type. Templates are checked here and compiled per stage by the compiler.

use super::GATEWAY_RESPONSE_KEYS;
use crate::config::mapping_expr::{self, Dialect};
use crate::config::model::GatewayResponseModel;
use crate::config::reader::{Obj, Reader};
use crate::table::Protocol;
use crate::table::mapping::RESPONSE_TYPES;

/// Headers the writer owns (framing, the request id, the date) or the template's key decides.
const RESERVED: &[&str] = &[
    "content-length",
    "transfer-encoding",
    "connection",
    "date",
    "content-type",
    "x-amzn-requestid",
    "upgrade",
    "trailer",
    "keep-alive",
];

pub(super) fn read(r: &mut Reader<'_>, api: Obj<'_>, protocol: Protocol) -> Vec<GatewayResponseModel> {
    let mut out: Vec<GatewayResponseModel> = Vec::new();
    for o in r.tables(api, "gateway_response", "[[api.gateway_response]]") {
        r.allow_keys(o, GATEWAY_RESPONSE_KEYS);
        if protocol == Protocol::Http {
            r.error(
                o.span(),
                "HTTP APIs have no gateway responses (as in AWS)",
                Some("for CORS headers on every response, errors included, give the API a `cors` table".into()),
            );
            continue;
        }
        let Some(t) = r.str(o, "type", "type = \"DEFAULT_4XX\", \"THROTTLED\", ... (AWS's response types)") else {
            continue;
        };
        if !RESPONSE_TYPES.contains(&t.value.as_str()) {
            let hint = match crate::config::diagnostic::did_you_mean(&t.value, RESPONSE_TYPES) {
                Some(n) => format!("did you mean `{n}`?"),
                None => format!("AWS's types: {}", RESPONSE_TYPES.join(", ")),
            };
            r.error(t.span.clone(), format!("`{}` is not a gateway response type", t.value), Some(hint));
            continue;
        }
        if out.iter().any(|g| g.response_type == t.value) {
            r.error(t.span.clone(), format!("gateway response `{}` is customised twice", t.value), None);
            continue;
        }
        let status = r.item(o, "status").map(|_| r.int(o, "status", 0, 100, 599) as u16);
        let mut headers = Vec::new();
        for (name, value) in r.str_map(o, "headers") {
            // AWS's spelling of the key, as exports have it.
            let header = name.value.strip_prefix("gatewayresponse.header.").unwrap_or(&name.value);
            let token = crate::http::is_token(header.as_bytes());
            if !token || RESERVED.contains(&header.to_ascii_lowercase().as_str()) {
                let hint = match token {
                    true => "the gateway sets this header itself; a template's key is its content type",
                    false => "header names are RFC 9110 tokens",
                };
                r.error(
                    name.span.clone(),
                    format!("`{header}` cannot be set by a gateway response"),
                    Some(hint.into()),
                );
                continue;
            }
            match mapping_expr::parse(&value.value, Dialect::Rest) {
                Ok(mapping_expr::Expr::Source(crate::table::mapping::Source::ResponseHeader(_))) => r.error(
                    value.span.clone(),
                    "a gateway response has no integration response to read",
                    Some("use method.request.*, context.*, stageVariables.* or a 'literal'".into()),
                ),
                Ok(expr) => headers.push((header.to_owned(), expr)),
                Err(e) => r.error(value.span.clone(), e.message, Some(e.hint)),
            }
        }
        let mut templates = Vec::new();
        for (content_type, template) in r.str_map(o, "templates") {
            let ct = content_type.value.to_ascii_lowercase();
            let media = ct.split_once('/').is_some_and(|(a, b)| !a.is_empty() && !b.is_empty())
                && !ct.bytes().any(|b| b.is_ascii_control() || b == b' ');
            if !media {
                r.error(
                    content_type.span.clone(),
                    format!("`{}` is not a content type", content_type.value),
                    Some("key templates by content type, like \"application/json\"".into()),
                );
                continue;
            }
            // Names are checked here; stage variables are substituted per stage by the compiler.
            if let Err(unknown) = crate::config::log_format::compile(&template.value, |_| Some(String::new())) {
                let hint = match unknown.suggestion {
                    Some(s) => format!("did you mean `$context.{s}`?"),
                    None => "see docs/gateway-responses.md for the variables".to_owned(),
                };
                r.error(template.span.clone(), format!("unknown template variable `{}`", unknown.name), Some(hint));
                continue;
            }
            templates.push((ct, template.value));
        }
        out.push(GatewayResponseModel { response_type: t.value, status, headers, templates });
    }
    out
}
