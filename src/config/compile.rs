//! The config compiler: validated model → flat [`Table`].
//!
//! Substitutes stage variables into every integration (one per stage and route), deduplicates
//! upstreams, assigns APIs and domains to listeners, sorts base-path mappings longest first, and
//! checks route conflicts with the same router the workers build. Never imports the runtime.

use std::net::SocketAddr;

use super::diagnostic::Diagnostic;
use super::model::{Config, IntegrationModel};
use super::uri;
use crate::access_log::format;
use crate::route::Router;
use crate::table::*;

pub fn compile(file: &str, src: &str, config: &Config) -> Result<Table, Vec<Diagnostic>> {
    let mut errors = Vec::new();
    let mut upstreams: Vec<Upstream> = Vec::new();
    let mut apis = Vec::new();
    for api in &config.apis {
        let routes: Vec<Route> = api
            .routes
            .iter()
            .map(|r| Route { key: r.key.value.clone(), parsed: r.parsed.clone(), params: r.params.clone() })
            .collect();
        if let Err(conflict) = Router::build(&routes, api.protocol == Protocol::Rest) {
            let first = &api.routes[conflict.first as usize].key;
            let second = &api.routes[conflict.second as usize].key;
            let line = Diagnostic::new(file, src, first.span.clone(), "", None).line;
            errors.push(Diagnostic::new(
                file,
                src,
                second.span.clone(),
                format!("route `{}` has the same method and path as `{}`", second.value, first.value),
                Some(format!("the first is on line {line}; parameter names do not make paths different")),
            ));
        }
        let mut stages = Vec::new();
        for stage in &api.stages {
            let mut integrations = Vec::new();
            for route in &api.routes {
                let integration = match &route.integration {
                    IntegrationModel::Mock { status, headers, body } => {
                        Integration::Mock(Mock { status: *status, headers: headers.clone(), body: body.clone() })
                    }
                    IntegrationModel::HttpProxy { uri: template, timeout_ms } => {
                        let substituted = match uri::substitute(&template.value, &stage.variables) {
                            Ok(s) => s,
                            Err(missing) => {
                                for name in missing {
                                    errors.push(Diagnostic::new(
                                        file,
                                        src,
                                        template.span.clone(),
                                        format!("stage `{}` has no variable `{name}`", stage.name.value),
                                        Some(missing_variable_hint(&name, &stage.variables)),
                                    ));
                                }
                                continue;
                            }
                        };
                        match uri::parse(&substituted, &route.params) {
                            Ok(parsed)
                                if !config.upstream.allow_link_local
                                    && parsed
                                        .host
                                        .trim_start_matches('[')
                                        .trim_end_matches(']')
                                        .parse()
                                        .is_ok_and(crate::table::is_link_local_or_metadata) =>
                            {
                                errors.push(Diagnostic::new(
                                    file,
                                    src,
                                    template.span.clone(),
                                    format!("`{}` is a link-local or cloud metadata address", parsed.host),
                                    Some("an integration there could fetch the node's credentials; set [upstream] allow_link_local = true if you mean it".into()),
                                ));
                                continue;
                            }
                            Ok(parsed) => {
                                let upstream = Upstream { host: parsed.host, port: parsed.port, tls: parsed.tls };
                                let index = match upstreams.iter().position(|u| *u == upstream) {
                                    Some(i) => i,
                                    None => {
                                        upstreams.push(upstream);
                                        upstreams.len() - 1
                                    }
                                };
                                Integration::HttpProxy(HttpProxy {
                                    uri: substituted,
                                    upstream: index as u32,
                                    path: parsed.path,
                                    query: parsed.query,
                                    timeout_ms: *timeout_ms,
                                })
                            }
                            Err(message) => {
                                let hint = (substituted != template.value)
                                    .then(|| format!("in stage `{}` it reads `{substituted}`", stage.name.value));
                                errors.push(Diagnostic::new(file, src, template.span.clone(), message, hint));
                                continue;
                            }
                        }
                    }
                };
                integrations.push(integration);
            }
            let access_log = stage.access_log.as_ref().and_then(|log| {
                let rest = api.protocol == Protocol::Rest;
                let template = format::preset(&log.format.value, rest).unwrap_or(&log.format.value);
                let lookup = |name: &str| stage.variables.iter().find(|(k, _)| k == name).map(|(_, v)| v.clone());
                match format::compile(template, lookup) {
                    Ok(parts) => Some(StageLog {
                        destination: log.destination.as_str().into(),
                        json: format::is_json(&parts),
                        format: parts,
                    }),
                    Err(unknown) => {
                        let hint = match unknown.suggestion {
                            Some(s) => format!("did you mean `$context.{s}`?"),
                            None if unknown.name.starts_with("$stageVariables.") => {
                                format!("stage `{}` has no such variable", stage.name.value)
                            }
                            None => "see docs/observability.md for the variables".to_owned(),
                        };
                        errors.push(Diagnostic::new(
                            file,
                            src,
                            log.format.span.clone(),
                            format!("unknown access log variable `{}`", unknown.name),
                            Some(hint),
                        ));
                        None
                    }
                }
            });
            for route in &api.routes {
                if let Some(ttl_s) = super::validate::cache::ttl_over_cap(stage.cache.as_ref(), &route.cache) {
                    errors.push(Diagnostic::new(
                        file,
                        src,
                        route.cache.ttl_span.clone(),
                        format!("cache `ttl_s` = {ttl_s} is over 3600 s, the cap of stage `{}`", stage.name.value),
                        Some("use at most 3600 (AWS's limit), or set ttl_uncapped = true in the stage's cache".into()),
                    ));
                }
            }
            let route_caches =
                api.routes.iter().map(|r| super::validate::cache::resolve(stage.cache.as_ref(), &r.cache)).collect();
            let mut route_throttles = vec![None; api.routes.len()];
            for (key, setting) in &stage.route_throttle {
                match api.routes.iter().position(|r| r.key.value == key.value) {
                    Some(i) => route_throttles[i] = Some(setting.clone()),
                    None => {
                        let keys: Vec<&str> = api.routes.iter().map(|r| r.key.value.as_str()).collect();
                        let hint = match super::diagnostic::did_you_mean(&key.value, &keys) {
                            Some(k) => format!("did you mean `{k}`?"),
                            None => "use a route key of this API exactly as written".to_owned(),
                        };
                        errors.push(Diagnostic::new(
                            file,
                            src,
                            key.span.clone(),
                            format!(
                                "`route_throttle` names `{}`, which is not a route of API `{}`",
                                key.value, api.name.value
                            ),
                            Some(hint),
                        ));
                    }
                }
            }
            stages.push(Stage {
                name: stage.name.value.clone(),
                variables: stage.variables.clone(),
                integrations,
                access_log,
                cache: stage.cache.as_ref().map(|(c, _)| c.clone()),
                route_caches,
                throttle: stage.throttle.clone(),
                route_throttles,
            });
        }
        apis.push(Api {
            name: api.name.value.clone(),
            protocol: api.protocol,
            hosts: api.hosts.clone(),
            routes,
            stages,
            api_key_required: api.routes.iter().map(|r| r.api_key_required).collect(),
            paths: api.paths,
        });
    }

    let mut listeners: Vec<Listener> = Vec::new();
    // An address serves either plain HTTP or TLS; asking for both is an error reported below.
    let mut mixed: Vec<SocketAddr> = Vec::new();
    let mut listener_for = |addr: SocketAddr, tls: bool, listeners: &mut Vec<Listener>| -> usize {
        match listeners.iter().position(|l| l.addr == addr) {
            Some(i) => {
                if listeners[i].tls != tls && !mixed.contains(&addr) {
                    mixed.push(addr);
                }
                i
            }
            None => {
                listeners.push(Listener { addr, tls, apis: Vec::new(), domains: Vec::new() });
                listeners.len() - 1
            }
        }
    };
    for addr in &config.listen {
        listener_for(*addr, false, &mut listeners);
    }
    for addr in &config.listen_tls {
        listener_for(*addr, true, &mut listeners);
    }
    // APIs and domains without their own `listen` are served on every `[server]` listener, plain
    // and TLS.
    let server_listeners: Vec<(SocketAddr, bool)> =
        config.listen.iter().map(|a| (*a, false)).chain(config.listen_tls.iter().map(|a| (*a, true))).collect();
    for (i, api) in config.apis.iter().enumerate() {
        let own: Vec<(SocketAddr, bool)> =
            api.listen.iter().map(|a| (*a, false)).chain(api.listen_tls.iter().map(|a| (*a, true))).collect();
        let addrs = if own.is_empty() { &server_listeners } else { &own };
        for &(addr, tls) in addrs {
            let l = listener_for(addr, tls, &mut listeners);
            listeners[l].apis.push(i as u32);
        }
    }
    let mut domains = Vec::new();
    for (i, d) in config.domains.iter().enumerate() {
        let mut mappings: Vec<Mapping> = d
            .mappings
            .iter()
            .map(|m| Mapping { base_path: m.base_path.clone(), api: m.api as u32, stage: m.stage as u32 })
            .collect();
        mappings.sort_by_key(|m| std::cmp::Reverse(m.base_path.len()));
        domains.push(Domain { name: d.name.value.clone(), mappings, mtls: d.mtls.is_some() });
        let own: Vec<(SocketAddr, bool)> =
            d.listen.iter().map(|a| (*a, false)).chain(d.listen_tls.iter().map(|a| (*a, true))).collect();
        let addrs = if own.is_empty() { &server_listeners } else { &own };
        if d.mtls.is_some() && !addrs.iter().any(|(_, tls)| *tls) {
            errors.push(Diagnostic::new(
                file,
                src,
                d.name.span.clone(),
                format!("domain `{}` has `mtls` but there is no TLS listener", d.name.value),
                Some("add [server] listen_tls".into()),
            ));
        }
        // Mutual TLS is a TLS matter: such a domain is not served on plain listeners.
        for &(addr, tls) in addrs.iter().filter(|(_, tls)| *tls || d.mtls.is_none()) {
            let l = listener_for(addr, tls, &mut listeners);
            listeners[l].domains.push(i as u32);
        }
    }

    for addr in &mixed {
        errors.push(Diagnostic::whole_file(
            file,
            format!("`{addr}` is used both as a plain listener (`listen`) and a TLS one (`listen_tls`)"),
        ));
    }
    // `[server] listen` addresses that every API and domain replaced with its own serve nothing.
    listeners.retain(|l| !l.apis.is_empty() || !l.domains.is_empty());
    let certificates: Vec<(String, CertFiles)> =
        config.domains.iter().filter_map(|d| Some((d.name.value.clone(), d.certificate.clone()?))).collect();
    let (handshake_timeout_ms, session_cache_entries, default_certificate) = config.tls.clone();
    let mtls: Vec<(String, Mtls)> =
        config.domains.iter().filter_map(|d| Some((d.name.value.clone(), d.mtls.clone()?))).collect();
    let tls = listeners.iter().any(|l| l.tls).then_some(TlsSettings {
        handshake_timeout_ms,
        session_cache_entries,
        default_certificate,
        certificates,
        mtls,
    });
    if tls.as_ref().is_some_and(|t| t.default_certificate.is_none() && t.certificates.is_empty()) {
        errors.push(Diagnostic::whole_file(
            file,
            "`listen_tls` is set but no certificate is configured: add [tls] default_certificate = { cert = \"...\", key = \"...\" } or a certificate to a [[domain]]",
        ));
    }
    if !errors.is_empty() {
        errors.sort_by_key(|e| (e.line, e.column));
        return Err(errors);
    }
    Ok(Table {
        format: FORMAT_NAME.to_owned(),
        version: FORMAT_VERSION,
        source: file.to_owned(),
        settings: Settings {
            workers: config.workers.clone(),
            limits: config.limits.clone(),
            upstream: config.upstream.clone(),
            drain_timeout_ms: config.drain_timeout_ms,
            backlog: config.backlog,
            admin: config.admin.clone(),
            throttle: config.throttle.clone(),
            cluster: config.cluster.clone(),
            access_log: config.access_log.clone(),
            paths: config.paths,
            trusted_proxies: config.trusted_proxies.clone(),
        },
        listeners,
        apis,
        domains,
        upstreams,
        tls,
        api_keys: config.api_keys.clone(),
        usage_plans: config
            .usage_plans
            .iter()
            .map(|p| UsagePlan {
                name: p.name.value.clone(),
                throttle: p.throttle.clone(),
                stages: p.stages.iter().map(|&(a, s)| (a as u32, s as u32)).collect(),
                route_throttles: p
                    .route_throttles
                    .iter()
                    .map(|(a, s, r, t)| (*a as u32, *s as u32, *r as u32, t.clone()))
                    .collect(),
                keys: p.keys.iter().map(|&k| k as u32).collect(),
                quota: p.quota.clone(),
                on_redis_failure: p.on_redis_failure,
            })
            .collect(),
        quota_state_file: config.usage_plans.iter().any(|p| p.quota.is_some()).then(|| config.quota_state_file.clone()),
    })
}

fn missing_variable_hint(name: &str, variables: &[(String, String)]) -> String {
    let known: Vec<&str> = variables.iter().map(|(k, _)| k.as_str()).collect();
    match super::diagnostic::did_you_mean(name, &known) {
        Some(close) => format!("did you mean `{close}`?"),
        None => format!(
            "add it to the stage: variables = {{ {name} = \"...\" }}; only ${{stageVariables.NAME}} is substituted"
        ),
    }
}
