//! `[[api]]` with its stages and routes, and route integrations.

use super::server::addrs;
use super::templates::Kind;
use super::*;
use crate::config::mapping_expr::Dialect;
use crate::config::model::MappedBackendModel;
use crate::config::reader::{Obj, Reader};
use crate::route::key;
use crate::table::{PayloadFormat, Protocol, RouteKey};

pub(super) fn read_api(r: &mut Reader<'_>, api: Obj<'_>) -> Option<ApiModel> {
    r.allow_keys(api, API_KEYS);
    let name = r.str(api, "name", "every API needs a `name`, like name = \"petstore\"");
    let protocol = match r.opt_str(api, "protocol") {
        None => Protocol::Http,
        Some(p) => match p.value.as_str() {
            "http" => Protocol::Http,
            "rest" => Protocol::Rest,
            // AWS's WebSocket APIs are of the HTTP API family (apigatewayv2): their gateway
            // errors and stages are HTTP API's.
            "websocket" => Protocol::Http,
            other => {
                r.error(
                    p.span,
                    format!("unknown protocol `{other}`"),
                    Some("use \"http\" (AWS HTTP API), \"rest\" (AWS REST API) or \"websocket\"".into()),
                );
                Protocol::Http
            }
        },
    };
    let is_websocket = r.opt_str(api, "protocol").is_some_and(|p| p.value == "websocket");
    let websocket = is_websocket.then(|| Box::new(super::websocket::read_api(r, api)));
    if !is_websocket {
        for key in ["route_selection_expression", "websocket"] {
            if let Some(item) = r.item(api, key) {
                r.error(
                    item.span(),
                    format!("`{key}` is for WebSocket APIs"),
                    Some("set protocol = \"websocket\"".into()),
                );
            }
        }
    }
    let mut hosts = Vec::new();
    for h in r.str_list(api, "hosts") {
        if h.value.is_empty() || h.value.contains(['/', ' ', ':']) {
            r.error(
                h.span,
                format!("`{}` is not a host name", h.value),
                Some("give the name without scheme, port or path, like \"api.example.com\"".into()),
            );
        } else {
            hosts.push(h.value.to_ascii_lowercase());
        }
    }
    let listen = addrs(r, api);
    let listen_tls = super::server::tls_addrs(r, api);

    let mut stages: Vec<StageModel> = Vec::new();
    for s in r.tables(api, "stage", "[[api.stage]]") {
        r.allow_keys(s, STAGE_KEYS);
        let Some(stage_name) = r.str(s, "name", "every stage needs a `name`; \"$default\" serves at the root") else {
            continue;
        };
        let n = &stage_name.value;
        let valid = n == "$default"
            || (!n.is_empty()
                && n.len() <= 128
                && n.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_'));
        if !valid {
            r.error(
                stage_name.span.clone(),
                format!("`{n}` is not a valid stage name"),
                Some("stage names use letters, digits, `-` and `_` (at most 128), or are \"$default\"".into()),
            );
        }
        if stages.iter().any(|x| x.name.value == *n) {
            r.error(stage_name.span.clone(), format!("stage `{n}` is defined twice in this API"), None);
        }
        let mut variables = Vec::new();
        for (k, v) in r.str_map(s, "variables") {
            if k.value.is_empty()
                || k.value.len() > 64
                || !k.value.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_')
            {
                r.error(
                    k.span.clone(),
                    format!("`{}` is not a valid stage variable name", k.value),
                    Some("names use letters, digits and `_`, at most 64 (AWS's rule)".into()),
                );
            }
            let ok_value = !v.value.is_empty()
                && v.value.len() <= 512
                && v.value.bytes().all(|b| b.is_ascii_alphanumeric() || b"-._~:/?#&=,".contains(&b));
            if !ok_value {
                r.error(
                    v.span.clone(),
                    format!("stage variable `{}` has a value AWS would refuse", k.value),
                    Some("values use letters, digits and `-._~:/?#&=,`, at most 512 characters".into()),
                );
            }
            variables.push((k.value, v.value));
        }
        let access_log = read_stage_log(r, s);
        let cache = super::cache::read_stage_cache(r, s);
        let throttle = r.item(s, "throttle").and_then(|i| super::throttle::read_setting(r, i, "the stage `throttle`"));
        let route_throttle = super::throttle::read_route_throttles(r, s);
        let auth_debug = r.bool(s, "auth_debug", false);
        stages.push(StageModel {
            name: stage_name,
            variables,
            access_log,
            cache,
            throttle,
            route_throttle,
            auth_debug,
        });
    }
    if stages.is_empty() {
        r.error(
            api.span(),
            "this API has no stage",
            Some("add [[api.stage]] with name = \"prod\" (served under /prod) or \"$default\" (served at /)".into()),
        );
    }

    let mut routes = Vec::new();
    for route in r.tables(api, "route", "[[api.route]]") {
        if let Some(route) = read_route(r, route, protocol, is_websocket) {
            routes.push(route);
        }
    }
    if routes.is_empty() {
        r.error(
            api.span(),
            "this API has no route",
            Some("add [[api.route]] with a `key` like \"GET /pets/{id}\" and an `integration`".into()),
        );
    }
    let mut binary_media_types = Vec::new();
    for t in r.str_list(api, "binary_media_types") {
        let ok = t.value.split_once('/').is_some_and(|(a, b)| !a.is_empty() && !b.is_empty())
            && !t.value.bytes().any(|b| b.is_ascii_whitespace() || b == b';' || b == b',');
        if !ok {
            r.error(
                t.span.clone(),
                format!("`{}` is not a media type", t.value),
                Some("like \"image/png\", \"image/*\" or \"*/*\"".into()),
            );
        } else if protocol == Protocol::Http {
            r.error(
                t.span.clone(),
                "HTTP APIs have no binary media types (as in AWS): function events carry non-text bodies base64-encoded",
                None,
            );
        } else {
            binary_media_types.push(t.value.to_ascii_lowercase());
        }
    }
    // `paths` is read by the caller, which knows the gateway's rules it starts from.
    let paths = crate::http::path::PathRules::default();
    let authorizers = super::authorizer::read_authorizers(r, api, protocol, is_websocket);
    let resource_policy = match &name {
        Some(n) => super::authorizer::read_resource_policy(r, api, protocol, &n.value),
        None => None,
    };
    let api_key_from_authorizer = match r.opt_str(api, "api_key_source") {
        None => false,
        Some(s) if s.value.eq_ignore_ascii_case("header") => false,
        Some(s) if s.value.eq_ignore_ascii_case("authorizer") => {
            if protocol == Protocol::Http {
                r.error(s.span.clone(), "HTTP APIs have no API keys (as in AWS)", None);
            }
            true
        }
        Some(s) => {
            r.error(
                s.span,
                format!("unknown api_key_source `{}`", s.value),
                Some("use \"HEADER\" or \"AUTHORIZER\"".into()),
            );
            false
        }
    };
    let gateway_responses = super::gateway_response::read(r, api, protocol);
    let models = super::validation::read_models(r, api, protocol);
    let cors = super::cors::read(r, api);
    for route in &routes {
        if let Some(a) = &route.authorizer
            && !authorizers.iter().any(|x| x.name.value == a.value)
        {
            let names: Vec<&str> = authorizers.iter().map(|x| x.name.value.as_str()).collect();
            let hint = match crate::config::diagnostic::did_you_mean(&a.value, &names) {
                Some(n) => format!("did you mean `{n}`?"),
                None if names.is_empty() => "define it with [[api.authorizer]]".to_owned(),
                None => format!("this API's authorizers: {}", names.join(", ")),
            };
            r.error(a.span.clone(), format!("this API has no authorizer `{}`", a.value), Some(hint));
        }
    }
    Some(ApiModel {
        name: name?,
        protocol,
        hosts,
        listen,
        listen_tls,
        stages,
        routes,
        paths,
        binary_media_types,
        authorizers,
        api_key_from_authorizer,
        resource_policy,
        gateway_responses,
        models,
        cors,
        websocket,
    })
}

/// `access_log = { destination = "...", format = "..." }`; the format is compiled (and its
/// variables checked) by the compiler, which knows the stage variables and the API kind.
fn read_stage_log(r: &mut Reader<'_>, stage: Obj<'_>) -> Option<AccessLogModel> {
    let item = r.item(stage, "access_log")?;
    let o = r.obj(item, "`access_log`")?;
    r.allow_keys(o, STAGE_LOG_KEYS);
    let destination = r.str(o, "destination", "destination = \"stdout\" or a file path")?;
    if destination.value.is_empty() || destination.value.contains('\0') {
        r.error(destination.span, "the access log destination is empty", Some("use \"stdout\" or a file path".into()));
        return None;
    }
    let format = r.str(o, "format", "format = \"clf\", \"json\", or a template of $context variables")?;
    if format.value.trim().is_empty() {
        r.error(
            format.span,
            "the access log format is empty",
            Some("use \"clf\" or \"json\" for AWS's presets".into()),
        );
        return None;
    }
    let destination =
        if destination.value == "stdout" { destination.value } else { super::resolve_path(r.file, destination.value) };
    Some(AccessLogModel { destination, format })
}

fn read_route(r: &mut Reader<'_>, route: Obj<'_>, protocol: Protocol, websocket: bool) -> Option<RouteModel> {
    r.allow_keys(route, ROUTE_KEYS);
    let key = r.str(route, "key", "a route key is like \"GET /pets/{id}\", \"ANY /{proxy+}\" or \"$default\"");
    let parsed = key.as_ref().and_then(|k| match websocket {
        true => {
            super::websocket::check_key(r, k);
            Some((RouteKey::Message, Vec::new()))
        }
        false => match key::parse(&k.value) {
            Ok(p) => Some(p),
            Err(e) => {
                r.error(k.span.clone(), e.message, Some(e.hint.into()));
                None
            }
        },
    });
    let two_way = r.bool(route, "route_response", false);
    if websocket {
        super::websocket::refuse_http_only(r, route, key.as_ref().is_some_and(|k| k.value == "$connect"));
    } else if let Some(item) = r.item(route, "route_response") {
        r.error(item.span(), "`route_response` is for WebSocket routes", None);
    }
    if let (Some(k), Some((RouteKey::Default, _)), Protocol::Rest) = (&key, &parsed, protocol) {
        r.error(
            k.span.clone(),
            "REST APIs have no `$default` route",
            Some("use \"ANY /{proxy+}\" to catch everything".into()),
        );
    }
    let integration = match r.item(route, "integration") {
        None => {
            r.error(route.span(), "this route has no `integration`", Some("add integration = { type = \"http_proxy\", uri = \"http://host:port/path\" } or { type = \"mock\", ... }".into()));
            None
        }
        Some(item) => r
            .obj(item, "the integration")
            .and_then(|o| read_integration(r, o, parsed.as_ref().map(|p| p.1.as_slice()), protocol, websocket)),
    };
    if websocket && let Some(i) = &integration {
        super::websocket::check_integration(r, route, i);
    }
    let (parsed, params) = parsed?;
    let cache = super::cache::read_route_cache(r, route);
    let api_key_required = r.bool(route, "api_key_required", false);
    if api_key_required && protocol == Protocol::Http && !websocket {
        let span = r.item(route, "api_key_required").and_then(|i| i.span());
        r.error(
            span,
            "HTTP APIs have no API keys (as in AWS)",
            Some("use protocol = \"rest\" for API keys and usage plans".into()),
        );
    }
    let (authorizer, authorization_scopes) = super::authorizer::read_route_auth(r, route);
    let iam = super::authorizer::read_authorization(r, route, authorizer.is_some());
    let validation = super::validation::read_route(r, route, protocol);
    Some(RouteModel {
        key: key?,
        parsed,
        params,
        integration: integration?,
        cache,
        api_key_required,
        authorizer,
        authorization_scopes,
        iam,
        validation,
        two_way,
    })
}

/// A URI's `{name}`s must be parameters the route key captures.
fn check_uri_params(r: &mut Reader<'_>, uri: &crate::config::reader::Spanned<String>, params: &[String]) {
    for name in crate::config::uri::path_params(&uri.value) {
        if !params.contains(&name) {
            let hint = if params.is_empty() {
                "this route key has no path parameters".to_owned()
            } else {
                format!("this route's parameters: {}", params.join(", "))
            };
            r.error(
                uri.span.clone(),
                format!("the URI uses `{{{name}}}`, which the route key does not capture"),
                Some(hint),
            );
        }
    }
}

fn read_integration(
    r: &mut Reader<'_>,
    o: Obj<'_>,
    params: Option<&[String]>,
    protocol: Protocol,
    websocket: bool,
) -> Option<IntegrationModel> {
    let kind = r.str(o, "type", "integration types: \"http_proxy\", \"http\", \"function\", \"aws\", \"mock\"")?;
    match kind.value.as_str() {
        "http_proxy" => {
            r.allow_keys(o, PROXY_KEYS);
            let uri = r.str(o, "uri", "like uri = \"http://${stageVariables.backend}/pets/{id}\"");
            let timeout_ms = r.int(o, "timeout_ms", 29_000, 1, DAY_MS) as u64;
            if let (Some(uri), Some(params)) = (&uri, params) {
                check_uri_params(r, uri, params);
            }
            let request_mappings = match websocket {
                true => super::mapping::read_request_in(r, o, protocol, Dialect::WebSocket),
                false => super::mapping::read_request(r, o, protocol),
            };
            let response_mappings = super::mapping::read_response(r, o, protocol);
            Some(IntegrationModel::HttpProxy { uri: uri?, timeout_ms, request_mappings, response_mappings })
        }
        "http" | "aws" => {
            let kind = if kind.value == "http" { Kind::Http } else { Kind::Aws };
            let model = super::templates::read_mapped(r, o, protocol, kind)?;
            if let (IntegrationModel::Mapped(m), Some(params)) = (&model, params)
                && let MappedBackendModel::Http { uri, .. } = &m.backend
            {
                check_uri_params(r, uri, params);
            }
            Some(model)
        }
        "function" if matches!(r.item(o, "proxy").and_then(|i| i.as_bool()), Some(false)) => {
            super::templates::read_mapped(r, o, protocol, Kind::Function)
        }
        "mock" => {
            r.allow_keys(o, MOCK_KEYS);
            let status = r.int(o, "status", 200, 100, 599) as u16;
            let mut headers = Vec::new();
            for (k, v) in r.str_map(o, "headers") {
                if !crate::http::is_token(k.value.as_bytes()) {
                    r.error(k.span.clone(), format!("`{}` is not a valid header name", k.value), None);
                }
                if crate::http::breaks_header(v.value.as_bytes()) {
                    r.error(v.span.clone(), "header values cannot hold CR, LF or NUL", None);
                }
                let reserved = ["content-length", "transfer-encoding", "connection", "date"];
                if reserved.iter().any(|x| k.value.eq_ignore_ascii_case(x)) {
                    r.error(
                        k.span.clone(),
                        format!("`{}` is set by Portico", k.value),
                        Some("remove it from the mock's headers".into()),
                    );
                }
                headers.push((k.value, v.value));
            }
            let body = r.opt_str(o, "body").map(|b| b.value).unwrap_or_default();
            Some(IntegrationModel::Mock { status, headers, body })
        }
        "function" => {
            r.allow_keys(o, FUNCTION_INTEGRATION_KEYS);
            let target =
                r.str(o, "target", "the name of a [[function]], like target = \"orders:${stageVariables.alias}\"");
            let format = match (r.opt_str(o, "payload_format"), protocol) {
                (None, Protocol::Rest) => PayloadFormat::V1,
                (None, Protocol::Http) => PayloadFormat::V2,
                (Some(f), _) if f.value == "1.0" => PayloadFormat::V1,
                (Some(f), Protocol::Http) if f.value == "2.0" => PayloadFormat::V2,
                (Some(f), Protocol::Rest) if f.value == "2.0" => {
                    r.error(
                        f.span,
                        "REST APIs send functions payload format 1.0 only (as AWS_PROXY does)",
                        Some("remove payload_format, or use an HTTP API".into()),
                    );
                    PayloadFormat::V1
                }
                (Some(f), _) => {
                    r.error(
                        f.span,
                        format!("unknown payload format `{}`", f.value),
                        Some("use \"1.0\" or \"2.0\"".into()),
                    );
                    PayloadFormat::V1
                }
            };
            // AWS's defaults: 29 s for REST, 30 s for HTTP APIs; without AWS's cap, up to Lambda's 15 minutes.
            let default_ms = if protocol == Protocol::Rest { 29_000 } else { 30_000 };
            let timeout_ms = r.int(o, "timeout_ms", default_ms, 50, super::function::MAX_FUNCTION_MS) as u64;
            Some(IntegrationModel::Function { target: target?, format, timeout_ms })
        }
        other => {
            r.error(
                kind.span,
                format!("unknown integration type `{other}`"),
                Some("use \"http_proxy\", \"http\", \"function\", \"aws\" or \"mock\"".into()),
            );
            None
        }
    }
}
