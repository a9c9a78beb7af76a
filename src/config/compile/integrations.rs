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
            IntegrationModel::HttpProxy { uri: template, timeout_ms, header_mappings } => {
                let mut mappings = Vec::with_capacity(header_mappings.len());
                for (source, mapping) in header_mappings {
                    let mut mapping = mapping.clone();
                    if let crate::table::MappedValue::Literal(l) = &mapping.value {
                        match uri::substitute(l, &stage.variables) {
                            Ok(v) => mapping.value = crate::table::MappedValue::Literal(v),
                            Err(missing) => {
                                for name in missing {
                                    errors.at(
                                        source.span.clone(),
                                        format!("stage `{}` has no variable `{name}`", stage.name.value),
                                        Some(missing_variable_hint(&name, &stage.variables)),
                                    );
                                }
                            }
                        }
                    }
                    mappings.push(mapping);
                }
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
                            header_mappings: mappings,
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
