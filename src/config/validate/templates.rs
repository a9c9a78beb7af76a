//! Non-proxy HTTP integrations (`type = "http"`, AWS's `HTTP`, REST APIs only): the backend's
//! URI and method, `request_parameters`, request templates by content type (inline, or files
//! next to the config), the passthrough behaviour, and the integration responses — each a
//! `selection_pattern` on the backend's status, the client's status, `response_parameters` and
//! response templates.
//!
//! Every template is compiled here, so a template that does not parse is a `portico check`
//! error at its own line and column inside the TOML file (or its template file). Every
//! selection pattern is compiled too.

use crate::config::model::{IntegrationModel, IntegrationResponseModel, ResponseMappingModel};
use crate::config::reader::{Obj, Reader, Spanned};
use crate::config::validate::{DAY_MS, mapping, resolve_path};
use crate::table::Protocol;
use crate::table::templates::Passthrough;
use crate::vtl::{AWS_MAX_TEMPLATE, Template};

pub(super) const HTTP_KEYS: &[&str] = &[
    "type",
    "uri",
    "method",
    "timeout_ms",
    "request_parameters",
    "passthrough",
    "request_templates",
    "request_template_files",
    "responses",
    "max_template_bytes",
    "max_foreach_iterations",
];
const RESPONSE_KEYS: &[&str] = &["selection_pattern", "status", "response_parameters", "templates", "template_files"];
const METHODS: &[&str] = &["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"];

pub(super) fn read_http(r: &mut Reader<'_>, o: Obj<'_>, protocol: Protocol) -> Option<IntegrationModel> {
    r.allow_keys(o, HTTP_KEYS);
    if protocol == Protocol::Http {
        let span = r.item(o, "type").and_then(|i| i.span());
        r.error(
            span,
            "HTTP APIs have no non-proxy integrations or mapping templates (as in AWS)",
            Some("use protocol = \"rest\", or type = \"http_proxy\"".into()),
        );
        return None;
    }
    let uri = r.str(o, "uri", "like uri = \"http://${stageVariables.backend}/orders/{id}\"");
    let method = r.opt_str(o, "method").and_then(|m| {
        let upper = m.value.to_ascii_uppercase();
        if METHODS.contains(&upper.as_str()) {
            Some(upper)
        } else {
            r.error(m.span, format!("`{}` is not a method the backend can be sent", m.value), Some(METHODS.join(", ")));
            None
        }
    });
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
    let request_mappings = mapping::read_request(r, o, protocol);
    let request_templates = templates(r, o, "request_templates", "request_template_files", max_bytes);
    let mut responses = Vec::new();
    for resp in r.tables(o, "responses", "an integration response") {
        r.allow_keys(resp, RESPONSE_KEYS);
        let selection_pattern = r.opt_str(resp, "selection_pattern").and_then(|p| {
            match regex::Regex::new(&crate::table::templates::whole_status(&p.value)) {
                Ok(_) => Some(p.value),
                Err(e) => {
                    r.error(p.span, format!("not a regular expression: {e}"), None);
                    None
                }
            }
        });
        let status = r.int(resp, "status", 200, 100, 599) as u16;
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
        responses.push(IntegrationResponseModel { selection_pattern, status, headers: m.headers, templates });
    }
    let defaults = responses.iter().filter(|x| x.selection_pattern.is_none()).count();
    if defaults > 1 {
        let span = r.item(o, "responses").and_then(|i| i.span());
        r.error(span, "only one integration response may go without a `selection_pattern` (the default)", None);
    }
    Some(IntegrationModel::Http {
        uri: uri?,
        method,
        timeout_ms,
        request_mappings,
        passthrough,
        request_templates,
        responses,
        max_foreach,
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
