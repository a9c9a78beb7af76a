//! An HTTP proxy integration's parameter mapping (AWS's): `request_parameters` — headers, query
//! parameters and the path of the upstream request, in HTTP APIs' spelling
//! (`"append|overwrite|remove:header.x"`, `"...:querystring.x"`, `"overwrite:path"` from
//! `$request.*`, `$context.*`, `$stageVariables.*` and literals, with `${...}` references inside
//! a literal) or REST APIs' (`"integration.request.header.x" = "method.request.header.y"`,
//! `'literal'`, `context.*`, `stageVariables.*`); and `response_parameters` — the response's
//! headers (HTTP APIs also its status) per integration status, from `$response.header.*`
//! (REST: `integration.response.header.*`) and the same sources.
//!
//! Refused here: targets the gateway owns (framing, hop-by-hop, and AWS's reserved headers on
//! HTTP APIs), literals that cannot go where they are sent (CR, LF, NUL in a header; spaces, `?`,
//! `#` in a path), sources a side does not have.

use crate::config::mapping_expr::{self, Dialect, Expr};
use crate::config::model::{ParamMappingModel, ResponseMappingModel};
use crate::config::reader::{Obj, Reader};
use crate::table::Protocol;
use crate::table::mapping::{Op, Source, Target};

/// Headers no mapping may set: framing and hop-by-hop ones, and what the gateway writes itself.
const RESERVED: &[&str] =
    &["host", "content-length", "transfer-encoding", "connection", "upgrade", "te", "trailer", "expect", "keep-alive"];

/// AWS's reserved headers for HTTP API mappings (AWS-DG `http-api-parameter-mapping`).
const HTTP_RESERVED: &[&str] = &[
    "authorization",
    "content-encoding",
    "content-location",
    "forwarded",
    "origin",
    "proxy-authenticate",
    "proxy-authorization",
    "trailers",
    "via",
    "x-forwarded-for",
    "x-forwarded-host",
    "x-forwarded-proto",
];

fn dialect(protocol: Protocol) -> Dialect {
    match protocol {
        Protocol::Http => Dialect::Http,
        Protocol::Rest => Dialect::Rest,
    }
}

fn header_refused(name: &str, protocol: Protocol) -> bool {
    RESERVED.contains(&name)
        || (protocol == Protocol::Http
            && (HTTP_RESERVED.contains(&name)
                || ["access-control-", "apigw-", "x-amz-", "x-amzn-"].iter().any(|p| name.starts_with(p))))
}

pub(super) fn read_request(r: &mut Reader<'_>, o: Obj<'_>, protocol: Protocol) -> Vec<ParamMappingModel> {
    read_request_in(r, o, protocol, dialect(protocol))
}

/// As [`read_request`], in dialect `d` (a WebSocket route's, whose API is an HTTP one).
pub(super) fn read_request_in(
    r: &mut Reader<'_>,
    o: Obj<'_>,
    protocol: Protocol,
    d: Dialect,
) -> Vec<ParamMappingModel> {
    let mut out = Vec::new();
    for (target, source) in r.str_map(o, "request_parameters") {
        let (op, target_parsed) = match mapping_expr::parse_request_target(&target.value, d) {
            Ok(t) => t,
            Err(e) => {
                r.error(target.span.clone(), e.message, Some(e.hint));
                continue;
            }
        };
        if let Target::Header(h) = &target_parsed
            && header_refused(h, protocol)
        {
            r.error(
                target.span.clone(),
                format!("`{h}` cannot be set by a mapping"),
                Some("the gateway owns it (AWS reserves it too)".into()),
            );
            continue;
        }
        let Some(value) = read_value(r, &source, d, op, &target_parsed, false) else { continue };
        out.push(ParamMappingModel { target: target_parsed, op, value, span: source.span.clone() });
    }
    out
}

pub(super) fn read_response(r: &mut Reader<'_>, o: Obj<'_>, protocol: Protocol) -> Vec<ResponseMappingModel> {
    let d = dialect(protocol);
    let Some(item) = r.item(o, "response_parameters") else { return Vec::new() };
    let mut out = Vec::new();
    match protocol {
        // REST: one flat table, for every status.
        Protocol::Rest => {
            let mut m = ResponseMappingModel { status: None, status_code: None, headers: Vec::new() };
            read_response_map(r, o, "response_parameters", d, protocol, &mut m);
            out.push(m);
        }
        // HTTP APIs: by the integration's status.
        Protocol::Http => {
            let Some(table) = item.as_table_like() else {
                r.error(
                    item.span(),
                    "`response_parameters` is a table keyed by status, like { \"404\" = { ... } }",
                    None,
                );
                return out;
            };
            let statuses: Vec<(String, Option<std::ops::Range<usize>>)> = table
                .iter()
                .map(|(k, _)| (k.to_owned(), table.get_key_value(k).and_then(|(key, _)| key.span())))
                .collect();
            let Some(inner) = r.obj(item, "`response_parameters`") else { return out };
            for (status, span) in statuses {
                let code = status.parse::<u16>().ok().filter(|c| (100..=599).contains(c));
                let Some(code) = code else {
                    r.error(
                        span,
                        format!("`{status}` is not a status code"),
                        Some("key response mappings by the integration's status, 100 to 599".into()),
                    );
                    continue;
                };
                let mut m = ResponseMappingModel { status: Some(code), status_code: None, headers: Vec::new() };
                read_response_map(r, inner, &status, d, protocol, &mut m);
                out.push(m);
            }
        }
    }
    out
}

pub(super) fn read_response_map(
    r: &mut Reader<'_>,
    o: Obj<'_>,
    key: &str,
    d: Dialect,
    protocol: Protocol,
    m: &mut ResponseMappingModel,
) {
    for (target, source) in r.str_map(o, key) {
        match mapping_expr::parse_response_target(&target.value, d) {
            Err(e) => r.error(target.span.clone(), e.message, Some(e.hint)),
            // A bodyless status (1xx, 204, 304) cannot carry the integration's body.
            Ok(None) => {
                match source.value.parse::<u16>().ok().filter(|c| (200..=599).contains(c) && *c != 204 && *c != 304) {
                    Some(code) => m.status_code = Some(code),
                    None => r.error(
                        source.span.clone(),
                        "`overwrite:statuscode` takes a status from 200 to 599 that has a body (not 204 or 304)",
                        None,
                    ),
                }
            }
            Ok(Some((op, name))) => {
                if header_refused(&name, protocol)
                    || name == "date"
                    || name == "apigw-requestid"
                    || name == "x-amzn-requestid"
                {
                    r.error(
                        target.span.clone(),
                        format!("`{name}` cannot be set by a mapping"),
                        Some("the gateway owns it".into()),
                    );
                    continue;
                }
                let t = Target::Header(name);
                if let Some(value) = read_value(r, &source, d, op, &t, true) {
                    m.headers.push(ParamMappingModel { target: t, op, value, span: source.span.clone() });
                }
            }
        }
    }
}

fn read_value(
    r: &mut Reader<'_>,
    source: &crate::config::reader::Spanned<String>,
    d: Dialect,
    op: Op,
    target: &Target,
    response: bool,
) -> Option<Vec<Expr>> {
    if op == Op::Remove {
        return Some(Vec::new());
    }
    let value = match mapping_expr::parse_value(&source.value, d) {
        Ok(v) => v,
        Err(e) => {
            r.error(source.span.clone(), e.message, Some(e.hint));
            return None;
        }
    };
    for piece in &value {
        let problem = match (piece, target) {
            (Expr::Source(Source::ResponseHeader(_)), _) if !response => {
                Some("a request mapping has no response to read")
            }
            (Expr::Source(Source::Literal(l)), Target::Path | Target::Query(_))
                if l.bytes().any(|b| {
                    b <= b' '
                        || b == b'#'
                        || b == 0x7f
                        || (b == b'?' && *target == Target::Path)
                        || (b == b'&' && *target != Target::Path)
                }) =>
            {
                Some(
                    "a literal in a URL cannot hold spaces, control bytes, `#`, or (in a path) `?` / (in a query value) `&`",
                )
            }
            _ => None,
        };
        if let Some(problem) = problem {
            r.error(source.span.clone(), problem, None);
            return None;
        }
    }
    if *target == Target::Path
        && let Some(Expr::Source(Source::Literal(l))) = value.first()
        && !l.starts_with('/')
    {
        r.error(source.span.clone(), "a mapped path starts with `/`", None);
        return None;
    }
    Some(value)
}
