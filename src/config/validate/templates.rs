//! Non-proxy integrations (REST APIs only): `type = "http"` (AWS's `HTTP`: a URI and method),
//! `type = "function"` with `proxy = false` and `type = "aws"` (AWS's `AWS`: a function, or an
//! AWS service by its integration ARN, an endpoint and credentials). All have request templates
//! by content type (inline, or files next to the config), the passthrough behaviour, content
//! handling, method responses and the integration responses — each a `selection_pattern` on the
//! backend's status or a function's `errorMessage`, the client's status, `response_parameters`,
//! response templates and content handling.
//!
//! Every template is compiled here, so a template that does not parse is a `portico check`
//! error at its own line and column inside the TOML file (or its template file). Every
//! selection pattern is compiled too.

use crate::config::model::{
    IntegrationModel, IntegrationResponseModel, MappedBackendModel, MappedModel, ResponseMappingModel,
};
use crate::config::reader::{Obj, Reader, Spanned};
use crate::config::validate::{DAY_MS, mapping, resolve_path};
use crate::table::Protocol;
use crate::table::templates::{ContentHandling, Passthrough};
use crate::vtl::{AWS_MAX_TEMPLATE, Template};

/// Keys every non-proxy integration has.
const COMMON_KEYS: &[&str] = &[
    "type",
    "timeout_ms",
    "passthrough",
    "content_handling",
    "request_templates",
    "request_template_files",
    "responses",
    "method_responses",
    "max_template_bytes",
    "max_foreach_iterations",
];
const HTTP_KEYS: &[&str] = &["uri", "method", "request_parameters"];
const FUNCTION_KEYS: &[&str] = &["target", "proxy"];
const AWS_KEYS: &[&str] = &[
    "uri",
    "endpoint",
    "method",
    "request_parameters",
    "access_key_id_env",
    "secret_access_key_env",
    "session_token_env",
];
const RESPONSE_KEYS: &[&str] =
    &["selection_pattern", "status", "response_parameters", "templates", "template_files", "content_handling"];
const METHODS: &[&str] = &["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"];

/// Which non-proxy integration is being read.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(super) enum Kind {
    Http,
    Function,
    Aws,
}

pub(super) fn read_mapped(r: &mut Reader<'_>, o: Obj<'_>, protocol: Protocol, kind: Kind) -> Option<IntegrationModel> {
    let own = match kind {
        Kind::Http => HTTP_KEYS,
        Kind::Function => FUNCTION_KEYS,
        Kind::Aws => AWS_KEYS,
    };
    let keys: Vec<&str> = COMMON_KEYS.iter().chain(own).copied().collect();
    r.allow_keys(o, &keys);
    if protocol == Protocol::Http {
        let span = r.item(o, "type").and_then(|i| i.span());
        r.error(
            span,
            "HTTP APIs have no non-proxy integrations or mapping templates (as in AWS)",
            Some("use protocol = \"rest\", or a proxy integration".into()),
        );
        return None;
    }
    let backend = match kind {
        Kind::Http => {
            let uri = r.str(o, "uri", "like uri = \"http://${stageVariables.backend}/orders/{id}\"");
            let method = method(r, o);
            let request_mappings = mapping::read_request(r, o, protocol);
            MappedBackendModel::Http { uri: uri?, method, request_mappings }
        }
        Kind::Function => {
            let target = r.str(o, "target", "the name of a [[function]], like target = \"orders\"");
            MappedBackendModel::Function { target: target? }
        }
        Kind::Aws => read_aws(r, o, protocol)?,
    };
    let timeout_ms = r.int(o, "timeout_ms", 29_000, 1, DAY_MS) as u64;
    // AWS's limit by default; an operator with bigger templates may raise it.
    let max_bytes = r.int(o, "max_template_bytes", AWS_MAX_TEMPLATE as i64, 1, 64 * 1024 * 1024) as usize;
    let max_foreach = r.int(o, "max_foreach_iterations", 1000, 1, 10_000_000) as u32;
    let passthrough = match r.opt_str(o, "passthrough") {
        None => Passthrough::WhenNoMatch,
        Some(p) => match p.value.as_str() {
            "when_no_match" => Passthrough::WhenNoMatch,
            "when_no_templates" => Passthrough::WhenNoTemplates,
            "never" => Passthrough::Never,
            other => {
                r.error(
                    p.span,
                    format!("unknown passthrough behaviour `{other}`"),
                    Some("use \"when_no_match\", \"when_no_templates\" or \"never\"".into()),
                );
                Passthrough::WhenNoMatch
            }
        },
    };
    let request_handling = content_handling(r, o);
    let request_templates = templates(r, o, "request_templates", "request_template_files", max_bytes);
    let method_responses: Vec<u16> =
        r.int_list(o, "method_responses", 599).into_iter().filter(|&s| s >= 100).map(|s| s as u16).collect();
    let mut responses = Vec::new();
    for resp in r.tables(o, "responses", "an integration response") {
        r.allow_keys(resp, RESPONSE_KEYS);
        let selection_pattern = r.opt_str(resp, "selection_pattern").and_then(|p| {
            match regex::Regex::new(&crate::table::templates::whole_match(&p.value)) {
                Ok(_) => Some(p.value),
                Err(e) => {
                    r.error(p.span, format!("not a regular expression: {e}"), None);
                    None
                }
            }
        });
        let status = r.int(resp, "status", 200, 100, 599) as u16;
        if !method_responses.is_empty() && !method_responses.contains(&status) {
            let span = r.item(resp, "status").and_then(|i| i.span()).or_else(|| resp.span());
            // AWS refuses an integration response for a status no method response declares.
            r.error(
                span,
                format!("status {status} is not one of the method responses {method_responses:?}"),
                Some("add it to method_responses".into()),
            );
        }
        let mut m = ResponseMappingModel { status: None, status_code: None, headers: Vec::new() };
        mapping::read_response_map(
            r,
            resp,
            "response_parameters",
            crate::config::mapping_expr::Dialect::Rest,
            protocol,
            &mut m,
        );
        let templates = templates(r, resp, "templates", "template_files", max_bytes);
        let response_handling = content_handling(r, resp);
        responses.push(IntegrationResponseModel {
            selection_pattern,
            status,
            headers: m.headers,
            templates,
            content_handling: response_handling,
        });
    }
    let defaults = responses.iter().filter(|x| x.selection_pattern.is_none()).count();
    if defaults > 1 {
        let span = r.item(o, "responses").and_then(|i| i.span());
        r.error(span, "only one integration response may go without a `selection_pattern` (the default)", None);
    }
    Some(IntegrationModel::Mapped(Box::new(MappedModel {
        backend,
        timeout_ms,
        passthrough,
        content_handling: request_handling,
        request_templates,
        responses,
        method_responses,
        max_foreach,
    })))
}

fn method(r: &mut Reader<'_>, o: Obj<'_>) -> Option<String> {
    r.opt_str(o, "method").and_then(|m| {
        let upper = m.value.to_ascii_uppercase();
        if METHODS.contains(&upper.as_str()) {
            Some(upper)
        } else {
            r.error(m.span, format!("`{}` is not a method the backend can be sent", m.value), Some(METHODS.join(", ")));
            None
        }
    })
}

fn content_handling(r: &mut Reader<'_>, o: Obj<'_>) -> Option<ContentHandling> {
    let c = r.opt_str(o, "content_handling")?;
    match c.value.as_str() {
        "convert_to_text" => Some(ContentHandling::ConvertToText),
        "convert_to_binary" => Some(ContentHandling::ConvertToBinary),
        other => {
            r.error(
                c.span,
                format!("unknown content handling `{other}`"),
                Some("use \"convert_to_text\" or \"convert_to_binary\"".into()),
            );
            None
        }
    }
}

/// `type = "aws"`: AWS's service integration URI (`arn:aws:apigateway:{region}:{service}:path/…`
/// or `…:action/{Action}`), the endpoint, the method and the signing credentials (read from the
/// environment now, so a missing one is a config error rather than a failing request).
fn read_aws(r: &mut Reader<'_>, o: Obj<'_>, protocol: Protocol) -> Option<MappedBackendModel> {
    let uri = r.str(o, "uri", "like uri = \"arn:aws:apigateway:us-east-1:sqs:path/123456789012/orders\"");
    let method = method(r, o).unwrap_or_else(|| "POST".to_owned());
    let request_mappings = mapping::read_request(r, o, protocol);
    let credentials = super::function::read_credentials(r, o, "AWS service integrations");
    let uri = uri?;
    let parsed = uri.value.strip_prefix("arn:aws:apigateway:").and_then(|rest| {
        let mut parts = rest.splitn(3, ':');
        let (region, service, what) = (parts.next()?, parts.next()?, parts.next()?);
        let path = if let Some(path) = what.strip_prefix("path/") {
            format!("/{path}")
        } else {
            let action = what.strip_prefix("action/")?;
            let (action, query) = action.split_once('&').map_or((action, None), |(a, q)| (a, Some(q)));
            format!("/?Action={action}{}", query.map(|q| format!("&{q}")).unwrap_or_default())
        };
        let simple =
            |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-');
        (simple(region) && simple(service) && !path.bytes().any(|b| b <= b' ' || b == b'#' || b >= 0x7f))
            .then(|| (region.to_owned(), service.to_owned(), path))
    });
    let Some((region, service, path)) = parsed else {
        r.error(
            uri.span,
            format!("`{}` is not an AWS service integration URI", uri.value),
            Some("arn:aws:apigateway:{region}:{service}:path/{path} or arn:aws:apigateway:{region}:{service}:action/{Action}".into()),
        );
        return None;
    };
    if service == "lambda" {
        r.error(
            uri.span,
            "a Lambda function is a [[function]] with a `lambda` target",
            Some("use type = \"function\" with proxy = false".into()),
        );
        return None;
    }
    let endpoint = r.opt_str(o, "endpoint").unwrap_or_else(|| Spanned {
        value: format!("https://{service}.{region}.amazonaws.com"),
        span: uri.span.clone(),
    });
    Some(MappedBackendModel::Aws {
        service,
        region,
        path,
        endpoint,
        method,
        credentials: credentials?,
        request_mappings,
    })
}

/// `key` (content type → template) and `file_key` (content type → file), every template
/// compiled; `(content type lower-case, text)`.
fn templates(r: &mut Reader<'_>, o: Obj<'_>, key: &str, file_key: &str, max_bytes: usize) -> Vec<(String, String)> {
    let mut out: Vec<(String, String)> = Vec::new();
    let inline = r.str_map(o, key).into_iter().map(|(ct, t)| (ct, t, None));
    let files: Vec<_> = r
        .str_map(o, file_key)
        .into_iter()
        .filter_map(|(ct, f)| {
            let path = resolve_path(r.file, f.value.clone());
            match std::fs::read_to_string(&path) {
                Ok(text) => Some((ct, Spanned { value: text, span: f.span.clone() }, Some(path))),
                Err(e) => {
                    r.error(f.span, format!("cannot read `{path}`: {e}"), None);
                    None
                }
            }
        })
        .collect();
    for (ct, text, file) in inline.collect::<Vec<_>>().into_iter().chain(files) {
        let media = ct.value.trim().to_ascii_lowercase();
        let valid = media
            .split_once('/')
            .is_some_and(|(t, s)| crate::http::is_token(t.as_bytes()) && crate::http::is_token(s.as_bytes()));
        if !valid {
            r.error(
                ct.span.clone(),
                format!("`{}` is not a content type", ct.value),
                Some("like \"application/json\"".into()),
            );
            continue;
        }
        if out.iter().any(|(m, _)| *m == media) {
            r.error(ct.span.clone(), format!("a second template for `{media}`"), None);
            continue;
        }
        if text.value.len() > max_bytes {
            r.error(
                text.span.clone(),
                format!("the template is {} bytes, over the limit of {max_bytes}", text.value.len()),
                Some("raise max_template_bytes on the integration (AWS allows 300 KB)".into()),
            );
            continue;
        }
        if let Err(e) = Template::compile(&text.value) {
            match &file {
                Some(path) => {
                    let (line, col) = crate::vtl::line_col(&text.value, e.at);
                    r.error(text.span.clone(), format!("{path}:{line}:{col}: {}", e.message), None);
                }
                None => {
                    let at = content_offset(r.src, text.span.clone(), e.at);
                    r.error(at.map(|a| a..a + 1), format!("template error: {}", e.message), None);
                }
            }
            continue;
        }
        out.push((media, text.value));
    }
    out
}

/// Where byte `at` of a string's content sits in the TOML source, given the span of the string
/// as written. Exact for literal strings (`'…'`, `'''…'''`, what templates use); for basic
/// strings, whose escapes shift bytes, the string's start.
fn content_offset(src: &str, span: Option<std::ops::Range<usize>>, at: usize) -> Option<usize> {
    let span = span?;
    let raw = src.get(span.clone())?;
    let skip = if let Some(rest) = raw.strip_prefix("'''") {
        3 + if rest.starts_with("\r\n") { 2 } else { usize::from(rest.starts_with('\n')) }
    } else if raw.starts_with('\'') {
        1
    } else {
        return Some(span.start);
    };
    Some((span.start + skip + at).min(span.end.saturating_sub(1)))
}
