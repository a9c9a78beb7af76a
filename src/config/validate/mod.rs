//! Reading the TOML document into the validated [`Config`] model, collecting every error.
//!
//! Checks here are about one config in isolation: types, ranges, names, route keys, references
//! between APIs, stages and domains. Checks that need the compiled form (stage variables in
//! integration URIs, route conflicts) are the compiler's.

use std::net::SocketAddr;

use toml_edit::ImDocument;

mod api;
mod authorizer;
pub mod cache;
mod cluster;
mod cors;
mod domain;
mod function;
mod gateway_response;
pub mod keys;
mod mapping;
mod paths;
mod server;
mod templates;
mod throttle;
mod tls;
mod validation;
mod websocket;

use super::diagnostic::Diagnostic;
use super::model::*;
use super::reader::{Obj, Reader, Spanned};
use crate::table::{Limits, UpstreamSettings, WorkerSettings};

/// Parses and validates `src` (the contents of `file`). Returns the model of everything that was
/// valid together with the errors found, so the compiler can look for more in the same pass;
/// `Err` only when the file is not TOML at all.
pub fn validate(file: &str, src: &str) -> Result<(Config, Vec<Diagnostic>), Vec<Diagnostic>> {
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
            body_deadline_ms: 60_000,
            buffer_body_bytes: 64 * 1024,
        },
        upstream: UpstreamSettings {
            ca_bundle: None,
            insecure_skip_verify: false,
            connect_timeout_ms: 5000,
            pool_idle_max_per_upstream: 1024,
            pool_idle_timeout_ms: 60_000,
            allow_link_local: false,
        },
        drain_timeout_ms: 10_000,
        backlog: 4096,
        admin: None,
        listen_tls: Vec::new(),
        tls: (10_000, 4096, None),
        throttle: None,
        cluster: None,
        access_log: crate::table::AccessLogSettings { buffer_bytes: 256 * 1024 },
        apis: Vec::new(),
        domains: Vec::new(),
        api_keys: Vec::new(),
        usage_plans: Vec::new(),
        quota_state_file: String::new(),
        paths: crate::http::path::PathRules::default(),
        trusted_proxies: Vec::new(),
        functions: Vec::new(),
        iam_credentials: Vec::new(),
    };
    server::read_server(&mut r, root, &mut config);
    server::read_limits(&mut r, root, &mut config);
    config.paths = paths::read_rules(&mut r, root, "[paths]", config.paths).unwrap_or(config.paths);
    server::read_observability(&mut r, root, &mut config);
    config.tls = tls::read_tls(&mut r, root);
    config.throttle = throttle::read_account(&mut r, root);
    config.cluster = cluster::read_cluster(&mut r, root);
    for api_obj in r.tables(root, "api", "[[api]]") {
        let api = api_obj;
        if let Some(mut api) = api::read_api(&mut r, api) {
            api.paths = paths::read_rules(&mut r, api_obj, "an API's `paths`", config.paths).unwrap_or(config.paths);
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
    let keys = keys::read_keys(&mut r, root);
    config.usage_plans = keys::read_plans(&mut r, root, &config.apis, &keys);
    config.api_keys = keys.into_iter().map(|(_, k)| k).collect();
    config.quota_state_file = keys::read_state_file(&mut r, root);
    config.functions = function::read_functions(&mut r, root);
    config.iam_credentials = authorizer::read_iam_credentials(&mut r, root);
    for domain in r.tables(root, "domain", "[[domain]]") {
        if let Some(d) = domain::read_domain(&mut r, domain, &config.apis) {
            config.domains.push(d);
        }
    }
    // An invalid `[cluster]` has its own error; this one is for configs without the table.
    if r.item(root, "cluster").is_none()
        && let Some(span) = r.global_limits.first().cloned()
    {
        r.error(
            span,
            "`global` limits need a Redis shared by the fleet: [cluster] redis = \"redis://...\"",
            Some(format!("add a [cluster] table, or drop `global` ({} in this config)", r.global_limits.len())),
        );
    }
    if config.apis.is_empty() && r.errors.is_empty() {
        r.error(
            Some(0..0),
            "the config defines no API",
            Some("add an [[api]] table with a [[api.stage]] and a [[api.route]]".into()),
        );
    }
    Ok((config, r.errors))
}

pub(super) const TOP_KEYS: &[&str] = &[
    "server",
    "workers",
    "limits",
    "paths",
    "upstream",
    "admin",
    "access_log",
    "tls",
    "throttle",
    "quota",
    "cluster",
    "api",
    "domain",
    "api_key",
    "usage_plan",
    "function",
    "iam_credential",
];
pub(super) const ADMIN_KEYS: &[&str] = &["listen", "allow_remote", "token_env", "token_file"];
pub(super) const ACCESS_LOG_KEYS: &[&str] = &["buffer_bytes"];
pub(super) const STAGE_LOG_KEYS: &[&str] = &["destination", "format"];
pub(super) const SERVER_KEYS: &[&str] =
    &["listen", "listen_tls", "workers", "pin_workers", "drain_timeout_ms", "backlog", "trusted_proxies"];
pub(super) const WORKERS_KEYS: &[&str] =
    &["count", "cpus", "pin", "ring_entries", "max_connections", "read_buffer_bytes", "upstream_buffer_bytes"];
pub(super) const LIMITS_KEYS: &[&str] = &[
    "max_header_bytes",
    "max_header_count",
    "max_uri_bytes",
    "max_body_bytes",
    "header_timeout_ms",
    "idle_timeout_ms",
    "body_timeout_ms",
    "body_deadline_ms",
    "buffer_body_bytes",
];
pub(super) const UPSTREAM_KEYS: &[&str] = &[
    "connect_timeout_ms",
    "pool_idle_max_per_upstream",
    "pool_idle_timeout_ms",
    "ca_bundle",
    "insecure_skip_verify",
    "allow_link_local",
];
pub(super) const API_KEYS: &[&str] = &[
    "name",
    "protocol",
    "hosts",
    "listen",
    "listen_tls",
    "paths",
    "stage",
    "route",
    "binary_media_types",
    "authorizer",
    "api_key_source",
    "resource_policy",
    "resource_policy_file",
    "gateway_response",
    "model",
    "cors",
    "route_selection_expression",
    "websocket",
];
pub(super) const CORS_KEYS: &[&str] =
    &["allow_origins", "allow_methods", "allow_headers", "expose_headers", "max_age_s", "allow_credentials"];
pub(super) const MODEL_KEYS: &[&str] = &["name", "schema", "schema_file"];
pub(super) const GATEWAY_RESPONSE_KEYS: &[&str] = &["type", "status", "headers", "templates"];
pub(super) const PATHS_KEYS: &[&str] = &["merge_slashes", "escaped_slashes", "allow_semicolons"];
pub(super) const STAGE_KEYS: &[&str] =
    &["name", "variables", "access_log", "cache", "throttle", "route_throttle", "auth_debug"];
pub(super) const ROUTE_KEYS: &[&str] = &[
    "key",
    "integration",
    "cache",
    "api_key_required",
    "authorizer",
    "authorization_scopes",
    "authorization",
    "request_validator",
    "request_model",
    "request_models",
    "required_parameters",
    "route_response",
];
pub(super) const PROXY_KEYS: &[&str] = &["type", "uri", "timeout_ms", "request_parameters", "response_parameters"];
pub(super) const FUNCTION_INTEGRATION_KEYS: &[&str] = &["type", "target", "proxy", "payload_format", "timeout_ms"];
pub(super) const FUNCTION_KEYS: &[&str] = &[
    "name",
    "url",
    "lambda",
    "command",
    "env",
    "working_dir",
    "timeout_ms",
    "memory_mb",
    "region",
    "concurrency",
    "queue_timeout_ms",
];
pub(super) const LAMBDA_KEYS: &[&str] =
    &["function_name", "region", "endpoint", "access_key_id_env", "secret_access_key_env", "session_token_env"];
pub(super) const MOCK_KEYS: &[&str] = &["type", "status", "headers", "body"];
pub(super) const DOMAIN_KEYS: &[&str] = &["name", "listen", "listen_tls", "mapping", "certificate", "mtls"];
pub(super) const MAPPING_KEYS: &[&str] = &["base_path", "api", "stage"];

pub(super) const DAY_MS: i64 = 86_400_000;

/// A secret given by an environment variable (`env_key`) or a file (`file_key`, relative to the
/// config; trimmed). `None` when neither key is present; `Some(None)` when the one given cannot be
/// read (reported). Both keys at once are the caller's error to report.
pub(super) fn read_secret(r: &mut Reader<'_>, obj: Obj<'_>, env_key: &str, file_key: &str) -> Option<Option<String>> {
    if let Some(e) = r.opt_str(obj, env_key) {
        return Some(match std::env::var(&e.value) {
            Ok(v) => Some(v.trim().to_owned()),
            Err(_) => {
                r.error(e.span, format!("environment variable `{}` is not set", e.value), None);
                None
            }
        });
    }
    let f = r.opt_str(obj, file_key)?;
    let path = resolve_path(r.file, f.value);
    Some(match std::fs::read_to_string(&path) {
        Ok(v) => Some(v.trim().to_owned()),
        Err(e) => {
            r.error(f.span, format!("cannot read `{path}`: {e}"), None);
            None
        }
    })
}

/// A document given inline (`key`) or by a file (`file_key`, relative to the config), with the
/// span of what was written. `None` when neither is given or the one given cannot be read
/// (reported); both at once is an error.
pub(super) fn text_or_file(r: &mut Reader<'_>, obj: Obj<'_>, key: &str, file_key: &str) -> Option<Spanned<String>> {
    match (r.opt_str(obj, key), r.opt_str(obj, file_key)) {
        (Some(_), Some(f)) => {
            r.error(f.span, format!("give `{key}` or `{file_key}`, not both"), None);
            None
        }
        (Some(t), None) => Some(t),
        (None, Some(f)) => {
            let path = resolve_path(r.file, f.value.clone());
            match std::fs::read_to_string(&path) {
                Ok(t) => Some(Spanned { value: t, span: f.span }),
                Err(e) => {
                    r.error(f.span, format!("cannot read `{path}`: {e}"), None);
                    None
                }
            }
        }
        (None, None) => None,
    }
}

/// A path as written in the config, resolved against the config file's directory when relative.
pub(super) fn resolve_path(file: &str, p: String) -> String {
    let base = std::path::Path::new(file).parent().unwrap_or(std::path::Path::new("."));
    let path = std::path::Path::new(&p);
    if path.is_absolute() { p } else { base.join(path).to_string_lossy().into_owned() }
}
