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
            IntegrationModel::HttpProxy { uri: template, timeout_ms } => {
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
                    Ok(parsed)
                        if !config.upstream.allow_link_local
                            && parsed
                                .host
                                .trim_start_matches('[')
                                .trim_end_matches(']')
                                .parse()
                                .is_ok_and(crate::table::is_link_local_or_metadata) =>
                    {
                        errors.at(
                            template.span.clone(),
                            format!("`{}` is a link-local or cloud metadata address", parsed.host),
                            Some("an integration there could fetch the node's credentials; set [upstream] allow_link_local = true if you mean it".into()),
                        );
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
                        errors.at(template.span.clone(), message, hint);
                        continue;
                    }
                }
            }
        };
        integrations.push(integration);
    }
    integrations
}

fn missing_variable_hint(name: &str, variables: &[(String, String)]) -> String {
    let known: Vec<&str> = variables.iter().map(|(k, _)| k.as_str()).collect();
    match crate::config::diagnostic::did_you_mean(name, &known) {
        Some(close) => format!("did you mean `{close}`?"),
        None => format!(
            "add it to the stage: variables = {{ {name} = \"...\" }}; only ${{stageVariables.NAME}} is substituted"
        ),
    }
}
