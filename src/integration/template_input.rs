//! What a mapping template sees of a request: `$input.params()` (the path parameters, the
//! query string and the headers, values decoded) and `$context` (the request's `$context`
//! variables, as access logs and mappings see them), as the plain values [`crate::vtl`] takes.
//!
//! Must not: render. Cost: one string per `$context` variable a template reads; `$input.params`
//! is a lookup by name (no maps) unless the template takes the whole map or computes a name.

use crate::context::Context;
use crate::http::head::RequestHead;
use crate::http::query::{decode_into, pairs};
use crate::table::log_format::{Part, Var};
use crate::vars::{Escape, Fields};
use crate::vtl::{self, Str, Value};

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

/// Bytes as a string the value owns: one allocation (the shared string itself).
fn text<'a>(bytes: &[u8]) -> Value<'a> {
    Value::Str(Str::Shared(std::rc::Rc::from(&*String::from_utf8_lossy(bytes))))
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

/// A request's parameters, for `$input.params`.
pub struct ParamSource<'a> {
    pub head: &'a RequestHead,
    pub ctx: &'a Context,
    /// The route's path parameter names, in capture order.
    pub names: &'a [String],
}

impl<'a> vtl::ParamLookup<'a> for ParamSource<'a> {
    /// As a lookup in the map [`params`] builds: the path, then the first query parameter of
    /// that (decoded) name, then the first header of that name in any case.
    fn param(&self, name: &str) -> Value<'a> {
        let routed = self.ctx.routed_path(self.head);
        for (n, &(start, end)) in self.names.iter().zip(self.ctx.captures.iter()) {
            if n == name {
                return decoded(&routed[start as usize..end as usize]);
            }
        }
        for (n, value) in pairs(self.head.query()) {
            if decoded(n).as_str() == Some(name) {
                return decoded(value);
            }
        }
        for (n, value) in self.head.headers() {
            if n.eq_ignore_ascii_case(name.as_bytes()) {
                return borrowed(value);
            }
        }
        Value::str("")
    }
}

/// `$input.params` for a template: a lookup by name when every call names its parameter by a
/// literal (or there is none: `usage`), else the whole map — `{path: {…}, querystring: {…},
/// header: {…}}`, in request order, the first of repeated names winning (AWS gives one value
/// per name).
pub fn params<'a>(source: &'a ParamSource<'a>, usage: &vtl::Usage) -> vtl::Params<'a> {
    if !usage.params || usage.param_names.is_some() {
        return vtl::Params::Lookup(source);
    }
    let ParamSource { head, ctx, names } = *source;
    let mut path = Vec::new();
    let routed = ctx.routed_path(head);
    for (name, &(start, end)) in names.iter().zip(ctx.captures.iter()) {
        path.push((Value::str(name), decoded(&routed[start as usize..end as usize])));
    }
    let mut query: Vec<(Value, Value)> = Vec::new();
    for (name, value) in pairs(head.query()) {
        let name = decoded(name);
        if !query.iter().any(|(n, _)| n.as_str() == name.as_str()) {
            query.push((name, decoded(value)));
        }
    }
    let mut header: Vec<(Value, Value)> = Vec::new();
    for (name, value) in head.headers() {
        if !header.iter().any(|(n, _)| n.as_str().is_some_and(|n| n.as_bytes().eq_ignore_ascii_case(name))) {
            header.push((borrowed(name), borrowed(value)));
        }
    }
    let families = [("path", path), ("querystring", query), ("header", header)];
    vtl::Params::Map(Value::map(families.into_iter().map(|(name, f)| (Value::str(name), Value::map(f))).collect()))
}

/// `$context`: nested maps (`identity`, `authorizer`), plus AWS's empty `requestOverride` and
/// `responseOverride` maps a template may fill — only the keys `usage` says the template reads
/// (null for a template that reads none).
pub fn context<'a>(fields: Option<&Fields<'a>>, usage: &crate::vtl::Usage) -> Value<'a> {
    if !usage.uses_context() {
        // Nothing can read it (`usage` sees every `$context` reference): nothing to build.
        return Value::Null;
    }
    let mut top: Vec<(Value, Value)> = Vec::with_capacity(4);
    let mut identity: Vec<(Value, Value)> = Vec::new();
    let mut authorizer: Vec<(Value, Value)> = Vec::new();
    if let Some(f) = fields {
        // Allocated only for a variable that is not borrowed.
        let mut buf = Vec::new();
        for &(group, key, var) in CONTEXT {
            if !usage.needs_context(if group.is_empty() { key } else { group }) {
                continue;
            }
            if let Some(v) = borrowed_var(var, f) {
                // As rendered raw, where an empty value is left out.
                if !v.is_empty() {
                    top.push((Value::str(key), Value::str(v)));
                }
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

/// The top-level variables whose text `fields` holds as it renders raw: borrowed, not copied.
fn borrowed_var<'a>(var: Var, f: &Fields<'a>) -> Option<&'a str> {
    match var {
        Var::RequestId => Some(f.request_id),
        Var::ResourcePath => Some(f.resource_path),
        Var::Stage => Some(f.stage),
        Var::ApiId => Some(f.api),
        _ => None,
    }
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
