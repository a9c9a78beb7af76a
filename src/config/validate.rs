//! Reading the TOML document into the validated [`Config`] model, collecting every error.
//!
//! Checks here are about one config in isolation: types, ranges, names, route keys, references
//! between APIs, stages and domains. Checks that need the compiled form (stage variables in
//! integration URIs, route conflicts) are the compiler's.

use std::net::SocketAddr;

use toml_edit::ImDocument;

use super::diagnostic::Diagnostic;
use super::model::*;
use super::reader::{Obj, Reader, Spanned};
use crate::http::head::HEADER_COUNT_CEILING;
use crate::route::key;
use crate::table::{Limits, Protocol, RouteKey, UpstreamSettings, WorkerSettings};

const TOP_KEYS: &[&str] = &["server", "workers", "limits", "upstream", "api", "domain"];
const SERVER_KEYS: &[&str] = &["listen", "workers", "pin_workers", "drain_timeout_ms", "backlog"];
const WORKERS_KEYS: &[&str] =
    &["count", "cpus", "pin", "ring_entries", "max_connections", "read_buffer_bytes", "upstream_buffer_bytes"];
const LIMITS_KEYS: &[&str] = &[
    "max_header_bytes",
    "max_header_count",
    "max_uri_bytes",
    "max_body_bytes",
    "header_timeout_ms",
    "idle_timeout_ms",
    "body_timeout_ms",
];
const UPSTREAM_KEYS: &[&str] = &["connect_timeout_ms", "pool_idle_max_per_upstream", "pool_idle_timeout_ms"];
const API_KEYS: &[&str] = &["name", "protocol", "hosts", "listen", "stage", "route"];
const STAGE_KEYS: &[&str] = &["name", "variables"];
const ROUTE_KEYS: &[&str] = &["key", "integration"];
const PROXY_KEYS: &[&str] = &["type", "uri", "timeout_ms"];
const MOCK_KEYS: &[&str] = &["type", "status", "headers", "body"];
const DOMAIN_KEYS: &[&str] = &["name", "listen", "mapping"];
const MAPPING_KEYS: &[&str] = &["base_path", "api", "stage"];

const DAY_MS: i64 = 86_400_000;

/// Parses and validates `src` (the contents of `file`).
pub fn validate(file: &str, src: &str) -> Result<Config, Vec<Diagnostic>> {
    let doc = match ImDocument::parse(src) {
        Ok(doc) => doc,
        Err(e) => {
            let message = e.message().trim().to_owned();
            return Err(vec![Diagnostic::new(file, src, e.span(), format!("invalid TOML: {message}"), None)]);
        }
    };
    let mut r = Reader::new(file, src);
    let root = Obj { table: doc.as_table(), span: Some((0, 0)), what: "the config" };
    r.allow_keys(root, TOP_KEYS);

    let mut config = Config {
        listen: vec![SocketAddr::from(([127, 0, 0, 1], 8080))],
        workers: WorkerSettings {
            count: None,
            cpus: Vec::new(),
            pin: false,
            ring_entries: 1024,
            max_connections: 65_536,
            read_buffer_bytes: 4096,
            upstream_buffer_bytes: 16 * 1024,
        },
        limits: Limits {
            max_header_bytes: 10_240,
            max_header_count: 100,
            max_uri_bytes: 8192,
            max_body_bytes: 10 * 1024 * 1024,
            header_timeout_ms: 10_000,
            idle_timeout_ms: 60_000,
            body_timeout_ms: 30_000,
        },
        upstream: UpstreamSettings {
            connect_timeout_ms: 5000,
            pool_idle_max_per_upstream: 1024,
            pool_idle_timeout_ms: 60_000,
        },
        drain_timeout_ms: 10_000,
        backlog: 4096,
        apis: Vec::new(),
        domains: Vec::new(),
    };
    read_server(&mut r, root, &mut config);
    read_limits(&mut r, root, &mut config);
    for api in r.tables(root, "api", "[[api]]") {
        if let Some(api) = read_api(&mut r, api) {
            if let Some(first) = config.apis.iter().find(|a| a.name.value == api.name.value) {
                let line = Diagnostic::new(file, src, first.name.span.clone(), "", None).line;
                r.error(
                    api.name.span.clone(),
                    format!("two APIs are named `{}`", api.name.value),
                    Some(format!("the first is on line {line}")),
                );
            }
            config.apis.push(api);
        }
    }
    for domain in r.tables(root, "domain", "[[domain]]") {
        if let Some(d) = read_domain(&mut r, domain, &config.apis) {
            config.domains.push(d);
        }
    }
    if config.apis.is_empty() && r.errors.is_empty() {
        r.error(
            Some(0..0),
            "the config defines no API",
            Some("add an [[api]] table with a [[api.stage]] and a [[api.route]]".into()),
        );
    }
    if r.errors.is_empty() {
        Ok(config)
    } else {
        r.errors.sort_by_key(|e| (e.line, e.column));
        Err(r.errors)
    }
}

fn read_server(r: &mut Reader<'_>, root: Obj<'_>, config: &mut Config) {
    let mut count_from_server = None;
    if let Some(item) = r.item(root, "server")
        && let Some(server) = r.obj(item, "[server]")
    {
        r.allow_keys(server, SERVER_KEYS);
        if let Some(item) = r.item(server, "listen") {
            config.listen = addrs(r, server);
            if item.as_array().is_some_and(|a| a.is_empty()) {
                r.error(
                    server.span(),
                    "`listen` in [server] is empty",
                    Some("give at least one address, like \"127.0.0.1:8080\"".into()),
                );
            }
        }
        count_from_server = worker_count(r, server, "workers");
        config.workers.pin = r.bool(server, "pin_workers", false);
        config.drain_timeout_ms = r.int(server, "drain_timeout_ms", 10_000, 0, DAY_MS) as u64;
        config.backlog = r.int(server, "backlog", 4096, 1, 65_535) as i32;
    }
    if let Some(item) = r.item(root, "workers")
        && let Some(workers) = r.obj(item, "[workers]")
    {
        r.allow_keys(workers, WORKERS_KEYS);
        let count = worker_count(r, workers, "count");
        if count.is_some() && count_from_server.is_some() {
            let span = r.item(workers, "count").and_then(|i| i.span());
            r.error(
                span,
                "the worker count is set twice",
                Some("set it in [server] `workers` or in [workers] `count`, not both".into()),
            );
        }
        count_from_server = count_from_server.or(count);
        config.workers.cpus = r.int_list(workers, "cpus", 4095).into_iter().map(|c| c as usize).collect();
        if r.item(workers, "pin").is_some() {
            config.workers.pin = r.bool(workers, "pin", false);
        }
        config.workers.ring_entries = r.int(workers, "ring_entries", 1024, 256, 32_768) as u32;
        config.workers.max_connections = r.int(workers, "max_connections", 65_536, 1, 1 << 24) as usize;
        config.workers.read_buffer_bytes = r.int(workers, "read_buffer_bytes", 4096, 1024, 1 << 20) as usize;
        config.workers.upstream_buffer_bytes =
            r.int(workers, "upstream_buffer_bytes", 16 * 1024, 1024, 1 << 22) as usize;
    }
    config.workers.count = count_from_server.flatten();
}

/// `"auto"` (→ `Some(None)`) or a positive integer (→ `Some(Some(n))`); `None` when absent.
fn worker_count(r: &mut Reader<'_>, obj: Obj<'_>, key: &str) -> Option<Option<usize>> {
    let item = r.item(obj, key)?;
    if item.as_str() == Some("auto") {
        return Some(None);
    }
    match item.as_integer() {
        Some(n) if (1..=1024).contains(&n) => Some(Some(n as usize)),
        _ => {
            r.error(item.span(), format!("`{key}` must be \"auto\" or a number of workers from 1 to 1024"), None);
            None
        }
    }
}

fn addrs(r: &mut Reader<'_>, obj: Obj<'_>) -> Vec<SocketAddr> {
    let mut out = Vec::new();
    for a in r.str_list(obj, "listen") {
        match a.value.parse::<SocketAddr>() {
            Ok(addr) => out.push(addr),
            Err(_) => r.error(
                a.span,
                format!("`{}` is not an address and port", a.value),
                Some("write it like \"127.0.0.1:8080\" or \"[::1]:8080\"".into()),
            ),
        }
    }
    out
}

fn read_limits(r: &mut Reader<'_>, root: Obj<'_>, config: &mut Config) {
    if let Some(item) = r.item(root, "limits")
        && let Some(o) = r.obj(item, "[limits]")
    {
        r.allow_keys(o, LIMITS_KEYS);
        let l = &mut config.limits;
        l.max_header_bytes = r.int(o, "max_header_bytes", 10_240, 256, 1 << 20) as usize;
        l.max_header_count = r.int(o, "max_header_count", 100, 1, HEADER_COUNT_CEILING as i64) as usize;
        l.max_uri_bytes = r.int(o, "max_uri_bytes", 8192, 64, 1 << 20) as usize;
        l.max_body_bytes = r.int(o, "max_body_bytes", 10 * 1024 * 1024, 0, i64::MAX) as u64;
        l.header_timeout_ms = r.int(o, "header_timeout_ms", 10_000, 1, DAY_MS) as u64;
        l.idle_timeout_ms = r.int(o, "idle_timeout_ms", 60_000, 1, DAY_MS) as u64;
        l.body_timeout_ms = r.int(o, "body_timeout_ms", 30_000, 1, DAY_MS) as u64;
    }
    if let Some(item) = r.item(root, "upstream")
        && let Some(o) = r.obj(item, "[upstream]")
    {
        r.allow_keys(o, UPSTREAM_KEYS);
        let u = &mut config.upstream;
        u.connect_timeout_ms = r.int(o, "connect_timeout_ms", 5000, 1, DAY_MS) as u64;
        u.pool_idle_max_per_upstream = r.int(o, "pool_idle_max_per_upstream", 1024, 0, 1 << 20) as usize;
        u.pool_idle_timeout_ms = r.int(o, "pool_idle_timeout_ms", 60_000, 1, DAY_MS) as u64;
    }
}

fn read_api(r: &mut Reader<'_>, api: Obj<'_>) -> Option<ApiModel> {
    r.allow_keys(api, API_KEYS);
    let name = r.str(api, "name", "every API needs a `name`, like name = \"petstore\"");
    let protocol = match r.opt_str(api, "protocol") {
        None => Protocol::Http,
        Some(p) => match p.value.as_str() {
            "http" => Protocol::Http,
            "rest" => Protocol::Rest,
            "websocket" => {
                r.error(p.span, "WebSocket APIs are not supported yet", Some("use \"http\" or \"rest\"".into()));
                Protocol::Http
            }
            other => {
                r.error(
                    p.span,
                    format!("unknown protocol `{other}`"),
                    Some("use \"http\" (AWS HTTP API) or \"rest\" (AWS REST API)".into()),
                );
                Protocol::Http
            }
        },
    };
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
        stages.push(StageModel { name: stage_name, variables });
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
        if let Some(route) = read_route(r, route, protocol) {
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
    Some(ApiModel { name: name?, protocol, hosts, listen, stages, routes })
}

fn read_route(r: &mut Reader<'_>, route: Obj<'_>, protocol: Protocol) -> Option<RouteModel> {
    r.allow_keys(route, ROUTE_KEYS);
    let key = r.str(route, "key", "a route key is like \"GET /pets/{id}\", \"ANY /{proxy+}\" or \"$default\"");
    let parsed = key.as_ref().and_then(|k| match key::parse(&k.value) {
        Ok(p) => Some(p),
        Err(e) => {
            r.error(k.span.clone(), e.message, Some(e.hint.into()));
            None
        }
    });
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
        Some(item) => {
            r.obj(item, "the integration").and_then(|o| read_integration(r, o, parsed.as_ref().map(|p| p.1.as_slice())))
        }
    };
    let (parsed, params) = parsed?;
    Some(RouteModel { key: key?, parsed, params, integration: integration? })
}

fn read_integration(r: &mut Reader<'_>, o: Obj<'_>, params: Option<&[String]>) -> Option<IntegrationModel> {
    let kind = r.str(o, "type", "integration types: \"http_proxy\", \"mock\"")?;
    match kind.value.as_str() {
        "http_proxy" => {
            r.allow_keys(o, PROXY_KEYS);
            let uri = r.str(o, "uri", "like uri = \"http://${stageVariables.backend}/pets/{id}\"");
            let timeout_ms = r.int(o, "timeout_ms", 29_000, 1, DAY_MS) as u64;
            if let (Some(uri), Some(params)) = (&uri, params) {
                for name in super::uri::path_params(&uri.value) {
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
            Some(IntegrationModel::HttpProxy { uri: uri?, timeout_ms })
        }
        "mock" => {
            r.allow_keys(o, MOCK_KEYS);
            let status = r.int(o, "status", 200, 100, 599) as u16;
            let mut headers = Vec::new();
            for (k, v) in r.str_map(o, "headers") {
                let name_ok = !k.value.is_empty()
                    && k.value.bytes().all(|b| b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b));
                if !name_ok {
                    r.error(k.span.clone(), format!("`{}` is not a valid header name", k.value), None);
                }
                if v.value.bytes().any(|b| b == b'\r' || b == b'\n' || b == 0) {
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
        other => {
            r.error(
                kind.span,
                format!("unknown integration type `{other}`"),
                Some("use \"http_proxy\" or \"mock\"".into()),
            );
            None
        }
    }
}

fn read_domain(r: &mut Reader<'_>, d: Obj<'_>, apis: &[ApiModel]) -> Option<DomainModel> {
    r.allow_keys(d, DOMAIN_KEYS);
    let name = r.str(d, "name", "the host name clients use, like name = \"api.example.com\"");
    let listen = addrs(r, d);
    let mut mappings = Vec::new();
    for m in r.tables(d, "mapping", "[[domain.mapping]]") {
        r.allow_keys(m, MAPPING_KEYS);
        let base = r.opt_str(m, "base_path").map(|b| b.value).unwrap_or_default();
        let base_path: Vec<String> = if base.is_empty() || base == "(none)" {
            Vec::new()
        } else {
            base.trim_matches('/').split('/').map(str::to_owned).collect()
        };
        if base_path.iter().any(|s| s.is_empty() || !s.bytes().all(key::is_path_char)) {
            let span = r.item(m, "base_path").and_then(|i| i.span());
            r.error(
                span,
                format!("`{base}` is not a valid base path"),
                Some("like \"v1\" or \"orders/v2\"; empty or \"(none)\" maps the whole domain".into()),
            );
        }
        let api_name = r.str(m, "api", "the name of the [[api]] this base path maps to");
        let stage_name = r.str(m, "stage", "the stage of that API");
        let (Some(api_name), Some(stage_name)) = (api_name, stage_name) else {
            continue;
        };
        let Some(api) = apis.iter().position(|a| a.name.value == api_name.value) else {
            r.error(api_name.span, format!("no API is named `{}`", api_name.value), None);
            continue;
        };
        let Some(stage) = apis[api].stages.iter().position(|s| s.name.value == stage_name.value) else {
            r.error(stage_name.span, format!("API `{}` has no stage `{}`", api_name.value, stage_name.value), None);
            continue;
        };
        if mappings.iter().any(|x: &MappingModel| x.base_path == base_path) {
            r.error(d.span(), format!("base path `{base}` is mapped twice"), None);
        }
        mappings.push(MappingModel { base_path, api, stage });
    }
    if let Some(n) = &name {
        if n.value.is_empty() || n.value.contains(['/', ' ', ':']) {
            r.error(n.span.clone(), format!("`{}` is not a host name", n.value), None);
        }
        if mappings.is_empty() {
            r.error(
                n.span.clone(),
                format!("domain `{}` has no mapping", n.value),
                Some("add [[domain.mapping]] with api and stage".into()),
            );
        }
    }
    let mut name = name?;
    name.value = name.value.to_ascii_lowercase();
    Some(DomainModel { name: Spanned { value: name.value, span: name.span }, listen, mappings })
}
