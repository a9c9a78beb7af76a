//! `protocol = "websocket"`: the route selection expression, the `[api.websocket]` limits, and
//! what a WebSocket route may be (its key, `route_response`, an `http_proxy` integration).

use crate::config::model::IntegrationModel;
use crate::config::reader::{Obj, Reader, Spanned};
use crate::table::websocket::{Limits, Selector, WebSocket};

const LIMIT_KEYS: &[&str] =
    &["max_frame_bytes", "max_message_bytes", "ping_interval_ms", "idle_timeout_ms", "max_lifetime_ms"];

/// Route keys AWS gives a meaning.
const SPECIAL_KEYS: &[&str] = &["$connect", "$disconnect", "$default"];

/// The API-level settings (routes are indexed later, by the compiler).
pub(super) fn read_api(r: &mut Reader<'_>, api: Obj<'_>) -> WebSocket {
    let selection = match r.opt_str(api, "route_selection_expression") {
        None => vec![Selector::Body(vec!["action".into()])],
        Some(e) => match parse_selection(&e.value) {
            Ok(s) => s,
            Err(message) => {
                r.error(e.span, message, Some("like \"$request.body.action\" or \"${request.body.type}-v1\"".into()));
                Vec::new()
            }
        },
    };
    let mut limits = Limits::default();
    if let Some(item) = r.item(api, "websocket")
        && let Some(o) = r.obj(item, "`[api.websocket]`")
    {
        r.allow_keys(o, LIMIT_KEYS);
        let d = Limits::default();
        let max = i64::MAX / 2;
        limits.max_frame_bytes = r.int(o, "max_frame_bytes", d.max_frame_bytes as i64, 125, max) as u64;
        limits.max_message_bytes = r.int(o, "max_message_bytes", d.max_message_bytes as i64, 125, max) as u64;
        limits.ping_interval_ms = r.int(o, "ping_interval_ms", d.ping_interval_ms as i64, 100, max) as u64;
        limits.idle_timeout_ms = r.int(o, "idle_timeout_ms", d.idle_timeout_ms as i64, 100, max) as u64;
        let lifetime = r.int(o, "max_lifetime_ms", 0, 0, max) as u64;
        limits.max_lifetime_ms = (lifetime > 0).then_some(lifetime);
        if limits.idle_timeout_ms <= limits.ping_interval_ms {
            let span = r.item(o, "idle_timeout_ms").and_then(|i| i.span()).or(o.span());
            r.error(
                span,
                "idle_timeout_ms must be longer than ping_interval_ms",
                Some("the client's pong to a ping is what keeps an idle connection open".into()),
            );
        }
    }
    WebSocket { selection, two_way: Vec::new(), connect: None, disconnect: None, default: None, limits }
}

/// AWS's selection expression: `$request.body.<path>` (or `${request.body.<path>}`) among
/// literal text; `\$` is a literal `$`.
pub fn parse_selection(expr: &str) -> Result<Vec<Selector>, String> {
    let mut out: Vec<Selector> = Vec::new();
    let mut literal = String::new();
    let mut rest = expr;
    while let Some(c) = rest.chars().next() {
        if let Some(after) = rest.strip_prefix("\\$") {
            literal.push('$');
            rest = after;
            continue;
        }
        if c != '$' {
            literal.push(c);
            rest = &rest[c.len_utf8()..];
            continue;
        }
        let (name, after) = match rest.strip_prefix("${") {
            Some(braced) => {
                let end = braced.find('}').ok_or("a `${` without its `}`")?;
                (&braced[..end], &braced[end + 1..])
            }
            None => {
                let body = &rest[1..];
                let end = body
                    .find(|c: char| !(c.is_ascii_alphanumeric() || c == '.' || c == '_' || c == '-'))
                    .unwrap_or(body.len());
                (&body[..end], &body[end..])
            }
        };
        let path = name
            .strip_prefix("request.body.")
            .ok_or_else(|| format!("`${name}` is not a route selection variable: only $request.body.<path> is"))?;
        let segments: Vec<String> = path.split('.').map(str::to_owned).collect();
        if segments.iter().any(String::is_empty) {
            return Err(format!("`${name}` has an empty path segment"));
        }
        if !literal.is_empty() {
            out.push(Selector::Literal(std::mem::take(&mut literal)));
        }
        out.push(Selector::Body(segments));
        rest = after;
    }
    if !literal.is_empty() {
        out.push(Selector::Literal(literal));
    }
    if out.is_empty() {
        return Err("the route selection expression is empty".into());
    }
    Ok(out)
}

/// A WebSocket route key: `$connect`, `$disconnect`, `$default`, or a custom key (AWS: at most
/// 128 characters, no other `$` key).
pub(super) fn check_key(r: &mut Reader<'_>, key: &Spanned<String>) {
    let k = &key.value;
    if k.is_empty() || k.len() > 128 || (k.starts_with('$') && !SPECIAL_KEYS.contains(&k.as_str())) {
        r.error(
            key.span.clone(),
            format!("`{k}` is not a WebSocket route key"),
            Some("use \"$connect\", \"$disconnect\", \"$default\" or a custom key (1 to 128 characters, like \"sendmessage\")".into()),
        );
    }
}

/// What a WebSocket route's integration may be, for now: an HTTP proxy (with request parameter
/// mappings to headers and query parameters from the upgrade request, `context.*` and stage
/// variables), a function (Lambda proxy: AWS's WebSocket events), or a mock (its status decides
/// `$connect`; its body is the route response).
pub(super) fn check_integration(r: &mut Reader<'_>, route: Obj<'_>, integration: &IntegrationModel) {
    use crate::config::mapping_expr::Expr;
    use crate::table::mapping::{Source, Target};
    let span = r.item(route, "integration").and_then(|i| i.span());
    match integration {
        IntegrationModel::HttpProxy { request_mappings, response_mappings, .. } => {
            if !response_mappings.is_empty() {
                r.error(span.clone(), "response parameter mapping is not supported on WebSocket routes", None);
            }
            for m in request_mappings {
                if m.target == Target::Path {
                    r.error(m.span.clone(), "a WebSocket route's backend path is its integration URI's", None);
                }
                let path = m.value.iter().any(|e| {
                    matches!(e, Expr::Source(Source::Path(_) | Source::WholePath | Source::ResponseHeader(_)))
                });
                if path {
                    r.error(
                        m.span.clone(),
                        "a WebSocket route maps from route.request.header.*, route.request.querystring.*, context.* \
                         and stageVariables.*",
                        None,
                    );
                }
            }
        }
        IntegrationModel::Function { .. } => {}
        IntegrationModel::Mock { headers, .. } => {
            if !headers.is_empty() {
                r.error(span, "a WebSocket route's mock answers with its `status` and `body` only", None);
            }
        }
        _ => r.error(
            span,
            "WebSocket routes support `http_proxy`, `function` and `mock` integrations, for now",
            Some("integration = { type = \"http_proxy\", uri = \"http://127.0.0.1:9000/messages\" }".into()),
        ),
    }
}

/// Route options that do not apply to a WebSocket route; authorization applies to `$connect`
/// only, as on AWS (the connection is authorized once, when it opens).
pub(super) fn refuse_http_only(r: &mut Reader<'_>, route: Obj<'_>, connect: bool) {
    for key in ["api_key_required", "authorizer", "authorization"] {
        if let Some(item) = r.item(route, key).filter(|_| !connect) {
            r.error(
                item.span(),
                format!(
                    "`{key}` applies to the `$connect` route only: a WebSocket connection is authorized when it opens"
                ),
                None,
            );
        }
    }
    for key in
        ["cache", "authorization_scopes", "request_validator", "request_model", "request_models", "required_parameters"]
    {
        if let Some(item) = r.item(route, key) {
            r.error(item.span(), format!("`{key}` is not supported on WebSocket routes"), None);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn selection_expressions() {
        let b = |p: &[&str]| Selector::Body(p.iter().map(|s| s.to_string()).collect());
        let l = |s: &str| Selector::Literal(s.into());
        assert_eq!(parse_selection("$request.body.action"), Ok(vec![b(&["action"])]));
        assert_eq!(parse_selection("${request.body.a.b}-v1"), Ok(vec![b(&["a", "b"]), l("-v1")]));
        assert_eq!(parse_selection("x$request.body.t/$request.body.u"), Ok(vec![l("x"), b(&["t"]), l("/"), b(&["u"])]));
        assert_eq!(parse_selection("\\$default"), Ok(vec![l("$default")]));
        assert!(parse_selection("$request.header.x").is_err());
        assert!(parse_selection("${request.body.x").is_err());
        assert!(parse_selection("$request.body.").is_err());
        assert!(parse_selection("").is_err());
    }
}
