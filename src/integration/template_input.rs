//! What a mapping template sees of a request: `$input.params()` (the path parameters, the
//! query string and the headers, values decoded) and `$context` (the request's `$context`
//! variables, as access logs and mappings see them), as the plain values [`crate::vtl`] takes.
//!
//! Must not: render. Cost: one string per `$context` variable with a value, per request.

use crate::context::Context;
use crate::http::head::RequestHead;
use crate::http::query::{decode_into, pairs};
use crate::table::log_format::{Part, Var};
use crate::vars::{Escape, Fields};
use crate::vtl::Value;

/// `$context` paths — (group: `""` for the top level, `identity`, `authorizer`; key) — and the
/// variables behind them (the request's; not the response's).
const CONTEXT: &[(&str, &str, Var)] = &[
    ("", "requestId", Var::RequestId),
    ("", "extendedRequestId", Var::RequestId),
    ("", "httpMethod", Var::HttpMethod),
    ("", "resourcePath", Var::ResourcePath),
    ("", "path", Var::Path),
    ("", "protocol", Var::Protocol),
    ("", "requestTime", Var::RequestTime),
    ("", "requestTimeEpoch", Var::RequestTimeEpoch),
    ("", "stage", Var::Stage),
    ("", "apiId", Var::ApiId),
    ("", "domainName", Var::DomainName),
    ("", "domainPrefix", Var::DomainPrefix),
    ("identity", "sourceIp", Var::SourceIp),
    ("identity", "userAgent", Var::UserAgent),
    ("identity", "apiKeyId", Var::ApiKeyId),
    ("identity", "apiKey", Var::ApiKey),
    ("identity", "userArn", Var::IdentityUserArn),
    ("identity", "caller", Var::IdentityCaller),
    ("identity", "user", Var::IdentityCaller),
    ("identity", "accessKey", Var::IdentityAccessKey),
    ("authorizer", "principalId", Var::AuthorizerPrincipal),
];

fn text<'a>(bytes: &[u8]) -> Value<'a> {
    Value::string(String::from_utf8_lossy(bytes).into_owned())
}

/// As [`text`], borrowed when the bytes are UTF-8 (the request outlives the render).
fn borrowed(bytes: &[u8]) -> Value<'_> {
    match std::str::from_utf8(bytes) {
        Ok(s) => Value::str(s),
        Err(_) => text(bytes),
    }
}

/// A URL component decoded; borrowed when there is nothing to decode.
fn decoded(raw: &[u8]) -> Value<'_> {
    if !raw.iter().any(|&b| b == b'%' || b == b'+') {
        return borrowed(raw);
    }
    let mut out = smallvec::SmallVec::<[u8; 256]>::new();
    decode_into(&mut out, raw);
    text(&out)
}

/// `$input.params()`: `{path: {…}, querystring: {…}, header: {…}}`, in request order, the
/// first of repeated names winning (AWS gives one value per name); an empty map for a template
/// that never asks (`usage`).
pub fn params<'a>(head: &'a RequestHead, ctx: &Context, names: &'a [String], usage: &crate::vtl::Usage) -> Value<'a> {
    if !usage.params {
        return Value::map(Vec::new());
    }
    // A template that names its parameters gets only those (the lookups find the same values).
    let wanted = |name: &[u8], any_case: bool| {
        usage.param_names.as_ref().is_none_or(|names| {
            names.iter().any(|n| if any_case { n.as_bytes().eq_ignore_ascii_case(name) } else { n.as_bytes() == name })
        })
    };
    let mut path = Vec::new();
    let routed = ctx.routed_path(head);
    for (name, &(start, end)) in names.iter().zip(ctx.captures.iter()) {
        if wanted(name.as_bytes(), false) {
            path.push((Value::str(name), decoded(&routed[start as usize..end as usize])));
        }
    }
    let mut query: Vec<(Value, Value)> = Vec::new();
    for (name, value) in pairs(head.query()) {
        let name = decoded(name);
        if !query.iter().any(|(n, _)| n.as_str() == name.as_str())
            && wanted(name.as_str().unwrap_or_default().as_bytes(), false)
        {
            query.push((name, decoded(value)));
        }
    }
    let mut header: Vec<(Value, Value)> = Vec::new();
    for (name, value) in head.headers() {
        if wanted(name, true)
            && !header.iter().any(|(n, _)| n.as_str().is_some_and(|n| n.as_bytes().eq_ignore_ascii_case(name)))
        {
            header.push((borrowed(name), borrowed(value)));
        }
    }
    // Looked up only by name (`param_names`), an empty family need not exist: fewer maps made.
    let by_name = usage.param_names.is_some();
    let families = [("path", path), ("querystring", query), ("header", header)];
    Value::map(
        families
            .into_iter()
            .filter(|(_, f)| !by_name || !f.is_empty())
            .map(|(name, f)| (Value::str(name), Value::map(f)))
            .collect(),
    )
}

/// `$context`: nested maps (`identity`, `authorizer`), plus AWS's empty `requestOverride` and
/// `responseOverride` maps a template may fill — only the keys `usage` says the template reads.
pub fn context<'a>(fields: Option<&Fields<'_>>, usage: &crate::vtl::Usage) -> Value<'a> {
    if !usage.uses_context() {
        return Value::map(Vec::new());
    }
    let mut top: Vec<(Value, Value)> = Vec::with_capacity(4);
    let mut identity: Vec<(Value, Value)> = Vec::new();
    let mut authorizer: Vec<(Value, Value)> = Vec::new();
    if let Some(f) = fields {
        let mut buf = Vec::with_capacity(64);
        for &(group, key, var) in CONTEXT {
            if !usage.needs_context(if group.is_empty() { key } else { group }) {
                continue;
            }
            buf.clear();
            crate::vars::render_part(&mut buf, &Part::Var(var), Escape::Raw, b"", f);
            if buf.is_empty() {
                continue;
            }
            let value = match var {
                Var::RequestTimeEpoch => std::str::from_utf8(&buf)
                    .ok()
                    .and_then(|s| s.parse::<i64>().ok())
                    .map_or_else(|| text(&buf), Value::Long),
                _ => text(&buf),
            };
            let into = match group {
                "identity" => &mut identity,
                "authorizer" => &mut authorizer,
                _ => &mut top,
            };
            into.push((Value::str(key), value));
        }
    }
    let empty = || Value::map(Vec::new());
    if usage.needs_context("identity") {
        top.push((Value::str("identity"), Value::map(identity)));
    }
    if usage.needs_context("authorizer") {
        // What the authorizer left: a JWT's claims (`claims.sub`), a function's context entries.
        match fields.map(|f| f.authorized) {
            Some(crate::context::auth::Authorized::Jwt(jwt)) => {
                let claims = jwt.claims.iter().map(|(k, v)| (Value::string(k.clone()), Value::string(v.clone())));
                authorizer.push((Value::str("claims"), Value::map(claims.collect())));
            }
            Some(crate::context::auth::Authorized::Function(identity)) => {
                for (k, _) in &identity.context {
                    if let Some(v) = identity.value(k) {
                        authorizer.push((Value::string(k.clone()), Value::string(v.to_owned())));
                    }
                }
            }
            _ => {}
        }
        top.push((Value::str("authorizer"), Value::map(authorizer)));
    }
    if usage.needs_context("requestOverride") {
        top.push((
            Value::str("requestOverride"),
            Value::map(vec![
                (Value::str("header"), empty()),
                (Value::str("querystring"), empty()),
                (Value::str("path"), empty()),
            ]),
        ));
    }
    if usage.needs_context("responseOverride") {
        top.push((Value::str("responseOverride"), Value::map(vec![(Value::str("header"), empty())])));
    }
    Value::map(top)
}

/// `$stageVariables`.
pub fn stage_variables<'a>(variables: &'a [(String, String)]) -> Value<'a> {
    Value::map(variables.iter().map(|(k, v)| (Value::str(k), Value::str(v))).collect())
}

/// A string entry of an override map (`$context.requestOverride.header`, …) after a render:
/// the pairs a template put there.
pub fn overrides(context: &Value<'_>, which: &str, family: &str) -> Vec<(String, String)> {
    let Value::Map(top) = context else { return Vec::new() };
    let Some(Value::Map(o)) = top.borrow().get_str(which).cloned() else { return Vec::new() };
    let Some(Value::Map(f)) = o.borrow().get_str(family).cloned() else { return Vec::new() };
    let f = f.borrow();
    f.entries.iter().filter(|(_, v)| !v.is_null()).map(|(k, v)| (k.to_java_string(), v.to_java_string())).collect()
}

/// `$context.responseOverride.status`, when a template set a valid one.
pub fn status_override(context: &Value<'_>) -> Option<u16> {
    let Value::Map(top) = context else { return None };
    let Some(Value::Map(o)) = top.borrow().get_str("responseOverride").cloned() else { return None };
    let status = o.borrow().get_str("status").cloned()?;
    let code = match status {
        Value::Int(i) => u16::try_from(i).ok(),
        Value::Long(l) => u16::try_from(l).ok(),
        other => other.to_java_string().trim().parse().ok(),
    };
    code.filter(|c| (100..=599).contains(c))
}
