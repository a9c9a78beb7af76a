//! The config compiler: validated model → flat [`Table`], one concern per file —
//! `integrations` (stage variables substituted into every integration, upstreams deduplicated),
//! `logs` (access log formats), `caches` (route cache settings), `throttles` (route limits and
//! usage plans), `steps` (which optional steps each route runs), `listeners` (APIs and domains
//! on listeners, base-path mappings longest first), `tls`. Route conflicts are checked with the
//! same router the workers build. Every error of every part is reported in one pass.
//!
//! Must not: import the runtime; touch the network or the file system.

mod caches;
mod functions;
mod integrations;
mod listeners;
mod logs;
mod responses;
mod steps;
mod throttles;
mod tls;
mod validation;

use std::ops::Range;

use super::diagnostic::Diagnostic;
use super::model::{ApiModel, Config};
use crate::route::Router;
use crate::table::*;

/// The errors found so far, with what is needed to place them.
pub(super) struct Errors<'a> {
    file: &'a str,
    src: &'a str,
    list: Vec<Diagnostic>,
}

impl Errors<'_> {
    fn at(&mut self, span: Option<Range<usize>>, message: impl Into<String>, hint: Option<String>) {
        self.list.push(Diagnostic::new(self.file, self.src, span, message, hint));
    }

    fn whole_file(&mut self, message: impl Into<String>) {
        self.list.push(Diagnostic::whole_file(self.file, message));
    }

    /// The line a span starts on, for hints that point at another place.
    fn line_of(&self, span: Option<Range<usize>>) -> usize {
        Diagnostic::new(self.file, self.src, span, "", None).line
    }
}

pub fn compile(file: &str, src: &str, config: &Config) -> Result<Table, Vec<Diagnostic>> {
    let mut errors = Errors { file, src, list: Vec::new() };
    let mut upstreams: Vec<Upstream> = Vec::new();
    let functions = functions::compile(&mut errors, config, &mut upstreams);
    let mut texts = integrations::Texts::default();
    let apis =
        config.apis.iter().map(|api| compile_api(&mut errors, config, api, &mut upstreams, &mut texts)).collect();
    let (listeners, domains) = listeners::assign(&mut errors, config);
    let tls = tls::settings(&mut errors, config, &listeners);
    if !errors.list.is_empty() {
        let mut list = errors.list;
        list.sort_by_key(|e| (e.line, e.column));
        return Err(list);
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
        usage_plans: throttles::usage_plans(config),
        quota_state_file: config.usage_plans.iter().any(|p| p.quota.is_some()).then(|| config.quota_state_file.clone()),
        functions,
        iam_credentials: config.iam_credentials.clone(),
        templates: texts.templates,
        patterns: texts.patterns,
    })
}

fn compile_api(
    errors: &mut Errors<'_>,
    config: &Config,
    api: &ApiModel,
    upstreams: &mut Vec<Upstream>,
    texts: &mut integrations::Texts,
) -> Api {
    let routes: Vec<Route> = api
        .routes
        .iter()
        .map(|r| Route { key: r.key.value.clone(), parsed: r.parsed.clone(), params: r.params.clone() })
        .collect();
    if let Err(conflict) = Router::build(&routes, api.protocol == Protocol::Rest) {
        let first = &api.routes[conflict.first as usize].key;
        let second = &api.routes[conflict.second as usize].key;
        let line = errors.line_of(first.span.clone());
        errors.at(
            second.span.clone(),
            format!("route `{}` has the same method and path as `{}`", second.value, first.value),
            Some(format!("the first is on line {line}; parameter names do not make paths different")),
        );
    }
    for route in api.routes.iter().filter(|r| r.iam) {
        if config.iam_credentials.is_empty() {
            errors.at(
                route.key.span.clone(),
                format!("route `{}` needs SigV4 (AWS_IAM), and no [[iam_credential]] is configured", route.key.value),
                Some("add [[iam_credential]] with access_key_id, secret_access_key_env and principal_arn".into()),
            );
        }
    }
    let stages = api
        .stages
        .iter()
        .map(|stage| {
            let integrations = integrations::for_stage(errors, config, api, stage, upstreams, texts);
            let access_log = logs::for_stage(errors, api, stage);
            let route_caches = caches::for_stage(errors, api, stage);
            let route_throttles = throttles::for_stage(errors, api, stage);
            let steps = steps::for_stage(config, api, stage, &integrations, &route_throttles);
            Stage {
                name: stage.name.value.clone(),
                variables: stage.variables.clone(),
                integrations,
                access_log,
                cache: stage.cache.as_ref().map(|(c, _)| c.clone()),
                route_caches,
                throttle: stage.throttle.clone(),
                route_throttles,
                steps,
                auth_debug: stage.auth_debug,
                gateway_responses: responses::for_stage(api, stage),
            }
        })
        .collect();
    Api {
        name: api.name.value.clone(),
        protocol: api.protocol,
        hosts: api.hosts.clone(),
        routes,
        stages,
        api_key_required: api.routes.iter().map(|r| r.api_key_required).collect(),
        paths: api.paths,
        binary_media_types: api.binary_media_types.clone(),
        authorizers: api.authorizers.iter().map(|a| authorizer(errors, config, a)).collect(),
        route_auth: api.routes.iter().map(|r| route_auth(api, r)).collect(),
        api_key_from_authorizer: api.api_key_from_authorizer,
        resource_policy: api.resource_policy.clone(),
        cors: api.cors.clone(),
        models: validation::models(errors, api),
        route_validation: validation::routes(errors, api),
        websocket: websocket(errors, api),
    }
}

fn authorizer(errors: &mut Errors<'_>, config: &Config, a: &super::model::AuthorizerModel) -> Authorizer {
    let kind = match &a.kind {
        super::model::AuthorizerKindModel::Jwt(jwt) => AuthorizerKind::Jwt(jwt.clone()),
        super::model::AuthorizerKindModel::Function(name, f) => {
            let index = config.functions.iter().position(|g| g.name.value == name.value);
            if index.is_none() {
                let names: Vec<&str> = config.functions.iter().map(|g| g.name.value.as_str()).collect();
                let hint = match super::diagnostic::did_you_mean(&name.value, &names) {
                    Some(n) => format!("did you mean `{n}`?"),
                    None => "define it with [[function]]".to_owned(),
                };
                errors.at(name.span.clone(), format!("no [[function]] is named `{}`", name.value), Some(hint));
            }
            AuthorizerKind::Function(crate::table::auth::FunctionAuthorizer {
                function: index.unwrap_or(0) as u32,
                ..f.clone()
            })
        }
    };
    Authorizer { name: a.name.value.clone(), kind, identity_sources: a.identity_sources.clone() }
}

/// Names resolved to indexes (validation checked that they exist).
fn route_auth(api: &ApiModel, route: &super::model::RouteModel) -> RouteAuth {
    let authorizer = route
        .authorizer
        .as_ref()
        .and_then(|name| api.authorizers.iter().position(|a| a.name.value == name.value))
        .map(|i| i as u32);
    RouteAuth { authorizer, scopes: route.authorization_scopes.clone(), iam: route.iam }
}

/// A WebSocket API's table: which routes are `$connect`, `$disconnect`, `$default`, and which
/// answer the client.
fn websocket(errors: &mut Errors<'_>, api: &ApiModel) -> Option<Box<crate::table::websocket::WebSocket>> {
    let mut ws = api.websocket.clone()?;
    ws.two_way = api.routes.iter().map(|r| r.two_way).collect();
    let find = |key: &str| api.routes.iter().position(|r| r.key.value == key).map(|i| i as u32);
    (ws.connect, ws.disconnect, ws.default) = (find("$connect"), find("$disconnect"), find("$default"));
    for (i, route) in api.routes.iter().enumerate() {
        if let Some(first) = api.routes[..i].iter().find(|r| r.key.value == route.key.value) {
            let line = errors.line_of(first.key.span.clone());
            errors.at(
                route.key.span.clone(),
                format!("route `{}` is defined twice", route.key.value),
                Some(format!("the first is on line {line}")),
            );
        }
    }
    Some(ws)
}
