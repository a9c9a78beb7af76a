//! Integrations, one per stage and route: stage variables substituted into HTTP proxy URIs, the
//! URI parsed (link-local and metadata hosts refused unless allowed), upstreams deduplicated.

use super::Errors;
use crate::config::model::{ApiModel, Config, IntegrationModel, StageModel};
use crate::config::uri;
use crate::table::{HttpProxy, Integration, Mock, Upstream};

pub(super) fn for_stage(
    errors: &mut Errors<'_>,
    config: &Config,
    api: &ApiModel,
    stage: &StageModel,
    upstreams: &mut Vec<Upstream>,
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
                        continue;
                    }
                };
                match uri::parse(&substituted, &route.params) {
                    Ok(parsed) => {
                        let (path, query) = (parsed.path.clone(), parsed.query.clone());
                        let Some(upstream) =
                            super::functions::upstream(errors, config, parsed, template.span.clone(), upstreams)
                        else {
                            continue;
                        };
                        Integration::HttpProxy(HttpProxy {
                            uri: substituted,
                            upstream,
                            path,
                            query,
                            timeout_ms: *timeout_ms,
                            request_mappings,
                            response_mappings,
                        })
                    }
                    Err(message) => {
                        let hint = (substituted != template.value)
                            .then(|| format!("in stage `{}` it reads `{substituted}`", stage.name.value));
                        errors.at(template.span.clone(), message, hint);
                        continue;
                    }
                }
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
