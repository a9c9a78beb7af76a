//! Integrations, one per stage and route: stage variables substituted into HTTP proxy URIs, the
//! URI parsed (link-local and metadata hosts refused unless allowed), upstreams deduplicated.

use super::Errors;
use crate::config::model::MappedBackendModel;
use crate::config::model::RouteModel;
use crate::config::model::{ApiModel, Config, IntegrationModel, StageModel};
use crate::config::reader::Spanned;
use crate::config::uri;
use crate::table::templates::{AwsBackend, Backend, HttpBackend, IntegrationResponse, Mapped, RequestTemplates};
use crate::table::{HttpProxy, Integration, Mock, PayloadFormat, Upstream, UriPart};

/// Template and pattern texts, interned: non-proxy integrations refer to them by index, and a
/// route's templates are stored once however many stages use them.
#[derive(Default)]
pub(super) struct Texts {
    pub templates: Vec<String>,
    pub patterns: Vec<String>,
}

impl Texts {
    fn intern(list: &mut Vec<String>, text: &str) -> u32 {
        let at = list.iter().position(|t| t == text).unwrap_or_else(|| {
            list.push(text.to_owned());
            list.len() - 1
        });
        at as u32
    }

    fn template(&mut self, text: &str) -> u32 {
        Self::intern(&mut self.templates, text)
    }

    fn pattern(&mut self, text: &str) -> u32 {
        Self::intern(&mut self.patterns, text)
    }
}

/// A backend URI in one stage: stage variables substituted, parsed, its upstream interned.
struct ParsedBackend {
    uri: String,
    upstream: u32,
    path: Vec<UriPart>,
    query: Option<String>,
}

fn backend(
    errors: &mut Errors<'_>,
    config: &Config,
    stage: &StageModel,
    route: &RouteModel,
    template: &Spanned<String>,
    upstreams: &mut Vec<Upstream>,
) -> Option<ParsedBackend> {
    let substituted = match uri::substitute(&template.value, &stage.variables) {
        Ok(s) => s,
        Err(missing) => {
            for name in missing {
                errors.at(
                    template.span.clone(),
                    format!("stage `{}` has no variable `{name}`", stage.name.value),
                    Some(missing_variable_hint(&name, &stage.variables)),
                );
            }
            return None;
        }
    };
    match uri::parse(&substituted, &route.params) {
        Ok(parsed) => {
            let (path, query) = (parsed.path.clone(), parsed.query.clone());
            let upstream = super::functions::upstream(errors, config, parsed, template.span.clone(), upstreams)?;
            Some(ParsedBackend { uri: substituted, upstream, path, query })
        }
        Err(message) => {
            let hint = (substituted != template.value)
                .then(|| format!("in stage `{}` it reads `{substituted}`", stage.name.value));
            errors.at(template.span.clone(), message, hint);
            None
        }
    }
}

pub(super) fn for_stage(
    errors: &mut Errors<'_>,
    config: &Config,
    api: &ApiModel,
    stage: &StageModel,
    upstreams: &mut Vec<Upstream>,
    texts: &mut Texts,
) -> Vec<Integration> {
    let mut integrations = Vec::new();
    for route in &api.routes {
        let integration = match &route.integration {
            IntegrationModel::Mock { status, headers, body } => {
                Integration::Mock(Mock { status: *status, headers: headers.clone(), body: body.clone() })
            }
            IntegrationModel::HttpProxy { uri: template, timeout_ms, request_mappings, response_mappings } => {
                let mut in_stage = |m: &crate::config::model::ParamMappingModel| mapping(errors, stage, route, m);
                let request_mappings = request_mappings.iter().map(&mut in_stage).collect();
                let response_mappings = response_mappings
                    .iter()
                    .map(|r| crate::table::mapping::ResponseMapping {
                        status: r.status,
                        status_code: r.status_code,
                        headers: r.headers.iter().map(&mut in_stage).collect(),
                    })
                    .collect();
                let Some(backend) = backend(errors, config, stage, route, template, upstreams) else { continue };
                Integration::HttpProxy(HttpProxy {
                    uri: backend.uri,
                    upstream: backend.upstream,
                    path: backend.path,
                    query: backend.query,
                    timeout_ms: *timeout_ms,
                    request_mappings,
                    response_mappings,
                })
            }
            IntegrationModel::Mapped(m) => {
                let mut in_stage = |m: &crate::config::model::ParamMappingModel| mapping(errors, stage, route, m);
                let responses = m
                    .responses
                    .iter()
                    .map(|r| IntegrationResponse {
                        selection_pattern: r.selection_pattern.as_ref().map(|p| texts.pattern(p)),
                        status: r.status,
                        headers: r.headers.iter().map(&mut in_stage).collect(),
                        templates: r.templates.iter().map(|(ct, t)| (ct.clone(), texts.template(t))).collect(),
                        content_handling: r.content_handling,
                    })
                    .collect();
                let templates = m.request_templates.iter().map(|(ct, t)| (ct.clone(), texts.template(t))).collect();
                let Some(backend) = mapped_backend(errors, config, stage, route, &m.backend, upstreams) else {
                    continue;
                };
                Integration::Mapped(Box::new(Mapped {
                    backend,
                    timeout_ms: m.timeout_ms,
                    request: RequestTemplates {
                        passthrough: m.passthrough,
                        content_handling: m.content_handling,
                        templates,
                    },
                    responses,
                    method_responses: m.method_responses.clone(),
                    max_foreach: m.max_foreach,
                }))
            }
            IntegrationModel::Function { target, format, timeout_ms } => {
                match super::functions::integration(errors, config, stage, (target, *format, *timeout_ms)) {
                    Some(f) => Integration::Function(f),
                    None => continue,
                }
            }
        };
        integrations.push(integration);
    }
    integrations
}

/// A non-proxy integration's backend in one stage.
fn mapped_backend(
    errors: &mut Errors<'_>,
    config: &Config,
    stage: &StageModel,
    route: &RouteModel,
    model: &MappedBackendModel,
    upstreams: &mut Vec<Upstream>,
) -> Option<Backend> {
    let mut in_stage = |m: &crate::config::model::ParamMappingModel| mapping(errors, stage, route, m);
    match model {
        MappedBackendModel::Http { uri, method, request_mappings } => {
            let request_mappings = request_mappings.iter().map(&mut in_stage).collect();
            let b = backend(errors, config, stage, route, uri, upstreams)?;
            Some(Backend::Http(HttpBackend {
                uri: b.uri,
                upstream: b.upstream,
                path: b.path,
                query: b.query,
                method: method.clone(),
                request_mappings,
            }))
        }
        MappedBackendModel::Function { target } => {
            // The timeout is the integration's; the payload format is the rendered request's.
            let f = super::functions::integration(errors, config, stage, (target, PayloadFormat::V1, 0))?;
            Some(Backend::Function { function: f.function, qualifier_query: f.qualifier_query })
        }
        MappedBackendModel::Aws { service, region, path, endpoint, method, credentials, request_mappings } => {
            let request_mappings = request_mappings.iter().map(&mut in_stage).collect();
            let b = backend(errors, config, stage, route, endpoint, upstreams)?;
            if b.path.iter().any(|p| !matches!(p, UriPart::Literal(l) if l.is_empty() || l == "/")) || b.query.is_some()
            {
                errors.at(
                    endpoint.span.clone(),
                    format!("the endpoint `{}` has a path or query", b.uri),
                    Some("give the scheme, host and port only; the path comes from the integration's uri".into()),
                );
                return None;
            }
            let (path, query) = match path.split_once('?') {
                Some((p, q)) => (p.to_owned(), Some(q.to_owned())),
                None => (path.clone(), None),
            };
            Some(Backend::Aws(AwsBackend {
                http: HttpBackend {
                    uri: format!(
                        "{}{path}{}",
                        b.uri.trim_end_matches('/'),
                        query.as_ref().map(|q| format!("?{q}")).unwrap_or_default()
                    ),
                    upstream: b.upstream,
                    path: vec![UriPart::Literal(path)],
                    query,
                    method: Some(method.clone()),
                    request_mappings,
                },
                service: service.clone(),
                region: region.clone(),
                credentials: credentials.clone(),
            }))
        }
    }
}

pub(super) fn missing_variable_hint(name: &str, variables: &[(String, String)]) -> String {
    let known: Vec<&str> = variables.iter().map(|(k, _)| k.as_str()).collect();
    match crate::config::diagnostic::did_you_mean(name, &known) {
        Some(close) => format!("did you mean `{close}`?"),
        None => format!(
            "add it to the stage: variables = {{ {name} = \"...\" }}; only ${{stageVariables.NAME}} is substituted"
        ),
    }
}

/// A mapping as one stage has it: stage variables substituted, adjacent literals joined; a
/// variable the stage lacks, or a path parameter the route lacks, is an error.
fn mapping(
    errors: &mut Errors<'_>,
    stage: &crate::config::model::StageModel,
    route: &crate::config::model::RouteModel,
    m: &crate::config::model::ParamMappingModel,
) -> crate::table::mapping::ParamMapping {
    use crate::config::mapping_expr::Expr;
    use crate::table::mapping::Source;
    let mut value: Vec<Source> = Vec::with_capacity(m.value.len());
    for piece in &m.value {
        let source = match piece {
            // Stage variable values may hold `?`, `#` and `&`, which would end a path or a query
            // value early: encoded there.
            Expr::StageVariable(name) => match stage.variables.iter().find(|(k, _)| k == name) {
                Some((_, v)) => Source::Literal(match m.target {
                    crate::table::mapping::Target::Header(_) => v.clone(),
                    _ => v.replace('%', "%25").replace('?', "%3F").replace('#', "%23").replace('&', "%26"),
                }),
                None => {
                    errors.at(
                        m.span.clone(),
                        format!("stage `{}` has no variable `{name}`", stage.name.value),
                        Some(missing_variable_hint(name, &stage.variables)),
                    );
                    continue;
                }
            },
            Expr::Source(Source::Path(name)) if !route.params.contains(name) => {
                errors.at(m.span.clone(), format!("route `{}` has no path parameter `{name}`", route.key.value), None);
                continue;
            }
            Expr::Source(s) => s.clone(),
        };
        match (value.last_mut(), source) {
            (Some(Source::Literal(prev)), Source::Literal(next)) => prev.push_str(&next),
            (_, source) => value.push(source),
        }
    }
    crate::table::mapping::ParamMapping { target: m.target.clone(), op: m.op, value }
}
